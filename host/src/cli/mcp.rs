//! `host mcp`: serve the tool plugins of a folder to an agent over the
//! Model Context Protocol (stdio), every call governed ([`crate::mcp`]).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use rmcp::ServiceExt as _;

use crate::cli::{Context, output, progress};
use crate::mcp::server::Server;
use crate::mcp::session::{Session, SessionOptions, Via};
use crate::render::inert;

/// Serve the folder's tool plugins to an agent over MCP (stdio).
///
/// Every tool call is checked against the plugin's input schema, decided by
/// the admin's policy (allow, ask the person through the client, or deny),
/// run in a fresh sandbox under the plugin's grants and limits, and
/// journaled in one session run. Proposed writes are only staged: a person
/// applies exactly those bytes with `host approve <session-run>`. stdout
/// carries the MCP protocol only; logs and plugin output go to stderr and the
/// journal.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  host mcp --plugins plugins --workspace ~/notes\n      serve over stdio (what an agent's client config runs)\n  host mcp --policy policy.toml --max-concurrent 8\n      decide each call by a policy file (see README \"Agents (MCP)\")\n\n\
A client config entry (Claude Code `.mcp.json`, VS Code `mcp.json`):\n  {\"mcpServers\": {\"harness\": {\"command\": \"host\",\n     \"args\": [\"--state-dir\", \"/home/me/.harness\", \"mcp\", \"--plugins\", \"/home/me/plugins\", \"--workspace\", \"/home/me/notes\"]}}}\n\n\
Policy (<plugins>/policy.toml, or --policy FILE), first match wins:\n  default = \"allow\"\n  [[rule]]\n  name = \"no-secrets\"\n  plugin = \"search\"\n  action = \"deny\"\n  when = { \"/query\" = \"*password*\" }\n\n\
While it serves, each call that proposes writes leaves the session run waiting:\n  host show <session-run>       the staged diff\n  host approve <session-run>    apply exactly those bytes"
)]
pub struct Args {
    /// Folder of plugins (one subfolder per plugin, each with a plugin.toml).
    #[arg(long, default_value = "plugins")]
    plugins: PathBuf,

    /// Directory the plugins' `${workspace}` mounts resolve to.
    #[arg(long, default_value = "examples/workspace")]
    workspace: PathBuf,

    /// Directory approved writes go to [default: the workspace].
    #[arg(long)]
    out: Option<PathBuf>,

    /// Policy file [default: <plugins>/policy.toml when it exists, else allow all].
    #[arg(long)]
    policy: Option<PathBuf>,

    /// Most tool calls running at once; further calls wait for a slot.
    #[arg(long, default_value_t = 4)]
    max_concurrent: usize,
}

pub async fn execute(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let workspace = crate::cli::run::existing_dir(&args.workspace, "--workspace")?;
    let out_dir = match &args.out {
        Some(out) => crate::cli::run::existing_dir(out, "--out")?,
        None => workspace.clone(),
    };
    let session = Session::start(
        ctx,
        &SessionOptions {
            plugins_dir: &args.plugins,
            only: None,
            workspace: &workspace,
            out_dir: &out_dir,
            policy: args.policy.as_deref(),
            via: Via::Mcp,
        },
        &progress::print,
    )
    .await?;
    let names: Vec<String> = session.tools.keys().map(|n| inert(n)).collect();
    output::note(&format!(
        "host mcp: session run {} serving {} tool(s): {}",
        inert(session.run_id()),
        names.len(),
        names.join(", ")
    ));
    let server = Server::new(Arc::new(session), args.max_concurrent);
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .context("cannot start the MCP server on stdio")?;
    running
        .waiting()
        .await
        .context("the MCP server stopped abnormally")?;
    Ok(ExitCode::SUCCESS)
}
