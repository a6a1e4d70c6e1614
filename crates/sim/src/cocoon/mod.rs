//! The Cocoon Data Platform's Access Service, simulated: a real HTTP server on loopback that
//! issues OAuth2 tokens and answers the organisation, plan and statistics endpoints the way the
//! vendor documents them (the seed page `…/statistics/plans`, and the organisation, plan,
//! statistics and OAuth pages dialects.md §3 summarises). There is no vendor SDK to check it
//! against (dialects.md §3.6).
//!
//! # Routes (relative to [`CocoonSim::base_url`], the access-service origin)
//! | method | path | answer | auth |
//! | --- | --- | --- | --- |
//! | POST | `/api/oauth/token` | the token answer, or an OAuth2 error (see `auth.rs`) | client id and secret as Basic |
//! | GET | `/api/v1/organisations` | `{"items":[org…],"count","offset"}` | Bearer |
//! | GET, PUT | `/api/v1/organisations/{orgGroupId}` | the organisation | Bearer |
//! | GET | `/api/v1/organisations/{orgGroupId}/plans` | `{"items":[plan…],"count","offset"}` | Bearer |
//! | GET | `/api/v1/organisations/{orgGroupId}/statistics/plans` | the seed's answer | Bearer |
//! | GET | `/api/v1/organisations/{orgGroupId}/statistics/users` | `{"originatorCount","collaboratorCount","organisationAdminCount"}` | Bearer |
//! | GET | `/api/v1/organisations/{orgGroupId}/statistics/items/storage` | `{"allocatedStorage","requiredStorage","usedStorage"}` | Bearer |
//!
//! Not simulated (404 like any unknown path): creating organisations and plans, plan
//! updates and deletion, the dashboards, discovery, the authorization-code flow and the rest of
//! the product's API.
//!
//! # Where the documents are silent, and what the simulator does
//! - **Lists.** Only `…/statistics/plans` shows its answer: `items` (the prose says `item`; a
//!   knob, [`CocoonSim::set_list_member`], sends that instead), `count` and `offset` as strings
//!   of digits. The organisation and plan lists answer in the same envelope. `count` is the
//!   number of items returned, as the example shows (the prose calls it "the maximum number of
//!   items that can be returned"). Every list takes `limit` (0, the default, is no limit; the
//!   plans list allows at most 100), `offset`, and `orderBy` (`ASC`/`DESC`) and `sortBy`
//!   (`name`/`description`/`quota`) in either letter case, which are checked and then ignored:
//!   **the documented bug** ("prevents orderBy and sortBy from having any effect on the
//!   output"). Items come in the order they were created, which is neither by name nor by quota.
//! - **Numbers.** Ids, quotas (MiB), `count` and `offset` are strings of digits, as in the
//!   seed's example; counters are JSON numbers; the percentage a float. Organisation quotas and
//!   the storage statistics are strings of digits too, like every quota the vendor sends.
//! - **Members nobody shows.** A plan of `…/plans` is `{id, name, description, quota,
//!   isDefault}` (the default flag's key is cut off in the page read; `isDefault` is
//!   dialects.md's inference). An organisation carries the fields its update page lists. The
//!   users statistics use the names of the vendor's page (`originatorCount`,
//!   `collaboratorCount`, `organisationAdminCount`); the storage statistics' names are not
//!   recoverable and are the simulator's own: `allocatedStorage` and `requiredStorage` (MiB),
//!   `usedStorage` (bytes).
//! - **`PUT` of an organisation** changes the members the body has (the update page lists
//!   them; the simulator treats the body as a partial update) and answers 200 with the
//!   organisation. A body that is not JSON is 400, one sent without a JSON content type 415.
//! - **Errors.** Spring's shapes (see `wire.rs` and `auth.rs`): 401 for a missing, unknown or
//!   expired Bearer token, 404 for an unknown organisation, 400 for an id that is not a number
//!   or a malformed parameter. Every token may act on every organisation (the gateway signs in
//!   as a SafeShare administrator who is also each organisation's administrator), so 403 is
//!   never sent.
//!
//! # Order of checks
//! 1. A path the API does not have: 404; a known path with another method: 405.
//! 2. The Bearer token (the token endpoint checks the client instead), else 401.
//! 3. The request: path ids, query parameters, bodies, else 400 (or 415).
//! 4. The organisation must exist, else 404.
//!
//! # Fault knobs
//! Through [`SimServer::faults`]: a forced status answers Spring's error body (a forced 401
//! the OAuth2 `invalid_token` body); a malformed body is JSON cut off mid-string. They apply to
//! the token endpoint as much as to the API.
//!
//! Module map: `auth` the token endpoint and the Bearer check, `store` organisations, plans
//! and the demo data, `wire` errors, the list envelope and the fault style.

mod auth;
mod store;
mod wire;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Uri, header};
use serde_json::Value;

use crate::SimServer;
use crate::server::FaultStyle;
use auth::Tokens;
use store::Store;
use wire::{ApiError, ListParams, json_response};

pub use auth::GrantCounts;
pub use wire::ListMember;

/// The OAuth2 client the default configuration knows.
pub const DEMO_CLIENT_ID: &str = "orgway-demo";
/// That client's secret.
pub const DEMO_CLIENT_SECRET: &str = "cocoon-demo-client-secret";
/// The user the default configuration knows (a SafeShare administrator).
pub const DEMO_USERNAME: &str = "safeshare.admin@xy-company.com";
/// That user's password.
pub const DEMO_PASSWORD: &str = "cocoon-demo-password";
/// The seed's organisation (the id of its example request), holding exactly the plans of its
/// example answer.
pub const DEMO_ORG_ID: &str = "749418071827214336";
/// An organisation with six plans, created in an order that is neither by name nor by quota.
pub const DEMO_PLANS_ORG_ID: &str = "761104938213687296";

/// How the vendor's errors and broken bodies look, for the fault knobs.
const FAULT_STYLE: FaultStyle = FaultStyle {
    error_body: wire::fault_error_body,
    malformed: wire::fault_malformed_body,
};

/// What a simulated Access Service holds and accepts.
#[derive(Clone, PartialEq, Eq)]
pub struct CocoonConfig {
    /// OAuth2 clients: (client id, client secret).
    pub clients: Vec<(String, String)>,
    /// Users who may sign in with the password grant: (username, password).
    pub users: Vec<(String, String)>,
    /// How long an access token is accepted (`expires_in`, and the JWT's `exp`).
    pub access_token_lifetime: Duration,
    /// How long a refresh token is accepted.
    pub refresh_token_lifetime: Duration,
    /// Start with the demo organisations instead of none.
    pub seed_demo_data: bool,
}

impl Default for CocoonConfig {
    fn default() -> Self {
        CocoonConfig {
            clients: vec![(DEMO_CLIENT_ID.to_owned(), DEMO_CLIENT_SECRET.to_owned())],
            users: vec![(DEMO_USERNAME.to_owned(), DEMO_PASSWORD.to_owned())],
            // Short-lived, as access tokens of an OAuth2 server are.
            access_token_lifetime: Duration::from_secs(300),
            refresh_token_lifetime: Duration::from_secs(30 * 24 * 3600),
            seed_demo_data: true,
        }
    }
}

// Written by hand so that secrets never reach a log line through `{:?}`.
impl fmt::Debug for CocoonConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let clients: Vec<&str> = self.clients.iter().map(|(c, _)| c.as_str()).collect();
        let users: Vec<&str> = self.users.iter().map(|(u, _)| u.as_str()).collect();
        f.debug_struct("CocoonConfig")
            .field("clients", &clients)
            .field("users", &users)
            .field("secrets", &"<redacted>")
            .field("access_token_lifetime", &self.access_token_lifetime)
            .field("refresh_token_lifetime", &self.refresh_token_lifetime)
            .field("seed_demo_data", &self.seed_demo_data)
            .finish()
    }
}

/// State shared by the handlers.
#[derive(Debug)]
struct Ctx {
    tokens: Mutex<Tokens>,
    store: Mutex<Store>,
    list_member: Mutex<ListMember>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Ctx {
    fn tokens(&self) -> MutexGuard<'_, Tokens> {
        lock(&self.tokens)
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    fn list_member(&self) -> ListMember {
        *lock(&self.list_member)
    }
}

/// A running Cocoon Data simulator.
#[derive(Debug)]
pub struct CocoonSim {
    server: SimServer,
    ctx: Arc<Ctx>,
}

impl CocoonSim {
    /// Starts the simulator on `127.0.0.1:0`.
    pub async fn start(config: CocoonConfig) -> std::io::Result<CocoonSim> {
        let ctx = Arc::new(Ctx {
            tokens: Mutex::new(Tokens::new(
                &config.clients,
                &config.users,
                config.access_token_lifetime,
                config.refresh_token_lifetime,
            )),
            store: Mutex::new(Store::new(config.seed_demo_data)),
            list_member: Mutex::new(ListMember::default()),
        });
        let server = SimServer::start("cocoon", router(ctx.clone()), FAULT_STYLE).await?;
        tracing::info!(
            sim = "cocoon",
            addr = %server.addr(),
            orgs = ctx.store().orgs.len(),
            "simulator started"
        );
        Ok(CocoonSim { server, ctx })
    }

    /// The underlying server: address, request log, fault knobs.
    pub fn server(&self) -> &SimServer {
        &self.server
    }

    /// `http://127.0.0.1:PORT`: the access-service origin (`<access-service>` in the docs),
    /// below which the API is `/api/v1` and OAuth `/api/oauth`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The token endpoint's counters: grants by type, refusals, API calls refused for their
    /// token.
    pub fn grants(&self) -> GrantCounts {
        self.ctx.tokens().counts
    }

    /// Test knob: every access token issued so far stops being accepted now, as if its `exp`
    /// had passed.
    pub fn expire_access_tokens(&self) {
        self.ctx.tokens().expire_access_tokens();
        tracing::info!(sim = "cocoon", "access tokens expired");
    }

    /// Test knob: every refresh token issued so far stops being accepted.
    pub fn revoke_refresh_tokens(&self) {
        self.ctx.tokens().revoke_refresh_tokens();
        tracing::info!(sim = "cocoon", "refresh tokens revoked");
    }

    /// Test knob: refuse every token request with 401 `invalid_client`, as if the client's
    /// secret had been revoked (or stop refusing).
    pub fn set_refuse_token_requests(&self, refuse: bool) {
        self.ctx.tokens().set_refuse_all(refuse);
    }

    /// An access token for a configured user, accepted for `lifetime`, as if issued elsewhere
    /// (a static token given to a client by configuration). Not counted as a grant. `None` for
    /// an unknown user.
    pub fn issue_access_token(&self, username: &str, lifetime: Duration) -> Option<String> {
        self.ctx.tokens().issue_for(username, lifetime)
    }

    /// Test knob: the member lists put their items under (`items`, or the prose's `item`).
    pub fn set_list_member(&self, member: ListMember) {
        *lock(&self.ctx.list_member) = member;
    }

    /// Test knob: the text a plan's `quota` is sent as from now on (the vendor sends MiB as a
    /// string of digits; a test may make it `"12x"`). `false` for an unknown plan.
    pub fn set_plan_quota_text(&self, plan_id: &str, text: &str) -> bool {
        match self.ctx.store().plan_mut(plan_id) {
            Some(p) => {
                p.quota = text.to_owned();
                true
            }
            None => false,
        }
    }

    /// The organisation ids, in the order the list answers with them.
    pub fn org_ids(&self) -> Vec<String> {
        self.ctx.store().orgs.iter().map(|o| o.id.clone()).collect()
    }

    /// What `GET /api/v1/organisations/{id}` would answer, or `None` for an unknown id.
    pub fn org(&self, id: &str) -> Option<Value> {
        self.ctx.store().org(id).map(store::Org::render)
    }

    /// Stops the server, letting in-flight requests finish.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

fn router(ctx: Arc<Ctx>) -> Router {
    Router::new()
        .route("/api/oauth/token", post(token))
        .route("/api/v1/organisations", get(list_orgs))
        .route("/api/v1/organisations/{org}", get(get_org).put(put_org))
        .route("/api/v1/organisations/{org}/plans", get(list_plans))
        .route(
            "/api/v1/organisations/{org}/statistics/plans",
            get(plan_statistics),
        )
        .route(
            "/api/v1/organisations/{org}/statistics/users",
            get(user_statistics),
        )
        .route(
            "/api/v1/organisations/{org}/statistics/items/storage",
            get(storage_statistics),
        )
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(ctx)
}

async fn unknown_route(method: Method, uri: Uri) -> Response {
    tracing::debug!(sim = "cocoon", %method, path = uri.path(), "unknown route");
    ApiError::not_found("No message available").render(uri.path())
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    tracing::debug!(sim = "cocoon", %method, path = uri.path(), "method not allowed");
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("Request method '{method}' not supported"),
    )
    .render(uri.path())
}

fn query(uri: &Uri) -> HashMap<String, String> {
    form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

async fn token(State(ctx): State<Arc<Ctx>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let mut params = query(&uri);
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if form {
        params.extend(form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), v.into_owned())));
    }
    let (status, value) = ctx.tokens().token(authorization(&headers), &params);
    json_response(status, &value)
}

type OrgPath = Result<Path<String>, PathRejection>;

/// Serves an API route: the Bearer check, then `action`.
fn api(
    ctx: &Ctx,
    name: &str,
    uri: &Uri,
    headers: &HeaderMap,
    action: impl FnOnce(&Ctx) -> Result<Value, ApiError>,
) -> Response {
    if let Err((status, body)) = ctx.tokens().authenticate(authorization(headers)) {
        tracing::debug!(sim = "cocoon", action = name, "token refused");
        return json_response(status, &body);
    }
    match action(ctx) {
        Ok(value) => json_response(StatusCode::OK, &value),
        Err(e) => {
            tracing::debug!(sim = "cocoon", action = name, status = e.status.as_u16(), message = %e.message, "request refused");
            e.render(uri.path())
        }
    }
}

/// The organisation id of the path: a number (Spring converts it to a `Long`).
fn org_id(path: OrgPath) -> Result<String, ApiError> {
    let Path(id) = path.map_err(|_| ApiError::bad_request("Malformed path"))?;
    if id.is_empty() || id.len() > 19 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::bad_request(format!(
            "Failed to convert value of type 'java.lang.String' to required type 'java.lang.Long'; \
             For input string: \"{}\"",
            id.chars()
                .filter(|c| !c.is_control())
                .take(32)
                .collect::<String>()
        )));
    }
    Ok(id)
}

fn no_such_org() -> ApiError {
    ApiError::not_found("Organisation not found")
}

async fn list_orgs(State(ctx): State<Arc<Ctx>>, uri: Uri, headers: HeaderMap) -> Response {
    api(&ctx, "listOrganisations", &uri, &headers, |ctx: &Ctx| {
        let p = ListParams::parse(&query(&uri), None)?;
        let all: Vec<Value> = ctx.store().orgs.iter().map(store::Org::render).collect();
        Ok(p.envelope(all, ctx.list_member()))
    })
}

/// The reads of one organisation, each served the same way: the Bearer check, the path's id,
/// the query, then the organisation.
#[derive(Debug, Clone, Copy)]
enum OrgRead {
    Org,
    Plans,
    PlanStatistics,
    UserStatistics,
    StorageStatistics,
}

impl OrgRead {
    /// A name for logs.
    fn name(self) -> &'static str {
        match self {
            OrgRead::Org => "getOrganisation",
            OrgRead::Plans => "listPlans",
            OrgRead::PlanStatistics => "planStatistics",
            OrgRead::UserStatistics => "userStatistics",
            OrgRead::StorageStatistics => "storageStatistics",
        }
    }

    /// The answer: the path's id is checked first, then a list's parameters, then the
    /// organisation is looked up.
    fn run(self, ctx: &Ctx, path: OrgPath, uri: &Uri) -> Result<Value, ApiError> {
        let id = org_id(path)?;
        let member = ctx.list_member();
        let with_org = |read: &dyn Fn(&store::Org) -> Value| {
            ctx.store().org(&id).map(read).ok_or_else(no_such_org)
        };
        match self {
            OrgRead::Org => with_org(&store::Org::render),
            OrgRead::Plans => {
                // The plans list documents at most 100 items a page.
                let p = ListParams::parse(&query(uri), Some(100))?;
                with_org(&|o| p.envelope(o.plans.iter().map(store::Plan::render).collect(), member))
            }
            OrgRead::PlanStatistics => {
                let p = ListParams::parse(&query(uri), None)?;
                with_org(&|o| p.envelope(o.plan_statistics(), member))
            }
            OrgRead::UserStatistics => with_org(&store::Org::user_statistics),
            OrgRead::StorageStatistics => with_org(&store::Org::storage_statistics),
        }
    }
}

fn org_read(ctx: &Ctx, read: OrgRead, path: OrgPath, uri: Uri, headers: HeaderMap) -> Response {
    api(ctx, read.name(), &uri, &headers, |ctx: &Ctx| {
        read.run(ctx, path, &uri)
    })
}

async fn get_org(State(ctx): State<Arc<Ctx>>, p: OrgPath, u: Uri, h: HeaderMap) -> Response {
    org_read(&ctx, OrgRead::Org, p, u, h)
}

async fn list_plans(State(ctx): State<Arc<Ctx>>, p: OrgPath, u: Uri, h: HeaderMap) -> Response {
    org_read(&ctx, OrgRead::Plans, p, u, h)
}

async fn plan_statistics(
    State(ctx): State<Arc<Ctx>>,
    p: OrgPath,
    u: Uri,
    h: HeaderMap,
) -> Response {
    org_read(&ctx, OrgRead::PlanStatistics, p, u, h)
}

async fn user_statistics(
    State(ctx): State<Arc<Ctx>>,
    p: OrgPath,
    u: Uri,
    h: HeaderMap,
) -> Response {
    org_read(&ctx, OrgRead::UserStatistics, p, u, h)
}

async fn storage_statistics(
    State(ctx): State<Arc<Ctx>>,
    p: OrgPath,
    u: Uri,
    h: HeaderMap,
) -> Response {
    org_read(&ctx, OrgRead::StorageStatistics, p, u, h)
}

async fn put_org(
    State(ctx): State<Arc<Ctx>>,
    path: OrgPath,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    api(&ctx, "updateOrganisation", &uri, &headers, |ctx: &Ctx| {
        let id = org_id(path)?;
        let json_body = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("application/json"));
        if !json_body {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Content type must be 'application/json'",
            ));
        }
        let update = Update::parse(&body)?;
        let mut store = ctx.store();
        let org = store.org_mut(&id).ok_or_else(no_such_org)?;
        update.apply(org);
        tracing::info!(sim = "cocoon", org = %id, "organisation updated");
        Ok(org.render())
    })
}

/// The members of an organisation update the simulator changes.
#[derive(Debug, Default)]
struct Update {
    name: Option<String>,
    description: Option<String>,
    quota_mib: Option<u64>,
    admin_email: Option<String>,
    contact_email: Option<String>,
    company_name: Option<String>,
    addressbook_enabled: Option<bool>,
    watermarking_enabled: Option<bool>,
    enforce_mfa: Option<bool>,
}

impl Update {
    /// Reads a body; every member is checked before anything changes. Members the simulator
    /// does not keep are ignored, as Spring's JSON binding does.
    fn parse(body: &[u8]) -> Result<Update, ApiError> {
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("JSON parse error: {e}")))?;
        let obj = v
            .as_object()
            .ok_or_else(|| ApiError::bad_request("JSON parse error: an object is required"))?;
        let text = |key: &str, may_be_empty: bool| -> Result<Option<String>, ApiError> {
            match obj.get(key) {
                None => Ok(None),
                Some(Value::Null) if may_be_empty => Ok(Some(String::new())),
                Some(Value::String(s)) if may_be_empty || !s.trim().is_empty() => {
                    Ok(Some(s.clone()))
                }
                Some(_) => Err(ApiError::bad_request(format!(
                    "{key} must be {}",
                    if may_be_empty {
                        "a string"
                    } else {
                        "a non-blank string"
                    }
                ))),
            }
        };
        let flag = |key: &str| -> Result<Option<bool>, ApiError> {
            match obj.get(key) {
                None => Ok(None),
                Some(Value::Bool(b)) => Ok(Some(*b)),
                Some(_) => Err(ApiError::bad_request(format!(
                    "{key} must be true or false"
                ))),
            }
        };
        let quota_mib = match obj.get("quota") {
            None => None,
            Some(q) => Some(
                q.as_u64()
                    .or_else(|| q.as_str().and_then(|s| s.parse().ok()))
                    .filter(|n| *n > 0)
                    .ok_or_else(|| {
                        ApiError::bad_request("quota must be a positive number of MiB")
                    })?,
            ),
        };
        Ok(Update {
            name: text("name", false)?,
            description: text("description", true)?,
            quota_mib,
            admin_email: text("adminEmail", false)?,
            contact_email: text("contactEmail", false)?,
            company_name: text("companyName", true)?,
            addressbook_enabled: flag("addressbookEnabled")?,
            watermarking_enabled: flag("watermarkingEnabled")?,
            enforce_mfa: flag("enforceMfa")?,
        })
    }

    fn apply(self, org: &mut store::Org) {
        fn set<T>(field: &mut T, value: Option<T>) {
            if let Some(v) = value {
                *field = v;
            }
        }
        set(&mut org.name, self.name);
        set(&mut org.description, self.description);
        set(&mut org.quota_mib, self.quota_mib);
        set(&mut org.admin_email, self.admin_email);
        set(&mut org.contact_email, self.contact_email);
        set(&mut org.company_name, self.company_name);
        set(&mut org.addressbook_enabled, self.addressbook_enabled);
        set(&mut org.watermarking_enabled, self.watermarking_enabled);
        set(&mut org.enforce_mfa, self.enforce_mfa);
    }
}

impl crate::RunningSim for CocoonSim {
    fn server(&self) -> &SimServer {
        &self.server
    }

    fn base_url(&self) -> String {
        CocoonSim::base_url(self)
    }

    fn demo_credentials(&self) -> Vec<(&'static str, String)> {
        vec![
            ("CLIENT_SECRET", DEMO_CLIENT_SECRET.to_owned()),
            ("PASSWORD", DEMO_PASSWORD.to_owned()),
        ]
    }

    fn stop(self: Box<Self>) -> crate::demo::BoxFuture<'static, ()> {
        Box::pin(self.shutdown())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl crate::DemoSim for CocoonSim {
    fn start_demo() -> crate::demo::BoxFuture<'static, std::io::Result<Self>> {
        Box::pin(CocoonSim::start(CocoonConfig::default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_debug_hides_secrets() {
        let text = format!("{:?}", CocoonConfig::default());
        assert!(text.contains(DEMO_USERNAME) && text.contains(DEMO_CLIENT_ID));
        assert!(!text.contains(DEMO_PASSWORD) && !text.contains(DEMO_CLIENT_SECRET));
    }

    #[test]
    fn updates_are_checked_before_they_apply() {
        assert!(Update::parse(br#"{"name": ""}"#).is_err());
        assert!(Update::parse(br#"{"name": "x", "quota": "12x"}"#).is_err());
        assert!(Update::parse(b"[]").is_err());
        assert!(Update::parse(b"not json").is_err());
        let u = Update::parse(br#"{"description": null, "quota": "2048", "extra": 1}"#).unwrap();
        assert_eq!(
            (u.description.as_deref(), u.quota_mib, u.name),
            (Some(""), Some(2048), None)
        );
    }
}
