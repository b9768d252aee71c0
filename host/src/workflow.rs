//! Workflows as data: which plugins run, in what order, and who reviews.
//!
//! A workflow file (`workflow.toml` beside the plugins) lists tool steps with
//! their `needs` edges and names the reviewer. The runner executes exactly this
//! definition; nothing about the order lives in code. Validation happens before
//! anything runs and names what is wrong: unknown keys, duplicate or unknown
//! steps, cycles (with the cycle spelled out), unknown plugins and plugins of the
//! wrong kind.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::manifest::{Manifest, PluginKind};

/// The workflow file's name inside the plugins folder.
pub const WORKFLOW_FILE: &str = "workflow.toml";

/// Workflow files larger than this are refused before parsing.
const MAX_WORKFLOW_BYTES: u64 = 256 * 1024;

/// A validated workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workflow {
    pub path: PathBuf,
    pub name: String,
    pub description: String,
    /// Steps in execution order: every step comes after all the steps it needs.
    pub steps: Vec<Step>,
    /// The reviewer plugin's name.
    pub reviewer: String,
    /// sha256 of the workflow file's bytes, recorded in every run.
    pub digest: String,
}

/// One tool step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub id: String,
    pub plugin: String,
    /// The step's fixed input, merged with the run's parameters.
    pub input: serde_json::Map<String, serde_json::Value>,
    /// Ids of the steps whose outputs this step receives.
    pub needs: Vec<String>,
}

impl Workflow {
    /// The plugins the workflow uses: every step's plugin, then the reviewer.
    pub fn plugin_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.steps.iter().map(|s| s.plugin.as_str()).collect();
        names.push(&self.reviewer);
        names.sort_unstable();
        names.dedup();
        names
    }
}

/// Why a workflow was refused.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    #[error("cannot read workflow `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid workflow `{path}`: {message}\nhint: {hint}")]
    Invalid {
        path: PathBuf,
        message: String,
        hint: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkflow {
    workflow: RawHeader,
    #[serde(default)]
    steps: Vec<RawStep>,
    review: Option<RawReview>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    name: String,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    id: String,
    plugin: String,
    #[serde(default)]
    input: toml::Table,
    #[serde(default)]
    needs: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReview {
    plugin: String,
}

/// Load and validate a workflow against the plugins that are available.
pub fn load(path: &Path, plugins: &[Manifest]) -> Result<Workflow, WorkflowError> {
    let read_err = |source| WorkflowError::Read {
        path: path.to_path_buf(),
        source,
    };
    let size = std::fs::metadata(path).map_err(read_err)?.len();
    if size > MAX_WORKFLOW_BYTES {
        return Err(WorkflowError::Invalid {
            path: path.to_path_buf(),
            message: format!("the file is {size} bytes, over the {MAX_WORKFLOW_BYTES}-byte limit"),
            hint: "a workflow lists steps and a reviewer; it should be small".into(),
        });
    }
    let bytes = std::fs::read(path).map_err(read_err)?;
    let text = String::from_utf8(bytes).map_err(|_| WorkflowError::Invalid {
        path: path.to_path_buf(),
        message: "the file is not UTF-8".into(),
        hint: "save the workflow as UTF-8 text".into(),
    })?;
    parse(&text, path, plugins)
}

/// Parse and validate workflow text. `path` is used in messages.
pub fn parse(text: &str, path: &Path, plugins: &[Manifest]) -> Result<Workflow, WorkflowError> {
    let invalid = |message: String, hint: &str| WorkflowError::Invalid {
        path: path.to_path_buf(),
        message,
        hint: hint.to_string(),
    };
    let raw: RawWorkflow = toml::from_str(text).map_err(|e| {
        invalid(
            e.to_string().trim_end().to_string(),
            "allowed are [workflow] (name, description), [[steps]] (id, plugin, input, needs) and [review] (plugin)",
        )
    })?;
    let kind_of: HashMap<&str, PluginKind> =
        plugins.iter().map(|m| (m.name.as_str(), m.kind)).collect();
    let available = || {
        let mut names: Vec<&str> = kind_of.keys().copied().collect();
        names.sort_unstable();
        names.join(", ")
    };

    if raw.steps.is_empty() {
        return Err(invalid(
            "the workflow has no [[steps]]".into(),
            "add at least one [[steps]] entry with an id and a plugin",
        ));
    }
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, step) in raw.steps.iter().enumerate() {
        if !is_valid_id(&step.id) {
            return Err(invalid(
                format!("steps[{i}].id `{}` is not a valid step id", step.id),
                "use 1 to 64 lowercase letters, digits and dashes, starting with a letter",
            ));
        }
        if index.insert(&step.id, i).is_some() {
            return Err(invalid(
                format!("two steps have the id `{}`", step.id),
                "give every step a unique id",
            ));
        }
        match kind_of.get(step.plugin.as_str()) {
            None => {
                return Err(invalid(
                    format!(
                        "step `{}` uses plugin `{}`, which is not installed",
                        step.id, step.plugin
                    ),
                    &format!("installed plugins: {}", available()),
                ));
            }
            Some(PluginKind::Reviewer) => {
                return Err(invalid(
                    format!(
                        "step `{}` uses plugin `{}`, which is a reviewer, not a tool",
                        step.id, step.plugin
                    ),
                    "use a tool plugin for steps, and name the reviewer under [review]",
                ));
            }
            Some(PluginKind::Tool) => {}
        }
    }
    for step in &raw.steps {
        for need in &step.needs {
            if !index.contains_key(need.as_str()) {
                return Err(invalid(
                    format!(
                        "step `{}` needs `{need}`, which is not a step of this workflow",
                        step.id
                    ),
                    "`needs` lists ids of other [[steps]]",
                ));
            }
            if *need == step.id {
                return Err(invalid(
                    format!("step `{}` needs itself", step.id),
                    "remove the step's own id from its `needs`",
                ));
            }
        }
    }

    let order = topological_order(&raw.steps).map_err(|cycle| {
        invalid(
            format!("the steps form a cycle: {}", cycle.join(" -> ")),
            "`needs` edges must not loop back; remove one edge of the cycle",
        )
    })?;

    let review = raw.review.ok_or_else(|| {
        invalid(
            "the workflow has no [review] section".into(),
            "name the reviewer plugin: [review] plugin = \"reviewer\"",
        )
    })?;
    match kind_of.get(review.plugin.as_str()) {
        None => {
            return Err(invalid(
                format!("the reviewer `{}` is not installed", review.plugin),
                &format!("installed plugins: {}", available()),
            ));
        }
        Some(PluginKind::Tool) => {
            return Err(invalid(
                format!("the reviewer `{}` is a tool, not a reviewer", review.plugin),
                "name a plugin whose manifest says kind = \"reviewer\"",
            ));
        }
        Some(PluginKind::Reviewer) => {}
    }

    let mut steps_by_position: Vec<Option<RawStep>> = raw.steps.into_iter().map(Some).collect();
    let mut steps = Vec::with_capacity(order.len());
    for i in order {
        let Some(raw_step) = steps_by_position[i].take() else {
            continue;
        };
        let input = match serde_json::to_value(&raw_step.input) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => {
                return Err(invalid(
                    format!(
                        "step `{}`: its input cannot be expressed as JSON",
                        raw_step.id
                    ),
                    "use plain strings, numbers, booleans, arrays and tables (no dates)",
                ));
            }
        };
        steps.push(Step {
            id: raw_step.id,
            plugin: raw_step.plugin,
            input,
            needs: raw_step.needs,
        });
    }

    Ok(Workflow {
        path: path.to_path_buf(),
        name: raw.workflow.name,
        description: raw.workflow.description,
        steps,
        reviewer: review.plugin,
        digest: crate::digest::sha256_hex(text.as_bytes()),
    })
}

fn is_valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Order steps so each comes after its needs, keeping file order where free.
/// On a cycle, returns the ids along it (first id repeated at the end).
fn topological_order(steps: &[RawStep]) -> Result<Vec<usize>, Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let index: HashMap<&str, usize> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let mut marks = vec![Mark::New; steps.len()];
    let mut order = Vec::with_capacity(steps.len());
    let mut path: Vec<usize> = Vec::new();

    fn visit(
        i: usize,
        steps: &[RawStep],
        index: &HashMap<&str, usize>,
        marks: &mut [Mark],
        path: &mut Vec<usize>,
        order: &mut Vec<usize>,
    ) -> Result<(), Vec<String>> {
        match marks[i] {
            Mark::Done => return Ok(()),
            Mark::Active => {
                let start = path.iter().position(|&p| p == i).unwrap_or(0);
                let mut cycle: Vec<String> =
                    path[start..].iter().map(|&p| steps[p].id.clone()).collect();
                cycle.push(steps[i].id.clone());
                return Err(cycle);
            }
            Mark::New => {}
        }
        marks[i] = Mark::Active;
        path.push(i);
        for need in &steps[i].needs {
            if let Some(&n) = index.get(need.as_str()) {
                visit(n, steps, index, marks, path, order)?;
            }
        }
        path.pop();
        marks[i] = Mark::Done;
        order.push(i);
        Ok(())
    }

    for i in 0..steps.len() {
        visit(i, steps, &index, &mut marks, &mut path, &mut order)?;
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Grants, Limits};

    fn plugin(name: &str, kind: PluginKind) -> Manifest {
        Manifest {
            path: PathBuf::from(format!("/p/{name}/plugin.toml")),
            dir: PathBuf::from(format!("/p/{name}")),
            name: name.into(),
            kind,
            component: PathBuf::from("/p/x.wasm"),
            sha256: None,
            build: None,
            grants: Grants::default(),
            limits: Limits::default(),
        }
    }

    fn plugins() -> Vec<Manifest> {
        vec![
            plugin("a", PluginKind::Tool),
            plugin("b", PluginKind::Tool),
            plugin("rev", PluginKind::Reviewer),
        ]
    }

    fn check(text: &str) -> Result<Workflow, String> {
        parse(text, Path::new("workflow.toml"), &plugins()).map_err(|e| e.to_string())
    }

    const HEAD: &str = "[workflow]\nname = \"w\"\n[review]\nplugin = \"rev\"\n";

    #[test]
    fn steps_are_ordered_by_needs() {
        let w = check(&format!(
            "{HEAD}[[steps]]\nid = \"second\"\nplugin = \"b\"\nneeds = [\"first\"]\n\
             [[steps]]\nid = \"first\"\nplugin = \"a\"\ninput = {{ limit = 3 }}\n"
        ))
        .expect("valid");
        let ids: Vec<&str> = w.steps.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["first", "second"]);
        assert_eq!(w.steps[0].input["limit"], 3);
        assert_eq!(w.plugin_names(), ["a", "b", "rev"]);
    }

    #[test]
    fn a_cycle_is_named() {
        let e = check(&format!(
            "{HEAD}[[steps]]\nid = \"x\"\nplugin = \"a\"\nneeds = [\"y\"]\n\
             [[steps]]\nid = \"y\"\nplugin = \"b\"\nneeds = [\"x\"]\n"
        ))
        .expect_err("cycle");
        assert!(e.contains("x -> y -> x"), "{e}");
    }

    #[test]
    fn refusals_name_the_problem() {
        for (body, needle) in [
            (
                "[[steps]]\nid = \"x\"\nplugin = \"nope\"\n",
                "plugin `nope`, which is not installed",
            ),
            (
                "[[steps]]\nid = \"x\"\nplugin = \"rev\"\n",
                "is a reviewer, not a tool",
            ),
            (
                "[[steps]]\nid = \"x\"\nplugin = \"a\"\nneeds = [\"z\"]\n",
                "needs `z`",
            ),
            (
                "[[steps]]\nid = \"x\"\nplugin = \"a\"\n[[steps]]\nid = \"x\"\nplugin = \"b\"\n",
                "two steps have the id `x`",
            ),
            (
                "[[steps]]\nid = \"x\"\nplugin = \"a\"\nretry = 3\n",
                "retry",
            ),
        ] {
            let e = check(&format!("{HEAD}{body}")).expect_err(needle);
            assert!(e.contains(needle), "expected `{needle}` in: {e}");
        }
    }

    #[test]
    fn the_reviewer_must_exist_and_be_a_reviewer() {
        let steps = "[[steps]]\nid = \"x\"\nplugin = \"a\"\n";
        let e = check(&format!("[workflow]\nname = \"w\"\n{steps}")).expect_err("no review");
        assert!(e.contains("no [review]"), "{e}");
        let e = check(&format!(
            "[workflow]\nname = \"w\"\n[review]\nplugin = \"a\"\n{steps}"
        ))
        .expect_err("tool as reviewer");
        assert!(e.contains("is a tool, not a reviewer"), "{e}");
    }
}
