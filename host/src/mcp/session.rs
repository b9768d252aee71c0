//! A session: a run in the state dir that records every tool call an
//! agent (`host mcp`) or a person (`host call`) makes, and holds the change
//! set those calls propose until a person decides on it.
//!
//! The session keeps its run open but holds the run's lock only while it
//! writes ([`Run::release`] / [`Run::retake`]), so `host show`, `host
//! approve` and `host reject` work on the session while it serves. Taking
//! the run back costs a `stat` when nobody else wrote; after a person's
//! decision it re-verifies the whole journal and folds in their events. A
//! write that finds the run busy (a person approving right now) waits
//! briefly and tries again; within this process, writes are serialized.
//!
//! Change-set grouping: a session's proposed writes accumulate into one
//! pending change set, grown (new digest) by every call that proposes
//! something (journaled as `change_set_extended`: only what the call adds),
//! until a person approves or rejects it; the next call that proposes
//! writes starts a new change set (`approval_requested`). Each approval
//! binds exactly the digest the person saw.
//!
//! A long session goes on in a new run when its run has recorded its most
//! ([`SESSION_JOURNAL_BYTES`], or `host mcp --max-session-mib`), so that
//! every run stays readable and decidable however long an agent calls: the
//! full run records `session_continued` naming the next one (whose
//! `run_created` names it back, `params.continues`), and keeps its pending
//! change set, if any, for a person. A call records in one run from its
//! request to its end ([`Session::pin`]).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::folder::LoadedPlugins;
use crate::mcp::policy::Policy;
use crate::mcp::tools::Tools;
use crate::run::event::Event;
use crate::run::state::RunStatus;
use crate::run::store::{Run, RunError, RunStore};

/// The most a session run records (`host mcp --max-session-mib` may set
/// less): past it, the session goes on in a new run ([`Session::pin`]).
/// Half the largest journal the host reads back
/// ([`crate::run::journal::MAX_JOURNAL_BYTES`]), so that a person's
/// decision on the pending change set and its apply always fit after it:
/// an agent calling in a loop must not make its session unreadable, or its
/// change set undecidable.
pub const SESSION_JOURNAL_BYTES: u64 = crate::run::journal::MAX_JOURNAL_BYTES / 2;

/// How long a journal write waits for a run another process holds.
const BUSY_WAIT: Duration = Duration::from_secs(30);

/// Who drives the session (journaled as `via`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// An agent, through `host mcp`.
    Mcp,
    /// A person, through `host call`.
    Cli,
}

impl Via {
    /// The name the journal records (`mcp` or `cli`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mcp => "mcp",
            Self::Cli => "cli",
        }
    }
}

/// What a session serves, and where its writes go.
#[derive(Debug, Clone)]
pub struct SessionOptions<'a> {
    /// The plugins folder whose tool plugins are served.
    pub plugins_dir: &'a Path,
    /// Serve only this tool plugin (`host call`).
    pub only: Option<&'a str>,
    /// The workspace the plugins read.
    pub workspace: &'a Path,
    /// Where approved writes land.
    pub out_dir: &'a Path,
    /// The policy file (default `<plugins>/policy.toml` if it exists).
    pub policy: Option<&'a Path>,
    /// Who drives the session.
    pub via: Via,
    /// The most one session run records before the session goes on in a
    /// new run (at most [`SESSION_JOURNAL_BYTES`]).
    pub max_journal_bytes: u64,
}

/// A session and what it serves.
#[derive(Debug)]
pub struct Session {
    pub(crate) state_dir: PathBuf,
    /// The tools the session serves, by name.
    pub tools: Tools,
    pub(crate) policy: Policy,
    pub(crate) via: Via,
    /// Past this many journal bytes, the session goes on in a new run
    /// ([`SessionOptions`]).
    pub(crate) max_journal_bytes: u64,
    /// What each of the session's runs is created with (`params.continues`
    /// added for every run after the first).
    created: Event,
    store: RunStore,
    /// The run calls record in. Each call pins it for its whole length
    /// ([`Session::pin`]), so a call's request and its end are in one run,
    /// and a roll-over waits for the calls on the full run to end.
    current: tokio::sync::RwLock<SessionRun>,
    /// The current run's id, for callers that do not pin it.
    current_id: std::sync::Mutex<String>,
    /// A run created for a roll-over whose record in the full run failed
    /// (a full disk, say): the next roll-over goes on in it rather than
    /// create another, so a failing roll-over leaves no run behind that
    /// nothing names. Only taken under `current`'s write lock.
    spare: std::sync::Mutex<Option<SessionRun>>,
}

/// One of a session's runs, held only while a call writes to it.
#[derive(Debug)]
pub(crate) struct SessionRun {
    /// The run's id.
    pub(crate) id: String,
    run: tokio::sync::Mutex<Run>,
}

/// The run a call records in, for the whole call.
pub(crate) struct Pinned<'a> {
    run: tokio::sync::RwLockReadGuard<'a, SessionRun>,
    /// The full run this call's run continues, when this call rolled over.
    pub(crate) continued_from: Option<String>,
}

impl std::ops::Deref for Pinned<'_> {
    type Target = SessionRun;

    fn deref(&self) -> &SessionRun {
        &self.run
    }
}

impl Session {
    /// Load the folder's tool plugins (compiling on first use, progress to
    /// `notes`), describe them, read the policy and create the session run.
    pub async fn start(
        dirs: &crate::host_dirs::HostDirs,
        options: &SessionOptions<'_>,
        notes: crate::folder::Notes<'_>,
    ) -> anyhow::Result<Session> {
        let plugins_dir = std::path::absolute(options.plugins_dir)
            .unwrap_or_else(|_| options.plugins_dir.to_path_buf());
        let policy = Policy::load(&plugins_dir, options.policy)?;
        // The policy is the admin's input: no plugin of the session may
        // mount it or propose a write to it, from the first grant on.
        let admin_inputs: Vec<&Path> = policy.path.as_deref().into_iter().collect();
        let loaded = crate::folder::load_tools(
            dirs,
            options.plugins_dir,
            options.only,
            options.workspace,
            options.out_dir,
            &admin_inputs,
            notes,
        )?;
        let tools = crate::mcp::tools::describe_all(&loaded.plugins).await?;
        Session::create(dirs, &loaded, tools, policy, options)
    }

    /// Create the session run for `loaded` (its `run_created` pins
    /// `options.out_dir`) and serve `tools` under `policy`.
    pub fn create(
        dirs: &crate::host_dirs::HostDirs,
        loaded: &LoadedPlugins,
        tools: Tools,
        policy: Policy,
        options: &SessionOptions<'_>,
    ) -> anyhow::Result<Session> {
        let via = options.via;
        let created = loaded.session_created(via.as_str(), options.workspace, options.out_dir)?;
        let store = dirs.store();
        let first = SessionRun::create(&store, created.clone())?;
        Ok(Session {
            state_dir: std::path::absolute(dirs.state_dir())
                .unwrap_or_else(|_| dirs.state_dir().to_path_buf()),
            tools,
            policy,
            via,
            max_journal_bytes: options.max_journal_bytes.min(SESSION_JOURNAL_BYTES),
            created,
            store,
            current_id: std::sync::Mutex::new(first.id.clone()),
            current: tokio::sync::RwLock::new(first),
            spare: std::sync::Mutex::new(None),
        })
    }

    /// The policy's decision on a call (nothing is journaled: the governed
    /// call journals the decision it acts on).
    pub fn decide(
        &self,
        plugin: &str,
        arguments: &serde_json::Value,
    ) -> crate::mcp::policy::Decision {
        self.policy.decide(plugin, arguments)
    }

    /// The id of the run the session records in now.
    pub fn run_id(&self) -> String {
        self.current_id
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The state dir holding the session run.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// The run a call records in, for the call's whole length: the current
    /// one, or, once that one has recorded `max_journal_bytes`, a new run
    /// that continues the session. The full run records `session_continued`
    /// (the new run's id) and, with nothing pending, its completion; a
    /// change set waiting there stays for a person. The roll-over waits for
    /// the calls still recording in the full run.
    pub(crate) async fn pin(&self) -> Result<Pinned<'_>, RunError> {
        let run = self.current.read().await;
        if !run.is_full(self.max_journal_bytes).await {
            return Ok(Pinned {
                run,
                continued_from: None,
            });
        }
        drop(run);
        let mut current = self.current.write().await;
        let mut continued_from = None;
        // Another call may have rolled over while this one waited.
        if current.is_full(self.max_journal_bytes).await {
            let full = current.id.clone();
            let spare = self.spare().take();
            let next = match spare {
                Some(next) => next,
                None => {
                    let mut created = self.created.clone();
                    if let Event::RunCreated { params, .. } = &mut created {
                        params["continues"] = serde_json::Value::String(full.clone());
                    }
                    SessionRun::create(&self.store, created)?
                }
            };
            tracing::warn!(
                run = %full,
                next = %next.id,
                bytes = self.max_journal_bytes,
                "the session run is full; the session goes on in a new run"
            );
            let next_id = next.id.clone();
            let recorded = current
                .with_run(false, |run| {
                    let mut events = vec![Event::SessionContinued {
                        run: next_id.clone(),
                    }];
                    if run.state().status == RunStatus::Running {
                        events.push(Event::RunCompleted {});
                    }
                    run.record_all(events)
                })
                .await;
            if let Err(error) = recorded {
                *self.spare() = Some(next);
                return Err(error);
            }
            *current = next;
            *self
                .current_id
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = next_id;
            continued_from = Some(full);
        }
        Ok(Pinned {
            run: current.downgrade(),
            continued_from,
        })
    }

    /// The session ends (its server stops, `host call` is done): a session
    /// run with nothing pending (running: no change set waits, none is
    /// being applied) is recorded completed, so that it is not left
    /// looking interrupted. One that waits for a person stays waiting.
    pub async fn close(&self) -> Result<(), RunError> {
        let current = self.current.read().await;
        let spare = self.spare().take();
        if let Some(spare) = spare {
            // Nothing was recorded in it: it ends completed too.
            spare.with_run(false, close_idle).await?;
        }
        current.with_run(false, close_idle).await.map(|_| ())
    }

    fn spare(&self) -> std::sync::MutexGuard<'_, Option<SessionRun>> {
        self.spare
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The console's link to session run `id`, when `host console` runs
    /// (`<state-dir>/console.json` names a live process).
    pub fn console_link(&self, id: &str) -> Option<String> {
        console_url(&self.state_dir).map(|url| format!("{url}/runs/{id}"))
    }
}

impl SessionRun {
    /// Create a session run and let it go (it is taken back per write).
    fn create(store: &RunStore, created: Event) -> Result<SessionRun, RunError> {
        let mut run = store.create(created)?;
        run.release()?;
        Ok(SessionRun {
            id: run.id().to_string(),
            run: tokio::sync::Mutex::new(run),
        })
    }

    /// Whether the run has recorded more than `max` bytes.
    async fn is_full(&self, max: u64) -> bool {
        self.run.lock().await.journal_bytes() > max
    }

    /// Take the session run, do `f` with it, let it go again: briefly (the
    /// journal head left to lag, see [`Run::release_briefly`]) if the call
    /// `goes_on` and will take the run back to record its end.
    pub(crate) async fn with_run<R>(
        &self,
        goes_on: bool,
        f: impl FnOnce(&mut Run) -> Result<R, RunError>,
    ) -> Result<R, RunError> {
        let mut run = self.run.lock().await;
        let deadline = Instant::now() + BUSY_WAIT;
        loop {
            match run.retake() {
                Ok(()) => break,
                Err(RunError::Busy { .. }) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => return Err(e),
            }
        }
        if !goes_on {
            // What `f` records is the last before the run is let go.
            run.closing();
        }
        let result = f(&mut run);
        let released = if goes_on {
            run.release_briefly()
        } else {
            run.release()
        };
        let value = result?;
        released?;
        Ok(value)
    }
}

/// Record a session run with nothing pending completed (see
/// [`Session::close`]); whether it was.
pub fn close_idle(run: &mut Run) -> Result<bool, RunError> {
    if run.state().status != RunStatus::Running {
        return Ok(false);
    }
    run.record(Event::RunCompleted {})?;
    Ok(true)
}

/// The URL in `<state_dir>/console.json` if the process it names is alive.
fn console_url(state_dir: &Path) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Console {
        url: String,
        pid: u32,
    }
    let bytes = crate::bounded_read::read_regular(
        &state_dir.join("console.json"),
        64 << 10,
        "console file",
        crate::bounded_read::Symlinks::Refuse,
    )
    .ok()?;
    let console: Console = serde_json::from_slice(&bytes).ok()?;
    let local = console.url.starts_with("http://127.0.0.1:")
        || console.url.starts_with("http://[::1]:")
        || console.url.starts_with("http://localhost:");
    let alive = console.pid != 0 && !crate::leftovers::process_is_dead(console.pid);
    (local && alive).then_some(console.url)
}
