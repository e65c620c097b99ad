//! Per-user rate limits (GCRA from the `governor` crate): a burst and a sustained rate per minute.
//! A refused request gets 429 `rate_limited` with `Retry-After`. Limits are per server process;
//! behind several replicas each replica enforces its own share (documented in deployment.md).

use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::AppError;

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
}
