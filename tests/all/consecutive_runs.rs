//! Outputs that do not feed back: the default pipeline writes its report into
//! the workspace it searches (the output directory defaults to the
//! workspace), and the next run on the same topic must not cite that report
//! as a source. Two real runs, the first approved, checked through the
//! second run's recorded search hits and staged report.

use std::path::Path;

use crate::support::{Scratch, artifacts, run_id, text};

const TOPIC: &str = "WebAssembly component sandboxing";

/// `host run` of the default plugins with the workspace as output directory.
fn run(s: &Scratch) -> String {
    let out = s
        .host()
        .args(["run", "--plugins", artifacts::PLUGINS_DIR, "--workspace"])
        .arg(s.ws())
        .args(["--json", "--topic", TOPIC])
        .output()
        .expect("host run");
    assert!(out.status.success(), "{}", text(&out.stderr));
    run_id(&out)
}

#[test]
fn a_second_run_does_not_cite_the_first_runs_report() {
    let s = Scratch::new();
    let first = run(&s);
    let approved = s.approve(&first);
    assert!(approved.status.success(), "{}", text(&approved.stderr));
    let report = s.status(&first)["steps"]["draft"]["writes"][0]["path"]
        .as_str()
        .expect("report path")
        .to_string();
    assert!(
        Path::new(&s.ws()).join(&report).is_file(),
        "the first report is in the workspace"
    );

    let second = run(&s);
    let hits = s.step_output(&second, "search")["hits"].clone();
    let hits = hits.as_array().expect("hits");
    assert!(!hits.is_empty(), "the workspace still has sources");
    for hit in hits {
        assert_ne!(
            hit["path"],
            report.as_str(),
            "the earlier report is not a source: {hit}"
        );
    }
    let state = s.status(&second);
    let sha = state["steps"]["draft"]["writes"][0]["sha256"]
        .as_str()
        .expect("staged report");
    let staged = String::from_utf8(s.blob(&second, sha)).expect("utf-8");
    assert!(
        !staged.contains(&report),
        "the new report cites no earlier report:\n{staged}"
    );
    assert_eq!(state["review"]["verdict"], "pass", "{state:#}");
}
