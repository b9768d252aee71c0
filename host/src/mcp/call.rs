//! The governed call: the one path every tool call takes, from `host mcp`
//! and from `host call` alike.
//!
//! 1. check the arguments against the tool's input schema
//!    ([`crate::mcp::tools::Tool::check`]; a mismatch fails the call) and
//!    decide by the admin's [`Policy`]; journal `tool_call_requested` (the
//!    plugin's digest, the arguments' digest, the arguments themselves when
//!    small) with that decision (`policy_decided`) and, for a refused call,
//!    its `tool_call_failed`, in one durable write;
//! 2. an `ask` goes to the [`Asker`] after the request is journaled; its
//!    answer is journaled (`policy_decided`) before anything runs;
//! 3. invoke the plugin in a fresh sandbox with its grants and limits
//!    ([`crate::runtime::Plugin::invoke_tool_cancellable`]); its log,
//!    stdout and stderr lines go to the journal (bounded by the runtime)
//!    and to `tracing` (stderr), never to the caller's channel;
//! 4. vet and stage its proposals through [`crate::run::stage`] (the same
//!    gate as a workflow step), then journal `tool_call_finished` and what
//!    the session's pending change set becomes, in one durable write: a
//!    new set (`approval_requested`) after a decision or at the first
//!    staging call, else the waiting set grown by this call's entries
//!    (`change_set_extended`, with the whole set's new digest).
//!
//! Nothing is written to the output directory: the result says what was
//! staged, the digest, the run id and the `host approve` command.

use std::future::Future;
use std::pin::Pin;

use serde_json::json;

use crate::contract::{LogLevel, LogRecord, PluginError, StepInput, ToolOutput};
use crate::error_kind::ErrorKind;
use crate::grants::net::NetPolicy;
use crate::mcp::policy::Action;
use crate::mcp::session::Session;
use crate::render::inert;
use crate::run::changeset::ChangeSet;
use crate::run::event::{Event, StagedWrite};
use crate::run::stage::{self, Proposal};
use crate::run::state::RunStatus;
use crate::run::store::RunError;
use crate::runtime::{Cancel, Invocation, InvokeFailure};

/// Arguments whose JSON text is at most this long are journaled verbatim.
const JOURNALED_ARGUMENTS_MAX: usize = 4096;

/// A person's answer to a policy `ask`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The person allowed the call.
    Accept,
    /// The person refused the call.
    Decline,
    /// The person dismissed the question without answering.
    Cancel,
    /// The client cannot ask a person (no elicitation support).
    Unsupported,
    /// Not asked: the arguments are too long to show a person whole
    /// ([`QUESTION_ARGUMENTS_MAX`]), and a question that hides part of
    /// what it asks about would be answered blind.
    TooLong,
}

/// The longest arguments (compact JSON, bytes) a policy `ask` puts to a
/// person; a call with longer ones is refused without asking ([`Answer::TooLong`]).
pub const QUESTION_ARGUMENTS_MAX: usize = JOURNALED_ARGUMENTS_MAX;

impl Answer {
    /// The answer's name as the journal records it (`policy_decided`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::Decline => "decline",
            Self::Cancel => "cancel",
            Self::Unsupported => "unsupported",
            Self::TooLong => "too-long",
        }
    }
}

/// What a policy `ask` puts to the person.
#[derive(Debug, Clone)]
pub struct Question {
    /// The tool's plugin.
    pub plugin: String,
    /// The call's arguments, as the agent sent them (untrusted).
    pub arguments: serde_json::Value,
    /// The policy's reason (names the rule).
    pub reason: String,
}

impl Question {
    /// One paragraph for the person, inert, with the whole arguments (a
    /// question is only put when they fit: [`QUESTION_ARGUMENTS_MAX`]).
    pub fn message(&self) -> String {
        inert(&format!(
            "Allow the agent to call tool `{}` with {}? ({})",
            self.plugin, self.arguments, self.reason
        ))
    }
}

/// Who answers a policy `ask`.
pub trait Asker: Sync {
    /// Put `question` to a person and wait for the answer.
    fn ask<'a>(
        &'a self,
        question: &'a Question,
    ) -> Pin<Box<dyn Future<Output = Answer> + Send + 'a>>;
}

/// An [`Asker`] for callers that cannot ask anyone.
#[derive(Debug, Clone, Copy)]
pub struct NoAsker;

impl Asker for NoAsker {
    fn ask<'a>(
        &'a self,
        _question: &'a Question,
    ) -> Pin<Box<dyn Future<Output = Answer> + Send + 'a>> {
        Box::pin(std::future::ready(Answer::Unsupported))
    }
}

/// A call that returned a result.
#[derive(Debug, Clone)]
pub struct CallResult {
    /// The call's id in the session (`c1`, `c2`...).
    pub call: String,
    /// The tool's plugin.
    pub plugin: String,
    /// The session run the call is journaled in.
    pub run_id: String,
    /// The plugin's output (JSON).
    pub output: serde_json::Value,
    /// What this call staged.
    pub staged: Vec<StagedWrite>,
    /// The session's pending change set after this call, if any.
    pub pending: Option<PendingSet>,
    /// Wall time of the plugin call, in milliseconds.
    pub duration_ms: u64,
    /// `host --state-dir DIR`, for the commands the result names.
    pub host_command: String,
    /// The console's page of the session run, when it runs.
    pub console_link: Option<String>,
    /// The full session run this call's run continues, when this call was
    /// the first of the new run.
    pub continued_from: Option<String>,
}

/// The change set waiting for a person.
#[derive(Debug, Clone)]
pub struct PendingSet {
    /// The change set's digest, the one an approval must name.
    pub digest: String,
    /// How many files it touches.
    pub files: usize,
}

/// A call that did not return a result (the agent sees a tool error).
#[derive(Debug, Clone)]
pub struct CallFailure {
    /// The call's id in the session; `None` when it was refused before it
    /// was journaled.
    pub call: Option<String>,
    /// The tool's plugin (as the agent named it).
    pub plugin: String,
    /// `unknown-tool`, `invalid-arguments`, `policy-denied`, `write-denied`,
    /// a runtime failure kind, or the plugin's own error kind.
    pub kind: ErrorKind,
    /// What went wrong (untrusted when it is the plugin's own text).
    pub message: String,
    /// The session run the call is journaled in (or would have been).
    pub run_id: String,
}

impl CallResult {
    /// The text an agent reads (and `host call` prints).
    pub fn text(&self) -> String {
        let mut text = format!(
            "tool `{}` (call {}) returned: {}",
            inert(&self.plugin),
            self.call,
            crate::render::json::to_string(&self.output).unwrap_or_default()
        );
        if self.staged.is_empty() {
            text.push_str(&self.continued_note());
            return text;
        }
        text.push_str("\n\nNothing was written. Staged for a person's approval:");
        for w in &self.staged {
            let what = if w.sha256.is_some() {
                format!("write {} bytes", w.size)
            } else {
                "delete".to_string()
            };
            text.push_str(&format!("\n  {} ({what})", inert(&w.path)));
        }
        if let Some(p) = &self.pending {
            text.push_str(&format!(
                "\nSession run {} now waits for approval of change set {} ({} file(s)).\nA person reviews it with `{} show {}` and applies exactly those bytes with `{} approve {}`.",
                inert(&self.run_id),
                p.digest,
                p.files,
                self.host_command,
                inert(&self.run_id),
                self.host_command,
                inert(&self.run_id),
            ));
        }
        if let Some(link) = &self.console_link {
            text.push_str(&format!("\nIn the console: {}", inert(link)));
        }
        text.push_str(&self.continued_note());
        text
    }

    /// What a call that started a new session run says about the full one.
    fn continued_note(&self) -> String {
        let Some(full) = &self.continued_from else {
            return String::new();
        };
        format!(
            "\n\nSession run {} was full; this session goes on in run {}. A change set waiting in {} stays for a person (`{} show {}`).",
            inert(full),
            inert(&self.run_id),
            inert(full),
            self.host_command,
            inert(full),
        )
    }

    /// The `structuredContent` of the result.
    pub fn structured(&self) -> serde_json::Value {
        json!({
            "call": self.call,
            "plugin": self.plugin,
            "output": self.output,
            "staged": self.staged.iter().map(|w| json!({
                "path": w.path,
                "sha256": w.sha256,
                "size": w.size,
                "action": if w.sha256.is_some() { "write" } else { "delete" },
            })).collect::<Vec<_>>(),
            "run": self.run_id,
            "change_set_digest": self.pending.as_ref().map(|p| &p.digest),
            "approve": self.pending.as_ref().map(|_| format!("{} approve {}", self.host_command, self.run_id)),
            "show": self.pending.as_ref().map(|_| format!("{} show {}", self.host_command, self.run_id)),
            "console": self.console_link,
            "continues": self.continued_from,
            "duration_ms": self.duration_ms,
        })
    }
}

impl CallFailure {
    /// The text an agent reads (and `host call` prints), inert: a hint of
    /// the host's keeps its own line, the plugin's own message stays on one.
    pub fn text(&self) -> String {
        crate::render::inert_lines(&format!(
            "tool `{}` failed ({}): {}",
            inert(&self.plugin),
            self.kind,
            self.kind.shown_message(&self.message)
        ))
    }
}

impl Session {
    /// Make one governed call of tool `plugin` with `arguments`. The outer
    /// error means the session's journal could not be written (the call's
    /// fate is unknown to the journal); everything else is a [`CallFailure`].
    pub async fn call(
        &self,
        plugin: &str,
        arguments: serde_json::Value,
        asker: &dyn Asker,
        cancel: Option<&Cancel>,
    ) -> Result<Result<CallResult, CallFailure>, RunError> {
        let pinned = &self.pin().await?;
        let fail_unjournaled = |kind: ErrorKind, message: String| CallFailure {
            call: None,
            plugin: plugin.to_string(),
            kind,
            message,
            run_id: pinned.id.clone(),
        };
        let Some(tool) = self.tools.get(plugin) else {
            let names: Vec<&str> = self.tools.keys().map(String::as_str).collect();
            return Ok(Err(fail_unjournaled(
                ErrorKind::UnknownTool,
                format!(
                    "no tool `{}` in this session; the tools are: {}",
                    inert(plugin),
                    names.join(", ")
                ),
            )));
        };
        let text = arguments.to_string();
        let arguments_sha256 = crate::digest::sha256_hex(text.as_bytes());
        let journaled = if text.len() <= JOURNALED_ARGUMENTS_MAX {
            arguments.clone()
        } else {
            serde_json::Value::Null
        };
        // What is known before anyone is asked (the schema check, the
        // policy's decision when it is not `ask`) is journaled with the
        // request, in one durable write.
        let checked = tool.check(&arguments);
        let decision = checked
            .is_ok()
            .then(|| self.policy.decide(plugin, &arguments));
        let decided = decision.as_ref().filter(|d| d.action != Action::Ask);
        let refusal = |answer: Option<Answer>, reason: &str| match answer {
            None => format!("denied: {reason}"),
            Some(Answer::Unsupported) => format!(
                "refused: {reason}, and this client cannot ask a person (it did not declare the MCP elicitation capability); the call did not run"
            ),
            Some(Answer::TooLong) => format!(
                "refused: {reason}, and its arguments are longer than the {QUESTION_ARGUMENTS_MAX} bytes of JSON a person is shown whole, so nobody was asked (a question must not hide part of the call); the call did not run"
            ),
            Some(a) => format!("refused: {reason}; the person answered `{}`", a.as_str()),
        };
        // The failure a call ends in before it runs, if it does.
        let early: Option<(ErrorKind, String)> = match (&checked, decided) {
            (Err(message), _) => Some((ErrorKind::InvalidArguments, message.clone())),
            (Ok(()), Some(d)) if d.action == Action::Deny => {
                Some((ErrorKind::PolicyDenied, refusal(None, &d.reason)))
            }
            _ => None,
        };
        let plugin_sha256 = tool.plugin.sha256().to_string();
        let via = self.via.as_str().to_string();
        let effect_free = request_waits_for_end(
            decision.as_ref().map(|d| d.action),
            tool.plugin.grants().network(),
        );
        let call = pinned
            .with_run(early.is_none(), |run| {
                let call = format!("c{}", run.state().tool_calls + 1);
                let mut events = vec![Event::ToolCallRequested {
                    call: call.clone(),
                    plugin: plugin.to_string(),
                    plugin_sha256,
                    arguments_sha256,
                    arguments: journaled,
                    via,
                }];
                if let Some(d) = decided {
                    events.push(policy_event(&call, d, None, d.action == Action::Allow));
                }
                if let Some((kind, message)) = &early {
                    events.push(failed_event(&call, plugin, *kind, message, Vec::new()));
                }
                if effect_free {
                    run.record_with_next(events)?;
                } else {
                    run.record_all(events)?;
                }
                Ok(call)
            })
            .await?;
        let failure = |kind: ErrorKind, message: String| CallFailure {
            call: Some(call.clone()),
            plugin: plugin.to_string(),
            kind,
            message,
            run_id: pinned.id.clone(),
        };
        if let Some((kind, message)) = early {
            return Ok(Err(failure(kind, message)));
        }
        let call = &call;
        let failure = &failure;
        let failed = |kind: ErrorKind, message: String, logs: Vec<LogRecord>| async move {
            pinned
                .with_run(false, |run| {
                    run.record(failed_event(call, plugin, kind, &message, logs))
                })
                .await?;
            Ok::<_, RunError>(Err(failure(kind, message)))
        };

        // An `ask`: the person answers, then the decision is journaled.
        if let Some(decision) = decision.filter(|d| d.action == Action::Ask) {
            let answer = if arguments.to_string().len() > QUESTION_ARGUMENTS_MAX {
                Answer::TooLong
            } else {
                asker
                    .ask(&Question {
                        plugin: plugin.to_string(),
                        arguments: arguments.clone(),
                        reason: decision.reason.clone(),
                    })
                    .await
            };
            let allowed = answer == Answer::Accept;
            let refused = (!allowed).then(|| refusal(Some(answer), &decision.reason));
            pinned
                .with_run(allowed, |run| {
                    let mut events = vec![policy_event(call, &decision, Some(answer), allowed)];
                    if let Some(message) = &refused {
                        events.push(failed_event(
                            call,
                            plugin,
                            ErrorKind::PolicyDenied,
                            message,
                            Vec::new(),
                        ));
                    }
                    run.record_all(events)
                })
                .await?;
            if let Some(message) = refused {
                return Ok(Err(failure(ErrorKind::PolicyDenied, message)));
            }
        }

        let input = StepInput {
            input: text,
            needs: Vec::new(),
        };
        let result = tool
            .plugin
            .invoke_tool_cancellable(&input, None, cancel)
            .await;
        let invocation = match result {
            Ok(invocation) => invocation,
            Err(failure) => {
                log_lines(plugin, call, &failure.logs);
                let InvokeFailure { kind, logs, .. } = &failure;
                return failed(*kind, failure.to_string(), logs.clone()).await;
            }
        };
        log_lines(plugin, call, &invocation.logs);
        let Invocation {
            value,
            logs,
            duration,
            changes,
        } = invocation;
        let output: ToolOutput = match value {
            Ok(output) => output,
            Err(PluginError { kind, message }) => {
                return failed(kind.into(), message, logs).await;
            }
        };
        let output_json: serde_json::Value = match serde_json::from_str(&output.output) {
            Ok(v) => v,
            Err(e) => {
                let message = format!(
                    "plugin `{}` returned output that is not JSON: {e}",
                    inert(plugin)
                );
                return failed(ErrorKind::InvalidOutput, message, logs).await;
            }
        };
        let proposals: Vec<Proposal> = output
            .writes
            .into_iter()
            .map(Proposal::from)
            .chain(changes.into_iter().map(Proposal::from))
            .collect();
        let grants = tool.plugin.grants().clone();
        let duration_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        let output_text = output.output;
        let plugin_sha = tool.plugin.sha256().to_string();
        let staged = pinned
            .with_run(false, |run| {
                let state = run.state();
                if state.status == RunStatus::Applying {
                    return Ok(Err(stage::Refusal {
                        kind: ErrorKind::SessionBusy,
                        message: format!(
                            "the session's approved change set is still being applied; run `host resume {}` first",
                            run.id()
                        ),
                    }));
                }
                let state_before = state.status;
                let decided = matches!(
                    state.status,
                    RunStatus::Completed | RunStatus::Rejected | RunStatus::Failed
                );
                // A decided change set is over: the next one starts empty.
                let earlier: Vec<&StagedWrite> = if decided {
                    Vec::new()
                } else {
                    state.session_writes.iter().map(|(_, w)| w).collect()
                };
                let writes = match stage::vet(run.blobs(), &grants, &earlier, proposals)? {
                    Ok(writes) => writes,
                    Err(refusal) => return Ok(Err(refusal)),
                };
                let output_sha256 = run.blobs().put(output_text.as_bytes())?;
                let finished = Event::ToolCallFinished {
                    call: call.clone(),
                    plugin: plugin.to_string(),
                    plugin_sha256: plugin_sha,
                    output_blob: run.blobs().reference(&output_sha256),
                    output_sha256,
                    writes: writes.clone(),
                    logs: logs.clone(),
                    duration_ms,
                };
                if writes.is_empty() {
                    run.record(finished)?;
                    return Ok(Ok((writes, pending_of(run.state()))));
                }
                // Bound before anything is recorded, so that the call's end
                // and the set a person is asked about are one durable write.
                // A set already waiting grows by this call's writes only,
                // and the journal records only what they add.
                let bound = match (state_before, run.state().change_set.as_ref()) {
                    (RunStatus::WaitingApproval, Some(waiting)) => {
                        stage::bind(run.state(), &writes, run.blobs()).and_then(|added| {
                            let digest = waiting.digest_with(&added)?;
                            let files = waiting.entries.len() + added.len();
                            let asked = Event::ChangeSetExtended { added, digest: digest.clone() };
                            Ok((asked, digest, files))
                        })
                    }
                    _ => stage::bind(run.state(), earlier.iter().copied().chain(&writes), run.blobs())
                    .map(|entries| {
                        let change_set = ChangeSet::new(entries);
                        let digest = change_set.digest();
                        let files = change_set.entries.len();
                        let asked = Event::ApprovalRequested { change_set, digest: digest.clone() };
                        (asked, digest, files)
                    }),
                };
                let pending = match bound {
                    Ok((asked, digest, files)) => {
                        run.record_all(vec![finished, asked])?;
                        Some(PendingSet { digest, files })
                    }
                    Err(reason) => {
                        run.record_all(vec![
                            finished,
                            Event::RunFailed { step: None, reason: reason.clone() },
                        ])?;
                        return Ok(Err(stage::Refusal { kind: ErrorKind::StageFailed, message: reason }));
                    }
                };
                Ok(Ok((writes, pending)))
            })
            .await?;
        let (staged, pending) = match staged {
            Ok(staged) => staged,
            Err(refusal) => return failed(refusal.kind, refusal.message, logs).await,
        };
        Ok(Ok(CallResult {
            call: call.clone(),
            plugin: plugin.to_string(),
            run_id: pinned.id.clone(),
            output: output_json,
            staged,
            pending,
            duration_ms,
            host_command: format!(
                "host --state-dir {}",
                crate::render::inert_path(&self.state_dir)
            ),
            console_link: self.console_link(&pinned.id),
            continued_from: pinned.continued_from.clone(),
        }))
    }
}

/// Whether a call's request may become durable with its end, in one fsync,
/// before the result goes out ([`Run::record_with_next`]): the policy
/// allowed it without asking (nobody is asked, no refusal answered at once)
/// and its plugin cannot reach the network, so nothing outside the host
/// changes before the end is recorded (its proposed writes are staged with
/// the end; a read-write mount is a private copy).
///
/// [`Run::record_with_next`]: crate::run::store::Run::record_with_next
fn request_waits_for_end(action: Option<Action>, network: &NetPolicy) -> bool {
    action == Some(Action::Allow) && network.entries().is_empty()
}

/// The journal's record of the policy's decision on `call`.
fn policy_event(
    call: &str,
    decision: &crate::mcp::policy::Decision,
    answer: Option<Answer>,
    allowed: bool,
) -> Event {
    Event::PolicyDecided {
        call: call.to_string(),
        action: decision.action.as_str().to_string(),
        rule: decision.rule.clone(),
        answer: answer.map(|a| a.as_str().to_string()),
        allowed,
        reason: decision.reason.clone(),
    }
}

/// The journal's record of `call` failing.
fn failed_event(
    call: &str,
    plugin: &str,
    kind: ErrorKind,
    message: &str,
    logs: Vec<LogRecord>,
) -> Event {
    Event::ToolCallFailed {
        call: call.to_string(),
        plugin: plugin.to_string(),
        error_kind: kind,
        message: message.to_string(),
        logs,
    }
}

/// The change set the session waits on, if it waits.
fn pending_of(state: &crate::run::state::RunState) -> Option<PendingSet> {
    if state.status != RunStatus::WaitingApproval {
        return None;
    }
    Some(PendingSet {
        digest: state.change_set_digest.clone()?,
        files: state.change_set.as_ref().map_or(0, |c| c.entries.len()),
    })
}

/// A plugin's lines go to the host's log (stderr), inert, never to stdout.
fn log_lines(plugin: &str, call: &str, logs: &[LogRecord]) {
    for record in logs {
        let message = inert(&record.message);
        match record.level {
            LogLevel::Error | LogLevel::Warn => {
                tracing::warn!(target: "plugin", plugin, call, "{message}");
            }
            _ => tracing::info!(target: "plugin", plugin, call, "{message}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network(entries: &[&str]) -> NetPolicy {
        let entries: Vec<_> = entries
            .iter()
            .map(|e| crate::network_grant::parse_network_entry(e).expect("entry"))
            .collect();
        NetPolicy::resolve(
            "probe",
            std::path::PathBuf::from("/plugins/probe/plugin.toml"),
            &entries,
            &|_, _| Err(std::io::Error::other("no names here")),
        )
        .expect("resolves")
    }

    #[test]
    fn only_an_allowed_call_that_cannot_reach_the_network_waits_for_its_end_to_be_durable() {
        let none = network(&[]);
        let some = network(&["127.0.0.1:8080"]);
        assert!(request_waits_for_end(Some(Action::Allow), &none));
        // It could send something out before its end is recorded.
        assert!(!request_waits_for_end(Some(Action::Allow), &some));
        // A person is asked, or a refusal goes out at once.
        for action in [Some(Action::Ask), Some(Action::Deny), None] {
            assert!(!request_waits_for_end(action, &none), "{action:?}");
            assert!(!request_waits_for_end(action, &some), "{action:?}");
        }
    }
}
