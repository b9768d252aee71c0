//! Builds every guest component the host's tests load (the shipped plugins, the
//! hello-tool and hostile-demo examples and the crates under `tests/guests/`)
//! from source, with one nested `cargo build --profile guest --target
//! wasm32-wasip2`, and writes
//! `$OUT_DIR/artifacts.rs` with a path constant per component.
//!
//! The components land in `<root>/target/wasm32-wasip2/guest/`, where the plugin
//! manifests point, so the tests load exactly what `host plugins build` produces.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::{env, fs};

const GUEST_TARGET: &str = "wasm32-wasip2";
const GUEST_PROFILE: &str = "guest";

/// Guest crates outside `tests/guests/`, by package name.
const SHIPPED_GUESTS: &[&str] = &[
    "plugin-search",
    "plugin-extract-facts",
    "plugin-draft-report",
    "plugin-reviewer",
    "plugin-generic-reviewer",
    "plugin-model-reviewer",
    "hello-tool",
    "hostile-tool",
];

/// Environment variables the outer cargo (or the person running it) sets that must
/// not reach the nested guest build: they would wrap the guest rustc in clippy-driver,
/// apply host rustflags or profile overrides to wasm, redirect the output away from
/// where the manifests point, or tie the nested cargo to the outer one's jobserver.
const REMOVED_VARS: &[&str] = &[
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_BUILD_RUSTC_WRAPPER",
    "CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER",
    "CLIPPY_ARGS",
    "CLIPPY_CONF_DIR",
    "CLIPPY_TERMINAL_WIDTH",
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "RUSTDOCFLAGS",
    "CARGO_ENCODED_RUSTDOCFLAGS",
    "CARGO_BUILD_RUSTDOCFLAGS",
    "CARGO_BUILD_TARGET",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_BUILD_BUILD_DIR",
    "CARGO_INCREMENTAL",
    "CARGO_BUILD_INCREMENTAL",
    "CARGO_MAKEFLAGS",
    "MAKEFLAGS",
    "MFLAGS",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_TARGET_TMPDIR",
    // The build-script context of this crate. The nested cargo sets these afresh
    // for each guest build script, but only those that apply to the guest, so a
    // host-only one (for example `CARGO_CFG_UNIX`) would leak through.
    "TARGET",
    "HOST",
    "OUT_DIR",
    "OPT_LEVEL",
    "PROFILE",
    "DEBUG",
    "NUM_JOBS",
    "RUSTC_LINKER",
    "CARGO_CRATE_NAME",
];

/// Prefixes of variables removed for the same reasons (`__CARGO_FIX_PLZ` and the
/// other `cargo fix` / `cargo clippy --fix` internals among them).
const REMOVED_PREFIXES: &[&str] = &[
    "CARGO_PROFILE_",
    "CARGO_CFG_",
    "CARGO_FEATURE_",
    "CARGO_PKG_",
    "CARGO_MANIFEST_",
    "DEP_",
    "__CARGO",
];

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let manifest_dir = PathBuf::from(required_var("CARGO_MANIFEST_DIR")?);
    let root = manifest_dir.join("../..").canonicalize().map_err(|e| {
        format!(
            "cannot resolve the workspace root from `{}`: {e}",
            manifest_dir.display()
        )
    })?;
    let out_dir = PathBuf::from(required_var("OUT_DIR")?);

    for watched in [
        "wit",
        "sdk",
        "plugins",
        "examples/hello-tool",
        "examples/hostile-demo",
        "tests/guests",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        println!("cargo::rerun-if-changed={}", root.join(watched).display());
    }

    let mut packages: Vec<String> = SHIPPED_GUESTS.iter().map(|p| p.to_string()).collect();
    packages.extend(test_guests(&root.join("tests/guests"))?);

    ensure_target_installed(&root)?;
    build_guests(&root, packages.iter().map(String::as_str))?;

    let wasm_dir = root.join("target").join(GUEST_TARGET).join(GUEST_PROFILE);
    let mut generated = String::new();
    push_const(
        &mut generated,
        "The workspace root.",
        "WORKSPACE_ROOT",
        &root,
    )?;
    push_const(
        &mut generated,
        "The shipped plugins, one directory with a `plugin.toml` each.",
        "PLUGINS_DIR",
        &root.join("plugins"),
    )?;
    push_const(
        &mut generated,
        "The example workspace the examples run against.",
        "EXAMPLE_WORKSPACE",
        &root.join("examples/workspace"),
    )?;
    for package in &packages {
        let wasm = wasm_dir.join(format!("{}.wasm", package.replace('-', "_")));
        if !wasm.is_file() {
            return Err(format!(
                "the guest build succeeded but did not produce `{}` for package `{package}`\n\
                 hint: the crate needs `crate-type = [\"cdylib\"]` under `[lib]`",
                wasm.display()
            ));
        }
        push_const(
            &mut generated,
            &format!("The `{package}` component."),
            &const_name(package),
            &wasm,
        )?;
    }
    let artifacts = out_dir.join("artifacts.rs");
    fs::write(&artifacts, generated)
        .map_err(|e| format!("cannot write `{}`: {e}", artifacts.display()))
}

fn required_var(name: &str) -> Result<String, String> {
    env::var(name)
        .map_err(|_| format!("`{name}` is not set; this build script must run under cargo"))
}

/// Package names of the crates under `tests/guests/`. Each directory must hold a
/// crate named `guest-<directory>`, so its constant is predictable from the path.
fn test_guests(dir: &Path) -> Result<BTreeSet<String>, String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot list `{}`: {e}", dir.display()))?;
    let mut guests = BTreeSet::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot list `{}`: {e}", dir.display()))?;
        let manifest = entry.path().join("Cargo.toml");
        if !manifest.is_file() {
            continue;
        }
        let dir_name = entry.file_name();
        let dir_name = dir_name
            .to_str()
            .ok_or_else(|| format!("guest directory `{}` is not UTF-8", entry.path().display()))?;
        let package = format!("guest-{dir_name}");
        let text = fs::read_to_string(&manifest)
            .map_err(|e| format!("cannot read `{}`: {e}", manifest.display()))?;
        let declared = text.lines().any(|line| {
            line.split_once('=').is_some_and(|(key, value)| {
                key.trim() == "name" && value.trim() == format!("\"{package}\"")
            })
        });
        if !declared {
            return Err(format!(
                "`{}` must declare `name = \"{package}\"`: test guest crates are named after their directory",
                manifest.display()
            ));
        }
        guests.insert(package);
    }
    Ok(guests)
}

/// `guest-escape-writer` -> `GUEST_ESCAPE_WRITER`.
fn const_name(package: &str) -> String {
    package.replace('-', "_").to_ascii_uppercase()
}

fn push_const(out: &mut String, doc: &str, name: &str, path: &Path) -> Result<(), String> {
    let path = path
        .to_str()
        .ok_or_else(|| format!("path `{}` is not UTF-8", path.display()))?;
    // `{:?}` of a `str` is a valid Rust string literal, escapes included.
    writeln!(out, "/// {doc}\npub const {name}: &str = {path:?};").map_err(|e| e.to_string())
}

/// Makes sure the compiler the outer cargo uses can target wasm32-wasip2, adding the
/// target with rustup if it is missing.
fn ensure_target_installed(root: &Path) -> Result<(), String> {
    // The sysroot is what the nested build will actually use; checking it first
    // also works for toolchains rustup does not manage.
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| OsString::from("rustc"));
    if let Ok(output) = Command::new(&rustc).args(["--print", "sysroot"]).output()
        && output.status.success()
    {
        let sysroot = String::from_utf8_lossy(&output.stdout);
        if Path::new(sysroot.trim())
            .join("lib/rustlib")
            .join(GUEST_TARGET)
            .is_dir()
        {
            return Ok(());
        }
    }

    let missing = || {
        format!(
            "the `{GUEST_TARGET}` target is not installed and rustup is not available to add it\n\
             hint: install the target for your toolchain (with rustup: `rustup target add {GUEST_TARGET}`)"
        )
    };
    let listed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .current_dir(root)
        .output()
        .map_err(|_| missing())?;
    if !listed.status.success() {
        return Err(format!(
            "`rustup target list --installed` failed:\n{}",
            String::from_utf8_lossy(&listed.stderr)
        ));
    }
    if String::from_utf8_lossy(&listed.stdout)
        .lines()
        .any(|line| line.trim() == GUEST_TARGET)
    {
        return Ok(());
    }

    println!(
        "cargo::warning=installing the `{GUEST_TARGET}` target with `rustup target add {GUEST_TARGET}`"
    );
    let added = Command::new("rustup")
        .args(["target", "add", GUEST_TARGET])
        .current_dir(root)
        .output()
        .map_err(|_| missing())?;
    if !added.status.success() {
        return Err(format!(
            "`rustup target add {GUEST_TARGET}` failed:\n{}\nhint: install the target by hand and build again",
            String::from_utf8_lossy(&added.stderr)
        ));
    }
    Ok(())
}

/// Runs the one nested `cargo build` for every guest.
///
/// The `guest` profile and target give it lock directories of its own
/// (`target/guest`, `target/wasm32-wasip2/guest`), so it never waits on the outer
/// build, which holds `target/debug` or `target/release`.
fn build_guests<'a>(
    root: &Path,
    packages: impl IntoIterator<Item = &'a str>,
) -> Result<(), String> {
    let mut args = vec![
        "build",
        "--locked",
        "--profile",
        GUEST_PROFILE,
        "--target",
        GUEST_TARGET,
    ];
    for package in packages {
        args.extend(["-p", package]);
    }
    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(&cargo);
    command.current_dir(root).args(&args);
    for (key, _) in env::vars_os() {
        let Some(name) = key.to_str() else { continue };
        if REMOVED_VARS.contains(&name)
            || REMOVED_PREFIXES
                .iter()
                .any(|prefix| name.starts_with(prefix))
        {
            command.env_remove(&key);
        }
    }
    command.env("CARGO_TARGET_DIR", root.join("target"));

    let output = command
        .output()
        .map_err(|e| format!("cannot run `{}` for the guest build: {e}", cargo.display()))?;
    if !output.status.success() {
        return Err(format!(
            "building the guest components failed ({}):\n{}\n\
             hint: reproduce with `cargo {}` in `{}`",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim_end(),
            args.join(" "),
            root.display()
        ));
    }
    Ok(())
}
