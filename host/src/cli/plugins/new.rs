//! `host plugins new`: scaffold a plugin folder that builds and passes
//! `host plugins check` as generated.
//!
//! The folder holds the code, a manifest that grants nothing, the build
//! script or crate, a copy of the contract (for Python and JavaScript; a
//! JavaScript plugin also gets a world adding `wasi:filesystem` and the WASI
//! WIT it needs, so it can read its mounts) and a short README. Templates are files under `templates/`,
//! filled in by plain `{{key}}` substitution.
//!
//! Where a Rust plugin finds the SDK: a path dependency on the `sdk/` of the
//! checkout this `host` was built from, and a `[workspace]` table of its own,
//! so the crate builds standalone wherever it is generated (inside this
//! repository's folders or anywhere else) without joining a workspace. Its
//! component is built into `<plugins>/.target`, the Cargo target dir every
//! Rust plugin of the folder shares (see [`crate::plugin_build`]), and its
//! `.cargo/config.toml` says the same to a plain `cargo build`. Python
//! and JavaScript plugins carry the contract they were generated for and
//! install their toolchain on first build, so they need nothing from the
//! repository at all.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use crate::cli::plugins::new_workflow::{self, Outcome};
use crate::cli::{Context, output};
use crate::manifest::{self, MANIFEST_FILE, PluginKind};
use crate::plugin_build::SHARED_TARGET_DIR;
use crate::render::inert;

/// The contract this host serves, copied into Python and JavaScript plugins.
const CONTRACT_WIT: &str = include_str!("../../../../wit/plugin.wit");
/// The SDK of the checkout this binary was built from.
const SDK_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../sdk");

const PLUGIN_TOML: &str = include_str!("templates/common/plugin.toml");
const GITIGNORE: &str = include_str!("templates/common/gitignore");
const RUST_CARGO_TOML: &str = include_str!("templates/rust/Cargo.toml");
const RUST_TOOL: &str = include_str!("templates/rust/tool.rs");
const RUST_REVIEWER: &str = include_str!("templates/rust/reviewer.rs");
const RUST_README: &str = include_str!("templates/rust/README.md");
const RUST_CARGO_CONFIG: &str = include_str!("templates/rust/cargo-config.toml");
const PYTHON_TOOL: &str = include_str!("templates/python/tool.py");
const PYTHON_REVIEWER: &str = include_str!("templates/python/reviewer.py");
const PYTHON_BUILD: &str = include_str!("templates/python/build.sh");
const PYTHON_REQUIREMENTS: &str = include_str!("templates/python/requirements.txt");
const PYTHON_README: &str = include_str!("templates/python/README.md");
const JS_TOOL: &str = include_str!("templates/js/tool.js");
const JS_REVIEWER: &str = include_str!("templates/js/reviewer.js");
const JS_BUILD: &str = include_str!("templates/js/build.sh");
const JS_PACKAGE: &str = include_str!("templates/js/package.json");
const JS_PACKAGE_LOCK: &str = include_str!("templates/js/package-lock.json");
const JS_README: &str = include_str!("templates/js/README.md");
const JS_WORLD: &str = include_str!("templates/js/world.wit");
/// The WASI WIT a JavaScript plugin's world imports (`wasi:filesystem` and
/// what it uses), copied from the repository's one copy in `wit/deps`.
const JS_WASI_DEPS: [(&str, &str); 3] = [
    (
        "wit/deps/filesystem.wit",
        include_str!("../../../../wit/deps/filesystem.wit"),
    ),
    (
        "wit/deps/io.wit",
        include_str!("../../../../wit/deps/io.wit"),
    ),
    (
        "wit/deps/clocks.wit",
        include_str!("../../../../wit/deps/clocks.wit"),
    ),
];

/// Create a new plugin folder `<plugins>/<name>`, ready to build.
///
/// The manifest grants nothing; README.md in the folder says how to build,
/// check and grant. A new tool in a folder without a workflow.toml gets one
/// that runs it as its one step; an existing workflow.toml is never changed.
/// Refuses a folder that exists, an invalid name, and a name another plugin
/// in the folder already has.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  host plugins new word-count                      a Rust tool (the defaults)\n  host plugins new word-count --kind tool --lang python\n  host plugins new strict-review --kind reviewer --lang rust --plugins my-plugins\n  host plugins build && host plugins check"
)]
pub(crate) struct Args {
    /// The plugin's name and folder: 1-64 of a-z, 0-9 and -, starting with a letter.
    name: String,

    /// Which world the plugin implements.
    #[arg(long, value_enum, default_value = "tool")]
    kind: Kind,

    /// The language and toolchain: rust (the SDK), python (componentize-py)
    /// or js (componentize-js through jco).
    #[arg(long, value_enum, default_value = "rust")]
    lang: Lang,

    /// Folder of plugins to create it in (made if missing) [default:
    /// `plugins` in harness.toml, else plugins].
    #[arg(long, value_name = "DIR")]
    plugins: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Kind {
    Tool,
    Reviewer,
}

impl From<Kind> for PluginKind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Tool => PluginKind::Tool,
            Kind::Reviewer => PluginKind::Reviewer,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Lang {
    Rust,
    Python,
    Js,
}

pub(crate) fn execute(args: &Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let plugins = ctx.plugins_path(args.plugins.as_deref());
    let name = args.name.as_str();
    if !crate::names::is_valid_name(name) {
        bail!(
            "`{}` is not a valid plugin name\nhint: use {} (it names the plugin and its folder)",
            inert(name),
            crate::names::NAME_RULE
        );
    }
    let kind = PluginKind::from(args.kind);
    let dir = plugins.join(name);
    if std::fs::symlink_metadata(&dir).is_ok() {
        bail!(
            "`{}` already exists\nhint: pick another name, or remove the folder first; `plugins new` never overwrites",
            dir.display()
        );
    }
    if let Some(other) = plugin_named(&plugins, name) {
        bail!(
            "a plugin named `{name}` already exists in `{}`\nhint: plugin names must be unique in a folder; pick another name",
            other.display()
        );
    }

    let files = files(name, kind, args.lang, &plugins)?;
    std::fs::create_dir_all(&plugins)
        .with_context(|| format!("cannot create `{}`", plugins.display()))?;
    // Write into a temporary folder and rename it into place, so a failure
    // leaves no half-made plugin behind.
    let staging = plugins.join(format!(".{name}.new-{}", std::process::id()));
    std::fs::create_dir(&staging)
        .with_context(|| format!("cannot create `{}`", staging.display()))?;
    let written = write_all(&staging, &files).and_then(|()| {
        std::fs::rename(&staging, &dir)
            .with_context(|| format!("cannot create `{}`", dir.display()))
    });
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }

    // The manifest as generated must parse: a template error shows up here,
    // not in the user's first build.
    manifest::load(&dir.join(MANIFEST_FILE))
        .context("the generated manifest does not parse (a bug in `host plugins new`)")?;

    output::line(&format!(
        "created {} `{name}` in {}",
        kind,
        inert(&dir.display().to_string())
    ))?;
    for (path, _) in &files {
        output::line(&format!("  {path}"))?;
    }
    let workflow = new_workflow::scaffold(&plugins, name, kind)?;
    let plugins = inert(&plugins.display().to_string());
    let mut next = vec![
        format!("host plugins build {name} --plugins {plugins}"),
        format!("host plugins check --plugins {plugins}"),
    ];
    match &workflow {
        Outcome::Created { path, reviewer } => {
            let path = inert(&path.display().to_string());
            let review = match reviewer {
                Some(reviewer) => format!("reviewed by `{}`", inert(reviewer)),
                None => "with no review (the folder has no reviewer; the file says how to add one)"
                    .to_string(),
            };
            output::line(&format!(
                "created {path}: `{name}` is its one step, {review}"
            ))?;
            next.push(format!("host run --plugins {plugins}"));
        }
        Outcome::Exists { path, names_it } => {
            let path = inert(&path.display().to_string());
            if *names_it {
                output::line(&format!("{path} already names `{name}` under [review]"))?;
            } else {
                let verb = match kind {
                    PluginKind::Tool => "add to it",
                    PluginKind::Reviewer => "set in it",
                };
                output::line(&format!(
                    "{path} exists and was left as it is; to use `{name}`, {verb}:\n{}",
                    indent(&workflow_hint(name, kind))
                ))?;
            }
        }
        Outcome::Missing { path } => {
            output::line(&format!(
                "{} does not exist: create a tool first (`host plugins new my-tool --plugins {plugins}` writes it), then name `{name}` in it:\n{}",
                inert(&path.display().to_string()),
                indent(&workflow_hint(name, kind))
            ))?;
        }
    }
    output::line(&format!(
        "next:\n{}\nAsk for what it needs in {} (it is granted nothing), and grant that in {plugins}/grants.toml (`host plugins grant {name} ...`) if the folder has one.",
        indent(&next.join("\n")),
        inert(&dir.join(MANIFEST_FILE).display().to_string()),
    ))?;
    Ok(ExitCode::SUCCESS)
}

fn write_all(dir: &Path, files: &[(&str, String)]) -> anyhow::Result<()> {
    for (path, contents) in files {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create `{}`", parent.display()))?;
        }
        std::fs::write(&target, contents)
            .with_context(|| format!("cannot write `{}`", target.display()))?;
    }
    Ok(())
}

/// The folder of a plugin in `plugins` whose manifest says `name`, if any.
fn plugin_named(plugins: &Path, name: &str) -> Option<PathBuf> {
    let paths = manifest::manifest_paths(plugins).ok()?;
    paths
        .into_iter()
        .find(|p| manifest::load(p).is_ok_and(|m| m.name == name))
        .and_then(|p| p.parent().map(Path::to_path_buf))
}

/// The workflow lines that use the plugin, as TOML.
fn workflow_hint(name: &str, kind: PluginKind) -> String {
    match kind {
        PluginKind::Tool => format!("[[steps]]\nid = \"{name}\"\nplugin = \"{name}\""),
        PluginKind::Reviewer => format!("[review]\nplugin = \"{name}\""),
    }
}

fn indent(lines: &str) -> String {
    lines
        .lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every file of the new plugin, by path relative to its folder.
fn files(
    name: &str,
    kind: PluginKind,
    lang: Lang,
    plugins: &Path,
) -> anyhow::Result<Vec<(&'static str, String)>> {
    let crate_name = name.replace('-', "_");
    let sdk = sdk_dir()?;
    let (component, build_command, memory_mib) = match lang {
        Lang::Rust => (
            format!("../{SHARED_TARGET_DIR}/wasm32-wasip2/release/{crate_name}.wasm"),
            r#"["cargo", "build", "--release", "--target", "wasm32-wasip2"]"#,
            "16",
        ),
        // An interpreter and its heap live in the plugin's memory.
        Lang::Python | Lang::Js => (
            format!("target/{name}.wasm"),
            r#"["sh", "build.sh"]"#,
            "128",
        ),
    };
    let class = match (lang, kind) {
        (Lang::Python, PluginKind::Tool) => "ToolPlugin",
        (Lang::Python, PluginKind::Reviewer) => "ReviewerPlugin",
        (_, PluginKind::Tool) => "toolPlugin",
        (_, PluginKind::Reviewer) => "reviewerPlugin",
    };
    let sdk_path = sdk
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let plugins_dir = plugins.display().to_string();
    let workflow_hint = workflow_hint(name, kind);
    let fill = |template: &str| {
        template
            .replace("{{name}}", name)
            .replace("{{crate}}", &crate_name)
            .replace("{{kind}}", &kind.to_string())
            .replace("{{world}}", kind.world())
            .replace("{{class}}", class)
            .replace("{{component}}", &component)
            .replace("{{build_command}}", build_command)
            .replace("{{memory_mib}}", memory_mib)
            .replace("{{sdk_path}}", &sdk_path)
            .replace("{{plugins_dir}}", &plugins_dir)
            .replace("{{workflow_hint}}", &workflow_hint)
            .replace("{{target_dir}}", &format!("../{SHARED_TARGET_DIR}"))
    };
    let mut files = vec![
        (MANIFEST_FILE, fill(PLUGIN_TOML)),
        (".gitignore", GITIGNORE.to_string()),
    ];
    let is_tool = kind == PluginKind::Tool;
    match lang {
        Lang::Rust => files.extend([
            ("Cargo.toml", fill(RUST_CARGO_TOML)),
            (".cargo/config.toml", fill(RUST_CARGO_CONFIG)),
            (
                "src/lib.rs",
                fill(if is_tool { RUST_TOOL } else { RUST_REVIEWER }),
            ),
            ("README.md", fill(RUST_README)),
        ]),
        Lang::Python => files.extend([
            (
                "app.py",
                fill(if is_tool {
                    PYTHON_TOOL
                } else {
                    PYTHON_REVIEWER
                }),
            ),
            ("build.sh", fill(PYTHON_BUILD)),
            ("requirements.txt", PYTHON_REQUIREMENTS.to_string()),
            ("wit/plugin.wit", CONTRACT_WIT.to_string()),
            ("README.md", fill(PYTHON_README)),
        ]),
        Lang::Js => files.extend([
            (
                "plugin.js",
                fill(if is_tool { JS_TOOL } else { JS_REVIEWER }),
            ),
            ("build.sh", fill(JS_BUILD)),
            ("package.json", JS_PACKAGE.to_string()),
            ("package-lock.json", JS_PACKAGE_LOCK.to_string()),
            ("wit/world.wit", fill(JS_WORLD)),
            (
                "wit/deps/harness-plugin/plugin.wit",
                CONTRACT_WIT.to_string(),
            ),
            ("README.md", fill(JS_README)),
        ]),
    }
    if lang == Lang::Js {
        files.extend(JS_WASI_DEPS.map(|(path, text)| (path, text.to_string())));
    }
    if lang == Lang::Rust && sdk.is_none() {
        bail!(
            "cannot find the harness SDK at `{SDK_DIR}` (the checkout this host was built from)\nhint: a Rust plugin depends on the SDK by path; build `host` from a checkout of the harness repository, or use --lang python or --lang js"
        );
    }
    Ok(files)
}

/// The SDK folder, absolute, if it is still where this binary was built from.
fn sdk_dir() -> anyhow::Result<Option<PathBuf>> {
    let dir = Path::new(SDK_DIR);
    if !dir.join("Cargo.toml").is_file() {
        return Ok(None);
    }
    Ok(Some(crate::canonical::canonicalize(dir).with_context(
        || format!("cannot resolve `{}`", dir.display()),
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_is_filled() {
        for kind in [PluginKind::Tool, PluginKind::Reviewer] {
            for lang in [Lang::Rust, Lang::Python, Lang::Js] {
                let files = files("my-plugin", kind, lang, Path::new("plugins")).expect("files");
                for (path, text) in files {
                    assert!(
                        !text.contains("{{"),
                        "{lang:?} {kind}: {path} has a placeholder"
                    );
                }
            }
        }
    }

    #[test]
    fn generated_manifests_grant_nothing() {
        for lang in [Lang::Rust, Lang::Python, Lang::Js] {
            let files =
                files("my-plugin", PluginKind::Tool, lang, Path::new("plugins")).expect("files");
            let (_, text) = files
                .iter()
                .find(|(p, _)| *p == MANIFEST_FILE)
                .expect("manifest");
            let m =
                manifest::parse(text, Path::new("plugin.toml"), Path::new("/p")).expect("parses");
            assert_eq!(m.grants, manifest::Grants::default(), "{lang:?}");
            assert!(m.build.is_some());
        }
    }
}
