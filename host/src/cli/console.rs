//! `host console`: serve the web console for the state directory.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::cli::{Context, output};
use crate::console::{self, Options, Started, Webhook};
use crate::render::inert;

/// Serve a web console: runs, diffs, decisions.
///
/// Lists the runs of the state directory (newest first, live), and for each
/// run its timeline, logs, review, tool-call policy decisions, workflow
/// position and change set (a diff per file, with base and new sha256).
/// Approve (optionally a subset of the files, or after editing one), reject
/// (with a reason) and propose a revert, all journaled under the logged-in
/// identity through the same checks as `host approve`.
///
/// Binds 127.0.0.1 on a free port and prints a login URL with a one-time
/// token; opening it sets an HttpOnly, SameSite=Strict session cookie that
/// lasts --session-ttl (12 hours by default) or until "log out". Every
/// POST needs the page's CSRF token and a same-origin Origin; the Host
/// header must name the console. Writes `<state-dir>/console.json`
/// (`{"url", "pid"}`) while it runs. Stop it with Ctrl-C.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  host console                                  loopback, a free port; open the printed login URL\n  host console --port 8750 --as alice           a fixed port; decisions journaled as alice\n  host console --session-ttl 3600               a login lasts an hour (then restart for a new URL)\n  host console --webhook http://127.0.0.1:9000/hook   notify when a run starts waiting\n  host console --bind 10.0.0.5 --allow-remote   reachable from the network (plain http)\n\n\
Webhook: --webhook URL, else `webhook = \"http://...\"` in <plugins>/console.toml (plain http only);\n\
body: {\"event\":\"approval_requested\",\"run\",\"url\",\"workflow\",\"digest\",\"files\",\"at_ms\"}.\n\
Identity: decisions are journaled as --as NAME, else the OS account running the console (passwd, not $USER)."
)]
pub struct Args {
    /// Address to listen on. Anything but loopback needs --allow-remote.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,

    /// Port to listen on (0: a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,

    /// Allow a non-loopback --bind (prints a warning: anyone who can reach
    /// the port can try the login page, and the traffic is not encrypted).
    #[arg(long)]
    allow_remote: bool,

    /// The identity decisions are journaled as [default: the OS account].
    #[arg(long = "as", value_name = "NAME")]
    identity: Option<String>,

    /// How long the login token can be used, in seconds (it works once;
    /// at most a week).
    #[arg(long, value_name = "SECS", default_value_t = 600,
          value_parser = clap::value_parser!(u64).range(1..=604_800))]
    token_ttl: u64,

    /// How long a login lasts, in seconds (at most 30 days). Past it every
    /// page and decision is refused; restart the console for a new login
    /// URL. The page header's "log out" ends a session sooner.
    #[arg(long, value_name = "SECS", default_value_t = 43_200,
          value_parser = clap::value_parser!(u64).range(1..=2_592_000))]
    session_ttl: u64,

    /// POST a small JSON body here when a run starts waiting for approval
    /// (plain http). Overrides <plugins>/console.toml.
    #[arg(long, value_name = "URL")]
    webhook: Option<String>,

    /// Plugins folder whose console.toml may name the webhook [default:
    /// `plugins` in harness.toml, else plugins; none is fine].
    #[arg(long, value_name = "DIR")]
    plugins: Option<PathBuf>,
}

pub async fn execute(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    // No plugins folder only means no console.toml to read.
    let plugins = ctx
        .plugins_dir(args.plugins.as_deref())
        .unwrap_or_else(|_| PathBuf::from("plugins"));
    let webhook = Webhook::configured(args.webhook.as_deref(), &plugins)?;
    let options = Options {
        bind: args.bind,
        port: args.port,
        allow_remote: args.allow_remote,
        identity: Context::approver(args.identity),
        token_ttl: Duration::from_secs(args.token_ttl),
        session_ttl: Duration::from_secs(args.session_ttl),
        webhook,
    };
    let identity = options.identity.clone();
    let hook = options.webhook.as_ref().map(|h| h.url().to_string());
    let announce = move |s: &Started| {
        if let Some(w) = &s.warning {
            output::note(w);
        }
        let mut text = format!(
            "console: {}\nlogin: {}\n(the login URL works once, within {} s; a login lasts {} s or until \"log out\"; decisions are journaled as {})\n",
            s.url,
            s.login_url,
            args.token_ttl,
            args.session_ttl,
            inert(&identity)
        );
        if let Some(hook) = &hook {
            text.push_str(&format!("webhook: {}\n", inert(hook)));
        }
        // A closed stdout must not stop the console; the note says why.
        if let Err(e) = output::print(&text) {
            output::note(&format!("cannot print the login URL: {e}"));
        }
    };
    console::serve(ctx, options, &announce).await?;
    Ok(ExitCode::SUCCESS)
}
