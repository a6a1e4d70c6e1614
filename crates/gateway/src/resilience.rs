//! The per-backend stack's resilience layers (`policy.rs` puts them in order):
//!
//! - [`Circuit`]: a circuit breaker. Over a sliding window (`circuit_window_ms`), once at least
//!   `circuit_min_calls` calls were made and `circuit_failure_percent` of them failed by the
//!   backend's fault (a 5xx-class failure, a timeout, unreachable; not a caller's mistake, not
//!   the vendor's 429, which is passed on, nor its refusal of the gateway's credentials, which
//!   the credential flow backs off from), it opens: calls are answered
//!   `503 backend_unavailable` at once, with `Retry-After` the time left open
//!   (`circuit_open_ms`). Then one call goes through as a probe (half-open): its success
//!   closes the circuit, its failure opens it again.
//! - [`Retry`]: a read the adapter classified retryable is tried again, with exponential
//!   backoff and full jitter, while the caller's deadline leaves time for it and the retry
//!   budget (tower's: retries at most 20% of calls, plus a floor of 5 a second) allows it.
//!   Writes are never retried: their bytes may have reached the vendor.
//! - [`Slots`]: at most `max_concurrency` calls run; at most `max_queue` more wait for a slot
//!   (within the deadline); any more are shed at once with `503 unavailable`.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use orgway_core::{BackendError, ErrorKind};
use serde::Serialize;
use tower::ServiceExt;
use tower::retry::budget::{Budget, TpsBudget};

use crate::policy::{Around, BackendCall, CallFuture, Inner};

/// A circuit breaker's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitSettings {
    pub window: Duration,
    pub min_calls: u32,
    pub failure_percent: u32,
    pub open_for: Duration,
}

impl Default for CircuitSettings {
    fn default() -> Self {
        CircuitSettings {
            window: Duration::from_secs(10),
            min_calls: 20,
            failure_percent: 50,
            open_for: Duration::from_secs(5),
        }
    }
}

/// One tenth of the window.
#[derive(Debug, Default, Clone, Copy)]
struct Bucket {
    /// Which tenth of time it counts (`elapsed / (window / 10)`).
    slot: u64,
    calls: u32,
    failures: u32,
}

#[derive(Debug)]
enum Phase {
    Closed,
    Open {
        until: Instant,
    },
    /// One probe is out; everything else is refused until it answers.
    HalfOpen,
}

#[derive(Debug)]
struct CircuitState {
    phase: Phase,
    buckets: [Bucket; 10],
}

/// A backend's circuit breaker (see the module doc).
#[derive(Debug)]
pub struct Circuit {
    settings: CircuitSettings,
    state: Mutex<CircuitState>,
    started: Instant,
    /// Times it opened.
    pub opened: AtomicU64,
}

/// What the breaker lets a call do.
enum Admit {
    Go,
    Probe,
    Refuse(Duration),
}

impl Circuit {
    pub fn new(settings: CircuitSettings) -> Arc<Circuit> {
        Arc::new(Circuit {
            settings,
            state: Mutex::new(CircuitState {
                phase: Phase::Closed,
                buckets: [Bucket::default(); 10],
            }),
            started: Instant::now(),
            opened: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CircuitState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn slot(&self) -> u64 {
        let tenth = (self.settings.window / 10).max(Duration::from_millis(1));
        (self.started.elapsed().as_nanos() / tenth.as_nanos()) as u64
    }

    /// `closed`, `open` or `half-open`, as `/v1/backends` and `/metrics` show it.
    pub fn state(&self) -> &'static str {
        match self.lock().phase {
            Phase::Closed => "closed",
            Phase::Open { until } if Instant::now() >= until => "half-open",
            Phase::Open { .. } => "open",
            Phase::HalfOpen => "half-open",
        }
    }

    fn admit(&self) -> Admit {
        let mut st = self.lock();
        match st.phase {
            Phase::Closed => Admit::Go,
            Phase::Open { until } => {
                let now = Instant::now();
                if now >= until {
                    st.phase = Phase::HalfOpen;
                    Admit::Probe
                } else {
                    Admit::Refuse(until - now)
                }
            }
            Phase::HalfOpen => Admit::Refuse(Duration::from_secs(1)),
        }
    }

    /// Records a call's outcome (`failed`: by the backend's fault).
    fn record(&self, probe: bool, failed: bool) {
        let slot = self.slot();
        let mut st = self.lock();
        if probe {
            if failed {
                self.open(&mut st);
            } else {
                st.phase = Phase::Closed;
                st.buckets = [Bucket::default(); 10];
            }
            return;
        }
        if !matches!(st.phase, Phase::Closed) {
            return;
        }
        let b = &mut st.buckets[(slot % 10) as usize];
        if b.slot != slot {
            *b = Bucket {
                slot,
                ..Bucket::default()
            };
        }
        b.calls += 1;
        b.failures += u32::from(failed);
        let (calls, failures) = st
            .buckets
            .iter()
            .filter(|b| slot.saturating_sub(b.slot) < 10)
            .fold((0u32, 0u32), |(c, f), b| (c + b.calls, f + b.failures));
        if calls >= self.settings.min_calls
            && failures * 100 >= self.settings.failure_percent * calls
        {
            self.open(&mut st);
        }
    }

    /// A call that ended without telling anything of the backend.
    fn not_counted(&self, probe: bool) {
        if probe {
            self.lock().phase = Phase::Open {
                until: Instant::now(),
            };
        }
    }

    fn open(&self, st: &mut CircuitState) {
        st.phase = Phase::Open {
            until: Instant::now() + self.settings.open_for,
        };
        st.buckets = [Bucket::default(); 10];
        self.opened.fetch_add(1, Ordering::Relaxed);
    }
}

/// Whether a failure is the backend's (what opens a circuit, what a retry may help): not the
/// caller's mistake, not the vendor's 429 (passed on), not the vendor refusing the gateway's
/// credentials (the credential flow backs off on its own, and the refusal is what callers must
/// see), not a call the gateway itself shed.
fn backends_fault(e: &BackendError) -> bool {
    !e.is_callers_fault()
        && !matches!(e.kind, ErrorKind::RateLimited | ErrorKind::AuthRejected)
        && !gateway_load(e)
}

/// A probe under way: dropped before its outcome is recorded, it lets the next call probe.
struct Unfinished<'a> {
    circuit: &'a Circuit,
    probe: bool,
}

impl Drop for Unfinished<'_> {
    fn drop(&mut self) {
        if self.probe {
            self.circuit.not_counted(true);
        }
    }
}

/// Whether a failure is the gateway's own load: a call it shed, or one whose deadline came while
/// it waited for a slot. Neither says anything of the backend.
pub fn gateway_load(e: &BackendError) -> bool {
    e.details.contains_key("shed") || e.details.contains_key("queued")
}

/// Puts a [`Circuit`] in front of a service.
#[derive(Debug, Clone)]
pub struct CircuitLayer {
    pub backend: Arc<str>,
    pub circuit: Arc<Circuit>,
}

impl Around for CircuitLayer {
    fn around<S: Inner>(&self, inner: S, req: BackendCall) -> CallFuture {
        let layer = self.clone();
        Box::pin(async move {
            let probe = match layer.circuit.admit() {
                Admit::Go => false,
                Admit::Probe => true,
                Admit::Refuse(left) => {
                    let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                    let mut e = BackendError::unavailable(format!(
                        "{}'s circuit is open after repeated failures; calls resume in {}s",
                        layer.backend,
                        secs.max(1)
                    ));
                    // The time left open (API.md §6), as the message says.
                    e.retry_after = Some(Duration::from_secs(secs.max(1)));
                    e.retryable = false;
                    return Err(e.with_detail("circuit", "open"));
                }
            };
            // A probe that ends without an outcome (its caller went away and the call was
            // dropped, or it panicked) leaves the next call to probe: the circuit would stay
            // half-open, refusing every call, for good.
            let mut unfinished = Unfinished {
                circuit: &layer.circuit,
                probe,
            };
            let result = inner.oneshot(req).await;
            unfinished.probe = false;
            match &result {
                // A call the gateway shed, or that spent most of its time queued for a slot,
                // says nothing of the backend: not counted either way (such a probe leaves the
                // next call to probe).
                Err(e) if gateway_load(e) => layer.circuit.not_counted(probe),
                _ => layer
                    .circuit
                    .record(probe, result.as_ref().is_err_and(backends_fault)),
            }
            result
        })
    }
}

/// How a backend's reads are retried.
#[derive(Debug, Clone)]
pub struct RetryLayer {
    /// Tries in all, the first included.
    pub attempts: u32,
    /// The caller's deadline: no retry starts that could not finish within it.
    pub timeout: Duration,
    pub budget: Arc<TpsBudget>,
    /// Retries made (for `/metrics`).
    pub retries: Arc<AtomicU64>,
}

impl RetryLayer {
    pub fn new(attempts: u32, timeout: Duration) -> RetryLayer {
        RetryLayer {
            attempts,
            timeout,
            budget: Arc::new(TpsBudget::new(Duration::from_secs(10), 5, 0.2)),
            retries: Arc::new(AtomicU64::new(0)),
        }
    }
}

/// The backoff before retry `n` (1, 2, …): full jitter over 50 ms × 2ⁿ⁻¹, at most 1 s.
fn backoff(n: u32) -> Duration {
    let cap = Duration::from_millis(50 * (1u64 << (n - 1).min(5))).min(Duration::from_secs(1));
    // Jitter from the clock's low bits: enough to spread retries, no RNG needed.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    cap.mul_f64(f64::from(nanos % 1000) / 1000.0)
}

impl Around for RetryLayer {
    fn around<S: Inner>(&self, inner: S, req: BackendCall) -> CallFuture {
        let layer = self.clone();
        Box::pin(async move {
            let started = Instant::now();
            layer.budget.deposit();
            let read = req.op.kind().is_read();
            let mut tries = 1;
            let (cx, op, queued) = (req.cx, req.op, req.queued);
            loop {
                let attempt = BackendCall {
                    cx: cx.clone(),
                    op: op.clone(),
                    queued: queued.clone(),
                };
                let result = inner.clone().oneshot(attempt).await;
                let Err(e) = &result else { return result };
                // Not sooner than the backend said to come back (a 503's Retry-After).
                let wait = backoff(tries).max(e.retry_after.unwrap_or_default());
                let may = read
                    && e.retryable
                    && backends_fault(e)
                    && tries < layer.attempts
                    // Time for the wait and for an attempt as long as the ones so far.
                    && (started.elapsed() * (tries + 1) / tries).saturating_add(wait) < layer.timeout;
                if !may || !layer.budget.withdraw() {
                    return result;
                }
                tokio::time::sleep(wait).await;
                layer.retries.fetch_add(1, Ordering::Relaxed);
                tries += 1;
            }
        })
    }
}

/// A backend's concurrency slots and its queue (see the module doc).
#[derive(Debug)]
pub struct Slots {
    sem: Arc<tokio::sync::Semaphore>,
    waiting: AtomicUsize,
    max_queue: usize,
    /// Calls shed.
    pub shed: AtomicU64,
}

impl Slots {
    pub fn new(max_concurrency: usize, max_queue: usize) -> Arc<Slots> {
        Arc::new(Slots {
            sem: Arc::new(tokio::sync::Semaphore::new(max_concurrency)),
            waiting: AtomicUsize::new(0),
            max_queue,
            shed: AtomicU64::new(0),
        })
    }
}

/// Runs a service's calls within [`Slots`].
#[derive(Debug, Clone)]
pub struct SlotsLayer {
    pub backend: Arc<str>,
    pub slots: Arc<Slots>,
}

/// A call shed because the backend's slots and queue are full.
pub fn shed_error(backend: &str) -> BackendError {
    let mut e = BackendError::unavailable(format!(
        "{backend} has every concurrency slot busy and its queue full; try again shortly"
    ));
    e.retry_after = Some(Duration::from_secs(1));
    e.retryable = false;
    e.with_detail("shed", true)
}

impl Around for SlotsLayer {
    fn around<S: Inner>(&self, inner: S, req: BackendCall) -> CallFuture {
        let layer = self.clone();
        Box::pin(async move {
            let slots = &layer.slots;
            let permit = match slots.sem.clone().try_acquire_owned() {
                Ok(p) => p,
                Err(_) => {
                    if slots.waiting.fetch_add(1, Ordering::AcqRel) >= slots.max_queue {
                        slots.waiting.fetch_sub(1, Ordering::AcqRel);
                        slots.shed.fetch_add(1, Ordering::Relaxed);
                        return Err(shed_error(&layer.backend));
                    }
                    // Leaves the queue whether the wait ends or the caller gives up, with the
                    // time it waited counted.
                    struct Waiting<'a>(&'a AtomicUsize, &'a crate::policy::QueueTime);
                    impl Drop for Waiting<'_> {
                        fn drop(&mut self) {
                            self.0.fetch_sub(1, Ordering::AcqRel);
                            self.1.done();
                        }
                    }
                    req.queued.wait();
                    let _queued = Waiting(&slots.waiting, &req.queued);
                    match slots.sem.clone().acquire_owned().await {
                        Ok(p) => p,
                        Err(_) => return Err(shed_error(&layer.backend)),
                    }
                }
            };
            let result = inner.oneshot(req).await;
            drop(permit);
            result
        })
    }
}

/// A backend's breaker and shedding, as `/v1/backends` shows them.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResilienceReport {
    /// `closed`, `open` or `half-open`.
    pub circuit: &'static str,
    pub circuit_opened: u64,
    pub retries: u64,
    pub shed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A read of org `x`, whose transport no test here reaches.
    fn call() -> BackendCall {
        BackendCall::new(
            orgway_core::CallContext::new(
                Arc::from("rid"),
                false,
                Arc::new(crate::client::HttpClient::new()),
            ),
            orgway_core::Operation::GetOrg { org: "x".into() },
        )
    }

    #[test]
    fn a_circuit_opens_on_its_failure_rate_and_a_probe_closes_it() {
        let c = Circuit::new(CircuitSettings {
            window: Duration::from_secs(10),
            min_calls: 10,
            failure_percent: 50,
            open_for: Duration::from_millis(50),
        });
        // Below the minimum number of calls nothing opens, whatever fails.
        for _ in 0..9 {
            c.record(false, true);
        }
        assert_eq!(c.state(), "closed");
        c.record(false, true);
        assert_eq!(c.state(), "open");
        assert!(matches!(c.admit(), Admit::Refuse(_)));
        std::thread::sleep(Duration::from_millis(60));
        assert!(matches!(c.admit(), Admit::Probe));
        // While the probe is out, others wait.
        assert!(matches!(c.admit(), Admit::Refuse(_)));
        c.record(true, true);
        assert_eq!(c.state(), "open");
        std::thread::sleep(Duration::from_millis(60));
        assert!(matches!(c.admit(), Admit::Probe));
        c.record(true, false);
        assert_eq!(c.state(), "closed");
        // Mostly successes keep it closed.
        for i in 0..100 {
            c.record(false, i % 3 == 0);
        }
        assert_eq!(c.state(), "closed");
    }

    /// A circuit one failure opened for `open_for`, and the layer of backend `b` in front of it.
    fn opened(open_for: Duration) -> (Arc<Circuit>, CircuitLayer) {
        let circuit = Circuit::new(CircuitSettings {
            window: Duration::from_secs(10),
            min_calls: 1,
            failure_percent: 50,
            open_for,
        });
        circuit.record(false, true);
        let layer = CircuitLayer {
            backend: Arc::from("b"),
            circuit: circuit.clone(),
        };
        (circuit, layer)
    }

    #[tokio::test]
    async fn a_probe_dropped_before_its_outcome_lets_the_next_call_probe() {
        let (circuit, layer) = opened(Duration::from_millis(20));
        assert_eq!(circuit.state(), "open");
        tokio::time::sleep(Duration::from_millis(30)).await;
        // A backend that never answers; the caller gives up on the probe.
        let never = tower::service_fn(|_: BackendCall| {
            std::future::pending::<Result<orgway_core::Output, BackendError>>()
        });
        let probe = layer.around(never, call());
        assert!(
            tokio::time::timeout(Duration::from_millis(10), probe)
                .await
                .is_err()
        );
        assert!(
            matches!(circuit.admit(), Admit::Probe),
            "not half-open for good"
        );
    }

    #[tokio::test]
    async fn a_probe_that_only_waited_for_a_slot_neither_closes_nor_reopens_the_circuit() {
        let (circuit, layer) = opened(Duration::from_millis(20));
        tokio::time::sleep(Duration::from_millis(30)).await;
        let queued = tower::service_fn(|_: BackendCall| async {
            Err::<orgway_core::Output, _>(
                BackendError::timeout("b did not answer").with_detail("queued", true),
            )
        });
        let _ = layer.around(queued, call()).await;
        // Said nothing of the backend: the next call probes it.
        assert_ne!(circuit.state(), "closed");
        assert!(matches!(circuit.admit(), Admit::Probe));
    }

    #[tokio::test]
    async fn an_open_circuit_says_the_time_left_open() {
        let (_, layer) = opened(Duration::from_secs(600));
        let never = tower::service_fn(|_: BackendCall| {
            std::future::pending::<Result<orgway_core::Output, BackendError>>()
        });
        let e = layer.around(never, call()).await.unwrap_err();
        assert!(e.message.ends_with("calls resume in 600s"), "{}", e.message);
        let api = crate::error::ApiError::from_backend("b", e);
        assert_eq!(api.retry_after, Some(600));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        for n in 1..10 {
            assert!(backoff(n) <= Duration::from_secs(1));
        }
        assert!(backoff(1) <= Duration::from_millis(50));
    }
}
