//! The per-backend policy stack: one chain of tower layers around every adapter, the same for
//! every vendor. Adapters only translate and classify; this is where time limits and
//! concurrency are enforced and where each call's outcome is observed.
//!
//! Layers, outermost first (the order ARCHITECTURE.md lists):
//! 1. `Observe`: times the call, counts it in the metrics, records the backend's health, logs
//!    failures that are not the caller's fault.
//! 2. `Circuit` (`resilience.rs`): fast `503` while the backend's circuit is open.
//! 3. `Deadline`: the backend's `timeout_ms` over the whole call (retries and time queued for
//!    a slot included), so a saturated backend answers `504` instead of queueing forever. It
//!    answers with a `BackendError`, not a tower error, so the one renderer can write it; one
//!    that spent half its time or more queued says so (`details.queued`), and is the gateway's
//!    load, not the backend's failure (neither its health nor its circuit counts it).
//! 4. `Retry` (`resilience.rs`): retryable reads tried again within the deadline and budget.
//! 5. `Slots` (`resilience.rs`): at most `max_concurrency` calls in flight, `max_queue` waiting,
//!    the rest shed with `503`.
//! 6. `AdapterService`: calls the adapter.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use orgway_core::{Backend, BackendError, BoxFuture, CallContext, Operation, Output, Timestamp};
use serde::Serialize;
use tower::util::BoxCloneSyncService;
use tower::{Layer, Service, ServiceBuilder, ServiceExt};

use crate::error::{ApiError, ErrorCode};
use crate::resilience::{Circuit, CircuitLayer, RetryLayer, Slots, SlotsLayer};
use crate::telemetry::Metrics;

/// One call through the stack.
#[derive(Debug)]
pub struct BackendCall {
    pub cx: CallContext,
    pub op: Operation,
    /// How long the call waited for one of the backend's slots (the slots layer says): a
    /// deadline met after waiting most of it is the gateway's load, not the backend's
    /// slowness.
    pub queued: Arc<QueueTime>,
}

/// The time a call spent waiting for slots, its tries together (on tokio's clock, as the
/// deadline is).
#[derive(Debug, Default)]
pub struct QueueTime(Mutex<(Duration, Option<tokio::time::Instant>)>);

impl QueueTime {
    fn lock(&self) -> std::sync::MutexGuard<'_, (Duration, Option<tokio::time::Instant>)> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The call starts waiting.
    pub fn wait(&self) {
        self.lock().1 = Some(tokio::time::Instant::now());
    }

    /// The call stops waiting (a slot, or it gave up).
    pub fn done(&self) {
        let mut t = self.lock();
        if let Some(since) = t.1.take() {
            t.0 += since.elapsed();
        }
    }

    /// The time waited so far.
    pub fn waited(&self) -> Duration {
        let t = self.lock();
        t.0 + t.1.map_or(Duration::ZERO, |since| since.elapsed())
    }
}

impl BackendCall {
    pub fn new(cx: CallContext, op: Operation) -> Self {
        BackendCall {
            cx,
            op,
            queued: Arc::default(),
        }
    }
}

/// The assembled stack of one backend.
pub type BackendService = BoxCloneSyncService<BackendCall, Output, BackendError>;

/// A service a layer of the stack wraps.
pub trait Inner:
    Service<BackendCall, Response = Output, Error = BackendError, Future: Send> + Clone + Send + 'static
{
}

impl<S> Inner for S
where
    S: Service<BackendCall, Response = Output, Error = BackendError> + Clone + Send + 'static,
    S::Future: Send,
{
}

/// A call through the stack.
pub type CallFuture = BoxFuture<'static, Result<Output, BackendError>>;

/// What a layer of the stack does around the call of the service it wraps (which it calls with
/// `oneshot`, so the wrapped service's readiness is awaited inside the call).
pub trait Around: Clone + Send + Sync + 'static {
    fn around<S: Inner>(&self, inner: S, req: BackendCall) -> CallFuture;
}

/// The tower layer of an [`Around`].
#[derive(Debug, Clone)]
pub struct Ring<L>(pub L);

impl<L: Clone, S> Layer<S> for Ring<L> {
    type Service = Ringed<L, S>;
    fn layer(&self, inner: S) -> Ringed<L, S> {
        Ringed {
            around: self.0.clone(),
            inner,
        }
    }
}

/// A service wrapped by an [`Around`].
#[derive(Debug, Clone)]
pub struct Ringed<L, S> {
    around: L,
    inner: S,
}

impl<L: Around, S: Inner> Service<BackendCall> for Ringed<L, S> {
    type Response = Output;
    type Error = BackendError;
    type Future = CallFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BackendError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: BackendCall) -> CallFuture {
        self.around.around(self.inner.clone(), req)
    }
}

/// The resilience parts of one backend's stack, kept for reporting.
#[derive(Debug, Clone)]
pub struct Resilience {
    pub circuit: Arc<Circuit>,
    pub slots: Arc<Slots>,
    pub retry: RetryLayer,
}

impl Resilience {
    pub fn report(&self) -> crate::resilience::ResilienceReport {
        crate::resilience::ResilienceReport {
            circuit: self.circuit.state(),
            circuit_opened: self.circuit.opened.load(Ordering::Relaxed),
            retries: self.retry.retries.load(Ordering::Relaxed),
            shed: self.slots.shed.load(Ordering::Relaxed),
        }
    }
}

/// Builds the stack of one backend.
#[allow(clippy::too_many_arguments)]
pub fn stack(
    name: &str,
    adapter: Arc<dyn Backend>,
    timeout: Duration,
    max_response_bytes: usize,
    resilience: &Resilience,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
) -> BackendService {
    let name: Arc<str> = Arc::from(name);
    let svc = ServiceBuilder::new()
        .layer(Ring(ObserveLayer {
            backend: name.clone(),
            health,
            metrics,
            ok: Arc::default(),
        }))
        .layer(Ring(CircuitLayer {
            backend: name.clone(),
            circuit: resilience.circuit.clone(),
        }))
        .layer(Ring(DeadlineLayer {
            backend: name.clone(),
            timeout,
            max_response_bytes,
        }))
        .layer(Ring(resilience.retry.clone()))
        .layer(Ring(SlotsLayer {
            backend: name,
            slots: resilience.slots.clone(),
        }))
        .service(AdapterService { adapter });
    BoxCloneSyncService::new(svc)
}

/// Calls the adapter.
#[derive(Clone, Debug)]
pub struct AdapterService {
    adapter: Arc<dyn Backend>,
}

impl Service<BackendCall> for AdapterService {
    type Response = Output;
    type Error = BackendError;
    type Future = BoxFuture<'static, Result<Output, BackendError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BackendError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: BackendCall) -> Self::Future {
        let adapter = self.adapter.clone();
        Box::pin(async move {
            let mut out = adapter.call(&req.cx, req.op).await?;
            // What the adapter declares secret or personal leaves no raw record it returned,
            // before anything is cached or rendered (docs/API.md §8).
            adapter.capabilities().redact_raw(&mut out);
            Ok(out)
        })
    }
}

/// Applies a backend's time limit, queueing included.
#[derive(Clone, Debug)]
pub struct DeadlineLayer {
    backend: Arc<str>,
    timeout: Duration,
    max_response_bytes: usize,
}

/// A duration the way people say it: `5s`, `250ms`, `1.5s`.
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else if ms > 1000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{ms}ms")
    }
}

impl Around for DeadlineLayer {
    fn around<S: Inner>(&self, inner: S, mut req: BackendCall) -> CallFuture {
        // Readiness (a slot) is awaited inside the call, under the deadline.
        let timeout = self.timeout;
        let backend = self.backend.clone();
        // Every request the adapter sends for this call, and a credential refresh it starts
        // (which other calls may go on awaiting after this one gave up), is bounded by the
        // backend's timeout on its own, so none outlives it.
        req.cx = req.cx.with_limits(orgway_core::RequestLimits {
            timeout,
            max_response_bytes: self.max_response_bytes,
        });
        let cx = req.cx.clone();
        let queued = req.queued.clone();
        Box::pin(async move {
            // Its details stay (which step of a change timed out, and which were done); a
            // deadline met reading back a change the backend made leaves the change made, and
            // says so.
            let too_slow = |details| {
                // Most of the time went to waiting for a slot: the gateway's own calls to the
                // backend were all busy, which says little of the backend (it had less than
                // half the time to answer, or none): `details.queued`.
                let waited = queued.waited();
                let mostly_queued = waited * 2 >= timeout;
                let mut slow = BackendError::timeout(if mostly_queued {
                    format!(
                        "{backend} did not answer within {}, {} of which the call waited for a free call slot: the gateway's calls to {backend} are all busy",
                        human(timeout),
                        human(waited)
                    )
                } else {
                    format!("{backend} did not answer within {}", human(timeout))
                });
                slow.details = details;
                // Cut short in the middle of a change made in several requests: which steps
                // were made, as the adapter would have said had its own error come first.
                let (made, making) = cx.steps();
                if let Some(step) = making
                    && !slow.details.contains_key("completed")
                {
                    slow = slow
                        .with_detail("step", step)
                        .with_detail("completed", made);
                }
                if mostly_queued {
                    slow = slow.with_detail("queued", true);
                }
                if cx.is_change_applied() {
                    slow.after_change(&backend)
                } else {
                    slow
                }
            };
            match tokio::time::timeout(timeout, inner.oneshot(req)).await {
                // The exchange's own limit (the same time) may fire first: one message either way.
                // A vendor's own 504 (its web server gave up behind it) keeps its words and
                // status.
                Ok(Err(e))
                    if e.kind == orgway_core::ErrorKind::Timeout && e.backend_status.is_none() =>
                {
                    Err(too_slow(e.details))
                }
                Ok(result) => result,
                Err(_) => Err(too_slow(Default::default())),
            }
        })
    }
}

/// What the gateway knows of a backend's health from the calls it made.
#[derive(Debug, Default)]
pub struct Health {
    calls: AtomicU64,
    failures: AtomicU64,
    consecutive_failures: AtomicU64,
    /// Whether the last answer was the backend rate limiting the gateway.
    rate_limited: std::sync::atomic::AtomicBool,
    last: Mutex<HealthEvents>,
}

#[derive(Debug, Default, Clone)]
struct HealthEvents {
    last_success: Option<Timestamp>,
    last_failure: Option<(Timestamp, ErrorCode, String)>,
}

/// A backend's health, as `GET /v1/backends` shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthReport {
    /// `unknown` (no call yet), `healthy` (the last call succeeded or failed by the caller's
    /// fault), `rate-limited` (the backend answered the last call with a 429: it works, but is
    /// throttling the gateway) or `failing` (the last call failed by the backend's fault).
    pub status: &'static str,
    pub calls: u64,
    pub failures: u64,
    pub consecutive_failures: u64,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_success_at: Option<Timestamp>,
    pub last_failure: Option<FailureReport>,
}

/// The last failure of a backend.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailureReport {
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    pub code: ErrorCode,
    pub message: String,
}

impl Health {
    /// Records a 429: the backend is up and answering, so this is neither a success nor a
    /// failure of it.
    fn record_rate_limited(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.rate_limited.store(true, Ordering::Relaxed);
    }

    fn record(&self, outcome: Result<(), (ErrorCode, &str)>) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.rate_limited.store(false, Ordering::Relaxed);
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        match outcome {
            Ok(()) => {
                self.consecutive_failures.store(0, Ordering::Relaxed);
                last.last_success = Some(Timestamp::now());
            }
            Err((code, message)) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                self.consecutive_failures.fetch_add(1, Ordering::Relaxed);
                last.last_failure = Some((Timestamp::now(), code, message.to_owned()));
            }
        }
    }

    /// The current report.
    pub fn report(&self) -> HealthReport {
        let calls = self.calls.load(Ordering::Relaxed);
        let consecutive = self.consecutive_failures.load(Ordering::Relaxed);
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner()).clone();
        HealthReport {
            status: match (calls, consecutive) {
                (0, _) => "unknown",
                _ if self.rate_limited.load(Ordering::Relaxed) => "rate-limited",
                (_, 0) => "healthy",
                _ => "failing",
            },
            calls,
            failures: self.failures.load(Ordering::Relaxed),
            consecutive_failures: consecutive,
            last_success_at: last.last_success,
            last_failure: last.last_failure.map(|(at, code, message)| FailureReport {
                at,
                code,
                message,
            }),
        }
    }
}

/// Observes every call: metrics, health, logs.
#[derive(Clone, Debug)]
pub struct ObserveLayer {
    backend: Arc<str>,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    /// The success series of each operation called so far, resolved on its first call.
    ok: Arc<Mutex<Vec<(&'static str, crate::telemetry::BackendSeries)>>>,
}

impl ObserveLayer {
    /// Counts a successful call of `op`.
    fn ok(&self, op: &'static str, secs: f64) {
        let mut ok = self.ok.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, series)) = ok.iter().find(|(o, _)| *o == op) {
            series.observe(secs);
            return;
        }
        let series = self.metrics.backend_series(&self.backend, op, "ok");
        series.observe(secs);
        ok.push((op, series));
    }
}

impl Around for ObserveLayer {
    fn around<S: Inner>(&self, inner: S, req: BackendCall) -> CallFuture {
        let op = req.op.kind().as_str();
        let request_id: Arc<str> = Arc::from(req.cx.request_id());
        let layer = self.clone();
        let fut = inner.oneshot(req);
        Box::pin(async move {
            let started = Instant::now();
            let result = fut.await;
            let secs = started.elapsed().as_secs_f64();
            match &result {
                Ok(_) => {
                    layer.health.record(Ok(()));
                    layer.ok(op, secs);
                    tracing::debug!(backend = %layer.backend, operation = op, request_id = %request_id, ms = secs * 1000.0, "backend call");
                }
                Err(e) => {
                    let code = ApiError::from_backend(&layer.backend, e.clone()).code;
                    layer
                        .metrics
                        .backend(&layer.backend, op, code.as_str(), secs);
                    if e.kind == orgway_core::ErrorKind::RateLimited {
                        layer.health.record_rate_limited();
                        tracing::info!(backend = %layer.backend, operation = op, request_id = %request_id, retry_after_s = e.retry_after.map(|d| d.as_secs()), "backend is rate limiting the gateway");
                    } else if crate::resilience::gateway_load(e) {
                        // Shed, or queued past the deadline: the gateway's own load, which
                        // says nothing of the backend's health.
                        tracing::warn!(backend = %layer.backend, operation = op, request_id = %request_id, code = code.as_str(), error = %e, "backend call shed or cut short waiting for a slot: the gateway's calls to it are all busy");
                    } else if e.is_callers_fault() {
                        // The backend answered sensibly; it is healthy.
                        layer.health.record(Ok(()));
                        tracing::debug!(backend = %layer.backend, operation = op, request_id = %request_id, code = code.as_str(), error = %e, "backend refused the call");
                    } else {
                        layer.health.record(Err((code, &e.message)));
                        tracing::warn!(backend = %layer.backend, operation = op, request_id = %request_id, code = code.as_str(), error = %e, ms = secs * 1000.0, "backend call failed");
                    }
                }
            }
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orgway_core::{Capabilities, Transport, TransportError};

    #[derive(Debug)]
    struct Slow {
        delay: Duration,
        in_flight: AtomicU64,
        max_seen: AtomicU64,
    }

    const NOTHING: Capabilities = Capabilities {
        operations: &[],
        metrics: &[],
        patchable: &[],
        settable_statuses: &[],
        orgs: orgway_core::ListSupport::NONE,
        plans: orgway_core::ListSupport::NONE,
        customers: orgway_core::ListSupport::NONE,
        subscriptions: orgway_core::ListSupport::NONE,
        raw_redactions: &[],
    };

    impl Backend for Slow {
        fn kind(&self) -> &'static str {
            "slow"
        }
        fn capabilities(&self) -> &Capabilities {
            &NOTHING
        }
        fn canonical_id(&self, raw: &str) -> Result<String, String> {
            Ok(raw.to_owned())
        }
        fn credential_identity(&self) -> String {
            String::new()
        }
        fn call<'a>(
            &'a self,
            _: &'a CallContext,
            _: Operation,
        ) -> BoxFuture<'a, Result<Output, BackendError>> {
            Box::pin(async move {
                let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                self.max_seen.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(self.delay).await;
                self.in_flight.fetch_sub(1, Ordering::SeqCst);
                Ok(Output::Done)
            })
        }
    }

    #[derive(Debug)]
    struct NoTransport;
    impl Transport for NoTransport {
        fn send(
            &self,
            _: http::Request<bytes::Bytes>,
        ) -> BoxFuture<'static, Result<http::Response<bytes::Bytes>, TransportError>> {
            Box::pin(async { Err(TransportError::Connect("none".into())) })
        }
    }

    fn call() -> BackendCall {
        BackendCall::new(
            CallContext::new(Arc::from("rid"), false, Arc::new(NoTransport)),
            Operation::GetOrg { org: "x".into() },
        )
    }

    #[tokio::test(start_paused = true)]
    async fn deadline_answers_timeout_and_counts_queueing() {
        let slow = Arc::new(Slow {
            delay: Duration::from_secs(3),
            in_flight: AtomicU64::new(0),
            max_seen: AtomicU64::new(0),
        });
        let health = Arc::new(Health::default());
        let resilience = Resilience {
            circuit: Circuit::new(crate::resilience::CircuitSettings::default()),
            slots: Slots::new(1, 10),
            retry: RetryLayer::new(3, Duration::from_secs(5)),
        };
        let svc = stack(
            "b",
            slow.clone(),
            Duration::from_secs(5),
            crate::config::DEFAULT_MAX_RESPONSE_BYTES,
            &resilience,
            health.clone(),
            Metrics::new(),
        );
        // The first call takes 3 s; the second queues 3 s and then needs 3 s more: over 5 s,
        // most of it queued (the gateway's load: not counted against the backend's health).
        let a = tokio::spawn(svc.clone().oneshot(call()));
        let b = tokio::spawn(svc.clone().oneshot(call()));
        assert_eq!(a.await.unwrap(), Ok(Output::Done));
        let err = b.await.unwrap().unwrap_err();
        assert_eq!(err.kind, orgway_core::ErrorKind::Timeout);
        assert_eq!(
            err.message,
            "b did not answer within 5s, 3s of which the call waited for a free call slot: the gateway's calls to b are all busy"
        );
        assert_eq!(
            slow.max_seen.load(Ordering::SeqCst),
            1,
            "the concurrency limit held"
        );
        let report = health.report();
        assert_eq!((report.calls, report.failures), (1, 0));
    }

    /// A backend whose every call is one request, answered after the transport's delay.
    #[derive(Debug)]
    struct OneRequest;

    impl Backend for OneRequest {
        fn kind(&self) -> &'static str {
            "one-request"
        }
        fn capabilities(&self) -> &Capabilities {
            &NOTHING
        }
        fn canonical_id(&self, raw: &str) -> Result<String, String> {
            Ok(raw.to_owned())
        }
        fn credential_identity(&self) -> String {
            String::new()
        }
        fn call<'a>(
            &'a self,
            cx: &'a CallContext,
            _: Operation,
        ) -> BoxFuture<'a, Result<Output, BackendError>> {
            Box::pin(async move {
                let req = http::Request::get("http://b.test/x")
                    .body(bytes::Bytes::new())
                    .unwrap();
                cx.send(req)
                    .await
                    .map_err(|_| BackendError::upstream("x"))?;
                Ok(Output::Done)
            })
        }
    }

    /// A transport answering 200 after a delay.
    #[derive(Debug)]
    struct Delayed(Duration);
    impl Transport for Delayed {
        fn send(
            &self,
            _: http::Request<bytes::Bytes>,
        ) -> BoxFuture<'static, Result<http::Response<bytes::Bytes>, TransportError>> {
            let delay = self.0;
            Box::pin(async move {
                tokio::time::sleep(delay).await;
                Ok(http::Response::new(bytes::Bytes::new()))
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_met_waiting_for_a_slot_is_not_the_backends_failure() {
        let health = Arc::new(Health::default());
        let resilience = Resilience {
            circuit: Circuit::new(crate::resilience::CircuitSettings {
                window: Duration::from_secs(10),
                min_calls: 1,
                failure_percent: 50,
                open_for: Duration::from_secs(5),
            }),
            slots: Slots::new(1, 10),
            retry: RetryLayer::new(1, Duration::from_secs(1)),
        };
        let svc = stack(
            "b",
            Arc::new(OneRequest),
            Duration::from_secs(1),
            crate::config::DEFAULT_MAX_RESPONSE_BYTES,
            &resilience,
            health.clone(),
            Metrics::new(),
        );
        let transport: Arc<dyn Transport> = Arc::new(Delayed(Duration::from_millis(400)));
        // Five calls at once through one slot, 400 ms each, a second each to finish: two are
        // answered; the others spend most of their second waiting for the slot.
        let calls: Vec<_> = (0..5)
            .map(|_| {
                let call = BackendCall::new(
                    CallContext::new(Arc::from("rid"), false, transport.clone()),
                    Operation::GetOrg { org: "x".into() },
                );
                tokio::spawn(svc.clone().oneshot(call))
            })
            .collect();
        let mut outcomes = Vec::new();
        for c in calls {
            outcomes.push(match c.await.unwrap() {
                Ok(_) => "answered".to_owned(),
                Err(e) if e.details.contains_key("queued") => e.message,
                Err(e) => format!("not queued: {}", e.message),
            });
        }
        assert_eq!(
            outcomes,
            [
                "answered",
                "answered",
                "b did not answer within 1s, 800ms of which the call waited for a free call slot: the gateway's calls to b are all busy",
                "b did not answer within 1s, 1s of which the call waited for a free call slot: the gateway's calls to b are all busy",
                "b did not answer within 1s, 1s of which the call waited for a free call slot: the gateway's calls to b are all busy",
            ]
        );
        // None is the backend's failure; the circuit stays closed.
        assert_eq!(health.report().failures, 0);
        assert_eq!(resilience.circuit.state(), "closed");
        // A call the backend itself is too slow for is.
        let slow: Arc<dyn Transport> = Arc::new(Delayed(Duration::from_secs(2)));
        let e = svc
            .clone()
            .oneshot(BackendCall::new(
                CallContext::new(Arc::from("rid"), false, slow),
                Operation::GetOrg { org: "x".into() },
            ))
            .await
            .unwrap_err();
        assert_eq!(e.message, "b did not answer within 1s");
        assert_eq!(health.report().failures, 1);
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(Duration::from_millis(5000)), "5s");
        assert_eq!(human(Duration::from_millis(250)), "250ms");
        assert_eq!(human(Duration::from_millis(1500)), "1.5s");
    }
}
