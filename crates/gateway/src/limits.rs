//! Rate limits (docs/API.md §6, `429 rate_limited`): per caller (the token's subject; one shared
//! caller when auth is off) and per backend (calls that would reach it), each a number of
//! requests per second with a burst, enforced with governor's GCRA. A refused request is answered
//! at once with `Retry-After`: the whole seconds until one more would be allowed.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};

use crate::error::{ApiError, ErrorCode};

/// A rate as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_second: NonZeroU32,
    pub burst: NonZeroU32,
}

impl Rate {
    fn quota(self) -> Quota {
        Quota::per_second(self.per_second).allow_burst(self.burst)
    }
}

/// Seconds to wait, at least one (Retry-After has whole seconds).
fn retry_after(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// One limit for everything it guards (a backend).
pub struct Limit {
    limiter: DefaultDirectRateLimiter,
    clock: DefaultClock,
}

impl std::fmt::Debug for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Limit")
    }
}

impl Limit {
    pub fn new(rate: Rate) -> Arc<Limit> {
        Arc::new(Limit {
            limiter: DefaultDirectRateLimiter::direct(rate.quota()),
            clock: DefaultClock::default(),
        })
    }

    /// `Ok` when one more request fits; `429` naming the backend otherwise.
    pub fn check(&self, backend: &str) -> Result<(), ApiError> {
        self.limiter.check().map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            ApiError::new(
                ErrorCode::RateLimited,
                format!("the gateway's rate limit for backend `{backend}` is reached"),
            )
            .with_backend(backend)
            .with_retry_after(retry_after(wait))
        })
    }
}

/// One limit per caller.
pub struct PerCaller {
    limiter: DefaultKeyedRateLimiter<Arc<str>>,
    clock: DefaultClock,
}

impl std::fmt::Debug for PerCaller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PerCaller")
    }
}

impl PerCaller {
    pub fn new(rate: Rate) -> PerCaller {
        PerCaller {
            limiter: DefaultKeyedRateLimiter::keyed(rate.quota()),
            clock: DefaultClock::default(),
        }
    }

    /// `Ok` when the caller may make one more request; `429` otherwise.
    pub fn check(&self, subject: &Arc<str>) -> Result<(), ApiError> {
        self.limiter.check_key(subject).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            ApiError::new(ErrorCode::RateLimited, "this caller is over its rate limit")
                .with_retry_after(retry_after(wait))
        })
    }

    /// Forgets callers whose limit is back to full (run now and then: the map is bounded by the
    /// callers of the last few seconds).
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}
