//! The Python (componentize-py) and JavaScript (componentize-js via jco)
//! example tools, built from source with their own `build.sh`, run by the
//! real `host` under their shipped manifests: they read the read-only
//! workspace mount (their output reflects the real files), a write into the
//! mount and a network connection are denied (and the host's files show it),
//! their proposed report waits for approval, and a large component is
//! announced before its first compile and loaded from the cache after.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::support::{Scratch, reviewer, run_id, snapshot, text};
use crate::toolchains::{self, Lang};

/// A file the test adds to the workspace, so the output can only match if the
/// plugin really read the mount.
const EXTRA_PATH: &str = "extra/added-by-the-test.md";
const EXTRA_TEXT: &str =
    "Preamble line.\n# A title only this test knows\nalpha beta  gamma\tdelta\n";

/// A plugins folder with the example's own manifest (its grants exactly as
/// shipped; only the component path made absolute) and the real reviewer.
fn plugins(s: &Scratch, lang: Lang, input: &str) -> PathBuf {
    let example = toolchains::built_example(lang);
    let manifest = std::fs::read_to_string(example.join("plugin.toml")).expect("manifest");
    let name = match lang {
        Lang::Python => "python-tool",
        Lang::Js => "js-tool",
    };
    let relative = format!("component = \"../../target/{name}/{name}.wasm\"");
    assert!(manifest.contains(&relative), "{manifest}");
    let component = Path::new(crate::support::artifacts::WORKSPACE_ROOT)
        .join("target")
        .join(name)
        .join(format!("{name}.wasm"));
    let manifest = manifest.replace(&relative, &format!("component = {:?}", component));
    let dir = s.plugins_dir(
        &format!("plugins-{}", input.len()),
        &[reviewer()],
        &crate::support::one_step_workflow(name, input),
    );
    std::fs::create_dir_all(dir.join(name)).expect("mkdir");
    std::fs::write(dir.join(name).join("plugin.toml"), manifest).expect("write manifest");
    dir
}

/// `host run --json` of `plugins` with its own compile cache.
fn run_with_cache(s: &Scratch, plugins: &Path, cache: &Path) -> std::process::Output {
    s.in_area(s.host_with_cache(cache), &["run"], plugins)
        .arg("--json")
        .output()
        .expect("run host")
}

/// Every `.md` file of the workspace with its text, by `/`-separated path.
fn markdown(ws: &Path) -> BTreeMap<String, String> {
    snapshot(ws)
        .into_iter()
        .filter(|(p, _)| p.extension().is_some_and(|e| e == "md"))
        .map(|(p, bytes)| {
            let rel = p.to_string_lossy().replace('\\', "/");
            (rel, String::from_utf8(bytes).expect("utf-8"))
        })
        .collect()
}

fn title(path: &str, text: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix("# "))
        .map_or(path.to_string(), |t| t.trim().to_string())
}

/// The step's recorded output.
fn output(s: &Scratch, id: &str) -> serde_json::Value {
    s.step_output(id, "only")
}

/// What the plugin reported, checked against the files on disk.
fn assert_reflects_the_workspace(lang: Lang, out: &serde_json::Value, ws: &Path) {
    let files = markdown(ws);
    assert!(files.contains_key(EXTRA_PATH), "{files:?}");
    let reported = out["files"].as_array().expect("files");
    let mut paths: Vec<&str> = reported
        .iter()
        .map(|f| f["path"].as_str().expect("path"))
        .collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        files.keys().map(String::as_str).collect::<Vec<_>>(),
        "{out:#}"
    );
    for f in reported {
        let path = f["path"].as_str().expect("path");
        let text = &files[path];
        assert_eq!(f["title"], title(path, text), "{path}");
        match lang {
            Lang::Python => {
                assert_eq!(f["words"], text.split_whitespace().count(), "{path}");
            }
            Lang::Js => assert_eq!(f["bytes"], text.len(), "{path}"),
        }
    }
    if lang == Lang::Python {
        let total: usize = files.values().map(|t| t.split_whitespace().count()).sum();
        assert_eq!(out["total_words"], total);
    }
}

fn reads_the_mount_proposes_a_report_and_denies_the_rest(lang: Lang, name: &str) {
    let s = Scratch::new();
    let extra = s.ws().join(EXTRA_PATH);
    std::fs::create_dir_all(extra.parent().expect("parent")).expect("mkdir");
    std::fs::write(&extra, EXTRA_TEXT).expect("write extra");
    // A cache of its own, so this test sees the first compile and the reuse.
    let cache = s.path().join("cache");

    // 1. Read the mount, propose a report; nothing on disk before approval.
    let dir = plugins(&s, lang, "{ name = \"Weekly Words\" }");
    let run = run_with_cache(&s, &dir, &cache);
    let stderr = text(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("compiling plugin `{name}` (")) && stderr.contains("first use"),
        "no progress line before the first compile:\n{stderr}"
    );
    let compiling = stderr
        .find(&format!("compiling plugin `{name}`"))
        .expect("line");
    let compiled = stderr
        .find(&format!("compiled plugin `{name}` in"))
        .expect("compiled line");
    assert!(compiling < compiled, "{stderr}");

    let id = run_id(&run);
    let state = s.status(&id);
    assert_eq!(state["status"], "waiting-approval", "{state:#}");
    let out = output(&s, &id);
    assert_reflects_the_workspace(lang, &out, &s.ws());
    assert!(out.get("probe").is_none(), "{out:#}");

    let entries = state["change_set"]["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 1, "{state:#}");
    assert_eq!(entries[0]["path"], "reports/weekly-words.md");
    let target = s.out().join("reports/weekly-words.md");
    assert!(!target.exists(), "written before approval");
    assert!(
        !s.out().join("reports").exists(),
        "reports/ made before approval"
    );
    let staged = s.blob(&id, entries[0]["new_sha256"].as_str().expect("sha"));
    let report = String::from_utf8(staged.clone()).expect("utf-8");
    assert!(report.contains("A title only this test knows"), "{report}");

    let approve = s.approve(&id);
    assert!(approve.status.success(), "{}", text(&approve.stderr));
    assert_eq!(std::fs::read(&target).expect("report"), staged);
    assert_eq!(s.status(&id)["status"], "completed");

    // 2. Probe: try to write into the read-only mount and reach the network.
    // The component now loads from the cache: no compile line.
    let before = snapshot(&s.ws());
    let dir = plugins(&s, lang, "{ probe = true, name = \"probe\" }");
    let run = run_with_cache(&s, &dir, &cache);
    let stderr = text(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(
        !stderr.contains("compiling plugin `")
            && !stderr.contains(&format!("compiled plugin `{name}`")),
        "compiled again instead of loading from the cache:\n{stderr}"
    );
    let id = run_id(&run);
    let out = output(&s, &id);
    let probe = &out["probe"];
    let write = probe["write"].as_str().expect("write outcome");
    let network = probe["network"].as_str().expect("network outcome");
    assert!(write.starts_with("denied"), "{probe:#}");
    assert!(network.starts_with("denied"), "{probe:#}");
    // Host side: the mount is unchanged, the file does not exist.
    assert!(!s.ws().join("x").exists(), "the probe wrote into the mount");
    assert_eq!(snapshot(&s.ws()), before, "the workspace changed");
    // Host side: the connection reached the host's network check and was
    // refused there, naming the grant that would allow it.
    let logs = s.status(&id)["steps"]["only"]["logs"].to_string();
    assert!(
        logs.contains(&format!("network access denied to plugin `{name}`"))
            && logs.contains("127.0.0.1:9")
            && logs.contains("[grants] network"),
        "{logs}"
    );
    // The probe's report is still only proposed.
    assert!(!s.out().join("reports/probe.md").exists());
    assert_reflects_the_workspace(lang, &out, &s.ws());
}

#[test]
fn python_tool_reads_the_mount_proposes_a_report_and_is_denied_the_rest() {
    if toolchains::available(
        Lang::Python,
        "python_tool_reads_the_mount_proposes_a_report_and_is_denied_the_rest",
    ) {
        reads_the_mount_proposes_a_report_and_denies_the_rest(Lang::Python, "python-tool");
    }
}

#[test]
fn js_tool_reads_the_mount_proposes_a_report_and_is_denied_the_rest() {
    if toolchains::available(
        Lang::Js,
        "js_tool_reads_the_mount_proposes_a_report_and_is_denied_the_rest",
    ) {
        reads_the_mount_proposes_a_report_and_denies_the_rest(Lang::Js, "js-tool");
    }
}

/// An uncaught exception fails the run, summarized by the exception's own
/// message, not by the interpreter's abort lines, which stay in the logs.
fn an_uncaught_exception_is_summarized_by_its_message(lang: Lang, expected: &str, abort: &str) {
    let s = Scratch::new();
    let dir = plugins(&s, lang, "{ crash = \"nope\" }");
    let run = s.run(&dir, &[]);
    assert_eq!(run.status.code(), Some(1), "{}", text(&run.stderr));
    let id = run_id(&run);
    let state = s.status(&id);
    assert_eq!(state["status"], "failed", "{state:#}");
    let failure = state["failure"].as_str().expect("failure");
    let first = failure.lines().next().unwrap_or_default();
    assert!(first.contains(expected), "{failure}");
    assert!(
        !failure.contains("unreachable") && !failure.contains(abort),
        "the summary quotes the interpreter's abort lines:\n{failure}"
    );
    assert!(failure.contains("\nhint: "), "{failure}");

    let journal = s.journal(&id);
    let failed = crate::support::step_event(&journal, "step_failed", "only");
    assert_eq!(failed["event"]["error_kind"], "trap", "{failed:#}");
    let message = failed["event"]["message"].as_str().expect("message");
    assert!(message.contains(expected), "{message}");
    // The whole stderr is in the step's logs.
    let logs = failed["event"]["logs"].to_string();
    assert!(logs.contains(abort), "{logs}");
    assert!(snapshot(&s.out()).is_empty(), "a failed run wrote");
}

#[test]
fn an_uncaught_python_exception_is_summarized_by_its_own_line() {
    if toolchains::available(
        Lang::Python,
        "an_uncaught_python_exception_is_summarized_by_its_own_line",
    ) {
        an_uncaught_exception_is_summarized_by_its_message(
            Lang::Python,
            "uncaught Python exception KeyError: 'nope' (File ",
            "Python function threw an unexpected exception",
        );
    }
}

#[test]
fn a_javascript_throw_is_summarized_by_its_own_message() {
    if toolchains::available(
        Lang::Js,
        "a_javascript_throw_is_summarized_by_its_own_message",
    ) {
        an_uncaught_exception_is_summarized_by_its_message(
            Lang::Js,
            "uncaught JavaScript throw: Error: crash requested: nope",
            "mozalloc_abort",
        );
    }
}
