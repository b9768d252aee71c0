//! Hostile corpus, resources: a plugin that spins, sleeps forever inside a
//! host call, eats memory or stack, returns or prints a gigabyte, or opens
//! thousands of files. Each attack fails only its own invocation, with its
//! own failure kind and a message naming the plugin and the `[limits]` key;
//! the host stays up, the files are untouched, and the next invocation of
//! the same loaded plugin works.

use std::time::{Duration, Instant};

use harness_host::runtime::{FailureKind, InvokeFailure, MAX_RESOURCES};
use serde_json::json;

use crate::sandbox::Sandbox;

const GIB: u64 = 1 << 30;

/// Runs `attack`, which must fail with `kind`; checks the message names the
/// plugin and every `needles`, that no file changed, and that the plugin
/// still serves.
fn contained(
    s: &Sandbox,
    attack: serde_json::Value,
    kind: FailureKind,
    needles: &[&str],
) -> InvokeFailure {
    let before = s.files();
    let failure = s.invoke_failing(attack);
    assert_eq!(failure.kind, kind, "{failure}");
    let message = failure.to_string();
    assert!(message.contains("plugin `hostile`"), "{message}");
    for needle in needles {
        assert!(
            message.contains(needle),
            "expected `{needle}` in: {message}"
        );
    }
    assert_eq!(s.files(), before, "host files changed");
    s.assert_canaries_intact();
    s.assert_still_serves();
    failure
}

/// A spinning plugin under `limits` (a 300 ms timeout among them) is
/// stopped by that timeout, well within 5 s.
fn spin_is_stopped_by_the_timeout(limits: &str) {
    let s = Sandbox::with_limits(limits);
    let started = Instant::now();
    contained(
        &s,
        json!({ "attack": "spin" }),
        FailureKind::Timeout,
        &["timed out after 300ms", "[limits] timeout-ms"],
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn infinite_loop_is_stopped_by_the_timeout() {
    spin_is_stopped_by_the_timeout("timeout-ms = 300");
}

#[test]
fn infinite_loop_is_stopped_by_fuel() {
    let s = Sandbox::with_limits("fuel = 20000000\ntimeout-ms = 60000");
    let started = Instant::now();
    contained(
        &s,
        json!({ "attack": "spin" }),
        FailureKind::FuelExhausted,
        &["ran out of fuel", "20000000", "[limits] fuel"],
    );
    // Fuel, not the minute-long timeout, stopped it.
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn a_metered_plugin_is_still_stopped_by_its_timeout() {
    // Fuel enough for minutes of spinning: the epoch deadline of the
    // fuel-metering engine (built when this plugin loaded, ticked from then
    // on) must stop it at its timeout.
    spin_is_stopped_by_the_timeout("fuel = 1000000000000000\ntimeout-ms = 300");
}

#[test]
fn fuel_limit_leaves_a_well_behaved_call_alone() {
    let s = Sandbox::with_limits("fuel = 20000000");
    s.assert_still_serves();
    s.assert_still_serves();
}

#[test]
fn sleeping_forever_in_a_host_call_is_stopped_by_the_wall_clock() {
    // Epoch interruption never fires while the guest waits in WASI `poll`;
    // only the wall-clock timeout around the call can end it.
    let s = Sandbox::with_limits("timeout-ms = 300");
    let started = Instant::now();
    contained(
        &s,
        json!({ "attack": "sleep" }),
        FailureKind::Timeout,
        &["timed out", "[limits] timeout-ms"],
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn memory_bomb_hits_the_memory_limit() {
    let s = Sandbox::with_limits("memory-mib = 32");
    contained(
        &s,
        json!({ "attack": "memory-bomb" }),
        FailureKind::MemoryLimit,
        &["ran out of memory", "[limits] memory-mib"],
    );
}

#[test]
fn shadow_stack_overflow_is_a_clean_trap() {
    // Rust keeps big frames on a shadow stack at the bottom of linear
    // memory; running off it is an out-of-bounds access inside the sandbox.
    let s = Sandbox::new();
    let failure = contained(
        &s,
        json!({ "attack": "stack-overflow" }),
        FailureKind::Trap,
        &["trapped"],
    );
    assert!(
        failure.message.contains("out of bounds"),
        "the cause is named: {failure}"
    );
}

#[test]
fn call_stack_exhaustion_is_a_clean_trap() {
    let s = Sandbox::new();
    let failure = contained(
        &s,
        json!({ "attack": "call-stack" }),
        FailureKind::Trap,
        &["trapped"],
    );
    assert!(
        failure.message.contains("stack"),
        "the cause is named: {failure}"
    );
}

#[test]
fn one_gib_return_value_cannot_be_built() {
    // 1 GiB does not fit the default 64 MiB of memory: refused while the
    // guest builds it, long before the host would copy it out.
    let s = Sandbox::new();
    contained(
        &s,
        json!({ "attack": "huge-return", "bytes": GIB }),
        FailureKind::MemoryLimit,
        &["[limits] memory-mib"],
    );
}

#[test]
fn return_value_over_max_output_is_refused() {
    // Memory allows 8 MiB; the output limit is 1 MiB.
    let s = Sandbox::with_limits("memory-mib = 128\nmax-output-kib = 1024");
    let failure = contained(
        &s,
        json!({ "attack": "huge-return", "bytes": 8 << 20 }),
        FailureKind::OutputTooLarge,
        &["1048576-byte limit", "[limits] max-output-kib"],
    );
    assert!(failure.message.contains("result"), "{failure}");
}

#[test]
fn one_gib_to_stdout_is_cut_off_at_the_output_limit() {
    let s = Sandbox::with_limits("max-output-kib = 1024");
    let failure = contained(
        &s,
        json!({ "attack": "huge-stdout", "bytes": GIB }),
        FailureKind::OutputTooLarge,
        &["stdout", "1048576-byte limit", "[limits] max-output-kib"],
    );
    // What was captured is bounded by the limit, never the gigabyte.
    let logged: usize = failure.logs.iter().map(|l| l.message.len()).sum();
    assert!(logged <= 1 << 20, "{logged} bytes of logs kept");
}

#[test]
fn thousands_of_open_descriptors_hit_the_handle_limit() {
    let s = Sandbox::new();
    let failure = contained(
        &s,
        json!({ "attack": "descriptors", "path": "/ro/file.txt", "count": 5000 }),
        FailureKind::ResourceLimit,
        &[&MAX_RESOURCES.to_string(), "handles"],
    );
    assert_eq!(failure.kind.as_str(), "resource-limit");
}

#[test]
fn a_few_hundred_open_descriptors_are_fine() {
    let s = Sandbox::new();
    let inv = s
        .invoke(json!({ "attack": "descriptors", "path": "/ro/file.txt", "count": 300 }))
        .expect("within the handle limit");
    let output = inv.value.expect("ok").output;
    assert_eq!(output, r#"{"ok":true,"opened":300}"#);
}
