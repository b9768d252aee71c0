//! `host call`: one governed tool call from the command line, through the
//! same path as an agent's MCP call ([`crate::mcp::call`]).

use std::process::ExitCode;

use anyhow::Context as _;

use crate::cli::session_args::SessionArgs;
use crate::cli::{Context, output, progress};
use crate::mcp::call::NoAsker;
use crate::mcp::session::{Session, SessionOptions, Via};
use crate::render::inert;

/// Call one tool plugin once, as an agent would through `host mcp`.
///
/// The arguments are checked against the plugin's input schema, the admin
/// policy decides (an `ask` rule refuses here: there is nobody to ask), the
/// plugin runs in a fresh sandbox with its grants and limits, and whatever it
/// proposes is staged in a new session run. Nothing is written: the output
/// names the run to `host show` and `host approve`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  host call hello-tool --input '{\"name\":\"Ada\"}' --plugins examples\n  host call search --input '{\"topic\":\"wasm\"}' --json | jq .structured.output\n  host approve <run>        apply what the call staged"
)]
pub struct Args {
    /// The tool plugin's name (its manifest's `[plugin] name`).
    plugin: String,

    /// The arguments, a JSON object.
    #[arg(long, default_value = "{}")]
    input: String,

    #[command(flatten)]
    session: SessionArgs,

    /// Print the result as JSON on stdout.
    #[arg(long)]
    json: bool,
}

pub async fn execute(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let arguments: serde_json::Value = serde_json::from_str(&args.input).with_context(
        || "--input is not JSON\nhint: pass a JSON object, e.g. --input '{\"name\":\"Ada\"}'",
    )?;
    let (plugins, workspace, out_dir) = args.session.dirs(ctx)?;
    let session = Session::start(
        ctx,
        &SessionOptions {
            plugins_dir: &plugins,
            only: Some(&args.plugin),
            workspace: &workspace,
            out_dir: &out_dir,
            policy: args.session.policy.as_deref(),
            via: Via::Cli,
            max_journal_bytes: crate::mcp::session::SESSION_JOURNAL_BYTES,
        },
        &progress::print,
    )
    .await?;
    output::note(&format!("session run {}", inert(&session.run_id())));
    let outcome = session
        .call(&args.plugin, arguments, &NoAsker, None)
        .await?;
    // One call is the whole session: with nothing staged, it ends completed.
    session.close().await?;
    match outcome {
        Ok(result) => {
            if args.json {
                output::json(&serde_json::json!({
                    "ok": true,
                    "structured": result.structured(),
                }))?;
            } else {
                output::line(&result.text())?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(failure) => {
            if args.json {
                output::json(&serde_json::json!({
                    "ok": false,
                    "run": failure.run_id,
                    "call": failure.call,
                    "error_kind": failure.kind,
                    "message": failure.message,
                }))?;
            } else {
                output::note(&failure.text());
            }
            Ok(ExitCode::from(crate::cli::EXIT_FAILURE))
        }
    }
}
