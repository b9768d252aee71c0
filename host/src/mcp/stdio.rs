//! The MCP channel on the process's stdin and stdout ([`channel`]).
//!
//! An agent's client spawns `host mcp` with a pipe on each. Tokio's
//! `stdin()` and `stdout()` (what `rmcp::transport::stdio()` uses) run every
//! read and every write on a thread of the blocking pool and wake the task
//! after: two thread switches per call on top of the call's own, a large
//! part of a call's cost on a two-core VM, where a context switch is the
//! most expensive thing a call does. When stdin and stdout are pipes (as
//! Python's `subprocess` makes them) or Unix stream sockets (as Node's
//! `child_process`, through libuv, makes them), they are read and written
//! here through the runtime's event loop instead (`tokio::net::unix::pipe`,
//! `tokio::net::UnixStream`, non-blocking): a request reaches its handler,
//! and a result its client, with no hand-off. Anything else (a terminal, a
//! file, another kind of socket) goes through tokio's `stdin()` and
//! `stdout()` as before.
//!
//! Whatever the end, what goes out is escaped on the way ([`Output`]):
//! rmcp serializes with plain serde_json, which leaves C1 controls, bidi
//! overrides and zero-width characters raw inside strings.
//!
//! Non-blocking mode is a property of the open pipe or socket, which a process that
//! inherited the same descriptor would share (a shell script that runs
//! `host mcp` and reads its stdin after): [`Modes`] puts the mode each had
//! back when the server is done. A killed server cannot; its pipes are then left
//! non-blocking, as any process using them this way would leave them.

use std::os::fd::{AsRawFd as _, BorrowedFd, OwnedFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::UnixStream;
use tokio::net::unix::pipe;

use crate::render::json::InertStream;

/// The MCP channel's reading half.
#[derive(Debug)]
pub enum Input {
    /// stdin, a pipe, read through the event loop.
    Pipe(pipe::Receiver),
    /// stdin, a Unix stream socket, read through the event loop.
    Socket(UnixStream),
    /// stdin, anything else, read on the blocking pool.
    Std(tokio::io::Stdin),
}

/// The MCP channel's writing half: every message the SDK serializes goes
/// out with each dangerous character escaped ([`InertStream`]), so a
/// plugin's text (a tool's title or schema from `describe()`, its output in
/// `structuredContent`) reaches the client's logs and terminal inert, and
/// parses to the same values.
#[derive(Debug)]
pub struct Output {
    end: OutputEnd,
    stream: InertStream,
    /// Escaped bytes accepted from the SDK, not yet written.
    pending: Vec<u8>,
    /// How many of `pending` are written.
    sent: usize,
}

impl Output {
    fn new(end: OutputEnd) -> Output {
        Output {
            end,
            stream: InertStream::default(),
            pending: Vec::new(),
            sent: 0,
        }
    }

    /// Write out what is pending; `Ready(Ok)` once nothing is.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while self.sent < self.pending.len() {
            match Pin::new(&mut self.end).poll_write(cx, &self.pending[self.sent..]) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
                }
                Poll::Ready(Ok(n)) => self.sent += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        self.pending.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

/// Where [`Output`] writes.
#[derive(Debug)]
enum OutputEnd {
    /// stdout, a pipe, written through the event loop.
    Pipe(pipe::Sender),
    /// stdout, a Unix stream socket, written through the event loop.
    Socket(UnixStream),
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
/// is a pipe or a Unix stream socket, else through tokio's blocking pool
/// (see the module doc), and the modes to put back. Must be called within
/// the runtime.
pub fn channel() -> (Input, Output, Modes) {
    let mut modes = Modes::default();
    let input = match event_loop_end(0, pipe::Receiver::from_owned_fd) {
        Some((end, flags)) => {
            modes.stdin = Some(flags);
            end.map_or_else(Input::Socket, Input::Pipe)
        }
        None => Input::Std(tokio::io::stdin()),
    };
    let output = Output::new(match event_loop_end(1, pipe::Sender::from_owned_fd) {
        Some((end, flags)) => {
            modes.stdout = Some(flags);
            end.map_or_else(OutputEnd::Socket, OutputEnd::Pipe)
        }
        None => OutputEnd::Std(tokio::io::stdout()),
    });
    (input, output, modes)
}

/// Descriptor `fd` (0 or 1), through a duplicate, as `pipe`'s end if it is
/// a pipe (`Ok`) or as a stream if it is a Unix stream socket (`Err`), in
/// non-blocking mode, with its flags before; `None` if it is neither or
/// cannot be.
fn event_loop_end<T>(
    fd: libc::c_int,
    pipe: impl FnOnce(OwnedFd) -> std::io::Result<T>,
) -> Option<(Result<T, UnixStream>, libc::c_int)> {
    // SAFETY: 0 and 1 stay open for the whole process; the borrow is only
    // used to duplicate them.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    // SAFETY: F_GETFL reads the descriptor's status flags.
    let flags = unsafe { libc::fcntl(borrowed.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 {
        return None;
    }
    let duplicate = borrowed.try_clone_to_owned().ok()?;
    if is_unix_stream_socket(&duplicate) {
        // SAFETY: F_SETFL sets the status flags of a descriptor owned here.
        if unsafe {
            libc::fcntl(
                duplicate.as_raw_fd(),
                libc::F_SETFL,
                flags | libc::O_NONBLOCK,
            )
        } < 0
        {
            return None;
        }
        let stream = std::os::unix::net::UnixStream::from(duplicate);
        return match UnixStream::from_std(stream) {
            Ok(stream) => Some((Err(stream), flags)),
            Err(_) => {
                // SAFETY: as above, putting the flags back.
                unsafe { libc::fcntl(fd, libc::F_SETFL, flags) };
                None
            }
        };
    }
    // tokio refuses anything but a pipe open the right way before it
    // changes a flag.
    let end = pipe(duplicate).ok()?;
    Some((Ok(end), flags))
}

/// Whether `fd` is a Unix-domain stream socket.
fn is_unix_stream_socket(fd: &OwnedFd) -> bool {
    let fd = fd.as_raw_fd();
    // SAFETY: all zeroes is a valid `stat` (plain integers).
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat fills the buffer for a descriptor the caller owns.
    if unsafe { libc::fstat(fd, &mut stat) } != 0 || stat.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return false;
    }
    let mut kind: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: SO_TYPE writes one int into `kind`, whose size `len` gives.
    let typed = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TYPE,
            (&raw mut kind).cast(),
            &mut len,
        )
    };
    // SAFETY: all zeroes is a valid `sockaddr_storage` (plain integers).
    let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut addr_len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: getsockname writes at most `addr_len` bytes into `addr`.
    let named = unsafe { libc::getsockname(fd, (&raw mut addr).cast(), &mut addr_len) };
    typed == 0
        && kind == libc::SOCK_STREAM
        && named == 0
        && i32::from(addr.ss_family) == libc::AF_UNIX
}

impl AsyncRead for Input {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Input::Pipe(pipe) => Pin::new(pipe).poll_read(cx, buf),
            Input::Socket(socket) => Pin::new(socket).poll_read(cx, buf),
            Input::Std(stdin) => Pin::new(stdin).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Output {
    /// Accepts all of `buf` once what an earlier write accepted is out (so
    /// at most one write's worth waits here), then starts writing it.
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if let Poll::Ready(Err(e)) = this.drain(cx) {
            return Poll::Ready(Err(e));
        }
        if !this.pending.is_empty() {
            return Poll::Pending;
        }
        this.stream.push(buf, &mut this.pending);
        match this.drain(cx) {
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            _ => Poll::Ready(Ok(buf.len())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.drain(cx))?;
        Pin::new(&mut this.end).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.drain(cx))?;
        Pin::new(&mut this.end).poll_shutdown(cx)
    }
}

impl AsyncWrite for OutputEnd {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            OutputEnd::Pipe(pipe) => Pin::new(pipe).poll_write(cx, buf),
            OutputEnd::Socket(socket) => Pin::new(socket).poll_write(cx, buf),
            OutputEnd::Std(stdout) => Pin::new(stdout).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            OutputEnd::Pipe(pipe) => Pin::new(pipe).poll_flush(cx),
            OutputEnd::Socket(socket) => Pin::new(socket).poll_flush(cx),
            OutputEnd::Std(stdout) => Pin::new(stdout).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            OutputEnd::Pipe(pipe) => Pin::new(pipe).poll_shutdown(cx),
            // Not a shutdown(2): the socket may be stdin's too.
            OutputEnd::Socket(_) => Poll::Ready(Ok(())),
            OutputEnd::Std(stdout) => Pin::new(stdout).poll_shutdown(cx),
        }
    }
}
