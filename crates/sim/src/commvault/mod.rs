//! The Commvault REST API's organization (company) pieces, simulated: a real HTTP server on
//! loopback that logs in, keeps sessions, and lists, shows and updates organizations and their
//! plans the way the vendor documents them (the REST API's "PUT Organization" page and the
//! login, organization and plan reference pages) and the way the vendor's Python SDK, cvpysdk 11.44, uses them.
//!
//! # Routes
//! Every route is served under both web-service roots, `/webconsole/api` (what
//! [`CommvaultSim::base_url`] returns) and `/commandcenter/api`. Paths match without regard to
//! case (cvpysdk itself sends `organization` and `Organization`), with or without a trailing
//! slash.
//!
//! | method | path | answer | auth |
//! | --- | --- | --- | --- |
//! | GET | `<root>` | 200 (cvpysdk checks the service with it before logging in) | no |
//! | POST | `Login` | `token`, `userName`, … or `errList` (see `auth.rs`) | no |
//! | POST | `RenewLoginToken` | `{"token"}` or `{"error":{…}}` | `sessionId` in the body |
//! | POST | `Logout` | `User logged out` (text) | yes |
//! | POST, GET | `WhoAmI` | `{"user":{"userName",…},"errorCode":0}` | yes |
//! | GET | `Organization` | `{"providers":[…],"filterQueryCount"}` (see `list.rs`) | yes |
//! | PUT | `Organization[?organizationId=N]` | `{"error":{"errorCode","errorMessage"}}` (see `update.rs`) | yes |
//! | GET | `Organization/{id}` | `{"organizationInfo":{…}}` | yes |
//! | GET | `Organization/{id}/defaultplan` | the default plans; id 0 = the CommCell | yes |
//! | GET | `V2/Plan` | `{"plans":[{"plan":{"planId","planName","entityInfo"},…}]}` | yes |
//! | GET | `V2/Plan/{id}` | `{"plan":{"summary":{…},…}}` | yes |
//! | GET | `V2/Plan/{id}/AssociatedEntities` | `{"entities":[]}` (cvpysdk loads it with a plan) | yes |
//! | GET | `V4/ServerPlan/{id}` | the plan's V4 summary (cvpysdk loads it with a server plan) | yes |
//! | GET | `UserGroup[?parentProvider/providerId=N]` | `{"userGroups":[…]}` | yes |
//!
//! Not simulated (answered 404 or 405 like any unknown route): creating, deleting, activating
//! and locking organizations, and the rest of the product's API.
//!
//! # Order of checks, and what each failure gets
//! 1. A path the API does not have: 404 with an HTML page; a known path with another method:
//!    405 with an HTML page (what the web server in front of the API sends; cvpysdk shows its
//!    `<title>`). Checked before the token, so a typo is not mistaken for an auth problem.
//! 2. `Authtoken` with a live token (see `auth.rs`), else HTTP 401 with the flat error body;
//!    cvpysdk renews its token on 401 and retries.
//! 3. The request: malformed parameters or bodies, unknown organizations or plans are
//!    application errors, HTTP 200 with a non-zero `errorCode` (see `wire.rs` for the shapes and
//!    codes, dialects.md §2.4 for why 200).
//!
//! # Response format
//! JSON unless `Accept` asks for XML only (see `wire.rs`). XML root elements:
//! `DM2ContentIndexing_CheckCredentialResp` (Login, RenewLoginToken),
//! `CvEntities_ProcessingInstructionInfo` (WhoAmI, as cvpysdk reads it), and the simulator's own
//! `App_GenericResp` (PUT results, errors), `Api_GetOrganizationsResp`,
//! `Api_GetOrganizationPropertiesResp` (one organization, default plans), `Api_GetPlansResp`,
//! `Api_GetPlanResp`, `Api_GetEntitiesResp`, `Api_GetUserGroupsResp`. Logout answers plain text
//! and the root answers a short text either way.
//!
//! # Fault knobs
//! Through [`SimServer::faults`]: a forced status answers the flat error body with the status
//! as its code (`{"errorCode":503,"errorMessage":"Service Unavailable"}`); a malformed body is
//! the HTML error page (`text/html`, with a `<title>` cvpysdk would extract) that a web server
//! in front of the API sends when the application behind it fails.
//!
//! Module map: `auth` sessions and tokens, `store` plans, organizations and the demo data,
//! `list` the list parameters, `update` `PUT Organization`, `xml` XML in and out, `wire`
//! formats, error bodies and fault styles.

mod auth;
mod list;
mod store;
mod update;
mod wire;
mod xml;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Uri, header};
use serde_json::{Value, json};

use crate::SimServer;
use crate::server::FaultStyle;
use auth::{LoginRequest, Sessions};
use list::ListParams;
use store::Store;
use update::Update;
use wire::{AppError, Code, Format};

pub use store::ACME_AUTH_CODE;

/// The user the default configuration knows.
pub const DEMO_USERNAME: &str = "admin";
/// That user's password (plain; the wire carries it base64-encoded).
pub const DEMO_PASSWORD: &str = "demo-password";

/// The web-service roots the simulator serves, lowercase.
const ROOTS: [&str; 2] = ["/webconsole/api", "/commandcenter/api"];

/// How the vendor's errors and broken bodies look, for the fault knobs.
const FAULT_STYLE: FaultStyle = FaultStyle {
    error_body: wire::fault_error_body,
    malformed: wire::fault_malformed_body,
};

/// What a simulated CommCell holds and accepts.
#[derive(Clone, PartialEq, Eq)]
pub struct CommvaultConfig {
    /// Users who may log in: (username, password). Passwords are plain here; the wire carries
    /// them base64-encoded.
    pub users: Vec<(String, String)>,
    /// How long a token lives without being used ("expires after 30 minutes of inactivity");
    /// a login's own `timeout` overrides it for that session.
    pub token_idle_timeout: Duration,
    /// Start with the demo plans and companies instead of an empty CommCell.
    pub seed_demo_data: bool,
}

impl Default for CommvaultConfig {
    fn default() -> Self {
        CommvaultConfig {
            users: vec![(DEMO_USERNAME.to_owned(), DEMO_PASSWORD.to_owned())],
            token_idle_timeout: Duration::from_secs(30 * 60),
            seed_demo_data: true,
        }
    }
}

// Written by hand so that passwords never reach a log line through `{:?}`.
impl fmt::Debug for CommvaultConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let users: Vec<&str> = self.users.iter().map(|(u, _)| u.as_str()).collect();
        f.debug_struct("CommvaultConfig")
            .field("users", &users)
            .field("passwords", &"<redacted>")
            .field("token_idle_timeout", &self.token_idle_timeout)
            .field("seed_demo_data", &self.seed_demo_data)
            .finish()
    }
}

/// State shared by the handlers.
#[derive(Debug)]
struct Ctx {
    sessions: Mutex<Sessions>,
    store: Mutex<Store>,
    /// Test knob: `GET Organization` answers the whole list, without `filterQueryCount`,
    /// whatever `start` and `limit` say (the plain listing of dialects.md §2.3, which shows no
    /// paging).
    whole_lists: std::sync::atomic::AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Ctx {
    fn sessions(&self) -> MutexGuard<'_, Sessions> {
        lock(&self.sessions)
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }
}

/// A running Commvault simulator.
#[derive(Debug)]
pub struct CommvaultSim {
    server: SimServer,
    ctx: Arc<Ctx>,
}

impl CommvaultSim {
    /// Starts the simulator on `127.0.0.1:0`.
    pub async fn start(config: CommvaultConfig) -> std::io::Result<CommvaultSim> {
        let ctx = Arc::new(Ctx {
            sessions: Mutex::new(Sessions::new(&config.users, config.token_idle_timeout)),
            store: Mutex::new(Store::new(config.seed_demo_data)),
            whole_lists: Default::default(),
        });
        let router = Router::new().fallback(dispatch).with_state(ctx.clone());
        let server = SimServer::start("commvault", router, FAULT_STYLE).await?;
        tracing::info!(
            sim = "commvault",
            addr = %server.addr(),
            users = config.users.len(),
            orgs = ctx.store().orgs.len(),
            "simulator started"
        );
        Ok(CommvaultSim { server, ctx })
    }

    /// The underlying server: address, request log, fault knobs.
    pub fn server(&self) -> &SimServer {
        &self.server
    }

    /// The web-service root, `http://127.0.0.1:PORT/webconsole/api` (no trailing slash): what
    /// the docs call `<webservice>` and cvpysdk `web_service_url`.
    pub fn base_url(&self) -> String {
        format!("{}{}", self.server.base_url(), "/webconsole/api")
    }

    /// Successful `POST Login` calls so far.
    pub fn logins(&self) -> usize {
        self.ctx.sessions().logins
    }

    /// Refused `POST Login` calls so far.
    pub fn failed_logins(&self) -> usize {
        self.ctx.sessions().failed_logins
    }

    /// Successful `POST RenewLoginToken` calls so far.
    pub fn renewals(&self) -> usize {
        self.ctx.sessions().renewals
    }

    /// Test knob: every token issued so far is dead, as if idle too long. Sessions that logged
    /// in with a `deviceId` can still be renewed with it.
    pub fn expire_all_tokens(&self) {
        self.ctx.sessions().expire_all();
        tracing::info!(sim = "commvault", "all tokens expired");
    }

    /// Test knob: when false, `RenewLoginToken` refuses every token.
    pub fn set_renewal_allowed(&self, allowed: bool) {
        self.ctx.sessions().set_renewal_allowed(allowed);
    }

    /// Test knob: `GET Organization` ignores `start` and `limit` and answers every org,
    /// without `filterQueryCount`, as a CommCell whose listing does not page.
    pub fn set_whole_lists(&self, whole: bool) {
        self.ctx
            .whole_lists
            .store(whole, std::sync::atomic::Ordering::Relaxed);
    }

    /// A valid `QSDK …` token for a configured user (names compare without regard to case), as
    /// if they had logged in without a device id — for setups that use a static authtoken.
    /// Not counted as a login. `None` for an unknown user.
    pub fn issue_token(&self, username: &str) -> Option<String> {
        self.ctx.sessions().issue_for(username)
    }

    /// The organization ids, ascending.
    pub fn org_ids(&self) -> Vec<u64> {
        self.ctx.store().org_ids()
    }

    /// What `GET Organization/{id}` would answer (JSON), or `None` for an unknown id.
    pub fn org(&self, id: u64) -> Option<Value> {
        let store = self.ctx.store();
        store.org(id).map(|o| store.render_org(o))
    }

    /// Test knob: adds a CommCell plan (a server plan) named exactly `name` and returns its id;
    /// a plan of that exact name already there is returned instead. Useful for names the demo
    /// data does not have, such as ones full of XML metacharacters.
    pub fn add_plan(&self, name: &str) -> u64 {
        self.ctx.store().add_plan(name, store::SUBTYPE_SERVER)
    }

    /// Stops the server, letting in-flight requests finish.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// The routes, with their path parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Root,
    Login,
    Renew,
    Logout,
    WhoAmI,
    Organizations,
    Organization(Option<u64>),
    DefaultPlans(Option<u64>),
    Plans,
    Plan(Option<u64>),
    PlanEntities(Option<u64>),
    ServerPlanV4(Option<u64>),
    UserGroups,
}

impl Route {
    /// The route for a path (already stripped of its root), or `None`. An id that is not a
    /// number still finds the route, so it can be answered as a bad request.
    fn find(rest: &str) -> Option<Route> {
        let lower = rest.to_ascii_lowercase();
        let segments: Vec<&str> = lower.split('/').filter(|s| !s.is_empty()).collect();
        let id = |s: &str| s.parse::<u64>().ok();
        Some(match segments.as_slice() {
            [] => Route::Root,
            ["login"] => Route::Login,
            ["renewlogintoken"] => Route::Renew,
            ["logout"] => Route::Logout,
            ["whoami"] => Route::WhoAmI,
            ["organization"] => Route::Organizations,
            ["organization", org] => Route::Organization(id(org)),
            ["organization", org, "defaultplan"] => Route::DefaultPlans(id(org)),
            ["v2", "plan"] => Route::Plans,
            ["v2", "plan", plan] => Route::Plan(id(plan)),
            ["v2", "plan", plan, "associatedentities"] => Route::PlanEntities(id(plan)),
            ["v4", "serverplan", plan] => Route::ServerPlanV4(id(plan)),
            ["usergroup"] => Route::UserGroups,
            _ => return None,
        })
    }

    fn allows(self, method: &Method) -> bool {
        match self {
            Route::Login | Route::Renew | Route::Logout => method == Method::POST,
            Route::WhoAmI => method == Method::POST || method == Method::GET,
            Route::Organizations => method == Method::GET || method == Method::PUT,
            Route::Root
            | Route::Organization(_)
            | Route::DefaultPlans(_)
            | Route::Plans
            | Route::Plan(_)
            | Route::PlanEntities(_)
            | Route::ServerPlanV4(_)
            | Route::UserGroups => method == Method::GET,
        }
    }

    fn needs_token(self) -> bool {
        !matches!(self, Route::Root | Route::Login | Route::Renew)
    }

    /// A name for logs.
    fn name(self, method: &Method) -> &'static str {
        match self {
            Route::Root => "root",
            Route::Login => "login",
            Route::Renew => "renewLoginToken",
            Route::Logout => "logout",
            Route::WhoAmI => "whoAmI",
            Route::Organizations if method == Method::PUT => "updateOrganization",
            Route::Organizations => "listOrganizations",
            Route::Organization(_) => "getOrganization",
            Route::DefaultPlans(_) => "getDefaultPlans",
            Route::Plans => "listPlans",
            Route::Plan(_) => "getPlan",
            Route::PlanEntities(_) => "getPlanEntities",
            Route::ServerPlanV4(_) => "getServerPlanV4",
            Route::UserGroups => "listUserGroups",
        }
    }
}

/// The path below a web-service root, if the path is under one.
fn strip_root(path: &str) -> Option<&str> {
    ROOTS.iter().find_map(|root| {
        let head = path.get(..root.len())?;
        let rest = &path[root.len()..];
        (head.eq_ignore_ascii_case(root) && (rest.is_empty() || rest.starts_with('/')))
            .then_some(rest)
    })
}

fn query_param(uri: &Uri, name: &str) -> Option<String> {
    form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.into_owned())
}

async fn dispatch(
    State(ctx): State<Arc<Ctx>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(route) = strip_root(uri.path()).and_then(Route::find) else {
        tracing::debug!(sim = "commvault", %method, path = uri.path(), "unknown route");
        return wire::html_page(StatusCode::NOT_FOUND);
    };
    if !route.allows(&method) {
        tracing::debug!(sim = "commvault", %method, path = uri.path(), "method not allowed");
        return wire::html_page(StatusCode::METHOD_NOT_ALLOWED);
    }
    let action = route.name(&method);
    let format = Format::from_headers(&headers);
    let authtoken = headers.get("authtoken").and_then(|v| v.to_str().ok());
    let user = if route.needs_token() {
        match ctx.sessions().authenticate(authtoken) {
            Some(user) => Some(user),
            None => {
                tracing::debug!(
                    sim = "commvault",
                    action,
                    token_present = authtoken.is_some(),
                    "authtoken refused"
                );
                return wire::http_error(
                    StatusCode::UNAUTHORIZED,
                    "Authentication token is missing, invalid or expired",
                );
            }
        }
    } else {
        None
    };
    let call = Call {
        route,
        method: &method,
        uri: &uri,
        headers: &headers,
        body: &body,
        user,
        format,
    };
    let response = serve(&ctx, call);
    tracing::debug!(
        sim = "commvault",
        action,
        status = response.status().as_u16(),
        "request served"
    );
    response
}

/// One routed, authorised request.
struct Call<'a> {
    route: Route,
    method: &'a Method,
    uri: &'a Uri,
    headers: &'a HeaderMap,
    body: &'a [u8],
    /// The token's user, for routes that need a token.
    user: Option<String>,
    format: Format,
}

/// Serves one routed, authorised request.
fn serve(ctx: &Ctx, call: Call<'_>) -> Response {
    let Call {
        route,
        method,
        uri,
        headers,
        body,
        user,
        format,
    } = call;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let ok = |root: &str, value: &Value| format.respond(StatusCode::OK, root, value);
    let flat = |e: AppError| format.respond(StatusCode::OK, "App_GenericResp", &e.flat());
    let bad_id = || AppError::invalid("The id in the path must be a number");
    match route {
        Route::Root => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "Commvault REST API (simulated)",
        )
            .into_response(),
        Route::Login => {
            let request = xml::read_request(
                content_type,
                body,
                "DM2ContentIndexing_CheckCredentialReq",
                &[],
            )
            .and_then(|v| LoginRequest::from_value(&v));
            let answer = ctx.sessions().login(request);
            ok("DM2ContentIndexing_CheckCredentialResp", &answer)
        }
        Route::Renew => {
            // A body that cannot be read is answered like one without a sessionId.
            let request =
                xml::read_request(content_type, body, "DM2ContentIndexing_RenewTokenReq", &[])
                    .unwrap_or(Value::Null);
            let answer = ctx.sessions().renew(&request);
            ok("DM2ContentIndexing_CheckCredentialResp", &answer)
        }
        Route::Logout => {
            let token = headers.get("authtoken").and_then(|v| v.to_str().ok());
            ctx.sessions().logout(token);
            tracing::info!(
                sim = "commvault",
                user = user.as_deref().unwrap_or(""),
                "logged out"
            );
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "User logged out",
            )
                .into_response()
        }
        Route::WhoAmI => {
            let answer = ctx.sessions().who_am_i(user.as_deref().unwrap_or(""));
            ok("CvEntities_ProcessingInstructionInfo", &answer)
        }
        Route::Organizations if *method == Method::PUT => {
            let query_id = query_param(uri, "organizationId");
            let result = Update::parse(content_type, body, query_id.as_deref())
                .and_then(|u| u.apply(&mut ctx.store()));
            let answer = match result {
                Ok(id) => {
                    tracing::info!(sim = "commvault", org_id = id, "organization updated");
                    wire::success()
                }
                Err(e) => {
                    tracing::debug!(sim = "commvault", code = e.code as i64, message = %e.message, "update refused");
                    e.nested()
                }
            };
            ok("App_GenericResp", &answer)
        }
        Route::Organizations => match ListParams::from_query(uri.query()) {
            Ok(params) => {
                let providers = {
                    let store = ctx.store();
                    store
                        .orgs
                        .iter()
                        .map(|o| store.render_provider(o))
                        .collect()
                };
                let answer = if ctx.whole_lists.load(std::sync::atomic::Ordering::Relaxed) {
                    serde_json::json!({ "providers": providers })
                } else {
                    params.apply(providers)
                };
                ok("Api_GetOrganizationsResp", &answer)
            }
            Err(e) => flat(e),
        },
        Route::Organization(id) => {
            let Some(id) = id else { return flat(bad_id()) };
            let store = ctx.store();
            match store.org(id) {
                Some(org) => ok("Api_GetOrganizationPropertiesResp", &store.render_org(org)),
                None => flat(no_such_org(id)),
            }
        }
        Route::DefaultPlans(id) => {
            let Some(id) = id else { return flat(bad_id()) };
            match ctx.store().render_default_plans(id) {
                Some(v) => ok("Api_GetOrganizationPropertiesResp", &v),
                None => flat(no_such_org(id)),
            }
        }
        Route::Plans => ok("Api_GetPlansResp", &ctx.store().render_plans()),
        Route::Plan(id) | Route::PlanEntities(id) | Route::ServerPlanV4(id) => {
            let Some(id) = id else { return flat(bad_id()) };
            let store = ctx.store();
            let plan = store.plan(id).filter(|p| {
                route != Route::ServerPlanV4(Some(id)) || p.subtype == store::SUBTYPE_SERVER
            });
            match (plan, route) {
                (None, _) => flat(AppError::new(
                    Code::NoSuchPlan,
                    format!("Plan [{id}] does not exist"),
                )),
                (Some(_), Route::PlanEntities(_)) => {
                    ok("Api_GetEntitiesResp", &json!({ "entities": [] }))
                }
                (Some(plan), Route::ServerPlanV4(_)) => {
                    ok("Api_GetPlanResp", &store.render_server_plan_v4(plan))
                }
                (Some(plan), _) => ok("Api_GetPlanResp", &store.render_plan(plan)),
            }
        }
        Route::UserGroups => {
            let provider = query_param(uri, "parentProvider/providerId");
            let provider = match provider.as_deref().map(str::parse::<u64>) {
                None => None,
                Some(Ok(id)) => Some(id),
                Some(Err(_)) => {
                    return flat(AppError::invalid(
                        "parentProvider/providerId must be a number",
                    ));
                }
            };
            ok(
                "Api_GetUserGroupsResp",
                &ctx.store().render_user_groups(provider),
            )
        }
    }
}

fn no_such_org(id: u64) -> AppError {
    AppError::new(
        Code::NoSuchOrganization,
        format!("Organization [{id}] does not exist"),
    )
}

impl crate::RunningSim for CommvaultSim {
    fn server(&self) -> &SimServer {
        &self.server
    }

    fn base_url(&self) -> String {
        CommvaultSim::base_url(self)
    }

    fn demo_credentials(&self) -> Vec<(&'static str, String)> {
        vec![("PASSWORD", DEMO_PASSWORD.to_owned())]
    }

    fn stop(self: Box<Self>) -> crate::demo::BoxFuture<'static, ()> {
        Box::pin(self.shutdown())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl crate::DemoSim for CommvaultSim {
    fn start_demo() -> crate::demo::BoxFuture<'static, std::io::Result<Self>> {
        Box::pin(CommvaultSim::start(CommvaultConfig::default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_and_routes_match_without_case() {
        assert_eq!(strip_root("/webconsole/api"), Some(""));
        assert_eq!(strip_root("/CommandCenter/API/Login"), Some("/Login"));
        assert_eq!(strip_root("/webconsole/apix"), None);
        assert_eq!(strip_root("/api/Login"), None);
        assert_eq!(
            Route::find("/ORGANIZATION/7/"),
            Some(Route::Organization(Some(7)))
        );
        assert_eq!(
            Route::find("/organization/x"),
            Some(Route::Organization(None))
        );
        assert_eq!(
            Route::find("/v2/PLAN/3/associatedEntities"),
            Some(Route::PlanEntities(Some(3)))
        );
        assert_eq!(Route::find("/Organization/7/action/lock"), None);
    }

    #[test]
    fn config_debug_hides_passwords() {
        let text = format!("{:?}", CommvaultConfig::default());
        assert!(text.contains(DEMO_USERNAME));
        assert!(!text.contains(DEMO_PASSWORD));
    }
}
