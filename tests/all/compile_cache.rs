//! `host cache`: a run fills the compile cache, `cache show` lists what it
//! holds and which plugin each entry belongs to, `cache clear` empties it,
//! and the next run compiles again.

use std::path::Path;
use std::process::Output;

use crate::support::{Scratch, artifacts, text};

const DEFAULT_PLUGINS: [&str; 4] = ["search", "extract-facts", "draft-report", "reviewer"];

fn run(s: &Scratch, cache: &Path) -> Output {
    let out = s
        .host_with_cache(cache)
        .args(["run", "--plugins", artifacts::PLUGINS_DIR, "--workspace"])
        .arg(s.ws())
        .arg("--out")
        .arg(s.out())
        .output()
        .expect("run host");
    assert!(out.status.success(), "{}", text(&out.stderr));
    out
}

fn compiled(out: &Output) -> Vec<String> {
    let mut names: Vec<String> = text(&out.stderr)
        .lines()
        .filter_map(|l| l.strip_prefix("compiled plugin `"))
        .filter_map(|l| l.split_once('`').map(|(name, _)| name.to_string()))
        .collect();
    names.sort();
    names
}

fn sorted(names: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    v.sort();
    v
}

/// `host cache show --json` of the default plugins.
fn cache_show(s: &Scratch, cache: &Path) -> serde_json::Value {
    let show = s
        .host_with_cache(cache)
        .args([
            "cache",
            "show",
            "--json",
            "--plugins",
            artifacts::PLUGINS_DIR,
        ])
        .output()
        .expect("cache show");
    assert!(show.status.success(), "{}", text(&show.stderr));
    serde_json::from_slice(&show.stdout).expect("json")
}

/// The files in the cache directory, but for its tables of hashed files
/// and of descriptors.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read cache dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name != "fingerprints" && name != "descriptors")
        .collect();
    names.sort();
    names
}

#[test]
fn show_lists_what_a_run_compiled_and_clear_makes_the_next_run_compile_again() {
    let s = Scratch::new();
    let cache = s.path().join("private-cache");

    let first = run(&s, &cache);
    assert_eq!(compiled(&first), sorted(&DEFAULT_PLUGINS));
    let entries = files(&cache);
    assert_eq!(entries.len(), 4, "{entries:?}");
    assert!(entries.iter().all(|n| n.ends_with(".cwasm")), "{entries:?}");

    let warm = run(&s, &cache);
    assert_eq!(
        compiled(&warm),
        Vec::<String>::new(),
        "served from the cache"
    );

    let listing = cache_show(&s, &cache);
    let listed = listing["entries"].as_array().expect("entries");
    assert_eq!(listed.len(), 4, "{listing:#}");
    let mut owners: Vec<String> = Vec::new();
    for e in listed {
        assert_eq!(e["status"], "valid", "{e:#}");
        assert_eq!(
            e["component_sha256"].as_str().map(str::len),
            Some(64),
            "{e:#}"
        );
        owners.extend(
            e["plugins"]
                .as_array()
                .expect("plugins")
                .iter()
                .map(|p| p.as_str().expect("name").to_string()),
        );
    }
    owners.sort();
    assert_eq!(owners, sorted(&DEFAULT_PLUGINS));
    assert!(listing["total_bytes"].as_u64().expect("total") > 0);

    let human = s
        .host_with_cache(&cache)
        .arg("cache")
        .output()
        .expect("cache");
    assert!(human.status.success(), "{}", text(&human.stderr));
    assert!(
        text(&human.stdout).contains("4 entries"),
        "{}",
        text(&human.stdout)
    );

    // Without --yes and without a terminal, nothing is removed.
    let refused = s
        .host_with_cache(&cache)
        .args(["cache", "clear"])
        .output()
        .expect("cache clear");
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("--yes"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(files(&cache), entries);

    std::fs::write(cache.join("notes.txt"), b"not the cache's").expect("write");
    let clear = s
        .host_with_cache(&cache)
        .args(["cache", "clear", "--yes"])
        .output()
        .expect("cache clear");
    assert!(clear.status.success(), "{}", text(&clear.stderr));
    assert!(
        text(&clear.stdout).contains("removed 4 file(s)"),
        "{}",
        text(&clear.stdout)
    );
    assert_eq!(files(&cache), vec!["notes.txt".to_string()]);
    assert!(
        !cache.join("fingerprints").exists(),
        "clear removes the table of hashed files too"
    );
    assert!(
        !cache.join("descriptors").exists(),
        "and the table of descriptors"
    );

    let after = run(&s, &cache);
    assert_eq!(compiled(&after), sorted(&DEFAULT_PLUGINS), "recompiled");
    assert_eq!(files(&cache).len(), 5);
}

/// The descriptors table: `(component sha256, descriptor)` pairs, from the
/// file's body between its magic and its checksum.
fn descriptors(cache: &Path) -> Vec<(String, serde_json::Value)> {
    let data = std::fs::read(cache.join("descriptors")).expect("the table was written");
    assert!(data.starts_with(b"HRNSDSv1"), "{data:?}");
    let body = &data[8..data.len() - 32];
    serde_json::from_slice(body).expect("json body")
}

#[test]
fn a_run_asks_each_tool_to_describe_itself_once_per_component() {
    let s = Scratch::new();
    let cache = s.path().join("private-cache");
    run(&s, &cache);
    let listing = cache_show(&s, &cache);
    let digest_of = |plugin: &str| -> String {
        listing["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .find(|e| {
                e["plugins"]
                    .as_array()
                    .expect("plugins")
                    .iter()
                    .any(|p| p == plugin)
            })
            .and_then(|e| e["component_sha256"].as_str())
            .expect("an entry for the plugin")
            .to_string()
    };
    // The tool steps' plugins, each under its component's digest; the
    // reviewer is no step and is not asked.
    let mut table = descriptors(&cache);
    table.sort_by(|a, b| a.0.cmp(&b.0));
    let mut expected: Vec<String> = ["search", "extract-facts", "draft-report"]
        .iter()
        .map(|p| digest_of(p))
        .collect();
    expected.sort();
    assert_eq!(
        table.iter().map(|(d, _)| d.clone()).collect::<Vec<_>>(),
        expected
    );
    let search = &table
        .iter()
        .find(|(d, _)| *d == digest_of("search"))
        .expect("search")
        .1;
    assert_eq!(search["name"], "search");
    assert!(
        search["input_schema"]
            .as_str()
            .expect("schema text")
            .contains("topic"),
        "{search:#}"
    );

    // A warm run finds them all: the table is not written again.
    let path = cache.join("descriptors");
    let before = std::fs::read(&path).expect("read");
    let ino = |p: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).expect("stat"));
    let inode = ino(&path);
    let warm = run(&s, &cache);
    assert!(
        text(&warm.stdout).contains("topic"),
        "{}",
        text(&warm.stdout)
    );
    assert_eq!(ino(&path), inode, "not replaced");
    assert_eq!(std::fs::read(&path).expect("read"), before);

    // A torn or foreign table is ignored (the plugins are asked again, the
    // run's parameters are still checked) and replaced by a whole one.
    for damaged in [
        &before[..before.len() - 1],
        b"HRNSDSv1[]not a checksum".as_slice(),
    ] {
        std::fs::write(&path, damaged).expect("write");
        let bad_param = s
            .host_with_cache(&cache)
            .args(["run", "--plugins", artifacts::PLUGINS_DIR, "--workspace"])
            .arg(s.ws())
            .arg("--out")
            .arg(s.out())
            .args(["--param", "no-such-key=1"])
            .output()
            .expect("run host");
        assert!(!bad_param.status.success());
        assert!(
            text(&bad_param.stderr).contains("no-such-key"),
            "{}",
            text(&bad_param.stderr)
        );
        let mut again = descriptors(&cache);
        again.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(again, table, "rewritten whole");
    }
}
