//! The workflow as the runner executes it: independent steps overlap in time,
//! transient errors are retried on the policy's schedule (and nothing else
//! is), a step's timeout caps its plugin's, and the reviewer's verdict
//! decides between a bounded re-draft, the approval gate and rejection. Every
//! claim is checked against the journal's timestamps and the files on disk.

use crate::support::{Scratch, events, run_id, snapshot, step_event, text};

fn at(record: &serde_json::Value) -> u64 {
    record["at_ms"].as_u64().expect("at_ms")
}

#[test]
fn independent_steps_run_in_parallel_and_their_dependent_waits_for_both() {
    let s = Scratch::new();
    let plugins = s.scripted_plugins(
        "[[steps]]\nid = \"left\"\nplugin = \"scripted\"\ninput = { sleep_ms = 600 }\n\
         [[steps]]\nid = \"right\"\nplugin = \"scripted\"\ninput = { sleep_ms = 600 }\n\
         [[steps]]\nid = \"join\"\nplugin = \"scripted\"\nneeds = [\"left\", \"right\"]\n",
        "",
    );
    let out = s.run(&plugins, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = run_id(&out);
    let journal = s.journal(&id);
    let started = |step| at(step_event(&journal, "step_started", step));
    let ended = |step| at(step_event(&journal, "step_succeeded", step));
    // Both sleeps were in flight at once: each started before the other ended.
    assert!(started("left") < ended("right"), "{journal:#?}");
    assert!(started("right") < ended("left"), "{journal:#?}");
    assert!(started("join") >= ended("left").max(ended("right")));
    let join_output = s.status(&id)["steps"]["join"]["output_sha256"]
        .as_str()
        .map(|sha| s.blob(&id, sha))
        .expect("join output");
    let join: serde_json::Value = serde_json::from_slice(&join_output).expect("json");
    assert_eq!(join["needs"], serde_json::json!(["left", "right"]));
    assert_eq!(s.status(&id)["status"], "completed", "no writes: no gate");
}

#[test]
fn transient_errors_are_retried_on_the_backoff_schedule_until_they_pass() {
    let s = Scratch::new();
    let plugins = s.scripted_plugins(
        "[[steps]]\nid = \"flaky\"\nplugin = \"scripted\"\n\
         input = { counter = \"flaky\", fail_times = 2 }\n\
         retry = { max-attempts = 4, backoff-ms = 100, max-backoff-ms = 1000 }\n",
        "",
    );
    let out = s.run(&plugins, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let journal = s.journal(&run_id(&out));
    let failed = events(&journal, "step_failed");
    let retried = events(&journal, "step_retried");
    let started = events(&journal, "step_started");
    assert_eq!((failed.len(), retried.len(), started.len()), (2, 2, 3));
    for (i, (fail, retry)) in failed.iter().zip(&retried).enumerate() {
        assert_eq!(fail["event"]["error_kind"], "transient");
        assert_eq!(retry["event"]["attempt"], i as u64 + 2);
        // Equal jitter: after failure n the delay is in [ceiling/2, ceiling],
        // ceiling = 100 ms * 2^(n-1).
        let ceiling = 100u64 << i;
        let delay = retry["event"]["delay_ms"].as_u64().expect("delay");
        assert!(
            (ceiling / 2..=ceiling).contains(&delay),
            "retry {i}: delay {delay} outside [{}, {ceiling}]",
            ceiling / 2
        );
        // The next attempt really waited that long.
        assert!(at(started[i + 1]) >= at(fail) + delay, "{journal:#?}");
    }
    assert_eq!(
        step_event(&journal, "step_succeeded", "flaky")["event"]["attempt"],
        3
    );
    assert_eq!(
        s.counter("flaky"),
        3,
        "exactly three calls reached the plugin"
    );
}

#[test]
fn retries_stop_at_max_attempts_and_the_run_fails_saying_so() {
    let s = Scratch::new();
    let plugins = s.scripted_plugins(
        "[[steps]]\nid = \"down\"\nplugin = \"scripted\"\ninput = { fail = \"transient\" }\n\
         retry = { max-attempts = 2, backoff-ms = 10 }\n",
        "",
    );
    let out = s.run(&plugins, &[]);
    assert!(!out.status.success());
    let id = run_id(&out);
    let journal = s.journal(&id);
    assert_eq!(events(&journal, "step_started").len(), 2);
    assert_eq!(events(&journal, "step_retried").len(), 1);
    let state = s.status(&id);
    assert_eq!(state["status"], "failed");
    let reason = state["failure"].as_str().expect("failure");
    assert!(reason.contains("gave up after 2 attempts"), "{reason}");
}

#[test]
fn invalid_input_is_never_retried_even_with_a_retry_policy() {
    let s = Scratch::new();
    let plugins = s.scripted_plugins(
        "[[steps]]\nid = \"bad\"\nplugin = \"scripted\"\ninput = { fail = \"invalid-input\" }\n\
         retry = { max-attempts = 5, backoff-ms = 10 }\n",
        "",
    );
    let out = s.run(&plugins, &[]);
    assert!(!out.status.success());
    let journal = s.journal(&run_id(&out));
    assert_eq!(events(&journal, "step_started").len(), 1, "{journal:#?}");
    assert!(events(&journal, "step_retried").is_empty());
    assert_eq!(
        step_event(&journal, "step_failed", "bad")["event"]["error_kind"],
        "invalid-input"
    );
}

#[test]
fn a_step_timeout_caps_its_plugins_limit() {
    let s = Scratch::new();
    let plugins = s.scripted_plugins(
        "[[steps]]\nid = \"slow\"\nplugin = \"scripted\"\ninput = { sleep_ms = 20000 }\ntimeout-ms = 300\n",
        "",
    );
    let out = s.run(&plugins, &[]);
    assert!(!out.status.success());
    let journal = s.journal(&run_id(&out));
    let failed = step_event(&journal, "step_failed", "slow");
    assert_eq!(failed["event"]["error_kind"], "timeout");
    let message = failed["event"]["message"].as_str().expect("message");
    assert!(message.contains("timed out after 300ms"), "{message}");
    assert!(message.contains("timeout-ms = 300"), "{message}");
}

#[test]
fn revise_redrafts_with_the_review_as_input_then_passes_to_the_gate() {
    let s = Scratch::new();
    let plugins = s.scripted_plugins(
        "[[steps]]\nid = \"prep\"\nplugin = \"scripted\"\n\
         [[steps]]\nid = \"draft\"\nplugin = \"scripted\"\nneeds = [\"prep\"]\n\
         input = { draft = true, pass_from_round = 1 }\n",
        "max-redrafts = 2\nredraft = \"draft\"\n",
    );
    let out = s.run(&plugins, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = run_id(&out);
    let journal = s.journal(&id);
    let reviews = events(&journal, "review_completed");
    assert_eq!(reviews.len(), 2);
    assert_eq!(reviews[0]["event"]["verdict"], "revise");
    assert_eq!(reviews[1]["event"]["verdict"], "pass");
    assert_eq!(reviews[1]["event"]["round"], 1);
    let redraft = events(&journal, "redraft_requested");
    assert_eq!(redraft.len(), 1);
    assert_eq!(redraft[0]["event"]["steps"], serde_json::json!(["draft"]));
    // Only the re-drafted step ran again; its upstream output was reused.
    let starts: Vec<&str> = events(&journal, "step_started")
        .iter()
        .map(|r| r["event"]["step"].as_str().expect("step"))
        .collect();
    assert_eq!(starts, ["prep", "draft", "draft"]);
    let state = s.status(&id);
    assert_eq!(state["status"], "waiting-approval");
    let staged = s.blob(
        &id,
        state["change_set"]["entries"][0]["new_sha256"]
            .as_str()
            .expect("sha"),
    );
    assert_eq!(text(&staged), "draft of round 1\nverdict: pass\n");
}

#[test]
fn revise_after_the_last_redraft_goes_to_a_person_with_the_findings() {
    let s = Scratch::new();
    let plugins = s.scripted_plugins(
        "[[steps]]\nid = \"draft\"\nplugin = \"scripted\"\ninput = { draft = true, pass_from_round = 99 }\n",
        "max-redrafts = 1\nredraft = \"draft\"\n",
    );
    let out = s.run(&plugins, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = run_id(&out);
    assert_eq!(events(&s.journal(&id), "review_completed").len(), 2);
    let state = s.status(&id);
    assert_eq!(state["status"], "waiting-approval");
    assert_eq!(state["review"]["verdict"], "revise");
    assert_eq!(
        state["review"]["findings"].as_array().map(Vec::len),
        Some(1)
    );
}

#[test]
fn a_reject_verdict_ends_the_run_and_nothing_is_written() {
    let s = Scratch::new();
    let before = snapshot(&s.out());
    let plugins = s.scripted_plugins(
        "[[steps]]\nid = \"draft\"\nplugin = \"scripted\"\n\
         input = { writes = [{ path = \"drafts/x.md\", text = \"verdict: reject\\n\" }] }\n",
        "max-redrafts = 2\nredraft = \"draft\"\n",
    );
    let out = s.run(&plugins, &[]);
    assert!(!out.status.success());
    let id = run_id(&out);
    assert_eq!(s.status(&id)["status"], "rejected");
    assert!(events(&s.journal(&id), "redraft_requested").is_empty());
    assert_eq!(snapshot(&s.out()), before);
}
