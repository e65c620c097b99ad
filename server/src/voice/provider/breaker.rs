//! A circuit breaker in front of the speech provider.
//!
//! * **closed**: calls go through; `threshold` consecutive failures open it.
//! * **open**: calls are refused at once (the API answers 503 `voice_unavailable` with the text,
//!   without waiting on a provider that is down) until `cooldown` has passed.
//! * **half-open**: one probe call is let through; its success closes the breaker, its failure
//!   opens it for another cooldown. Other calls are refused while the probe runs.
//!
//! A call whose outcome says nothing about the provider's health (the account was refused: quota,
//! key) is reported [`Permit::neutral`]: it neither counts towards opening nor resets the count.
//!
//! Hand-written (about 100 lines) because the rule is small and must report its state as a metric
//! and hand back a `Retry-After`; the crates available add generic policies we do not need.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use prometheus::IntGauge;

/// The breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls flow; this many failed in a row.
    Closed(u32),
    /// Calls are refused until this instant.
    Open(Instant),
    /// One probe is in flight (`true`) or may be sent (`false`).
    HalfOpen(bool),
}

/// The breaker.
pub struct Breaker {
    state: Mutex<BreakerState>,
    /// Consecutive failures that open it.
    threshold: u32,
    /// How long it stays open.
    cooldown: Duration,
    /// `coach_voice_breaker_state`: 0 closed, 1 half-open, 2 open.
    gauge: IntGauge,
}

/// Permission to make one call; report how it went with [`Permit::success`] or
/// [`Permit::failure`]. Dropping it unreported (the call was cancelled) frees a half-open probe slot.
pub struct Permit<'a> {
    breaker: &'a Breaker,
    probe: bool,
    reported: bool,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(threshold: u32, cooldown: Duration, gauge: IntGauge) -> Self {
        gauge.set(0);
        Self { state: Mutex::new(BreakerState::Closed(0)), threshold: threshold.max(1), cooldown, gauge }
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        *self.state.lock().expect("breaker lock")
    }

    /// A permit, or how long until a call may be tried again.
    pub fn try_acquire(&self) -> Result<Permit<'_>, Duration> {
        let mut s = self.state.lock().expect("breaker lock");
        let now = Instant::now();
        match *s {
            BreakerState::Closed(_) => Ok(Permit { breaker: self, probe: false, reported: false }),
            BreakerState::Open(until) if now < until => Err(until - now),
            BreakerState::Open(_) | BreakerState::HalfOpen(false) => {
                *s = BreakerState::HalfOpen(true);
                self.gauge.set(1);
                Ok(Permit { breaker: self, probe: true, reported: false })
            }
            BreakerState::HalfOpen(true) => Err(Duration::from_secs(1)),
        }
    }

    fn report(&self, ok: bool, probe: bool) {
        let mut s = self.state.lock().expect("breaker lock");
        let next = match (*s, ok) {
            (_, true) => BreakerState::Closed(0),
            (BreakerState::Closed(n), false) if n + 1 < self.threshold => BreakerState::Closed(n + 1),
            (BreakerState::HalfOpen(_), false) if !probe => *s,
            _ => BreakerState::Open(Instant::now() + self.cooldown),
        };
        self.gauge.set(match next {
            BreakerState::Closed(_) => 0,
            BreakerState::HalfOpen(_) => 1,
            BreakerState::Open(_) => 2,
        });
        *s = next;
    }
}

impl Permit<'_> {
    /// The call succeeded.
    pub fn success(mut self) {
        self.reported = true;
        self.breaker.report(true, self.probe);
    }

    /// The call failed in a way that says the provider is unhealthy.
    pub fn failure(mut self) {
        self.reported = true;
        self.breaker.report(false, self.probe);
    }

    /// The call says nothing about the provider's health (its account was refused): the state and
    /// the failure count stay as they were; a half-open probe slot is freed for the next call.
    pub fn neutral(self) {
        drop(self);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.reported && self.probe {
            let mut s = self.breaker.state.lock().expect("breaker lock");
            if *s == BreakerState::HalfOpen(true) {
                *s = BreakerState::HalfOpen(false);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(threshold: u32, cooldown_ms: u64) -> Breaker {
        Breaker::new(threshold, Duration::from_millis(cooldown_ms), IntGauge::new("g", "g").unwrap())
    }

    #[test]
    fn opens_after_threshold_then_half_opens_and_closes() {
        let b = breaker(3, 50);
        for _ in 0..2 {
            b.try_acquire().unwrap().failure();
        }
        assert_eq!(b.state(), BreakerState::Closed(2));
        b.try_acquire().unwrap().failure();
        assert!(matches!(b.state(), BreakerState::Open(_)));
        assert!(b.try_acquire().is_err(), "open refuses");
        std::thread::sleep(Duration::from_millis(60));
        let probe = b.try_acquire().expect("one probe after the cooldown");
        assert!(b.try_acquire().is_err(), "only one probe at a time");
        probe.success();
        assert_eq!(b.state(), BreakerState::Closed(0));
    }

    #[test]
    fn failed_probe_reopens_and_cancelled_probe_frees_the_slot() {
        let b = breaker(1, 20);
        b.try_acquire().unwrap().failure();
        std::thread::sleep(Duration::from_millis(30));
        drop(b.try_acquire().unwrap());
        assert_eq!(b.state(), BreakerState::HalfOpen(false));
        b.try_acquire().unwrap().failure();
        assert!(matches!(b.state(), BreakerState::Open(_)));
    }

    #[test]
    fn neutral_outcomes_neither_open_nor_reset() {
        let b = breaker(2, 1000);
        b.try_acquire().unwrap().failure();
        for _ in 0..10 {
            b.try_acquire().unwrap().neutral();
        }
        assert_eq!(b.state(), BreakerState::Closed(1), "neither counted nor reset");
        b.try_acquire().unwrap().failure();
        assert!(matches!(b.state(), BreakerState::Open(_)));
    }

    #[test]
    fn success_resets_the_count() {
        let b = breaker(2, 1000);
        b.try_acquire().unwrap().failure();
        b.try_acquire().unwrap().success();
        b.try_acquire().unwrap().failure();
        assert_eq!(b.state(), BreakerState::Closed(1));
    }
}
