//! The Losant Instance Org API, simulated: a real HTTP server on loopback that answers the seven
//! Instance Org actions and the two Instance Orgs actions the way the vendor documents them
//! (the Instance Org reference pages, the wire facts of the vendor's SDKs, and the JSON Schemas
//! Losant publishes in its `losant-rest` packages).
//!
//! # Routes (relative to [`LosantSim::base_url`], the API root)
//! | method | path | answer |
//! | --- | --- | --- |
//! | GET | `/instances/{instanceId}/orgs` | 200 `instanceOrgs` |
//! | POST | `/instances/{instanceId}/orgs` | 201 `instanceOrg` |
//! | GET, PATCH | `/instances/{instanceId}/orgs/{orgId}` | 200 `instanceOrg` |
//! | DELETE | `/instances/{instanceId}/orgs/{orgId}` | 200 `{"success":true}` |
//! | GET | `…/orgs/{orgId}/deviceCounts` | 200 `deviceCounts` |
//! | GET | `…/orgs/{orgId}/notebookMinuteCounts` | 200 `notebookMinuteCounts` |
//! | GET | `…/orgs/{orgId}/payloadCounts` | 200 `payloadStats` |
//! | GET | `…/orgs/{orgId}/payloadCountsBreakdown` | 200 `payloadCountsBreakdown` |
//!
//! # Order of checks, and what each failure gets
//! 1. A route or method the API does not have: 404 `NotFound`, whatever the token.
//! 2. `Authorization: Bearer <token>` with a configured token, else 401 `Unauthorized`. The
//!    simulator knows no scopes: a known token may do everything.
//! 3. The request itself (the vendor validates a whole request before acting on it): path ids
//!    must match `^[A-Fa-f\d]{24}$`, query parameters and bodies must be what the docs and
//!    schemas accept, else 400 `Validation` naming the field. So a malformed id is a 400 (the
//!    docs' "Error if malformed request"), never a 404.
//! 4. The instance must be the configured one and the org must exist, else 404 `NotFound`
//!    (`Instance was not found`, `Organization was not found`).
//!
//! Headers the SDKs send are accepted and otherwise ignored: `Accept-Version`, and the
//! `losantdomain` header (it stays in the request log). The SDK's `_actions`, `_links` and
//! `_embedded` query parameters are accepted too; no HAL links are added, since the vendor's
//! `instanceOrg` schema forbids keys it does not list.
//!
//! Module map: `params` query parameters, `validate` request bodies, `store` the orgs and the
//! demo data, `advanced` the list's `query` parameter, `series` the usage numbers, `clock` time
//! on the wire, `error` the error body.

mod advanced;
mod clock;
mod error;
mod params;
mod series;
mod store;
mod validate;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use http::{HeaderMap, StatusCode, Uri, header};
use serde_json::{Value, json};

use crate::SimServer;
use crate::server::FaultStyle;
use error::{ApiError, json_response};
use params::{ListParams, Query, SummaryInclude};
use store::Store;
use validate::BodyKind;

/// The instance id of the docs' examples; the default instance of the simulator.
pub const DEMO_INSTANCE_ID: &str = "575ec8687ae143cd83dc4a97";
/// The token the default configuration accepts.
pub const DEMO_TOKEN: &str = "losant-demo-token";
/// The docs' example org id, one of the seeded orgs.
pub const DEMO_ORG_ID: &str = "575ed6e87ae143cd83dc4aa8";

/// How the vendor's errors and broken bodies look, for the fault knobs.
const FAULT_STYLE: FaultStyle = FaultStyle {
    error_body: error::fault_error_body,
    malformed: error::fault_malformed_body,
};

/// What a simulated Losant instance holds and accepts.
#[derive(Clone, PartialEq, Eq)]
pub struct LosantConfig {
    /// The one instance the simulator serves (24 hex digits); other instance ids get 404.
    pub instance_id: String,
    /// Bearer tokens the simulator accepts.
    pub tokens: Vec<String>,
    /// Start with the demo orgs (six orgs, one of them [`DEMO_ORG_ID`]) instead of none.
    pub seed_demo_data: bool,
}

impl Default for LosantConfig {
    fn default() -> Self {
        LosantConfig {
            instance_id: DEMO_INSTANCE_ID.to_owned(),
            tokens: vec![DEMO_TOKEN.to_owned()],
            seed_demo_data: true,
        }
    }
}

// Written by hand so that tokens never reach a log line through `{:?}`.
impl fmt::Debug for LosantConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LosantConfig")
            .field("instance_id", &self.instance_id)
            .field("tokens", &format_args!("[{} redacted]", self.tokens.len()))
            .field("seed_demo_data", &self.seed_demo_data)
            .finish()
    }
}

/// State shared by the handlers.
struct Ctx {
    instance_id: String,
    tokens: Vec<String>,
    store: Mutex<Store>,
}

impl fmt::Debug for Ctx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ctx")
            .field("instance_id", &self.instance_id)
            .field("tokens", &format_args!("[{} redacted]", self.tokens.len()))
            .finish_non_exhaustive()
    }
}

/// A running Losant simulator.
#[derive(Debug)]
pub struct LosantSim {
    server: SimServer,
    ctx: Arc<Ctx>,
}

impl LosantSim {
    /// Starts the simulator on `127.0.0.1:0`.
    pub async fn start(config: LosantConfig) -> std::io::Result<LosantSim> {
        if !is_object_id(&config.instance_id) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "losant simulator: instance_id must be 24 hex digits",
            ));
        }
        let store = Store::new(
            &config.instance_id.to_ascii_lowercase(),
            config.seed_demo_data,
        );
        let ctx = Arc::new(Ctx {
            instance_id: store.instance_id().to_owned(),
            tokens: config.tokens,
            store: Mutex::new(store),
        });
        let server = SimServer::start("losant", router(ctx.clone()), FAULT_STYLE).await?;
        tracing::info!(
            sim = "losant",
            addr = %server.addr(),
            instance_id = %ctx.instance_id,
            orgs = ctx.lock().ids().len(),
            "simulator started"
        );
        Ok(LosantSim { server, ctx })
    }

    /// The underlying server: address, request log, fault knobs.
    pub fn server(&self) -> &SimServer {
        &self.server
    }

    /// `http://127.0.0.1:PORT`, the API root (what the SDKs call `url`).
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The simulated instance's id (lowercase).
    pub fn instance_id(&self) -> &str {
        &self.ctx.instance_id
    }

    /// The ids of the orgs held now, in creation order.
    pub fn org_ids(&self) -> Vec<String> {
        self.ctx.lock().ids()
    }

    /// One org as a GET without `summaryInclude` returns it.
    pub fn org(&self, id: &str) -> Option<Value> {
        let store = self.ctx.lock();
        store.find(id).map(|o| {
            o.render(
                &self.ctx.instance_id,
                SummaryInclude::default(),
                clock::now_ms(),
            )
        })
    }

    /// Stops the server, letting in-flight requests finish.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// Whether `s` is a vendor id: `^[A-Fa-f\d]{24}$`.
pub(crate) fn is_object_id(s: &str) -> bool {
    s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Ctx {
    fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Checks the bearer token. Neither the token nor the header is ever logged or echoed.
    fn authorize(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::unauthorized("Authorization header is required"));
        };
        let token = value.to_str().ok().and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        });
        match token {
            Some(t) if !t.is_empty() && self.tokens.iter().any(|k| k == t) => Ok(()),
            Some(_) => Err(ApiError::unauthorized("Invalid access token")),
            None => Err(ApiError::unauthorized(
                "Authorization header must be a Bearer token",
            )),
        }
    }
}

/// The actions the simulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    ListOrgs,
    CreateOrg,
    GetOrg,
    PatchOrg,
    DeleteOrg,
    DeviceCounts,
    NotebookMinuteCounts,
    PayloadCounts,
    PayloadCountsBreakdown,
}

impl Action {
    /// The SDK's name for the action, for logs.
    fn name(self) -> &'static str {
        match self {
            Action::ListOrgs => "instanceOrgs.get",
            Action::CreateOrg => "instanceOrgs.post",
            Action::GetOrg => "instanceOrg.get",
            Action::PatchOrg => "instanceOrg.patch",
            Action::DeleteOrg => "instanceOrg.delete",
            Action::DeviceCounts => "instanceOrg.deviceCounts",
            Action::NotebookMinuteCounts => "instanceOrg.notebookMinuteCounts",
            Action::PayloadCounts => "instanceOrg.payloadCounts",
            Action::PayloadCountsBreakdown => "instanceOrg.payloadCountsBreakdown",
        }
    }

    fn has_org(self) -> bool {
        !matches!(self, Action::ListOrgs | Action::CreateOrg)
    }
}

fn router(ctx: Arc<Ctx>) -> Router {
    Router::new()
        .route(
            "/instances/{instance_id}/orgs",
            get(list_orgs).post(create_org),
        )
        .route(
            "/instances/{instance_id}/orgs/{org_id}",
            get(get_org).patch(patch_org).delete(delete_org),
        )
        .route(
            "/instances/{instance_id}/orgs/{org_id}/deviceCounts",
            get(device_counts),
        )
        .route(
            "/instances/{instance_id}/orgs/{org_id}/notebookMinuteCounts",
            get(notebook_minute_counts),
        )
        .route(
            "/instances/{instance_id}/orgs/{org_id}/payloadCounts",
            get(payload_counts),
        )
        .route(
            "/instances/{instance_id}/orgs/{org_id}/payloadCountsBreakdown",
            get(payload_counts_breakdown),
        )
        .fallback(unknown_route)
        .method_not_allowed_fallback(unknown_route)
        .with_state(ctx)
}

type PathParams = Result<Path<HashMap<String, String>>, PathRejection>;

// One thin handler per action, so the routes above read like the table in the module docs.
macro_rules! action_handler {
    ($name:ident, $action:expr) => {
        async fn $name(
            State(ctx): State<Arc<Ctx>>,
            path: PathParams,
            uri: Uri,
            headers: HeaderMap,
            body: Bytes,
        ) -> Response {
            handle(&ctx, $action, path, &uri, &headers, &body)
        }
    };
}

action_handler!(list_orgs, Action::ListOrgs);
action_handler!(create_org, Action::CreateOrg);
action_handler!(get_org, Action::GetOrg);
action_handler!(patch_org, Action::PatchOrg);
action_handler!(delete_org, Action::DeleteOrg);
action_handler!(device_counts, Action::DeviceCounts);
action_handler!(notebook_minute_counts, Action::NotebookMinuteCounts);
action_handler!(payload_counts, Action::PayloadCounts);
action_handler!(payload_counts_breakdown, Action::PayloadCountsBreakdown);

async fn unknown_route(method: http::Method, uri: Uri) -> Response {
    tracing::debug!(sim = "losant", %method, path = uri.path(), "unknown route");
    ApiError::not_found(format!("Route {} {} was not found", method, uri.path())).into_response()
}

fn handle(
    ctx: &Ctx,
    action: Action,
    path: PathParams,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let result = ctx
        .authorize(headers)
        .and_then(|()| run(ctx, action, path, uri.query(), body));
    let response = match result {
        Ok((status, value)) => json_response(status, &value),
        Err(e) => {
            tracing::debug!(sim = "losant", action = action.name(), kind = e.kind, message = %e.message, "request refused");
            e.into_response()
        }
    };
    let domain = headers
        .get("losantdomain")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::debug!(
        sim = "losant",
        action = action.name(),
        status = response.status().as_u16(),
        losantdomain = domain,
        "request served"
    );
    response
}

/// The ids in the path, checked against the vendor's id pattern.
struct Ids {
    instance: String,
    org: String,
}

fn ids(path: PathParams, action: Action) -> Result<Ids, ApiError> {
    let Path(map) = path.map_err(|_| ApiError::validation("the request path is malformed"))?;
    let get = |key: &str, name: &str| -> Result<String, ApiError> {
        match map.get(key) {
            Some(v) if is_object_id(v) => Ok(v.clone()),
            _ => Err(ApiError::validation(format!(
                "{name} must be a 24 character hex id"
            ))),
        }
    };
    let instance = get("instance_id", "instanceId")?;
    let org = if action.has_org() {
        get("org_id", "orgId")?
    } else {
        String::new()
    };
    Ok(Ids { instance, org })
}

fn check_instance(store: &Store, id: &str) -> Result<(), ApiError> {
    if store.instance_id().eq_ignore_ascii_case(id) {
        Ok(())
    } else {
        Err(ApiError::not_found("Instance was not found"))
    }
}

fn org_not_found() -> ApiError {
    ApiError::not_found("Organization was not found")
}

/// Serves one authorised request: validate everything, then look things up, then act.
fn run(
    ctx: &Ctx,
    action: Action,
    path: PathParams,
    query: Option<&str>,
    body: &[u8],
) -> Result<(StatusCode, Value), ApiError> {
    let ids = ids(path, action)?;
    let q = Query::parse(query);
    let now = clock::now_ms();
    match action {
        Action::ListOrgs => {
            let p = ListParams::from_query(&q)?;
            let advanced = p.advanced.as_deref().map(advanced::parse).transpose()?;
            let store = ctx.lock();
            check_instance(&store, &ids.instance)?;
            Ok((StatusCode::OK, store.list(&p, advanced.as_ref(), now)))
        }
        Action::CreateOrg => {
            let include = SummaryInclude::from_query(&q)?;
            let body = validate::parse_object(body)?;
            validate::org_body(&body, BodyKind::Post)?;
            let mut store = ctx.lock();
            check_instance(&store, &ids.instance)?;
            let org = store.create(&body, now);
            tracing::info!(sim = "losant", org_id = %org.id, "org created");
            Ok((
                StatusCode::CREATED,
                org.render(&ctx.instance_id, include, now),
            ))
        }
        Action::GetOrg => {
            let include = SummaryInclude::from_query(&q)?;
            let store = ctx.lock();
            check_instance(&store, &ids.instance)?;
            let org = store.find(&ids.org).ok_or_else(org_not_found)?;
            Ok((StatusCode::OK, org.render(&ctx.instance_id, include, now)))
        }
        Action::PatchOrg => {
            let include = SummaryInclude::from_query(&q)?;
            let body = validate::parse_object(body)?;
            validate::org_body(&body, BodyKind::Patch)?;
            let mut store = ctx.lock();
            check_instance(&store, &ids.instance)?;
            let org = store
                .patch(&ids.org, &body, now)
                .ok_or_else(org_not_found)?;
            tracing::info!(sim = "losant", org_id = %org.id, "org patched");
            Ok((StatusCode::OK, org.render(&ctx.instance_id, include, now)))
        }
        Action::DeleteOrg => {
            let mut store = ctx.lock();
            check_instance(&store, &ids.instance)?;
            if !store.delete(&ids.org) {
                return Err(org_not_found());
            }
            tracing::info!(sim = "losant", org_id = %ids.org, "org deleted");
            Ok((StatusCode::OK, json!({ "success": true })))
        }
        Action::DeviceCounts
        | Action::NotebookMinuteCounts
        | Action::PayloadCounts
        | Action::PayloadCountsBreakdown => {
            // Each action checks only the parameters it has; others are ignored.
            let range = params::range(&q, now)?;
            let breakdown = match action {
                Action::PayloadCountsBreakdown => Some(params::breakdown(&q)?),
                _ => None,
            };
            let as_bytes = match action {
                Action::PayloadCounts => params::boolean(&q, "asBytes")?,
                _ => false,
            };
            let profile = {
                let store = ctx.lock();
                check_instance(&store, &ids.instance)?;
                store.find(&ids.org).ok_or_else(org_not_found)?.profile()
            };
            let value = match (action, breakdown) {
                (Action::DeviceCounts, _) => profile.device_counts(range)?,
                (Action::NotebookMinuteCounts, _) => profile.notebook_minute_counts(range)?,
                (_, Some(options)) => profile.payload_breakdown(range, options)?,
                _ => profile.payload_stats(range, as_bytes)?,
            };
            Ok((StatusCode::OK, value))
        }
    }
}

impl crate::RunningSim for LosantSim {
    fn server(&self) -> &SimServer {
        &self.server
    }

    fn base_url(&self) -> String {
        LosantSim::base_url(self)
    }

    fn demo_credentials(&self) -> Vec<(&'static str, String)> {
        vec![("TOKEN", DEMO_TOKEN.to_owned())]
    }

    fn stop(self: Box<Self>) -> crate::demo::BoxFuture<'static, ()> {
        Box::pin(self.shutdown())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl crate::DemoSim for LosantSim {
    fn start_demo() -> crate::demo::BoxFuture<'static, std::io::Result<Self>> {
        Box::pin(LosantSim::start(LosantConfig::default()))
    }
}
