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

/// The files in the cache directory, but for its table of hashed files.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read cache dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name != "fingerprints")
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

    let show = s
        .host_with_cache(&cache)
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
    let listing: serde_json::Value = serde_json::from_slice(&show.stdout).expect("json");
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

    let after = run(&s, &cache);
    assert_eq!(compiled(&after), sorted(&DEFAULT_PLUGINS), "recompiled");
    assert_eq!(files(&cache).len(), 5);
}
