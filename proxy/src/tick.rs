//! A coarse clock for request deadlines. A tokio timer per request costs a timer-wheel
//! insertion and removal, and whenever it becomes the earliest timer an eventfd write to wake
//! the driver: at `-P 1` that was one extra syscall for every second request. Instead one
//! task ticks every `TICK` and each waiter checks its own deadline on a tick, as Redis's
//! serverCron does for client timeouts at `hz 10`. Deadlines fire up to one tick late.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// How often deadlines are checked.
pub(crate) const TICK: Duration = Duration::from_millis(100);

static TICKS: Notify = Notify::const_new();
static TICKING: AtomicBool = AtomicBool::new(false);

/// Clears `TICKING` when the ticker task goes away with its runtime, so the next waiter (on
/// another runtime, as in tests) starts a new one.
struct Ticking;

impl Drop for Ticking {
    fn drop(&mut self) {
        TICKING.store(false, Ordering::SeqCst);
    }
}

/// Starts the ticker on the current runtime unless one runs.
fn start() {
    if TICKING.load(Ordering::Relaxed) || TICKING.swap(true, Ordering::SeqCst) {
        return;
    }
    tokio::spawn(async {
        let _ticking = Ticking;
        let mut every = tokio::time::interval(TICK);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            TICKS.notify_waiters();
        }
    });
}

/// `fut`'s output, or `None` once `deadline` has passed first (checked on each tick).
pub(crate) async fn until<F: Future>(deadline: Instant, fut: F) -> Option<F::Output> {
    start();
    tokio::pin!(fut);
    loop {
        // Created before `fut` is polled, so a tick in between is not missed.
        let tick = TICKS.notified();
        tokio::select! {
            biased;
            out = &mut fut => return Some(out),
            _ = tick => {}
        }
        if Instant::now() >= deadline {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_ready_future_wins_and_a_pending_one_times_out_within_a_tick() {
        let now = Instant::now();
        assert_eq!(until(now + Duration::from_secs(5), async { 7 }).await, Some(7));
        let start = Instant::now();
        let out = until(start + Duration::from_millis(150), std::future::pending::<()>()).await;
        assert_eq!(out, None);
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(150), "gave up early: {waited:?}");
        // A ready future wins even when the deadline has passed.
        assert_eq!(until(Instant::now(), async { 8 }).await, Some(8));
    }
}
