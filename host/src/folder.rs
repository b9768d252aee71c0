//! Loading a plugins folder: the plugin manifests, the workflow, and the
//! workflow's plugins (compiled on first use, from the cache after). The one
//! load path every front end calls (`host run`, `host resume`, `host
//! workflow`, the benchmark); what it has to say while it works (a legacy
//! grants folder, build output, a slow compile) goes to the caller's
//! [`Notes`] callback, never straight to a terminal.
//!
//! Every plugin is loaded with its *effective* grants: its manifest's request
//! checked against the folder's `grants.toml` ([`crate::grants::admin`]); a
//! request beyond the grant fails here, before anything runs. A folder without
//! `grants.toml` takes its manifests' requests as granted, with a
//! [`Note::LegacyGrants`] once per load.
//!
//! Only the plugins the workflow uses are loaded, each on its own thread: a
//! cold start compiles them all at once instead of one after another. On two
//! cores this measured the same as loading them in turn (wasmtime already
//! spreads one component's functions over every core; see the README's
//! "Performance"); with more cores, or components with few large functions,
//! the plugins' compiles and cache writes overlap.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::grants::GrantContext;
use crate::grants::admin::{self, GrantSet};
use crate::host_dirs::HostDirs;
use crate::manifest::{self, Manifest};
use crate::protect::{Protected, ProtectedKind};
use crate::run::event::{EffectiveGrant, Event, PluginDigest};
use crate::run::executor::Plugins;
use crate::runtime::{CacheOutcome, CallThreads, LoadError, Plugin, Runtime, RuntimeConfig};
use crate::workflow::{self, WORKFLOW_FILE, Workflow};

/// Something worth telling a person while a folder loads.
#[derive(Debug, Clone, Copy)]
pub enum Note<'a> {
    /// The folder has no `grants.toml`: the text says how to create one.
    LegacyGrants(&'a str),
    /// A line of a plugin's `[build]` command output (untrusted).
    Build(&'a str),
    /// A component of `size` bytes is about to be compiled (first use).
    Compiling {
        /// The plugin whose component it is.
        plugin: &'a str,
        /// The component's size, in bytes.
        size: u64,
    },
    /// A component was compiled (and cached) in `ms`.
    Compiled {
        /// The plugin whose component it is.
        plugin: &'a str,
        /// How long the compile took, in milliseconds.
        ms: u128,
    },
    /// A component is older than `source`, one of its plugin's sources, and
    /// was not rebuilt (no `--build`): it may not be what the source says.
    Stale {
        /// The plugin whose component it is.
        plugin: &'a str,
        /// The newest source file, newer than the component.
        source: &'a Path,
    },
}

/// Where [`Note`]s go (the CLI prints them on stderr; a server logs them).
pub type Notes<'a> = &'a (dyn Fn(Note<'_>) + Sync);

/// A validated workflow and its loaded plugins.
#[derive(Debug)]
pub struct Loaded {
    /// The validated workflow.
    pub workflow: Workflow,
    /// The workflow's plugins, loaded.
    pub folder: LoadedPlugins,
}

impl Loaded {
    /// The `run_created` event of a new run of this workflow: what it will
    /// execute, with which plugins, and its output directory pinned (checked
    /// against the system and protected paths, identified by inode).
    pub fn run_created(
        &self,
        params: serde_json::Value,
        workspace: &Path,
        out_dir: &Path,
    ) -> Result<Event, crate::run::out_dir::OutDirError> {
        let what = Executes {
            workflow: self.workflow.name.clone(),
            digest: self.workflow.digest.clone(),
            path: Some(self.workflow.path.clone()),
            params,
            no_review: self.workflow.review.is_none(),
        };
        self.folder.created(what, workspace, out_dir)
    }
}

/// What a new run executes: a workflow, or a session of tool calls.
struct Executes {
    workflow: String,
    digest: String,
    path: Option<PathBuf>,
    params: serde_json::Value,
    /// The workflow has no `[review]` (see `run_created`).
    no_review: bool,
}

/// The validated workflow and its plugins' manifests, each with its
/// effective grants.
#[derive(Debug)]
pub struct Folder {
    /// The plugins folder, absolute.
    pub plugins_dir: PathBuf,
    /// The manifests of the workflow's plugins, with effective grants.
    pub manifests: Vec<Manifest>,
    /// The validated workflow.
    pub workflow: Workflow,
    /// Whether the grants came from the folder's `grants.toml` (else the
    /// manifests' requests were taken as granted).
    pub admin_grants: bool,
}

/// Read the manifests in `plugins_dir` (made absolute), validate the
/// workflow (default `<plugins_dir>/workflow.toml`) against them, and apply
/// the folder's admin grants to the workflow's plugins (a
/// [`Note::LegacyGrants`] if it has none). Nothing is compiled.
pub fn load_workflow(
    plugins_dir: &Path,
    workflow_path: Option<&Path>,
    notes: Notes<'_>,
) -> anyhow::Result<Folder> {
    let plugins_dir = std::path::absolute(plugins_dir).unwrap_or(plugins_dir.to_path_buf());
    let manifests = manifest::load_dir(&plugins_dir)?;
    let workflow_path = workflow_path
        .map(Path::to_path_buf)
        .unwrap_or_else(|| plugins_dir.join(WORKFLOW_FILE));
    let workflow_path = std::path::absolute(&workflow_path).unwrap_or(workflow_path);
    let workflow = workflow::load(&workflow_path, &manifests)?;
    let admin = admin::load(&plugins_dir)?;
    if admin.is_none() {
        notes(Note::LegacyGrants(&admin::legacy_warning(&plugins_dir)));
    }
    let manifests = manifests
        .iter()
        .filter(|m| workflow.plugin_names().contains(&m.name.as_str()))
        .map(|m| admin::effective(m, admin.as_ref()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Folder {
        plugins_dir,
        manifests,
        workflow,
        admin_grants: admin.is_some(),
    })
}

/// How [`load`] goes about it.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    /// Build the workflow's plugins first (their `[build]` commands).
    pub build: bool,
    /// How many runs of the workflow this process drives at once: the
    /// runtime's instance pool is sized for that many (see
    /// [`pool_instances`]), since reserving it costs time at every start.
    pub concurrent_runs: u32,
}

/// Instances the pool needs for `runs` concurrent runs of `workflow`: each
/// run may have every step in flight at once (steps that need nothing of
/// each other run together), then its reviewer, and one more for a call
/// stopped while blocked in a host call, which keeps its instance until that
/// call returns. At least 4, at most [`RuntimeConfig`]'s default.
pub fn pool_instances(workflow: &Workflow, runs: u32) -> u32 {
    let per_run = u32::try_from(workflow.steps.len())
        .unwrap_or(u32::MAX)
        .saturating_add(2);
    let default = RuntimeConfig::new("").max_instances;
    per_run.saturating_mul(runs.max(1)).clamp(4, default)
}

/// Read the manifests in `plugins_dir` and the workflow (default
/// `<plugins_dir>/workflow.toml`), build the workflow's plugins first if
/// `how.build`, then load them with `workspace` as `${workspace}` and
/// `out_dir` as where approved changes go.
pub fn load(
    dirs: &HostDirs,
    plugins_dir: &Path,
    workflow_path: Option<&Path>,
    workspace: &Path,
    out_dir: &Path,
    how: LoadOptions,
    notes: Notes<'_>,
) -> anyhow::Result<Loaded> {
    let Folder {
        plugins_dir,
        manifests,
        workflow,
        admin_grants,
    } = load_workflow(plugins_dir, workflow_path, notes)?;
    for m in &manifests {
        admin::check_unwritable(m, workspace, &plugins_dir).map_err(anyhow::Error::msg)?;
    }
    let used: Vec<&Manifest> = manifests.iter().collect();

    if how.build {
        crate::plugin_build::build_all(&used, &|line| notes(Note::Build(line)))?;
    } else {
        for m in &used {
            if let Some(source) = crate::plugin_build::stale_source(m) {
                notes(Note::Stale {
                    plugin: &m.name,
                    source: &source,
                });
            }
        }
    }

    crate::timing::mark("workflow, grants and manifests read");
    let mut config = dirs.runtime_config();
    config.max_instances = pool_instances(&workflow, how.concurrent_runs);
    // A workflow's tools read their mounts: one hand-off per call, not two
    // per file operation (see `runtime::CallThreads`).
    config.call_threads = CallThreads::Own;
    let runtime = Runtime::new(config).context("cannot start the WebAssembly runtime")?;
    crate::timing::mark("WebAssembly runtime started");
    let protected = protected_paths(dirs, &plugins_dir, &workflow, &manifests);
    let grant_ctx = GrantContext {
        workspace,
        out_dir: Some(out_dir),
        protected: protected.clone(),
    };
    let plugins = load_parallel(&runtime, &used, &grant_ctx, notes)?;
    crate::timing::mark("plugins loaded");
    Ok(Loaded {
        workflow,
        folder: LoadedPlugins {
            plugins_dir,
            plugins,
            protected,
            admin_grants,
        },
    })
}

/// The host's own directories, the plugins folder, the workflow, and every
/// manifest and component in the folder: what no plugin may write.
pub fn protected_paths(
    dirs: &HostDirs,
    plugins_dir: &Path,
    workflow: &Workflow,
    manifests: &[Manifest],
) -> Protected {
    let mut protected = dirs.protected();
    protected
        .add(ProtectedKind::Input, plugins_dir)
        .add(ProtectedKind::Input, &workflow.path);
    for m in manifests {
        protected
            .add(ProtectedKind::Input, &m.path)
            .add(ProtectedKind::Input, &m.component);
    }
    protected
}

/// Load `manifests` concurrently, with a note before and after each
/// compile. As many threads as there are cores (the calling thread is one of
/// them) take the next manifest until none is left: a thread per plugin
/// would only add thread starts on a machine with fewer cores than plugins.
/// Every plugin is loaded even if another fails; the first failure in
/// `manifests` order is returned.
pub fn load_parallel(
    runtime: &Runtime,
    manifests: &[&Manifest],
    grant_ctx: &GrantContext<'_>,
    notes: Notes<'_>,
) -> Result<Plugins, LoadError> {
    let load_one = |m: &Manifest| -> Result<Plugin, LoadError> {
        let started = std::time::Instant::now();
        let plugin = runtime.load_with_progress(m, grant_ctx, &|size| {
            notes(Note::Compiling {
                plugin: &m.name,
                size,
            })
        })?;
        crate::timing::mark(format_args!("  plugin {} loaded", m.name));
        if plugin.cache_outcome() == CacheOutcome::Miss {
            // First use of this component: compiling it is the slow part of a cold start.
            notes(Note::Compiled {
                plugin: &m.name,
                ms: started.elapsed().as_millis(),
            });
        }
        Ok(plugin)
    };
    let results = crate::cores::each_in_parallel(manifests, |m| load_one(m));
    let mut plugins = Plugins::new();
    for (m, result) in manifests.iter().zip(results) {
        plugins.insert(m.name.clone(), result?);
    }
    Ok(plugins)
}

/// Plugins of a folder, loaded with their effective grants: a workflow's
/// (see [`Loaded`]), or every tool plugin (for `host mcp` and `host call`).
#[derive(Debug)]
pub struct LoadedPlugins {
    /// The plugins folder, absolute.
    pub plugins_dir: PathBuf,
    /// The plugins by name.
    pub plugins: Plugins,
    /// The host's own paths and every plugin definition that was read: no
    /// write of a run or a session may reach them (journaled in `run_created`).
    pub protected: Protected,
    /// Whether the grants came from the folder's `grants.toml` (else the
    /// manifests' requests were taken as granted).
    pub admin_grants: bool,
}

impl LoadedPlugins {
    /// The `run_created` event of a session run serving these tools
    /// (workflow `mcp-session`; its output directory pinned).
    pub fn session_created(
        &self,
        via: &str,
        workspace: &Path,
        out_dir: &Path,
    ) -> Result<Event, crate::run::out_dir::OutDirError> {
        let what = Executes {
            workflow: SESSION_WORKFLOW.to_string(),
            digest: String::new(),
            path: None,
            params: serde_json::json!({ "via": via }),
            no_review: false,
        };
        self.created(what, workspace, out_dir)
    }

    /// The digest of every loaded plugin's component, for the journal.
    pub fn digests(&self) -> Vec<PluginDigest> {
        self.plugins
            .values()
            .map(|p| PluginDigest {
                name: p.name().to_string(),
                sha256: p.sha256().to_string(),
            })
            .collect()
    }

    /// Every loaded plugin's effective grants and their digest, for the
    /// journal (granted by grants.toml, or by the manifest when the folder
    /// has none).
    pub fn effective_grants(&self) -> Vec<EffectiveGrant> {
        let granted_by = if self.admin_grants {
            admin::GRANTS_FILE
        } else {
            "manifest"
        };
        self.plugins
            .values()
            .map(|p| {
                let set = GrantSet::of(p.manifest());
                EffectiveGrant {
                    name: p.name().to_string(),
                    digest: set.digest(),
                    grants: set.to_json(),
                    granted_by: granted_by.to_string(),
                }
            })
            .collect()
    }

    /// The `run_created` event of a run executing `what` with these plugins.
    fn created(
        &self,
        what: Executes,
        workspace: &Path,
        out_dir: &Path,
    ) -> Result<Event, crate::run::out_dir::OutDirError> {
        let out_dir_id = crate::run::out_dir::pin(out_dir, &self.protected)?;
        Ok(Event::RunCreated {
            format: crate::run::event::JOURNAL_FORMAT,
            workflow: what.workflow,
            workflow_digest: what.digest,
            plugins_dir: Some(self.plugins_dir.clone()),
            workflow_path: what.path,
            params: what.params,
            workspace: workspace.to_path_buf(),
            out_dir: out_dir.to_path_buf(),
            out_dir_id: Some(out_dir_id),
            protected: self.protected.paths(),
            plugins: self.digests(),
            grants: self.effective_grants(),
            no_review: what.no_review,
        })
    }
}

/// The `workflow` name a session run (`host mcp`, `host call`) records.
pub const SESSION_WORKFLOW: &str = "mcp-session";

/// Load every tool plugin of `plugins_dir` (or only `only`, if given) with
/// its effective grants, `workspace` as `${workspace}` and `out_dir` as
/// where approved changes go. Reviewers are skipped; no workflow is read.
/// `admin_inputs` are more files of the admin's that no plugin may read
/// through a mount or write (the session's policy file), protected from the
/// first grant resolved on.
pub fn load_tools(
    dirs: &HostDirs,
    plugins_dir: &Path,
    only: Option<&str>,
    workspace: &Path,
    out_dir: &Path,
    admin_inputs: &[&Path],
    notes: Notes<'_>,
) -> anyhow::Result<LoadedPlugins> {
    let plugins_dir = std::path::absolute(plugins_dir).unwrap_or(plugins_dir.to_path_buf());
    let all = manifest::load_dir(&plugins_dir)?;
    let admin = admin::load(&plugins_dir)?;
    if admin.is_none() {
        notes(Note::LegacyGrants(&admin::legacy_warning(&plugins_dir)));
    }
    let tools = all
        .iter()
        .filter(|m| m.kind == manifest::PluginKind::Tool)
        .filter(|m| only.is_none_or(|name| m.name == name))
        .map(|m| admin::effective(m, admin.as_ref()))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(name) = only
        && tools.is_empty()
    {
        anyhow::bail!(
            "no tool plugin `{}` in `{}`\nhint: `host plugins list --plugins {}` lists the folder's plugins and their kinds",
            crate::render::inert(name),
            crate::render::inert_path(&plugins_dir),
            crate::render::inert_path(&plugins_dir),
        );
    }
    for m in &tools {
        admin::check_unwritable(m, workspace, &plugins_dir).map_err(anyhow::Error::msg)?;
    }
    let runtime =
        Runtime::new(dirs.runtime_config()).context("cannot start the WebAssembly runtime")?;
    let mut protected = dirs.protected();
    protected.add(ProtectedKind::Input, &plugins_dir);
    for path in admin_inputs {
        protected.add(ProtectedKind::Input, path);
    }
    for m in &all {
        protected
            .add(ProtectedKind::Input, &m.path)
            .add(ProtectedKind::Input, &m.component);
    }
    let grant_ctx = GrantContext {
        workspace,
        out_dir: Some(out_dir),
        protected: protected.clone(),
    };
    let used: Vec<&Manifest> = tools.iter().collect();
    let plugins = load_parallel(&runtime, &used, &grant_ctx, notes)?;
    Ok(LoadedPlugins {
        plugins_dir,
        plugins,
        protected,
        admin_grants: admin.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::PluginKind;

    fn workflow(steps: usize) -> Workflow {
        let mut text = String::from("[workflow]\nname = \"w\"\n");
        for i in 0..steps {
            text.push_str(&format!("[[steps]]\nid = \"s{i}\"\nplugin = \"t\"\n"));
        }
        let plugins = [manifest::stub("t", PluginKind::Tool)];
        workflow::parse(&text, Path::new("workflow.toml"), &plugins).expect("workflow")
    }

    #[test]
    fn the_pool_fits_every_step_at_once_plus_the_reviewer_and_a_spare() {
        assert_eq!(pool_instances(&workflow(1), 1), 4, "at least 4");
        assert_eq!(pool_instances(&workflow(3), 1), 5);
        assert_eq!(pool_instances(&workflow(3), 10), 50);
        assert_eq!(pool_instances(&workflow(3), 0), 5, "0 runs reads as 1");
        let default = RuntimeConfig::new("").max_instances;
        assert_eq!(pool_instances(&workflow(3), 100), default, "capped");
    }
}
