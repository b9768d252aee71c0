//! What the benchmark runs against: a scratch area with a copy of the
//! example workspace, manifests for the components it loads, the real `host`
//! binary as a child process (with its peak RSS), and the largest plugin
//! component available.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use harness_host::manifest::{self, Manifest};
use harness_test_artifacts as artifacts;

/// A scratch directory: `ws/` (a copy of the example workspace), `out/`,
/// and room for state and cache directories.
#[derive(Debug)]
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

/// Where the scratch area is made: under cargo's `target/tmp`, like a
/// project's state directory, not in the system's temporary directory, and
/// marked as the top of a hierarchy ([`spread_subdirectories`]). On an ext4
/// without a journal (this VM's), creating a file in a block group where
/// thousands of files were deleted in the last minutes scans past every one
/// of them (`recently_deleted` in the kernel's inode allocator): 0.5 ms per
/// file in `/tmp` after a test suite, 10 µs in a fresh group. A run creates
/// ten files, so that backlog, not the host, would decide figure (2).
/// [`file_creation`] measures both places, and `describe_machine` prints it.
pub const SCRATCH_PARENT: &str = env!("CARGO_TARGET_TMPDIR");

/// [`SCRATCH_PARENT`], made and marked ([`spread_subdirectories`]) on first
/// use.
pub fn scratch_parent() -> &'static Path {
    static MADE: std::sync::Once = std::sync::Once::new();
    let parent = Path::new(SCRATCH_PARENT);
    MADE.call_once(|| {
        std::fs::create_dir_all(parent).expect("the scratch parent");
        if let Err(e) = spread_subdirectories(parent) {
            println!(
                "note: cannot mark {} as a top directory ({e}); file creation times there depend on earlier deletions",
                parent.display()
            );
        }
    });
    parent
}

impl Scratch {
    pub fn new() -> Scratch {
        let dir = artifacts::scratch_with_workspace_in(scratch_parent()).expect("scratch area");
        Scratch { dir }
    }

    /// A scratch area in the system's temporary directory, as it is.
    pub fn in_system_temp() -> Scratch {
        let dir = artifacts::scratch_with_workspace().expect("scratch area in the temp dir");
        Scratch { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn ws(&self) -> PathBuf {
        self.path().join("ws")
    }

    pub fn out(&self) -> PathBuf {
        self.path().join("out")
    }

    /// A fresh, not yet existing directory under the scratch area.
    pub fn fresh(&self, name: &str) -> PathBuf {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.path().join(format!("{name}-{n}"))
    }

    /// A manifest for `component` (a `kind`) in its own folder, with `extra`
    /// manifest text (grants, limits).
    pub fn manifest(&self, name: &str, kind: &str, component: &Path, extra: &str) -> Manifest {
        let dir = self.path().join("plugins").join(name);
        std::fs::create_dir_all(&dir).expect("mkdir plugin");
        let path = dir.join("plugin.toml");
        std::fs::write(
            &path,
            format!(
                "[plugin]\nname = \"{name}\"\nkind = \"{kind}\"\ncomponent = {:?}\n{extra}",
                component.display().to_string()
            ),
        )
        .expect("write manifest");
        manifest::load(&path).expect("manifest")
    }
}

/// The hello tool with the grants a real tool has: the workspace mounted
/// read-only, an environment variable, a `writes` prefix. The tool uses none
/// of the mount, but the host still does the per-call work for it.
pub const HELLO_GRANTS: &str = "[grants]\nwrites = [\"hello/\"]\n[grants.env]\nvars = { MODE = \"bench\" }\n[[grants.mounts]]\nhost = \"${workspace}\"\nguest = \"/workspace\"\nmode = \"read\"\n";

/// The hello tool's input.
pub const HELLO_INPUT: &str = r#"{"name":"World"}"#;

/// What one child process cost.
#[derive(Debug)]
pub struct ChildRun {
    pub elapsed: Duration,
    /// User plus system CPU time.
    pub cpu: Duration,
    /// Peak resident set size (`ru_maxrss` from wait4, through the
    /// spawner), KiB.
    pub max_rss_kib: u64,
}

/// The real `host` binary, built by cargo for this bench, without the
/// host's own environment settings (every caller passes --cache-dir; the
/// per-user cache is pointed at the temp dir too, so the bench never writes
/// `~/.cache`). (The spawner gives it no stdin and discards its output.)
pub fn host_bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_host"));
    cmd.env_remove("HARNESS_STATE_DIR")
        .env_remove("HARNESS_CACHE_DIR")
        .env_remove("HARNESS_LOG")
        .env(
            "XDG_CACHE_HOME",
            std::env::temp_dir().join("harness-bench-xdg-cache"),
        );
    cmd
}

/// `host run` of the default pipeline over `scratch`'s workspace, with
/// `state` and `cache` as the host's directories.
pub fn host_run(scratch: &Scratch, state: &Path, cache: &Path) -> Command {
    let mut cmd = host_bin();
    cmd.arg("--state-dir")
        .arg(state)
        .arg("--cache-dir")
        .arg(cache)
        .args(["run", "--plugins", artifacts::PLUGINS_DIR, "--workspace"])
        .arg(scratch.ws())
        .arg("--out")
        .arg(scratch.out());
    cmd
}

/// Run `cmd` through the spawner and report its wall time (spawn to exit),
/// CPU time and peak RSS (see [`crate::spawner`] for why not directly).
/// Panics if it fails: a figure from a failed run means nothing.
pub fn measure_child(cmd: Command) -> ChildRun {
    crate::spawner::run(&[cmd]).0.remove(0)
}

/// Mark `dir` as the top of a directory hierarchy (`chattr +T`,
/// `FS_TOPDIR_FL`): ext4 then places each directory made in it in a block
/// group with room, as it does directories at the root, rather than in the
/// group of its parent, where the previous benchmark run's scratch area was
/// deleted. Filesystems without the flag refuse it; nothing else changes.
pub fn spread_subdirectories(dir: &Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd as _;
    const FS_TOPDIR_FL: libc::c_int = 0x0002_0000;
    let dir = std::fs::File::open(dir)?;
    let mut flags: libc::c_int = 0;
    // SAFETY: the descriptor is open for the whole call and `flags` is the
    // `int` both requests read or write.
    if unsafe { libc::ioctl(dir.as_raw_fd(), libc::FS_IOC_GETFLAGS, &mut flags) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if flags & FS_TOPDIR_FL != 0 {
        return Ok(());
    }
    flags |= FS_TOPDIR_FL;
    // SAFETY: as above.
    if unsafe { libc::ioctl(dir.as_raw_fd(), libc::FS_IOC_SETFLAGS, &flags) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The median time to create (and close) one new empty file in a fresh
/// directory under `parent`, over 50 files (left there until the directory is
/// removed, so none is a recently deleted one reused).
pub fn file_creation(parent: &Path) -> Duration {
    let dir = tempfile::tempdir_in(parent).expect("a directory to create files in");
    let mut times: Vec<Duration> = (0..50)
        .map(|i| {
            let started = std::time::Instant::now();
            std::fs::File::create_new(dir.path().join(format!("f{i}"))).expect("create a file");
            started.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// `VmHWM` (peak RSS) or `VmRSS` of this process, KiB.
pub fn own_memory(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The component for the first-vs-second-load figure: the Python example
/// (18 MB, an interpreter inside), else the JavaScript one, built from source
/// with its manifest's `[build]` command if it is not built yet; only when
/// neither toolchain can run here, the largest component the tests build.
/// The label says which, and why.
pub fn large_component() -> (PathBuf, String) {
    let root = Path::new(artifacts::WORKSPACE_ROOT);
    let mut why_not = Vec::new();
    for example in ["python-tool", "js-tool"] {
        let dir = root.join("examples").join(example);
        let manifest = match manifest::load(&dir.join("plugin.toml")) {
            Ok(m) => m,
            Err(e) => {
                why_not.push(format!("{example}: {e}"));
                continue;
            }
        };
        if !manifest.component.is_file() {
            println!("building examples/{example} for (5) (installs its toolchain on first use)");
            let progress = |line: &str| println!("  {line}");
            if let Err(e) = harness_host::plugin_build::build_all(&[&manifest], &progress) {
                why_not.push(format!("{example}: {e}"));
                continue;
            }
        }
        let size = std::fs::metadata(&manifest.component).map_or(0, |m| m.len());
        return (
            manifest.component,
            format!("examples/{example}, {:.1} MB", size as f64 / 1e6),
        );
    }
    let (path, size) = wasm_files(&root.join("target/wasm32-wasip2/guest"))
        .into_iter()
        .max_by_key(|(_, size)| *size)
        .expect("the test artifacts built at least one component");
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    (
        path,
        format!(
            "{name}, {} KiB, the largest test component: no Python or JavaScript example could be built ({})",
            size / 1024,
            why_not.join("; ")
        ),
    )
}

fn wasm_files(dir: &Path) -> Vec<(PathBuf, u64)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .filter_map(|p| Some((p.clone(), std::fs::metadata(&p).ok()?.len())))
        .collect()
}
