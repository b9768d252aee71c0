//! `--json` on the commands that print data (`show`, `verify`, `plugins
//! check`, `cache`), parsed and checked against what is on disk: the files,
//! the journal, the staged blobs and the cache directory.

use harness_host::digest::sha256_hex;
use serde_json::Value;

use crate::support::{Scratch, run_id, shared_cache, text};

fn json_of(out: &std::process::Output, what: &str) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {}", text(&out.stdout)))
}

/// A run waiting for approval that creates `drafts/new.md` and replaces
/// `drafts/old.md`.
fn waiting_run(s: &Scratch) -> (std::path::PathBuf, String) {
    let dir = s.scripted_plugins(
        "[[steps]]\nid = \"only\"\nplugin = \"scripted\"\ninput = { writes = [{ path = \"drafts/new.md\", text = \"fresh\\nverdict: pass\\n\" }, { path = \"drafts/old.md\", text = \"replaced\\n\" }] }\n",
        "",
    );
    std::fs::create_dir_all(s.out().join("drafts")).expect("mkdir");
    std::fs::write(s.out().join("drafts/old.md"), "before\n").expect("write");
    let out = s.run(&dir, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    (dir, run_id(&out))
}

#[test]
fn show_json_lists_each_file_with_its_digests_sizes_and_the_review() {
    let s = Scratch::new();
    let (_, id) = waiting_run(&s);
    let show = |id: &str| {
        let out = s
            .host()
            .args(["show", id, "--json"])
            .output()
            .expect("show");
        assert!(out.status.success(), "{}", text(&out.stderr));
        json_of(&out, "show --json")
    };
    let shown = show(&id);
    let state = s.status(&id);
    assert_eq!(shown["run"], id.as_str());
    assert_eq!(shown["status"], "waiting-approval");
    assert_eq!(shown["change_set_digest"], state["change_set_digest"]);
    assert_eq!(shown["review"]["verdict"], "pass", "{shown:#}");
    assert_eq!(shown["review"]["plugin"], "scripted-reviewer");
    let files = shown["files"].as_array().expect("files");
    assert_eq!(files.len(), 2, "{shown:#}");
    let new = &files[0];
    assert_eq!(new["path"], "drafts/new.md");
    assert_eq!(new["action"], "new file");
    assert_eq!(new["base_sha256"], Value::Null);
    assert_eq!(new["new_sha256"], sha256_hex(b"fresh\nverdict: pass\n"));
    assert_eq!(new["new_bytes"], 20);
    assert_eq!(new["current_sha256"], Value::Null);
    assert_eq!(new["base_changed"], false);
    // The staged file holds exactly the bytes the approval would write.
    let staged = new["staged_file"].as_str().expect("staged file");
    assert_eq!(
        std::fs::read(staged).expect("staged"),
        b"fresh\nverdict: pass\n"
    );
    let old = &files[1];
    assert_eq!(old["path"], "drafts/old.md");
    assert_eq!(old["action"], "replace");
    assert_eq!(old["base_sha256"], sha256_hex(b"before\n"));
    assert_eq!(old["current_sha256"], sha256_hex(b"before\n"));
    assert_eq!(old["current_bytes"], 7);
    assert_eq!(old["new_sha256"], sha256_hex(b"replaced\n"));
    assert_eq!(old["base_changed"], false);

    // Someone edits the file: the JSON says so before an approval would.
    std::fs::write(s.out().join("drafts/old.md"), "edited!\n").expect("edit");
    let shown = show(&id[..14]);
    assert_eq!(
        shown["files"][1]["current_sha256"],
        sha256_hex(b"edited!\n")
    );
    assert_eq!(shown["files"][1]["base_changed"], true);
    // Nothing was written by looking.
    assert!(!s.out().join("drafts/new.md").exists());
}

#[test]
fn verify_json_names_the_head_of_the_journal_on_disk() {
    let s = Scratch::new();
    let (_, id) = waiting_run(&s);
    let out = s
        .host()
        .args(["verify", &id, "--json"])
        .output()
        .expect("verify");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let verified = json_of(&out, "verify --json");
    let journal = s.journal(&id);
    assert_eq!(verified["run"], id.as_str());
    assert_eq!(verified["intact"], true);
    assert_eq!(verified["events"], journal.len());
    assert_eq!(verified["head"], journal.last().expect("records")["hash"]);
    assert_eq!(verified["warnings"], serde_json::json!([]));

    // A tampered journal: an error, as JSON on stdout, exit 1.
    let path = s.journal_path(&id);
    let journal = std::fs::read_to_string(&path).expect("journal");
    let mut lines: Vec<&str> = journal.lines().collect();
    lines.pop();
    std::fs::write(&path, lines.join("\n") + "\n").expect("cut the last record");
    let out = s
        .host()
        .args(["verify", &id, "--json"])
        .output()
        .expect("verify");
    assert_eq!(out.status.code(), Some(1));
    let error = json_of(&out, "verify --json of a tampered journal");
    assert!(
        error["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{error:#}"
    );
}

#[test]
fn plugins_check_json_gives_each_plugins_verdict() {
    let s = Scratch::new();
    let dir = s.scripted_plugins("[[steps]]\nid = \"only\"\nplugin = \"scripted\"\n", "");
    let check = || {
        s.check_cmd(&shared_cache(), &dir)
            .arg("--json")
            .output()
            .expect("check")
    };
    let out = check();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let checked = json_of(&out, "plugins check --json");
    let plugins = checked["plugins"].as_array().expect("plugins");
    let names: Vec<&str> = plugins.iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(names.len(), 2, "{checked:#}");
    assert!(names.contains(&"scripted") && names.contains(&"scripted-reviewer"));
    assert!(
        plugins.iter().all(|p| p["status"] != "error"),
        "{checked:#}"
    );
    assert_eq!(checked["workflow"]["status"], "ok", "{checked:#}");
    assert_eq!(checked["with_errors"], 0);
    let out = s.host_plugins(&["plugins", "list", "--json"], &dir);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed = json_of(&out, "plugins list --json");
    let scripted = listed
        .as_array()
        .expect("plugins")
        .iter()
        .find(|p| p["name"] == "scripted")
        .unwrap_or_else(|| panic!("{listed:#}"));
    assert_eq!(scripted["kind"], "tool");
    assert_eq!(
        scripted["manifest"],
        dir.join("scripted/plugin.toml").display().to_string()
    );
    assert!(
        scripted["grants"].as_array().is_some_and(|g| g
            .iter()
            .any(|p| p.as_str().is_some_and(|p| p.contains("drafts/")))),
        "{listed:#}"
    );

    // A manifest that does not parse: its verdict is an error, exit 1.
    std::fs::write(dir.join("scripted/plugin.toml"), "[plugin]\nname = 1\n").expect("break");
    let out = check();
    assert_eq!(out.status.code(), Some(1));
    let checked = json_of(&out, "plugins check --json");
    let broken: Vec<&Value> = checked["plugins"]
        .as_array()
        .expect("plugins")
        .iter()
        .filter(|p| p["status"] == "error")
        .collect();
    assert_eq!(broken.len(), 1, "{checked:#}");
    assert!(
        broken[0]["errors"][0]
            .as_str()
            .is_some_and(|e| e.contains("plugin.toml"))
    );
    assert!(checked["with_errors"].as_u64().is_some_and(|n| n >= 1));
}

#[test]
fn cache_json_lists_the_entries_and_clear_json_what_it_removed() {
    let s = Scratch::new();
    let cache = s.path().join("cache");
    let dir = s.scripted_plugins("[[steps]]\nid = \"only\"\nplugin = \"scripted\"\n", "");
    let out = s.check_cmd(&cache, &dir).output().expect("check");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let list = || {
        let out = s
            .host_with_cache(&cache)
            .args(["cache", "--json"])
            .output()
            .expect("cache");
        assert!(out.status.success(), "{}", text(&out.stderr));
        json_of(&out, "cache --json")
    };
    let listing = list();
    let entries = listing["entries"].as_array().expect("entries").clone();
    assert!(
        entries.len() >= 2,
        "both plugins were compiled: {listing:#}"
    );
    assert!(
        entries.iter().all(|e| e["status"] == "valid"),
        "{listing:#}"
    );
    let files: Vec<std::path::PathBuf> = entries
        .iter()
        .map(|e| std::path::PathBuf::from(e["file"].as_str().expect("file")))
        .collect();
    for (entry, file) in entries.iter().zip(&files) {
        let size = std::fs::metadata(file).expect("the entry's file").len();
        assert_eq!(entry["bytes"], size);
    }
    let total: u64 = entries.iter().filter_map(|e| e["bytes"].as_u64()).sum();
    assert_eq!(listing["total_bytes"], total);

    let out = s
        .host_with_cache(&cache)
        .args(["cache", "clear", "--yes", "--json"])
        .output()
        .expect("clear");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let cleared = json_of(&out, "cache clear --json");
    assert_eq!(cleared["removed_files"], entries.len());
    assert_eq!(cleared["removed_bytes"], total);
    assert!(
        files.iter().all(|f| !f.exists()),
        "the entries' files are gone"
    );
    assert_eq!(list()["entries"], serde_json::json!([]));
}

/// Piped, `show` and `approve` print the diff themselves: `$PAGER` is
/// never started (here it would leave a marker file).
#[test]
fn a_diff_is_printed_directly_when_stdout_is_not_a_terminal() {
    let s = Scratch::new();
    let (_, id) = waiting_run(&s);
    let marker = s.path().join("pager-ran");
    let pager = format!("touch {}", marker.display());
    let out = s
        .host()
        .env("PAGER", &pager)
        .args(["show", &id])
        .output()
        .expect("show");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(
        shown.contains("+fresh") && shown.contains("-before"),
        "{shown}"
    );
    let out = s
        .host()
        .env("PAGER", &pager)
        .args(["approve", &id, "--yes"])
        .output()
        .expect("approve");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("+replaced"),
        "{}",
        text(&out.stdout)
    );
    assert!(!marker.exists(), "the pager was started for a pipe");
    assert_eq!(
        std::fs::read_to_string(s.out().join("drafts/old.md")).expect("approved"),
        "replaced\n"
    );
}
