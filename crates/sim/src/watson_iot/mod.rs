//! The IBM Watson IoT Platform API v0002, simulated: organization and usage, over HTTPS with a
//! certificate generated at start, one server for every org.
//!
//! Written from the View Organization document (`watson-iot-view-organization.rst`), the 2019
//! "Organization Administration" swagger's models as dialects.md §5 records them, and what the
//! vendor's Python clients (ibmiotf 0.4.0, wiotp-sdk 1.0.1) send and read.
//!
//! # Routes (below `https://{org}.{domain}`, the API root being `/api/v0002`)
//! | method | path | answer |
//! | --- | --- | --- |
//! | GET | `/api/v0002/` | 200 `Organization` (View Organization) |
//! | GET | `/api/v0002/usage/data-traffic?start=&end=&detail=` | 200 `DataTraffic` |
//! | GET | `/api/v0002/usage/active-devices?start=&end=&detail=` | 200, the same shape |
//! | GET | `/api/v0002/service-status` | 200 `{region: {messaging, dashboard, thirdParty}}` |
//!
//! # Which org, and the order of checks
//! The org is the first label of the `Host` header when the rest is the configured domain
//! (`abc123.internetofthings.ibmcloud.com`); otherwise (a client aimed at `127.0.0.1:PORT`) it
//! is the org of the API key in the Basic credentials (`a-{org}-{random}`), as dialects.md §5.5
//! says a simulator must. Then:
//! 1. A path or method the API does not have: 404 (405 for a known path), whatever the
//!    credentials.
//! 2. An org named by the host that does not exist: 404 "The organization does not exist".
//! 3. No `Authorization`, or an empty token: 401 "The authentication token is empty or invalid".
//! 4. Not HTTP Basic, or an API key that does not exist in this org: 403 "The authentication
//!    method is invalid or the API key used does not exist".
//! 5. A wrong token for a known key: 401.
//! 6. The query (usage routes): 400 `CUDRS0007E` with one `CUDRS0012E` violation per problem.
//!
//! Decided here, where the documents are silent: the document says a disabled org has "all API
//! calls rejected", but then `enabled: false` could never be read; the simulator serves a
//! disabled org's reads (its usage figures are zero: its messaging is off). Usage units and
//! shapes are decided in `usage`. Errors carry message ids described in `error`.
//!
//! Module map: `store` the orgs, keys and demo data; `usage` the usage routes; `error` the error
//! body.

mod error;
mod store;
mod usage;

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use http::{HeaderMap, Method, StatusCode, Uri, header};
use serde_json::{Value, json};

pub use store::{ApiKey, Bluemix, OrgSeed, demo_key, demo_orgs, demo_token};

use crate::SimServer;
use crate::server::FaultStyle;
use crate::tls::SimTls;
use error::{ApiError, json_response};
use store::{Store, key_org};
use usage::UsageQuery;

/// The vendor's public domain: an org's API host is `{org}.internetofthings.ibmcloud.com`.
pub const DEFAULT_DOMAIN: &str = "internetofthings.ibmcloud.com";
/// The View Organization document's example org, one of the demo orgs.
pub const DEMO_ORG_ID: &str = "ab8de4";
/// A second enabled demo org (its Bluemix block in the swagger's spelling).
pub const DEMO_ORG_2: &str = "abc123";
/// The demo org that is disabled.
pub const DEMO_DISABLED_ORG: &str = "q7w3e9";

/// The demo tokens by the name the demo routing file gives them (`TOKEN_<ORG>`), one per demo
/// org.
const DEMO_TOKENS: [(&str, &str); 4] = [
    ("TOKEN_AB8DE4", "ab8de4"),
    ("TOKEN_ABC123", "abc123"),
    ("TOKEN_XYZ789", "xyz789"),
    ("TOKEN_Q7W3E9", "q7w3e9"),
];

/// How the vendor's errors and broken bodies look, for the fault knobs.
const FAULT_STYLE: FaultStyle = FaultStyle {
    error_body: error::fault_error_body,
    malformed: error::fault_malformed_body,
};

/// What a simulated Watson IoT Platform holds and accepts.
#[derive(Clone, PartialEq, Eq)]
pub struct WatsonIotConfig {
    /// The domain org ids are the first label of.
    pub domain: String,
    /// The orgs (the demo orgs by default).
    pub orgs: Vec<OrgSeed>,
    /// The API keys accepted, each for the org its middle part names (one demo key per demo
    /// org by default).
    pub keys: Vec<ApiKey>,
}

impl Default for WatsonIotConfig {
    fn default() -> Self {
        WatsonIotConfig {
            domain: DEFAULT_DOMAIN.to_owned(),
            orgs: store::demo_orgs(),
            keys: store::demo_keys(),
        }
    }
}

// Written by hand so that tokens never reach a log line through `{:?}`.
impl fmt::Debug for WatsonIotConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatsonIotConfig")
            .field("domain", &self.domain)
            .field("orgs", &self.orgs.len())
            .field("keys", &self.keys)
            .finish()
    }
}

/// State shared by the handlers.
#[derive(Debug)]
struct Ctx {
    domain: String,
    store: Mutex<Store>,
    /// Requests refused with 401 or 403.
    refused: AtomicUsize,
}

impl Ctx {
    fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running Watson IoT simulator.
#[derive(Debug)]
pub struct WatsonIotSim {
    server: SimServer,
    tls: SimTls,
    ctx: Arc<Ctx>,
}

impl WatsonIotSim {
    /// Starts the simulator on `127.0.0.1:0`, over TLS with a freshly generated CA.
    pub async fn start(config: WatsonIotConfig) -> std::io::Result<WatsonIotSim> {
        let domain = config.domain.trim_matches('.').to_ascii_lowercase();
        if domain.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "watson-iot simulator: the domain is empty",
            ));
        }
        // Every org's host name, and the loopback address the SDK checks are aimed at.
        let names = vec![
            format!("*.{domain}"),
            domain.clone(),
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ];
        let tls = SimTls::generate("watson-iot", &names)?;
        let ctx = Arc::new(Ctx {
            domain,
            store: Mutex::new(Store::new(config.orgs, config.keys)),
            refused: AtomicUsize::new(0),
        });
        let server = SimServer::start_tls(
            "watson-iot",
            router(ctx.clone()),
            FAULT_STYLE,
            tls.server_config(),
        )
        .await?;
        tracing::info!(
            sim = "watson-iot",
            addr = %server.addr(),
            domain = %ctx.domain,
            orgs = ctx.lock().org_ids().len(),
            "simulator started"
        );
        Ok(WatsonIotSim { server, tls, ctx })
    }

    /// The underlying server: address, request log, fault knobs.
    pub fn server(&self) -> &SimServer {
        &self.server
    }

    /// `https://127.0.0.1:PORT/api/v0002`: the API root, reachable directly (the org is then
    /// the API key's) or, with [`WatsonIotSim::host`] as the host name, for any org.
    pub fn base_url(&self) -> String {
        format!("{}/api/v0002", self.server.base_url())
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.server.addr()
    }

    /// The domain org ids are the first label of.
    pub fn domain(&self) -> &str {
        &self.ctx.domain
    }

    /// An org's host name: `{org}.{domain}`.
    pub fn host(&self, org: &str) -> String {
        format!("{org}.{}", self.ctx.domain)
    }

    /// The file holding the CA certificate the server's certificate is signed by.
    pub fn ca_file(&self) -> &Path {
        self.tls.ca_file()
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        self.tls.ca_pem()
    }

    /// The ids of the orgs held.
    pub fn org_ids(&self) -> Vec<String> {
        self.ctx.lock().org_ids()
    }

    /// An org as `GET /api/v0002/` returns it.
    pub fn org(&self, id: &str) -> Option<Value> {
        self.ctx.lock().org(id).map(OrgSeed::render)
    }

    /// Enables or disables an org; false if there is no such org.
    pub fn set_enabled(&self, id: &str, enabled: bool) -> bool {
        match self.ctx.lock().org_mut(id) {
            Some(o) => {
                o.enabled = enabled;
                true
            }
            None => false,
        }
    }

    /// How many requests were refused with 401 or 403.
    pub fn refused(&self) -> usize {
        self.ctx.refused.load(Ordering::Relaxed)
    }

    /// Stops the server, letting in-flight requests finish.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

fn router(ctx: Arc<Ctx>) -> Router {
    Router::new()
        .route("/api/v0002/", get(view_org))
        .route("/api/v0002", get(view_org))
        .route("/api/v0002/usage/data-traffic", get(data_traffic))
        .route("/api/v0002/usage/active-devices", get(active_devices))
        .route("/api/v0002/service-status", get(service_status))
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
        .with_state(ctx)
}

async fn unknown_route(method: Method, uri: Uri) -> Response {
    ApiError::no_route(&method, uri.path()).into_response()
}

async fn wrong_method(method: Method, uri: Uri) -> Response {
    ApiError::method_not_allowed(&method, uri.path()).into_response()
}

/// The routes, each a view of one org.
#[derive(Debug, Clone, Copy)]
enum Action {
    ViewOrg,
    DataTraffic,
    ActiveDevices,
    ServiceStatus,
}

async fn view_org(State(ctx): State<Arc<Ctx>>, uri: Uri, headers: HeaderMap) -> Response {
    handle(&ctx, Action::ViewOrg, &uri, &headers)
}

async fn data_traffic(State(ctx): State<Arc<Ctx>>, uri: Uri, headers: HeaderMap) -> Response {
    handle(&ctx, Action::DataTraffic, &uri, &headers)
}

async fn active_devices(State(ctx): State<Arc<Ctx>>, uri: Uri, headers: HeaderMap) -> Response {
    handle(&ctx, Action::ActiveDevices, &uri, &headers)
}

async fn service_status(State(ctx): State<Arc<Ctx>>, uri: Uri, headers: HeaderMap) -> Response {
    handle(&ctx, Action::ServiceStatus, &uri, &headers)
}

fn handle(ctx: &Ctx, action: Action, uri: &Uri, headers: &HeaderMap) -> Response {
    match serve(ctx, action, uri, headers) {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => {
            if matches!(e.status.as_u16(), 401 | 403) {
                ctx.refused.fetch_add(1, Ordering::Relaxed);
            }
            tracing::debug!(sim = "watson-iot", ?action, status = e.status.as_u16(), id = %e.id, "request refused");
            e.into_response()
        }
    }
}

/// The org the `Host` header names, when it is `{org}.{domain}` (any port, any case).
fn host_org(headers: &HeaderMap, domain: &str) -> Option<String> {
    let host = headers
        .get(header::HOST)?
        .to_str()
        .ok()?
        .to_ascii_lowercase();
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name.to_owned(),
        _ => host,
    };
    let (label, rest) = name.split_once('.')?;
    (rest == domain && store::is_org_id(label)).then(|| label.to_owned())
}

/// The Basic credentials, if the header is Basic: `Some(Ok((key, token)))`; `Some(Err(()))`
/// for any other scheme or an undecodable value; `None` without the header.
fn basic(headers: &HeaderMap) -> Option<Result<(String, String), ()>> {
    let value = headers.get(header::AUTHORIZATION)?;
    let parsed = value
        .to_str()
        .ok()
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("basic").then(|| rest.trim())
        })
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|text| {
            let (key, token) = text.split_once(':')?;
            Some((key.to_owned(), token.to_owned()))
        });
    Some(parsed.ok_or(()))
}

/// Works out the org and checks the credentials (steps 2–5 of the module docs). Neither the
/// token nor the header is ever logged or echoed.
fn authorize(ctx: &Ctx, headers: &HeaderMap) -> Result<OrgSeed, ApiError> {
    let creds = basic(headers);
    let org_id = match host_org(headers, &ctx.domain) {
        Some(org) => org,
        None => match &creds {
            Some(Ok((key, _))) => key_org(key).ok_or_else(ApiError::forbidden)?.to_owned(),
            Some(Err(())) => return Err(ApiError::forbidden()),
            None => return Err(ApiError::unauthorized()),
        },
    };
    let store = ctx.lock();
    let org = store
        .org(&org_id)
        .ok_or_else(|| ApiError::no_org(&org_id))?;
    let (key, token) = match creds {
        None => return Err(ApiError::unauthorized()),
        Some(Err(())) => return Err(ApiError::forbidden()),
        Some(Ok(pair)) => pair,
    };
    if token.is_empty() {
        return Err(ApiError::unauthorized());
    }
    let expected = match store.token(&key) {
        Some(t) if key_org(&key) == Some(org_id.as_str()) => t,
        _ => return Err(ApiError::forbidden()),
    };
    if expected != token {
        return Err(ApiError::unauthorized());
    }
    Ok(org.clone())
}

fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

fn serve(ctx: &Ctx, action: Action, uri: &Uri, headers: &HeaderMap) -> Result<Value, ApiError> {
    let org = authorize(ctx, headers)?;
    match action {
        Action::ViewOrg => Ok(org.render()),
        Action::DataTraffic => {
            let q = UsageQuery::parse(uri.query())?;
            Ok(usage::data_traffic(&org, &q, today()))
        }
        Action::ActiveDevices => {
            let q = UsageQuery::parse(uri.query())?;
            Ok(usage::active_devices(&org, &q, today()))
        }
        Action::ServiceStatus => {
            let region = org.region().unwrap_or("us").to_owned();
            let state = if org.enabled { "green" } else { "red" };
            Ok(
                json!({ region: { "messaging": state, "dashboard": "green", "thirdParty": "green" } }),
            )
        }
    }
}

impl crate::RunningSim for WatsonIotSim {
    fn server(&self) -> &SimServer {
        &self.server
    }

    fn base_url(&self) -> String {
        WatsonIotSim::base_url(self)
    }

    fn demo_credentials(&self) -> Vec<(&'static str, String)> {
        DEMO_TOKENS
            .iter()
            .map(|(name, org)| (*name, demo_token(org)))
            .collect()
    }

    fn demo_settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("ADDR", self.addr().to_string()),
            ("CA_FILE", self.ca_file().display().to_string()),
        ]
    }

    fn stop(self: Box<Self>) -> crate::demo::BoxFuture<'static, ()> {
        Box::pin(self.shutdown())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl crate::DemoSim for WatsonIotSim {
    fn start_demo() -> crate::demo::BoxFuture<'static, std::io::Result<Self>> {
        Box::pin(WatsonIotSim::start(WatsonIotConfig::default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn the_org_comes_from_the_host() {
        let d = DEFAULT_DOMAIN;
        let org = |host: &str| host_org(&headers(&[("host", host)]), d);
        assert_eq!(
            org("abc123.internetofthings.ibmcloud.com").as_deref(),
            Some("abc123")
        );
        assert_eq!(
            org("ABC123.InternetOfThings.ibmcloud.com:443").as_deref(),
            Some("abc123")
        );
        assert_eq!(org("127.0.0.1:8443"), None);
        assert_eq!(org("x.abc123.internetofthings.ibmcloud.com"), None);
        assert_eq!(org("abc123.example.com"), None);
        assert_eq!(org("abc12.internetofthings.ibmcloud.com"), None);
    }

    #[test]
    fn every_demo_org_has_a_demo_token() {
        let orgs: Vec<String> = demo_orgs().into_iter().map(|o| o.id).collect();
        let named: Vec<String> = DEMO_TOKENS.iter().map(|(_, o)| (*o).to_owned()).collect();
        assert_eq!(orgs, named);
        for (name, org) in DEMO_TOKENS {
            assert_eq!(name, format!("TOKEN_{}", org.to_ascii_uppercase()));
        }
    }

    #[test]
    fn basic_credentials() {
        let b64 = base64::engine::general_purpose::STANDARD.encode("a-abc123-x:tok:en");
        let h = headers(&[("authorization", &format!("Basic {b64}"))]);
        assert_eq!(
            basic(&h),
            Some(Ok(("a-abc123-x".to_owned(), "tok:en".to_owned())))
        );
        assert_eq!(
            basic(&headers(&[("authorization", "Bearer x")])),
            Some(Err(()))
        );
        assert_eq!(basic(&HeaderMap::new()), None);
    }
}
