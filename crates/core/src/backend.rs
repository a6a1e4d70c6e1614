//! The `Backend` trait every adapter implements, the per-call context the gateway hands it, and
//! the capability description the gateway checks before it calls.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use bytes::Bytes;

use crate::error::BackendError;
use crate::model::{OrgStatus, Unit};
use crate::op::{OpKind, Operation, Output, PatchField};
use crate::query::{Interval, Metric, SortField};
use crate::secret::{ConfigError, SecretSource};
use crate::transport::{BoxFuture, RequestLimits, Transport, TransportError};

/// The header that carries the request id to backends (a name built once: a name given as a
/// `&str` is parsed at each use).
pub const REQUEST_ID_HEADER: http::HeaderName = http::HeaderName::from_static("x-request-id");

/// Whether a method is safe (RFC 9110 §9.2.1): it asks for nothing to change, so a request of
/// it may be sent again and is never the change a write makes.
pub fn is_safe_method(method: &http::Method) -> bool {
    matches!(
        *method,
        http::Method::GET | http::Method::HEAD | http::Method::OPTIONS
    )
}

/// Marks a request that obtains or renews the gateway's own credentials (a login, a token
/// grant; see `Call::credential_exchange`): whatever its method, it is never the change a write
/// asks for.
#[derive(Debug, Clone, Copy)]
pub struct CredentialExchange;

/// The changes a call put on their way to the backend (requests of a method that may change
/// something, credential exchanges aside), those that never left (no connection, TLS refused, a
/// request that could not be sent), and whether the backend acknowledged making the change.
/// Shared by the context's clones.
#[derive(Debug, Default)]
struct Changes {
    started: AtomicU32,
    unsent: AtomicU32,
    applied: AtomicBool,
    /// The steps of a change made in several requests: those made, and the one being made.
    steps: std::sync::Mutex<(Vec<&'static str>, Option<&'static str>)>,
}

/// Everything an adapter may use for one call besides its own configuration.
#[derive(Clone)]
pub struct CallContext {
    request_id: Arc<str>,
    include_raw: bool,
    transport: Arc<dyn Transport>,
    limits: Option<RequestLimits>,
    changes: Arc<Changes>,
}

impl fmt::Debug for CallContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallContext")
            .field("request_id", &self.request_id)
            .field("include_raw", &self.include_raw)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl CallContext {
    /// A context for one call.
    pub fn new(request_id: Arc<str>, include_raw: bool, transport: Arc<dyn Transport>) -> Self {
        CallContext {
            request_id,
            include_raw,
            transport,
            limits: None,
            changes: Arc::default(),
        }
    }

    /// Whether a request that may change something was put on its way to the backend through
    /// this context (or a clone): sent, or sending when the call ended. A credential exchange
    /// does not count, nor a request that never left (no connection, TLS refused), nor one the
    /// backend refused for its credentials (`401`).
    pub fn change_sent(&self) -> bool {
        self.changes.started.load(Ordering::Acquire) > self.changes.unsent.load(Ordering::Acquire)
    }

    /// Records that the backend acknowledged making the change a write asked for: whatever
    /// fails after it (reading its result back, or the call's deadline while it does) leaves the
    /// change made, and says so (`BackendError::after_change`).
    pub fn change_applied(&self) {
        self.changes.applied.store(true, Ordering::Release);
    }

    /// Whether [`CallContext::change_applied`] was recorded through this context or a clone.
    pub fn is_change_applied(&self) -> bool {
        self.changes.applied.load(Ordering::Acquire)
    }

    fn steps_held(&self) -> std::sync::MutexGuard<'_, (Vec<&'static str>, Option<&'static str>)> {
        self.changes.steps.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that step `step` of a change made in several requests is being made. With
    /// [`CallContext::step_made`], the gateway can say which steps were made (`details.step`,
    /// `details.completed`) of a write its deadline cut short, which the adapter cannot.
    pub fn step_making(&self, step: &'static str) {
        self.steps_held().1 = Some(step);
    }

    /// Records that the step being made was made.
    pub fn step_made(&self) {
        let mut held = self.steps_held();
        if let Some(step) = held.1.take() {
            held.0.push(step);
        }
    }

    /// The steps made, in order, and the one being made, as recorded through this context or
    /// a clone.
    pub fn steps(&self) -> (Vec<&'static str>, Option<&'static str>) {
        self.steps_held().clone()
    }

    /// With the backend's limits on every request sent through this context.
    pub fn with_limits(mut self, limits: RequestLimits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// The backend's time limit for one exchange, which is also the deadline of a credential
    /// refresh (`credential::DEFAULT_REFRESH_DEADLINE` when the gateway set none).
    pub fn timeout(&self) -> std::time::Duration {
        self.limits
            .map_or(crate::credential::DEFAULT_REFRESH_DEADLINE, |l| l.timeout)
    }

    /// The request id the caller's request carries.
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// Whether the caller asked for the backend's own record (`include=raw`); adapters skip the
    /// extra parse when not.
    pub fn include_raw(&self) -> bool {
        self.include_raw
    }

    /// Sends a request through the shared client, adding the request id so that the backend's
    /// logs and ours can be joined.
    pub fn send(
        &self,
        mut req: http::Request<Bytes>,
    ) -> BoxFuture<'static, Result<http::Response<Bytes>, TransportError>> {
        if let Ok(v) = http::HeaderValue::from_str(&self.request_id) {
            req.headers_mut().insert(REQUEST_ID_HEADER, v);
        }
        if let Some(limits) = self.limits {
            req.extensions_mut().insert(limits);
        }
        let change =
            !is_safe_method(req.method()) && req.extensions().get::<CredentialExchange>().is_none();
        if !change {
            return self.transport.send(req);
        }
        // Counted before it leaves: a call ended while it is on its way (its deadline) has
        // sent it, for all it knows.
        self.changes.started.fetch_add(1, Ordering::AcqRel);
        let changes = self.changes.clone();
        let sending = self.transport.send(req);
        Box::pin(async move {
            let result = sending.await;
            // Never left, or refused for its credentials (a 401 is answered before anything
            // is done: an expired session, which a dialect renews and sends the request again).
            let unsent = match &result {
                Err(
                    TransportError::Connect(_)
                    | TransportError::Tls(_)
                    | TransportError::InvalidRequest(_),
                ) => true,
                Ok(resp) => resp.status() == http::StatusCode::UNAUTHORIZED,
                Err(_) => false,
            };
            if unsent {
                changes.unsent.fetch_add(1, Ordering::AcqRel);
            }
            result
        })
    }
}

/// One usage metric a backend offers, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricSupport {
    pub metric: Metric,
    /// The unit of its values by default.
    pub unit: Unit,
    /// The intervals it can be bucketed by.
    pub intervals: &'static [Interval],
    /// Whether `?unit=bytes` is accepted.
    pub bytes: bool,
    /// Whether `?billable=false` is accepted.
    pub non_billable: bool,
}

/// How a backend serves one of its lists: the sort orders it applies itself, and the fields its
/// items always carry, by which the gateway sorts when the backend cannot. A sort by any other
/// field is refused (`400`), never silently ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListSupport {
    pub native_sorts: &'static [SortField],
    pub fields: &'static [SortField],
}

impl ListSupport {
    /// A list the backend does not have.
    pub const NONE: ListSupport = ListSupport {
        native_sorts: &[],
        fields: &[],
    };

    /// Whether the list can be sorted by `field`, by the backend or by the gateway.
    pub fn can_sort(&self, field: SortField) -> bool {
        self.native_sorts.contains(&field) || self.fields.contains(&field)
    }

    /// Every field the list can be sorted by.
    pub fn sortable(&self) -> Vec<SortField> {
        SortField::ALL
            .into_iter()
            .filter(|f| self.can_sort(*f))
            .collect()
    }
}

/// What a backend can do. The gateway checks it before calling, so an unsupported route or
/// metric is answered `501` without a backend call, and `GET /v1/backends` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    pub operations: &'static [OpKind],
    pub metrics: &'static [MetricSupport],
    /// Fields `PATCH /v1/orgs/{org}` can change.
    pub patchable: &'static [PatchField],
    /// Values `status` can be patched to.
    pub settable_statuses: &'static [OrgStatus],
    /// `GET /v1/backends/{b}/orgs`.
    pub orgs: ListSupport,
    /// An org's plans.
    pub plans: ListSupport,
    /// An org's customers.
    pub customers: ListSupport,
    /// A customer's subscriptions.
    pub subscriptions: ListSupport,
    /// Member names removed from every raw record (`include=raw`) before it leaves the
    /// adapter, wherever they appear and without regard to case ([`crate::raw`]): registration
    /// codes, contacts, anything secret or personal. Each name must be one the vendor uses only
    /// for such things. Listed on `GET /v1/backends` and in docs/API.md §8.
    pub raw_redactions: &'static [&'static str],
}

impl Capabilities {
    /// Whether the operation is served.
    pub fn supports(&self, op: OpKind) -> bool {
        self.operations.contains(&op)
    }

    /// How a metric is offered, if it is.
    pub fn metric(&self, metric: Metric) -> Option<&MetricSupport> {
        self.metrics.iter().find(|m| m.metric == metric)
    }

    /// The names of the metrics offered, for `details.supported`.
    pub fn metric_names(&self) -> Vec<String> {
        self.metrics
            .iter()
            .map(|m| m.metric.as_str().to_owned())
            .collect()
    }

    /// Removes [`Capabilities::raw_redactions`] from every raw record of an answer; adapters
    /// call it on each answer they return.
    pub fn redact_raw(&self, out: &mut Output) {
        out.redact_raw(self.raw_redactions);
    }

    /// How the backend serves a list operation.
    pub fn list(&self, op: OpKind) -> ListSupport {
        match op {
            OpKind::ListOrgs => self.orgs,
            OpKind::ListPlans => self.plans,
            OpKind::ListCustomers => self.customers,
            OpKind::ListSubscriptions => self.subscriptions,
            _ => ListSupport::NONE,
        }
    }
}

/// One configured vendor backend, speaking its dialect.
///
/// Adapters translate and classify; they never retry, sleep, cache or read global
/// configuration. The gateway's per-backend stack applies timeouts and other policy around
/// [`Backend::call`].
pub trait Backend: Send + Sync + fmt::Debug + 'static {
    /// The dialect's name as it appears in `meta.kind` (`losant`, `commvault`, …).
    fn kind(&self) -> &'static str;

    /// What this backend can do.
    fn capabilities(&self) -> &Capabilities;

    /// Checks a native org id's shape and returns its canonical spelling, or says what is
    /// wrong with it. Called before any backend call, so malformed ids never reach a vendor.
    fn canonical_id(&self, raw: &str) -> Result<String, String>;

    /// A stable, non-secret identity of the credential the gateway uses for this backend, for
    /// cache keys: two backends whose credentials differ must never share cached reads.
    fn credential_identity(&self) -> String;

    /// Performs one operation.
    fn call<'a>(
        &'a self,
        cx: &'a CallContext,
        op: Operation,
    ) -> BoxFuture<'a, Result<Output, BackendError>>;
}

/// How a dialect's adapter is built from its own keys of a `[[backends]]` table: the one
/// constructor the gateway's dialect registry calls, the same way for every dialect.
pub trait FromSettings: Backend + Sized {
    /// The dialect's keys as written (deserialized with unknown keys refused).
    type Settings: serde::de::DeserializeOwned;

    /// Whether the dialect's base URL may put the org in its host name with
    /// [`ORG_PLACEHOLDER`] (`https://{org}.internetofthings.ibmcloud.com`), to be filled per
    /// request with [`BaseUrl::for_org`]. Dialects that do not refuse such a base URL when the
    /// routing file is loaded, before any request could be sent to a host named `{org}`.
    const ORG_IN_HOST: bool = false;

    /// Validates the settings of the backend called `name` (secrets resolved through
    /// `secrets`) and builds its adapter. Errors name the offending key.
    fn from_settings(
        name: &str,
        base_url: BaseUrl,
        settings: Self::Settings,
        secrets: &dyn SecretSource,
    ) -> Result<Self, ConfigError>;
}

/// Where user info (`user:password@`) would end in `url`: its last `@` before a query or
/// fragment, looked for past the scheme, as a password may hold a `/`.
fn userinfo_end(url: &str) -> Option<usize> {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..]
        .find(['?', '#'])
        .map_or(url.len(), |i| start + i);
    url[start..end].rfind('@').map(|at| start + at)
}

/// `url` as an error may show it: user info replaced by `…`.
fn without_userinfo(url: &str) -> std::borrow::Cow<'_, str> {
    match userinfo_end(url) {
        Some(at) => {
            let start = url.find("://").map_or(0, |i| i + 3);
            format!("{}…{}", &url[..start], &url[at..]).into()
        }
        None => url.into(),
    }
}

/// The placeholder a base URL's host may start with, for vendors that put the org id in the
/// host name: `https://{org}.internetofthings.ibmcloud.com/api/v0002` (see
/// [`BaseUrl::for_org`] and [`FromSettings::ORG_IN_HOST`]).
pub const ORG_PLACEHOLDER: &str = "{org}";

/// A validated base URL of a backend: `http` or `https`, a host, no user info, no query or
/// fragment, and no trailing slash on its path, so `join("/orgs")` is always well-formed. Its
/// host may start with the label [`ORG_PLACEHOLDER`], a template filled per org.
#[derive(Clone, PartialEq, Eq)]
pub struct BaseUrl(String);

impl BaseUrl {
    /// Validates a base URL. Its errors never repeat user info written into it (credentials
    /// are refused, and a password may come from the environment).
    pub fn parse(url: &str) -> Result<Self, String> {
        let s = &*without_userinfo(url);
        // A template is checked as the URL it becomes for an org called `org`.
        if url.contains(['{', '}']) {
            let misplaced = || {
                format!(
                    "`{s}`: the only placeholder a base URL may hold is `{ORG_PLACEHOLDER}`, as the first label of its host"
                )
            };
            let (scheme, rest) = url.split_once("://").ok_or_else(misplaced)?;
            let rest = rest.strip_prefix("{org}.").ok_or_else(misplaced)?;
            // The placeholder is a label of a longer host name, never the whole host.
            if rest.contains(['{', '}']) || rest.is_empty() || rest.starts_with(['/', ':', '.']) {
                return Err(misplaced());
            }
            let probe = BaseUrl::parse(&format!("{scheme}://org.{rest}"))?;
            let (scheme, filled) = probe.0.split_once("://org.").ok_or_else(misplaced)?;
            return Ok(BaseUrl(format!("{scheme}://{ORG_PLACEHOLDER}.{filled}")));
        }
        let uri: http::Uri = url
            .parse()
            .map_err(|e| format!("`{s}` is not a URL: {e}"))?;
        match uri.scheme_str() {
            Some("http") | Some("https") => {}
            Some(other) => return Err(format!("scheme `{other}` is not http or https")),
            None => return Err(format!("`{s}` has no scheme (http:// or https://)")),
        }
        let authority = uri
            .authority()
            .ok_or_else(|| format!("`{s}` has no host"))?;
        // A password holding a `/` ends the authority early (`https://svc:pa/ss@host` reads as
        // host `svc`, port `pa`): any `@` before the query counts.
        if authority.as_str().contains('@') || userinfo_end(url).is_some() {
            return Err(
                "credentials must not be written into the URL; use the backend's credential keys"
                    .into(),
            );
        }
        if authority.host().is_empty() {
            return Err(format!("`{s}` has no host"));
        }
        // What follows the host's last `:` (outside an IPv6 address's brackets) is its port.
        let port = authority
            .as_str()
            .rsplit_once(':')
            .map(|(_, p)| p)
            .filter(|p| !p.contains(']'));
        if port.is_some_and(|p| p.parse::<u16>().is_err() && !p.is_empty()) {
            return Err(format!("`{s}`: the port is not a number"));
        }
        if uri.query().is_some() || url.contains('#') {
            return Err("the base URL must not have a query or fragment".into());
        }
        let path = uri.path().trim_end_matches('/');
        Ok(BaseUrl(format!(
            "{}://{}{}",
            uri.scheme_str().unwrap_or("http"),
            authority.as_str(),
            path
        )))
    }

    /// The base URL followed by `path` (which should start with `/`).
    pub fn join(&self, path: &str) -> String {
        let mut s = String::with_capacity(self.0.len() + path.len());
        s.push_str(&self.0);
        s.push_str(path);
        s
    }

    /// The URL as a string, without trailing slash.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the host starts with [`ORG_PLACEHOLDER`].
    pub fn is_org_template(&self) -> bool {
        self.0.contains(ORG_PLACEHOLDER)
    }

    /// The base URL of one org: the placeholder replaced by `org` (lowercased), which must be
    /// a DNS label (1–63 letters, digits and `-`, not at either end). A base URL without the
    /// placeholder is the same for every org.
    pub fn for_org(&self, org: &str) -> Result<BaseUrl, String> {
        if !self.is_org_template() {
            return Ok(self.clone());
        }
        let label = (1..=63).contains(&org.len())
            && org.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !org.starts_with('-')
            && !org.ends_with('-');
        if !label {
            return Err(format!(
                "`{}` cannot be the first label of a host name",
                crate::text::excerpt(org, 64)
            ));
        }
        Ok(BaseUrl(self.0.replacen(
            ORG_PLACEHOLDER,
            &org.to_ascii_lowercase(),
            1,
        )))
    }
}

impl fmt::Debug for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BaseUrl({})", self.0)
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        let b = BaseUrl::parse("http://127.0.0.1:8080/api/").unwrap();
        assert_eq!(b.join("/orgs"), "http://127.0.0.1:8080/api/orgs");
        let b = BaseUrl::parse("https://api.losant.com").unwrap();
        assert_eq!(b.join("/x"), "https://api.losant.com/x");
        assert!(BaseUrl::parse("ftp://x").is_err());
        assert!(BaseUrl::parse("api.losant.com").is_err());
        assert!(BaseUrl::parse("http://user:pw@host/").is_err());
        // User info is never repeated, whichever check refuses the URL.
        for url in [
            "http://user:hunter2@ho st/",
            "https://user:hunter2@{org}.example.com",
            "https://{org}.user:hunter2@example.com",
            "user:hunter2@example.com/api",
            "gopher://user:hunter2@example.com",
            "https://svc:hun/ter2@api.example.com",
            "https://svc:hunter2/x@api.example.com/api",
        ] {
            let e = BaseUrl::parse(url).unwrap_err();
            assert!(!e.contains("hunter2") && !e.contains("ter2@"), "{url}: {e}");
        }
        assert_eq!(
            BaseUrl::parse("http://u:hunter2@ho st/a").unwrap_err(),
            "`http://…@ho st/a` is not a URL: invalid uri character"
        );
        assert_eq!(
            BaseUrl::parse("https://svc:hun/ter2@api.example.com").unwrap_err(),
            "credentials must not be written into the URL; use the backend's credential keys"
        );
        assert!(BaseUrl::parse("http://[::1]:8080/api").is_ok());
        assert!(BaseUrl::parse("http://[::1]/api").is_ok());
        assert_eq!(
            BaseUrl::parse("https://host:https/api").unwrap_err(),
            "`https://host:https/api`: the port is not a number"
        );
        assert!(BaseUrl::parse("http://host/?a=b").is_err());
        assert!(BaseUrl::parse("not a url").is_err());
        assert!(BaseUrl::parse("").is_err());
        assert!(!b.is_org_template());
        assert_eq!(
            b.for_org("abc123").unwrap(),
            b,
            "no placeholder, one URL for all"
        );
    }

    #[test]
    fn org_templates() {
        let t = BaseUrl::parse("https://{org}.internetofthings.ibmcloud.com/api/v0002/").unwrap();
        assert!(t.is_org_template());
        assert_eq!(
            t.as_str(),
            "https://{org}.internetofthings.ibmcloud.com/api/v0002"
        );
        let b = t.for_org("AbC123").unwrap();
        assert!(!b.is_org_template());
        assert_eq!(
            b.join("/"),
            "https://abc123.internetofthings.ibmcloud.com/api/v0002/"
        );
        assert!(b.join("/").parse::<http::Uri>().is_ok());
        assert_eq!(
            BaseUrl::parse("http://{org}.sim.test:8443")
                .unwrap()
                .as_str(),
            "http://{org}.sim.test:8443"
        );
        for bad in ["", "a.b", "-ab", "ab-", "a b", "a/b", &"x".repeat(64)] {
            assert!(t.for_org(bad).is_err(), "{bad:?}");
        }
        for bad in [
            "https://x.{org}.example.com",
            "https://{org}example.com",
            "https://{org}.{org}.example.com",
            "https://{org}.example.com/{org}",
            "https://{tenant}.example.com",
            "{org}.example.com",
            "https://{org}.",
        ] {
            let e = BaseUrl::parse(bad).unwrap_err();
            assert!(!e.is_empty(), "{bad}");
        }
    }
}
