//! `HARNESS_TIMINGS=1`: a real `host run` of the default pipeline prints
//! where its time went, phase by phase in order (each step's call and its
//! record too); without the variable it prints none. And when the command
//! ends, the journal's head has caught up with its last record (the head is
//! written when a process lets go of the run, not after every append).

use crate::support::{Scratch, artifacts, run_id, text};

fn run(s: &Scratch, timings: bool) -> std::process::Output {
    let mut cmd = s.host();
    cmd.args(["run", "--plugins", artifacts::PLUGINS_DIR, "--workspace"])
        .arg(s.ws())
        .arg("--out")
        .arg(s.out())
        .arg("--json");
    if timings {
        cmd.env("HARNESS_TIMINGS", "1");
    } else {
        cmd.env_remove("HARNESS_TIMINGS");
    }
    let out = cmd.output().expect("host run");
    assert!(out.status.success(), "{}", text(&out.stderr));
    out
}

#[test]
fn a_run_says_where_its_time_went_only_when_asked() {
    let s = Scratch::new();
    let quiet = run(&s, false);
    assert!(
        !text(&quiet.stderr).contains("timing:"),
        "{}",
        text(&quiet.stderr)
    );

    let out = run(&s, true);
    let stderr = text(&out.stderr);
    let marks: Vec<(f64, String)> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("timing:"))
        .map(|l| {
            let (ms, phase) = l.trim().split_once(" ms").expect("`<ms> ms <phase>`");
            (ms.trim().parse().expect("ms"), phase.trim().to_string())
        })
        .collect();
    let phases: Vec<&str> = marks.iter().map(|(_, p)| p.as_str()).collect();
    let expected = [
        "process started",
        "command line parsed, project read",
        "workflow, grants and manifests read",
        "WebAssembly runtime started",
        "plugins loaded",
        "parameters checked against the input schemas",
        "run created",
        "steps, review and approval request done",
        "outcome printed",
        "run let go (journal head written)",
        "command done",
        "async runtime shut down",
    ];
    let top: Vec<&str> = phases
        .iter()
        .copied()
        .filter(|p| !p.starts_with("plugin ") && !p.starts_with("step ") && !p.starts_with("run: "))
        .collect();
    assert_eq!(top, expected, "{stderr}");
    for plugin in ["search", "extract-facts", "draft-report", "reviewer"] {
        assert!(
            phases.contains(&format!("plugin {plugin} loaded").as_str()),
            "{plugin}: {stderr}"
        );
    }
    for step in ["search", "extract", "draft"] {
        for mark in [
            "starting",
            ": plugin called",
            ": plugin returned",
            ": recording",
        ] {
            let sep = if mark.starts_with(':') { "" } else { " " };
            let phase = format!("step {step}{sep}{mark}");
            assert!(phases.contains(&phase.as_str()), "{phase}: {stderr}");
        }
    }
    for mark in [
        "run: its first event made",
        "run: first record written",
        "run: head written, folder in place, fsyncs started",
    ] {
        assert!(phases.contains(&mark), "{mark}: {stderr}");
    }
    assert!(
        marks.windows(2).all(|w| w[0].0 <= w[1].0),
        "marks in time order: {stderr}"
    );
    // stdout is still only the result.
    let id = run_id(&out);

    // The head names the last record once the command is over.
    let journal = s.journal_path(&id);
    let records = std::fs::read_to_string(&journal).expect("journal");
    let last: serde_json::Value =
        serde_json::from_str(records.lines().last().expect("a record")).expect("json");
    let head: serde_json::Value = serde_json::from_slice(
        &std::fs::read(journal.with_extension("head")).expect("journal.head"),
    )
    .expect("head json");
    assert_eq!(head["seq"], last["seq"]);
    assert_eq!(head["hash"], last["hash"]);
}
