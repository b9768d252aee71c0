//! The `host` binary: parses the command line, installs the log subscriber
//! (stderr only), runs the command and prints any error once, with its chain.
//!
//! Everything printed here is inert: clap's messages and the error chain go
//! through [`inert_lines`] (untrusted parts are already escaped where the
//! errors embed them; this is the safety net), and log records through
//! [`output::InertStderr`]. Nothing here panics on a closed or full stdout
//! or stderr (see [`output`]).

use std::process::ExitCode;

use clap::Parser as _;
use harness_host::cli::{Cli, EXIT_FAILURE, output};
use harness_host::render::inert_lines;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// A command that drives one run uses a few threads for a few milliseconds
/// each (loading, plugin calls, the journal's fsync): glibc would give each
/// its own malloc arena (a 64 MiB reservation, trimmed, then page faults as it
/// fills). Two arenas serve them all. Called before any thread starts.
fn few_malloc_arenas() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only sets an allocator parameter; no other thread
    // exists yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

fn main() -> ExitCode {
    harness_host::timing::mark("process started");
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage(&e),
    };
    let default_level = match cli.verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    // `HARNESS_LOG` directives when set and valid, else `-v`'s level. With
    // neither, a plain level filter: no directives to parse at every start.
    let quiet = cli.verbose == 0 && std::env::var_os("HARNESS_LOG").is_none();
    let directives = (!quiet).then(|| {
        EnvFilter::try_from_env("HARNESS_LOG").unwrap_or_else(|_| EnvFilter::new(default_level))
    });
    let level = quiet.then_some(LevelFilter::WARN);
    // No colors: the writer escapes every control character, ESC included.
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(|| output::InertStderr)
                .with_ansi(false)
                .with_target(false),
        )
        .with(directives)
        .with(level)
        .init();

    let mut builder = if cli.serves() {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        few_malloc_arenas();
        tokio::runtime::Builder::new_current_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            output::note(&inert_lines(&format!(
                "error: cannot start the async runtime: {e}"
            )));
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let result = runtime.block_on(cli.execute());
    harness_host::timing::mark("command done");
    // Every journal write happened inside `execute`. A guest that timed out
    // while blocked in a host call (opening a FIFO, say) still holds a
    // blocking thread, and dropping the runtime would wait for it forever.
    runtime.shutdown_background();
    harness_host::timing::mark("async runtime shut down");
    match result {
        Ok(code) => code,
        Err(error) if output::is_closed(&error) => ExitCode::from(output::EXIT_BROKEN_PIPE),
        Err(error) => {
            let mut text = format!("error: {error}");
            for cause in error.chain().skip(1) {
                text.push_str(&format!("\ncaused by: {cause}"));
            }
            output::note(&inert_lines(&text));
            // With --json, the error is data too: one object on stdout.
            if std::env::args_os().any(|a| a == "--json") {
                let _ = output::json(&error_json(&error));
            }
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// `{"error": ..., "hint": ..., "caused_by": [...]}` for `--json` callers:
/// the message without its hint, the hint (or null), then the causes.
fn error_json(error: &anyhow::Error) -> serde_json::Value {
    let message = error.to_string();
    let (message, hint) = match message.split_once("\nhint: ") {
        Some((m, h)) => (m.to_string(), Some(h.to_string())),
        None => (message, None),
    };
    let causes: Vec<String> = error.chain().skip(1).map(|c| c.to_string()).collect();
    serde_json::json!({ "error": message, "hint": hint, "caused_by": causes })
}

/// Print clap's usage error (stderr) or help and version (stdout), inert,
/// and exit with clap's code.
fn usage(e: &clap::Error) -> ExitCode {
    let text = inert_lines(&e.render().to_string());
    let text = text.trim_end_matches('\n');
    if e.use_stderr() {
        output::note(text);
    } else if let Err(err) = output::line(text) {
        if matches!(err, output::OutputError::Closed) {
            return ExitCode::from(output::EXIT_BROKEN_PIPE);
        }
        output::note(&inert_lines(&format!("error: {err}")));
        return ExitCode::from(EXIT_FAILURE);
    }
    ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(EXIT_FAILURE))
}
