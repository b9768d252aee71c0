//! The session a server is still loading. `host mcp` answers `initialize`
//! at once and loads (and, on first use, compiles) its tool plugins in the
//! background: a cold start of a large component takes seconds, longer
//! than some clients wait for a handshake. Requests that need the tools
//! wait for the load; one that carries a `progressToken` gets a
//! `notifications/progress` for each thing the load reports meanwhile
//! (which plugin compiles, how long it took).

use std::sync::{Arc, Mutex};

use rmcp::Peer;
use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::RoleServer;
use tokio::sync::{Notify, watch};

use crate::folder::Note;
use crate::mcp::session::Session;
use crate::render::inert;

/// Where the load is.
#[derive(Debug, Clone)]
pub enum Phase {
    /// The plugins are still loading.
    Pending,
    /// The session is ready to serve.
    Ready(Arc<Session>),
    /// The load failed; the message says why.
    Failed(Arc<str>),
}

/// The load's state and what it said so far.
#[derive(Debug)]
pub struct Loading {
    phase: watch::Sender<Phase>,
    notes: Mutex<Vec<String>>,
    noted: Notify,
}

impl Default for Loading {
    fn default() -> Self {
        Loading {
            phase: watch::Sender::new(Phase::Pending),
            notes: Mutex::new(Vec::new()),
            noted: Notify::new(),
        }
    }
}

impl Loading {
    /// A load that has not finished, shared by the loader and the server.
    pub fn new() -> Arc<Loading> {
        Arc::new(Loading::default())
    }

    /// Record a line of progress (inert).
    pub fn note(&self, line: String) {
        if let Ok(mut notes) = self.notes.lock() {
            notes.push(line);
        }
        self.noted.notify_waiters();
    }

    /// Record a load [`Note`] as progress.
    pub fn record(&self, note: Note<'_>) {
        let line = match note {
            Note::LegacyGrants(_) => {
                "the plugins folder has no grants.toml: each manifest's request is granted"
                    .to_string()
            }
            Note::Build(_) => return,
            Note::Compiling { plugin, size } => format!(
                "compiling plugin `{}` ({size} bytes, first use)",
                inert(plugin)
            ),
            Note::Compiled { plugin, ms } => {
                format!("compiled plugin `{}` in {ms} ms", inert(plugin))
            }
            Note::Stale { plugin, .. } => format!(
                "the component of plugin `{}` is older than its sources",
                inert(plugin)
            ),
        };
        self.note(line);
    }

    /// The load finished: serve `session` from now on.
    pub fn ready(&self, session: Session) {
        self.phase.send_replace(Phase::Ready(Arc::new(session)));
    }

    /// The load failed with `message`.
    pub fn failed(&self, message: String) {
        self.phase.send_replace(Phase::Failed(Arc::from(message)));
    }

    /// The phase now.
    pub fn phase(&self) -> Phase {
        self.phase.borrow().clone()
    }

    /// Wait until the load ends, sending `peer` a progress notification for
    /// each note meanwhile when the request carried a `progress` token.
    pub async fn wait(
        &self,
        peer: &Peer<RoleServer>,
        progress: Option<&ProgressToken>,
    ) -> Result<Arc<Session>, Arc<str>> {
        let mut phase = self.phase.subscribe();
        let mut sent = 0;
        loop {
            let noted = self.noted.notified();
            match &*phase.borrow_and_update() {
                Phase::Ready(session) => return Ok(Arc::clone(session)),
                Phase::Failed(message) => return Err(Arc::clone(message)),
                Phase::Pending => {}
            }
            let fresh: Vec<String> = self
                .notes
                .lock()
                .map(|notes| notes.iter().skip(sent).cloned().collect())
                .unwrap_or_default();
            for line in fresh {
                sent += 1;
                let Some(token) = progress else { continue };
                let param =
                    ProgressNotificationParam::new(token.clone(), sent as f64).with_message(line);
                if let Err(error) = peer.notify_progress(param).await {
                    tracing::debug!(%error, "cannot send a progress notification");
                }
            }
            tokio::select! {
                _ = phase.changed() => {}
                () = noted => {}
                // A note recorded between the check and the wait is sent on the next turn.
                () = tokio::time::sleep(std::time::Duration::from_millis(100)) => {}
            }
        }
    }
}
