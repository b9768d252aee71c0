//! The tools plugin builds need: the `wasm32-wasip2` Rust target, python3
//! with venv (componentize-py), node and npm (jco), and the toolchain caches
//! the Python and JavaScript plugins' `build.sh` install into.
//!
//! A plugin is taken to need Rust when its `[build]` names `wasm32-wasip2`
//! or its folder has a `Cargo.toml`, Python when its folder has a
//! `requirements.txt`, JavaScript when it has a `package.json`. A tool no
//! plugin of the folder needs is reported as a warning, never as missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::plugins::Folder;
use super::{Area, Finding, Status};
use crate::manifest::Manifest;
use crate::render::inert_path;

const WASM_TARGET: &str = "wasm32-wasip2";

/// What the plugins build with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    Rust,
    Python,
    Js,
}

fn langs(m: &Manifest) -> Vec<Lang> {
    let mut langs = Vec::new();
    let names_target = m
        .build
        .as_ref()
        .is_some_and(|b| b.argv.iter().any(|a| a == WASM_TARGET));
    if names_target || m.dir.join("Cargo.toml").is_file() {
        langs.push(Lang::Rust);
    }
    if m.dir.join("requirements.txt").is_file() {
        langs.push(Lang::Python);
    }
    if m.dir.join("package.json").is_file() {
        langs.push(Lang::Js);
    }
    langs
}

/// The plugins of the folder that build with `lang`, by name.
fn needing(folder: &Folder, lang: Lang) -> Vec<String> {
    folder
        .manifests
        .iter()
        .filter_map(|(_, m)| m.as_ref().ok())
        .filter(|m| langs(m).contains(&lang))
        .map(|m| m.name.clone())
        .collect()
}

/// `program args...` ran and succeeded; its stdout.
fn probe(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("`{program}` cannot be started ({e}): it is not on PATH"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!(
            "`{program} {}` failed ({})",
            args.join(" "),
            out.status
        ))
    }
}

/// A gap in a tool: missing if some plugin needs it, else a warning.
fn tool_gap(
    subject: &str,
    detail: String,
    fix: &str,
    needed_by: &[String],
    for_what: &str,
) -> Finding {
    if needed_by.is_empty() {
        Finding::gap(
            Area::Toolchain,
            Status::Warning,
            subject,
            format!("{detail}; no plugin of this folder needs it (only {for_what} do)"),
            fix,
        )
    } else {
        Finding::gap(
            Area::Toolchain,
            Status::Missing,
            subject,
            format!("{detail}; needed to build {}", needed_by.join(", ")),
            fix,
        )
    }
}

pub fn check(folder: &Folder) -> Vec<Finding> {
    let mut findings = vec![wasm_target(&needing(folder, Lang::Rust))];

    let python = needing(folder, Lang::Python);
    findings.push(
        match probe("python3", &["-c", "import venv, ensurepip, sys; print(sys.version.split()[0])"]) {
            Ok(version) => Finding::ok(
                Area::Toolchain,
                "python3 + venv",
                format!("python3 {version} with venv and ensurepip"),
            ),
            Err(why) => tool_gap(
                "python3 + venv",
                why,
                "install Python 3 with its venv module (Debian/Ubuntu: apt install python3 python3-venv; macOS: brew install python)",
                &python,
                "Python plugins",
            ),
        },
    );

    let js = needing(folder, Lang::Js);
    for program in ["node", "npm"] {
        findings.push(match probe(program, &["--version"]) {
            Ok(version) => Finding::ok(Area::Toolchain, program, format!("{program} {version}")),
            Err(why) => tool_gap(
                program,
                why,
                "install Node.js with npm (https://nodejs.org, or Debian/Ubuntu: apt install nodejs npm)",
                &js,
                "JavaScript plugins",
            ),
        });
    }

    for (_, m) in &folder.manifests {
        let Ok(m) = m else { continue };
        for lang in langs(m) {
            let tool = match lang {
                Lang::Python => "componentize-py",
                Lang::Js => "jco",
                Lang::Rust => continue,
            };
            findings.push(toolchain_cache(m, tool, &folder.dir));
        }
    }
    findings
}

fn wasm_target(needed_by: &[String]) -> Finding {
    let subject = format!("{WASM_TARGET} target");
    let fix = format!("rustup target add {WASM_TARGET}");
    let installed = match probe("rustup", &["target", "list", "--installed"]) {
        Ok(list) => Ok(list.lines().any(|l| l.trim() == WASM_TARGET)),
        // Without rustup, look in the sysroot of whichever rustc there is.
        Err(_) => probe("rustc", &["--print", "sysroot"])
            .map(|root| {
                Path::new(&root)
                    .join("lib")
                    .join("rustlib")
                    .join(WASM_TARGET)
                    .is_dir()
            })
            .map_err(|why| format!("no Rust toolchain: {why}")),
    };
    match installed {
        Ok(true) => Finding::ok(Area::Toolchain, subject, "installed"),
        Ok(false) => tool_gap(
            &subject,
            "not installed".into(),
            &fix,
            needed_by,
            "Rust plugins",
        ),
        Err(why) => tool_gap(
            &subject,
            why,
            &format!("install Rust from https://rustup.rs, then: {fix}"),
            needed_by,
            "Rust plugins",
        ),
    }
}

/// Where a plugin's `build.sh` keeps `tool`: `$HARNESS_TOOLCHAINS`, else
/// `target/toolchains` beside the plugin (`host plugins new`) or at the
/// root of the checkout it lives in (the examples).
fn cache_candidates(m: &Manifest) -> Vec<PathBuf> {
    if let Some(dir) = std::env::var_os("HARNESS_TOOLCHAINS") {
        return vec![PathBuf::from(dir)];
    }
    let dir = crate::canonical::canonicalize(&m.dir).unwrap_or_else(|_| m.dir.clone());
    let mut dirs = vec![dir.join("target").join("toolchains")];
    if let Some(root) = dir.parent().and_then(Path::parent) {
        dirs.push(root.join("target").join("toolchains"));
    }
    dirs
}

fn toolchain_cache(m: &Manifest, tool: &str, plugins_dir: &Path) -> Finding {
    let subject = format!("{}: {tool} cache", m.name);
    let candidates = cache_candidates(m);
    for dir in &candidates {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let installed = entries.flatten().find(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("{tool}-"))
                && e.path().join(".installed").is_file()
        });
        if let Some(entry) = installed {
            return match super::dirs::writable(dir) {
                Ok(()) => Finding::ok(
                    Area::Toolchain,
                    subject,
                    format!("installed in `{}`", inert_path(&entry.path())),
                ),
                Err(why) => Finding::gap(
                    Area::Toolchain,
                    Status::Missing,
                    subject,
                    format!("`{}` {why}", inert_path(dir)),
                    "make it writable for this user, or set HARNESS_TOOLCHAINS to a writable folder",
                ),
            };
        }
    }
    let shown: Vec<String> = candidates
        .iter()
        .map(|d| format!("`{}`", inert_path(d)))
        .collect();
    Finding::gap(
        Area::Toolchain,
        Status::Warning,
        subject,
        format!(
            "not installed yet (looked in {}); the first build installs it (it needs to reach PyPI or npm)",
            shown.join(", ")
        ),
        format!("host plugins build --plugins {}", inert_path(plugins_dir)),
    )
}
