//! Figure (4) in one process: N runs of the default pipeline at once, driven
//! through the same library calls `host run` makes (load the workflow's
//! plugins, create a run, execute it to the approval gate).
//!
//! It runs in a child process (this bench binary again, told so by an
//! environment variable) so that the peak RSS it reports, the child's
//! `VmHWM`, belongs to those runs alone and not to the other figures.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use harness_host::folder;
use harness_host::host_dirs::HostDirs;
use harness_host::run::executor;
use harness_host::run::state::RunStatus;
use harness_test_artifacts as artifacts;

use crate::fixtures::{Scratch, own_memory};

const CHILD_VAR: &str = "HARNESS_BENCH_CONCURRENT_RUNS";

/// What the child reports.
#[derive(Debug)]
pub struct Report {
    pub total: Duration,
    /// `VmHWM` at the end: the peak RSS of the whole child process.
    pub peak_rss_kib: u64,
    /// `VmRSS` after the plugins were loaded, before the first run.
    pub loaded_rss_kib: u64,
}

pub fn is_child() -> bool {
    std::env::var_os(CHILD_VAR).is_some()
}

/// Run `runs` pipelines in a child process with `cache` as its compile cache.
pub fn in_child(scratch: &Scratch, cache: &Path, runs: usize) -> Report {
    let state = scratch.fresh("state");
    let exe = std::env::current_exe().expect("current exe");
    let out = Command::new(exe)
        .env(CHILD_VAR, runs.to_string())
        .env("BENCH_STATE", &state)
        .env("BENCH_CACHE", cache)
        .env("BENCH_WORKSPACE", scratch.ws())
        .env("BENCH_OUT", scratch.out())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("spawn the concurrent-runs child");
    assert!(out.status.success(), "the concurrent-runs child failed");
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| -> u64 {
        text.split_whitespace()
            .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("the child reported no `{name}`: {text}"))
    };
    Report {
        total: Duration::from_micros(field("total_us")),
        peak_rss_kib: field("peak_kib"),
        loaded_rss_kib: field("loaded_kib"),
    }
}

fn var(name: &str) -> PathBuf {
    PathBuf::from(std::env::var_os(name).unwrap_or_else(|| panic!("{name} is not set")))
}

/// The child's side: load, run N pipelines concurrently, print the figures.
pub fn child_main() {
    let runs: usize = std::env::var(CHILD_VAR)
        .ok()
        .and_then(|v| v.parse().ok())
        .expect("run count");
    let (state, cache) = (var("BENCH_STATE"), var("BENCH_CACHE"));
    let (workspace, out_dir) = (var("BENCH_WORKSPACE"), var("BENCH_OUT"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let ctx = HostDirs::new(state, Some(cache));
    let loaded = Arc::new(
        folder::load(
            &ctx,
            Path::new(artifacts::PLUGINS_DIR),
            None,
            &workspace,
            &out_dir,
            folder::LoadOptions {
                build: false,
                concurrent_runs: u32::try_from(runs).unwrap_or(u32::MAX),
            },
            &|_| {},
        )
        .expect("load the default plugins"),
    );
    let loaded_kib = own_memory("VmRSS");
    let store = Arc::new(ctx.store());

    let start = Instant::now();
    let statuses = rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..runs {
            let loaded = Arc::clone(&loaded);
            let store = Arc::clone(&store);
            let (workspace, out_dir) = (workspace.clone(), out_dir.clone());
            set.spawn(async move {
                let mut run = store
                    .create(
                        loaded
                            .run_created(
                                serde_json::json!({ "topic": "WebAssembly component sandboxing" }),
                                &workspace,
                                &out_dir,
                            )
                            .expect("run_created"),
                    )
                    .expect("create run");
                executor::execute(&mut run, &loaded.workflow, &loaded.folder.plugins)
                    .await
                    .expect("execute");
                run.state().status
            });
        }
        let mut statuses = Vec::new();
        while let Some(status) = set.join_next().await {
            statuses.push(status.expect("run task"));
        }
        statuses
    });
    let total = start.elapsed();
    let waiting = statuses
        .iter()
        .filter(|s| **s == RunStatus::WaitingApproval)
        .count();
    assert_eq!(waiting, runs, "every run stops waiting for approval");
    println!(
        "total_us={} peak_kib={} loaded_kib={loaded_kib}",
        total.as_micros(),
        own_memory("VmHWM")
    );
}
