//! Per-user rate limits (GCRA from the `governor` crate): a burst and a sustained rate per minute.
//! A refused request gets 429 `rate_limited` with `Retry-After`. Limits are per server process;
//! behind several replicas each replica enforces its own share (documented in deployment.md).
//!
//! The areas keep the limiters of their own costly routes (training intake, new voice clips);
//! [`Limiters`] holds those of the everyday write routes — coaching lines, logged sets and voice
//! interactions — whose settings ([`RateLimitConfig`]) are read with the server's configuration.

use std::num::NonZeroU32;

use anyhow::Result;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::env_parse;
use crate::error::AppError;

/// Sustained rate and burst of each limited everyday route, per user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// `COACH_AI_COACH_PER_MINUTE`: coaching lines (`POST /v1/ai/coach`) a user may ask for per
    /// minute, sustained (default 30). Each may run up to five model generations on the blocking
    /// pool, and the app asks once per logged set — a set takes far longer than two seconds.
    pub coach_per_minute: u32,
    /// `COACH_AI_COACH_BURST`: coaching lines a user may ask for at once (default 20).
    pub coach_burst: u32,
    /// `COACH_WORKOUTS_PER_MINUTE`: sets (`POST /v1/workouts`) a user may log per minute,
    /// sustained (default 60).
    pub workouts_per_minute: u32,
    /// `COACH_WORKOUTS_BURST`: sets a user may log at once, e.g. the app's pending sets sent after
    /// a time offline (default 120, like the training intake's outbox flush).
    pub workouts_burst: u32,
    /// `COACH_INTERACTIONS_PER_MINUTE`: voice interactions (`POST /v1/voice/interactions`) a user
    /// may record per minute, sustained (default 60).
    pub interactions_per_minute: u32,
    /// `COACH_INTERACTIONS_BURST`: voice interactions a user may record at once, e.g. the
    /// browser's offline outbox flushing (default 120).
    pub interactions_burst: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            coach_per_minute: 30,
            coach_burst: 20,
            workouts_per_minute: 60,
            workouts_burst: 120,
            interactions_per_minute: 60,
            interactions_burst: 120,
        }
    }
}

impl RateLimitConfig {
    /// Reads the settings (defaults for those unset); zero is refused.
    pub fn from_env() -> Result<Self> {
        let d = Self::default();
        let c = Self {
            coach_per_minute: env_parse("COACH_AI_COACH_PER_MINUTE", d.coach_per_minute)?,
            coach_burst: env_parse("COACH_AI_COACH_BURST", d.coach_burst)?,
            workouts_per_minute: env_parse("COACH_WORKOUTS_PER_MINUTE", d.workouts_per_minute)?,
            workouts_burst: env_parse("COACH_WORKOUTS_BURST", d.workouts_burst)?,
            interactions_per_minute: env_parse("COACH_INTERACTIONS_PER_MINUTE", d.interactions_per_minute)?,
            interactions_burst: env_parse("COACH_INTERACTIONS_BURST", d.interactions_burst)?,
        };
        let all = [c.coach_per_minute, c.coach_burst, c.workouts_per_minute, c.workouts_burst];
        if all.into_iter().chain([c.interactions_per_minute, c.interactions_burst]).any(|v| v == 0) {
            anyhow::bail!(
                "COACH_AI_COACH_*, COACH_WORKOUTS_* and COACH_INTERACTIONS_* rate limits must be at least 1 \
                 (raise them to lift a limit)"
            );
        }
        Ok(c)
    }
}

/// The limiters of the everyday write routes, one bucket per user each.
pub struct Limiters {
    /// `POST /v1/ai/coach`.
    pub coach: UserRateLimiter,
    /// `POST /v1/workouts`.
    pub workouts: UserRateLimiter,
    /// `POST /v1/voice/interactions`.
    pub interactions: UserRateLimiter,
}

impl Limiters {
    /// Limiters with the configured rates.
    pub fn new(c: &RateLimitConfig) -> Self {
        Self {
            coach: UserRateLimiter::new("coaching", c.coach_per_minute, c.coach_burst),
            workouts: UserRateLimiter::new("workout", c.workouts_per_minute, c.workouts_burst),
            interactions: UserRateLimiter::new("voice interaction", c.interactions_per_minute, c.interactions_burst),
        }
    }

    /// Forgets idle users' buckets (called by the retention job).
    pub fn shrink(&self) {
        self.coach.shrink();
        self.workouts.shrink();
        self.interactions.shrink();
    }
}

/// A keyed limiter: one bucket per user id.
pub struct UserRateLimiter {
    limiter: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
    /// What is limited, for the error message.
    what: &'static str,
}

impl UserRateLimiter {
    /// `per_minute` sustained, `burst` at once (both at least 1).
    pub fn new(what: &'static str, per_minute: u32, burst: u32) -> Self {
        let rate = NonZeroU32::new(per_minute.max(1)).expect("non-zero");
        let burst = NonZeroU32::new(burst.max(1)).expect("non-zero");
        Self {
            limiter: RateLimiter::keyed(Quota::per_minute(rate).allow_burst(burst)),
            clock: DefaultClock::default(),
            what,
        }
    }

    /// `Ok` when `user_id` may go on; 429 with the wait otherwise.
    pub fn check(&self, user_id: &str) -> Result<(), AppError> {
        match self.limiter.check_key(&user_id.to_string()) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                Err(AppError::TooManyRequests {
                    message: format!("Too many {} requests; retry in {} s", self.what, wait.as_secs().max(1)),
                    retry_after_secs: wait.as_secs().max(1),
                })
            }
        }
    }

    /// Forgets idle users' buckets (called by the retention job).
    pub fn shrink(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_429_with_retry_after() {
        let l = UserRateLimiter::new("test", 60, 3);
        for _ in 0..3 {
            l.check("u").unwrap();
        }
        match l.check("u") {
            Err(AppError::TooManyRequests { retry_after_secs, .. }) => assert!(retry_after_secs >= 1),
            other => panic!("{other:?}"),
        }
        l.check("other-user").expect("buckets are per user");
    }

    #[test]
    fn limiters_are_independent_per_route() {
        let c = RateLimitConfig { coach_burst: 1, workouts_burst: 2, interactions_burst: 3, ..Default::default() };
        let l = Limiters::new(&c);
        l.coach.check("u").unwrap();
        assert!(l.coach.check("u").is_err());
        for _ in 0..2 {
            l.workouts.check("u").expect("another route has its own bucket");
        }
        assert!(l.workouts.check("u").is_err());
        for _ in 0..3 {
            l.interactions.check("u").unwrap();
        }
        assert!(l.interactions.check("u").is_err());
        l.shrink();
    }
}
