//! One credential flow for every dialect that logs in or refreshes a token (Commvault's
//! `POST Login`, an OAuth2 token endpoint, a session cookie): the credential the gateway holds,
//! and the rules for obtaining a new one, written once.
//!
//! - **One refresh in flight.** However many calls find the credential missing, expiring or
//!   refused at once, one refresh runs; every caller that asks meanwhile awaits the same one (a
//!   shared future) and gets its outcome. No caller owns it: one that gives up leaves it running
//!   for the others.
//! - **Its own deadline.** A refresh that has not finished within its deadline (the backend's
//!   `timeout_ms`) is abandoned: the next caller starts a new one instead of waiting on a login
//!   that will never answer. (The outbound client also ends the hung exchange itself, since
//!   every request carries the backend's timeout; see [`crate::transport::RequestLimits`].)
//! - **Refusals back off.** A refresh the vendor refuses (`ErrorKind::AuthRejected`) is
//!   answered from memory for a while — 5 s, then 20 s, 80 s, up to 5 min, back to 5 s after a
//!   success — so a wrong password under load makes a handful of attempts, not one per call
//!   (vendors lock accounts after repeated failures). A refresh the vendor rate limits is not
//!   tried again before its `Retry-After`. Other failures (the vendor down or slow) are not
//!   remembered, but while the credential held has not expired it serves: a refresh that fails
//!   then leaves it in use, and the next is tried after the first backoff (at once when the
//!   vendor refuses the credential held).
//! - **Expiry.** A credential obtained with a lifetime is refreshed shortly before it ends.
//!
//! What a refresh does (renew, log in, exchange a refresh token) is the adapter's; this module
//! only decides when one runs. Time is read through a clock function so tests can move it.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::Shared;

use crate::error::{BackendError, ErrorKind};

/// A refresh: what the adapter's function returns.
pub type RefreshFuture<T> = Pin<Box<dyn Future<Output = Result<Fresh<T>, BackendError>> + Send>>;

/// A newly obtained credential and how long the vendor says it lasts.
#[derive(Debug, Clone)]
pub struct Fresh<T> {
    pub value: T,
    /// `None` when it lasts until the vendor refuses it.
    pub lifetime: Option<Duration>,
}

impl<T> Fresh<T> {
    /// A credential without a known lifetime.
    pub fn lasting(value: T) -> Self {
        Fresh {
            value,
            lifetime: None,
        }
    }
}

/// How refusals back off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// How long the first refusal is remembered.
    pub first: Duration,
    /// Each further refusal multiplies it by this.
    pub factor: u32,
    /// Up to this.
    pub max: Duration,
}

impl Backoff {
    /// 5 s, 20 s, 80 s, 5 min: at most three attempts in any minute of refusals.
    pub const DEFAULT: Backoff = Backoff {
        first: Duration::from_secs(5),
        factor: 4,
        max: Duration::from_secs(300),
    };
}

/// The deadline of a refresh when the caller's context names none.
pub const DEFAULT_REFRESH_DEADLINE: Duration = Duration::from_secs(10);

/// The longest time before its end that a credential is refreshed.
const EXPIRY_MARGIN: Duration = Duration::from_secs(30);

type SharedRefresh<T> = Shared<RefreshFuture<T>>;

struct Held<T> {
    value: T,
    generation: u64,
    /// When to refresh it before the vendor stops accepting it.
    refresh_at: Option<Instant>,
    /// When the vendor stops accepting it (`None`: not known to).
    expires_at: Option<Instant>,
}

impl<T: Clone> Held<T> {
    /// The credential, while a call may still use it: not the one the vendor just refused,
    /// and not past its expiry.
    fn usable(&self, stale: Option<u64>, now: Instant) -> Option<(T, u64)> {
        let refused = stale == Some(self.generation);
        let expired = self.expires_at.is_some_and(|at| now >= at);
        (!refused && !expired).then(|| (self.value.clone(), self.generation))
    }
}

struct Inflight<T> {
    refresh: SharedRefresh<T>,
    generation: u64,
    /// Past this instant the refresh is abandoned.
    abandon_at: Instant,
}

struct State<T> {
    held: Option<Held<T>>,
    inflight: Option<Inflight<T>>,
    /// The last refusal: answered from memory until the instant.
    refused: Option<(Instant, BackendError)>,
    /// Until when the credential held serves without a new refresh after one failed for a
    /// moment (see `obtain`).
    resting: Option<Instant>,
    /// How long the next refusal is remembered.
    next_backoff: Duration,
    next_generation: u64,
    /// Refreshes started, for tests and logs.
    started: u64,
}

impl<T: Clone> State<T> {
    /// The credential held, while a call that saw generation `stale` refused (if any) may
    /// still use it at `now` (see [`Held::usable`]).
    fn usable(&self, stale: Option<u64>, now: Instant) -> Option<(T, u64)> {
        self.held.as_ref().and_then(|h| h.usable(stale, now))
    }
}

/// The clock a credential reads.
pub type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// The credential of one backend.
pub struct Credential<T> {
    state: Mutex<State<T>>,
    backoff: Backoff,
    clock: Clock,
}

impl<T> std::fmt::Debug for Credential<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f.debug_struct("Credential")
            .field("generation", &st.held.as_ref().map(|h| h.generation))
            .field("refreshing", &st.inflight.is_some())
            .field("refused", &st.refused.is_some())
            .field("refreshes_started", &st.started)
            .finish()
    }
}

impl<T: Clone + Send + Sync + 'static> Credential<T> {
    /// A credential; `initial` is one given by configuration (a static token), used until the
    /// vendor refuses it. Without one the first call obtains one.
    pub fn new(initial: Option<T>) -> Self {
        Credential {
            state: Mutex::new(State {
                held: initial.map(|value| Held {
                    value,
                    generation: 1,
                    refresh_at: None,
                    expires_at: None,
                }),
                inflight: None,
                refused: None,
                resting: None,
                next_backoff: Backoff::DEFAULT.first,
                next_generation: 2,
                started: 0,
            }),
            backoff: Backoff::DEFAULT,
            clock: Arc::new(Instant::now),
        }
    }

    /// With another backoff.
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.lock().next_backoff = backoff.first;
        self.backoff = backoff;
        self
    }

    /// With another clock (tests).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many refreshes have been started.
    pub fn refreshes_started(&self) -> u64 {
        self.lock().started
    }

    /// A credential to call with and its generation (to pass to [`Credential::renew_after`]
    /// when the vendor refuses it). Obtains one with `refresh` when there is none or the one
    /// held is about to expire; `refresh` gets the credential held, if any (to renew it).
    pub async fn get(
        &self,
        deadline: Duration,
        refresh: impl FnOnce(Option<T>) -> RefreshFuture<T>,
    ) -> Result<(T, u64), BackendError> {
        self.obtain(None, deadline, refresh).await
    }

    /// A credential newer than generation `stale`, which the vendor just refused.
    pub async fn renew_after(
        &self,
        stale: u64,
        deadline: Duration,
        refresh: impl FnOnce(Option<T>) -> RefreshFuture<T>,
    ) -> Result<(T, u64), BackendError> {
        self.obtain(Some(stale), deadline, refresh).await
    }

    async fn obtain(
        &self,
        stale: Option<u64>,
        deadline: Duration,
        refresh: impl FnOnce(Option<T>) -> RefreshFuture<T>,
    ) -> Result<(T, u64), BackendError> {
        let (shared, generation) = {
            let mut st = self.lock();
            let now = (self.clock)();
            if let Some(h) = &st.held {
                let refused_this_one = stale == Some(h.generation);
                let expiring = h.refresh_at.is_some_and(|at| now >= at);
                if !refused_this_one && !expiring {
                    return Ok((h.value.clone(), h.generation));
                }
            }
            match &st.inflight {
                Some(i) if now < i.abandon_at => (i.refresh.clone(), i.generation),
                _ => {
                    if let Some((until, e)) = &st.refused
                        && now < *until
                    {
                        // Backing off: the credential held serves while it still may.
                        return match st.usable(stale, now) {
                            Some(held) => Ok(held),
                            None => Err(e.clone()),
                        };
                    }
                    // After a refresh failed for a moment, the credential held serves a while;
                    // one the vendor refused, or that expired, is refreshed now.
                    if st.resting.is_some_and(|until| now < until)
                        && let Some(held) = st.usable(stale, now)
                    {
                        return Ok(held);
                    }
                    let generation = st.next_generation;
                    st.next_generation += 1;
                    st.started += 1;
                    let shared = refresh(st.held.as_ref().map(|h| h.value.clone())).shared();
                    st.inflight = Some(Inflight {
                        refresh: shared.clone(),
                        generation,
                        abandon_at: now + deadline,
                    });
                    (shared, generation)
                }
            }
        };
        let outcome = shared.clone().await;
        let now = (self.clock)();
        let mut st = self.lock();
        // The first caller to see the refresh finish records its outcome, once; a refresh that
        // was abandoned and replaced records nothing.
        if st
            .inflight
            .as_ref()
            .is_some_and(|i| i.refresh.ptr_eq(&shared))
        {
            st.inflight = None;
            match &outcome {
                Ok(fresh) => {
                    let refresh_at = fresh
                        .lifetime
                        .map(|lifetime| now + lifetime - EXPIRY_MARGIN.min(lifetime / 5));
                    st.held = Some(Held {
                        value: fresh.value.clone(),
                        generation,
                        refresh_at,
                        expires_at: fresh.lifetime.map(|lifetime| now + lifetime),
                    });
                    st.refused = None;
                    st.resting = None;
                    st.next_backoff = self.backoff.first;
                }
                Err(e) if e.kind == ErrorKind::AuthRejected => {
                    let wait = st.next_backoff;
                    st.refused = Some((now + wait, e.clone()));
                    st.next_backoff = wait
                        .checked_mul(self.backoff.factor)
                        .unwrap_or(self.backoff.max)
                        .min(self.backoff.max);
                }
                // The vendor said when to ask again: not before (a grant endpoint answering
                // 429 in milliseconds would otherwise be asked again by every call).
                Err(e) if e.kind == ErrorKind::RateLimited => {
                    let wait = e.retry_after.unwrap_or(self.backoff.first);
                    st.refused = Some((now + wait.min(self.backoff.max), e.clone()));
                }
                // Failing for a moment while the credential held still serves: it does, and
                // the refresh is tried again after the first backoff, not by every call.
                Err(_) if st.usable(stale, now).is_some() => {
                    st.resting = Some(now + self.backoff.first);
                }
                Err(_) => {}
            }
        }
        match outcome {
            Ok(fresh) => Ok((fresh.value, generation)),
            // A refresh begun before the credential held expired, failed: it serves while it
            // still may (a vendor slow or failing for a moment fails no call that did not
            // need the new one).
            Err(e) => match st.usable(stale, now) {
                Some(held) => Ok(held),
                None => Err(e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    /// A clock tests move by hand.
    fn manual_clock() -> (Clock, Arc<AtomicU64>) {
        let start = Instant::now();
        let offset = Arc::new(AtomicU64::new(0));
        let o = offset.clone();
        let clock: Clock =
            Arc::new(move || start + Duration::from_millis(o.load(Ordering::SeqCst)));
        (clock, offset)
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        futures_util::FutureExt::now_or_never(f).expect("ready")
    }

    fn refused() -> RefreshFuture<&'static str> {
        Box::pin(async { Err(BackendError::auth_rejected("wrong password")) })
    }

    fn ok(v: &'static str, lifetime: Option<Duration>) -> RefreshFuture<&'static str> {
        Box::pin(async move { Ok(Fresh { value: v, lifetime }) })
    }

    #[test]
    fn a_rate_limited_refresh_is_not_asked_again_before_its_retry_after() {
        let (clock, at) = manual_clock();
        let c = Credential::<&str>::new(None).with_clock(clock);
        let limited = || -> RefreshFuture<&'static str> {
            Box::pin(async {
                Err(BackendError::rate_limited(
                    "slow down",
                    Some(Duration::from_secs(10)),
                ))
            })
        };
        let e = block_on(c.get(Duration::from_secs(5), |_| limited())).unwrap_err();
        assert_eq!(e.kind, ErrorKind::RateLimited);
        // Within its Retry-After: the same answer, no new request.
        at.store(9_000, Ordering::SeqCst);
        let e = block_on(c.get(Duration::from_secs(5), |_| ok("never", None))).unwrap_err();
        assert_eq!(e.kind, ErrorKind::RateLimited);
        assert_eq!(c.refreshes_started(), 1);
        at.store(10_000, Ordering::SeqCst);
        assert_eq!(
            block_on(c.get(Duration::from_secs(5), |_| ok("t", None)))
                .unwrap()
                .0,
            "t"
        );
        assert_eq!(c.refreshes_started(), 2);
    }

    #[test]
    fn a_failed_refresh_leaves_the_credential_held_serving_until_it_expires() {
        let (clock, at) = manual_clock();
        let c = Credential::<&str>::new(None).with_clock(clock);
        let minute = Some(Duration::from_secs(60));
        block_on(c.get(Duration::from_secs(5), |_| ok("first", minute))).unwrap();
        let down = || -> RefreshFuture<&'static str> {
            Box::pin(async { Err(BackendError::unavailable("down")) })
        };
        // Time to refresh (12 s before it ends); the vendor is down: the held one serves, and
        // the refresh is tried again after the backoff, not by every call.
        at.store(50_000, Ordering::SeqCst);
        assert_eq!(
            block_on(c.get(Duration::from_secs(5), |_| down()))
                .unwrap()
                .0,
            "first"
        );
        assert_eq!(
            block_on(c.get(Duration::from_secs(5), |_| down()))
                .unwrap()
                .0,
            "first"
        );
        assert_eq!(c.refreshes_started(), 2);
        // Expired: the failure is the answer.
        at.store(61_000, Ordering::SeqCst);
        let e = block_on(c.get(Duration::from_secs(5), |_| down())).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unavailable);
        // Within the backoff, the vendor refusing the one held has a refresh run at once.
        let (clock, at) = manual_clock();
        let c = Credential::<&str>::new(None).with_clock(clock);
        let (_, g) = block_on(c.get(Duration::from_secs(5), |_| ok("first", minute))).unwrap();
        at.store(50_000, Ordering::SeqCst);
        block_on(c.get(Duration::from_secs(5), |_| down())).unwrap();
        let (v, _) =
            block_on(c.renew_after(g, Duration::from_secs(5), |_| ok("second", minute))).unwrap();
        assert_eq!(v, "second");
    }

    #[test]
    fn a_minute_of_refusals_makes_at_most_three_attempts() {
        let (clock, t) = manual_clock();
        let c = Credential::<&str>::new(None).with_clock(clock);
        // 100 calls spread over a minute.
        for i in 0..100u64 {
            t.store(i * 600, Ordering::SeqCst);
            let e = block_on(c.get(Duration::from_secs(5), |_| refused())).unwrap_err();
            assert_eq!(e.kind, ErrorKind::AuthRejected);
        }
        assert!(c.refreshes_started() <= 3, "{}", c.refreshes_started());
        // After the backoff, a success resets it.
        t.store(10 * 60_000, Ordering::SeqCst);
        let (v, g) = block_on(c.get(Duration::from_secs(5), |_| ok("tok", None))).unwrap();
        assert_eq!(v, "tok");
        let (v2, g2) = block_on(c.get(Duration::from_secs(5), |_| refused())).unwrap();
        assert_eq!((v2, g2), (v, g), "a held credential is reused");
        let _ = block_on(c.renew_after(g, Duration::from_secs(5), |_| refused()));
        let before = c.refreshes_started();
        t.store(10 * 60_000 + 5_001, Ordering::SeqCst);
        let _ = block_on(c.renew_after(g, Duration::from_secs(5), |_| refused()));
        assert_eq!(
            c.refreshes_started(),
            before + 1,
            "after a success the backoff starts again at 5 s"
        );
    }

    #[test]
    fn a_hung_refresh_is_abandoned_after_its_deadline() {
        let (clock, t) = manual_clock();
        let c = Arc::new(Credential::<&str>::new(None).with_clock(clock));
        // The first refresh never finishes.
        let hung = c.get(Duration::from_secs(2), |_| Box::pin(std::future::pending()));
        assert!(futures_util::FutureExt::now_or_never(hung).is_none());
        // Before the deadline, a caller waits on the same refresh.
        t.store(1_000, Ordering::SeqCst);
        let waiting = c.get(Duration::from_secs(2), |_| ok("new", None));
        assert!(futures_util::FutureExt::now_or_never(waiting).is_none());
        // After it, the next caller starts a new refresh and gets its answer.
        t.store(2_500, Ordering::SeqCst);
        let (v, _) = block_on(c.get(Duration::from_secs(2), |_| ok("new", None))).unwrap();
        assert_eq!(v, "new");
        assert_eq!(c.refreshes_started(), 2);
    }

    #[test]
    fn credentials_with_a_lifetime_are_refreshed_before_they_end() {
        let (clock, t) = manual_clock();
        let c = Credential::<&str>::new(None).with_clock(clock);
        let life = Some(Duration::from_secs(100));
        let (a, ga) = block_on(c.get(Duration::from_secs(5), |_| ok("a", life))).unwrap();
        t.store(60_000, Ordering::SeqCst);
        let (same, _) = block_on(c.get(Duration::from_secs(5), |_| ok("b", life))).unwrap();
        assert_eq!(same, a);
        // 20 s (a fifth of the lifetime) before the end it is refreshed.
        t.store(80_000, Ordering::SeqCst);
        let (b, gb) = block_on(c.get(Duration::from_secs(5), |prev| {
            assert_eq!(
                prev,
                Some("a"),
                "the refresh sees the credential it replaces"
            );
            ok("b", life)
        }))
        .unwrap();
        assert_eq!(b, "b");
        assert!(gb > ga);
    }

    #[test]
    fn other_failures_are_not_remembered() {
        let c = Credential::<&str>::new(Some("static"));
        let (v, g) = block_on(c.get(Duration::from_secs(5), |_| refused())).unwrap();
        assert_eq!((v, g), ("static", 1));
        let e = block_on(c.renew_after(1, Duration::from_secs(5), |_| {
            Box::pin(async { Err(BackendError::unavailable("down")) })
        }))
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unavailable);
        let (v, _) =
            block_on(c.renew_after(1, Duration::from_secs(5), |_| ok("new", None))).unwrap();
        assert_eq!(v, "new", "the next call tried again at once");
    }
}
