//! Extractors of the org routes: the `{org}` path parameter resolved to its backend and
//! canonical native id (`404`/`400` before any backend call), and the capability check
//! (`501`) each handler makes on it before it reads its query or body. A handler takes the
//! extractor before its query and body, and calls [`OrgParam::serving`] first, so every route
//! refuses bad input in the order of docs/API.md: org reference, capability, parameters,
//! body.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path, RawPathParams};
use http::request::Parts;
use orgway_core::OpKind;

use crate::auth::{Caller, org_not_granted};
use crate::error::{ApiError, ErrorCode};
use crate::http::App;
use crate::http::params::short;
use crate::routing::{BackendEntry, OrgTarget};

/// A path's parameters; one that does not even decode (invalid UTF-8) is `400 bad_request`.
pub(crate) fn path<T>(p: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    p.map(|Path(v)| v)
        .map_err(|e| ApiError::bad_request(format!("the path is malformed: {}", e.body_text())))
}

/// `501` unless the backend serves the operation.
pub(crate) fn require(entry: &BackendEntry, op: OpKind) -> Result<(), ApiError> {
    let caps = entry.adapter.capabilities();
    if caps.supports(op) {
        return Ok(());
    }
    Err(ApiError::unsupported(
        format!(
            "backend `{}` ({}) has no {} operation",
            entry.name,
            entry.kind.name(),
            op.as_str()
        ),
        caps.operations
            .iter()
            .map(|o| o.as_str().to_owned())
            .collect(),
    )
    .with_backend(&entry.name))
}

/// The org of a route whose only path parameter is `{org}`, resolved through the routing
/// table. A reference that does not even decode (invalid UTF-8) is `400 invalid_org_ref`.
#[derive(Debug, Clone)]
pub struct OrgParam(pub OrgTarget);

impl OrgParam {
    /// The org, once its backend is known to serve `op` (`501` otherwise).
    pub fn serving(self, op: OpKind) -> Result<OrgTarget, ApiError> {
        require(&self.0.backend, op)?;
        Ok(self.0)
    }
}

impl FromRequestParts<Arc<App>> for OrgParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        let Path(reference) = Path::<String>::from_request_parts(parts, app)
            .await
            .map_err(|e| {
                ApiError::invalid_org_ref(format!(
                    "the org reference is malformed: {}",
                    e.body_text()
                ))
            })?;
        resolve_granted(app, parts, &reference).map(OrgParam)
    }
}

/// The caller of a request (authenticated before routing).
fn caller(parts: &Parts) -> Result<&Arc<Caller>, ApiError> {
    parts
        .extensions
        .get::<Arc<Caller>>()
        .ok_or_else(ApiError::internal)
}

/// An org reference resolved, if the caller is granted it: `403` otherwise, whether or not it
/// exists (a caller learns nothing of orgs it was not granted).
fn resolve_granted(app: &App, parts: &Parts, reference: &str) -> Result<OrgTarget, ApiError> {
    let caller = caller(parts)?;
    match app.routing.resolve(reference) {
        Ok(t) if caller.may_see(&t.backend.name, Some(&t.native_id)) => Ok(t),
        Err(e) if caller.may_ask_about(reference) => Err(e),
        _ => Err(org_not_granted()),
    }
}

/// A backend named in a path, if the caller is granted all of it (`backend:*` or `*`): `403`
/// otherwise, whether or not it exists.
pub(crate) fn backend_granted(
    app: &App,
    parts: &Parts,
    name: &str,
) -> Result<Arc<BackendEntry>, ApiError> {
    if !caller(parts)?.may_see(name, None) {
        return Err(org_not_granted());
    }
    app.routing.backend(name)
}

/// The backend of `/v1/backends/{backend}/…` and `/v1/cache/backends/{backend}`, granted.
#[derive(Debug, Clone)]
pub struct BackendParam(pub Arc<BackendEntry>);

impl FromRequestParts<Arc<App>> for BackendParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        let name = path(Path::<String>::from_request_parts(parts, app).await)?;
        backend_granted(app, parts, &name).map(BackendParam)
    }
}

/// The org of a route with a second path parameter (`{org}/plans/{plan}`, …): the org
/// resolved, the second parameter as given. A path that does not even decode is
/// `400 bad_request`.
#[derive(Debug, Clone)]
pub struct OrgAndParam(pub OrgTarget, pub String);

impl OrgAndParam {
    /// The org and the second parameter, once the org's backend is known to serve `op`
    /// (`501` otherwise).
    pub fn serving(self, op: OpKind) -> Result<(OrgTarget, String), ApiError> {
        require(&self.0.backend, op)?;
        Ok((self.0, self.1))
    }
}

impl FromRequestParts<Arc<App>> for OrgAndParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        let (org, second) = path(Path::<(String, String)>::from_request_parts(parts, app).await)?;
        let target = resolve_granted(app, parts, &org)?;
        Ok(OrgAndParam(target, second))
    }
}

/// The org and the customer of `{org}/customers/{customer}/…`, with the caller, whose grants
/// decide what a customer reference may tell (see [`customer_of`]).
#[derive(Debug, Clone)]
pub struct OrgAndCustomer {
    org: OrgAndParam,
    caller: Arc<Caller>,
}

impl OrgAndCustomer {
    /// The org and the customer's native id, once the org's backend is known to serve `op`
    /// (`501` otherwise), in that order.
    pub fn serving(self, app: &App, op: OpKind) -> Result<(OrgTarget, String), ApiError> {
        let (org, customer) = self.org.serving(op)?;
        let customer = customer_of(app, &self.caller, &org, &customer)?;
        Ok((org, customer))
    }
}

impl FromRequestParts<Arc<App>> for OrgAndCustomer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        let org = OrgAndParam::from_request_parts(parts, app).await?;
        let caller = caller(parts)?.clone();
        Ok(OrgAndCustomer { org, caller })
    }
}

/// Resolves a customer reference: an org of the same backend as the vendor org (whose own
/// backend says whether it is the vendor's customer). What a reference the caller could not
/// name resolves to is not told (`403`, as for an org), so it cannot probe aliases and backends
/// through it.
fn customer_of(
    app: &App,
    caller: &Caller,
    vendor: &OrgTarget,
    reference: &str,
) -> Result<String, ApiError> {
    let c = match app.routing.resolve(reference) {
        Ok(c) => c,
        Err(e) if caller.may_ask_about(reference) => return Err(e),
        Err(_) => return Err(org_not_granted()),
    };
    if c.backend.name != vendor.backend.name {
        if !caller.may_see(&c.backend.name, Some(&c.native_id)) {
            return Err(org_not_granted());
        }
        return Err(ApiError::invalid_org_ref(format!(
            "customer `{}` is on backend `{}`, not on `{}` with its vendor",
            short(reference),
            c.backend.name,
            vendor.backend.name
        )));
    }
    Ok(c.native_id)
}

/// `403` when the caller is not granted an org, customer or backend the request's path names;
/// any other fault of the path is left to the handler. A write's recorded answer is replayed
/// only after this: a caller's grants can change within the record's 24 hours, and a token that
/// no longer grants an org must not read what a write to it answered.
pub(crate) async fn path_granted(app: &Arc<App>, parts: &mut Parts) -> Result<(), ApiError> {
    let Ok(params) = RawPathParams::from_request_parts(parts, app).await else {
        return Ok(());
    };
    let forbidden = |r: Result<(), ApiError>| match r {
        Err(e) if e.code == ErrorCode::Forbidden => Err(e),
        _ => Ok(()),
    };
    let param = |name: &str| params.iter().find(|(n, _)| *n == name).map(|(_, v)| v);
    if let Some(name) = param("backend") {
        forbidden(backend_granted(app, parts, name).map(drop))?;
    }
    let Some(org) = param("org") else {
        return Ok(());
    };
    let org = match resolve_granted(app, parts, org) {
        Ok(org) => org,
        Err(e) => return forbidden(Err(e)),
    };
    match param("customer") {
        Some(customer) => forbidden(customer_of(app, caller(parts)?, &org, customer).map(drop)),
        None => Ok(()),
    }
}
