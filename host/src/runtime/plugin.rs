//! A loaded plugin: its manifest, resolved grants and pre-linked component,
//! and the three calls the host makes on it.
//!
//! A [`Plugin`] is cheap to clone and safe to share between tasks; every call
//! runs in its own fresh store (see [`super::invoke`]), so concurrent calls on
//! one plugin cannot see each other.
//!
//! **Where a call runs** is the runtime's [`CallThreads`]. With
//! [`CallThreads::Shared`] it runs on the caller's task and each of the
//! guest's file operations is handed to tokio's blocking pool and back: the
//! cheapest for a call that does few (an MCP call; figure (1) of the
//! benchmark). With [`CallThreads::Own`] it runs on a thread of its own (one
//! of tokio's blocking pool) and its file operations run right there
//! (`allow_blocking_current_thread`): one hand-off per call instead of two
//! per file operation (a warm `host run`'s search step: 4.5 ms handed off,
//! 1.5 ms on its own thread; ~65 µs more for a call that does none). Its
//! cost is that a guest blocked in a host call (opening a FIFO in its
//! mount, say) blocks its thread: so the caller does not wait on that
//! thread beyond the call's deadline. It reports the call as timed out and
//! leaves the thread, and the store it holds, to finish or to go with the
//! process.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::Engine;

use super::CallThreads;
use super::bindings::{self, reviewer, tool};
use super::cache::CacheOutcome;
use super::cancel::Cancel;
use super::engine::EpochTicker;
use super::invoke::{self, FailureKind, Invocation, InvokeEnv, InvokeFailure, StoreState};
use crate::contract::{Descriptor, PluginError, Review, ReviewInput, StepInput, ToolOutput};
use crate::grants::ResolvedGrants;
use crate::manifest::{Limits, Manifest, PluginKind};

/// The pre-linked component, typed by world.
pub(crate) enum KindPre {
    Tool(tool::ToolPre<StoreState>),
    Reviewer(reviewer::ReviewerPre<StoreState>),
}

/// Everything [`super::load`] assembles.
pub(crate) struct PluginParts {
    pub(crate) manifest: Manifest,
    pub(crate) name: Arc<str>,
    pub(crate) sha256: String,
    pub(crate) grants: ResolvedGrants,
    pub(crate) engine: Engine,
    pub(crate) pre: KindPre,
    /// Kept so epochs keep advancing while any plugin is alive.
    pub(crate) ticker: Arc<EpochTicker>,
    pub(crate) timeout_grace: Duration,
    /// Where its calls run (see the module doc).
    pub(crate) threads: CallThreads,
    /// Where the private copies of read-write mounts are made.
    pub(crate) scratch: std::path::PathBuf,
    pub(crate) cache: CacheOutcome,
    /// The cache directory's table of `describe()` answers.
    pub(crate) descriptors: Arc<super::cache::descriptors::Descriptors>,
    /// The component's import and export names, as declared.
    pub(crate) imports: Vec<String>,
    pub(crate) exports: Vec<String>,
}

/// A loaded plugin, ready to invoke.
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<PluginParts>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.inner.name)
            .field("kind", &self.inner.manifest.kind)
            .field("sha256", &self.inner.sha256)
            .field("grants", &self.inner.grants)
            .finish_non_exhaustive()
    }
}

impl Plugin {
    pub(crate) fn new(parts: PluginParts) -> Self {
        Self {
            inner: Arc::new(parts),
        }
    }

    /// The plugin's name in its folder.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Whether it is a tool or a reviewer.
    pub fn kind(&self) -> PluginKind {
        self.inner.manifest.kind
    }

    /// Lowercase hex sha256 of the component file that was loaded.
    pub fn sha256(&self) -> &str {
        &self.inner.sha256
    }

    /// The manifest it was loaded from.
    pub fn manifest(&self) -> &Manifest {
        &self.inner.manifest
    }

    /// The resolved grants; use [`ResolvedGrants::check_write`] on every
    /// write the plugin proposes.
    pub fn grants(&self) -> &ResolvedGrants {
        &self.inner.grants
    }

    /// Whether loading was served from the compile cache.
    pub fn cache_outcome(&self) -> CacheOutcome {
        self.inner.cache
    }

    /// Every interface the component imports (`wasi:cli/environment@0.2.6`,
    /// ...). All of them are provided by the host, or the plugin would not
    /// have loaded.
    pub fn imports(&self) -> &[String] {
        &self.inner.imports
    }

    /// Every name the component exports.
    pub fn exports(&self) -> &[String] {
        &self.inner.exports
    }

    fn env(&self) -> InvokeEnv<'_> {
        self.env_with(&self.inner.manifest.limits)
    }

    fn env_with<'a>(&'a self, limits: &'a Limits) -> InvokeEnv<'a> {
        self.env_cancellable(limits, None)
    }

    fn env_cancellable<'a>(
        &'a self,
        limits: &'a Limits,
        cancel: Option<&'a Cancel>,
    ) -> InvokeEnv<'a> {
        InvokeEnv {
            plugin: &self.inner.name,
            engine: &self.inner.engine,
            grants: &self.inner.grants,
            limits,
            epoch_tick: self.inner.ticker.tick(),
            timeout_grace: self.inner.timeout_grace,
            file_ops_here: self.inner.threads == CallThreads::Own,
            scratch: &self.inner.scratch,
            cancel,
        }
    }

    /// Run `call` (one of the `*_here` bodies below) where the runtime's
    /// [`CallThreads`] says. On a thread of its own, wait at most until the
    /// call's own deadline has passed by a further grace, or until `cancel`
    /// is set (see the module doc).
    async fn placed<T, F>(
        &self,
        limits: &Limits,
        cancel: Option<&Cancel>,
        call: impl FnOnce(Plugin) -> F + Send + 'static,
    ) -> Result<Invocation<T>, InvokeFailure>
    where
        F: Future<Output = Result<Invocation<T>, InvokeFailure>>,
        T: Send + 'static,
    {
        if self.inner.threads == CallThreads::Shared {
            return call(self.clone()).await;
        }
        let this = self.clone();
        let runtime = tokio::runtime::Handle::current();
        let thread = tokio::task::spawn_blocking(move || runtime.block_on(call(this)));
        // The call stops itself at `timeout + grace` unless it is blocked
        // in a host call; this is for that case only.
        let patience = limits.timeout + 2 * self.inner.timeout_grace;
        let waited = tokio::time::timeout(patience, thread);
        let outcome = match cancel {
            None => Some(waited.await),
            Some(cancel) => tokio::select! {
                outcome = waited => Some(outcome),
                () = cancel.cancelled() => None,
            },
        };
        let env = self.env_with(limits);
        match outcome {
            Some(Ok(Ok(result))) => result,
            Some(Ok(Err(join))) => Err(env.failure(
                FailureKind::Internal,
                format!("the thread running the call failed: {join}"),
                Vec::new(),
            )),
            Some(Err(_elapsed)) => Err(env.failure(
                FailureKind::Timeout,
                format!(
                    "timed out after {} (blocked in a host call)",
                    invoke::human(limits.timeout)
                ),
                Vec::new(),
            )),
            None => Err(env.failure(
                FailureKind::Cancelled,
                "the caller cancelled the call".to_string(),
                Vec::new(),
            )),
        }
    }

    fn wrong_kind(&self, call: &str, needs: PluginKind) -> InvokeFailure {
        self.env().failure(
            FailureKind::Internal,
            format!(
                "`{call}` needs a {needs}, but this plugin is a {} (see `{}`)",
                self.kind(),
                self.inner.manifest.path.display()
            ),
            Vec::new(),
        )
    }

    /// Ask the plugin to describe itself.
    #[tracing::instrument(name = "runtime.invoke", skip_all, fields(plugin = %self.name(), kind = %self.kind(), call = "describe"))]
    pub async fn describe(&self) -> Result<Invocation<Descriptor>, InvokeFailure> {
        let limits = self.inner.manifest.limits;
        self.placed(&limits, None, async |this| this.describe_here().await)
            .await
    }

    /// What the plugin says about itself: the answer its component gave
    /// before (kept in the compile cache's directory, see
    /// [`super::cache::descriptors`]), else [`Self::describe`]'s, which is
    /// then kept. For the callers that need every tool's schema before they
    /// start (a run's parameter check, the MCP server's tool list); a
    /// plugin author's `host plugins inspect` asks the plugin each time.
    pub async fn descriptor(&self) -> Result<Descriptor, InvokeFailure> {
        if let Some(known) = self.inner.descriptors.get(&self.inner.sha256) {
            return Ok(known);
        }
        let answer = self.describe().await?.value;
        self.inner.descriptors.learn(&self.inner.sha256, &answer);
        Ok(answer)
    }

    async fn describe_here(&self) -> Result<Invocation<Descriptor>, InvokeFailure> {
        match &self.inner.pre {
            KindPre::Tool(pre) => {
                invoke::run(self.env(), async |store| {
                    let instance = pre.instantiate_async(&mut *store).await?;
                    let descriptor = instance
                        .harness_plugin_tool_plugin()
                        .call_describe(&mut *store)
                        .await?;
                    Ok(Descriptor::from(descriptor))
                })
                .await
            }
            KindPre::Reviewer(pre) => {
                invoke::run(self.env(), async |store| {
                    let instance = pre.instantiate_async(&mut *store).await?;
                    let descriptor = instance
                        .harness_plugin_reviewer_plugin()
                        .call_describe(&mut *store)
                        .await?;
                    Ok(Descriptor::from(descriptor))
                })
                .await
            }
        }
    }

    /// Run one tool step. The outer error is the runtime's (trap, timeout,
    /// limits); the inner one is the plugin's own answer.
    #[tracing::instrument(name = "runtime.invoke", skip_all, fields(plugin = %self.name(), kind = %self.kind(), call = "invoke"))]
    pub async fn invoke_tool(
        &self,
        input: &StepInput,
    ) -> Result<Invocation<Result<ToolOutput, PluginError>>, InvokeFailure> {
        self.invoke_tool_within(input, None).await
    }

    /// [`Self::invoke_tool`] with the wall-clock limit lowered to `cap` (a
    /// workflow step's `timeout-ms`) when that is below the manifest's.
    pub async fn invoke_tool_within(
        &self,
        input: &StepInput,
        cap: Option<Duration>,
    ) -> Result<Invocation<Result<ToolOutput, PluginError>>, InvokeFailure> {
        self.invoke_tool_cancellable(input, cap, None).await
    }

    /// [`Self::invoke_tool_within`], stopped early when `cancel` is set
    /// (the failure's kind is then [`FailureKind::Cancelled`]).
    pub async fn invoke_tool_cancellable(
        &self,
        input: &StepInput,
        cap: Option<Duration>,
        cancel: Option<&Cancel>,
    ) -> Result<Invocation<Result<ToolOutput, PluginError>>, InvokeFailure> {
        let mut limits = self.inner.manifest.limits;
        if let Some(cap) = cap {
            limits.timeout = limits.timeout.min(cap);
        }
        let input = bindings::step_input(input);
        let inner_cancel = cancel.cloned();
        self.placed(&limits, cancel, async move |this| {
            this.invoke_tool_here(input, limits, inner_cancel.as_ref())
                .await
        })
        .await
    }

    async fn invoke_tool_here(
        &self,
        input: bindings::wit::StepInput,
        limits: Limits,
        cancel: Option<&Cancel>,
    ) -> Result<Invocation<Result<ToolOutput, PluginError>>, InvokeFailure> {
        let KindPre::Tool(pre) = &self.inner.pre else {
            return Err(self.wrong_kind("invoke", PluginKind::Tool));
        };
        invoke::run(self.env_cancellable(&limits, cancel), async |store| {
            let instance = pre.instantiate_async(&mut *store).await?;
            let result = instance
                .harness_plugin_tool_plugin()
                .call_invoke(&mut *store, &input)
                .await?;
            Ok(bindings::tool_result(result))
        })
        .await
    }

    /// Review a run's outputs and proposed writes.
    #[tracing::instrument(name = "runtime.invoke", skip_all, fields(plugin = %self.name(), kind = %self.kind(), call = "review"))]
    pub async fn review(
        &self,
        input: &ReviewInput,
    ) -> Result<Invocation<Result<Review, PluginError>>, InvokeFailure> {
        let input = bindings::review_input(input);
        let limits = self.inner.manifest.limits;
        self.placed(&limits, None, async move |this| {
            this.review_here(input).await
        })
        .await
    }

    async fn review_here(
        &self,
        input: bindings::wit::ReviewInput,
    ) -> Result<Invocation<Result<Review, PluginError>>, InvokeFailure> {
        let KindPre::Reviewer(pre) = &self.inner.pre else {
            return Err(self.wrong_kind("review", PluginKind::Reviewer));
        };
        invoke::run(self.env(), async |store| {
            let instance = pre.instantiate_async(&mut *store).await?;
            let result = instance
                .harness_plugin_reviewer_plugin()
                .call_review(&mut *store, &input)
                .await?;
            Ok(bindings::review_result(result))
        })
        .await
    }
}
