//! (6) `host mcp` over stdio, measured with a bare JSON-RPC client (this
//! process writes requests to the server's stdin and reads its stdout):
//! per-call round trip of the hello tool, process start to the first tool
//! result with a warm compile cache (the hello tool, and the Python example
//! when its toolchain runs here), the per-call cost against the in-process
//! isolated invocation plus one pipe round trip, calls per second with 8
//! requests in flight, and the server's peak RSS. Each call goes the governed path:
//! schema check, policy, a fresh sandbox, the session journal (fsync) and,
//! for the hello tool, staging its proposed write.

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::time::{Duration, Instant};

use harness_test_artifacts as artifacts;
use serde_json::{Value, json};

use crate::Row;
use crate::fixtures::{Scratch, host_bin};
use crate::stats::{Stats, mb, secs};

/// A plugins folder with the hello tool (writes under `hello/`) and a
/// tool that writes nothing (the hostile guest, asked to behave).
fn plugins(scratch: &Scratch) -> PathBuf {
    let dir = scratch.fresh("mcp-plugins");
    for (name, component, extra) in [
        (
            "hello",
            artifacts::HELLO_TOOL,
            "[grants]\nwrites = [\"hello/\"]\n",
        ),
        ("quiet", artifacts::GUEST_HOSTILE, ""),
    ] {
        let pdir = dir.join(name);
        std::fs::create_dir_all(&pdir).expect("mkdir");
        std::fs::write(
            pdir.join("plugin.toml"),
            format!(
                "[plugin]\nname = \"{name}\"\nkind = \"tool\"\ncomponent = {component:?}\n{extra}"
            ),
        )
        .expect("manifest");
    }
    dir
}

struct Server {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next: u64,
}

/// A plugins folder with the Python example (as `py`), if it is what
/// figure (5) measures here (its toolchain could run).
fn python_plugins(scratch: &Scratch) -> Option<PathBuf> {
    let (component, label) = crate::fixtures::large_component();
    if !label.starts_with("examples/python-tool") {
        println!("no Python example here ({label}): its warm start is not measured");
        return None;
    }
    let dir = scratch.fresh("mcp-python-plugins");
    let pdir = dir.join("py");
    std::fs::create_dir_all(&pdir).expect("mkdir");
    std::fs::write(
        pdir.join("plugin.toml"),
        format!(
            "[plugin]\nname = \"py\"\nkind = \"tool\"\ncomponent = {component:?}\n[grants]\nwrites = [\"reports/\"]\n[[grants.mounts]]\nhost = \"${{workspace}}\"\nguest = \"/workspace\"\nmode = \"read\"\n[limits]\nmemory-mib = 128\n"
        ),
    )
    .expect("manifest");
    Some(dir)
}

/// Process start to the first result of `tool`, warm cache, `n` times.
fn warm_starts(
    scratch: &Scratch,
    plugins: &Path,
    cache: &Path,
    tool: &str,
    arguments: &Value,
    n: usize,
) -> Stats {
    // Fill the compile cache.
    {
        let mut s = Server::start(scratch, plugins, cache);
        s.initialize();
        s.call(tool, arguments.clone());
    }
    let mut starts = Vec::new();
    for _ in 0..n {
        let started = Instant::now();
        let mut s = Server::start(scratch, plugins, cache);
        s.initialize();
        s.call(tool, arguments.clone());
        starts.push(started.elapsed());
    }
    Stats::of_durations(&starts)
}

/// One line through a pipe to `cat` and back: what any stdio server pays
/// per call before doing anything.
fn pipe_round_trip() -> Stats {
    let mut child = std::process::Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn cat");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let line = format!("{}\n", "x".repeat(200));
    let mut back = String::new();
    let mut times = Vec::new();
    for i in 0..400 {
        let t = Instant::now();
        stdin.write_all(line.as_bytes()).expect("write");
        stdin.flush().expect("flush");
        back.clear();
        stdout.read_line(&mut back).expect("read");
        if i >= 100 {
            times.push(t.elapsed());
        }
    }
    drop(stdin);
    let _ = child.wait();
    Stats::of_durations(&times)
}

/// The hello tool's isolated invocation in process, as in figure (1), with
/// the grants the MCP server gives it here.
fn in_process_hello(scratch: &Scratch) -> Stats {
    let manifest = scratch.manifest(
        "hello",
        "tool",
        Path::new(artifacts::HELLO_TOOL),
        "[grants]\nwrites = [\"hello/\"]\n",
    );
    let runtime = crate::host_runtime(&scratch.fresh("cache"));
    let plugin = crate::load(&runtime, &manifest, &scratch.ws());
    let input = crate::hello_input();
    let rt = crate::current_thread_runtime();
    let mut times = Vec::new();
    rt.block_on(async {
        for i in 0..1200 {
            let d = crate::invoke_hello(&plugin, &input).await;
            if i >= 200 {
                times.push(d);
            }
        }
    });
    Stats::of_durations(&times)
}

impl Server {
    fn start(scratch: &Scratch, plugins: &Path, cache: &Path) -> Server {
        let mut child = host_bin()
            .arg("--state-dir")
            .arg(scratch.fresh("mcp-state"))
            .arg("--cache-dir")
            .arg(cache)
            .arg("mcp")
            .arg("--plugins")
            .arg(plugins)
            .arg("--workspace")
            .arg(scratch.ws())
            .arg("--out")
            .arg(scratch.out())
            .args(["--max-concurrent", "8"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn host mcp");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Server {
            child,
            stdin,
            stdout,
            next: 0,
        }
    }

    fn send(&mut self, method: &str, params: Value) -> u64 {
        self.next += 1;
        let msg = json!({"jsonrpc": "2.0", "id": self.next, "method": method, "params": params});
        writeln!(self.stdin, "{msg}").expect("write");
        self.stdin.flush().expect("flush");
        self.next
    }

    fn notify(&mut self, method: &str) {
        writeln!(
            self.stdin,
            "{}",
            json!({"jsonrpc": "2.0", "method": method})
        )
        .expect("write");
    }

    /// Read until the response to one of `ids`; returns its id.
    fn response(&mut self, ids: &BTreeSet<u64>) -> u64 {
        let mut line = String::new();
        loop {
            line.clear();
            let n = self.stdout.read_line(&mut line).expect("read");
            assert!(n > 0, "host mcp closed its stdout");
            let msg: Value = serde_json::from_str(&line).expect("JSON-RPC");
            if let Some(id) = msg["id"].as_u64()
                && ids.contains(&id)
            {
                assert!(
                    msg["result"]["isError"] != true && msg.get("error").is_none(),
                    "call failed: {msg}"
                );
                return id;
            }
        }
    }

    fn request(&mut self, method: &str, params: Value) {
        let id = self.send(method, params);
        self.response(&BTreeSet::from([id]));
    }

    fn initialize(&mut self) {
        self.request(
            "initialize",
            json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}),
        );
        self.notify("notifications/initialized");
    }

    fn call(&mut self, tool: &str, arguments: Value) {
        self.request("tools/call", json!({"name": tool, "arguments": arguments}));
    }

    /// Peak RSS of the server so far, KiB.
    fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn figures(scratch: &Scratch) -> Vec<Row> {
    println!("\n== (6) host mcp over stdio, bare JSON-RPC client ==");
    let dir = plugins(scratch);
    let cache = scratch.fresh("mcp-cache");
    let starts = warm_starts(
        scratch,
        &dir,
        &cache,
        "hello",
        &json!({"name": "first"}),
        10,
    );
    println!(
        "process start to first hello result, warm cache: {}",
        starts.time()
    );
    let python = python_plugins(scratch).map(|py| {
        let stats = warm_starts(scratch, &py, &cache, "py", &json!({"name": "bench"}), 5);
        println!(
            "process start to first Python tool result, warm cache: {}",
            stats.time()
        );
        stats
    });

    let mut s = Server::start(scratch, &dir, &cache);
    s.initialize();
    for i in 0..20 {
        s.call("quiet", json!({"attack": "none", "warm": i}));
    }
    let mut quiet = Vec::new();
    for i in 0..300 {
        let t = Instant::now();
        s.call("quiet", json!({"attack": "none", "n": i}));
        quiet.push(t.elapsed());
    }
    let mut hello = Vec::new();
    for i in 0..300 {
        let t = Instant::now();
        s.call("hello", json!({"name": format!("n{i}")}));
        hello.push(t.elapsed());
    }
    let quiet = Stats::of_durations(&quiet);
    let hello_stats = Stats::of_durations(&hello);
    println!(
        "per call, a tool that proposes nothing:           {}",
        quiet.time()
    );
    println!(
        "per call, hello (stages a write; the session's pending set grows to 300 files): {}",
        hello_stats.time()
    );
    let p90_of = |d: &[Duration]| {
        let mut v: Vec<f64> = d.iter().map(Duration::as_secs_f64).collect();
        v.sort_by(f64::total_cmp);
        v[(v.len() - 1) * 9 / 10]
    };
    println!("hello p90: {}", secs(p90_of(&hello)));
    let pipe = pipe_round_trip();
    let in_process = in_process_hello(scratch);
    let floor = in_process.median + pipe.median;
    println!(
        "in process, the hello tool's isolated invocation: {}; a pipe round trip: {}; MCP per call (hello) / their sum: {:.1}x",
        in_process.time(),
        pipe.time(),
        hello_stats.median / floor
    );

    // 8 requests in flight at all times.
    let total = 200u64;
    let started = Instant::now();
    let mut in_flight = BTreeSet::new();
    let mut sent = 0u64;
    let mut done = 0u64;
    while done < total {
        while in_flight.len() < 8 && sent < total {
            let id = s.send(
                "tools/call",
                json!({"name": "quiet", "arguments": {"attack": "none", "c": sent}}),
            );
            in_flight.insert(id);
            sent += 1;
        }
        let id = s.response(&in_flight);
        in_flight.remove(&id);
        done += 1;
    }
    let rate = total as f64 / started.elapsed().as_secs_f64();
    println!("calls/s with 8 in flight (quiet tool): {rate:.0}");
    let rss = s.peak_rss_kib();
    println!("server peak RSS: {}", mb(rss));

    vec![
        Row {
            figure: "(6) MCP per call, hello tool (median)".into(),
            measured: secs(hello_stats.median),
            target: "<= 0.10 ms".into(),
            met: hello_stats.median <= 0.000_1,
        },
        Row {
            figure: "(6) MCP warm start to first result".into(),
            measured: secs(starts.median),
            target: "<= 30 ms".into(),
            met: starts.median <= 0.030,
        },
        Row {
            figure: "(6) MCP per call / (in-process call + pipe)".into(),
            measured: format!("{:.1}x", hello_stats.median / floor),
            target: "<= 1.5x".into(),
            met: hello_stats.median / floor <= 1.5,
        },
        Row {
            figure: "(6) MCP warm start, Python tool".into(),
            measured: python
                .as_ref()
                .map_or("not measured".into(), |p| secs(p.median)),
            target: "<= 150 ms".into(),
            met: python.as_ref().is_some_and(|p| p.median <= 0.150),
        },
        Row {
            figure: "(6) MCP calls/s, 8 in flight".into(),
            measured: format!("{rate:.0}/s"),
            target: "(reported)".into(),
            met: true,
        },
    ]
}
