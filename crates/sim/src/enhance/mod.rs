//! The Enhance control-panel API ("orchd"), simulated: a real HTTP server on loopback that
//! answers the customer, subscription, plan and org operations of the vendor's OpenAPI document
//! (`orchd` 12.3.0, as published in the community PHP SDK) the way that document and the
//! generated client's `CustomersApi` page (the seed) describe them: the same paths, query
//! parameters, bodies, statuses and response shapes.
//!
//! # Routes (relative to [`EnhanceSim::base_url`], the API root)
//! | method | path | operationId | answer |
//! | --- | --- | --- | --- |
//! | POST | `/login/sessions[?realmId=]` | createSession | 200 `LoginMemberships` + `Set-Cookie: id0=…`; 201 `{"authMethod"}` for a login with a second factor |
//! | GET | `/orgs/{org_id}` | getOrg | 200 `Org` |
//! | PATCH | `/orgs/{org_id}` | updateOrg (`OrgUpdate`) | 204 |
//! | DELETE | `/orgs/{org_id}[?force=]` | deleteOrg | 204 |
//! | GET | `/orgs/{org_id}/customers` | getOrgCustomers | 200 `CustomersListing` |
//! | POST | `/orgs/{org_id}/customers` | createCustomer (`NewCustomer`) | 201 `NewResourceUuid` |
//! | GET | `/orgs/{org_id}/customers/{customer_org_id}/subscriptions` | getCustomerSubscriptions | 200 `SubscriptionsListing` |
//! | POST | `/orgs/{org_id}/customers/{customer_org_id}/subscriptions` | createCustomerSubscription (`NewSubscription`) | 201 `NewResourceId` |
//! | GET | `/orgs/{org_id}/subscriptions` | getSubscriptionsToParent | 200 `SubscriptionsListing` |
//! | GET | `/orgs/{org_id}/subscriptions/{subscription_id}` | getSubscription | 200 `Subscription` |
//! | GET | `/orgs/{org_id}/plans` | getPlans (no authentication) | 200 `PlansListing` |
//! | GET | `/orgs/{org_id}/stats/customers/added?timeInterval=` | getCustomersAdded | 200 `[{interval, resourceCount}]` |
//!
//! # Order of checks, and what each failure gets
//! 1. A path the API does not have: 404; a known path with another method: 405.
//! 2. Credentials (every route but the login and the plans on offer): `Authorization: Bearer
//!    <API token>` or `Cookie: id0=<session>` from a login, else 401. A token or a login
//!    belongs to one org; it reaches that org and every org below it.
//! 3. The request: path ids (org ids are UUIDs, subscription ids integers), query parameters
//!    and bodies as the document types them, else 400.
//! 4. The org must exist (404) and be within the caller's reach (403).
//! 5. Conflicts, 409: a second customer of the same parent with the same name (compared without
//!    regard to case), a second active subscription of a customer to the same plan, and a sale
//!    the reseller's own subscription has no quota left for (see `store.rs`).
//!
//! # What the documents leave open, decided here
//! - Error bodies (the document declares none for 4xx) are `HttpError {code, message}`.
//! - `Org.createdAt` (typed only `string`) and the stats' `interval` are RFC 3339 instants in UTC;
//!   `getCustomersAdded` has no range parameter and answers one entry per bucket (zeros
//!   included) from the bucket of the org's creation to the current one, at most the last
//!   2160 hours, 1000 days or 240 months, counting direct customers whatever their status.
//! - Lists without `limit` answer every item; the natural order is creation order. `sortBy=name`
//!   compares names without regard to case first.
//! - Without a `status` filter the customer list leaves deleted customers out; `suspended`
//!   means a non-null `suspendedBy` (the `Org.status` enum has only `active` and `deleted`).
//! - A soft delete marks the org, the orgs below it and their subscriptions deleted (each
//!   subscription's sold amount goes back to its reseller's subscription); deleting the
//!   caller's own org is 403, and `force=true` (removal) is for members of the MO only.
//! - A session lasts [`EnhanceConfig::session_lifetime`] (the document states none); its cookie
//!   carries a `Max-Age`.
//! - Unknown keys in a body are refused (400); unknown query parameters are ignored.
//!
//! Module map: `store` the orgs, plans, subscriptions, demo data and the reseller rule,
//! `error` the error body and fault style.

mod error;
mod store;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use serde_json::{Map, Value, json};

use crate::SimServer;
use crate::server::FaultStyle;
use error::{ApiError, json_response};
use store::{CustomerQuery, OrgUpdate, Store, is_uuid};

/// The master organization (MO) of the demo data.
pub const DEMO_MO_ID: &str = store::demo::MO;
/// "Acme Hosting", a reseller below the MO: the org the demo credentials belong to.
pub const DEMO_RESELLER_ID: &str = store::demo::RESELLER;
/// "Blue Bakery", a customer of the reseller, subscribed to its Starter plan.
pub const DEMO_CUSTOMER_ID: &str = store::demo::BAKERY;
/// "Dev Agency", a customer of the reseller that has a customer of its own ("Tiny Shop").
pub const DEMO_SUB_RESELLER_ID: &str = store::demo::AGENCY;
/// "Tiny Shop", the customer of "Dev Agency" (depth 2 below the reseller).
pub const DEMO_NESTED_CUSTOMER_ID: &str = store::demo::TINY_SHOP;
/// "Corner Cafe", a customer the reseller suspended.
pub const DEMO_SUSPENDED_ID: &str = store::demo::CAFE;
/// "Old Client", a deleted customer of the reseller.
pub const DEMO_DELETED_ID: &str = store::demo::OLD_CLIENT;
/// The MO's "Reseller Pro" plan the reseller subscribes to (websites 20, diskspace 100 GiB,
/// mailboxes unlimited).
pub const DEMO_RESELLER_PLAN_ID: u64 = store::demo::RESELLER_PLAN;
/// The reseller's "Starter" plan (websites 1, diskspace 5 GiB, mailboxes 10).
pub const DEMO_STARTER_PLAN_ID: u64 = store::demo::STARTER_PLAN;
/// The reseller's "Business" plan (websites 5, diskspace 20 GiB, mailboxes unlimited).
pub const DEMO_BUSINESS_PLAN_ID: u64 = store::demo::BUSINESS_PLAN;
/// The login of the reseller's owner.
pub const DEMO_EMAIL: &str = "owner@acme-hosting.example";
/// Its password.
pub const DEMO_PASSWORD: &str = "enhance-demo-password";
/// An API token of the reseller.
pub const DEMO_TOKEN: &str = "enhance-demo-token";
/// An API token of the MO.
pub const DEMO_MO_TOKEN: &str = "enhance-mo-token";

/// How the vendor's errors and broken bodies look, for the fault knobs.
const FAULT_STYLE: FaultStyle = FaultStyle {
    error_body: error::fault_error_body,
    malformed: error::fault_malformed_body,
};

/// A login the simulator accepts at `POST /login/sessions`.
#[derive(Clone, PartialEq, Eq)]
pub struct Login {
    pub email: String,
    pub password: String,
    /// The org it is a member of (as `Owner`).
    pub org_id: String,
    /// Whether a second factor is needed: its login answers 201 `{"authMethod":"otp"}`.
    pub two_factor: bool,
}

// Written by hand so that the password never reaches a log line through `{:?}`.
impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("email", &self.email)
            .field("org_id", &self.org_id)
            .field("two_factor", &self.two_factor)
            .finish_non_exhaustive()
    }
}

/// What a simulated control panel accepts.
#[derive(Clone, PartialEq, Eq)]
pub struct EnhanceConfig {
    pub logins: Vec<Login>,
    /// API tokens, each with the org it belongs to.
    pub tokens: Vec<(String, String)>,
    /// How long a session cookie is accepted.
    pub session_lifetime: Duration,
}

impl Default for EnhanceConfig {
    fn default() -> Self {
        EnhanceConfig {
            logins: vec![Login {
                email: DEMO_EMAIL.to_owned(),
                password: DEMO_PASSWORD.to_owned(),
                org_id: DEMO_RESELLER_ID.to_owned(),
                two_factor: false,
            }],
            tokens: vec![
                (DEMO_TOKEN.to_owned(), DEMO_RESELLER_ID.to_owned()),
                (DEMO_MO_TOKEN.to_owned(), DEMO_MO_ID.to_owned()),
            ],
            session_lifetime: Duration::from_secs(3600),
        }
    }
}

// Written by hand so that passwords and tokens never reach a log line through `{:?}`.
impl fmt::Debug for EnhanceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let emails: Vec<&str> = self.logins.iter().map(|l| l.email.as_str()).collect();
        f.debug_struct("EnhanceConfig")
            .field("logins", &emails)
            .field("tokens", &format_args!("[{} redacted]", self.tokens.len()))
            .field("session_lifetime", &self.session_lifetime)
            .finish()
    }
}

/// A live session: the org its login belongs to, and when it ends.
#[derive(Debug, Clone)]
struct Session {
    org: String,
    expires_ms: i64,
}

/// State shared by the handlers.
struct Ctx {
    config: EnhanceConfig,
    store: Mutex<Store>,
    sessions: Mutex<HashMap<String, Session>>,
    logins: AtomicUsize,
    failed_logins: AtomicUsize,
}

impl fmt::Debug for Ctx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ctx")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Milliseconds since the epoch, now.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// An instant as RFC 3339 in UTC (`2025-05-08T10:00:00Z`).
pub(crate) fn iso(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
}

/// A running Enhance simulator.
#[derive(Debug)]
pub struct EnhanceSim {
    server: SimServer,
    ctx: Arc<Ctx>,
}

impl EnhanceSim {
    /// Starts the simulator on `127.0.0.1:0` with the demo data.
    pub async fn start(config: EnhanceConfig) -> std::io::Result<EnhanceSim> {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(7, |d| d.as_nanos() as u64);
        let ctx = Arc::new(Ctx {
            config,
            store: Mutex::new(Store::demo(now_ms(), seed)),
            sessions: Mutex::new(HashMap::new()),
            logins: AtomicUsize::new(0),
            failed_logins: AtomicUsize::new(0),
        });
        let server = SimServer::start("enhance", router(ctx.clone()), FAULT_STYLE).await?;
        tracing::info!(sim = "enhance", addr = %server.addr(), "simulator started");
        Ok(EnhanceSim { server, ctx })
    }

    /// The underlying server: address, request log, fault knobs.
    pub fn server(&self) -> &SimServer {
        &self.server
    }

    /// `http://127.0.0.1:PORT`, the API root (what a generated client calls `host`).
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// Successful logins so far.
    pub fn logins(&self) -> usize {
        self.ctx.logins.load(Ordering::SeqCst)
    }

    /// Refused logins so far.
    pub fn failed_logins(&self) -> usize {
        self.ctx.failed_logins.load(Ordering::SeqCst)
    }

    /// Ends every session, as if each had expired: the next call with one is 401.
    pub fn expire_sessions(&self) {
        lock(&self.ctx.sessions).clear();
    }

    /// One org as `getOrg` answers it.
    pub fn org(&self, id: &str) -> Option<Value> {
        let store = lock(&self.ctx.store);
        store.org(id).map(|o| store.render_org(o))
    }

    /// The ids of an org's direct customers (deleted ones included), in creation order.
    pub fn customer_ids(&self, id: &str) -> Vec<String> {
        let store = lock(&self.ctx.store);
        store
            .orgs
            .iter()
            .filter(|o| o.parent.as_deref() == Some(id))
            .map(|o| o.id.clone())
            .collect()
    }

    /// The subscriptions an org holds (as subscriber), as listed.
    pub fn subscriptions_of(&self, id: &str) -> Vec<Value> {
        let store = lock(&self.ctx.store);
        store
            .subs
            .iter()
            .filter(|s| s.subscriber == id)
            .map(|s| store.render_sub(s))
            .collect()
    }

    /// The whole state (every org, plan and subscription as the API renders them), to check
    /// that a refused write changed nothing.
    pub fn snapshot(&self) -> Value {
        lock(&self.ctx.store).snapshot()
    }

    /// Stops the server, letting in-flight requests finish.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// The operations the simulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Login,
    GetOrg,
    UpdateOrg,
    DeleteOrg,
    ListCustomers,
    CreateCustomer,
    ListCustomerSubscriptions,
    CreateSubscription,
    ListOwnSubscriptions,
    GetSubscription,
    ListPlans,
    CustomersAdded,
}

impl Action {
    /// The document's operationId, for logs.
    fn name(self) -> &'static str {
        match self {
            Action::Login => "createSession",
            Action::GetOrg => "getOrg",
            Action::UpdateOrg => "updateOrg",
            Action::DeleteOrg => "deleteOrg",
            Action::ListCustomers => "getOrgCustomers",
            Action::CreateCustomer => "createCustomer",
            Action::ListCustomerSubscriptions => "getCustomerSubscriptions",
            Action::CreateSubscription => "createCustomerSubscription",
            Action::ListOwnSubscriptions => "getSubscriptionsToParent",
            Action::GetSubscription => "getSubscription",
            Action::ListPlans => "getPlans",
            Action::CustomersAdded => "getCustomersAdded",
        }
    }

    fn needs_credentials(self) -> bool {
        !matches!(self, Action::Login | Action::ListPlans)
    }
}

fn router(ctx: Arc<Ctx>) -> Router {
    Router::new()
        .route("/login/sessions", post(login))
        .route(
            "/orgs/{org_id}",
            get(get_org).patch(update_org).delete(delete_org),
        )
        .route(
            "/orgs/{org_id}/customers",
            get(list_customers).post(create_customer),
        )
        .route(
            "/orgs/{org_id}/customers/{customer_org_id}/subscriptions",
            get(list_customer_subscriptions).post(create_subscription),
        )
        .route("/orgs/{org_id}/subscriptions", get(list_own_subscriptions))
        .route(
            "/orgs/{org_id}/subscriptions/{subscription_id}",
            get(get_subscription),
        )
        .route("/orgs/{org_id}/plans", get(list_plans))
        .route("/orgs/{org_id}/stats/customers/added", get(customers_added))
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
        .with_state(ctx)
}

type PathParams = Result<Path<Vec<String>>, PathRejection>;

// One thin handler per operation, so the routes above read like the table in the module docs.
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

action_handler!(login, Action::Login);
action_handler!(get_org, Action::GetOrg);
action_handler!(update_org, Action::UpdateOrg);
action_handler!(delete_org, Action::DeleteOrg);
action_handler!(list_customers, Action::ListCustomers);
action_handler!(create_customer, Action::CreateCustomer);
action_handler!(
    list_customer_subscriptions,
    Action::ListCustomerSubscriptions
);
action_handler!(create_subscription, Action::CreateSubscription);
action_handler!(list_own_subscriptions, Action::ListOwnSubscriptions);
action_handler!(get_subscription, Action::GetSubscription);
action_handler!(list_plans, Action::ListPlans);
action_handler!(customers_added, Action::CustomersAdded);

async fn unknown_route(method: Method, uri: Uri) -> Response {
    ApiError::not_found(format!("no route {method} {}", uri.path())).into_response()
}

async fn wrong_method(method: Method, uri: Uri) -> Response {
    ApiError::method_not_allowed(format!("{} does not accept {method}", uri.path())).into_response()
}

fn handle(
    ctx: &Ctx,
    action: Action,
    path: PathParams,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let result = (|| {
        let actor = if action.needs_credentials() {
            Some(ctx.authenticate(headers)?)
        } else {
            None
        };
        let Path(ids) = path.map_err(|_| ApiError::invalid("the request path is malformed"))?;
        run(
            ctx,
            action,
            &ids,
            actor.as_deref(),
            &Query::parse(uri.query()),
            body,
        )
    })();
    match result {
        Ok(resp) => {
            tracing::debug!(
                sim = "enhance",
                action = action.name(),
                status = resp.status().as_u16(),
                "request served"
            );
            resp
        }
        Err(e) => {
            tracing::debug!(sim = "enhance", action = action.name(), status = e.status.as_u16(), message = %e.message, "request refused");
            e.into_response()
        }
    }
}

impl Ctx {
    /// The org the request's credentials belong to. Neither a token nor a cookie is ever
    /// logged or echoed.
    fn authenticate(&self, headers: &HeaderMap) -> Result<String, ApiError> {
        if let Some(v) = headers.get(header::AUTHORIZATION) {
            let token = v.to_str().ok().and_then(|v| {
                let (scheme, rest) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            });
            return match token {
                Some(t) => self
                    .config
                    .tokens
                    .iter()
                    .find(|(k, _)| k == t)
                    .map(|(_, org)| org.clone())
                    .ok_or_else(|| ApiError::unauthorized("invalid access token")),
                None => Err(ApiError::unauthorized(
                    "the Authorization header must be a Bearer token",
                )),
            };
        }
        let cookie = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, _)| *k == "id0")
            .map(|(_, v)| v.to_owned());
        let Some(cookie) = cookie else {
            return Err(ApiError::unauthorized("no session"));
        };
        let mut sessions = lock(&self.sessions);
        match sessions.get(&cookie) {
            Some(s) if s.expires_ms > now_ms() => Ok(s.org.clone()),
            Some(_) => {
                sessions.remove(&cookie);
                Err(ApiError::unauthorized("the session has expired"))
            }
            None => Err(ApiError::unauthorized("invalid session")),
        }
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }
}

/// Query parameters, first value of each name.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(q: Option<&str>) -> Query {
        Query(
            form_urlencoded::parse(q.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A non-negative integer parameter.
    fn count(&self, name: &str) -> Result<Option<usize>, ApiError> {
        self.get(name)
            .map(|v| {
                v.parse::<usize>().map_err(|_| {
                    ApiError::invalid(format!("`{name}` must be a non-negative integer"))
                })
            })
            .transpose()
    }

    fn boolean(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(_) => Err(ApiError::invalid(format!("`{name}` must be true or false"))),
        }
    }

    fn one_of(&self, name: &str, allowed: &[&str]) -> Result<Option<String>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if allowed.contains(&v) => Ok(Some(v.to_owned())),
            Some(_) => Err(ApiError::invalid(format!(
                "`{name}` must be one of {}",
                allowed.join(", ")
            ))),
        }
    }

    /// `offset`, `limit` and `sortOrder`.
    fn paging(&self) -> Result<(usize, Option<usize>, bool), ApiError> {
        let offset = self.count("offset")?.unwrap_or(0);
        let limit = self.count("limit")?;
        let desc = self.one_of("sortOrder", &["asc", "desc"])?.as_deref() == Some("desc");
        Ok((offset, limit, desc))
    }
}

/// A path's org id, lowercased, or 400.
fn uuid_param(ids: &[String], i: usize, name: &str) -> Result<String, ApiError> {
    match ids.get(i) {
        Some(v) if is_uuid(v) => Ok(v.to_ascii_lowercase()),
        _ => Err(ApiError::invalid(format!("`{name}` must be a UUID"))),
    }
}

/// A JSON object body with only `allowed` keys, or 400.
fn object(body: &[u8], allowed: &[&str]) -> Result<Map<String, Value>, ApiError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::invalid("the body is not valid JSON"))?;
    let Value::Object(m) = v else {
        return Err(ApiError::invalid("the body must be a JSON object"));
    };
    if let Some(k) = m.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ApiError::invalid(format!("unknown field `{k}`")));
    }
    Ok(m)
}

/// A required or optional string field, or 400.
fn string_field(
    m: &Map<String, Value>,
    key: &str,
    required: bool,
) -> Result<Option<String>, ApiError> {
    match m.get(key) {
        None if required => Err(ApiError::invalid(format!("`{key}` is required"))),
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::invalid(format!("`{key}` must be a string"))),
    }
}

/// An org name: 1 to 255 characters, not only white space, no control characters.
fn org_name(name: &str) -> Result<String, ApiError> {
    let trimmed = name.trim();
    if trimmed.is_empty() || name.chars().count() > 255 || name.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "`name` must be 1 to 255 characters without control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

fn listing(total: usize, items: Vec<Value>) -> Value {
    json!({ "items": items, "total": total })
}

fn ok(status: StatusCode, body: &Value) -> Result<Response, ApiError> {
    Ok(json_response(status, body))
}

/// Serves one request whose credentials (if it needs any) are checked: `actor` is the org
/// they belong to.
fn run(
    ctx: &Ctx,
    action: Action,
    ids: &[String],
    actor: Option<&str>,
    q: &Query,
    body: &[u8],
) -> Result<Response, ApiError> {
    let actor = actor.unwrap_or("");
    let now = now_ms();
    match action {
        Action::Login => login_session(ctx, q, body, now),
        Action::GetOrg => {
            let id = uuid_param(ids, 0, "org_id")?;
            let store = ctx.store();
            let org = store.reachable(actor, &id)?;
            ok(StatusCode::OK, &store.render_org(org))
        }
        Action::UpdateOrg => {
            let id = uuid_param(ids, 0, "org_id")?;
            let update = org_update(body)?;
            let mut store = ctx.store();
            store.reachable(actor, &id)?;
            store.update_org(&id, actor, update)?;
            tracing::info!(sim = "enhance", org_id = %id, "org updated");
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Action::DeleteOrg => {
            let id = uuid_param(ids, 0, "org_id")?;
            let force = q.boolean("force")?.unwrap_or(false);
            let mut store = ctx.store();
            store.reachable(actor, &id)?;
            if id == actor {
                return Err(ApiError::forbidden(
                    "an organization cannot be deleted with its own credentials",
                ));
            }
            if force {
                if store.org(actor).is_some_and(|o| o.parent.is_some()) {
                    return Err(ApiError::forbidden("only MO members may force a deletion"));
                }
                store.force_delete(&id);
            } else {
                store.soft_delete(&id);
            }
            tracing::info!(sim = "enhance", org_id = %id, force, "org deleted");
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Action::ListCustomers => {
            let id = uuid_param(ids, 0, "org_id")?;
            let (offset, limit, descending) = q.paging()?;
            let query = CustomerQuery {
                offset,
                limit,
                descending,
                sort_by: q.one_of(
                    "sortBy",
                    &[
                        "id",
                        "name",
                        "status",
                        "subscriptionsCount",
                        "websitesCount",
                        "createdAt",
                    ],
                )?,
                recursive: q.boolean("recursive")?.unwrap_or(false),
                max_depth: match q.count("maxDepth")? {
                    Some(0) => return Err(ApiError::invalid("`maxDepth` must be at least 1")),
                    d => d.map(|d| u32::try_from(d).unwrap_or(u32::MAX)),
                },
                status: q.one_of("status", &["active", "suspended", "deleted"])?,
                plan_id: q.count("planId")?.map(|p| p as u64),
            };
            let store = ctx.store();
            store.reachable(actor, &id)?;
            let (total, items) = store.customers(&id, &query);
            ok(StatusCode::OK, &listing(total, items))
        }
        Action::CreateCustomer => {
            let id = uuid_param(ids, 0, "org_id")?;
            let m = object(body, &["name"])?;
            let name = org_name(&string_field(&m, "name", true)?.unwrap_or_default())?;
            let mut store = ctx.store();
            store.reachable(actor, &id)?;
            let new_id = store.create_customer(&id, &name, now)?;
            tracing::info!(sim = "enhance", org_id = %new_id, parent = %id, "customer created");
            ok(StatusCode::CREATED, &json!({ "id": new_id }))
        }
        Action::ListCustomerSubscriptions => {
            let id = uuid_param(ids, 0, "org_id")?;
            let customer = uuid_param(ids, 1, "customer_org_id")?;
            let (offset, limit, descending) = q.paging()?;
            let sort = q.one_of("sortBy", &["plan", "subscriberId", "vendorId"])?;
            let store = ctx.store();
            store.reachable(actor, &id)?;
            if store.org(&customer).and_then(|c| c.parent.as_deref()) != Some(id.as_str()) {
                return Err(ApiError::not_found(format!(
                    "organization {customer} is not a customer of {id}"
                )));
            }
            let subs = store
                .subs
                .iter()
                .filter(|s| s.subscriber == customer && s.vendor == id);
            ok(
                StatusCode::OK,
                &subscription_page(&store, subs, offset, limit, sort, descending),
            )
        }
        Action::CreateSubscription => {
            let id = uuid_param(ids, 0, "org_id")?;
            let customer = uuid_param(ids, 1, "customer_org_id")?;
            let m = object(body, &["planId", "friendlyName", "dedicatedServers"])?;
            let plan_id = match m.get("planId") {
                Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64().unwrap_or(0),
                Some(_) => {
                    return Err(ApiError::invalid("`planId` must be a non-negative integer"));
                }
                None => return Err(ApiError::invalid("`planId` is required")),
            };
            let friendly_name = string_field(&m, "friendlyName", false)?;
            if let Some(d) = m.get("dedicatedServers") {
                let servers_ok = d.as_object().is_some_and(|o| {
                    o.iter().all(|(k, v)| {
                        [
                            "appServerId",
                            "backupServerId",
                            "dbServerId",
                            "emailServerId",
                        ]
                        .contains(&k.as_str())
                            && v.as_str().is_some_and(is_uuid)
                    })
                });
                if !servers_ok {
                    return Err(ApiError::invalid("`dedicatedServers` is malformed"));
                }
            }
            let mut store = ctx.store();
            store.reachable(actor, &id)?;
            let sub = store.create_subscription(&id, &customer, plan_id, friendly_name)?;
            tracing::info!(sim = "enhance", subscription_id = sub, customer = %customer, plan_id, "subscription created");
            ok(StatusCode::CREATED, &json!({ "id": sub }))
        }
        Action::ListOwnSubscriptions => {
            let id = uuid_param(ids, 0, "org_id")?;
            let (offset, limit, descending) = q.paging()?;
            let sort = q.one_of("sortBy", &["plan", "subscriberId", "vendorId"])?;
            let store = ctx.store();
            store.reachable(actor, &id)?;
            let subs = store.subs.iter().filter(|s| s.subscriber == id);
            ok(
                StatusCode::OK,
                &subscription_page(&store, subs, offset, limit, sort, descending),
            )
        }
        Action::GetSubscription => {
            let id = uuid_param(ids, 0, "org_id")?;
            let sid = ids
                .get(1)
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| ApiError::invalid("`subscription_id` must be an integer"))?;
            let store = ctx.store();
            store.reachable(actor, &id)?;
            let sub = store
                .subs
                .iter()
                .find(|s| s.id == sid && s.subscriber == id)
                .ok_or_else(|| ApiError::not_found(format!("subscription {sid} not found")))?;
            ok(StatusCode::OK, &store.render_sub(sub))
        }
        Action::ListPlans => {
            let id = uuid_param(ids, 0, "org_id")?;
            let (offset, limit, descending) = q.paging()?;
            let by_name = q.one_of("sortBy", &["name"])?.is_some();
            let store = ctx.store();
            if store.org(&id).is_none() {
                return Err(ApiError::not_found(format!("organization {id} not found")));
            }
            let mut plans: Vec<_> = store.plans.iter().filter(|p| p.org == id).collect();
            if by_name {
                plans.sort_by(|a, b| {
                    (a.name.to_lowercase(), a.id).cmp(&(b.name.to_lowercase(), b.id))
                });
            }
            if descending {
                plans.reverse();
            }
            let total = plans.len();
            let items = plans
                .into_iter()
                .skip(offset)
                .take(limit.unwrap_or(usize::MAX))
                .map(|p| store.render_plan(p))
                .collect();
            ok(StatusCode::OK, &listing(total, items))
        }
        Action::CustomersAdded => {
            let id = uuid_param(ids, 0, "org_id")?;
            let interval = q
                .one_of("timeInterval", &["hour", "day", "month"])?
                .unwrap_or_else(|| "day".to_owned());
            let store = ctx.store();
            let org = store.reachable(actor, &id)?;
            let added: Vec<i64> = store
                .orgs
                .iter()
                .filter(|o| o.parent.as_deref() == Some(id.as_str()))
                .map(|o| o.created_ms)
                .collect();
            ok(
                StatusCode::OK,
                &customers_added_stats(&interval, org.created_ms, now, &added),
            )
        }
    }
}

/// A page of subscriptions, in id order or by `sortBy`.
fn subscription_page<'a>(
    store: &Store,
    subs: impl Iterator<Item = &'a store::SubRec>,
    offset: usize,
    limit: Option<usize>,
    sort: Option<String>,
    descending: bool,
) -> Value {
    let mut subs: Vec<&store::SubRec> = subs.collect();
    let plan_name = |s: &store::SubRec| {
        store
            .plans
            .iter()
            .find(|p| p.id == s.plan)
            .map(|p| p.name.to_lowercase())
            .unwrap_or_default()
    };
    match sort.as_deref() {
        Some("plan") => subs.sort_by_key(|s| (plan_name(s), s.id)),
        Some("subscriberId") => {
            subs.sort_by(|a, b| (&a.subscriber, a.id).cmp(&(&b.subscriber, b.id)))
        }
        Some("vendorId") => subs.sort_by(|a, b| (&a.vendor, a.id).cmp(&(&b.vendor, b.id))),
        _ => {}
    }
    if descending {
        subs.reverse();
    }
    let total = subs.len();
    let items = subs
        .into_iter()
        .skip(offset)
        .take(limit.unwrap_or(usize::MAX))
        .map(|s| store.render_sub(s))
        .collect();
    listing(total, items)
}

/// `PATCH /orgs/{id}`'s body (`OrgUpdate`), validated.
fn org_update(body: &[u8]) -> Result<OrgUpdate, ApiError> {
    let m = object(
        body,
        &[
            "name",
            "status",
            "isSuspended",
            "locale",
            "slackNotificationWebhookUrl",
        ],
    )?;
    let name = string_field(&m, "name", false)?
        .map(|n| org_name(&n))
        .transpose()?;
    let deleted = match string_field(&m, "status", false)?.as_deref() {
        None => None,
        Some("active") => Some(false),
        Some("deleted") => Some(true),
        Some(_) => return Err(ApiError::invalid("`status` must be active or deleted")),
    };
    let suspended = match m.get("isSuspended") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(ApiError::invalid("`isSuspended` must be a boolean")),
    };
    let locale = string_field(&m, "locale", false)?;
    if let Some(l) = &locale
        && (l.is_empty() || l.len() > 10 || !l.chars().all(|c| c.is_ascii_alphabetic() || c == '-'))
    {
        return Err(ApiError::invalid("`locale` is not a control panel locale"));
    }
    let slack_webhook = match m.get("slackNotificationWebhookUrl") {
        None => None,
        Some(Value::String(s)) => Some(Some(s.clone())),
        Some(Value::Object(o)) if o.len() == 1 && o.get("unset") == Some(&Value::Bool(true)) => {
            Some(None)
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "`slackNotificationWebhookUrl` must be a string or {\"unset\": true}",
            ));
        }
    };
    Ok(OrgUpdate {
        name,
        deleted,
        suspended,
        locale,
        slack_webhook,
    })
}

/// `POST /login/sessions`.
fn login_session(ctx: &Ctx, q: &Query, body: &[u8], now: i64) -> Result<Response, ApiError> {
    let realm = match q.get("realmId") {
        None => None,
        Some(r) if is_uuid(r) => Some(r.to_ascii_lowercase()),
        Some(_) => return Err(ApiError::invalid("`realmId` must be a UUID")),
    };
    let m = object(body, &["email", "password", "deviceId"])?;
    let email = string_field(&m, "email", true)?.unwrap_or_default();
    let password = string_field(&m, "password", true)?.unwrap_or_default();
    string_field(&m, "deviceId", false)?;
    if !email.contains('@') {
        return Err(ApiError::invalid("`email` must be an email address"));
    }
    let mut store = ctx.store();
    let login = ctx.config.logins.iter().find(|l| {
        l.email.eq_ignore_ascii_case(&email)
            && l.password == password
            && realm
                .as_deref()
                .is_none_or(|r| store.is_self_or_ancestor(r, &l.org_id))
    });
    let Some(login) = login else {
        ctx.failed_logins.fetch_add(1, Ordering::SeqCst);
        return Err(ApiError::unauthorized("invalid credentials"));
    };
    let org = store.org(&login.org_id).cloned();
    let bytes = store.random_bytes();
    drop(store);
    let lifetime = ctx.config.session_lifetime;
    let exp = now / 1000 + lifetime.as_secs() as i64;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let token = format!(
        "{}.{}.{}",
        b64.encode(br#"{"alg":"HS256","typ":"JWT"}"#),
        b64.encode(json!({ "sub": login.email, "exp": exp }).to_string()),
        b64.encode(bytes)
    );
    let cookie = format!(
        "id0={token}; Path=/; Max-Age={}; HttpOnly; Secure; SameSite=Strict",
        lifetime.as_secs()
    );
    if login.two_factor {
        // A pin was sent: the cookie is not a session yet.
        let mut resp = json_response(StatusCode::CREATED, &json!({ "authMethod": "otp" }));
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            resp.headers_mut().insert(header::SET_COOKIE, v);
        }
        return Ok(resp);
    }
    lock(&ctx.sessions).insert(
        token,
        Session {
            org: login.org_id.clone(),
            expires_ms: now + lifetime.as_millis() as i64,
        },
    );
    ctx.logins.fetch_add(1, Ordering::SeqCst);
    let membership = json!({
        "memberId": "0f0e0d0c-0b0a-4909-8807-060504030201",
        "orgId": login.org_id,
        "orgName": org.as_ref().map(|o| o.name.as_str()).unwrap_or(""),
        "isMasterOrg": org.as_ref().is_some_and(|o| o.parent.is_none()),
        "roles": ["Owner"],
        "siteAccessCount": 0,
    });
    let mut resp = json_response(StatusCode::OK, &json!({ "memberships": [membership] }));
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// Bucket arithmetic of `getCustomersAdded`.
const HOUR_MS: i64 = 3_600_000;

fn floor(ms: i64, interval: &str) -> i64 {
    match interval {
        "hour" => ms - ms.rem_euclid(HOUR_MS),
        "day" => ms - ms.rem_euclid(24 * HOUR_MS),
        _ => {
            let day = ms - ms.rem_euclid(24 * HOUR_MS);
            let t = time::OffsetDateTime::from_unix_timestamp(day / 1000)
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
            day - (i64::from(t.day()) - 1) * 24 * HOUR_MS
        }
    }
}

fn next_bucket(start: i64, interval: &str) -> i64 {
    match interval {
        "hour" => start + HOUR_MS,
        "day" => start + 24 * HOUR_MS,
        // Any instant inside the next month, floored.
        _ => floor(start + 32 * 24 * HOUR_MS, "month"),
    }
}

/// `CustomersAddedStats`: one entry per bucket from the org's creation to now (the last
/// 2160 hours, 1000 days or 240 months at most), each counting the customers created in it.
fn customers_added_stats(interval: &str, created_ms: i64, now: i64, added: &[i64]) -> Value {
    let cap = match interval {
        "hour" => 2160,
        "day" => 1000,
        _ => 240,
    };
    let mut starts = Vec::new();
    let mut t = floor(created_ms.min(now), interval);
    let last = floor(now, interval);
    while t <= last {
        starts.push(t);
        t = next_bucket(t, interval);
    }
    let skip = starts.len().saturating_sub(cap);
    let entries: Vec<Value> = starts[skip..]
        .iter()
        .map(|&start| {
            let end = next_bucket(start, interval);
            let n = added.iter().filter(|&&c| start <= c && c < end).count();
            json!({ "interval": iso(start), "resourceCount": n })
        })
        .collect();
    Value::Array(entries)
}

impl crate::RunningSim for EnhanceSim {
    fn server(&self) -> &SimServer {
        &self.server
    }

    fn base_url(&self) -> String {
        EnhanceSim::base_url(self)
    }

    fn demo_credentials(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PASSWORD", DEMO_PASSWORD.to_owned()),
            ("TOKEN", DEMO_TOKEN.to_owned()),
        ]
    }

    fn stop(self: Box<Self>) -> crate::demo::BoxFuture<'static, ()> {
        Box::pin(self.shutdown())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl crate::DemoSim for EnhanceSim {
    fn start_demo() -> crate::demo::BoxFuture<'static, std::io::Result<Self>> {
        Box::pin(EnhanceSim::start(EnhanceConfig::default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets() {
        let ms = |s: &str| {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .unwrap()
                .unix_timestamp()
                * 1000
        };
        let t = ms("2025-05-08T10:30:00Z");
        assert_eq!(iso(floor(t, "hour")), "2025-05-08T10:00:00Z");
        assert_eq!(iso(floor(t, "day")), "2025-05-08T00:00:00Z");
        assert_eq!(iso(floor(t, "month")), "2025-05-01T00:00:00Z");
        assert_eq!(
            iso(next_bucket(floor(t, "month"), "month")),
            "2025-06-01T00:00:00Z"
        );
        let dec = ms("2024-12-31T23:00:00Z");
        assert_eq!(
            iso(next_bucket(floor(dec, "month"), "month")),
            "2025-01-01T00:00:00Z"
        );
        let stats = customers_added_stats(
            "day",
            ms("2025-05-06T12:00:00Z"),
            t,
            &[ms("2025-05-07T01:00:00Z")],
        );
        assert_eq!(
            stats,
            json!([
                {"interval": "2025-05-06T00:00:00Z", "resourceCount": 0},
                {"interval": "2025-05-07T00:00:00Z", "resourceCount": 1},
                {"interval": "2025-05-08T00:00:00Z", "resourceCount": 0},
            ])
        );
    }

    #[test]
    fn config_debug_hides_secrets() {
        let text = format!("{:?}", EnhanceConfig::default());
        assert!(text.contains(DEMO_EMAIL));
        assert!(
            !text.contains(DEMO_PASSWORD) && !text.contains(DEMO_TOKEN),
            "{text}"
        );
    }
}
