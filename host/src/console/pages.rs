//! The console's HTML pages, as templates compiled into the binary (plain
//! `format!` over [`html::escape`]d parts): the runs list (and the rows the
//! live updates replace), a run's page, and message pages.
//!
//! Every value that did not come from the host's own code is escaped where
//! it is embedded; the pages hold no inline script or style (the
//! Content-Security-Policy set by [`crate::console::server`] forbids both),
//! only `/assets/console.js` and `/assets/console.css`.

use std::fmt::Write as _;

use crate::console::html::{self, escape};
use crate::render::json as inert_json;
use crate::run::approval;
use crate::run::blobs::Blobs;
use crate::run::changeset::{ChangeEntry, read_base};
use crate::run::event::Event;
use crate::run::journal::Record;
use crate::run::state::{NO_REVIEWER, RunState, RunStatus};
use crate::run::store::RunStore;
use crate::run::trace;
use crate::workflow_export::{self, Graph};

/// Longest event summary on the timeline, in characters.
const MAX_EVENT_CHARS: usize = 400;

/// A run's status as the filter and the pages spell it (the JSON name).
pub fn status_key(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Running => "running",
        RunStatus::WaitingApproval => "waiting-approval",
        RunStatus::Applying => "applying",
        RunStatus::Completed => "completed",
        RunStatus::Rejected => "rejected",
        RunStatus::Failed => "failed",
    }
}

const STATUSES: [RunStatus; 6] = [
    RunStatus::WaitingApproval,
    RunStatus::Running,
    RunStatus::Applying,
    RunStatus::Completed,
    RunStatus::Rejected,
    RunStatus::Failed,
];

/// A whole page: `title` (escaped here) and a body of ready HTML; with the
/// session's `csrf` token, the header holds the "log out" form.
pub fn layout(title: &str, body: &str, csrf: Option<&str>) -> String {
    let logout = csrf.map_or_else(String::new, |csrf| {
        format!(
            "<form method=\"post\" action=\"/logout\" class=\"logout\">\
<input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">log out</button></form>",
            html::attr(csrf)
        )
    });
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{}</title><link rel=\"stylesheet\" href=\"/assets/console.css\">\
<script src=\"/assets/console.js\" defer></script></head>\
<body><header><a href=\"/\" class=\"brand\">host console</a>{logout}</header><main>{body}</main></body></html>\n",
        escape(title)
    )
}

/// A page saying one thing (a refusal, a result), with a link back.
pub fn message(title: &str, text: &str, back: &str) -> String {
    layout(
        title,
        &format!(
            "<h1>{}</h1><pre class=\"message\" id=\"message\">{}</pre><p><a href=\"{}\">back</a></p>",
            escape(title),
            escape(text),
            html::attr(back)
        ),
        None,
    )
}

/// Every run of the store, newest first; runs that cannot be read are
/// listed with their error.
fn all_runs(store: &RunStore) -> Vec<Result<RunState, (String, String)>> {
    let ids = store.ids().unwrap_or_default();
    let mut runs: Vec<Result<RunState, (String, String)>> = ids
        .into_iter()
        .map(|id| store.peek(&id).map_err(|e| (id, e.to_string())))
        .collect();
    runs.sort_by(|a, b| {
        let key = |r: &Result<RunState, (String, String)>| match r {
            Ok(s) => (s.created_ms, s.id.clone()),
            Err((id, _)) => (0, id.clone()),
        };
        key(b).cmp(&key(a))
    });
    runs
}

/// How many runs wait for a person.
pub fn waiting_count(store: &RunStore) -> usize {
    all_runs(store)
        .iter()
        .filter(|r| matches!(r, Ok(s) if s.status == RunStatus::WaitingApproval))
        .count()
}

/// What a run waits for, in a few words.
pub fn waits_for(state: &RunState) -> String {
    match state.status {
        RunStatus::WaitingApproval => {
            let files = state.change_set.as_ref().map_or(0, |c| c.entries.len());
            format!(
                "approval ({files} file{})",
                if files == 1 { "" } else { "s" }
            )
        }
        RunStatus::Running | RunStatus::Applying => "its host (or `host resume` if idle)".into(),
        RunStatus::Completed | RunStatus::Rejected | RunStatus::Failed => "nothing".into(),
    }
}

/// The title of the runs page, with the number of waiting runs first.
pub fn runs_title(waiting: usize) -> String {
    format!("({waiting}) runs - host console")
}

/// The rows of the runs table (what live updates replace).
pub fn runs_rows(store: &RunStore, filter: Option<&str>) -> String {
    let mut out = String::new();
    for run in all_runs(store) {
        match run {
            Ok(state) => {
                if filter.is_some_and(|f| f != status_key(state.status)) {
                    continue;
                }
                let topic = state.topic().unwrap_or("");
                let _ = write!(
                    out,
                    "<tr class=\"run status-{key}\" data-run=\"{id_attr}\"><td><a href=\"/runs/{id_url}\">{id}</a></td>\
<td class=\"status\">{status}</td><td>{waits}</td><td>{workflow}</td><td>{topic}</td><td class=\"when\" data-ms=\"{ms}\">{ms}</td></tr>",
                    key = status_key(state.status),
                    id_attr = html::attr(&state.id),
                    id_url = html::url_component(&state.id),
                    id = escape(&state.id),
                    status = escape(&state.status.to_string()),
                    waits = escape(&waits_for(&state)),
                    workflow = escape(&state.workflow),
                    topic = escape(topic),
                    ms = state.created_ms,
                );
            }
            Err((id, error)) => {
                if filter.is_some() {
                    continue;
                }
                let _ = write!(
                    out,
                    "<tr class=\"run unreadable\"><td>{}</td><td colspan=\"5\">unreadable: {}</td></tr>",
                    escape(&id),
                    escape(&error)
                );
            }
        }
    }
    out
}

/// The runs page.
pub fn runs_page(store: &RunStore, filter: Option<&str>, csrf: &str) -> String {
    let mut filters = String::from("<nav class=\"filters\">filter: ");
    let _ = write!(
        filters,
        "<a href=\"/\"{}>all</a>",
        if filter.is_none() {
            " class=\"on\""
        } else {
            ""
        }
    );
    for status in STATUSES {
        let key = status_key(status);
        let _ = write!(
            filters,
            " <a href=\"/?status={key}\"{}>{}</a>",
            if filter == Some(key) {
                " class=\"on\""
            } else {
                ""
            },
            escape(&status.to_string())
        );
    }
    filters.push_str("</nav>");
    let waiting = waiting_count(store);
    let body = format!(
        "<h1>Runs</h1>{filters}<p id=\"waiting\" data-waiting=\"{waiting}\">{waiting} waiting for approval</p>\
<table class=\"runs\" data-live=\"runs\" data-filter=\"{filter}\"><thead><tr><th>run</th><th>status</th><th>waits for</th><th>workflow</th><th>topic</th><th>created</th></tr></thead>\
<tbody id=\"runs\">{rows}</tbody></table>",
        filter = html::attr(filter.unwrap_or("")),
        rows = runs_rows(store, filter),
    );
    layout(&runs_title(waiting), &body, Some(csrf))
}

/// Where on the workflow graph the run stands.
fn position(state: &RunState) -> String {
    match state.status {
        RunStatus::Running => {
            let unfinished = state
                .step_order
                .iter()
                .rev()
                .find(|id| !state.step_done(id));
            match unfinished {
                Some(step) => workflow_export::step_node(step),
                // Without a reviewer, the steps lead to the gate.
                None if state.no_review => workflow_export::APPROVAL.to_string(),
                None => workflow_export::REVIEW.to_string(),
            }
        }
        RunStatus::WaitingApproval => workflow_export::APPROVAL.to_string(),
        RunStatus::Applying => workflow_export::APPLIED.to_string(),
        RunStatus::Completed => workflow_export::COMPLETED.to_string(),
        RunStatus::Rejected => workflow_export::REJECTED.to_string(),
        RunStatus::Failed => workflow_export::FAILED.to_string(),
    }
}

/// The workflow as boxes and arrows, with the run's position marked.
fn diagram(state: &RunState) -> String {
    let Some(plugins_dir) = &state.plugins_dir else {
        return "<p>this run records no plugins folder (a session run has no workflow)</p>".into();
    };
    let folder =
        match crate::folder::load_workflow(plugins_dir, state.workflow_path.as_deref(), &|_| {}) {
            Ok(folder) => folder,
            Err(e) => {
                return format!(
                    "<p class=\"refused\">cannot load the workflow: {}</p>",
                    escape(&format!("{e:#}"))
                );
            }
        };
    let graph = Graph::of(&folder.workflow);
    let here = position(state);
    let mut out = String::new();
    if graph.digest != state.workflow_digest {
        let _ = write!(
            out,
            "<p class=\"refused\">the workflow changed since this run started (now {}, the run's {}): the picture is today's</p>",
            escape(&graph.digest),
            escape(&state.workflow_digest)
        );
    }
    out.push_str("<ol class=\"diagram\">");
    for node in &graph.nodes {
        let outgoing: Vec<String> = graph
            .edges
            .iter()
            .filter(|e| e.from == node.id)
            .map(|e| format!("{} → {}", escape(&e.label), escape(&e.to)))
            .collect();
        let kind = serde_json::to_value(node.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let _ = write!(
            out,
            "<li class=\"node kind-{kind}{here_class}\" data-node=\"{id_attr}\"><b>{label}</b>{plugin}{marker}<small>{edges}</small></li>",
            kind = html::attr(&kind),
            here_class = if node.id == here { " here" } else { "" },
            id_attr = html::attr(&node.id),
            label = escape(&node.label),
            plugin = node
                .plugin
                .as_deref()
                .map(|p| format!(" <i>{}</i>", escape(p)))
                .unwrap_or_default(),
            marker = if node.id == here {
                " <span class=\"marker\">◀ this run</span>"
            } else {
                ""
            },
            edges = outgoing.join("<br>"),
        );
    }
    out.push_str("</ol>");
    out
}

/// The base bytes a change-set entry was bound to: its blob when the run
/// kept one, else the current file.
fn base_bytes(state: &RunState, blobs: &Blobs, entry: &ChangeEntry) -> Option<Vec<u8>> {
    let sha = entry.base_sha256.as_ref()?;
    if let Ok(bytes) = blobs.get(sha) {
        return Some(bytes);
    }
    let dir = crate::run::out_dir::open(&state.out_dir, state.out_dir_id).ok()?;
    read_base(&dir, &entry.path)
        .ok()
        .and_then(|b| b.bytes().map(<[u8]>::to_vec))
}

/// One diff as lines classed by kind. The `---`/`+++` file header is only
/// the lines before the first hunk: inside a hunk, an added line whose text
/// begins `++` (or a removed one beginning `--`) is an addition (removal),
/// never styled as a header.
fn diff_html(diff: &str) -> String {
    let mut out = String::from("<pre class=\"diff\">");
    let mut in_hunk = false;
    for line in diff.lines() {
        in_hunk |= line.starts_with("@@");
        let class = if !in_hunk && (line.starts_with("+++") || line.starts_with("---")) {
            "file"
        } else if line.starts_with("@@") {
            "hunk"
        } else if line.starts_with('+') {
            "add"
        } else if line.starts_with('-') {
            "del"
        } else {
            "ctx"
        };
        let _ = writeln!(
            out,
            "<span class=\"{class}\">{}</span>",
            html::escape_inert(line)
        );
    }
    out.push_str("</pre>");
    out
}

/// What the person sees of a run before deciding: for the run page.
#[derive(Debug, Default)]
pub struct Notice {
    /// A result to show at the top (already composed by the host).
    pub text: String,
    /// Whether it is a refusal.
    pub refused: bool,
}

/// The run page, or `None` when there is no such run.
pub fn run_page(store: &RunStore, id: &str, csrf: &str, notice: Option<&Notice>) -> Option<String> {
    let inspection = store.inspect(id).ok()?;
    let state = inspection.state;
    let blobs = store.blobs(&state.id).ok()?;
    let records = store
        .history(&state.id)
        .map(|h| h.records)
        .unwrap_or_default();
    let mut body = String::new();
    if let Some(n) = notice {
        let _ = write!(
            body,
            "<pre class=\"notice{}\" id=\"notice\">{}</pre>",
            if n.refused { " refused" } else { "" },
            escape(&n.text)
        );
    }
    // Only a run that has a topic shows one.
    let topic = state
        .topic()
        .map(|t| format!("<dt>topic</dt><dd>{}</dd>", escape(t)))
        .unwrap_or_default();
    let _ = write!(
        body,
        "<h1>run <span id=\"run-id\">{id}</span></h1>\
<dl class=\"facts\" id=\"facts\" data-run=\"{id_attr}\" data-status=\"{key}\">\
<dt>status</dt><dd id=\"status\">{status}</dd><dt>waits for</dt><dd>{waits}</dd>\
<dt>workflow</dt><dd>{workflow}</dd>{topic}<dt>output dir</dt><dd>{out}</dd></dl>",
        id = escape(&state.id),
        id_attr = html::attr(&state.id),
        key = status_key(state.status),
        status = escape(&state.status.to_string()),
        waits = escape(&waits_for(&state)),
        workflow = escape(&state.workflow),
        out = escape(&state.out_dir.display().to_string()),
    );
    for warning in &inspection.warnings {
        let _ = write!(
            body,
            "<p class=\"refused\">warning: {}</p>",
            escape(warning)
        );
    }
    body.push_str(&decisions(&state, store, csrf));
    body.push_str("<h2>Change set</h2>");
    body.push_str(&change_set(&state, &blobs));
    body.push_str("<h2>Review</h2>");
    body.push_str(&review(&state));
    body.push_str("<h2>Workflow</h2>");
    body.push_str(&diagram(&state));
    body.push_str("<h2>Steps and logs</h2>");
    body.push_str(&steps(&state));
    body.push_str("<h2>Tool-call policy decisions</h2>");
    body.push_str(&policy(&records));
    body.push_str("<h2>Timeline</h2>");
    body.push_str(&timeline(&records));
    Some(layout(
        &format!("run {} - host console", state.id),
        &body,
        Some(csrf),
    ))
}

/// A link to run `id`'s page.
fn run_link(id: &str) -> String {
    format!(
        "<a href=\"/runs/{}\">{}</a>",
        html::url_component(id),
        escape(id)
    )
}

/// The decision forms of a waiting run (with what an approval would run
/// into now), the decision of a decided one, and the revert button.
fn decisions(state: &RunState, store: &RunStore, csrf: &str) -> String {
    let mut out = String::from("<section id=\"decision\">");
    let id_url = html::url_component(&state.id);
    let csrf = html::attr(csrf);
    if let (Some(a), Some(from)) = (&state.amendment, &state.proposed_digest) {
        let _ = write!(
            out,
            "<p id=\"amended\">amended by {} (from proposal {}): dropped {}; edited {}</p>",
            escape(&a.by),
            escape(from),
            escape(&a.dropped.join(", ")),
            escape(&a.edited.join(", "))
        );
    }
    if let Some(a) = &state.approval {
        let _ = write!(
            out,
            "<p id=\"approved\">approved by {} (digest {}){}</p>",
            escape(&a.approver),
            escape(a.digest.as_deref().unwrap_or("")),
            a.reason
                .as_deref()
                .map(|r| format!(": {}", escape(r)))
                .unwrap_or_default()
        );
    }
    if let Some(r) = &state.rejection {
        let _ = write!(
            out,
            "<p id=\"rejected\">rejected by {}: {}</p>",
            escape(&r.approver),
            escape(r.reason.as_deref().unwrap_or(""))
        );
    }
    if let Some(f) = &state.failure {
        let _ = write!(out, "<p class=\"refused\" id=\"failure\">{}</p>", escape(f));
    }
    if let Some(of) = &state.revert_of {
        let _ = write!(out, "<p id=\"revert-of\">reverts run {}</p>", run_link(of));
        for r in &state.revert_refused {
            let _ = write!(
                out,
                "<p class=\"refused\">left alone: {}: {}</p>",
                escape(&r.path),
                escape(&r.reason)
            );
        }
    }
    for by in &state.reverted_by {
        let _ = write!(
            out,
            "<p class=\"reverted-by\">reverted by run {}</p>",
            run_link(by)
        );
    }
    if let Some(full) = state.continues() {
        let _ = write!(
            out,
            "<p id=\"continues\">continues session run {} (it was full)</p>",
            run_link(full)
        );
    }
    if let Some(next) = &state.continued_in {
        let _ = write!(
            out,
            "<p id=\"continued-in\">full: the session went on in run {}</p>",
            run_link(next)
        );
    }
    if state.status == RunStatus::WaitingApproval {
        let digest = state.change_set_digest.as_deref().unwrap_or("");
        // What an approval would run into now: a base file changed since
        // staging, a swapped output directory... An MCP session holds its
        // run for a moment at each call: waited for, briefly (a person's
        // `host approve` at its prompt holds it much longer).
        match store.open_within(&state.id, std::time::Duration::from_millis(250)) {
            Ok(run) => {
                if let Err(e) = approval::pending(&run) {
                    let _ = write!(
                        out,
                        "<pre class=\"refused\" id=\"stale\">approving now would be refused: {}</pre>",
                        escape(&crate::render::inert_lines(&crate::render::error_chain(&e)))
                    );
                }
            }
            Err(e) => {
                let _ = write!(
                    out,
                    "<pre class=\"refused\" id=\"stale\">{}</pre>",
                    escape(&crate::render::error_chain(&e))
                );
            }
        }
        let _ = write!(
            out,
            "<form method=\"post\" action=\"/runs/{id_url}/approve\" id=\"approve-form\" class=\"decide\">\
<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"digest\" value=\"{digest}\">\
<p>change set <code id=\"digest\">{digest_text}</code>: untick a file below to leave it out, or edit its text, then approve.</p>\
<label>reason (optional) <input name=\"reason\" id=\"approve-reason\"></label> <button type=\"submit\" id=\"approve\">Approve</button></form>\
<form method=\"post\" action=\"/runs/{id_url}/reject\" id=\"reject-form\" class=\"decide\">\
<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
<label>reason (required) <input name=\"reason\" id=\"reject-reason\" required></label> <button type=\"submit\" id=\"reject\">Reject</button></form>",
            digest = html::attr(digest),
            digest_text = escape(digest),
        );
    }
    let revertible = state.status == RunStatus::Completed
        && state.approval.is_some()
        && !state.applied.is_empty();
    if revertible {
        let _ = write!(
            out,
            "<form method=\"post\" action=\"/runs/{id_url}/revert\" id=\"revert-form\" class=\"decide\">\
<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
<p>Revert proposes a new run restoring every file this run wrote to its base bytes (it is approved like any run).</p>\
<button type=\"submit\" id=\"revert\">Propose a revert</button></form>"
        );
    }
    out.push_str("</section>");
    out
}

/// The change set, file by file: action, size, base and new sha256, the
/// diff, and (for a waiting run) the subset box and the editor.
fn change_set(state: &RunState, blobs: &Blobs) -> String {
    let Some(cs) = &state.change_set else {
        return "<p>no change set</p>".into();
    };
    let waiting = state.status == RunStatus::WaitingApproval;
    let mut out = String::new();
    for (i, e) in cs.entries.iter().enumerate() {
        let base = base_bytes(state, blobs, e);
        let new = e.new_sha256.as_ref().and_then(|sha| blobs.get(sha).ok());
        let diff = match &new {
            Some(new) => crate::render::diff(&e.path, base.as_deref(), new),
            None if e.new_sha256.is_some() => format!(
                "the staged blob of `{}` is missing or damaged\n",
                crate::render::inert(&e.path)
            ),
            None => crate::render::deletion(&e.path, base.as_deref()),
        };
        let written = if state.applied.contains(&e.path) {
            ", written"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<section class=\"file\" data-index=\"{i}\" data-path=\"{path_attr}\"><h3><code class=\"path\">{path}</code> ({action}, {size} bytes{written})</h3>\
<p class=\"shas\">base sha256 <code class=\"base-sha\">{base}</code><br>new sha256 <code class=\"new-sha\">{newsha}</code></p>",
            path_attr = html::attr(&e.path),
            path = escape(&e.path),
            action = e.action(),
            size = e.size,
            base = escape(e.base_sha256.as_deref().unwrap_or("none (a new file)")),
            newsha = escape(e.new_sha256.as_deref().unwrap_or("none (deleted)")),
        );
        if waiting {
            let _ = write!(
                out,
                "<label class=\"keep\"><input type=\"checkbox\" form=\"approve-form\" name=\"file\" value=\"{i}\" checked> write this file</label>"
            );
        }
        out.push_str(&diff_html(&diff));
        if waiting && let Some(new) = &new {
            match std::str::from_utf8(new).ok().and_then(html::textarea) {
                Some(text) => {
                    let _ = write!(
                        out,
                        "<details class=\"edit\"><summary>edit before approving</summary>\
<label><input type=\"checkbox\" form=\"approve-form\" name=\"edit\" value=\"{i}\"> write my edited text instead</label>\
<textarea form=\"approve-form\" name=\"text{i}\" rows=\"12\" spellcheck=\"false\">\n{text}</textarea></details>"
                    );
                }
                None => out.push_str(
                    "<p>not editable here (binary, or holds control or bidi characters): use <code>host approve --edit PATH=FILE</code></p>",
                ),
            }
        }
        out.push_str("</section>");
    }
    out
}

fn review(state: &RunState) -> String {
    let mut out = String::new();
    if let Some(r) = &state.review {
        let _ = write!(
            out,
            "<p id=\"verdict\">{} by {} (round {}): {}</p><ul id=\"findings\">",
            escape(&r.verdict.to_string()),
            escape(&r.plugin),
            r.round,
            escape(&r.summary)
        );
        for f in &r.findings {
            let _ = write!(
                out,
                "<li class=\"finding\">[{}] {}{}</li>",
                escape(&f.severity.to_string()),
                escape(&f.message),
                f.path
                    .as_deref()
                    .map(|p| format!(" (<code>{}</code>)", escape(p)))
                    .unwrap_or_default()
            );
        }
        out.push_str("</ul>");
    }
    if let Some(e) = &state.review_error {
        let _ = write!(
            out,
            "<p class=\"refused\">the review by {} gave no verdict: {}</p>",
            escape(&e.plugin),
            escape(&e.error)
        );
    }
    if state.no_review {
        let _ = write!(out, "<p id=\"verdict\">{}</p>", escape(NO_REVIEWER));
    }
    if out.is_empty() {
        out.push_str("<p>no review yet</p>");
    }
    out
}

fn steps(state: &RunState) -> String {
    if state.step_order.is_empty() {
        return "<p>no steps</p>".into();
    }
    let mut out = String::new();
    for id in &state.step_order {
        let Some(step) = state.steps.get(id) else {
            continue;
        };
        let outcome = match (&step.output_sha256, &step.error) {
            (Some(_), _) => format!("ok in {} ms", step.duration_ms.unwrap_or(0)),
            (None, Some(e)) => format!("failed: {e}"),
            (None, None) => "started, not finished".into(),
        };
        let _ = write!(
            out,
            "<section class=\"step\"><h3>{} <i>{}</i> (attempt {}): {}</h3><pre class=\"logs\">",
            escape(id),
            escape(&step.plugin),
            step.attempt,
            escape(&outcome)
        );
        for log in &step.logs {
            let level = serde_json::to_value(log.level)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "{} {}",
                escape(&level),
                html::escape_inert(&crate::render::inert(&log.message))
            );
        }
        if step.logs.is_empty() {
            out.push_str("(no logs)");
        }
        out.push_str("</pre></section>");
    }
    out
}

fn policy(records: &[Record]) -> String {
    let rows: Vec<String> = records
        .iter()
        .filter_map(|r| match &r.event {
            Event::PolicyDecided {
                call,
                action,
                rule,
                answer,
                allowed,
                reason,
            } => Some(format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(call),
                escape(action),
                escape(rule.as_deref().unwrap_or("-")),
                escape(answer.as_deref().unwrap_or("-")),
                if *allowed { "allowed" } else { "refused" },
                escape(reason)
            )),
            _ => None,
        })
        .collect();
    if rows.is_empty() {
        return "<p>no tool calls decided by policy</p>".into();
    }
    format!(
        "<table class=\"policy\"><thead><tr><th>call</th><th>action</th><th>rule</th><th>answer</th><th>outcome</th><th>reason</th></tr></thead><tbody>{}</tbody></table>",
        rows.concat()
    )
}

/// The journal as `host trace` shows it: offset, type, the event itself.
fn timeline(records: &[Record]) -> String {
    let timings = trace::timings(records);
    let mut out = format!(
        "<p>{} events over {} ms</p><table class=\"timeline\" id=\"timeline\"><thead><tr><th>+ms</th><th>event</th><th>details</th></tr></thead><tbody>",
        records.len(),
        timings.last_event_ms
    );
    for r in records {
        let mut details = inert_json::to_string(&r.event).unwrap_or_default();
        if details.chars().count() > MAX_EVENT_CHARS {
            details = details.chars().take(MAX_EVENT_CHARS).collect::<String>() + "…";
        }
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            trace::offset(records, r),
            r.event.name(),
            escape(&details)
        );
    }
    out.push_str("</tbody></table>");
    if !timings.attempts.is_empty() {
        out.push_str("<table class=\"attempts\"><thead><tr><th>step</th><th>attempt</th><th>round</th><th>started</th><th>elapsed ms</th><th>plugin ms</th><th>outcome</th></tr></thead><tbody>");
        for a in &timings.attempts {
            let [attempt, round, started, _ended, elapsed, plugin] = a
                .columns()
                .map(|v| v.map(|m| m.to_string()).unwrap_or_default());
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{attempt}</td><td>{round}</td><td>+{started}</td><td>{elapsed}</td><td>{plugin}</td><td>{}</td></tr>",
                escape(&a.step),
                a.outcome
            );
        }
        out.push_str("</tbody></table>");
    }
    if let Some(w) = &timings.approval_wait {
        let _ = write!(
            out,
            "<p>waited for a person: from +{} ms{}</p>",
            w.started_ms,
            w.elapsed_ms
                .map(|e| format!(", {e} ms, {}", w.outcome.unwrap_or("")))
                .unwrap_or_else(|| ", still waiting".into())
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inside a hunk, `+++`/`---` lines are an addition and a removal: only
    /// the lines before the first hunk are the file header.
    #[test]
    fn lines_that_look_like_a_header_inside_a_hunk_are_classed_by_their_sign() {
        let diff = "--- a/x\n+++ b/x\n@@ -1 +1,2 @@\n--- old\n+++ b/.bashrc\n ctx\n";
        let html = diff_html(diff);
        let classes: Vec<&str> = html
            .split("<span class=\"")
            .skip(1)
            .map(|s| s.split('"').next().expect("class"))
            .collect();
        assert_eq!(
            classes,
            ["file", "file", "hunk", "del", "add", "ctx"],
            "{html}"
        );
    }

    /// A run just created, from a workflow with or without `[review]`.
    fn created(no_review: bool) -> RunState {
        let mut event = Event::test_created("/ws", "/out");
        if let Event::RunCreated {
            no_review: flag, ..
        } = &mut event
        {
            *flag = no_review;
        }
        let record = Record {
            seq: 0,
            at_ms: 0,
            hash: "h".into(),
            event,
        };
        RunState::from_records("r1", &[record]).expect("state")
    }

    #[test]
    fn a_session_run_links_the_run_it_continues_and_the_one_it_went_on_in() {
        let mut event = Event::test_created("/ws", "/out");
        if let Event::RunCreated {
            workflow, params, ..
        } = &mut event
        {
            *workflow = crate::folder::SESSION_WORKFLOW.into();
            *params = serde_json::json!({"via": "mcp", "continues": "r0<b>"});
        }
        let records = [
            Record {
                seq: 0,
                at_ms: 0,
                hash: "h0".into(),
                event,
            },
            Record {
                seq: 1,
                at_ms: 1,
                hash: "h1".into(),
                event: Event::SessionContinued { run: "r2".into() },
            },
        ];
        let state = RunState::from_records("r1", &records).expect("state");
        let tmp = tempfile::tempdir().expect("tempdir");
        let html = decisions(&state, &RunStore::new(tmp.path()), "t");
        assert!(
            html.contains(
                "continues session run <a href=\"/runs/r0%3Cb%3E\">r0&lt;b&gt;</a> (it was full)"
            ),
            "{html}"
        );
        assert!(
            html.contains("the session went on in run <a href=\"/runs/r2\">r2</a>"),
            "{html}"
        );
        // A workflow's parameter of that name is no session's link.
        let mut workflow = state.clone();
        workflow.workflow = "w".into();
        workflow.continued_in = None;
        assert!(!decisions(&workflow, &RunStore::new(tmp.path()), "t").contains("continues"));
    }

    #[test]
    fn a_run_without_review_says_no_reviewer_ran_instead_of_a_verdict() {
        let html = review(&created(true));
        assert!(
            html.contains("<p id=\"verdict\">no reviewer ran (the workflow has no [review])</p>"),
            "{html}"
        );
        assert!(!html.contains("no review yet"), "{html}");
        assert_eq!(position(&created(true)), workflow_export::APPROVAL);

        let html = review(&created(false));
        assert_eq!(html, "<p>no review yet</p>");
        assert_eq!(position(&created(false)), workflow_export::REVIEW);
    }
}
