//! The workflow as a graph of the transitions the runner can take, rendered
//! as text, JSON or a Mermaid flowchart (`host workflow`).
//!
//! The graph is derived from the same validated [`Workflow`] value that
//! [`crate::run::executor`] executes, and the edges out of the review are
//! the executor's own decision ([`after_review::outcomes`]), so the picture
//! cannot drift from the behaviour: one node per step (with its plugin, timeout and retry policy),
//! the review (none when the workflow has no `[review]`: the last steps then
//! lead to the gate), the approval gate and the ends a run can reach
//! (`applied`, `completed`, `rejected`, `failed`); one labelled edge per transition.
//!
//! Workflow names, descriptions and step inputs are free text anyone who can
//! edit `workflow.toml` wrote. Text output goes through [`inert`]; Mermaid
//! labels are additionally entity-encoded so no character can close a label,
//! start a new statement or inject a `%%{init}%%` directive.

use std::fmt::Write as _;

use serde::Serialize;

use crate::render::inert;
use crate::workflow::after_review::{self, Next};
use crate::workflow::{Review, Step, Workflow};

/// Node id of the run's start.
pub const START: &str = "start";
/// Node id of the reviewer.
pub const REVIEW: &str = "review";
/// Node id of the human approval gate.
pub const APPROVAL: &str = "approval";
/// Node id of "approved writes are being put on disk".
pub const APPLIED: &str = "applied";
/// Node id of a completed run.
pub const COMPLETED: &str = "completed";
/// Node id of a run rejected by the reviewer or by a person.
pub const REJECTED: &str = "rejected";
/// Node id of a failed run.
pub const FAILED: &str = "failed";

/// The gate and the ends every workflow shares, in the order they are drawn:
/// id, kind, label, and the edges out of each (target, label).
#[expect(
    clippy::type_complexity,
    reason = "a table read once, right below; a named type would only hide its columns"
)]
const GATE_AND_ENDS: &[(&str, NodeKind, &str, &[(&str, &str)])] = &[
    (
        APPROVAL,
        NodeKind::Gate,
        "approval gate: a person decides",
        &[(APPLIED, "approve"), (REJECTED, "reject")],
    ),
    (
        APPLIED,
        NodeKind::End,
        "applied: approved bytes written",
        &[(COMPLETED, "all writes on disk"), (FAILED, "apply error")],
    ),
    (COMPLETED, NodeKind::End, "completed", &[]),
    (REJECTED, NodeKind::End, "rejected: nothing written", &[]),
    (FAILED, NodeKind::End, "failed", &[]),
];

/// Prefix of step node ids: `step:<id>`, so a step called `review` cannot
/// collide with the review node.
pub const STEP_PREFIX: &str = "step:";

/// Step inputs longer than this (in characters) are cut in node labels.
const MAX_INPUT_LABEL_CHARS: usize = 60;

/// What a node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeKind {
    Start,
    Step,
    Review,
    Gate,
    End,
}

/// A step's retry policy, in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetryInfo {
    pub max_attempts: u32,
    pub backoff_ms: u64,
    pub max_backoff_ms: u64,
}

/// One node of the graph. Step-only and review-only fields are omitted
/// from JSON when they do not apply.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Node {
    pub id: String,
    pub kind: NodeKind,
    pub label: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needs: Option<Vec<String>>,
    /// The step's cap on the plugin's own timeout; `None`: the plugin's limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<serde_json::Map<String, serde_json::Value>>,
    /// On the review node: the re-draft budget.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_redrafts: Option<u32>,
}

impl Node {
    fn fixed(id: &str, kind: NodeKind, label: &str) -> Node {
        Node {
            id: id.to_string(),
            kind,
            label: label.to_string(),
            step: None,
            plugin: None,
            needs: None,
            timeout_ms: None,
            retry: None,
            input: None,
            max_redrafts: None,
        }
    }
}

/// One transition the runner can take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub label: String,
}

/// The workflow as a graph.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Graph {
    pub name: String,
    pub description: String,
    pub digest: String,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

/// The node id of step `id`.
pub fn step_node(id: &str) -> String {
    format!("{STEP_PREFIX}{id}")
}

impl Graph {
    /// Derive the graph from the workflow the runner executes.
    pub fn of(workflow: &Workflow) -> Graph {
        let mut nodes = vec![Node::fixed(START, NodeKind::Start, "start")];
        let mut edges = Vec::new();
        let edge = |from: &str, to: &str, label: &str| Edge {
            from: from.to_string(),
            to: to.to_string(),
            label: label.to_string(),
        };

        for step in &workflow.steps {
            let id = step_node(&step.id);
            nodes.push(step_node_of(step));
            if step.needs.is_empty() {
                edges.push(edge(START, &id, "start"));
            }
            // In execution order, so the edges read top to bottom.
            for need in workflow.steps.iter().filter(|s| step.needs.contains(&s.id)) {
                edges.push(edge(&step_node(&need.id), &id, "output"));
            }
            if step.retry.max_attempts > 1 {
                edges.push(edge(
                    &id,
                    &id,
                    &format!(
                        "retry (transient, up to {} attempts)",
                        step.retry.max_attempts
                    ),
                ));
            }
            edges.push(edge(&id, FAILED, "error"));
        }
        // The review (or, without one, the gate) comes once every step is
        // done: the steps nobody needs are the last to finish.
        let last: Vec<String> = workflow
            .steps
            .iter()
            .filter(|step| !workflow.steps.iter().any(|s| s.needs.contains(&step.id)))
            .map(|step| step_node(&step.id))
            .collect();
        match &workflow.review {
            Some(spec) => {
                for id in &last {
                    edges.push(edge(id, REVIEW, "all steps done"));
                }
                let mut review = Node::fixed(
                    REVIEW,
                    NodeKind::Review,
                    &format!("review by {}", spec.plugin),
                );
                review.plugin = Some(spec.plugin.clone());
                review.max_redrafts = Some(spec.redraft.as_ref().map_or(0, |r| r.max_rounds));
                if !spec.input.is_empty() {
                    review.input = Some(spec.input.clone());
                }
                nodes.push(review);
                // The executor's own decision, enumerated.
                for (label, next) in after_review::outcomes(workflow) {
                    let to = match (next, &spec.redraft) {
                        (Next::Redraft { .. }, Some(redraft)) => step_node(&redraft.step),
                        (Next::Redraft { .. }, None) => continue,
                        (Next::Approval, _) => APPROVAL.to_string(),
                        (Next::Rejected, _) => REJECTED.to_string(),
                    };
                    edges.push(edge(REVIEW, &to, &label));
                }
                // A run with nothing to write passes the gate (`request_approval`).
                edges.push(edge(REVIEW, COMPLETED, "no writes"));
                edges.push(edge(REVIEW, FAILED, "error"));
            }
            None => {
                // No reviewer: the steps lead to the gate (or, with nothing
                // to write, past it), as `request_approval` does.
                for id in &last {
                    edges.push(edge(id, APPROVAL, "all steps done (no review)"));
                    edges.push(edge(id, COMPLETED, "all steps done, no writes"));
                }
            }
        }

        for (id, kind, label, out) in GATE_AND_ENDS {
            nodes.push(Node::fixed(id, *kind, label));
            for (to, label) in *out {
                edges.push(edge(id, to, label));
            }
        }

        Graph {
            name: workflow.name.clone(),
            description: workflow.description.clone(),
            digest: workflow.digest.clone(),
            nodes,
            edges,
        }
    }

    /// The graph as a Mermaid `flowchart TD`. Every label is quoted and
    /// entity-encoded ([`mermaid_text`]); node ids are derived ([`mermaid_id`]).
    pub fn to_mermaid(&self) -> String {
        let mut out = String::from("flowchart TD\n");
        for node in &self.nodes {
            let id = mermaid_id(&node.id);
            let label = match node.kind {
                NodeKind::Start if !self.name.is_empty() || !self.description.is_empty() => {
                    let mut text = format!("start: {}", self.name);
                    if !self.description.is_empty() {
                        let _ = write!(text, " - {}", self.description);
                    }
                    mermaid_text(&text)
                }
                NodeKind::Step => match node.input.as_ref().filter(|i| !i.is_empty()) {
                    Some(input) => {
                        let json = serde_json::Value::Object(input.clone()).to_string();
                        // The line break is the renderer's own markup; both
                        // texts around it are encoded.
                        format!(
                            "{}<br/>{}",
                            mermaid_text(&node.label),
                            mermaid_text(&format!("input: {}", truncate(&json)))
                        )
                    }
                    None => mermaid_text(&node.label),
                },
                _ => mermaid_text(&node.label),
            };
            let (open, close) = match node.kind {
                NodeKind::Start => ("([", "])"),
                NodeKind::Step => ("[", "]"),
                NodeKind::Review => ("[[", "]]"),
                NodeKind::Gate => ("{", "}"),
                NodeKind::End => ("(", ")"),
            };
            let _ = writeln!(out, "    {id}{open}\"{label}\"{close}");
        }
        for edge in &self.edges {
            let _ = writeln!(
                out,
                "    {} -->|\"{}\"| {}",
                mermaid_id(&edge.from),
                mermaid_text(&edge.label),
                mermaid_id(&edge.to)
            );
        }
        out
    }

    /// A readable listing: the steps in execution order, the review and its
    /// re-draft policy, the gate, then every transition.
    pub fn to_text(&self, workflow: &Workflow) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "workflow {} (digest {})",
            inert(&workflow.name),
            short(&workflow.digest)
        );
        if !workflow.description.is_empty() {
            let _ = writeln!(out, "  {}", inert(&workflow.description));
        }
        let _ = writeln!(
            out,
            "  file: {}",
            inert(&workflow.path.display().to_string())
        );
        let _ = writeln!(
            out,
            "\nsteps, in execution order (a step starts once its needs are done; independent steps run in parallel):"
        );
        for (i, step) in workflow.steps.iter().enumerate() {
            let needs = if step.needs.is_empty() {
                "nothing (starts at once)".to_string()
            } else {
                step.needs.join(", ")
            };
            let _ = writeln!(
                out,
                "  {}. {}  plugin {}\n       needs: {needs}\n       timeout: {}\n       retry: {}",
                i + 1,
                inert(&step.id),
                inert(&step.plugin),
                timeout_text(step),
                retry_text(step)
            );
            if !step.input.is_empty() {
                let json = serde_json::Value::Object(step.input.clone()).to_string();
                let _ = writeln!(out, "       input: {}", inert(&json));
            }
        }
        match &workflow.review {
            Some(review) => review_text(&mut out, workflow, review),
            None => {
                let _ = writeln!(
                    out,
                    "\nreview: none (the workflow has no [review]): once all steps are done the run goes straight to the approval gate"
                );
            }
        }
        let _ = writeln!(
            out,
            "\napproval gate: a person approves (the approved bytes are written, run completed) or rejects (nothing written);\n  a run that proposes no writes completes without the gate"
        );
        let _ = writeln!(out, "\ntransitions:");
        for e in &self.edges {
            let _ = writeln!(
                out,
                "  {} -> {} ({})",
                inert(&e.from),
                inert(&e.to),
                inert(&e.label)
            );
        }
        out
    }
}

/// The review's part of the text listing: the reviewer, its input and
/// where each verdict leads.
fn review_text(out: &mut String, workflow: &Workflow, review: &Review) {
    let _ = writeln!(
        out,
        "\nreview: plugin {} reads every output and proposed write once all steps are done",
        inert(&review.plugin)
    );
    if !review.input.is_empty() {
        let json = serde_json::Value::Object(review.input.clone()).to_string();
        let _ = writeln!(out, "  input: {}", inert(&json));
    }
    let _ = writeln!(
        out,
        "  pass    -> approval gate\n  reject  -> run rejected, nothing written"
    );
    match &review.redraft {
        Some(r) => {
            let _ = writeln!(
                out,
                "  revise  -> re-draft: re-run {} with the review as input, then review again (at most {} times);\n            after the last re-draft -> approval gate, with the findings shown",
                workflow.downstream_of(&r.step).join(", "),
                r.max_rounds
            );
        }
        None => {
            let _ = writeln!(
                out,
                "  revise  -> approval gate, with the findings shown (no re-drafts configured)"
            );
        }
    }
}

fn step_node_of(step: &Step) -> Node {
    let mut node = Node::fixed(
        &step_node(&step.id),
        NodeKind::Step,
        &format!(
            "{} (plugin {}) timeout: {}, retry: {}",
            step.id,
            step.plugin,
            timeout_text(step),
            retry_text(step)
        ),
    );
    node.step = Some(step.id.clone());
    node.plugin = Some(step.plugin.clone());
    node.needs = Some(step.needs.clone());
    node.timeout_ms = step.timeout.map(|t| t.as_millis() as u64);
    node.retry = Some(RetryInfo {
        max_attempts: step.retry.max_attempts,
        backoff_ms: step.retry.backoff.as_millis() as u64,
        max_backoff_ms: step.retry.max_backoff.as_millis() as u64,
    });
    node.input = Some(step.input.clone());
    node
}

fn timeout_text(step: &Step) -> String {
    match step.timeout {
        Some(t) => format!("{} ms (caps the plugin's limit)", t.as_millis()),
        None => "the plugin's limit".to_string(),
    }
}

fn retry_text(step: &Step) -> String {
    let r = &step.retry;
    if r.max_attempts <= 1 {
        "none (one attempt)".to_string()
    } else {
        format!(
            "transient errors, up to {} attempts, backoff {} ms doubling to {} ms",
            r.max_attempts,
            r.backoff.as_millis(),
            r.max_backoff.as_millis()
        )
    }
}

fn short(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
}

fn truncate(text: &str) -> String {
    match text.char_indices().nth(MAX_INPUT_LABEL_CHARS) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

/// A Mermaid node id for graph node `id`: fixed nodes become `n_<id>`, steps
/// `s_<id>`, with every character but ASCII letters and digits written as
/// `_<hex>_` (so distinct ids stay distinct and none is a Mermaid keyword).
pub fn mermaid_id(id: &str) -> String {
    let (prefix, rest) = match id.strip_prefix(STEP_PREFIX) {
        Some(step) => ("s_", step),
        None => ("n_", id),
    };
    let mut out = String::from(prefix);
    for c in rest.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else {
            let _ = write!(out, "_{:x}_", c as u32);
        }
    }
    out
}

/// Text safe inside a quoted Mermaid label: first made [`inert`] (no control,
/// bidi or invisible characters, newlines shown as `\n`), then every character
/// Mermaid gives a meaning to is written as an entity code (`"` as `#quot;`,
/// `<` as `#60;`, ...), so the text can neither close the label nor become
/// HTML, a new statement or a `%%{init}%%` directive.
pub fn mermaid_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in inert(text).chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' | '&' | '<' | '>' | '|' | '[' | ']' | '{' | '}' | '(' | ')' | '`' | '%' | ';' => {
                let _ = write!(out, "#{};", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::manifest::{Manifest, PluginKind};

    fn plugin(name: &str, kind: PluginKind) -> Manifest {
        crate::manifest::stub(name, kind)
    }

    fn workflow(text: &str) -> Workflow {
        let plugins = [
            plugin("a", PluginKind::Tool),
            plugin("b", PluginKind::Tool),
            plugin("rev", PluginKind::Reviewer),
        ];
        crate::workflow::parse(text, Path::new("workflow.toml"), &plugins).expect("valid workflow")
    }

    fn edges(g: &Graph) -> Vec<(String, String, String)> {
        g.edges
            .iter()
            .map(|e| (e.from.clone(), e.to.clone(), e.label.clone()))
            .collect()
    }

    fn e(from: &str, to: &str, label: &str) -> (String, String, String) {
        (from.into(), to.into(), label.into())
    }

    const DIAMOND: &str = "[workflow]\nname = \"w\"\ndescription = \"d\"\n\
        [review]\nplugin = \"rev\"\nmax-redrafts = 2\nredraft = \"left\"\n\
        [[steps]]\nid = \"join\"\nplugin = \"b\"\nneeds = [\"left\", \"right\"]\n\
        [[steps]]\nid = \"left\"\nplugin = \"a\"\ntimeout-ms = 500\nretry = { max-attempts = 3 }\n\
        [[steps]]\nid = \"right\"\nplugin = \"a\"\n";

    #[test]
    fn every_transition_of_a_diamond_with_retry_and_redraft_is_an_edge() {
        let g = Graph::of(&workflow(DIAMOND));
        let mut got = edges(&g);
        got.sort();
        let mut want = vec![
            e("start", "step:left", "start"),
            e("start", "step:right", "start"),
            e("step:left", "step:join", "output"),
            e("step:right", "step:join", "output"),
            e(
                "step:left",
                "step:left",
                "retry (transient, up to 3 attempts)",
            ),
            e("step:left", "failed", "error"),
            e("step:right", "failed", "error"),
            e("step:join", "failed", "error"),
            e("step:join", "review", "all steps done"),
            e("review", "approval", "pass"),
            e("review", "rejected", "reject"),
            e("review", "step:left", "revise (up to 2 re-drafts)"),
            e("review", "approval", "revise (after 2 re-drafts)"),
            e("review", "completed", "no writes"),
            e("review", "failed", "error"),
            e("approval", "applied", "approve"),
            e("approval", "rejected", "reject"),
            e("applied", "completed", "all writes on disk"),
            e("applied", "failed", "apply error"),
        ];
        want.sort();
        assert_eq!(got, want);
        let left = g.nodes.iter().find(|n| n.id == "step:left").expect("left");
        assert_eq!(left.timeout_ms, Some(500));
        assert_eq!(left.retry.as_ref().map(|r| r.max_attempts), Some(3));
        let ids: Vec<&str> = g.nodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "start",
                "step:left",
                "step:right",
                "step:join",
                "review",
                "approval",
                "applied",
                "completed",
                "rejected",
                "failed"
            ]
        );
    }

    #[test]
    fn without_redraft_revise_goes_to_the_gate_and_there_is_no_retry_loop() {
        let g = Graph::of(&workflow(
            "[workflow]\nname = \"w\"\n[review]\nplugin = \"rev\"\n[[steps]]\nid = \"x\"\nplugin = \"a\"\n",
        ));
        let got = edges(&g);
        assert!(got.contains(&e("review", "approval", "revise")));
        assert!(!got.iter().any(|(f, t, _)| f == t), "{got:?}");
        assert!(!got.iter().any(|(_, _, l)| l.contains("re-draft")));
    }

    #[test]
    fn without_review_the_steps_lead_to_the_gate_and_there_is_no_review_node() {
        let w = workflow(
            "[workflow]\nname = \"w\"\n[[steps]]\nid = \"x\"\nplugin = \"a\"\n\
             [[steps]]\nid = \"y\"\nplugin = \"b\"\nneeds = [\"x\"]\n",
        );
        let g = Graph::of(&w);
        assert!(!g.nodes.iter().any(|n| n.kind == NodeKind::Review), "{g:?}");
        let got = edges(&g);
        assert!(
            !got.iter().any(|(f, t, _)| f == REVIEW || t == REVIEW),
            "{got:?}"
        );
        assert!(got.contains(&e("step:y", "approval", "all steps done (no review)")));
        assert!(got.contains(&e("step:y", "completed", "all steps done, no writes")));
        assert!(!got.iter().any(|(f, t, _)| f == "step:x" && t == "approval"));
        let t = g.to_text(&w);
        assert!(
            t.contains("review: none (the workflow has no [review])"),
            "{t}"
        );
        assert!(!g.to_mermaid().contains("n_review"));
    }

    #[test]
    fn the_review_input_is_on_the_review_node() {
        let w = workflow(
            "[workflow]\nname = \"w\"\n[review]\nplugin = \"rev\"\ninput = { max-file-bytes = 9 }\n\
             [[steps]]\nid = \"x\"\nplugin = \"a\"\n",
        );
        let g = Graph::of(&w);
        let review = g
            .nodes
            .iter()
            .find(|n| n.id == REVIEW)
            .expect("review node");
        assert_eq!(
            review.input.as_ref().map(|i| i["max-file-bytes"].clone()),
            Some(9.into())
        );
        assert!(g.to_text(&w).contains("input: {\"max-file-bytes\":9}"));
    }

    #[test]
    fn a_step_named_like_a_fixed_node_does_not_collide() {
        let g = Graph::of(&workflow(
            "[workflow]\nname = \"w\"\n[review]\nplugin = \"rev\"\n[[steps]]\nid = \"review\"\nplugin = \"a\"\n",
        ));
        assert!(edges(&g).contains(&e("step:review", "review", "all steps done")));
        let m = g.to_mermaid();
        assert!(m.contains("s_review[") && m.contains("n_review[["), "{m}");
    }

    #[test]
    fn mermaid_ids_are_alphanumeric_and_distinct() {
        assert_eq!(mermaid_id("step:a-b"), "s_a_2d_b");
        assert_eq!(mermaid_id("end"), "n_end");
        assert_ne!(mermaid_id("step:a-b"), mermaid_id("step:a_b"));
        assert!(
            mermaid_id("step:x\"]; click")
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        );
    }

    #[test]
    fn mermaid_labels_cannot_be_broken_out_of() {
        let hostile =
            "x\"] --> evil[<script>alert(1)</script>]\n%%{init: {}}%% `a|b` #quot; \u{1b}[2J";
        let escaped = mermaid_text(hostile);
        for bad in [
            '"', '<', '>', '[', ']', '{', '}', '|', '`', '\n', '\u{1b}', '(', ')',
        ] {
            assert!(!escaped.contains(bad), "`{bad}` left in {escaped}");
        }
        assert!(
            escaped.starts_with("x#quot;#93; --#62; evil#91;#60;script#62;"),
            "{escaped}"
        );
        assert!(!escaped.contains("%%"), "{escaped}");
        // The `#` of a literal entity is itself encoded, so it shows as typed.
        assert!(escaped.contains("#35;quot#59;"), "{escaped}");
    }

    #[test]
    fn hostile_descriptions_and_inputs_stay_inside_their_labels() {
        let g = Graph::of(&workflow(
            "[workflow]\nname = \"w\\\"]\"\ndescription = \"\\\"] --> x[<script>alert(1)</script>\"\n\
             [review]\nplugin = \"rev\"\n\
             [[steps]]\nid = \"x\"\nplugin = \"a\"\ninput = { q = \"\\\"]<script>\" }\n",
        ));
        let m = g.to_mermaid();
        assert!(!m.contains("<script>"), "{m}");
        assert!(!m.contains("\\\"]"), "{m}");
        for line in m.lines().skip(1) {
            // Every line holds exactly the quotes the renderer put there.
            assert!(matches!(line.matches('"').count(), 2), "{line}");
        }
        assert!(
            m.contains("n_start([\"start: w#quot;#93; - #quot;#93; --#62; x#91;#60;script#62;"),
            "{m}"
        );
        assert!(
            m.contains(
                "<br/>input: #123;#quot;q#quot;:#quot;\\#quot;#93;#60;script#62;#quot;#125;"
            ),
            "{m}"
        );
    }

    #[test]
    fn long_inputs_are_cut_in_labels_on_a_char_boundary() {
        let text = "é".repeat(100);
        let cut = truncate(&text);
        assert_eq!(cut.chars().count(), MAX_INPUT_LABEL_CHARS + 3);
    }

    #[test]
    fn text_lists_steps_in_order_with_policies() {
        let w = workflow(DIAMOND);
        let t = Graph::of(&w).to_text(&w);
        let left = t.find("1. left").expect("left first");
        let right = t.find("2. right").expect("right second");
        let join = t.find("3. join").expect("join third");
        assert!(left < right && right < join, "{t}");
        assert!(t.contains("needs: left, right"), "{t}");
        assert!(t.contains("timeout: 500 ms"), "{t}");
        assert!(t.contains("up to 3 attempts"), "{t}");
        assert!(t.contains("re-run left, join"), "{t}");
        assert!(t.contains("at most 2 times"), "{t}");
        assert!(t.contains("review -> approval (pass)"), "{t}");
    }

    #[test]
    fn json_has_the_documented_shape() {
        let g = Graph::of(&workflow(DIAMOND));
        let v: serde_json::Value = serde_json::to_value(&g).expect("json");
        assert_eq!(v["name"], "w");
        assert_eq!(v["description"], "d");
        assert_eq!(v["digest"].as_str().map(str::len), Some(64));
        assert_eq!(v["nodes"][0]["kind"], "start");
        assert_eq!(v["nodes"][1]["plugin"], "a");
        assert_eq!(v["nodes"][1]["retry"]["max_attempts"], 3);
        assert!(v["nodes"][0].get("plugin").is_none());
        assert_eq!(v["edges"][0]["from"], "start");
    }
}
