//! Everything the `host` binary prints goes through here: data on stdout,
//! notes on stderr, and never a panic.
//!
//! `print!` and `println!` panic when stdout cannot be written (a pipe whose
//! reader exited, a full disk); Rust ignores SIGPIPE, so `host runs | head -1`
//! would end in a panic and exit code 101. These functions return the error
//! instead, so a command stops where it is and nothing after the failed
//! print happens: `host approve` prints (and flushes) the diff before it
//! records the approval, so a diff nobody could read approves nothing.
//!
//! How the binary ends on an [`OutputError`]: stdout closed by its reader
//! ([`OutputError::Closed`], EPIPE) ends the command quietly with
//! [`EXIT_BROKEN_PIPE`] (141, what a shell reports for a program stopped by
//! SIGPIPE); any other write error is an ordinary error (exit 1, said on
//! stderr). Notes on stderr ([`note`]) ignore write errors: there is nowhere
//! left to report them.
//!
//! API: [`print`] (text as is), [`line`] (text and a newline), [`json`] (a
//! value as inert pretty JSON and a newline), [`note`] (a line on stderr),
//! [`is_closed`] (whether an error chain ends in a closed stdout). Callers
//! make untrusted parts inert before passing text in; [`json`] escapes by
//! itself (see [`crate::render::json`]).

use std::io::{self, Write as _};

use serde::Serialize;

/// Exit code when stdout was closed by its reader before everything was
/// printed: 128 + SIGPIPE, as a shell shows for `cmd | head`.
pub const EXIT_BROKEN_PIPE: u8 = 141;

/// Why something could not be printed.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The reader closed stdout early (`| head`, say); exit with [`EXIT_BROKEN_PIPE`].
    #[error("stdout was closed by its reader before everything was printed")]
    Closed,
    /// Writing to stdout failed for another reason.
    #[error(
        "cannot write to stdout: {0}\nhint: stdout must be writable (is the disk full, or stdout redirected to a file that cannot grow?)"
    )]
    Write(io::Error),
    /// A value could not be serialized to JSON.
    #[error("cannot render JSON: {0}")]
    Json(serde_json::Error),
}

impl From<io::Error> for OutputError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            OutputError::Closed
        } else {
            OutputError::Write(e)
        }
    }
}

/// Write `text` to stdout as is, and flush it.
pub fn print(text: &str) -> Result<(), OutputError> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Write `text` and a newline to stdout, and flush it.
pub fn line(text: &str) -> Result<(), OutputError> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

/// Write `value` to stdout as pretty JSON with every dangerous character
/// escaped (it parses back to the same strings), then a newline.
pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<(), OutputError> {
    let text = crate::render::json::to_string_pretty(value).map_err(OutputError::Json)?;
    line(&text)
}

/// Write `text` and a newline to stderr. A failing stderr is ignored.
pub fn note(text: &str) {
    let mut err = io::stderr().lock();
    let _ = err
        .write_all(text.as_bytes())
        .and_then(|()| err.write_all(b"\n"));
}

/// The log subscriber's stderr: each formatted record is written with every
/// dangerous character escaped except its newlines (log fields can carry a
/// plugin's text). Write errors are ignored, like [`note`]'s.
#[derive(Debug, Clone, Copy, Default)]
pub struct InertStderr;

impl io::Write for InertStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // The subscriber writes one whole record per call, so a character is
        // never split between two calls.
        let text = crate::render::inert_lines(&String::from_utf8_lossy(buf));
        let _ = io::stderr().lock().write_all(text.as_bytes());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let _ = io::stderr().flush();
        Ok(())
    }
}

/// Whether `error` (or one of its causes) is a stdout closed by its reader.
pub fn is_closed(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|e| matches!(e.downcast_ref::<OutputError>(), Some(OutputError::Closed)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_pipe_is_closed_and_anything_else_an_error() {
        let closed: OutputError = io::Error::from(io::ErrorKind::BrokenPipe).into();
        assert!(matches!(closed, OutputError::Closed));
        let full: OutputError = io::Error::from_raw_os_error(28).into();
        assert!(matches!(full, OutputError::Write(_)));
        let wrapped = anyhow::Error::new(closed).context("printing the diff");
        assert!(is_closed(&wrapped));
        assert!(!is_closed(&anyhow::Error::new(full)));
    }
}
