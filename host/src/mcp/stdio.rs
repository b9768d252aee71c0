//! The MCP channel on the process's stdin and stdout ([`channel`]).
//!
//! An agent's client spawns `host mcp` with a pipe on each. Tokio's
//! `stdin()` and `stdout()` (what `rmcp::transport::stdio()` uses) run every
//! read and every write on a thread of the blocking pool and wake the task
//! after: two thread switches per call on top of the call's own, a large
//! part of a call's cost on a two-core VM, where a context switch is the
//! most expensive thing a call does. When stdin and stdout are pipes, they
//! are read and written here through the runtime's event loop instead
//! (`tokio::net::unix::pipe`, non-blocking): a request reaches its handler,
//! and a result its client, with no hand-off. Anything else (a terminal, a
//! file, a socket) goes through tokio's `stdin()` and `stdout()` as before.
//!
//! Non-blocking mode is a property of the open pipe, which a process that
//! inherited the same descriptor would share (a shell script that runs
//! `host mcp` and reads its stdin after): [`Modes`] puts the mode each had
//! back when the server is done. A killed server cannot; its pipes are then left
//! non-blocking, as any process using them this way would leave them.

use std::os::fd::{AsRawFd as _, BorrowedFd, OwnedFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::unix::pipe;

/// The MCP channel's reading half.
#[derive(Debug)]
pub enum Input {
    /// stdin, a pipe, read through the event loop.
    Pipe(pipe::Receiver),
    /// stdin, anything else, read on the blocking pool.
    Std(tokio::io::Stdin),
}

/// The MCP channel's writing half.
#[derive(Debug)]
pub enum Output {
    /// stdout, a pipe, written through the event loop.
    Pipe(pipe::Sender),
    /// stdout, anything else, written on the blocking pool.
    Std(tokio::io::Stdout),
}

/// The file status flags stdin and stdout had where [`channel`] changed
/// them: put back when this is dropped (once the transport is done).
#[derive(Debug, Default)]
pub struct Modes {
    stdin: Option<libc::c_int>,
    stdout: Option<libc::c_int>,
}

impl Drop for Modes {
    fn drop(&mut self) {
        for (fd, flags) in [(0, self.stdin), (1, self.stdout)] {
            if let Some(flags) = flags {
                // SAFETY: F_SETFL on a descriptor the process keeps open;
                // it only sets status flags.
                unsafe {
                    libc::fcntl(fd, libc::F_SETFL, flags);
                }
            }
        }
    }
}

/// stdin and stdout as the MCP channel: each through the event loop if it
/// is a pipe, else through tokio's blocking pool (see the module doc), and
/// the modes to put back. Must be called within the runtime.
pub fn channel() -> (Input, Output, Modes) {
    let mut modes = Modes::default();
    let input = match as_pipe(0, pipe::Receiver::from_owned_fd) {
        Some((receiver, flags)) => {
            modes.stdin = Some(flags);
            Input::Pipe(receiver)
        }
        None => Input::Std(tokio::io::stdin()),
    };
    let output = match as_pipe(1, pipe::Sender::from_owned_fd) {
        Some((sender, flags)) => {
            modes.stdout = Some(flags);
            Output::Pipe(sender)
        }
        None => Output::Std(tokio::io::stdout()),
    };
    (input, output, modes)
}

/// Descriptor `fd` (0 or 1) made into `make`'s pipe end through a duplicate,
/// with its flags before; `None` if it is not a pipe or cannot be.
fn as_pipe<T>(
    fd: libc::c_int,
    make: impl FnOnce(OwnedFd) -> std::io::Result<T>,
) -> Option<(T, libc::c_int)> {
    // SAFETY: 0 and 1 stay open for the whole process; the borrow is only
    // used to duplicate them.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    // SAFETY: F_GETFL reads the descriptor's status flags.
    let flags = unsafe { libc::fcntl(borrowed.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 {
        return None;
    }
    let duplicate = borrowed.try_clone_to_owned().ok()?;
    // Not a pipe (or the wrong way round): refused before any flag changes.
    let end = make(duplicate).ok()?;
    Some((end, flags))
}

impl AsyncRead for Input {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Input::Pipe(pipe) => Pin::new(pipe).poll_read(cx, buf),
            Input::Std(stdin) => Pin::new(stdin).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Output {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Output::Pipe(pipe) => Pin::new(pipe).poll_write(cx, buf),
            Output::Std(stdout) => Pin::new(stdout).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Output::Pipe(pipe) => Pin::new(pipe).poll_flush(cx),
            Output::Std(stdout) => Pin::new(stdout).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Output::Pipe(pipe) => Pin::new(pipe).poll_shutdown(cx),
            Output::Std(stdout) => Pin::new(stdout).poll_shutdown(cx),
        }
    }
}
