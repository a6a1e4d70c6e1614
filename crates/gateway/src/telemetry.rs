//! Logs and metrics: the tracing subscriber (readable text by default, JSON on request) and the
//! Prometheus registry served at `/metrics`.

use std::sync::{Arc, OnceLock};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;

/// Installs the process-wide subscriber. `ORGWAY_LOG` (a level or `target=level` list)
/// overrides the configured level. Logs go to stderr, so stdout stays for command output;
/// colours only when stderr is a terminal, so a log redirected to a file has no escape codes.
pub fn init_tracing(format: LogFormat, level: &str) {
    use std::io::IsTerminal;
    let colour = std::io::stderr().is_terminal();
    let filter_text = std::env::var("ORGWAY_LOG").unwrap_or_else(|_| level.to_owned());
    let filter: Targets = filter_text
        .parse()
        .unwrap_or_else(|_| Targets::new().with_default(tracing::Level::INFO));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(colour)
                    .with_target(false),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_ansi(false)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    // A second initialisation (tests that start several gateways) keeps the first subscriber.
    let _ = result;
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: &'static str,
    route: &'static str,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BackendLabels {
    backend: String,
    operation: String,
    outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BackendOpLabels {
    backend: String,
    operation: String,
}

type Hist<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.25 ms to ~8 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

/// A backend's calls of one operation with one outcome (see [`Metrics::backend_series`]).
#[derive(Debug, Clone)]
pub struct BackendSeries {
    calls: Counter,
    duration: Histogram,
}

impl BackendSeries {
    /// Counts one call that took `seconds`.
    pub fn observe(&self, seconds: f64) {
        self.calls.inc();
        self.duration.observe(seconds);
    }
}

/// The method labels of the HTTP metrics: callers choose methods freely, and each new label
/// value is a new time series, so anything but the standard methods is `other`.
const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other",
];

/// A method's label's place in [`METHODS`].
fn method_index(m: &http::Method) -> usize {
    use http::Method;
    match *m {
        Method::GET => 0,
        Method::HEAD => 1,
        Method::POST => 2,
        Method::PUT => 3,
        Method::PATCH => 4,
        Method::DELETE => 5,
        Method::OPTIONS => 6,
        _ => 7,
    }
}

/// The statuses the gateway answers with, each with a slot in [`HttpSeries`]; an answer with
/// another status is counted through its label lookup.
const STATUSES: [u16; 21] = [
    200, 201, 204, 304, 400, 401, 403, 404, 405, 408, 409, 412, 413, 422, 429, 431, 500, 501, 502,
    503, 504,
];

/// The HTTP series already counted, by route, method and status: each resolved from its
/// family once, so counting an answer hashes no labels and takes no lock. (A clone of a
/// counter or histogram is the same series as the family's.)
#[derive(Debug)]
struct HttpSeries {
    /// `[route][method][status slot]`, flattened.
    requests: Box<[OnceLock<Counter>]>,
    /// By route.
    durations: Box<[OnceLock<Histogram>]>,
}

impl HttpSeries {
    fn new() -> HttpSeries {
        let routes = crate::http::ROUTES.len();
        HttpSeries {
            requests: (0..routes * METHODS.len() * STATUSES.len())
                .map(|_| OnceLock::new())
                .collect(),
            durations: (0..routes).map(|_| OnceLock::new()).collect(),
        }
    }
}

/// A route label's place in [`crate::http::ROUTES`].
fn route_index(route: &str) -> Option<usize> {
    crate::http::ROUTES.iter().position(|r| *r == route)
}

/// The gateway's Prometheus metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Hist<RouteLabels>,
    http_series: HttpSeries,
    backend_calls: Family<BackendLabels, Counter>,
    backend_duration: Hist<BackendOpLabels>,
    /// Cache lookups by backend and result (`hit`, `miss`, `stale`, `collapsed`, `bypass`).
    pub cache_lookups: Family<CacheLabels, Counter>,
    /// Entries the cache dropped to stay within its byte bound.
    pub cache_evictions: Counter,
    /// Bytes the cache holds (set when `/metrics` is read).
    pub cache_bytes: prometheus_client::metrics::gauge::Gauge,
    /// Each backend's circuit (0 closed, 1 open, 2 half-open), its openings, retries and calls
    /// shed (set when `/metrics` is read).
    pub backend_resilience: Family<ResilienceLabels, prometheus_client::metrics::gauge::Gauge>,
}

/// Labels of a backend's resilience figures.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResilienceLabels {
    pub backend: String,
    /// `circuit_state`, `circuit_opened`, `retries` or `shed`.
    pub figure: &'static str,
}

/// Labels of a cache lookup.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    pub backend: String,
    pub result: &'static str,
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("orgway");
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route and status",
            http_requests.clone(),
        );
        let http_duration: Hist<RouteLabels> = Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request",
            http_duration.clone(),
        );
        let backend_calls = Family::<BackendLabels, Counter>::default();
        registry.register(
            "backend_calls",
            "Calls to backends, by outcome (ok or the error code)",
            backend_calls.clone(),
        );
        let backend_duration: Hist<BackendOpLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "backend_call_duration_seconds",
            "Time a backend call took, queueing included",
            backend_duration.clone(),
        );
        let cache_lookups = Family::<CacheLabels, Counter>::default();
        registry.register(
            "cache_lookups",
            "Read cache lookups, by backend and result (hit, miss, stale, collapsed, bypass)",
            cache_lookups.clone(),
        );
        let cache_evictions = Counter::default();
        registry.register(
            "cache_evictions",
            "Entries the read cache dropped to stay within its byte bound",
            cache_evictions.clone(),
        );
        let cache_bytes = prometheus_client::metrics::gauge::Gauge::default();
        registry.register(
            "cache_bytes",
            "Bytes the read cache holds",
            cache_bytes.clone(),
        );
        let backend_resilience =
            Family::<ResilienceLabels, prometheus_client::metrics::gauge::Gauge>::default();
        registry.register(
            "backend_resilience",
            "Per backend: circuit_state (0 closed, 1 open, 2 half-open), circuit_opened, retries and shed (calls refused with the slots and queue full), counted since start",
            backend_resilience.clone(),
        );
        Arc::new(Metrics {
            backend_resilience,
            registry,
            http_requests,
            http_duration,
            http_series: HttpSeries::new(),
            backend_calls,
            backend_duration,
            cache_lookups,
            cache_evictions,
            cache_bytes,
        })
    }

    /// Counts one answered HTTP request.
    /// `route` is one of [`crate::http::ROUTES`] (any other label is counted, through the
    /// label lookup).
    pub fn http(&self, method: &http::Method, route: &'static str, status: u16, seconds: f64) {
        let m = method_index(method);
        let labels = HttpLabels {
            method: METHODS[m],
            route,
            status,
        };
        let Some(r) = route_index(route) else {
            self.http_requests.get_or_create(&labels).inc();
            self.http_duration
                .get_or_create(&RouteLabels { route })
                .observe(seconds);
            return;
        };
        let slot = STATUSES
            .iter()
            .position(|s| *s == status)
            .map(|s| (r * METHODS.len() + m) * STATUSES.len() + s);
        match slot {
            Some(i) => self.http_series.requests[i]
                .get_or_init(|| self.http_requests.get_or_create(&labels).clone())
                .inc(),
            None => self.http_requests.get_or_create(&labels).inc(),
        };
        self.http_series.durations[r]
            .get_or_init(|| {
                self.http_duration
                    .get_or_create(&RouteLabels { route })
                    .clone()
            })
            .observe(seconds);
    }

    /// Counts an answer the connection guards gave where no request was routed (`conn.rs`: a
    /// head that took too long, or hyper refused; a connection over the cap): method `other`,
    /// route `connection`.
    pub fn connection(&self, status: u16) {
        self.http_requests
            .get_or_create(&HttpLabels {
                method: METHODS[METHODS.len() - 1],
                route: "connection",
                status,
            })
            .inc();
    }

    /// The counter and histogram of a backend's calls of one operation with one outcome (`ok`
    /// or an error code), to keep and count with: no labels built, no lookup, per call.
    pub fn backend_series(&self, backend: &str, operation: &str, outcome: &str) -> BackendSeries {
        BackendSeries {
            calls: self
                .backend_calls
                .get_or_create(&BackendLabels {
                    backend: backend.to_owned(),
                    operation: operation.to_owned(),
                    outcome: outcome.to_owned(),
                })
                .clone(),
            duration: self
                .backend_duration
                .get_or_create(&BackendOpLabels {
                    backend: backend.to_owned(),
                    operation: operation.to_owned(),
                })
                .clone(),
        }
    }

    /// Counts one backend call.
    pub fn backend(&self, backend: &str, operation: &str, outcome: &str, seconds: f64) {
        self.backend_series(backend, operation, outcome)
            .observe(seconds);
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line of `/metrics` that starts with `prefix`, its value read.
    fn value(text: &str, prefix: &str) -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    #[test]
    fn methods_are_bounded() {
        assert_eq!(METHODS[method_index(&http::Method::PATCH)], "PATCH");
        let odd = http::Method::from_bytes(b"AAAA").unwrap();
        assert_eq!(METHODS[method_index(&odd)], "other");
        assert_eq!(METHODS[method_index(&http::Method::TRACE)], "other");
    }

    #[test]
    fn http_answers_are_counted_the_same_with_or_without_a_kept_series() {
        let m = Metrics::new();
        let get = http::Method::GET;
        // Kept series (a known route, method and status), counted three times.
        for _ in 0..3 {
            m.http(&get, "/healthz", 200, 0.001);
        }
        // A status without a slot, the `other` method, a route label not in ROUTES.
        m.http(&get, "/healthz", 418, 0.001);
        m.http(&http::Method::TRACE, "/healthz", 200, 0.001);
        m.http(&get, "nowhere", 404, 0.001);
        let text = m.encode();
        let count = |labels: &str| value(&text, &format!("orgway_http_requests_total{{{labels}}}"));
        assert_eq!(
            count(r#"method="GET",route="/healthz",status="200""#),
            Some(3.0),
            "{text}"
        );
        assert_eq!(
            count(r#"method="GET",route="/healthz",status="418""#),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            count(r#"method="other",route="/healthz",status="200""#),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            count(r#"method="GET",route="nowhere",status="404""#),
            Some(1.0),
            "{text}"
        );
        let seen = |route: &str| {
            value(
                &text,
                &format!("orgway_http_request_duration_seconds_count{{route=\"{route}\"}}"),
            )
        };
        assert_eq!(seen("/healthz"), Some(5.0), "{text}");
        assert_eq!(seen("nowhere"), Some(1.0), "{text}");
    }
}
