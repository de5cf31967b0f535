//! Waiting until a wall-clock instant with sub-millisecond precision, for
//! [`FakeAtlassian::set_wall_clock_latency`](super::FakeAtlassian::set_wall_clock_latency).
//!
//! tokio's timer works in whole milliseconds and wakes up to two of them late: a 5 ms
//! latency measured 6.5 ms per request on loopback, which no client could beat. One thread per
//! process keeps the pending deadlines in a heap and sleeps on a condition variable until the
//! earliest, then wakes its waiters. On Linux the thread asks for no timer slack (the kernel
//! would otherwise wake it up to 50 µs late to batch wakeups).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Instant;

use tokio::sync::oneshot;

/// A deadline and the waiter to wake at it, ordered by deadline then by arrival.
struct Pending {
    at: Instant,
    seq: u64,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Pending {}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

#[derive(Default)]
struct Timer {
    pending: Mutex<(BinaryHeap<Reverse<Pending>>, u64)>,
    changed: Condvar,
}

impl Timer {
    fn global() -> &'static Timer {
        static TIMER: OnceLock<&'static Timer> = OnceLock::new();
        TIMER.get_or_init(|| {
            let timer: &'static Timer = Box::leak(Box::default());
            std::thread::Builder::new()
                .name("fake-atlassian-timer".into())
                .spawn(move || {
                    // Linux wakes a sleeping thread up to its timer slack (50 µs by default)
                    // late, to batch wakeups: this thread's whole job is waking on time.
                    #[cfg(target_os = "linux")]
                    let _ = rustix::thread::set_current_timer_slack(std::num::NonZeroU64::new(1));
                    timer.run()
                })
                .expect("the fake's timer thread starts");
            timer
        })
    }

    fn run(&self) {
        let mut guard = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let now = Instant::now();
            while guard.0.peek().is_some_and(|Reverse(p)| p.at <= now) {
                if let Some(Reverse(due)) = guard.0.pop() {
                    // The waiter may have given up (its request was dropped): nothing to wake.
                    let _ = due.wake.send(());
                }
            }
            guard = match guard.0.peek().map(|Reverse(p)| p.at) {
                Some(at) => {
                    self.changed
                        .wait_timeout(guard, at.saturating_duration_since(now))
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
                None => self.changed.wait(guard).unwrap_or_else(|p| p.into_inner()),
            };
        }
    }

    fn wake_at(&self, at: Instant) -> oneshot::Receiver<()> {
        let (wake, woken) = oneshot::channel();
        let mut guard = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let earliest = guard.0.peek().is_none_or(|Reverse(p)| at < p.at);
        guard.1 += 1;
        let seq = guard.1;
        guard.0.push(Reverse(Pending { at, seq, wake }));
        drop(guard);
        if earliest {
            self.changed.notify_one();
        }
        woken
    }
}

/// Completes at `at` on the wall clock (within the kernel's timer slack), never before.
pub(crate) async fn until(at: Instant) {
    if at <= Instant::now() {
        return;
    }
    // The timer thread lives as long as the process, so the sender is never dropped unsent.
    let _ = Timer::global().wake_at(at).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn waiters_wake_in_deadline_order_never_before_their_deadline() {
        let start = Instant::now();
        let later = start + Duration::from_millis(4);
        let sooner = start + Duration::from_millis(2);
        // The later deadline is registered first: the earlier one must still wake first.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut tasks = Vec::new();
        for (name, at) in [("later", later), ("sooner", sooner)] {
            let tx = tx.clone();
            tasks.push(tokio::spawn(async move {
                until(at).await;
                tx.send((name, Instant::now())).unwrap();
            }));
            tokio::task::yield_now().await;
        }
        drop(tx);
        let mut woken = Vec::new();
        while let Some(w) = rx.recv().await {
            woken.push(w);
        }
        assert_eq!(woken.len(), 2);
        assert_eq!(woken[0].0, "sooner");
        assert!(woken[0].1 >= sooner, "woke before its deadline");
        assert!(woken[1].1 >= later, "woke before its deadline");
    }

    #[tokio::test]
    async fn a_deadline_already_past_completes_at_once() {
        let past = Instant::now();
        until(past).await;
        until(past - Duration::from_millis(1)).await;
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_does_not_stop_the_others() {
        let at = Instant::now() + Duration::from_millis(2);
        let abandoned = tokio::spawn(until(at));
        abandoned.abort();
        until(at).await;
        assert!(Instant::now() >= at);
    }
}
