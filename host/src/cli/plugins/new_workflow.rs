//! The folder's `workflow.toml` as `host plugins new` leaves it: created
//! for a new tool when the folder has none (the tool as its one step, the
//! folder's reviewer under `[review]` if it has one), never touched when it
//! exists.
//!
//! The workflow is written with `create_new`, so a file that appears
//! meanwhile is never overwritten. A review is optional: with no reviewer in
//! the folder, the generated workflow goes from its step straight to the
//! approval gate, and a comment says how to add one.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::manifest::{self, PluginKind};
use crate::workflow::WORKFLOW_FILE;

const WORKFLOW_TEMPLATE: &str = include_str!("templates/common/workflow.toml");

/// What happened to the folder's workflow.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Created, with the folder's first reviewer under `[review]` (none:
    /// the folder has no reviewer, and the workflow no review).
    Created {
        /// Path of the new workflow.
        path: PathBuf,
        /// The reviewer it names.
        reviewer: Option<String>,
    },
    /// A workflow exists and was left as it is.
    Exists {
        /// Path of the workflow.
        path: PathBuf,
        /// Whether it already names the new plugin (a reviewer, under [review]).
        names_it: bool,
    },
    /// None exists, and a new reviewer alone cannot make one (a workflow
    /// needs a tool step).
    Missing {
        /// Where it would be.
        path: PathBuf,
    },
}

/// Create `<plugins>/workflow.toml` for the new tool `name` if the folder
/// has none; leave an existing one alone.
pub(crate) fn scaffold(plugins: &Path, name: &str, kind: PluginKind) -> anyhow::Result<Outcome> {
    let path = plugins.join(WORKFLOW_FILE);
    if std::fs::symlink_metadata(&path).is_ok() {
        return Ok(Outcome::Exists {
            names_it: kind == PluginKind::Reviewer && names_reviewer(&path, name),
            path,
        });
    }
    if kind == PluginKind::Reviewer {
        return Ok(Outcome::Missing { path });
    }
    let reviewer = reviewers(plugins).into_iter().next();
    let text = text(name, reviewer.as_deref(), plugins);
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path);
    match created {
        Ok(mut file) => {
            file.write_all(text.as_bytes())
                .and_then(|()| file.sync_all())
                .with_context(|| format!("cannot write `{}`", path.display()))?;
            Ok(Outcome::Created { path, reviewer })
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(Outcome::Exists {
            path,
            names_it: false,
        }),
        Err(e) => Err(e).with_context(|| format!("cannot create `{}`", path.display())),
    }
}

/// The generated workflow for tool `name`, reviewed by `reviewer` if any.
pub(crate) fn text(name: &str, reviewer: Option<&str>, plugins: &Path) -> String {
    let plugins_dir = plugins.display().to_string();
    let (review, description) = match reviewer {
        Some(reviewer) => (
            format!("[review]\nplugin = \"{reviewer}\"\n"),
            format!(", then the reviewer `{reviewer}`"),
        ),
        None => (
            format!(
                "# This folder has no reviewer, so the run goes from the step to the gate.\n# To add one: `host plugins new my-reviewer --kind reviewer --plugins {plugins_dir}`,\n# then\n#   [review]\n#   plugin = \"my-reviewer\"\n"
            ),
            String::new(),
        ),
    };
    WORKFLOW_TEMPLATE
        .replace("{{name}}", name)
        .replace("{{plugins_dir}}", &plugins_dir)
        .replace("{{review_description}}", &description)
        .replace("{{review}}", &review)
}

/// The reviewers of the folder, by name, sorted (manifests that do not load
/// are skipped: `host plugins check` reports them).
fn reviewers(plugins: &Path) -> Vec<String> {
    let Ok(paths) = manifest::manifest_paths(plugins) else {
        return Vec::new();
    };
    let mut names: Vec<String> = paths
        .iter()
        .filter_map(|p| manifest::load(p).ok())
        .filter(|m| m.kind == PluginKind::Reviewer)
        .map(|m| m.name)
        .collect();
    names.sort();
    names
}

/// Whether the workflow at `path` has `[review] plugin = name`.
fn names_reviewer(path: &Path, name: &str) -> bool {
    let Ok(text) = crate::bounded_read::read_text(
        path,
        256 * 1024,
        "workflow",
        crate::bounded_read::Symlinks::Follow,
    ) else {
        return false;
    };
    text.parse::<toml::Table>().is_ok_and(|t| {
        t.get("review")
            .and_then(|r| r.get("plugin"))
            .and_then(toml::Value::as_str)
            == Some(name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plugin(name: &str, kind: PluginKind) -> manifest::Manifest {
        let text =
            format!("[plugin]\nname = \"{name}\"\nkind = \"{kind}\"\ncomponent = \"p.wasm\"\n");
        manifest::parse(
            &text,
            Path::new("/plugins/p/plugin.toml"),
            Path::new("/plugins/p"),
        )
        .expect("manifest")
    }

    #[test]
    fn the_generated_workflow_parses_and_runs_the_tool_then_the_reviewer() {
        for reviewer in [Some("strict"), None] {
            let text = text("greeter", reviewer, Path::new("my plugins"));
            let mut plugins = vec![plugin("greeter", PluginKind::Tool)];
            plugins.extend(reviewer.map(|r| plugin(r, PluginKind::Reviewer)));
            let w = crate::workflow::parse(&text, Path::new("workflow.toml"), &plugins)
                .unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_eq!(w.steps.len(), 1);
            assert_eq!(w.steps[0].id, "greeter");
            assert_eq!(w.steps[0].plugin, "greeter");
            assert_eq!(w.reviewer(), reviewer);
            assert_eq!(w.redraft(), None);
            assert_eq!(
                text.contains("has no reviewer"),
                reviewer.is_none(),
                "the comment says how to add a reviewer when there is none:\n{text}"
            );
            assert!(!text.contains("{{"), "{text}");
        }
    }
}
