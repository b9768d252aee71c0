//! The hostile plugin: one tool that performs whatever attack its input names,
//! against WASI as any guest can reach it (std's file system, environment,
//! stdout, memory and stack), and reports what happened as JSON instead of
//! panicking where it can.
//!
//! Input, one of:
//!
//! * `{"attack": "none"}`: behave; returns `{"ok": true}`. Tests call it after
//!   an attack to prove the plugin still works.
//! * `{"attack": "fs", "ops": [...]}`: file system operations in order, each
//!   reported as `{"op": ..., "ok": bool, "error"?: ..., "data"?: ...}`. A read
//!   returns the bytes it got, so a test can prove a canary's content never
//!   came back.
//! * `{"attack": "env"}`: every environment variable and argument it sees.
//! * `{"attack": "spin"}`, `"sleep"`, `"memory-bomb"`, `"stack-overflow"`,
//!   `"call-stack"`: loop forever, block in a host call forever, allocate
//!   until refused, recurse until the shadow stack (in linear memory) or the
//!   wasm call stack runs out.
//! * `{"attack": "huge-return", "bytes": N}`, `{"attack": "huge-stdout",
//!   "bytes": N}`: return, or print, N bytes.
//! * `{"attack": "descriptors", "path": P, "count": N}`: open P N times and keep
//!   every handle.
//! * `{"attack": "print", "text": T}`: write T to stdout and to stderr (a
//!   forged JSON-RPC message, say, aimed at a host that speaks over stdio).
//!
//! The host must contain each of these; the tests check the host's files and
//! that the next invocation of this plugin still works.

use std::io::Write as _;

use harness_sdk::{Descriptor, PluginError, StepInput, Tool, ToolOutput};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
#[serde(tag = "attack", rename_all = "kebab-case")]
enum Attack {
    None,
    Fs { ops: Vec<Op> },
    Env,
    Spin,
    Sleep,
    MemoryBomb,
    StackOverflow,
    CallStack,
    HugeReturn { bytes: usize },
    HugeStdout { bytes: usize },
    Descriptors { path: String, count: usize },
    Print { text: String },
}

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
enum Op {
    Read {
        path: String,
    },
    Write {
        path: String,
        data: String,
    },
    Append {
        path: String,
        data: String,
    },
    /// Open an existing file for writing with truncation, without creating it.
    Truncate {
        path: String,
    },
    CreateNew {
        path: String,
        data: String,
    },
    Mkdir {
        path: String,
    },
    Rename {
        from: String,
        to: String,
    },
    Unlink {
        path: String,
    },
    Rmdir {
        path: String,
    },
    Symlink {
        target: String,
        link: String,
    },
    HardLink {
        from: String,
        to: String,
    },
    List {
        path: String,
    },
    Stat {
        path: String,
    },
    ReadLink {
        path: String,
    },
}

struct Hostile;

impl Tool for Hostile {
    fn describe() -> Descriptor {
        Descriptor::new("hostile", "Attacks its sandbox as its input says.")
    }

    fn invoke(input: StepInput) -> Result<ToolOutput, PluginError> {
        let attack: Attack = input.parse()?;
        let report = match attack {
            Attack::None => json!({ "ok": true }),
            Attack::Fs { ops } => json!({ "ops": ops.iter().map(run_op).collect::<Vec<_>>() }),
            Attack::Env => json!({
                "vars": std::env::vars().collect::<std::collections::BTreeMap<_, _>>(),
                "args": std::env::args().collect::<Vec<_>>(),
            }),
            Attack::Spin => spin(),
            Attack::Sleep => {
                std::thread::sleep(std::time::Duration::from_secs(365 * 24 * 3600));
                json!({ "ok": false, "error": "woke up" })
            }
            Attack::MemoryBomb => memory_bomb(),
            Attack::StackOverflow => json!({ "depth": recurse(0) }),
            Attack::CallStack => json!({ "depth": deep(0) }),
            Attack::HugeReturn { bytes } => json!({ "blob": "x".repeat(bytes) }),
            Attack::HugeStdout { bytes } => huge_stdout(bytes),
            Attack::Descriptors { path, count } => descriptors(&path, count),
            Attack::Print { text } => {
                let out = std::io::stdout().write_all(text.as_bytes()).is_ok()
                    && std::io::stdout().flush().is_ok();
                let err = std::io::stderr().write_all(text.as_bytes()).is_ok();
                json!({ "ok": true, "stdout": out, "stderr": err })
            }
        };
        ToolOutput::json(&report)
    }
}

fn run_op(op: &Op) -> Value {
    let (name, result) = match op {
        Op::Read { path } => (
            "read",
            std::fs::read(path).map(|b| Some(String::from_utf8_lossy(&b).into_owned())),
        ),
        Op::Write { path, data } => ("write", std::fs::write(path, data).map(|()| None)),
        Op::Append { path, data } => (
            "append",
            std::fs::OpenOptions::new()
                .append(true)
                .open(path)
                .and_then(|mut f| f.write_all(data.as_bytes()))
                .map(|()| None),
        ),
        Op::Truncate { path } => (
            "truncate",
            std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(path)
                .map(|_| None),
        ),
        Op::CreateNew { path, data } => (
            "create-new",
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .and_then(|mut f| f.write_all(data.as_bytes()))
                .map(|()| None),
        ),
        Op::Mkdir { path } => ("mkdir", std::fs::create_dir(path).map(|()| None)),
        Op::Rename { from, to } => ("rename", std::fs::rename(from, to).map(|()| None)),
        Op::Unlink { path } => ("unlink", std::fs::remove_file(path).map(|()| None)),
        Op::Rmdir { path } => ("rmdir", std::fs::remove_dir(path).map(|()| None)),
        Op::Symlink { target, link } => ("symlink", symlink(target, link).map(|()| None)),
        Op::HardLink { from, to } => ("hard-link", std::fs::hard_link(from, to).map(|()| None)),
        Op::List { path } => (
            "list",
            std::fs::read_dir(path).and_then(|entries| {
                let mut names = entries
                    .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
                    .collect::<std::io::Result<Vec<_>>>()?;
                names.sort();
                Ok(Some(names.join("\n")))
            }),
        ),
        Op::Stat { path } => (
            "stat",
            std::fs::symlink_metadata(path)
                .map(|m| Some(format!("{:?} {}", m.file_type(), m.len()))),
        ),
        Op::ReadLink { path } => (
            "read-link",
            std::fs::read_link(path).map(|t| Some(t.to_string_lossy().into_owned())),
        ),
    };
    match result {
        Ok(Some(data)) => json!({ "op": name, "ok": true, "data": data }),
        Ok(None) => json!({ "op": name, "ok": true }),
        Err(e) => json!({ "op": name, "ok": false, "error": e.to_string() }),
    }
}

// `std::os::wasi::fs` is unstable, so call wasi-libc's `symlink` (which std
// links anyway) the way any C guest would.
#[cfg(target_os = "wasi")]
fn symlink(target: &str, link: &str) -> std::io::Result<()> {
    use std::ffi::{CString, c_char, c_int};
    unsafe extern "C" {
        fn symlink(target: *const c_char, link: *const c_char) -> c_int;
    }
    let target = CString::new(target).map_err(std::io::Error::other)?;
    let link = CString::new(link).map_err(std::io::Error::other)?;
    // SAFETY: both are valid NUL-terminated strings that outlive the call.
    if unsafe { symlink(target.as_ptr(), link.as_ptr()) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(unix)]
fn symlink(target: &str, link: &str) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(any(target_os = "wasi", unix)))]
fn symlink(_target: &str, _link: &str) -> std::io::Result<()> {
    Err(std::io::Error::other("no symlinks on this platform"))
}

fn spin() -> Value {
    let mut turns: u64 = 0;
    // `black_box` keeps the optimiser from proving the loop has no effect.
    loop {
        turns = std::hint::black_box(turns.wrapping_add(1));
    }
}

fn memory_bomb() -> Value {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        // Touch every page so the allocation is real, not just reserved.
        hoard.push(std::hint::black_box(vec![0xa5; 1 << 20]));
        if hoard.len() > 1 << 20 {
            return json!({ "ok": false, "error": "allocated a terabyte?" });
        }
    }
}

fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 64]);
    if std::hint::black_box(depth) == u64::MAX {
        return frame[0];
    }
    recurse(depth + 1).wrapping_add(frame[63])
}

/// Recursion without locals in linear memory: exhausts wasm's own call
/// stack rather than the shadow stack in linear memory.
fn deep(depth: u64) -> u64 {
    if std::hint::black_box(depth) == u64::MAX {
        return 0;
    }
    deep(depth + 1).wrapping_add(1)
}

fn huge_stdout(bytes: usize) -> Value {
    // An odd chunk size, so the last write overshoots any round limit.
    let chunk = vec![b'o'; 65_521];
    let mut out = std::io::stdout().lock();
    let mut written = 0;
    while written < bytes {
        let n = chunk.len().min(bytes - written);
        if let Err(e) = out.write_all(&chunk[..n]) {
            return json!({ "ok": false, "written": written, "error": e.to_string() });
        }
        written += n;
    }
    json!({ "ok": true, "written": written })
}

fn descriptors(path: &str, count: usize) -> Value {
    let mut open = Vec::new();
    for _ in 0..count {
        match std::fs::File::open(path) {
            Ok(f) => open.push(f),
            Err(e) => return json!({ "ok": false, "opened": open.len(), "error": e.to_string() }),
        }
    }
    json!({ "ok": true, "opened": open.len() })
}

harness_sdk::export_tool!(Hostile);
