//! `host mcp`: serve the tool plugins of a folder to an agent over the
//! Model Context Protocol (stdio), every call governed ([`crate::mcp`]).

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use rmcp::ServiceExt as _;

use crate::cli::session_args::SessionArgs;
use crate::cli::{Context, output, progress};
use crate::mcp::loading::Loading;
use crate::mcp::server::Server;
use crate::mcp::session::{Session, SessionOptions, Via};
use crate::render::inert;

/// Serve the folder's tool plugins to an agent over MCP (stdio, or Streamable HTTP with --http).
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
    after_help = "Examples:\n  host mcp --plugins plugins --workspace ~/notes\n      serve over stdio (what an agent's client config runs)\n  host mcp --policy policy.toml --max-concurrent 8\n      decide each call by a policy file (see README \"Agents (MCP)\")\n  HARNESS_MCP_TOKEN=$(openssl rand -hex 32) host mcp --http 127.0.0.1:8765\n      Streamable HTTP on loopback; clients send `Authorization: Bearer $HARNESS_MCP_TOKEN`\n\n\
A client config entry (Claude Code `.mcp.json`, VS Code `mcp.json`):\n  {\"mcpServers\": {\"harness\": {\"command\": \"host\",\n     \"args\": [\"--state-dir\", \"/home/me/.harness\", \"mcp\", \"--plugins\", \"/home/me/plugins\", \"--workspace\", \"/home/me/notes\"]}}}\n\n\
Policy (<plugins>/policy.toml, or --policy FILE), first match wins:\n  default = \"allow\"\n  [[rule]]\n  name = \"no-secrets\"\n  plugin = \"search\"\n  action = \"deny\"\n  when = { \"/query\" = \"*password*\" }\n\n\
While it serves, each call that proposes writes leaves the session run waiting:\n  host show <session-run>       the staged diff\n  host approve <session-run>    apply exactly those bytes"
)]
pub struct Args {
    #[command(flatten)]
    session: SessionArgs,

    /// Most tool calls running at once; further calls wait for a slot.
    #[arg(long, default_value_t = 4)]
    max_concurrent: usize,

    /// Most one session run records, in MiB (1-128): past it, the session
    /// goes on in a new run (the full one names it; a change set waiting
    /// there stays for a person, and the call that rolled over says so).
    /// The limit keeps every run's journal readable, and its pending change
    /// set decidable, however long an agent calls.
    #[arg(long, value_name = "MIB", default_value_t = 128,
          value_parser = clap::value_parser!(u64).range(1..=128))]
    max_session_mib: u64,

    /// Serve Streamable HTTP on ADDR (e.g. 127.0.0.1:8765) instead of stdio.
    /// Every request needs `Authorization: Bearer <token>`: the token is
    /// HARNESS_MCP_TOKEN if set (at least 20 visible ASCII characters), else
    /// a 256-bit one generated and printed on stderr.
    #[arg(long, value_name = "ADDR")]
    http: Option<std::net::SocketAddr>,

    /// Allow --http on a non-loopback address. Anyone who can reach it and
    /// holds the token can run the tools and stage writes; the token travels
    /// in clear text without TLS in front.
    #[arg(long, requires = "http")]
    allow_remote: bool,

    /// A browser origin allowed to call over HTTP (repeatable); by default
    /// every request carrying an Origin header is refused (403).
    #[arg(long, value_name = "ORIGIN", requires = "http")]
    allow_origin: Vec<String>,

    /// An extra Host header value accepted over HTTP (repeatable), besides
    /// the bound address and localhost.
    #[arg(long, value_name = "HOST", requires = "http")]
    allow_host: Vec<String>,
}

/// The environment variable holding the HTTP bearer token.
pub const TOKEN_ENV: &str = "HARNESS_MCP_TOKEN";

/// The shortest bearer token [`TOKEN_ENV`] may set.
const MIN_TOKEN_CHARS: usize = 20;

pub async fn execute(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    if let Some(addr) = args.http
        && !addr.ip().is_loopback()
        && !args.allow_remote
    {
        anyhow::bail!(
            "--http {addr} is not a loopback address: anyone who can reach it could run the tools and stage writes\nhint: use 127.0.0.1:PORT, or pass --allow-remote if you mean it (and put TLS in front)"
        );
    }
    let (plugins, workspace, out_dir) = args.session.dirs(ctx)?;
    let loading = Loading::new();
    let server = Server::new(Arc::clone(&loading), args.max_concurrent)
        .context("cannot read /dev/urandom for the server's secret")?;
    // Serve at once; the tools load (and compile on first use) meanwhile.
    let loader = {
        let dirs = ctx.clone();
        let policy = args.session.policy.clone();
        let loading = Arc::clone(&loading);
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let notes = |note: crate::folder::Note<'_>| {
                progress::print(note);
                loading.record(note);
            };
            loading.note(format!(
                "loading the tool plugins of `{}`",
                crate::render::inert_path(&plugins)
            ));
            let started = handle.block_on(Session::start(
                &dirs,
                &SessionOptions {
                    plugins_dir: &plugins,
                    only: None,
                    workspace: &workspace,
                    out_dir: &out_dir,
                    policy: policy.as_deref(),
                    via: Via::Mcp,
                    max_journal_bytes: args.max_session_mib << 20,
                },
                &notes,
            ));
            match started {
                Ok(session) => {
                    let names: Vec<String> = session.tools.keys().map(|n| inert(n)).collect();
                    output::note(&format!(
                        "host mcp: session run {} serving {} tool(s): {}",
                        inert(&session.run_id()),
                        names.len(),
                        names.join(", ")
                    ));
                    loading.ready(session);
                    Ok(())
                }
                Err(error) => {
                    loading.failed(crate::render::inert_lines(&format!("{error:#}")));
                    Err(error)
                }
            }
        })
    };
    let serving = async {
        if let Some(addr) = args.http {
            return serve_http(server, addr, &args).await;
        }
        // The pipes' modes are put back when this block is done.
        let (input, output, _modes) = crate::mcp::stdio::channel();
        let running = server
            .serve((input, output))
            .await
            .context("cannot start the MCP server on stdio")?;
        running
            .waiting()
            .await
            .context("the MCP server stopped abnormally")?;
        Ok(ExitCode::SUCCESS)
    };
    let until_done = async {
        tokio::pin!(serving);
        tokio::select! {
            done = &mut serving => done,
            loaded = loader => match loaded {
                // Loaded: keep serving until the client goes.
                Ok(Ok(())) => serving.await,
                Ok(Err(error)) => Err(error),
                Err(panic) => Err(anyhow::anyhow!("loading the tools panicked: {panic}")),
            },
        }
    };
    let served = tokio::select! {
        served = until_done => served,
        // A person stops the server (Ctrl-C, SIGTERM): it ends as when the
        // client goes.
        () = crate::shutdown::requested() => Ok(ExitCode::SUCCESS),
    };
    // The client is gone: a session with nothing pending ends completed.
    if let crate::mcp::loading::Phase::Ready(session) = loading.phase()
        && let Err(error) = session.close().await
    {
        tracing::warn!(run = %session.run_id(), %error, "cannot record the session's end");
    }
    served
}

async fn serve_http(
    server: Server,
    addr: std::net::SocketAddr,
    args: &Args,
) -> anyhow::Result<ExitCode> {
    if !addr.ip().is_loopback() {
        output::note(&format!(
            "warning: serving MCP on non-loopback {addr}: anyone who reaches it with the token can run the tools and stage writes; the token is sent in clear text unless TLS is in front"
        ));
    }
    let token = match std::env::var(TOKEN_ENV) {
        Ok(token) if !token.is_empty() => {
            anyhow::ensure!(
                token.len() >= MIN_TOKEN_CHARS && token.bytes().all(|b| b.is_ascii_graphic()),
                "{TOKEN_ENV} must be at least {MIN_TOKEN_CHARS} visible ASCII characters (it is {} bytes{}): a short token can be guessed by anything that reaches the port\nhint: HARNESS_MCP_TOKEN=$(openssl rand -hex 32), or unset it and use the token printed on start",
                token.len(),
                if token.bytes().all(|b| b.is_ascii_graphic()) {
                    ""
                } else {
                    ", with spaces or other characters a header cannot carry as they are"
                }
            );
            token
        }
        _ => {
            let token = crate::mcp::http::generate_token()
                .context("cannot generate a bearer token from /dev/urandom")?;
            output::note(&format!(
                "host mcp: bearer token {token} (set {TOKEN_ENV} to choose one)"
            ));
            token
        }
    };
    let (bound, serving) = crate::mcp::http::bind(
        server,
        crate::mcp::http::HttpOptions {
            addr,
            token,
            allowed_origins: args.allow_origin.clone(),
            allowed_hosts: args.allow_host.clone(),
        },
    )
    .await?;
    output::note(&format!("host mcp: listening on http://{bound}/mcp"));
    serving.await;
    Ok(ExitCode::SUCCESS)
}
