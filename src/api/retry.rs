//! The one retry policy: exponential backoff with jitter, bounded in attempts and in total
//! time, that waits what a 429's `Retry-After` asks; plus a polite request pacer.
//!
//! Built on `backon` (the maintained successor of the unmaintained `backoff` crate,
//! RUSTSEC-2025-0012).

use std::sync::Mutex;
use std::time::Duration;

use backon::ExponentialBuilder;
use tokio::time::Instant;

/// How hard to try before giving up on one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// First wait; doubles each retry, with jitter.
    pub min_delay: Duration,
    /// Longest single wait from the backoff (a `Retry-After` may ask for more, up to `max_elapsed`).
    pub max_delay: Duration,
    /// Upper bound on the time spent waiting between attempts of one request: backoff
    /// sleeps, `Retry-After` waits and the pacer's waits before a retry alike.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(20),
            max_elapsed: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// The backoff schedule `backon` follows.
    pub(crate) fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_jitter()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_attempts.saturating_sub(1) as usize)
            .with_total_delay(Some(self.max_elapsed))
    }
}

/// Spaces requests out to at most `max_rps` per second (if set), and slows down after
/// each 429 until requests succeed again. Shared by every stream of one bot.
#[derive(Debug)]
pub(crate) struct Pacer {
    base_interval: Duration,
    state: Mutex<PacerState>,
}

#[derive(Debug)]
struct PacerState {
    interval: Duration,
    next_slot: Option<Instant>,
}

/// The slowest the pacer gets after repeated 429s.
const MAX_PENALTY_INTERVAL: Duration = Duration::from_secs(5);

impl Pacer {
    pub(crate) fn new(max_rps: Option<f64>) -> Pacer {
        let base_interval = match max_rps {
            Some(rps) if rps > 0.0 && rps.is_finite() => Duration::from_secs_f64(1.0 / rps),
            _ => Duration::ZERO,
        };
        Pacer {
            base_interval,
            state: Mutex::new(PacerState {
                interval: base_interval,
                next_slot: None,
            }),
        }
    }

    /// How long a request asking for a slot now would wait (other requests asking
    /// first can make it longer).
    pub(crate) fn pending_wait(&self) -> Duration {
        let state = match self.state.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        state.next_slot.map_or(Duration::ZERO, |next| {
            next.saturating_duration_since(Instant::now())
        })
    }

    /// Waits for this request's slot; returns how long it waited.
    pub(crate) async fn wait_turn(&self) -> Duration {
        let now = Instant::now();
        let slot = {
            let mut state = match self.state.lock() {
                Ok(s) => s,
                Err(poisoned) => poisoned.into_inner(),
            };
            if state.interval.is_zero() {
                return Duration::ZERO;
            }
            let slot = state.next_slot.map_or(now, |next| next.max(now));
            state.next_slot = Some(slot + state.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
        slot.saturating_duration_since(now)
    }

    /// After a 429: double the spacing (at least 50 ms), up to 5 s.
    pub(crate) fn slow_down(&self) {
        let mut state = match self.state.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        let doubled = (state.interval * 2).max(Duration::from_millis(50));
        state.interval = doubled.min(MAX_PENALTY_INTERVAL.max(self.base_interval));
    }

    /// After a success: ease back towards the configured pace.
    pub(crate) fn recover(&self) {
        let mut state = match self.state.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        if state.interval > self.base_interval {
            let eased = state.interval.mul_f64(0.8);
            state.interval = if eased < Duration::from_millis(5) {
                self.base_interval
            } else {
                eased.max(self.base_interval)
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn pacer_spaces_requests_and_backs_off() {
        let pacer = Pacer::new(Some(10.0));
        let start = Instant::now();
        for _ in 0..5 {
            pacer.wait_turn().await;
        }
        // Slots at 0, 100, 200, 300, 400 ms.
        assert_eq!(start.elapsed(), Duration::from_millis(400));
        pacer.slow_down();
        let before = Instant::now();
        pacer.wait_turn().await;
        pacer.wait_turn().await;
        assert!(
            before.elapsed() >= Duration::from_millis(200),
            "{:?}",
            before.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn unpaced_pacer_never_waits_until_rate_limited() {
        let pacer = Pacer::new(None);
        let start = Instant::now();
        for _ in 0..100 {
            pacer.wait_turn().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        pacer.slow_down();
        pacer.wait_turn().await;
        pacer.wait_turn().await;
        assert_eq!(start.elapsed(), Duration::from_millis(50));
        for _ in 0..50 {
            pacer.recover();
        }
        let t = Instant::now();
        pacer.wait_turn().await;
        pacer.wait_turn().await;
        assert!(t.elapsed() <= Duration::from_millis(50));
    }
}
