//! Integration tests of the `host` binary: real components built from source
//! (see `tests/artifacts`), real files on disk, the real executable in a child
//! process. Every test asserts on host-side state (the files, the journal),
//! not only on what the command printed. The hostile corpus (`hostile_*`)
//! drives the host library in-process where it must show that the same loaded
//! plugin still works after an attack (see `sandbox`).

mod admin_grants;
mod amend_revert;
mod apply_toctou;
mod approval_gate;
mod approval_replay;
mod blocked_guest;
mod call_threads;
mod cli_help;
mod compile_cache;
mod consecutive_runs;
mod console;
mod crash_resume;
mod doctor;
mod faults_disk;
mod faults_inputs;
mod faults_kill;
mod gate_classes;
mod generic_reviewer;
mod hello_tool;
mod hint_lines;
mod hostile_demo;
mod hostile_env;
mod hostile_fs;
mod hostile_malformed;
mod hostile_resources;
mod https_grants;
mod inert_output;
mod journal_tampering;
mod json_outputs;
mod large_diff;
mod mcp;
mod mcp_call;
mod model_reviewer;
mod model_reviewer_https;
mod network_grants;
mod output_failures;
mod plugin_failures;
mod plugins_admin;
mod plugins_new;
mod project_config;
mod python_js;
mod resume_rules;
mod run_ids;
mod run_params;
mod runs_prune;
mod sandbox;
mod scheduling;
mod sdk_http;
mod support;
mod timings;
mod tls_support;
mod toolchains;
mod trace;
mod two_writes;
mod workflow_export;
mod write_grants;
