//! Stopping one invocation from outside: a [`Cancel`] handle the caller
//! keeps (an MCP `notifications/cancelled`, a closed client) and the
//! invocation watches in two places. A guest spinning in wasm code is
//! stopped by the store's epoch callback, which checks the flag on every
//! tick (wasm never yields otherwise); a guest blocked in a host call is
//! stopped by dropping the call, which the invocation does when the flag's
//! notification fires. Either way the store is torn down as after a timeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// A cancellation flag shared between a caller and one invocation.
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    set: AtomicBool,
    notify: Notify,
}

impl Cancel {
    /// A handle not yet cancelled.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Ask the invocation to stop (idempotent).
    pub fn cancel(&self) {
        self.inner.set.store(true, Ordering::SeqCst);
        self.inner.notify.notify_waiters();
    }

    /// Whether [`Cancel::cancel`] was called on this handle or a clone of it.
    pub fn is_cancelled(&self) -> bool {
        self.inner.set.load(Ordering::SeqCst)
    }

    /// Resolves once [`Self::cancel`] was called.
    pub async fn cancelled(&self) {
        loop {
            let notified = self.inner.notify.notified();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}

/// The error an epoch callback returns to stop a cancelled guest.
#[derive(Debug, thiserror::Error)]
#[error("the invocation was cancelled by its caller")]
pub(crate) struct Cancelled;

#[cfg(test)]
mod tests {
    use super::Cancel;

    #[tokio::test]
    async fn cancelled_resolves_after_cancel_even_if_set_before_waiting() {
        let c = Cancel::new();
        c.cancel();
        c.cancelled().await;
        assert!(c.is_cancelled());
        let d = Cancel::new();
        let waiter = tokio::spawn({
            let d = d.clone();
            async move { d.cancelled().await }
        });
        tokio::task::yield_now().await;
        d.cancel();
        waiter.await.expect("waiter finishes");
    }
}
