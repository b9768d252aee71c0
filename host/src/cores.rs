//! How many cores the host may use, and running a little work on each.
//!
//! `std::thread::available_parallelism` reads the process's CPU affinity and
//! its cgroup's quota files on every call; the host asks once per process.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The number of cores this process may run on (at least 1), looked up once.
pub fn count() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// `f` of every item, in the items' order, computed by up to [`count`]
/// threads at once: the calling thread and as many helpers as there are
/// further cores (never more threads than items), each taking the next item
/// until none is left. A panic in `f` is resumed on the calling thread once
/// every thread has stopped.
pub fn each_in_parallel<T, R, F>(items: &[T], f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    let workers = items.len().min(count());
    if workers <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    // Each thread keeps what it computed with the item's index.
    let work = || {
        let mut done = Vec::new();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(index) else {
                return done;
            };
            done.push((index, f(item)));
        }
    };
    let mut all = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..workers).map(|_| scope.spawn(work)).collect();
        let mut all = work();
        for helper in helpers {
            match helper.join() {
                Ok(done) => all.extend(done),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        all
    });
    all.sort_unstable_by_key(|(index, _)| *index);
    all.into_iter().map(|(_, result)| result).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_is_computed_once_in_order() {
        let items: Vec<u32> = (0..37).collect();
        let calls = AtomicUsize::new(0);
        let squares = each_in_parallel(&items, |n| {
            calls.fetch_add(1, Ordering::Relaxed);
            n * n
        });
        assert_eq!(squares, items.iter().map(|n| n * n).collect::<Vec<_>>());
        assert_eq!(calls.load(Ordering::Relaxed), items.len());
        assert!(each_in_parallel(&[] as &[u32], |n| *n).is_empty());
    }

    #[test]
    fn a_panic_reaches_the_caller() {
        let items = [1, 2, 3, 4];
        let caught = std::panic::catch_unwind(|| {
            each_in_parallel(&items, |n| {
                assert_ne!(*n, 3, "three");
                *n
            })
        });
        assert!(caught.is_err());
    }
}
