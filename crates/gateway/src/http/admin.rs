//! The gateway's own routes, beside the org API: `GET /v1/backends` (each backend with its
//! capabilities, limits and health), and the operational endpoints `/healthz`, `/readyz`,
//! `/metrics` and `/openapi.json`. None of them calls a backend.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use orgway_core::{Capabilities, OpKind, SortField};
use serde::Serialize;

use crate::error::ApiError;
use crate::http::App;
use crate::http::params::{NO_PARAMS, Params};
use crate::http::render;
use crate::policy::HealthReport;

type Shared = State<Arc<App>>;

/// One backend in `GET /v1/backends`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackendInfo {
    pub name: String,
    pub kind: &'static str,
    pub capabilities: CapabilitiesInfo,
    pub timeout_ms: u64,
    pub max_concurrency: usize,
    pub health: HealthReport,
    /// The circuit breaker's state, and what the breaker, retries and shedding did.
    pub circuit: Option<crate::resilience::ResilienceReport>,
    /// Its read cache: times to live per class and counters.
    pub cache: crate::cache::CacheReport,
}

/// A backend's capabilities.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CapabilitiesInfo {
    pub operations: Vec<&'static str>,
    pub usage_metrics: Vec<MetricInfo>,
    pub patchable_fields: Vec<&'static str>,
    pub settable_statuses: Vec<&'static str>,
    /// How each list the backend has can be sorted.
    pub lists: std::collections::BTreeMap<&'static str, ListInfo>,
    /// Member names removed from the backend's raw records (`include=raw`) wherever they
    /// appear (docs/API.md §8).
    pub raw_redactions: Vec<&'static str>,
}

/// How a list can be sorted.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListInfo {
    /// Every field `sort` accepts for this list.
    pub sorts: Vec<&'static str>,
    /// Those the backend sorts by itself; the others are sorted by the gateway, over the whole list.
    pub native_sorts: Vec<&'static str>,
}

/// A usage metric a backend offers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricInfo {
    pub metric: &'static str,
    pub unit: &'static str,
    pub intervals: Vec<&'static str>,
    pub bytes: bool,
    pub non_billable: bool,
}

/// The answer of `GET /v1/backends`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BackendsBody {
    pub items: Vec<BackendInfo>,
}

fn capabilities_info(c: &Capabilities) -> CapabilitiesInfo {
    let names = |s: &[SortField]| s.iter().map(|f| f.as_str()).collect::<Vec<_>>();
    let mut lists = std::collections::BTreeMap::new();
    for (list, op) in [
        ("orgs", OpKind::ListOrgs),
        ("plans", OpKind::ListPlans),
        ("customers", OpKind::ListCustomers),
        ("subscriptions", OpKind::ListSubscriptions),
    ] {
        if c.supports(op) {
            let support = c.list(op);
            lists.insert(
                list,
                ListInfo {
                    sorts: names(&support.sortable()),
                    native_sorts: names(support.native_sorts),
                },
            );
        }
    }
    CapabilitiesInfo {
        operations: c.operations.iter().map(|o| o.as_str()).collect(),
        usage_metrics: c
            .metrics
            .iter()
            .map(|m| MetricInfo {
                metric: m.metric.as_str(),
                unit: m.unit.as_str(),
                intervals: m.intervals.iter().map(|i| i.as_str()).collect(),
                bytes: m.bytes,
                non_billable: m.non_billable,
            })
            .collect(),
        patchable_fields: c.patchable.iter().map(|f| f.as_str()).collect(),
        settable_statuses: c.settable_statuses.iter().map(|s| s.as_str()).collect(),
        lists,
        raw_redactions: c.raw_redactions.to_vec(),
    }
}

/// `GET /v1/backends`
#[utoipa::path(get, path = "/v1/backends", tag = "admin",
    responses((status = 200, description = "every backend", body = BackendsBody),
              crate::http::openapi::AdminErrors))]
pub async fn list_backends(
    State(app): Shared,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    Params::parse(q.as_deref(), &NO_PARAMS)?;
    let items = app
        .routing
        .backends()
        .iter()
        .map(|b| BackendInfo {
            name: b.name.clone(),
            kind: b.kind.name(),
            capabilities: capabilities_info(b.adapter.capabilities()),
            timeout_ms: b.timeout.as_millis() as u64,
            max_concurrency: b.max_concurrency,
            health: b.health.report(),
            circuit: Some(b.resilience.report()),
            cache: app.cache.report(&b.name),
        })
        .collect();
    Ok(render::json(StatusCode::OK, &BackendsBody { items }))
}

/// `DELETE /v1/cache/backends/{backend}`: drops every cached read of a backend.
#[utoipa::path(delete, path = "/v1/cache/backends/{backend}", tag = "admin",
    params(crate::http::openapi::BackendPath),
    responses((status = 204, description = "purged"), crate::http::openapi::PurgeErrors))]
pub async fn purge_backend(
    State(app): Shared,
    crate::http::extract::BackendParam(entry): crate::http::extract::BackendParam,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    Params::parse(q.as_deref(), &NO_PARAMS)?;
    app.cache.purge_backend(&entry.name);
    tracing::info!(backend = %entry.name, "cache purged for the backend");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /v1/cache/orgs/{org}`: drops every cached read of an org, and its backend's lists
/// of orgs.
#[utoipa::path(delete, path = "/v1/cache/orgs/{org}", tag = "admin",
    params(crate::http::openapi::OrgPath),
    responses((status = 204, description = "purged"), crate::http::openapi::PurgeErrors))]
pub async fn purge_org(
    State(app): Shared,
    org: crate::http::extract::OrgParam,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let t = org.0;
    Params::parse(q.as_deref(), &NO_PARAMS)?;
    app.cache.purge_org(&t.backend.name, &t.native_id);
    tracing::info!(backend = %t.backend.name, org = %t.native_id, "cache purged for the org");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /healthz`: the process is up.
pub async fn healthz() -> Response {
    render::json(StatusCode::OK, &serde_json::json!({"status": "ok"}))
}

/// `GET /readyz`: the gateway accepts traffic (not while it drains for shutdown).
pub async fn readyz(State(app): Shared) -> Result<Response, ApiError> {
    if app.ready.load(std::sync::atomic::Ordering::Relaxed) {
        Ok(render::json(
            StatusCode::OK,
            &serde_json::json!({"status": "ready"}),
        ))
    } else {
        Err(ApiError::unavailable("the gateway is shutting down"))
    }
}

/// `GET /metrics`: Prometheus text.
pub async fn metrics(State(app): Shared) -> Response {
    let held = app.cache.weighted_size().await;
    app.metrics
        .cache_bytes
        .set(i64::try_from(held).unwrap_or(i64::MAX));
    for b in app.routing.backends() {
        let r = b.resilience.report();
        let state = match r.circuit {
            "open" => 1,
            "half-open" => 2,
            _ => 0,
        };
        for (figure, value) in [
            ("circuit_state", state),
            ("circuit_opened", r.circuit_opened),
            ("retries", r.retries),
            ("shed", r.shed),
        ] {
            app.metrics
                .backend_resilience
                .get_or_create(&crate::telemetry::ResilienceLabels {
                    backend: b.name.clone(),
                    figure,
                })
                .set(i64::try_from(value).unwrap_or(i64::MAX));
        }
    }
    let mut resp = app.metrics.encode().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}

/// `GET /openapi.json`: the API as OpenAPI 3.1, generated from this code.
pub async fn openapi(State(app): Shared) -> Response {
    let mut resp = app.openapi.clone().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}
