//! The hostile corpus's fixture: the hostile guest loaded through the host
//! library, in one process, with a read-only and a read-write mount and
//! canary files around them.
//!
//! Driving the library (instead of the `host` binary) lets a test attack and
//! then invoke the *same* loaded plugin again, proving a contained attack
//! leaves the plugin usable. Every helper checks host-side state: the canary
//! content never comes back in an output or a log line, and files outside the
//! mounts never change.
//!
//! Layout of the scratch root (all canonical paths):
//!
//! ```text
//! canary.txt           CANARY, next to the mounts, in no mount
//! secret/canary.txt    CANARY, in a directory next to the mounts
//! ro/                  mounted at /ro, read-only: file.txt, sub/inner.txt
//! rw/                  mounted at /rw, read-write (a private copy per
//!                      call; also the output directory): existing.txt, sub/
//! state/ cache/        the host's own directories (protected)
//! plugin/plugin.toml   the hostile plugin's manifest
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use harness_host::contract::{PluginError, StepInput, ToolOutput};
use harness_host::grants::GrantContext;
use harness_host::manifest;
use harness_host::protect::ProtectedKind;
use harness_host::runtime::{
    CallThreads, Invocation, InvokeFailure, Plugin, Runtime, RuntimeConfig,
};
use serde_json::{Value, json};

use crate::support::{artifacts, snapshot};

/// Content of every canary file. It must never appear in what a plugin
/// returns or logs.
pub const CANARY: &str = "CANARY-5f1d0c-outside-every-mount";
pub const RO_FILE: &[u8] = b"read-only original\n";
pub const RW_FILE: &[u8] = b"read-write original\n";

/// One loaded hostile plugin and the files around it.
pub struct Sandbox {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    // Declared before the runtime so it is dropped first.
    pub plugin: Plugin,
    _runtime: Runtime,
    tokio: tokio::runtime::Runtime,
}

pub type ToolResult = Result<Invocation<Result<ToolOutput, PluginError>>, InvokeFailure>;

impl Sandbox {
    /// The hostile plugin with the default limits.
    pub fn new() -> Sandbox {
        Sandbox::with_limits("")
    }

    /// The hostile plugin with `limits` (lines of a `[limits]` table).
    pub fn with_limits(limits: &str) -> Sandbox {
        Sandbox::build(limits, |_| {})
    }

    /// Like [`Sandbox::with_limits`], letting `plant` add files (symlinks,
    /// say) under the root before the plugin is loaded.
    pub fn build(limits: &str, plant: impl FnOnce(&Path)) -> Sandbox {
        Sandbox::build_on(CallThreads::Shared, limits, plant)
    }

    /// Like [`Sandbox::build`], with the plugin's calls placed as `threads`
    /// says (a workflow run's are [`CallThreads::Own`]).
    pub fn build_on(threads: CallThreads, limits: &str, plant: impl FnOnce(&Path)) -> Sandbox {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = std::fs::canonicalize(dir.path()).expect("canonicalize");
        for d in ["ro/sub", "rw/sub", "secret", "state", "plugin"] {
            std::fs::create_dir_all(root.join(d)).expect("mkdir");
        }
        std::fs::write(root.join("canary.txt"), CANARY).expect("write");
        std::fs::write(root.join("secret/canary.txt"), CANARY).expect("write");
        std::fs::write(root.join("ro/file.txt"), RO_FILE).expect("write");
        std::fs::write(root.join("ro/sub/inner.txt"), RO_FILE).expect("write");
        std::fs::write(root.join("rw/existing.txt"), RW_FILE).expect("write");
        plant(&root);

        let manifest_path = root.join("plugin/plugin.toml");
        std::fs::write(
            &manifest_path,
            format!(
                "[plugin]\nname = \"hostile\"\nkind = \"tool\"\ncomponent = {component:?}\n\
                 [[grants.mounts]]\nhost = {ro:?}\nguest = \"/ro\"\nmode = \"read\"\n\
                 [[grants.mounts]]\nhost = {rw:?}\nguest = \"/rw\"\nmode = \"read-write\"\n\
                 [limits]\n{limits}\n",
                component = artifacts::GUEST_HOSTILE,
                ro = root.join("ro").display().to_string(),
                rw = root.join("rw").display().to_string(),
            ),
        )
        .expect("write manifest");
        let manifest = manifest::load(&manifest_path).expect("manifest");

        let cache = crate::support::shared_cache();
        let mut config = RuntimeConfig::new(&cache);
        config.max_instances = 4;
        config.call_threads = threads;
        let runtime = Runtime::new(config).expect("runtime");
        let protected = [root.join("state"), cache];
        let plugin = runtime
            .load(
                &manifest,
                &GrantContext::new(&root.join("rw")).protecting(ProtectedKind::State, &protected),
            )
            .expect("load the hostile plugin");
        let tokio = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("tokio");
        Sandbox {
            _dir: dir,
            root,
            plugin,
            _runtime: runtime,
            tokio,
        }
    }

    /// Invoke the plugin with `input`. Whatever happened, no canary content
    /// came back in its output or its logs.
    pub fn invoke(&self, input: Value) -> ToolResult {
        let input = StepInput {
            input: input.to_string(),
            needs: Vec::new(),
        };
        let result = self.tokio.block_on(self.plugin.invoke_tool(&input));
        let seen = match &result {
            Ok(inv) => format!("{:?} {:?}", inv.value, inv.logs),
            Err(f) => format!("{f} {:?}", f.logs),
        };
        assert!(
            !seen.contains(CANARY),
            "canary content leaked to the plugin: {seen}"
        );
        result
    }

    /// Invoke an attack that must fail, returning the failure.
    pub fn invoke_failing(&self, input: Value) -> InvokeFailure {
        match self.invoke(input) {
            Ok(inv) => panic!("expected the invocation to fail, got {:?}", inv.value),
            Err(f) => f,
        }
    }

    /// Run file system operations; returns each operation's report.
    pub fn fs(&self, ops: Value) -> Vec<Value> {
        let inv = self
            .invoke(json!({ "attack": "fs", "ops": ops }))
            .expect("the fs attack itself runs");
        let output = inv.value.expect("the plugin answers").output;
        let report: Value = serde_json::from_str(&output).expect("json report");
        report["ops"].as_array().expect("ops").clone()
    }

    /// Run file system operations; returns each operation's report and the
    /// changes the call proposes from its read-write mount's private copy
    /// (as `(path, contents)`, `None` for a deletion).
    pub fn fs_changes(&self, ops: Value) -> (Vec<Value>, Vec<(String, Option<String>)>) {
        let inv = self
            .invoke(json!({ "attack": "fs", "ops": ops }))
            .expect("the fs attack itself runs");
        let changes = inv
            .changes
            .iter()
            .map(|c| {
                let text = c
                    .contents
                    .as_deref()
                    .map(|b| String::from_utf8_lossy(b).into_owned());
                (c.path.clone(), text)
            })
            .collect();
        let output = inv.value.expect("the plugin answers").output;
        let report: Value = serde_json::from_str(&output).expect("json report");
        (report["ops"].as_array().expect("ops").clone(), changes)
    }

    /// Run one operation that must be refused; returns its error text.
    pub fn refused(&self, op: Value) -> String {
        let report = self.fs(json!([op]));
        assert_eq!(report[0]["ok"], false, "{op} was allowed: {report:?}");
        report[0]["error"].as_str().expect("error").to_string()
    }

    /// Every file under the root except the host's own state: the mounts,
    /// the canaries, the manifest.
    pub fn files(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut files = snapshot(&self.root);
        files.retain(|p, _| !p.starts_with("state"));
        files
    }

    /// The plugin still works: a benign call on the same loaded plugin.
    pub fn assert_still_serves(&self) {
        let inv = self
            .invoke(json!({ "attack": "none" }))
            .expect("the next invocation works");
        let output = inv.value.expect("ok").output;
        assert_eq!(output, r#"{"ok":true}"#);
    }

    /// The canaries are byte-for-byte what they were.
    pub fn assert_canaries_intact(&self) {
        for c in ["canary.txt", "secret/canary.txt"] {
            assert_eq!(
                std::fs::read_to_string(self.root.join(c)).expect("canary"),
                CANARY,
                "{c}"
            );
        }
    }
}

/// The runtime protects its own cache and scratch directories whatever its
/// caller lists (here: nothing): a mount of either, or of a folder inside
/// one, is refused for every plugin it loads, not only the first, and the
/// refused loads leave nothing in them.
#[test]
fn every_plugin_the_runtime_loads_is_refused_a_mount_of_its_cache_or_scratch_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().canonicalize().expect("canonical root");
    let cache = root.join("cache");
    let scratch = root.join("state").join("private-copies");
    let workspace = root.join("ws");
    for d in [cache.join("inner"), scratch.clone(), workspace.clone()] {
        std::fs::create_dir_all(&d).expect("mkdir");
    }
    let mut config = RuntimeConfig::new(&cache);
    config.scratch_dir = scratch.clone();
    config.max_instances = 4;
    let runtime = Runtime::new(config).expect("runtime");
    let state = root.join("state");
    let before = (snapshot(&cache), snapshot(&state));
    for (i, target) in [&cache, &cache.join("inner"), &scratch]
        .into_iter()
        .enumerate()
    {
        let manifest_path = root.join(format!("plugin{i}.toml"));
        std::fs::write(
            &manifest_path,
            format!(
                "[plugin]\nname = \"reach{i}\"\nkind = \"tool\"\ncomponent = {component:?}\n\
                 [[grants.mounts]]\nhost = {target:?}\nguest = \"/data\"\nmode = \"read\"\n",
                component = artifacts::GUEST_HOSTILE,
                target = target.display().to_string(),
            ),
        )
        .expect("write manifest");
        let manifest = manifest::load(&manifest_path).expect("manifest");
        let refused = runtime
            .load(&manifest, &GrantContext::new(&workspace))
            .err()
            .unwrap_or_else(|| {
                panic!("plugin {i} was loaded with a mount of {}", target.display())
            });
        let message = refused.to_string();
        assert!(
            message.contains("cache") || message.contains("host's own"),
            "plugin {i}: {message}"
        );
    }
    assert_eq!(
        before,
        (snapshot(&cache), snapshot(&state)),
        "a refused load changed the host's directories"
    );
}
