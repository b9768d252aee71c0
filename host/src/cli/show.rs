//! `host show`: the proposed diff and the review of a run.

use std::process::ExitCode;

use serde::Serialize;

use crate::cli::{Context, output, pager, present};
use crate::contract::{Finding, Verdict};
use crate::run::blobs::Blobs;
use crate::run::changeset::read_base;
use crate::run::state::{RunState, RunStatus};

/// Show a run's review and its proposed writes as a diff.
///
/// The diff is against the current files; untrusted text is escaped, never
/// interpreted by the terminal. On a terminal a long diff goes through
/// `$PAGER` (`less` if unset, with `LESS=FRX` unless `LESS` is set).
///
/// `--json` prints `{run, status, change_set_digest, files: [{path, action,
/// base_sha256, new_sha256, new_bytes, current_sha256, current_bytes,
/// base_changed, staged_file}], review: {plugin, round, verdict, summary,
/// findings} or null}`: `base_sha256` is the file the change set was bound
/// to, `current_sha256` the file as it is now (an approval is refused when
/// the two differ), `staged_file` the blob holding the new bytes.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  host show latest                   the newest run's review and diff\n  host show r20261201-1015 --no-pager\n  host show latest --json | jq '.files[] | {path, action, new_sha256}'"
)]
pub struct Args {
    /// The run: its id, a unique prefix of it, or `latest` (see `host runs`).
    run: String,

    /// Print the change set (paths, digests, sizes) and the review as JSON.
    #[arg(long)]
    json: bool,

    /// Print the diff directly, never through `$PAGER`.
    #[arg(long)]
    no_pager: bool,
}

pub fn execute(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let store = ctx.store();
    let inspection = store.inspect(&args.run)?;
    for warning in &inspection.warnings {
        output::note(&format!("warning: {}", crate::render::inert_lines(warning)));
    }
    let state = inspection.state;
    let blobs = store.blobs(&state.id)?;
    if args.json {
        output::json(&json(&state, &blobs))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut shown = present::summary(&state);
    let diffs = present::diffs(&state, &blobs);
    if !diffs.is_empty() {
        shown.push('\n');
        shown.push_str(&diffs);
    }
    shown.push_str(&present::next_steps(&state));
    pager::show(&shown, !args.no_pager)?;
    Ok(ExitCode::SUCCESS)
}

/// What `host show --json` prints, in this key order.
#[derive(Debug, Serialize)]
struct Shown<'a> {
    run: &'a str,
    status: RunStatus,
    change_set_digest: Option<&'a str>,
    files: Vec<File<'a>>,
    review: Option<Review<'a>>,
}

/// One entry of the change set.
#[derive(Debug, Serialize)]
struct File<'a> {
    path: &'a str,
    action: &'static str,
    base_sha256: Option<&'a str>,
    new_sha256: Option<&'a str>,
    new_bytes: u64,
    /// The file as it is now: `None` when there is none (or it cannot be read).
    current_sha256: Option<String>,
    current_bytes: Option<u64>,
    /// Why the current file could not be read, if it could not.
    current_error: Option<String>,
    base_changed: bool,
    staged_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Serialize)]
struct Review<'a> {
    plugin: &'a str,
    round: u32,
    verdict: Verdict,
    summary: &'a str,
    findings: &'a [Finding],
}

fn json<'a>(state: &'a RunState, blobs: &Blobs) -> Shown<'a> {
    let out_dir = crate::run::out_dir::open(&state.out_dir, state.out_dir_id);
    let files = state
        .change_set
        .iter()
        .flat_map(|cs| &cs.entries)
        .map(|e| {
            let current = match &out_dir {
                Ok(dir) => read_base(dir, &e.path).map_err(|err| err.to_string()),
                Err(err) => Err(err.to_string()),
            };
            let (current_sha256, current_bytes, current_error) = match &current {
                Ok(base) => (base.sha256(), base.bytes().map(|b| b.len() as u64), None),
                Err(err) => (None, None, Some(err.clone())),
            };
            File {
                path: &e.path,
                action: e.action(),
                base_sha256: e.base_sha256.as_deref(),
                new_sha256: e.new_sha256.as_deref(),
                new_bytes: e.size,
                base_changed: current.is_err() || current_sha256 != e.base_sha256,
                current_sha256,
                current_bytes,
                current_error,
                staged_file: e.new_sha256.as_ref().and_then(|sha| blobs.location(sha)),
            }
        })
        .collect();
    Shown {
        run: &state.id,
        status: state.status,
        change_set_digest: state.change_set_digest.as_deref(),
        files,
        review: state.review.as_ref().map(|r| Review {
            plugin: &r.plugin,
            round: r.round,
            verdict: r.verdict,
            summary: &r.summary,
            findings: &r.findings,
        }),
    }
}
