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
//! - A policy `ask` becomes a form elicitation to the client (protocol
//!   2025-11-25); a client that did not declare elicitation, or speaks an
//!   era in which the server may not send requests, gets a refusal that says so.
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
    ElicitationAction, ElicitationSchema, Implementation, ListToolsResult, PaginatedRequestParams,
    ServerCapabilities, ServerConfig, Tool as McpTool, ToolAnnotations,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ErrorData, Peer, ServerHandler};

use crate::mcp::call::{Answer, Asker, Question};
use crate::mcp::session::Session;
use crate::mcp::tools::Tool;
use crate::runtime::Cancel;

/// How long a person has to answer a policy `ask`.
const ASK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// The server's state: the session and the call limit.
#[derive(Debug, Clone)]
pub struct Server {
    session: Arc<Session>,
    slots: Arc<tokio::sync::Semaphore>,
    tools: Arc<Vec<McpTool>>,
}

impl Server {
    /// Serve `session`'s tools, at most `max_concurrent` calls at once.
    pub fn new(session: Arc<Session>, max_concurrent: usize) -> Server {
        let tools = session.tools.values().map(mcp_tool).collect();
        Server {
            session,
            slots: Arc::new(tokio::sync::Semaphore::new(max_concurrent.max(1))),
            tools: Arc::new(tools),
        }
    }

    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }
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

/// Asks the MCP client's person through form elicitation.
struct Elicit<'a> {
    peer: &'a Peer<RoleServer>,
}

impl Asker for Elicit<'_> {
    fn ask<'a>(
        &'a self,
        question: &'a Question,
    ) -> Pin<Box<dyn Future<Output = Answer> + Send + 'a>> {
        Box::pin(async move {
            let supported = self
                .peer
                .supported_elicitation_modes()
                .contains(&rmcp::service::ElicitationMode::Form);
            if !supported {
                return Answer::Unsupported;
            }
            let schema = ElicitationSchema::builder().build_unchecked();
            let asked = self
                .peer
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
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools.as_ref().clone()))
    }

    fn get_tool(&self, name: &str) -> Option<McpTool> {
        self.tools.iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let name = request.name.to_string();
        if !self.session.tools.contains_key(&name) {
            return Err(ErrorData::invalid_params(
                format!("unknown tool `{}`", crate::render::inert(&name)),
                None,
            ));
        }
        let arguments = serde_json::Value::Object(request.arguments.unwrap_or_default());
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
        let session = Arc::clone(&self.session);
        let peer = context.peer.clone();
        let task_cancel = cancel.clone();
        let task = tokio::spawn(async move {
            let _slot = slot;
            let asker = Elicit { peer: &peer };
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
                    "run": self.session.run_id(),
                }));
                r
            }
            Err(error) => {
                tracing::error!(%error, "cannot write the session journal");
                return Err(ErrorData::internal_error(
                    format!("the host cannot write the session journal: {error}"),
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
