//! Long text a person reads on a terminal (the diff of `host show` and
//! `host approve`) goes through their pager, as `git diff` does.
//!
//! Only when stdout is a terminal: piped or redirected output, `--json` and
//! `--no-pager` print directly. The pager is `$PAGER` (split on whitespace,
//! no shell), `less` when unset or empty; `LESS=FRX` is set unless `LESS` is
//! (quit when the text fits on one screen, keep it on screen afterwards).
//! The text is already inert, so the pager needs no `-R`. If the pager
//! cannot be started, or ends with a failure, the text is printed directly:
//! a person never has to approve a diff that was not shown.

use std::io::{IsTerminal as _, Write as _};
use std::process::{Command, Stdio};

use crate::cli::output::{self, OutputError};

/// Show `text` (inert already) through the pager when `allowed` and stdout
/// is a terminal; otherwise print it as [`output::print`] does.
pub fn show(text: &str, allowed: bool) -> Result<(), OutputError> {
    if !allowed || !std::io::stdout().is_terminal() {
        return output::print(text);
    }
    match page(text, std::env::var("PAGER").ok().as_deref()) {
        Ok(true) => Ok(()),
        Ok(false) | Err(_) => output::print(text),
    }
}

/// The pager's program and arguments, from `$PAGER`.
fn command(pager: Option<&str>) -> (String, Vec<String>) {
    let mut words = pager.unwrap_or("").split_whitespace().map(str::to_string);
    match words.next() {
        Some(program) => (program, words.collect()),
        None => ("less".to_string(), Vec::new()),
    }
}

/// Whether the pager (`$PAGER`'s value) showed `text`: it ran and ended well.
fn page(text: &str, pager: Option<&str>) -> std::io::Result<bool> {
    let (program, args) = command(pager);
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::piped());
    if std::env::var_os("LESS").is_none() {
        cmd.env("LESS", "FRX");
    }
    let mut child = cmd.spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        // A person who quits the pager early closes the pipe: not a failure.
        match stdin.write_all(text.as_bytes()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                let _ = child.wait();
                return Err(e);
            }
            _ => {}
        }
    }
    Ok(child.wait()?.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pager_is_pager_split_on_whitespace_or_less() {
        assert_eq!(command(None), ("less".to_string(), vec![]));
        assert_eq!(command(Some("  ")), ("less".to_string(), vec![]));
        assert_eq!(
            command(Some("most -s")),
            ("most".to_string(), vec!["-s".to_string()])
        );
    }

    /// A pager that cannot start or that fails is told apart from one that
    /// showed the text, so the caller prints it directly.
    #[test]
    fn a_pager_that_fails_or_is_missing_is_reported() {
        let text = "line\n".repeat(10_000);
        assert!(page(&text, Some("true")).expect("true runs"));
        assert!(!page(&text, Some("false")).expect("false runs"));
        assert!(page(&text, Some("/nonexistent/pager")).is_err());
    }
}
