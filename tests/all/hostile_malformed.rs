//! Hostile corpus, malformed components: empty, truncated and random files, a
//! core module, precompiled machine code in disguise, the wrong world, an
//! import the host lacks, a plugin shipping its own `.cwasm`, and a tampered
//! compile cache. Each is refused by `host plugins check` and `host run` with
//! an error naming the plugin and what is wrong; nothing runs, no run is
//! created, and the well-formed plugin next to it still checks `ok`.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::support::{Scratch, artifacts, one_step_workflow, run_id, text};

/// A plugins folder with the real reviewer and a tool `bad` whose component
/// is `bytes`, stored in the plugin's folder as `file`.
fn plugins_with(s: &Scratch, file: &str, bytes: &[u8], kind: &str) -> PathBuf {
    let dir = s.path().join("plugins");
    let bad = dir.join("bad");
    std::fs::create_dir_all(&bad).expect("mkdir");
    std::fs::write(bad.join(file), bytes).expect("write component");
    std::fs::write(
        bad.join("plugin.toml"),
        format!("[plugin]\nname = \"bad\"\nkind = \"{kind}\"\ncomponent = \"{file}\"\n"),
    )
    .expect("write manifest");
    let reviewer = dir.join("reviewer");
    std::fs::create_dir_all(&reviewer).expect("mkdir");
    std::fs::write(
        reviewer.join("plugin.toml"),
        format!(
            "[plugin]\nname = \"reviewer\"\nkind = \"reviewer\"\ncomponent = {:?}\n",
            artifacts::PLUGIN_REVIEWER
        ),
    )
    .expect("write manifest");
    std::fs::write(
        dir.join("workflow.toml"),
        one_step_workflow("bad", "{ attack = \"none\" }"),
    )
    .expect("write workflow");
    dir
}

fn check(s: &Scratch, dir: &Path) -> Output {
    s.host()
        .args(["plugins", "check", "--plugins"])
        .arg(dir)
        .arg("--workspace")
        .arg(s.ws())
        .output()
        .expect("run host plugins check")
}

/// `bytes` as plugin `bad` is refused by `check` and by `run`, with `needles`
/// in the message; the reviewer beside it checks ok; no run is created.
fn refused(file: &str, bytes: &[u8], kind: &str, needles: &[&str]) -> String {
    let s = Scratch::new();
    let dir = plugins_with(&s, file, bytes, kind);

    let out = check(&s, &dir);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("error    bad\n"), "{stdout}");
    assert!(stdout.contains("ok       reviewer\n"), "{stdout}");
    assert!(!stdout.contains(" 0 with errors"), "{stdout}");
    for needle in needles {
        assert!(stdout.contains(needle), "expected `{needle}` in:\n{stdout}");
    }

    let out = s.run(&dir, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // Named by the plugin, or by its manifest where the manifest itself is refused.
    assert!(
        stderr.contains("plugin `bad`") || stderr.contains("bad/plugin.toml"),
        "{stderr}"
    );
    for needle in needles {
        assert!(stderr.contains(needle), "expected `{needle}` in:\n{stderr}");
    }
    assert!(
        !s.state().join("runs").exists(),
        "a run was created for a plugin that cannot load"
    );
    stdout
}

#[test]
fn empty_component_file_is_refused() {
    refused("bad.wasm", b"", "tool", &["the file is empty"]);
}

#[test]
fn truncated_component_is_refused() {
    let bytes = std::fs::read(artifacts::GUEST_HOSTILE).expect("read");
    refused(
        "bad.wasm",
        &bytes[..bytes.len() / 2],
        "tool",
        &["cannot compile component"],
    );
}

/// Deterministic noise (an LCG), so a failure can be reproduced.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 56) as u8
        })
        .collect()
}

#[test]
fn random_bytes_are_refused() {
    refused(
        "bad.wasm",
        &noise(64 * 1024, 7),
        "tool",
        &["is not a WebAssembly component"],
    );
}

#[test]
fn random_bytes_behind_a_component_header_are_refused() {
    let mut bytes = b"\0asm\x0d\0\x01\0".to_vec();
    bytes.extend(noise(64 * 1024, 11));
    refused("bad.wasm", &bytes, "tool", &["cannot compile component"]);
}

#[test]
fn core_module_instead_of_a_component_is_refused() {
    // The eight bytes of a valid, empty core module.
    refused(
        "bad.wasm",
        b"\0asm\x01\0\0\0",
        "tool",
        &["is a core WebAssembly module", "wasm32-wasip2"],
    );
}

#[test]
fn precompiled_machine_code_disguised_as_wasm_is_refused() {
    let engine = wasmtime::Engine::default();
    let component = std::fs::read(artifacts::GUEST_TRAPPER).expect("read");
    let machine_code = engine.precompile_component(&component).expect("precompile");
    refused(
        "bad.wasm",
        &machine_code,
        "tool",
        &[
            "precompiled artifact",
            "never runs machine code a plugin ships",
        ],
    );
}

#[test]
fn plugin_naming_its_own_cwasm_is_refused() {
    refused(
        "bad.cwasm",
        b"whatever",
        "tool",
        &["key `plugin.component`", "is a precompiled artifact"],
    );
}

#[test]
fn component_of_the_wrong_world_is_refused_naming_both() {
    let bytes = std::fs::read(artifacts::GUEST_WRONG_KIND).expect("read");
    refused(
        "bad.wasm",
        &bytes,
        "tool",
        &[
            "does not export `harness:plugin/tool-plugin@0.1.0`",
            "`harness:plugin/reviewer-plugin@0.1.0`",
            "fix `plugin.kind`",
        ],
    );
}

#[test]
fn component_built_against_another_contract_version_is_refused_naming_both_versions() {
    let bytes = std::fs::read(artifacts::GUEST_CONTRACT_V2).expect("read");
    refused(
        "future.wasm",
        &bytes,
        "tool",
        &[
            "imports `harness:plugin/host@0.2.0`",
            "built against harness:plugin@0.2.0",
            "this host serves harness:plugin@0.1.0 (world `tool`, exporting `harness:plugin/tool-plugin@0.1.0`)",
            "rebuild it against wit/ of this version",
        ],
    );
}

#[test]
fn component_missing_the_plugin_export_is_refused_naming_what_it_expected() {
    let bytes = std::fs::read(artifacts::GUEST_NO_EXPORTS).expect("read");
    refused(
        "empty.wasm",
        &bytes,
        "tool",
        &[
            "does not export `harness:plugin/tool-plugin@0.1.0` (the `tool` world of harness:plugin@0.1.0)",
            "build the plugin for the `tool` world",
        ],
    );
}

#[test]
fn component_importing_an_interface_the_host_lacks_is_refused_naming_it() {
    let bytes = std::fs::read(artifacts::GUEST_UNKNOWN_IMPORT).expect("read");
    refused(
        "bad.wasm",
        &bytes,
        "tool",
        &[
            "imports `evil:backdoor/shell@1.0.0`, which this host does not provide",
            "hint:",
        ],
    );
}

/// A plugins folder with the hostile tool and the reviewer.
fn hostile_plugins(s: &Scratch) -> PathBuf {
    let bytes = std::fs::read(artifacts::GUEST_HOSTILE).expect("read");
    plugins_with(s, "bad.wasm", &bytes, "tool")
}

/// `host plugins inspect bad --json` with the given cache.
fn inspect(s: &Scratch, dir: &Path, cache: &Path) -> Value {
    let out = s
        .host_with_cache(cache)
        .args(["plugins", "inspect", "bad", "--json", "--plugins"])
        .arg(dir)
        .output()
        .expect("inspect");
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("json")
}

/// The files in the cache directory, but for its tables of hashed files
/// and of descriptors.
fn cache_entries(cache: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(cache)
        .expect("read cache")
        .map(|e| e.expect("entry").path())
        .filter(|path| !path.ends_with("fingerprints") && !path.ends_with("descriptors"))
        .collect();
    entries.sort();
    entries
}

/// Long enough for a file's times to be settled, so the host remembers its
/// digest (the compile cache's fingerprint table learns only such files).
const SETTLE: std::time::Duration = std::time::Duration::from_millis(400);

/// An entry damaged with `damage` is never loaded. With `fingerprinted`,
/// the damage comes after a load that verified the entry and remembered its
/// fingerprint, so the later load would skip the checksum if the damage
/// left the fingerprint as it was.
fn damaged_cache_entry_is_recompiled(fingerprinted: bool, damage: impl Fn(&mut Vec<u8>)) {
    let s = Scratch::new();
    let dir = hostile_plugins(&s);
    let cache = s.path().join("private-cache");
    assert_eq!(inspect(&s, &dir, &cache)["cache"]["outcome"], "miss");
    if fingerprinted {
        std::thread::sleep(SETTLE);
    }
    assert_eq!(inspect(&s, &dir, &cache)["cache"]["outcome"], "hit");
    if fingerprinted {
        let table = std::fs::read(cache.join("fingerprints")).expect("the table was written");
        let entry_checksum = {
            let entry = std::fs::read(&cache_entries(&cache)[0]).expect("read entry");
            // The trailer: key, component, checksum, length, magic.
            entry[entry.len() - 48..entry.len() - 16].to_vec()
        };
        assert!(
            table.windows(32).any(|w| w == entry_checksum),
            "the entry's verified checksum is remembered"
        );
    }
    let entries = cache_entries(&cache);
    assert_eq!(entries.len(), 1, "{entries:?}");
    let good = std::fs::read(&entries[0]).expect("read");
    let mut bad = good.clone();
    damage(&mut bad);
    std::fs::write(&entries[0], &bad).expect("tamper");

    // Detected, removed and recompiled: never loaded.
    assert_eq!(inspect(&s, &dir, &cache)["cache"]["outcome"], "miss");
    let rewritten = std::fs::read(&entries[0]).expect("read");
    assert_ne!(rewritten, bad, "the damaged entry is still there");
    assert_eq!(cache_entries(&cache), entries, "no stray files");
    assert_eq!(inspect(&s, &dir, &cache)["cache"]["outcome"], "hit");

    // And the plugin runs from the recompiled entry.
    let out = s
        .in_area(s.host_with_cache(&cache), &["run"], &dir)
        .arg("--json")
        .output()
        .expect("run");
    let id = run_id(&out);
    let state = s.status(&id);
    assert!(
        state["steps"]["only"]["output_sha256"].is_string(),
        "{state:#}"
    );
}

fn flip_middle(bytes: &mut [u8]) {
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
}

#[test]
fn tampered_compile_cache_entry_is_detected_and_recompiled() {
    damaged_cache_entry_is_recompiled(false, |b| flip_middle(b));
}

#[test]
fn a_cache_entry_tampered_in_place_after_it_was_fingerprinted_is_detected() {
    // Same size, same inode: only the change time tells.
    damaged_cache_entry_is_recompiled(true, |b| flip_middle(b));
}

#[test]
fn truncated_compile_cache_entry_is_detected_and_recompiled() {
    damaged_cache_entry_is_recompiled(false, |bytes| bytes.truncate(bytes.len() / 3));
    damaged_cache_entry_is_recompiled(true, |bytes| bytes.truncate(bytes.len() - 1));
}

#[test]
fn a_component_changed_in_place_after_it_was_hashed_is_hashed_again() {
    // The host remembers a component's sha256 by its fingerprint; a change
    // of the same size in the same file must still give the new digest
    // (what the journal records as having run), never the remembered one.
    let s = Scratch::new();
    let dir = hostile_plugins(&s);
    let cache = s.path().join("private-cache");
    std::thread::sleep(SETTLE);
    let before = inspect(&s, &dir, &cache);
    let old_sha = before["sha256"].as_str().expect("sha256").to_string();
    assert!(
        std::fs::read(cache.join("fingerprints"))
            .expect("the table was written")
            .windows(32)
            .any(|w| hex::encode(w) == old_sha),
        "the component's digest is remembered"
    );
    assert_eq!(inspect(&s, &dir, &cache)["sha256"], old_sha.as_str());

    let component = PathBuf::from(before["component"].as_str().expect("component"));
    let mut bytes = std::fs::read(&component).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&component, &bytes).expect("rewrite in place");
    let out = s
        .host_with_cache(&cache)
        .args(["plugins", "inspect", "bad", "--json", "--plugins"])
        .arg(&dir)
        .output()
        .expect("inspect");
    if out.status.success() {
        let after: Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_ne!(
            after["sha256"],
            old_sha.as_str(),
            "the old digest was reused"
        );
        assert_eq!(after["cache"]["outcome"], "miss", "{after:#}");
    } else {
        // The changed bytes no longer make a component: refused from them.
        assert!(
            text(&out.stderr).contains("bad.wasm"),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn cwasm_shipped_in_the_plugin_folder_is_ignored() {
    // The folder ships machine code of a different guest (one that panics)
    // beside the real component; the host never loads it.
    let s = Scratch::new();
    let dir = hostile_plugins(&s);
    let engine = wasmtime::Engine::default();
    let trapper = std::fs::read(artifacts::GUEST_TRAPPER).expect("read");
    let machine_code = engine.precompile_component(&trapper).expect("precompile");
    std::fs::write(dir.join("bad/bad.cwasm"), &machine_code).expect("write");
    let out = s.run(&dir, &[]);
    let id = run_id(&out);
    let state = s.status(&id);
    let sha = state["steps"]["only"]["output_sha256"]
        .as_str()
        .unwrap_or_else(|| panic!("the step did not succeed: {state:#}"));
    assert_eq!(s.blob(&id, sha), br#"{"ok":true}"#);
    assert_eq!(
        std::fs::read(dir.join("bad/bad.cwasm")).expect("read"),
        machine_code,
        "the shipped file is left alone"
    );
}
