//! The Python and JavaScript toolchains the tests of those plugins need, and
//! building the example plugins with them once per test binary.
//!
//! A missing toolchain never makes a test pass silently: the test prints that
//! it did not run and why, and fails if `HARNESS_REQUIRE_PY_JS=1` (CI sets it).
//! The toolchains themselves (componentize-py, jco + componentize-js) are
//! installed from PyPI and npm by the plugins' own `build.sh` on first use,
//! under `target/toolchains/`; `build.sh` holds a file lock while installing,
//! so concurrent test binaries or `host plugins build` never install twice.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::support::{artifacts, text};

/// A plugin language that needs a toolchain besides Rust.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Python,
    Js,
}

impl Lang {
    /// The commands the language's `build.sh` runs, with the arguments that
    /// prove each one works.
    fn probes(self) -> &'static [(&'static str, &'static [&'static str])] {
        match self {
            Lang::Python => &[("python3", &["-c", "import venv, ensurepip"])],
            Lang::Js => &[("node", &["--version"]), ("npm", &["--version"])],
        }
    }

    pub fn example_dir(self) -> PathBuf {
        Path::new(artifacts::WORKSPACE_ROOT)
            .join("examples")
            .join(match self {
                Lang::Python => "python-tool",
                Lang::Js => "js-tool",
            })
    }
}

/// Whether `lang`'s toolchain is on PATH. If it is not, says so on stderr
/// and panics when `HARNESS_REQUIRE_PY_JS=1`; the caller returns early.
pub fn available(lang: Lang, test: &str) -> bool {
    let missing: Vec<&str> = lang
        .probes()
        .iter()
        .filter(|(program, args)| {
            !Command::new(program)
                .args(*args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .map(|(program, _)| *program)
        .collect();
    if missing.is_empty() {
        return true;
    }
    let line = format!(
        "test `{test}` DID NOT RUN: {} not found on PATH (or not working); install {} to test {} plugins",
        missing.join(" and "),
        if missing.len() > 1 { "them" } else { "it" },
        match lang {
            Lang::Python => "Python",
            Lang::Js => "JavaScript",
        }
    );
    eprintln!("{line}");
    if std::env::var("HARNESS_REQUIRE_PY_JS").is_ok_and(|v| v == "1") {
        panic!("{line}, and HARNESS_REQUIRE_PY_JS=1 requires it");
    }
    false
}

/// Run `sh build.sh` of the plugin in `dir` (installing the toolchain on
/// first use); panics with its output if it fails.
pub fn build(dir: &Path) {
    let started = std::time::Instant::now();
    let out = Command::new("sh")
        .arg("build.sh")
        .current_dir(dir)
        .env(
            "HARNESS_TOOLCHAINS",
            Path::new(artifacts::WORKSPACE_ROOT).join("target/toolchains"),
        )
        .stdin(Stdio::null())
        .output()
        .expect("run build.sh");
    assert!(
        out.status.success(),
        "building `{}` failed:\n{}{}",
        dir.display(),
        text(&out.stdout),
        text(&out.stderr)
    );
    eprintln!(
        "built `{}` in {} ms",
        dir.display(),
        started.elapsed().as_millis()
    );
}

/// Build the example plugin of `lang` from source, once per test binary
/// (other tests wait for the first); returns its folder.
pub fn built_example(lang: Lang) -> PathBuf {
    static PYTHON: OnceLock<()> = OnceLock::new();
    static JS: OnceLock<()> = OnceLock::new();
    let dir = lang.example_dir();
    match lang {
        Lang::Python => PYTHON.get_or_init(|| build(&dir)),
        Lang::Js => JS.get_or_init(|| build(&dir)),
    };
    dir
}
