//! Fault knobs shared by every simulator: added latency, a forced HTTP status, a malformed
//! body, each for the next N requests (optionally after letting some through) or until
//! cleared. Tests set them in-process; a running simulator also accepts them at
//! `PUT /_sim/faults` (JSON of [`FaultPlan`]) and clears them at `DELETE /_sim/faults`.

use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;

/// What to do to the next requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct FaultPlan {
    /// Delay before answering, in milliseconds.
    pub latency_ms: u64,
    /// Answer with this status instead of serving the request (the body is a vendor-style error
    /// unless `malformed_body` is set too).
    pub status: Option<u16>,
    /// Answer with a body that is not valid for the content type.
    pub malformed_body: bool,
    /// With `status`: answer with a web server's HTML page (a proxy's maintenance page) of that
    /// status, the request not served.
    pub html_page: bool,
    /// With `status`: the `Retry-After` header to send (seconds or an HTTP date), as a vendor
    /// rate limiting its callers does with 429.
    pub retry_after: Option<String>,
    /// Answer with a body shorter than its `Content-Length`, then end the connection.
    pub truncate_body: bool,
    /// End the connection without a usable answer (the request was read).
    pub drop_connection: bool,
    /// Serve the request (a write is applied), then end the connection without its answer:
    /// the caller cannot know whether the write happened.
    pub apply_then_drop: bool,
    /// Only the next this-many requests; `None` means until cleared.
    pub remaining: Option<u32>,
    /// Let this many requests through untouched before the plan applies (they do not count
    /// against `remaining`): a fault for the second step of a two-request exchange.
    pub after: u32,
}

impl FaultPlan {
    /// The added latency.
    pub fn latency(&self) -> Duration {
        Duration::from_millis(self.latency_ms)
    }
}

/// The fault plan of one simulator.
#[derive(Debug, Default)]
pub struct Faults {
    plan: Mutex<Option<FaultPlan>>,
}

impl Faults {
    /// Installs a plan, replacing any other.
    pub fn set(&self, plan: FaultPlan) {
        *self.plan.lock().unwrap_or_else(|e| e.into_inner()) = Some(plan);
    }

    /// Removes the plan: requests are served normally.
    pub fn clear(&self) {
        *self.plan.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The plan that applies to the request now arriving, counting it against `remaining`.
    pub fn take(&self) -> Option<FaultPlan> {
        let mut guard = self.plan.lock().unwrap_or_else(|e| e.into_inner());
        let plan = guard.as_mut()?;
        if plan.after > 0 {
            plan.after -= 1;
            return None;
        }
        let current = plan.clone();
        match &mut plan.remaining {
            Some(0) => {
                *guard = None;
                return None;
            }
            Some(n) => {
                *n -= 1;
                if *n == 0 {
                    *guard = None;
                }
            }
            None => {}
        }
        Some(current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_plans_run_out() {
        let f = Faults::default();
        f.set(FaultPlan {
            status: Some(500),
            remaining: Some(2),
            ..FaultPlan::default()
        });
        assert!(f.take().is_some());
        assert!(f.take().is_some());
        assert!(f.take().is_none());
    }

    #[test]
    fn plans_may_let_requests_through_first() {
        let f = Faults::default();
        f.set(FaultPlan {
            status: Some(500),
            remaining: Some(1),
            after: 2,
            ..FaultPlan::default()
        });
        assert!(f.take().is_none());
        assert!(f.take().is_none());
        assert_eq!(f.take().and_then(|p| p.status), Some(500));
        assert!(f.take().is_none());
    }

    #[test]
    fn open_plans_last_until_cleared() {
        let f = Faults::default();
        f.set(FaultPlan {
            latency_ms: 5,
            ..FaultPlan::default()
        });
        for _ in 0..5 {
            assert!(f.take().is_some());
        }
        f.clear();
        assert!(f.take().is_none());
    }
}
