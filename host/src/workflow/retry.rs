//! When a step that failed with a `transient` error is tried again.
//!
//! Only a plugin's own `transient` answer is retried: `invalid-input` and
//! `failed` would fail the same way again, and a trap, timeout or limit is the
//! sandbox stopping the plugin, which a retry must not paper over.
//!
//! The delay before attempt `n + 1` is exponential in `n` and capped, with
//! "equal jitter": a uniformly random point in the upper half of the
//! exponential delay. Many runs retrying against the same service then spread
//! out, and every delay still has a known floor and ceiling (which the tests
//! check against the journal).

use std::hash::{BuildHasher as _, Hasher as _};
use std::time::Duration;

/// How often and how patiently a step is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included (1 = never retry).
    pub max_attempts: u32,
    /// Delay ceiling before the second attempt; doubled for each later one.
    pub backoff: Duration,
    /// No delay is longer than this.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 1,
            backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// Whether another attempt follows a transient failure of `attempt` (1-based).
    pub fn retries_after(&self, attempt: u32) -> bool {
        attempt < self.max_attempts
    }

    /// The ceiling of the delay after attempt `attempt` (1-based) failed:
    /// `backoff * 2^(attempt-1)`, at most `max_backoff`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(30);
        self.backoff
            .saturating_mul(1u32 << doublings)
            .min(self.max_backoff)
    }

    /// The jittered delay after attempt `attempt` failed: uniform in
    /// `[ceiling / 2, ceiling]`. `unit` is a random number in `[0, 1)`.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let ceiling = self.ceiling(attempt);
        let half = ceiling / 2;
        half + half.mul_f64(unit.clamp(0.0, 1.0))
    }
}

/// A random number in `[0, 1)` for jitter. Not cryptographic: it only needs
/// to differ between processes and calls, which std's randomly keyed hasher
/// gives without another dependency.
pub fn jitter_unit() -> f64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(300),
        }
    }

    #[test]
    fn delays_double_and_are_capped() {
        let p = policy();
        assert_eq!(p.ceiling(1), Duration::from_millis(100));
        assert_eq!(p.ceiling(2), Duration::from_millis(200));
        assert_eq!(p.ceiling(3), Duration::from_millis(300));
        assert_eq!(p.ceiling(40), Duration::from_millis(300));
    }

    #[test]
    fn jitter_stays_in_the_upper_half() {
        let p = policy();
        assert_eq!(p.delay(2, 0.0), Duration::from_millis(100));
        assert_eq!(p.delay(2, 1.0), Duration::from_millis(200));
        for _ in 0..100 {
            let u = jitter_unit();
            assert!((0.0..1.0).contains(&u), "{u}");
            let d = p.delay(1, u);
            assert!(d >= Duration::from_millis(50) && d <= Duration::from_millis(100));
        }
    }

    #[test]
    fn attempts_are_bounded() {
        let p = policy();
        assert!(p.retries_after(3));
        assert!(!p.retries_after(4));
        assert!(!RetryPolicy::default().retries_after(1));
    }
}
