//! The MCP server (`host mcp`): the session's tools over the Model Context
//! Protocol, with the official Rust SDK (`rmcp`). This module is glue only:
//! every `tools/call` goes through [`Session::call`], the same governed
//! path as `host call`.
//!
//! - `tools/list`: one tool per tool plugin, sorted by name, with the
//!   plugin's title, summary and input schema from `describe()`, and
//!   `readOnlyHint` / `openWorldHint` derived from its grants.
//! - `tools/call`: at most `--max-concurrent` calls run at once (the rest
//!   wait); each is cancelled by the client's `notifications/cancelled`
//!   (the request's cancellation token sets the invocation's [`Cancel`]).
//!   Every refusal and failure is a tool error (`isError: true`), never a
//!   protocol error, except an unknown tool name.
//! - A policy `ask` becomes a form elicitation to the client: a request to
//!   the client in 2025-11-25, an `input_required` result answered by the
//!   call's retry in 2026-07-28 (its `requestState` bound to the plugin and
//!   arguments). A client that did not declare elicitation gets a refusal
//!   that says so.
//! - Nothing an agent can call grants, approves or changes policy: the
//!   server exposes tools and nothing else.
//!
//! Guest output never reaches this channel: plugins write to in-memory
//! pipes ([`crate::runtime`]); their lines go to the journal and to stderr.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ElicitRequestParams,
    ElicitationAction, ElicitationSchema, Implementation, InputRequest, InputRequiredResult,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool as McpTool,
    ToolAnnotations,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ErrorData, Peer, ServerHandler};

use crate::mcp::call::{Answer, Asker, QUESTION_ARGUMENTS_MAX, Question};
use crate::mcp::loading::{Loading, Phase};
use crate::mcp::policy::Action;
use crate::mcp::session::Session;
use crate::mcp::tools::Tool;
use crate::runtime::Cancel;

/// How long a person has to answer a policy `ask`.
const ASK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// The server's state: the session (once loaded) and the call limit.
#[derive(Debug, Clone)]
pub struct Server {
    loading: Arc<Loading>,
    /// Binds an `input_required` round trip's `requestState` to the call's
    /// plugin and arguments (a state never authorises another call).
    secret: Arc<str>,
    slots: Arc<tokio::sync::Semaphore>,
}

impl Server {
    /// Serve the session `loading` produces, at most `max_concurrent`
    /// calls at once.
    pub fn new(loading: Arc<Loading>, max_concurrent: usize) -> std::io::Result<Server> {
        Ok(Server {
            secret: Arc::from(random_hex()?),
            loading,
            slots: Arc::new(tokio::sync::Semaphore::new(max_concurrent.max(1))),
        })
    }

    /// The session, once loaded; progress notifications meanwhile when the
    /// request asked for them.
    async fn session(
        &self,
        context: &RequestContext<RoleServer>,
    ) -> Result<Arc<Session>, ErrorData> {
        let token = context.meta.get_progress_token();
        self.loading
            .wait(&context.peer, token.as_ref())
            .await
            .map_err(|message| {
                ErrorData::internal_error(
                    format!("the host could not load its tools: {message}"),
                    None,
                )
            })
    }
}

/// What a policy `ask` needs in the 2026-07-28 era, where the server may
/// not send the client requests: an `input_required` result first, then
/// the call again carrying the person's answer.
enum ModernAsk {
    NotNeeded,
    Answered(Answer),
    Request(InputRequiredResult),
    Invalid(String),
}

/// The key of the answer in `inputRequests` / `inputResponses`.
const ASK_KEY: &str = "policy-ask";

impl Server {
    fn modern_ask(
        &self,
        session: &Session,
        name: &str,
        arguments: &serde_json::Value,
        responses: &Option<rmcp::model::InputResponses>,
        state: Option<&str>,
        context: &RequestContext<RoleServer>,
    ) -> ModernAsk {
        let modern = context
            .protocol_version()
            .is_some_and(|v| !v.has_initialize());
        if !modern || session.decide(name, arguments).action != Action::Ask {
            return ModernAsk::NotNeeded;
        }
        if arguments.to_string().len() > QUESTION_ARGUMENTS_MAX {
            // Never put to a person in part (the governed call refuses it).
            return ModernAsk::Answered(Answer::TooLong);
        }
        let bound = crate::digest::sha256_hex_parts([
            self.secret.as_bytes(),
            name.as_bytes(),
            arguments.to_string().as_bytes(),
        ]);
        if let Some(response) = responses.as_ref().and_then(|r| r.get(ASK_KEY)) {
            if state != Some(bound.as_str()) {
                return ModernAsk::Invalid(
                    "refused: the answer's requestState does not belong to this call (plugin and arguments must be the ones asked about)".to_string(),
                );
            }
            let answer = match response.get("action").and_then(|a| a.as_str()) {
                Some("accept") => Answer::Accept,
                Some("decline") => Answer::Decline,
                _ => Answer::Cancel,
            };
            return ModernAsk::Answered(answer);
        }
        let elicits = context
            .meta
            .client_capabilities()
            .is_some_and(|c| c.elicitation.is_some());
        if !elicits {
            return ModernAsk::Answered(Answer::Unsupported);
        }
        let question = Question {
            plugin: name.to_string(),
            arguments: arguments.clone(),
            reason: session.decide(name, arguments).reason,
        };
        let request = rmcp::model::ElicitRequest::new(ElicitRequestParams::FormElicitationParams {
            meta: None,
            message: question.message(),
            requested_schema: ElicitationSchema::builder().build_unchecked(),
        });
        let mut requests = rmcp::model::InputRequests::new();
        requests.insert(ASK_KEY.to_string(), InputRequest::Elicitation(request));
        ModernAsk::Request(InputRequiredResult::new(Some(requests), Some(bound)))
    }
}

/// 32 random bytes from the OS, hex.
pub fn random_hex() -> std::io::Result<String> {
    use std::io::Read as _;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// The MCP description of one tool.
fn mcp_tool(tool: &Tool) -> McpTool {
    McpTool::new(
        tool.name.clone(),
        tool.summary.clone(),
        Arc::new(tool.input_schema.clone()),
    )
    .with_title(tool.title.clone())
    .with_annotations(
        ToolAnnotations::new()
            .read_only(tool.read_only)
            .open_world(tool.open_world),
    )
}

/// Who answers a policy `ask` for one MCP call.
enum McpAsker {
    /// Ask the client's person now, by a form elicitation request
    /// (protocol eras with server-to-client requests).
    Elicit(Peer<RoleServer>),
    /// The person already answered, in the `input_required` round trip
    /// (2026-07-28 and later).
    Answered(Answer),
}

impl Asker for McpAsker {
    fn ask<'a>(
        &'a self,
        question: &'a Question,
    ) -> Pin<Box<dyn Future<Output = Answer> + Send + 'a>> {
        let peer = match self {
            McpAsker::Answered(answer) => return Box::pin(std::future::ready(*answer)),
            McpAsker::Elicit(peer) => peer,
        };
        Box::pin(async move {
            let supported = peer
                .supported_elicitation_modes()
                .contains(&rmcp::service::ElicitationMode::Form);
            if !supported {
                return Answer::Unsupported;
            }
            let schema = ElicitationSchema::builder().build_unchecked();
            let asked = peer
                .create_elicitation_with_timeout(
                    ElicitRequestParams::FormElicitationParams {
                        meta: None,
                        message: question.message(),
                        requested_schema: schema,
                    },
                    Some(ASK_TIMEOUT),
                )
                .await;
            match asked {
                Ok(result) => match result.action {
                    ElicitationAction::Accept => Answer::Accept,
                    ElicitationAction::Decline => Answer::Decline,
                    // Cancel, and anything a newer protocol adds: not a yes.
                    _ => Answer::Cancel,
                },
                Err(error) => {
                    tracing::warn!(%error, "the client did not answer a policy question");
                    Answer::Cancel
                }
            }
        })
    }
}

impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("harness-host", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Tools run as sandboxed WebAssembly plugins under the admin's grants and policy. \
                 Proposed file writes are staged, not written: a person approves them with `host approve`.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let session = self.session(&context).await?;
        Ok(ListToolsResult::with_all_items(
            session.tools.values().map(mcp_tool).collect(),
        ))
    }

    fn get_tool(&self, name: &str) -> Option<McpTool> {
        match self.loading.phase() {
            Phase::Ready(session) => session.tools.get(name).map(mcp_tool),
            Phase::Pending | Phase::Failed(_) => None,
        }
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let name = request.name.to_string();
        let session = self.session(&context).await?;
        if !session.tools.contains_key(&name) {
            return Err(ErrorData::invalid_params(
                format!("unknown tool `{}`", crate::render::inert(&name)),
                None,
            ));
        }
        let arguments = serde_json::Value::Object(request.arguments.unwrap_or_default());
        let asker = match self.modern_ask(
            &session,
            &name,
            &arguments,
            &request.input_responses,
            request.request_state.as_deref(),
            &context,
        ) {
            ModernAsk::NotNeeded => McpAsker::Elicit(context.peer.clone()),
            ModernAsk::Answered(answer) => McpAsker::Answered(answer),
            ModernAsk::Request(input_required) => return Ok(input_required.into()),
            ModernAsk::Invalid(message) => return Ok(tool_error(message).into()),
        };
        let cancel = Cancel::new();
        let token = context.ct.clone();
        let watcher = {
            let cancel = cancel.clone();
            tokio::spawn(async move {
                token.cancelled().await;
                cancel.cancel();
            })
        };
        let slot = tokio::select! {
            slot = Arc::clone(&self.slots).acquire_owned() => slot.map_err(|e| ErrorData::internal_error(e.to_string(), None))?,
            () = cancel.cancelled() => {
                watcher.abort();
                return Ok(tool_error("the call was cancelled before it started".to_string()).into());
            }
        };
        // The call runs in a task of its own: when the client cancels, the
        // SDK drops this handler, but the call still ends (stopped by the
        // cancel flag) and journals how it ended.
        let task_cancel = cancel.clone();
        let task = tokio::spawn(async move {
            let _slot = slot;
            session
                .call(&name, arguments, &asker, Some(&task_cancel))
                .await
        });
        let outcome = task
            .await
            .map_err(|e| ErrorData::internal_error(format!("the call task failed: {e}"), None))?;
        watcher.abort();
        let result = match outcome {
            Ok(Ok(result)) => {
                let mut r = CallToolResult::success(vec![ContentBlock::text(result.text())]);
                r.structured_content = Some(result.structured());
                r
            }
            Ok(Err(failure)) => {
                let mut r = tool_error(failure.text());
                r.structured_content = Some(serde_json::json!({
                    "call": failure.call,
                    "plugin": failure.plugin,
                    "error_kind": failure.kind,
                    "message": failure.message,
                    "run": failure.run_id,
                }));
                r
            }
            Err(error) => {
                tracing::error!(%error, "cannot write the session journal");
                return Err(ErrorData::internal_error(
                    format!(
                        "the host cannot write the session journal: {}",
                        crate::render::error_chain(&error)
                    ),
                    None,
                ));
            }
        };
        Ok(result.into())
    }
}

fn tool_error(text: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(text)])
}
