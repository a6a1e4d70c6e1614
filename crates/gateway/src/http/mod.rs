//! The HTTP API: the router of docs/API.md §4 and the tower stack in front of it.
//!
//! The stack, outermost first (the order ARCHITECTURE.md lists):
//! 0. [`Gateway::handle`], the cache's front door: a `GET` whose target the read cache's front
//!    index knows (see `cache.rs`) is answered from its entry here, with the edge's request id,
//!    metrics and access log, and never reaches the router. Everything else goes on.
//! 1. `edge` — request id (kept if valid, else generated; echoed on the answer; passed to
//!    backends), the early `413` for a declared body over the limit, the one place where error
//!    bodies are written ([`crate::error::render`]), the access log line and HTTP metrics.
//! 2. `CatchPanicLayer` — a panic in a handler becomes `500 internal`, not a dropped
//!    connection.
//! 3. The router: handlers resolve org references, check capabilities and parameters, then
//!    call the backend's policy stack ([`crate::policy`]).
//!
//! The files: `handlers.rs` (the org routes and the fallbacks), `admin.rs` (`/v1/backends`,
//! health, readiness, metrics, the OpenAPI document), `extract.rs` (the resolved-org
//! extractors and the capability check), `list.rs` (the gateway-side sort and page engine),
//! `params.rs` (query strings and cursors), `body.rs` (request bodies), `render.rs` (response
//! types), `openapi.rs` (the OpenAPI document).

pub mod admin;
pub mod body;
pub mod extract;
pub mod handlers;
pub mod list;
pub mod openapi;
pub mod params;
pub mod render;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use http::{HeaderValue, header};
use tower_http::catch_panic::CatchPanicLayer;

use crate::error::{ApiError, render};
use crate::routing::Routing;
use crate::telemetry::Metrics;

/// Shared state of the HTTP layer.
#[derive(Debug)]
pub struct App {
    /// Backends (each with its outbound client) and aliases.
    pub routing: Arc<Routing>,
    /// Who may call (`auth.rs`).
    pub auth: crate::auth::Auth,
    /// Requests per second per caller (`limits.rs`).
    pub caller_limit: Option<crate::limits::PerCaller>,
    /// Browser origins allowed (`[cors]`).
    pub cors: Option<crate::config::CorsConfig>,
    /// Writes with an `Idempotency-Key` (`idempotency.rs`).
    pub idempotency: Arc<dyn crate::idempotency::Store>,
    /// The read cache (`cache.rs`): every read goes through it, a bypass without `[cache]`.
    pub cache: Arc<crate::cache::Cache>,
    pub metrics: Arc<Metrics>,
    pub body_limit: usize,
    /// How long a request's body may take to arrive (`408 request_timeout` after).
    pub body_timeout: std::time::Duration,
    /// False while draining for shutdown: `/readyz` answers 503.
    pub ready: AtomicBool,
    /// The OpenAPI document, rendered once.
    pub openapi: Bytes,
    /// Writes, each a task of its own: run to their end whatever becomes of their caller's
    /// connection, and waited for at shutdown (within its grace period).
    pub writes: tokio_util::task::TaskTracker,
}

/// The request id of the request being handled.
#[derive(Debug, Clone)]
pub struct RequestId(pub Arc<str>);

/// The header carrying request ids, both ways (a name built once: looking a header up by a
/// `&str` parses the name each time).
pub const REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-request-id");

/// A caller's request id is kept if it is 1–128 visible ASCII characters.
fn valid_request_id(v: &HeaderValue) -> Option<&str> {
    let b = v.as_bytes();
    if (1..=128).contains(&b.len()) && b.iter().all(|c| (0x21..=0x7e).contains(c)) {
        v.to_str().ok()
    } else {
        None
    }
}

/// A new request id: 64 random bits fixed per process, then a counter. Unique across
/// replicas with overwhelming probability, and cheap (no system call per request).
pub fn new_request_id() -> Arc<str> {
    let mut buf = [0u8; 32];
    Arc::from(new_request_id_into(&mut buf))
}

/// A request's id as a header value: the caller's when it is valid, else a new one.
fn request_id_value(headers: &http::HeaderMap) -> HeaderValue {
    match headers.get(&REQUEST_ID) {
        Some(v) if valid_request_id(v).is_some() => v.clone(),
        _ => new_request_id_value(),
    }
}

/// A new request id as a header value.
fn new_request_id_value() -> HeaderValue {
    let mut buf = [0u8; 32];
    HeaderValue::from_str(new_request_id_into(&mut buf))
        .unwrap_or_else(|_| HeaderValue::from_static("0"))
}

/// Writes a new request id (32 lowercase hex digits) into `buf`: the process's 16, written
/// once, then the counter's.
fn new_request_id_into(buf: &mut [u8; 32]) -> &str {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    fn hex(word: u64, out: &mut [u8]) {
        for (j, b) in out.iter_mut().enumerate() {
            *b = HEX[((word >> (60 - 4 * j)) & 0xf) as usize];
        }
    }
    static PREFIX: OnceLock<[u8; 16]> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    let prefix = PREFIX.get_or_init(|| {
        let mut h = RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        h.write_u32(std::process::id());
        let mut digits = [0u8; 16];
        hex(h.finish(), &mut digits);
        digits
    });
    buf[..16].copy_from_slice(prefix);
    hex(COUNTER.fetch_add(1, Ordering::Relaxed), &mut buf[16..]);
    std::str::from_utf8(buf).unwrap_or("0")
}

/// Every route's template: the HTTP metrics' `route` label (a test checks it against the
/// router and the OpenAPI document).
pub const ROUTES: [&str; 19] = [
    "/v1/orgs/{org}",
    "/v1/backends",
    "/v1/backends/{backend}/orgs",
    "/v1/orgs/{org}/plans",
    "/v1/orgs/{org}/plans/{plan}",
    "/v1/orgs/{org}/usage",
    "/v1/orgs/{org}/usage/{metric}",
    "/v1/orgs/{org}/customers",
    "/v1/orgs/{org}/customers/{customer}/subscriptions",
    "/v1/cache/backends/{backend}",
    "/v1/cache/orgs/{org}",
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "unmatched",
    "unauthenticated",
    "rate-limited",
    "preflight",
];

/// The metrics label of the route a request matched.
fn route_label(matched: Option<&MatchedPath>) -> &'static str {
    let Some(m) = matched else { return "unmatched" };
    ROUTES
        .iter()
        .find(|r| **r == m.as_str())
        .copied()
        .unwrap_or("unmatched")
}

/// The gateway as hyper serves it: the cache's front door, then the router with the whole stack.
#[derive(Debug, Clone)]
pub struct Gateway {
    app: Arc<App>,
    router: Router,
}

impl Gateway {
    /// Where its answers are counted.
    pub fn metrics(&self) -> &Arc<crate::telemetry::Metrics> {
        &self.app.metrics
    }

    pub fn new(app: Arc<App>) -> Gateway {
        Gateway {
            router: router(app.clone()),
            app,
        }
    }

    /// Answers one request: a CORS preflight here; otherwise the answer of [`Gateway::answer`],
    /// with CORS headers for an allowed origin.
    pub async fn handle(self, req: http::Request<hyper::body::Incoming>) -> Response {
        let Some(cors) = &self.app.cors else {
            return self.answer(req).await;
        };
        let origin = allowed_origin(cors, req.headers());
        if req.method() == http::Method::OPTIONS
            && req.headers().contains_key(header::ORIGIN)
            && req
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            return self.preflight(cors, origin, &req);
        }
        let mut resp = self.answer(req).await;
        if let Some(origin) = origin {
            let h = resp.headers_mut();
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            h.append(header::VARY, HeaderValue::from_static("origin"));
            h.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(CORS_EXPOSED),
            );
        }
        resp
    }

    /// A preflight: `204` with what the API allows, or `403` for an origin not allowed.
    fn preflight<B>(
        &self,
        cors: &crate::config::CorsConfig,
        origin: Option<HeaderValue>,
        req: &http::Request<B>,
    ) -> Response {
        let started = Instant::now();
        let asked = req
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|m| http::Method::from_bytes(m.as_bytes()).ok());
        let method_ok = asked.is_some_and(|m| CORS_METHODS.split(", ").any(|a| a == m.as_str()));
        let Some(origin) = origin.filter(|_| method_ok) else {
            let e = ApiError::new(
                crate::error::ErrorCode::Forbidden,
                "this origin or method may not call the API from a browser",
            );
            return self.refuse(req, &e, started, "preflight");
        };
        let mut resp = Response::new(axum::body::Body::empty());
        *resp.status_mut() = http::StatusCode::NO_CONTENT;
        let h = resp.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(CORS_METHODS),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(CORS_REQUEST_HEADERS),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from(cors.max_age.as_secs()),
        );
        h.insert(
            header::VARY,
            HeaderValue::from_static(
                "origin, access-control-request-method, access-control-request-headers",
            ),
        );
        finish(
            &self.app,
            request_id_value(req.headers()),
            req.method(),
            "preflight",
            started,
            || req.uri().path(),
            resp,
        )
    }

    /// Authenticates a `/v1` caller (`401` here) and holds it to its rate (`429`), answers
    /// from the cache's front door what it may, and sends the rest through the router.
    async fn answer(self, mut req: http::Request<hyper::body::Incoming>) -> Response {
        let started = Instant::now();
        let path = req.uri().path();
        // The liveness probe, answered at the door: nothing it says depends on routing.
        if path == "/healthz" && req.method() == http::Method::GET {
            let mut resp = Response::new(axum::body::Body::from(Bytes::from_static(HEALTHZ)));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            return finish(
                &self.app,
                request_id_value(req.headers()),
                req.method(),
                "/healthz",
                started,
                || "/healthz",
                resp,
            );
        }
        let caller = if path == "/v1" || path.starts_with("/v1/") {
            let caller = match self.app.auth.authenticate(req.headers()).await {
                Ok(c) => c,
                Err(e) => return self.refuse(&req, &e, started, "unauthenticated"),
            };
            if let Some(limit) = &self.app.caller_limit
                && let Err(e) = limit.check(&caller.subject)
            {
                return self.refuse(&req, &e, started, "rate-limited");
            }
            Some(caller)
        } else {
            None
        };
        // A request with a body goes the whole way (the edge refuses one over the limit).
        if let Some(caller) = &caller
            && req.method() == http::Method::GET
            && http_body::Body::is_end_stream(req.body())
            && let Some(target) = req.uri().path_and_query()
            && let Some((resp, route)) = self
                .app
                .cache
                .front(target.as_str(), req.headers(), caller)
                .await
        {
            return finish(
                &self.app,
                request_id_value(req.headers()),
                req.method(),
                route,
                started,
                || req.uri().path(),
                resp,
            );
        }
        if let Some(caller) = caller {
            req.extensions_mut().insert(caller);
        }
        match tower::ServiceExt::oneshot(self.router, req).await {
            Ok(resp) => resp,
            Err(never) => match never {},
        }
    }

    /// An error before routing (`401` with `WWW-Authenticate`, `429`, a refused preflight), in
    /// the error shape, counted under `label`.
    fn refuse<B>(
        &self,
        req: &http::Request<B>,
        err: &ApiError,
        started: Instant,
        label: &'static str,
    ) -> Response {
        let rid = request_id_value(req.headers());
        let mut resp = render(
            err,
            rid.to_str().unwrap_or(""),
            Response::new(axum::body::Body::empty()),
        );
        if err.code == crate::error::ErrorCode::Unauthorized {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"orgway\""),
            );
        }
        finish(
            &self.app,
            rid,
            req.method(),
            label,
            started,
            || req.uri().path(),
            resp,
        )
    }
}

/// `GET /healthz`'s body (the routed handler answers the same).
const HEALTHZ: &[u8] = br#"{"status":"ok"}"#;

/// The methods a browser may use (a preflight's answer).
const CORS_METHODS: &str = "GET, HEAD, PATCH, PUT, POST, DELETE";
/// The request headers a browser may send.
const CORS_REQUEST_HEADERS: &str = "authorization, content-type, if-none-match, idempotency-key, x-request-id, cache-control, pragma";
/// The answer headers a browser's script may read.
const CORS_EXPOSED: &str = "etag, x-request-id, x-cache, cache-status, retry-after, location, www-authenticate, idempotent-replayed";

/// The request's `Origin`, when `[cors]` allows it.
fn allowed_origin(
    cors: &crate::config::CorsConfig,
    headers: &http::HeaderMap,
) -> Option<HeaderValue> {
    let origin = headers.get(header::ORIGIN)?;
    let s = origin.to_str().ok()?;
    (cors.any || cors.origins.iter().any(|o| o.eq_ignore_ascii_case(s))).then(|| origin.clone())
}

/// A `/v1` write's `Idempotency-Key` and its caller's scope (`None` for anything else).
fn write_key(req: &Request) -> Option<Result<(Arc<str>, String), ApiError>> {
    if orgway_core::is_safe_method(req.method()) {
        return None;
    }
    let key = crate::idempotency::key_of(req.headers())?;
    let caller = req.extensions().get::<Arc<crate::auth::Caller>>()?;
    Some(key.map(|k| (caller.subject.clone(), k)))
}

/// Whether a query asks for `include=raw`.
fn asks_raw(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "include" && v == "raw")
    })
}

/// The route's scope (and `raw:read` for `include=raw`), checked after routing: `403`.
fn authorize(req: &Request, route: &'static str) -> Result<(), ApiError> {
    let required = crate::auth::required_scope(req.method(), route);
    if required == crate::auth::Required::Nothing {
        return Ok(());
    }
    // Every `/v1` request was authenticated before routing.
    let Some(caller) = req.extensions().get::<Arc<crate::auth::Caller>>() else {
        return Err(ApiError::internal());
    };
    if !caller.meets(required) {
        return Err(crate::auth::scope_missing(required));
    }
    if asks_raw(req.uri().query()) && !caller.has(crate::auth::Scope::RawRead) {
        return Err(crate::auth::scope_missing(crate::auth::Required::Scope(
            crate::auth::Scope::RawRead,
        )));
    }
    Ok(())
}

/// The end of every request, wherever it was answered: its metrics, its access log line when
/// the log is on, and its request id on the answer.
fn finish<'a>(
    app: &App,
    rid: HeaderValue,
    method: &http::Method,
    route: &'static str,
    started: Instant,
    path: impl FnOnce() -> &'a str,
    mut resp: Response,
) -> Response {
    let status = resp.status().as_u16();
    let secs = started.elapsed().as_secs_f64();
    app.metrics.http(method, route, status, secs);
    if tracing::enabled!(tracing::Level::INFO) {
        let path = path();
        let id = rid.to_str().unwrap_or("");
        tracing::info!(request_id = %id, method = %method, path = %path, status, ms = secs * 1000.0, "request");
    }
    resp.headers_mut().insert(REQUEST_ID, rid);
    resp
}

/// The router with the stack behind the front door.
fn router(state: Arc<App>) -> Router {
    use admin::*;
    use handlers::*;
    Router::new()
        .route(
            "/v1/orgs/{org}",
            get(get_org).patch(patch_org).delete(delete_org),
        )
        .route("/v1/backends", get(list_backends))
        .route("/v1/backends/{backend}/orgs", get(list_backend_orgs))
        .route("/v1/orgs/{org}/plans", get(list_plans))
        .route(
            "/v1/orgs/{org}/plans/{plan}",
            axum::routing::put(put_plan).delete(delete_plan),
        )
        .route("/v1/orgs/{org}/usage", get(get_usage))
        .route("/v1/orgs/{org}/usage/{metric}", get(get_series))
        .route(
            "/v1/orgs/{org}/customers",
            get(list_customers).post(create_customer),
        )
        .route(
            "/v1/orgs/{org}/customers/{customer}/subscriptions",
            get(list_subscriptions).post(create_subscription),
        )
        .route(
            "/v1/cache/backends/{backend}",
            axum::routing::delete(purge_backend),
        )
        .route("/v1/cache/orgs/{org}", axum::routing::delete(purge_org))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                tracing::error!("a handler panicked");
                ApiError::internal().into_response()
            },
        ))
        .layer(middleware::from_fn_with_state(state.clone(), edge))
        .with_state(state)
}

/// The outermost layer; see the module documentation.
async fn edge(State(app): State<Arc<App>>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let rid_value = request_id_value(req.headers());
    let rid: Arc<str> = Arc::from(rid_value.to_str().unwrap_or(""));
    req.extensions_mut().insert(RequestId(rid.clone()));
    let method = req.method().clone();
    let route = route_label(req.extensions().get::<MatchedPath>());
    // The access log's path, kept only when the access log is on.
    let path = tracing::enabled!(tracing::Level::INFO).then(|| req.uri().path().to_owned());

    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut resp = match declared {
        Some(n) if n > app.body_limit as u64 => {
            ApiError::payload_too_large(app.body_limit).into_response()
        }
        _ => match authorize(&req, route) {
            Err(e) => e.into_response(),
            Ok(()) => match write_key(&req) {
                None if !orgway_core::is_safe_method(req.method()) => {
                    // A task of its own: a write, once started, runs to its end (every step of
                    // it, and the cache's invalidation) whatever becomes of this connection.
                    app.writes
                        .spawn(next.run(req))
                        .await
                        .unwrap_or_else(|_| ApiError::internal().into_response())
                }
                None => next.run(req).await,
                Some(Err(e)) => e.into_response(),
                Some(Ok((scope, key))) => {
                    crate::idempotency::run(&app, scope, key, req, next).await
                }
            },
        },
    };

    if let Some(err) = resp.extensions().get::<Arc<ApiError>>().cloned() {
        resp = render(&err, &rid, resp);
        if err.status().is_server_error() {
            tracing::warn!(request_id = %rid, code = err.code.as_str(), backend = err.backend.as_deref().unwrap_or(""), error = %err.message, "request failed");
        }
    }
    finish(
        &app,
        rid_value,
        &method,
        route,
        started,
        || path.as_deref().unwrap_or(""),
        resp,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids() {
        assert_eq!(
            valid_request_id(&HeaderValue::from_static("abc-123")),
            Some("abc-123")
        );
        assert_eq!(
            valid_request_id(&HeaderValue::from_static("has space")),
            None
        );
        assert_eq!(valid_request_id(&HeaderValue::from_static("")), None);
        let long = "x".repeat(129);
        assert_eq!(
            valid_request_id(&HeaderValue::from_str(&long).unwrap()),
            None
        );
        let a = new_request_id();
        let b = new_request_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
    }

    #[test]
    fn every_documented_route_has_its_own_metrics_label() {
        let doc: serde_json::Value = serde_json::from_slice(&openapi::document()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        for path in paths.keys() {
            let label = ROUTES.iter().find(|r| *r == path);
            assert!(label.is_some(), "{path} is not in ROUTES");
        }
        // And every route a cached read comes from is one of them.
        for class in crate::cache::Class::ALL {
            assert!(ROUTES.contains(&class.route()), "{class:?}");
        }
    }

    #[tokio::test]
    async fn the_doors_healthz_is_the_handlers() {
        let resp = admin::healthz().await;
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(body.as_ref(), HEALTHZ);
    }
}
