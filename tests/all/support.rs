//! Shared fixtures: a scratch area per test, the `host` command, tree snapshots
//! and small plugin folders made of test guests.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub use harness_test_artifacts as artifacts;

/// A scratch area: its own state dir, a copy of the example workspace and an
/// output directory. The compile cache is shared between tests (it is keyed
/// by content, and written atomically) so each component compiles once.
pub struct Scratch {
    pub dir: tempfile::TempDir,
    /// The scripted tool's call counters, served on loopback (started by
    /// [`Scratch::scripted_plugins`]).
    counters: std::sync::OnceLock<Counters>,
}

/// Call counters the scripted tool bumps over TCP: a plugin has no state that
/// survives its call (a read-write mount is a private copy), so the count
/// lives in the test process. Each connection sends a name and a newline and
/// reads back that name's new count.
struct Counters {
    addr: std::net::SocketAddr,
    counts: std::sync::Arc<std::sync::Mutex<BTreeMap<String, u32>>>,
}

impl Counters {
    fn start() -> Counters {
        use std::io::Write as _;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind counters");
        let addr = listener.local_addr().expect("addr");
        let counts = std::sync::Arc::new(std::sync::Mutex::new(BTreeMap::new()));
        let served = std::sync::Arc::clone(&counts);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut name = String::new();
                let mut reader = BufReader::new(&stream);
                if reader.read_line(&mut name).is_err() {
                    continue;
                }
                let n = {
                    let mut counts = served.lock().expect("counts");
                    let n = counts.entry(name.trim().to_string()).or_insert(0);
                    *n += 1;
                    *n
                };
                let _ = (&stream).write_all(format!("{n}\n").as_bytes());
            }
        });
        Counters { addr, counts }
    }
}

impl Scratch {
    pub fn new() -> Scratch {
        let dir = artifacts::scratch_with_workspace().expect("scratch area");
        Scratch {
            dir,
            counters: std::sync::OnceLock::new(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn state(&self) -> PathBuf {
        self.path().join("state")
    }

    pub fn ws(&self) -> PathBuf {
        self.path().join("ws")
    }

    pub fn out(&self) -> PathBuf {
        self.path().join("out")
    }

    /// `host` with this scratch area's state dir and the shared cache.
    pub fn host(&self) -> Command {
        self.host_with_cache(&shared_cache())
    }

    /// `host` with this scratch area's state dir and the given compile cache.
    /// The per-user cache location points into the scratch area too, so no
    /// test can write the real `~/.cache` (even one that drops --cache-dir).
    pub fn host_with_cache(&self, cache: &Path) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_host"));
        cmd.env_remove("HARNESS_STATE_DIR")
            .env_remove("HARNESS_CACHE_DIR")
            .env_remove("HARNESS_LOG")
            .env("XDG_CACHE_HOME", self.path().join("xdg-cache"))
            .env("USER", "test-operator")
            .arg("--state-dir")
            .arg(self.state())
            .arg("--cache-dir")
            .arg(cache)
            .stdin(Stdio::null());
        cmd
    }

    /// `cmd` with `args`, then `--plugins <plugins>` over this area's
    /// workspace into `out/` (for `run`, `mcp`, `call`).
    pub fn in_area(&self, mut cmd: Command, args: &[&str], plugins: &Path) -> Command {
        cmd.args(args)
            .arg("--plugins")
            .arg(plugins)
            .arg("--workspace")
            .arg(self.ws())
            .arg("--out")
            .arg(self.out());
        cmd
    }

    /// `host run` of `plugins` over this area's workspace into `out/`.
    pub fn run_cmd(&self, plugins: &Path) -> Command {
        self.in_area(self.host(), &["run"], plugins)
    }

    /// `host run --json` of `plugins` over this area's workspace into `out/`.
    pub fn run(&self, plugins: &Path, extra: &[&str]) -> Output {
        self.run_cmd(plugins)
            .arg("--json")
            .args(extra)
            .output()
            .expect("run host")
    }

    /// `host <args> --plugins <plugins>`, run to its end.
    pub fn host_plugins(&self, args: &[&str], plugins: &Path) -> Output {
        self.host()
            .args(args)
            .arg("--plugins")
            .arg(plugins)
            .output()
            .unwrap_or_else(|e| panic!("run host {}: {e}", args.join(" ")))
    }

    /// `host plugins check --plugins <plugins> --workspace <ws>` with the
    /// compile cache `cache`.
    pub fn check_cmd(&self, cache: &Path, plugins: &Path) -> Command {
        let mut cmd = self.host_with_cache(cache);
        cmd.args(["plugins", "check", "--plugins"])
            .arg(plugins)
            .arg("--workspace")
            .arg(self.ws());
        cmd
    }

    /// `host plugins check` of `plugins` over this area's workspace, run to
    /// its end.
    pub fn check(&self, plugins: &Path) -> Output {
        self.check_cmd(&shared_cache(), plugins)
            .output()
            .expect("run host plugins check")
    }

    /// `host approve <id> --yes`.
    pub fn approve(&self, id: &str) -> Output {
        self.host()
            .args(["approve", id, "--yes"])
            .output()
            .expect("run host approve")
    }

    /// The run's state as `host status --json` prints it.
    pub fn status(&self, id: &str) -> serde_json::Value {
        let out = self
            .host()
            .args(["status", id, "--json"])
            .output()
            .expect("status");
        assert!(out.status.success(), "status failed: {}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("status json")
    }

    /// The staged bytes of a run, by blob digest.
    pub fn blob(&self, id: &str, sha256: &str) -> Vec<u8> {
        std::fs::read(
            self.state()
                .join("runs")
                .join(id)
                .join("blobs")
                .join(sha256),
        )
        .expect("blob")
    }

    /// The recorded output of step `step` of run `id`, as JSON.
    pub fn step_output(&self, id: &str, step: &str) -> serde_json::Value {
        let state = self.status(id);
        let sha = state["steps"][step]["output_sha256"]
            .as_str()
            .unwrap_or_else(|| panic!("step `{step}` has no output: {state:#}"));
        serde_json::from_slice(&self.blob(id, sha)).expect("output json")
    }

    /// The run's journal as a list of event type names.
    pub fn journal_events(&self, id: &str) -> Vec<String> {
        self.journal(id)
            .iter()
            .map(|r| r["event"]["type"].as_str().expect("type").to_string())
            .collect()
    }

    /// A plugins folder holding the given plugins and workflow.
    pub fn plugins_dir(&self, name: &str, plugins: &[TestPlugin], workflow: &str) -> PathBuf {
        let dir = self.path().join(name);
        for p in plugins {
            let pdir = dir.join(p.name);
            std::fs::create_dir_all(&pdir).expect("mkdir plugin");
            std::fs::write(
                pdir.join("plugin.toml"),
                format!(
                    "[plugin]\nname = \"{}\"\nkind = \"{}\"\ncomponent = \"{}\"\n{}\n",
                    p.name, p.kind, p.component, p.extra
                ),
            )
            .expect("write manifest");
        }
        std::fs::write(dir.join("workflow.toml"), workflow).expect("write workflow");
        dir
    }
}

impl Scratch {
    /// A plugins folder `plugins` with one tool (`component`, manifest extras
    /// `extra`) run by a one-step workflow with `input` (a TOML inline
    /// table), reviewed by the real reviewer.
    pub fn tool_plugins(
        &self,
        name: &'static str,
        component: &'static str,
        extra: &'static str,
        input: &str,
    ) -> PathBuf {
        let tool = TestPlugin {
            name,
            kind: "tool",
            component,
            extra,
        };
        self.plugins_dir(
            "plugins",
            &[tool, reviewer()],
            &one_step_workflow(name, input),
        )
    }

    /// A plugins folder with the scripted tool (`scripted`: its call
    /// counters on a loopback server it is granted, writes granted under
    /// `drafts/`) and the scripted reviewer, running `steps` (TOML
    /// `[[steps]]` text) with `review` extra `[review]` keys.
    pub fn scripted_plugins(&self, steps: &str, review: &str) -> PathBuf {
        let addr = self.counters.get_or_init(Counters::start).addr;
        // The manifest text outlives this call (a test's few bytes).
        let extra: &'static str = Box::leak(
            format!(
                "[grants]\nwrites = [\"drafts/\"]\nnetwork = [\"{addr}\"]\n[grants.env]\nvars = {{ COUNTER_ADDR = \"{addr}\" }}\n"
            )
            .into_boxed_str(),
        );
        let scripted = TestPlugin {
            name: "scripted",
            kind: "tool",
            component: artifacts::GUEST_SCRIPTED,
            extra,
        };
        let reviewer = TestPlugin::new(
            "scripted-reviewer",
            "reviewer",
            artifacts::GUEST_SCRIPTED_REVIEWER,
        );
        let workflow = format!(
            "[workflow]\nname = \"scripted\"\n{steps}\n[review]\nplugin = \"scripted-reviewer\"\n{review}"
        );
        self.plugins_dir("scripted-plugins", &[scripted, reviewer], &workflow)
    }

    /// How often the scripted tool was called with counter `name` (0 before
    /// the first call).
    pub fn counter(&self, name: &str) -> u32 {
        self.counters.get().map_or(0, |c| {
            c.counts
                .lock()
                .expect("counts")
                .get(name)
                .copied()
                .unwrap_or(0)
        })
    }

    /// The `run_created` grant record of `plugin` in run `id`.
    pub fn recorded_grants(&self, id: &str, plugin: &str) -> serde_json::Value {
        let journal = self.journal(id);
        let created = &journal[0]["event"];
        assert_eq!(created["type"], "run_created");
        created["grants"]
            .as_array()
            .expect("grants recorded")
            .iter()
            .find(|g| g["name"] == plugin)
            .unwrap_or_else(|| panic!("no grants recorded for {plugin}: {created:#}"))
            .clone()
    }

    /// The run's journal records as JSON values (`seq`, `at_ms`, `event`...).
    pub fn journal(&self, id: &str) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.journal_path(id))
            .expect("journal")
            .lines()
            .map(|l| serde_json::from_str(l).expect("record"))
            .collect()
    }

    pub fn journal_path(&self, id: &str) -> PathBuf {
        self.state().join("runs").join(id).join("journal.jsonl")
    }
}

/// The records of `journal` whose event has type `kind`.
pub fn events<'a>(journal: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    journal
        .iter()
        .filter(|r| r["event"]["type"] == kind)
        .collect()
}

/// The first record of `kind` for `step`.
pub fn step_event<'a>(
    journal: &'a [serde_json::Value],
    kind: &str,
    step: &str,
) -> &'a serde_json::Value {
    journal
        .iter()
        .find(|r| r["event"]["type"] == kind && r["event"]["step"] == step)
        .unwrap_or_else(|| panic!("no {kind} for step {step} in {journal:#?}"))
}

/// One plugin of a test plugins folder.
pub struct TestPlugin {
    pub name: &'static str,
    pub kind: &'static str,
    pub component: &'static str,
    /// Extra manifest text: grants, limits.
    pub extra: &'static str,
}

impl TestPlugin {
    /// A plugin with no manifest extras (no grants, default limits).
    pub fn new(name: &'static str, kind: &'static str, component: &'static str) -> TestPlugin {
        TestPlugin {
            name,
            kind,
            component,
            extra: "",
        }
    }
}

/// The real reviewer, for workflows of test tools.
pub fn reviewer() -> TestPlugin {
    TestPlugin::new("reviewer", "reviewer", artifacts::PLUGIN_REVIEWER)
}

/// A plugins folder running the SDK's hello tool (writes granted under
/// `hello/`) with input `name = "World"`, reviewed by the real reviewer.
pub fn hello_plugins(s: &Scratch) -> PathBuf {
    s.tool_plugins(
        "hello",
        artifacts::HELLO_TOOL,
        "[grants]\nwrites = [\"hello/\"]\n",
        "{ name = \"World\" }",
    )
}

/// A one-step workflow running `plugin` with `input` (a TOML inline table).
pub fn one_step_workflow(plugin: &str, input: &str) -> String {
    format!(
        "[workflow]\nname = \"test\"\n[[steps]]\nid = \"only\"\nplugin = \"{plugin}\"\ninput = {input}\n[review]\nplugin = \"reviewer\"\n"
    )
}

/// The compile cache shared by every test (content-keyed, written atomically).
pub fn shared_cache() -> PathBuf {
    Path::new(artifacts::WORKSPACE_ROOT)
        .join("target")
        .join("test-compile-cache")
}

/// Every file under `dir` with its bytes (symlinks by their target).
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir") {
            let path = entry.expect("entry").path();
            let meta = std::fs::symlink_metadata(&path).expect("meta");
            let rel = path.strip_prefix(dir).expect("prefix").to_path_buf();
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).expect("readlink");
                files.insert(rel, target.to_string_lossy().as_bytes().to_vec());
            } else if meta.is_dir() {
                files.insert(rel, b"<dir>".to_vec());
                stack.push(path);
            } else {
                files.insert(rel, std::fs::read(&path).expect("read"));
            }
        }
    }
    files
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The run id of a `host run --json` output.
pub fn run_id(out: &Output) -> String {
    let state: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "run printed no JSON state ({e})\nstdout: {}\nstderr: {}",
            text(&out.stdout),
            text(&out.stderr)
        )
    });
    state["id"].as_str().expect("id").to_string()
}

/// Run `cmd` until it prints that it paused at `point`, then SIGKILL it.
pub fn kill_at(mut cmd: Command, point: &str) {
    let mut child = cmd
        .env("HARNESS_PAUSE_AT", point)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn host");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let marker = format!("harness: paused at {point}");
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains(&marker) => break,
            Ok(line) => seen.push(line),
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "host never reached pause point {point}; stderr:\n{}",
                    seen.join("\n")
                );
            }
        }
    }
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("wait");
    assert!(!status.success(), "the host was killed, not finished");
}

/// Plugin text with one of each kind of character a terminal could act on:
/// ANSI (ESC), the 8-bit CSI U+009B and another C1 control, BEL, BS, DEL,
/// bidi overrides, isolates and marks, zero-width characters, the BOM, line
/// and paragraph separators, tag characters, and a newline that would forge
/// a `hint:` line.
pub const HOSTILE: &str = "a\u{1b}[31mred\u{9b}2J\u{85}bel\u{7}bs\u{8}del\u{7f}\
     \u{202e}evil.sh\u{202c}\u{2066}iso\u{2069}\u{200e}\u{200f}\u{61c}\
     zero\u{200b}width\u{200d}\u{2060}\u{feff}\u{ad}sep\u{2028}\u{2029}\
     tag\u{e0041}\u{e007f}\nhint: forged";

/// `text` as a TOML basic string, every non-ASCII-printable character escaped.
pub fn toml_str(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Panic if `text` holds a character a terminal could act on, other than
/// the newlines of its own line structure.
pub fn assert_inert(text: &str, what: &str) {
    if let Some(c) = text
        .chars()
        .find(|&c| c != '\n' && harness_host::render::is_dangerous(c))
    {
        panic!("{what}: raw U+{:04X} in {text:?}", c as u32);
    }
}

/// `/dev/full` as a child's stdout: every write fails with ENOSPC.
pub fn dev_full() -> Stdio {
    Stdio::from(
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("open /dev/full"),
    )
}

/// The write end of a pipe whose read end is already closed: every write
/// fails with EPIPE, as for a reader (`| head`) that went away.
pub fn closed_pipe() -> Stdio {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    Stdio::from(writer)
}

/// Run `cmd` with stdout and stderr captured, killing it if it takes longer
/// than `limit`; returns its output and how long it took.
pub fn output_within(cmd: &mut Command, limit: Duration) -> (Output, Duration) {
    let started = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn host");
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let read = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out_reader = read(stdout.map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
    let err_reader = read(stderr.map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("host did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let elapsed = started.elapsed();
    let output = Output {
        status,
        stdout: out_reader.join().expect("stdout reader"),
        stderr: err_reader.join().expect("stderr reader"),
    };
    (output, elapsed)
}

/// What a command did under a deadline ([`run_bounded`]).
pub struct Bounded {
    pub output: Output,
    /// The largest peak RSS (`VmHWM`) seen while the command ran, KiB.
    pub peak_rss_kib: u64,
}

/// Run `cmd` to the end, SIGKILLing it and failing the test if it takes
/// longer than `limit`; samples its memory while it runs.
pub fn run_bounded(mut cmd: Command, limit: Duration) -> Bounded {
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn host");
    let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_rss_kib = 0;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if let Ok(text) = std::fs::read_to_string(&status_path)
            && let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak_rss_kib = peak_rss_kib.max(kib);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let err = stderr.join().unwrap_or_default();
            panic!(
                "command did not finish within {limit:?} (peak RSS {peak_rss_kib} KiB): {cmd:?}\nstderr: {}",
                text(&err)
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Bounded {
        output: Output {
            status,
            stdout: stdout.join().expect("stdout thread"),
            stderr: stderr.join().expect("stderr thread"),
        },
        peak_rss_kib,
    }
}

/// Make a FIFO at `path`.
pub fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).expect("path");
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
    assert_eq!(rc, 0, "mkfifo {}", path.display());
}

/// A small tmpfs mounted for one test (needs root); unmounted on drop.
pub struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    /// Mount a tmpfs of `size` bytes at `path` (created if missing), or say
    /// why it cannot be done here (the caller prints `skipped: <reason>`).
    pub fn mount(path: &Path, size: u64) -> Result<Tmpfs, String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("mounting a tmpfs needs root".into());
        }
        std::fs::create_dir_all(path).map_err(|e| format!("mkdir {}: {e}", path.display()))?;
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(path)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs failed: {}",
                text(&out.stderr).trim()
            ));
        }
        Ok(Tmpfs {
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Remount read-only (`true`) or read-write.
    pub fn remount(&self, read_only: bool) {
        let opts = if read_only {
            "remount,ro"
        } else {
            "remount,rw"
        };
        let out = Command::new("mount")
            .args(["-o", opts])
            .arg(&self.path)
            .output()
            .expect("mount");
        assert!(out.status.success(), "remount: {}", text(&out.stderr));
    }

    /// Bytes still free.
    pub fn free(&self) -> u64 {
        let c = std::ffi::CString::new(self.path.as_os_str().as_encoded_bytes()).expect("path");
        // SAFETY: statvfs is plain data; zeroed is a valid value.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: `c` is a valid path and `st` a valid out-pointer.
        let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
        assert_eq!(rc, 0, "statvfs");
        st.f_bavail as u64 * st.f_frsize as u64
    }

    /// Fill the file system with a filler file until only `leave` bytes
    /// are free; returns the filler's path (delete it to free the space).
    pub fn fill_leaving(&self, leave: u64) -> PathBuf {
        let filler = self.path.join("filler");
        let free = self.free();
        let file = std::fs::File::create(&filler).expect("filler");
        let len = free.saturating_sub(leave);
        if len > 0 {
            use std::os::fd::AsRawFd as _;
            // SAFETY: a valid open fd; offsets are in range.
            let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len as libc::off_t) };
            assert_eq!(rc, 0, "fallocate {len} bytes");
        }
        assert_eq!(self.free(), leave.min(free), "filled exactly");
        filler
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.path)
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.path).output();
        }
    }
}

/// A tmpfs at `path`, or `None` after printing why this test is skipped.
pub fn tmpfs_or_skip(path: &Path, size: u64) -> Option<Tmpfs> {
    match Tmpfs::mount(path, size) {
        Ok(fs) => Some(fs),
        Err(reason) => {
            eprintln!("skipped: {reason}");
            None
        }
    }
}

/// Temporary files the host may leave in a state dir (`.new-*` staging
/// folders, `.busy-*` markers of runs being driven, `blobs/.tmp-*`,
/// `journal.head.tmp`), as paths.
pub fn state_temp_files(state: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(runs) = std::fs::read_dir(state.join("runs")) else {
        return found;
    };
    for run in runs.filter_map(Result::ok) {
        let name = run.file_name().to_string_lossy().into_owned();
        if name.starts_with(".new-") || name.starts_with(".busy-") {
            found.push(run.path());
            continue;
        }
        if run.path().join("journal.head.tmp").exists() {
            found.push(run.path().join("journal.head.tmp"));
        }
        if let Ok(blobs) = std::fs::read_dir(run.path().join("blobs")) {
            found.extend(
                blobs
                    .filter_map(Result::ok)
                    .filter(|b| b.file_name().to_string_lossy().starts_with(".tmp-"))
                    .map(|b| b.path()),
            );
        }
    }
    found
}

/// The runs of a state dir (not its staging folders).
pub fn run_ids(state: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(state.join("runs"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with('r'))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

/// Drive run `id` to completion with `host resume` and `host approve --yes`
/// (at most `rounds` commands); returns the commands' stderr. Panics if
/// the run fails or a command errors.
pub fn drive_to_completion(s: &Scratch, id: &str, rounds: usize) -> String {
    let mut log = String::new();
    for _ in 0..rounds {
        let status = s.status(id)["status"].as_str().expect("status").to_string();
        let out = match status.as_str() {
            "completed" => return log,
            "running" | "applying" => s.host().args(["resume", id]).output().expect("resume"),
            "waiting-approval" => s.approve(id),
            other => panic!(
                "run {id} ended `{other}` instead of completing; journal: {:#?}",
                s.journal_events(id)
            ),
        };
        log.push_str(&text(&out.stderr));
        assert!(
            out.status.success(),
            "driving run {id} from `{status}` failed: {}",
            text(&out.stderr)
        );
    }
    panic!("run {id} did not complete in {rounds} commands: {log}");
}

/// `host verify <id>`: asserts it passes; returns its stderr (warnings).
pub fn verify_ok(s: &Scratch, id: &str) -> String {
    let out = s.host().args(["verify", id]).output().expect("verify");
    assert!(
        out.status.success(),
        "verify {id} failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stderr)
}

/// The journal file of `id` ends with a complete record (no torn tail).
pub fn journal_is_whole(s: &Scratch, id: &str) -> bool {
    std::fs::read(s.journal_path(id)).is_ok_and(|b| b.last() == Some(&b'\n'))
}

/// One request on a non-blocking loopback `listener`: the connection and
/// its request head (up to the blank line; 5 s read timeout), or `None`
/// after a 10 ms nap when nobody is connecting yet.
pub fn accept_head(listener: &std::net::TcpListener) -> Option<(std::net::TcpStream, String)> {
    use std::io::Read as _;
    let mut stream = match listener.accept() {
        Ok((stream, _)) => stream,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
            std::thread::sleep(Duration::from_millis(10));
            return None;
        }
        Err(e) => panic!("accept: {e}"),
    };
    stream.set_nonblocking(false).expect("blocking");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
        head.push(byte[0]);
    }
    Some((stream, String::from_utf8_lossy(&head).into_owned()))
}

/// The `Content-Length` of a request head (0 when it has none).
pub fn content_length(head: &str) -> usize {
    head.lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0)
}
