//! Paths no plugin may reach: the host's own files, and the machine's.
//!
//! Two lists, checked by the runtime itself (grant resolution and the
//! write checks call them; no caller has to remember):
//!
//! * **System and credential directories** ([`system_dir`]): `/proc`,
//!   `/sys`, `/dev`, `/run`, `/etc`, `/boot`, `/root`, `/usr`, `/var/lib`,
//!   `/bin`, `/sbin`, `/lib*` and everything under them; `/`, `/home`,
//!   `/var`, `/tmp` themselves; the invoking user's home directory itself
//!   and its credential folders (`.ssh`, `.aws`, `.gnupg`, `.kube`,
//!   `.docker`, `.config/gcloud`, …) with everything under them. Never a
//!   mount (`${workspace}` included), never an output directory.
//! * **The host's own paths** ([`Protected`]): its state directory (runs,
//!   journals, staged blobs), its compile cache and scratch space (these
//!   two are *secret*: never mounted at all, not even read-only), and what
//!   it reads back to decide what runs: the plugins folder, the workflow,
//!   every manifest and every component (these are *inputs*: never inside a
//!   read-write mount, a `writes` grant or an output directory). A path
//!   *containing* one of them is refused too, since granting a directory
//!   grants what is inside it.
//!
//! Paths are compared both as given (made absolute, `..` applied lexically)
//! and canonicalized (through symlinks), so neither a symlinked spelling nor
//! a path that does not exist yet slips through.

use std::path::{Component, Path, PathBuf};

/// Credential folders under the user's home, refused with everything below.
const HOME_SECRETS: &[&str] = &[
    ".ssh",
    ".aws",
    ".gnupg",
    ".kube",
    ".docker",
    ".azure",
    ".config/gcloud",
    ".config/gh",
    ".password-store",
    ".local/share/keyrings",
    ".mozilla",
    ".config/google-chrome",
    ".config/chromium",
];

/// System directories refused with everything below them.
const SYSTEM_SUBTREES: &[&str] = &[
    "/proc", "/sys", "/dev", "/run", "/etc", "/boot", "/root", "/usr", "/var/lib", "/bin", "/sbin",
    "/lib", "/lib32", "/lib64", "/libx32",
];

/// Directories refused themselves (they hold everyone's data), though a
/// folder inside them may be mounted.
const SYSTEM_EXACT: &[&str] = &[
    "/", "/home", "/var", "/tmp", "/var/tmp", "/mnt", "/media", "/opt", "/srv",
];

/// Why a path is a system or credential directory, if it is one: the
/// directory it is (or lies inside), for messages.
pub fn system_dir(path: &Path) -> Option<PathBuf> {
    for candidate in spellings(path) {
        if let Some(hit) = system_hit(&candidate) {
            return Some(hit);
        }
    }
    None
}

fn system_hit(path: &Path) -> Option<PathBuf> {
    for dir in SYSTEM_SUBTREES {
        if path.starts_with(dir) {
            return Some(PathBuf::from(dir));
        }
    }
    if SYSTEM_EXACT.iter().any(|d| path == Path::new(d)) {
        return Some(path.to_path_buf());
    }
    for home in homes() {
        if path == home {
            return Some(home.clone());
        }
        for secret in HOME_SECRETS {
            let dir = home.join(secret);
            if path.starts_with(&dir) {
                return Some(dir);
            }
        }
    }
    None
}

/// The invoking user's home: from the passwd entry (what the OS says) and
/// `$HOME` (what the shell says), both, canonicalized where they exist.
fn homes() -> &'static [PathBuf] {
    // Looked up once a process: every system-directory check asks, and each
    // lookup reads the passwd database and resolves the home's spellings.
    static HOMES: std::sync::OnceLock<Vec<PathBuf>> = std::sync::OnceLock::new();
    HOMES.get_or_init(look_up_homes)
}

fn look_up_homes() -> Vec<PathBuf> {
    let mut homes = Vec::new();
    let mut push = |p: PathBuf| {
        for s in spellings(&p) {
            if !homes.contains(&s) && s != Path::new("/") {
                homes.push(s);
            }
        }
    };
    if let Some(home) = crate::os_user::home_dir() {
        push(home);
    }
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        push(PathBuf::from(home));
    }
    homes
}

/// `path` made absolute with `..` applied lexically, and its canonical form:
/// the nearest ancestor that exists, resolved through symlinks, with the
/// rest of the path appended (so a path not created yet resolves too).
pub fn spellings(path: &Path) -> Vec<PathBuf> {
    let lexical = lexical_absolute(path);
    let mut out = vec![lexical.clone()];
    let mut existing = lexical.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(canonical) = crate::canonical::canonicalize(existing) {
            let resolved = rest.iter().rev().fold(canonical, |p, c| p.join(c));
            if resolved != lexical {
                out.push(resolved);
            }
            break;
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => break,
        }
    }
    out
}

/// Absolute form of `p` with `.` removed and `..` applied lexically.
pub fn lexical_absolute(p: &Path) -> PathBuf {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// What kind of host path a protected entry is, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtectedKind {
    /// The state directory: runs, journals, staged blobs.
    State,
    /// The compile cache (and the runtime's scratch space for private copies).
    Cache,
    /// A plugins folder, workflow, manifest, component, project file or
    /// policy: what the host reads back to decide what runs.
    Input,
    /// One of the above, as recorded in a run's journal.
    Recorded,
}

impl ProtectedKind {
    fn describe(self) -> &'static str {
        match self {
            Self::State => "the host's state directory",
            Self::Cache => "the host's compile cache",
            Self::Input => {
                "a file the host reads to decide what runs (plugins folder, workflow, manifest, component, project file or policy)"
            }
            Self::Recorded => "one of the host's own paths (state, cache or plugin definitions)",
        }
    }
}

/// The host's own paths (see the module doc).
#[derive(Debug, Clone, Default)]
pub struct Protected {
    entries: Vec<(ProtectedKind, PathBuf)>,
}

/// A path that reaches one of the host's protected paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectedHit {
    /// The protected path that was reached.
    pub protected: PathBuf,
    /// What that path is to the host.
    pub kind: ProtectedKind,
}

impl std::fmt::Display for ProtectedHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} `{}`",
            self.kind.describe(),
            crate::render::inert(&self.protected.display().to_string())
        )
    }
}

impl Protected {
    /// No protected paths yet; add them with [`Protected::add`].
    pub fn new() -> Protected {
        Protected::default()
    }

    /// Add a path (each of its spellings) of the given kind.
    pub fn add(&mut self, kind: ProtectedKind, path: &Path) -> &mut Self {
        for s in spellings(path) {
            if !self.entries.iter().any(|(_, p)| *p == s) {
                self.entries.push((kind, s));
            }
        }
        self
    }

    /// Every protected path (each spelling), for the journal.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.entries.iter().map(|(_, p)| p.clone()).collect()
    }

    /// Every protected path, with its kind.
    pub fn entries(&self) -> impl Iterator<Item = (ProtectedKind, &Path)> {
        self.entries.iter().map(|(k, p)| (*k, p.as_path()))
    }

    /// Merge another list in.
    pub fn extend(&mut self, other: &Protected) {
        for (kind, path) in &other.entries {
            if !self.entries.iter().any(|(_, p)| p == path) {
                self.entries.push((*kind, path.clone()));
            }
        }
    }

    /// Whether a directory may be mounted: never one that is, contains or lies
    /// inside the state or cache; if `writable`, never one that is, contains
    /// or lies inside any protected path.
    pub fn check_mount(&self, dir: &Path, writable: bool) -> Result<(), ProtectedHit> {
        self.check_region(dir, true, |kind| writable || kind != ProtectedKind::Input)
    }

    /// Whether the host may write (create, replace or delete) `target`, or
    /// anything under it when `subtree` (a `writes` prefix, an output
    /// directory).
    pub fn check_write(&self, target: &Path, subtree: bool) -> Result<(), ProtectedHit> {
        self.check_region(target, subtree, |_| true)
    }

    fn check_region(
        &self,
        path: &Path,
        subtree: bool,
        applies: impl Fn(ProtectedKind) -> bool,
    ) -> Result<(), ProtectedHit> {
        for candidate in spellings(path) {
            for (kind, protected) in &self.entries {
                if !applies(*kind) {
                    continue;
                }
                let reaches = candidate.starts_with(protected)
                    || (subtree && protected.starts_with(&candidate));
                if reaches {
                    return Err(ProtectedHit {
                        protected: protected.clone(),
                        kind: *kind,
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_subtrees_and_exact_dirs_are_named() {
        for (path, hit) in [
            ("/etc", "/etc"),
            ("/etc/ssh", "/etc"),
            ("/etc/ssl/private", "/etc"),
            ("/proc/1", "/proc"),
            ("/proc/self", "/proc"),
            ("/sys/kernel", "/sys"),
            ("/dev/shm", "/dev"),
            ("/usr/bin", "/usr"),
            ("/var/lib/dpkg", "/var/lib"),
            ("/run/user", "/run"),
            ("/home", "/home"),
            ("/", "/"),
            ("/var", "/var"),
            ("/tmp/../etc", "/etc"),
        ] {
            assert_eq!(
                system_dir(Path::new(path)),
                Some(PathBuf::from(hit)),
                "{path}"
            );
        }
        for ok in ["/tmp/x", "/var/tmp/x", "/srv/data", "/opt/app/docs"] {
            assert_eq!(system_dir(Path::new(ok)), None, "{ok}");
        }
    }

    #[test]
    fn home_itself_and_its_credentials_are_refused() {
        let Some(home) = crate::os_user::home_dir() else {
            return;
        };
        assert!(system_dir(&home).is_some());
        assert!(system_dir(&home.join(".ssh")).is_some());
        assert!(system_dir(&home.join(".ssh/keys")).is_some());
        assert!(system_dir(&home.join(".config/gcloud")).is_some());
        if home != Path::new("/root") {
            assert_eq!(system_dir(&home.join("project")), None);
        }
    }

    #[test]
    fn protected_regions_cover_ancestors_and_descendants() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = std::fs::canonicalize(tmp.path()).expect("canonical");
        let mut p = Protected::new();
        p.add(ProtectedKind::State, &root.join("ws/.harness"));
        p.add(ProtectedKind::Input, &root.join("plugins"));
        // The state: refused as a mount, read or write, and as a write target.
        assert!(p.check_mount(&root.join("ws"), false).is_err());
        assert!(
            p.check_mount(&root.join("ws/.harness/runs"), false)
                .is_err()
        );
        assert!(
            p.check_write(&root.join("ws/.harness/runs/x"), false)
                .is_err()
        );
        assert!(p.check_write(&root.join("ws/.har"), false).is_ok());
        // The plugins folder: readable, never writable.
        assert!(p.check_mount(&root.join("plugins"), false).is_ok());
        assert!(p.check_mount(&root.join("plugins"), true).is_err());
        assert!(p.check_mount(&root, true).is_err());
        assert!(
            p.check_write(&root.join("plugins/a/plugin.toml"), false)
                .is_err()
        );
        // A `writes` prefix covering the folder is refused; a file beside it is not.
        assert!(p.check_write(&root.join("plu"), true).is_ok());
        assert!(p.check_write(&root, true).is_err());
        assert!(p.check_write(&root.join("other.txt"), false).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn symlinked_spellings_are_resolved() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = std::fs::canonicalize(tmp.path()).expect("canonical");
        std::fs::create_dir_all(root.join("real/state")).expect("mkdir");
        std::os::unix::fs::symlink(root.join("real"), root.join("link")).expect("symlink");
        let mut p = Protected::new();
        p.add(ProtectedKind::State, &root.join("real/state"));
        assert!(p.check_write(&root.join("link/state/x"), false).is_err());
        let mut q = Protected::new();
        q.add(ProtectedKind::State, &root.join("link/state"));
        assert!(q.check_write(&root.join("real/state/x"), false).is_err());
    }
}
