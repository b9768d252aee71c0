//! Live updates: a watcher polls the state directory and publishes a
//! snapshot (every run's status) whenever it changes; each open page holds a
//! server-sent-events stream of `{"version", "waiting"}` and refetches what
//! it shows when the version moves. A run that starts waiting for approval
//! is also announced to the webhook ([`crate::console::webhook`]).

use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::watch;

use crate::console::pages::status_key;
use crate::console::webhook::{Waiting, Webhook};
use crate::run::state::RunStatus;
use crate::run::store::RunStore;

/// How often the state directory is looked at.
pub const POLL: Duration = Duration::from_millis(300);

/// What the pages are told.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Bumped on every change.
    pub version: u64,
    /// How many runs wait for approval.
    pub waiting: usize,
    /// Every run with its status key.
    pub runs: Vec<(String, &'static str)>,
}

/// Runs and their states, read from the store.
fn look(store: &RunStore) -> Vec<(String, RunStatus, crate::run::state::RunState)> {
    let ids = store.ids().unwrap_or_default();
    ids.into_iter()
        .filter_map(|id| store.peek(&id).ok().map(|s| (id, s.status, s)))
        .collect()
}

/// Start the watcher; `console_url` is used for the webhook's links.
pub fn watch(
    store: RunStore,
    webhook: Option<Webhook>,
    console_url: String,
) -> watch::Receiver<Snapshot> {
    let (tx, rx) = watch::channel(Snapshot::default());
    tokio::spawn(async move {
        let mut known: Option<Vec<(String, &'static str)>> = None;
        loop {
            let store2 = store.clone();
            let Ok(seen) = tokio::task::spawn_blocking(move || look(&store2)).await else {
                tokio::time::sleep(POLL).await;
                continue;
            };
            let runs: Vec<(String, &'static str)> = seen
                .iter()
                .map(|(id, status, _)| (id.clone(), status_key(*status)))
                .collect();
            if known.as_ref() != Some(&runs) {
                if let (Some(before), Some(hook)) = (&known, &webhook) {
                    for (id, status, state) in &seen {
                        let was_waiting = before
                            .iter()
                            .any(|(b, s)| b == id && *s == status_key(RunStatus::WaitingApproval));
                        if *status == RunStatus::WaitingApproval && !was_waiting {
                            hook.notify(&Waiting {
                                event: "approval_requested",
                                run: id.clone(),
                                url: format!(
                                    "{console_url}/runs/{}",
                                    crate::console::html::url_component(id)
                                ),
                                workflow: state.workflow.clone(),
                                digest: state.change_set_digest.clone().unwrap_or_default(),
                                files: state.change_set.as_ref().map_or(0, |c| c.entries.len()),
                                at_ms: state.updated_ms,
                            });
                        }
                    }
                }
                let waiting = seen
                    .iter()
                    .filter(|(_, s, _)| *s == RunStatus::WaitingApproval)
                    .count();
                tx.send_modify(|snap| {
                    snap.version += 1;
                    snap.waiting = waiting;
                    snap.runs = runs.clone();
                });
                known = Some(runs);
            }
            if tx.is_closed() {
                return;
            }
            tokio::time::sleep(POLL).await;
        }
    });
    rx
}

/// The event stream of one page: the current snapshot at once, then one
/// event per change, for as long as `live` says the session that opened it
/// lasts (looked at every [`POLL`]): a logout or the session's end closes
/// the stream, so a page left open learns nothing more.
pub fn stream(
    rx: watch::Receiver<Snapshot>,
    live: impl Fn() -> bool + Send + Sync + 'static,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let events =
        futures_util::stream::unfold((rx, true, live), |(mut rx, first, live)| async move {
            if !first && !changed_while(&mut rx, &live).await {
                return None;
            }
            if !live() {
                return None;
            }
            let (version, waiting) = {
                let snap = rx.borrow_and_update();
                (snap.version, snap.waiting)
            };
            let event = Event::default()
                .event("runs")
                .data(format!("{{\"version\":{version},\"waiting\":{waiting}}}"));
            Some((Ok(event), (rx, false, live)))
        });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// Wait for the next snapshot, looking at `live` every [`POLL`]: false
/// when `live` says no first or the watcher is gone.
async fn changed_while(rx: &mut watch::Receiver<Snapshot>, live: &impl Fn() -> bool) -> bool {
    while live() {
        tokio::select! {
            changed = rx.changed() => return changed.is_ok(),
            () = tokio::time::sleep(POLL) => {}
        }
    }
    false
}
