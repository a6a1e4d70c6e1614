//! Caller authentication and authorization (docs/API.md §4, "Callers").
//!
//! - **Authentication.** Every `/v1` request carries `Authorization: Bearer <JWT>`. A token is
//!   verified with jsonwebtoken against the key its header's `kid` names; each key accepts only
//!   the one algorithm it is configured (or published) with, so `alg: none` and a token signed
//!   with HS256 over an RS key's public bytes never pass. `iss`, `aud`, `exp` and `nbf` are
//!   checked with the configured leeway; `sub` is required. Keys come from `[auth]` (an HS secret
//!   by reference, RS/ES/Ed public keys as PEM files) and from a JWKS URL, fetched at start,
//!   again every `refresh_s`, and on a `kid` it does not know, at most once per
//!   `min_refetch_s` whatever the number of such tokens.
//! - **Verified tokens are remembered** (bounded, each until its own `exp`), so a token seen
//!   before costs one lookup; a key set change forgets them all.
//! - **Authorization.** Scopes come from `scope` (space-separated) or `scp` (an array); org
//!   grants from the configured claim (default `orgs`): `backend:nativeId` refs, aliases,
//!   `backend:*`, or `*`. A route's scope is checked after routing ([`required_scope`]), the org
//!   when it is resolved (`http/extract.rs`), and both by the cache's front door before it
//!   answers. A caller not granted an org is `403` whether or not the org exists.
//!
//! With `[auth] mode = "off"` every request is the anonymous caller, who may do everything.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, Method, header};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use orgway_core::Transport;

use crate::client::HttpClient;
use crate::config::{AuthConfig, JwtConfig, KeyMaterial};
use crate::error::{ApiError, ErrorCode};
use crate::routing::Routing;

/// The scopes of docs/API.md §4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    OrgsRead,
    OrgsWrite,
    OrgsDelete,
    PlansRead,
    PlansWrite,
    UsageRead,
    CustomersRead,
    CustomersWrite,
    RawRead,
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 10] = [
        Scope::OrgsRead,
        Scope::OrgsWrite,
        Scope::OrgsDelete,
        Scope::PlansRead,
        Scope::PlansWrite,
        Scope::UsageRead,
        Scope::CustomersRead,
        Scope::CustomersWrite,
        Scope::RawRead,
        Scope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::OrgsRead => "orgs:read",
            Scope::OrgsWrite => "orgs:write",
            Scope::OrgsDelete => "orgs:delete",
            Scope::PlansRead => "plans:read",
            Scope::PlansWrite => "plans:write",
            Scope::UsageRead => "usage:read",
            Scope::CustomersRead => "customers:read",
            Scope::CustomersWrite => "customers:write",
            Scope::RawRead => "raw:read",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|c| c.as_str() == s)
    }

    fn bit(self) -> u16 {
        1 << self as u16
    }
}

/// What a route needs of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Required {
    /// Open to anyone (`/healthz`, `/metrics`, …).
    Nothing,
    /// One scope.
    Scope(Scope),
    /// Any scope at all (`GET /v1/backends`).
    AnyScope,
}

/// The scope a route (its template, as routed) and method need (docs/API.md §4).
pub fn required_scope(method: &Method, route: &str) -> Required {
    use Scope::*;
    let read = *method == Method::GET || *method == Method::HEAD;
    let s = match route {
        "/v1/orgs/{org}" if read => OrgsRead,
        "/v1/orgs/{org}" if *method == Method::DELETE => OrgsDelete,
        "/v1/orgs/{org}" => OrgsWrite,
        "/v1/backends/{backend}/orgs" => OrgsRead,
        "/v1/orgs/{org}/plans" | "/v1/orgs/{org}/plans/{plan}" if read => PlansRead,
        "/v1/orgs/{org}/plans" | "/v1/orgs/{org}/plans/{plan}" => PlansWrite,
        "/v1/orgs/{org}/usage" | "/v1/orgs/{org}/usage/{metric}" => UsageRead,
        "/v1/orgs/{org}/customers" | "/v1/orgs/{org}/customers/{customer}/subscriptions"
            if read =>
        {
            CustomersRead
        }
        "/v1/orgs/{org}/customers" | "/v1/orgs/{org}/customers/{customer}/subscriptions" => {
            CustomersWrite
        }
        "/v1/backends" => return Required::AnyScope,
        "/v1/cache/backends/{backend}" | "/v1/cache/orgs/{org}" => Admin,
        _ => return Required::Nothing,
    };
    Required::Scope(s)
}

/// The orgs a caller may address.
#[derive(Debug, Default)]
struct Grants {
    /// `*`: every org of every backend.
    all: bool,
    /// `backend:*`.
    backends: HashSet<String>,
    /// Resolved grants: (backend, canonical native id).
    orgs: HashSet<(String, String)>,
    /// Grants as written that name no org the routing table knows (so asking about them is
    /// answered as for anyone allowed to ask: `404`/`400`, not `403`).
    unresolved: HashSet<String>,
}

/// An authenticated caller.
#[derive(Debug)]
pub struct Caller {
    /// The token's `sub` (`anonymous` when auth is off).
    pub subject: Arc<str>,
    scopes: u16,
    grants: Grants,
    /// When its token stops being accepted (its `exp` plus the leeway).
    expires: Option<Instant>,
}

impl Caller {
    /// The caller of a gateway whose auth is off: every scope, every org.
    pub fn anonymous() -> Caller {
        Caller {
            subject: Arc::from("anonymous"),
            scopes: u16::MAX,
            grants: Grants {
                all: true,
                ..Grants::default()
            },
            expires: None,
        }
    }

    pub fn has(&self, scope: Scope) -> bool {
        self.scopes & scope.bit() != 0
    }

    /// Whether the caller may call a route needing `required`.
    pub fn meets(&self, required: Required) -> bool {
        match required {
            Required::Nothing => true,
            Required::Scope(s) => self.has(s),
            Required::AnyScope => self.scopes != 0,
        }
    }

    /// Whether the caller may address an org (`Some`) or a whole backend (`None`).
    pub fn may_see(&self, backend: &str, native_id: Option<&str>) -> bool {
        self.grants.all
            || self.grants.backends.contains(backend)
            || native_id
                .is_some_and(|n| self.grants.orgs.iter().any(|(b, o)| b == backend && o == n))
    }

    /// Whether a reference that does not resolve may be reported as such (`404`/`400`) to
    /// this caller: only when one of its grants could have named it.
    pub fn may_ask_about(&self, reference: &str) -> bool {
        self.grants.all
            || self.grants.unresolved.contains(reference)
            || reference
                .split_once(':')
                .is_some_and(|(b, _)| self.grants.backends.contains(b))
    }
}

/// `403` for an org the caller is not granted; says nothing about whether it exists.
pub fn org_not_granted() -> ApiError {
    ApiError::new(
        ErrorCode::Forbidden,
        "this token does not grant access to that org",
    )
}

/// `403` for a missing scope.
pub fn scope_missing(required: Required) -> ApiError {
    match required {
        Required::Scope(s) => ApiError::new(
            ErrorCode::Forbidden,
            format!("this token lacks the `{}` scope", s.as_str()),
        ),
        _ => ApiError::new(ErrorCode::Forbidden, "this token has no scope"),
    }
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(ErrorCode::Unauthorized, message)
}

/// One verification key.
struct Key {
    alg: Algorithm,
    decoding: DecodingKey,
    validation: Validation,
    /// The JWK it was published as (`None` for a configured key): a key republished with other
    /// material under the same `kid` is a change.
    source: Option<String>,
}

/// The keys by `kid`.
type KeySet = HashMap<String, Arc<Key>>;

/// The JWKS source of keys.
struct Jwks {
    url: http::Uri,
    /// The URL as logs show it: no user info, no query (either may hold a secret).
    shown: String,
    client: HttpClient,
    refresh: Duration,
    min_refetch: Duration,
    /// When the last fetch started.
    last: Mutex<Option<Instant>>,
    /// One fetch at a time; callers with an unknown `kid` wait for the one running.
    fetching: tokio::sync::Mutex<()>,
}

/// Verifies tokens and remembers the callers they prove.
struct Verifier {
    config: JwtConfig,
    static_keys: KeySet,
    /// The keys in use, and their generation: one more each time a fetch changes them.
    keys: RwLock<(Arc<KeySet>, u64)>,
    jwks: Option<Jwks>,
    verified: moka::future::Cache<Arc<str>, Arc<Caller>>,
    /// Org references as grants name them, resolved once per token.
    routing: Arc<Routing>,
}

/// Authentication, on or off.
pub struct Auth {
    verifier: Option<Arc<Verifier>>,
    anonymous: Arc<Caller>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("on", &self.verifier.is_some())
            .finish_non_exhaustive()
    }
}

/// Expires each verified token at its own `exp` (plus the leeway it was accepted with).
struct UntilExp;

impl moka::Expiry<Arc<str>, Arc<Caller>> for UntilExp {
    fn expire_after_create(
        &self,
        _key: &Arc<str>,
        value: &Arc<Caller>,
        created_at: Instant,
    ) -> Option<Duration> {
        value
            .expires
            .map(|e| e.saturating_duration_since(created_at))
    }
}

/// Seconds since the epoch.
fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The validation a key's tokens get.
fn validation(alg: Algorithm, c: &JwtConfig) -> Validation {
    let mut v = Validation::new(alg);
    v.set_issuer(&[c.issuer.as_str()]);
    v.set_audience(&[c.audience.as_str()]);
    v.leeway = c.leeway.as_secs();
    v.validate_nbf = true;
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    v
}

/// A configured key, ready to verify.
pub fn static_key(alg: Algorithm, material: &KeyMaterial) -> Result<DecodingKey, String> {
    use Algorithm::*;
    match (alg, material) {
        (HS256 | HS384 | HS512, KeyMaterial::Secret(s)) => {
            Ok(DecodingKey::from_secret(s.expose().as_bytes()))
        }
        (RS256 | RS384 | RS512 | PS256 | PS384 | PS512, KeyMaterial::PublicPem(pem)) => {
            DecodingKey::from_rsa_pem(pem).map_err(|e| format!("not an RSA public key: {e}"))
        }
        (ES256 | ES384, KeyMaterial::PublicPem(pem)) => {
            DecodingKey::from_ec_pem(pem).map_err(|e| format!("not an EC public key: {e}"))
        }
        (EdDSA, KeyMaterial::PublicPem(pem)) => {
            DecodingKey::from_ed_pem(pem).map_err(|e| format!("not an Ed25519 public key: {e}"))
        }
        (HS256 | HS384 | HS512, _) => Err("an HS key needs `secret`".into()),
        _ => Err("an RS, PS, ES or EdDSA key needs `public_key_file`".into()),
    }
}

impl Auth {
    /// Authentication as `config` says; grants are resolved through `routing`.
    pub fn new(config: &AuthConfig, routing: Arc<Routing>) -> Auth {
        let verifier = match config {
            AuthConfig::Off => None,
            AuthConfig::Jwt(c) => Some(Arc::new(Verifier::new(c, routing))),
        };
        Auth {
            verifier,
            anonymous: Arc::new(Caller::anonymous()),
        }
    }

    pub fn is_on(&self) -> bool {
        self.verifier.is_some()
    }

    /// Fetches the JWKS (if any) and keeps it fresh; call once, inside the runtime.
    pub async fn start(&self) {
        if let Some(v) = &self.verifier
            && v.jwks.is_some()
        {
            v.fetch_jwks().await;
            let v = Arc::downgrade(v);
            tokio::spawn(async move {
                loop {
                    let Some(refresh) =
                        v.upgrade().and_then(|v| v.jwks.as_ref().map(|j| j.refresh))
                    else {
                        return;
                    };
                    tokio::time::sleep(refresh).await;
                    match v.upgrade() {
                        Some(v) => v.fetch_jwks().await,
                        None => return,
                    }
                }
            });
        }
    }

    /// The caller of a request, or `401`.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Arc<Caller>, ApiError> {
        match &self.verifier {
            None => Ok(self.anonymous.clone()),
            Some(v) => v.authenticate(headers).await,
        }
    }
}

impl Verifier {
    fn new(c: &JwtConfig, routing: Arc<Routing>) -> Verifier {
        let static_keys: KeySet = c
            .keys
            .iter()
            .filter_map(|k| {
                let decoding = static_key(k.alg, &k.material).ok()?;
                Some((
                    k.kid.clone(),
                    Arc::new(Key {
                        alg: k.alg,
                        decoding,
                        validation: validation(k.alg, c),
                        source: None,
                    }),
                ))
            })
            .collect();
        let jwks = c.jwks.as_ref().map(|j| Jwks {
            url: j.url.clone(),
            shown: format!(
                "{}://{}{}",
                j.url.scheme_str().unwrap_or("https"),
                j.url.host().unwrap_or(""),
                j.url.path()
            ),
            client: HttpClient::with_settings(&j.client),
            refresh: j.refresh,
            min_refetch: j.min_refetch,
            last: Mutex::new(None),
            fetching: tokio::sync::Mutex::new(()),
        });
        let verified = moka::future::Cache::builder()
            .max_capacity(c.verified_tokens)
            .expire_after(UntilExp)
            .build();
        Verifier {
            config: c.clone(),
            keys: RwLock::new((Arc::new(static_keys.clone()), 0)),
            static_keys,
            jwks,
            verified,
            routing,
        }
    }

    /// The keys in use and their generation.
    fn keys(&self) -> (Arc<KeySet>, u64) {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The key `kid` names in the keys in use, with their generation.
    fn key(&self, kid: &str) -> (Option<Arc<Key>>, u64) {
        let (set, generation) = self.keys();
        (set.get(kid).cloned(), generation)
    }

    /// Remembers a caller verified with a key of `generation` until its token expires; not if
    /// the keys changed meanwhile. A fetch that changes them forgets every verified token, but
    /// one verified with the old keys and remembered after that would otherwise outlive them.
    async fn remember(&self, token: &str, caller: Arc<Caller>, generation: u64) {
        let token: Arc<str> = Arc::from(token);
        self.verified.insert(token.clone(), caller).await;
        if self.keys().1 != generation {
            self.verified.invalidate(&token).await;
        }
    }

    async fn authenticate(&self, headers: &HeaderMap) -> Result<Arc<Caller>, ApiError> {
        let token = bearer(headers)?;
        if let Some(c) = self.verified.get(token).await {
            return Ok(c);
        }
        let head = jsonwebtoken::decode_header(token)
            .map_err(|_| unauthorized("the bearer token is not a well-formed JWT"))?;
        let (key, generation) = match head.kid.as_deref() {
            Some(kid) => match self.key(kid) {
                (Some(k), generation) => (k, generation),
                (None, _) => match self.refetch_for(kid).await {
                    (Some(k), generation) => (k, generation),
                    (None, _) => return Err(unauthorized("the token's key id is not known")),
                },
            },
            // Without a `kid`, only a gateway with a single configured key knows which to use.
            None => match (self.static_keys.len(), self.jwks.is_none()) {
                (1, true) => (
                    self.static_keys
                        .values()
                        .next()
                        .cloned()
                        .ok_or_else(|| unauthorized("the token has no key id"))?,
                    0,
                ),
                _ => return Err(unauthorized("the token has no key id")),
            },
        };
        if head.alg != key.alg {
            return Err(unauthorized(
                "the token's algorithm is not the one its key is used with",
            ));
        }
        let data = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
            token,
            &key.decoding,
            &key.validation,
        )
        .map_err(|e| unauthorized(rejection(e.kind())))?;
        let claims = data.claims;
        // Remembered until its expiry, the leeway it was accepted with included.
        let exp = claims.get("exp").and_then(|v| v.as_u64()).unwrap_or(0);
        let left = exp
            .saturating_add(self.config.leeway.as_secs())
            .saturating_sub(now_s());
        let expires = Instant::now() + Duration::from_secs(left);
        let caller = Arc::new(self.caller(&claims, expires)?);
        if left > 0 {
            self.remember(token, caller.clone(), generation).await;
        }
        Ok(caller)
    }

    /// The caller the claims describe.
    fn caller(
        &self,
        claims: &serde_json::Map<String, serde_json::Value>,
        expires: Instant,
    ) -> Result<Caller, ApiError> {
        let subject = claims
            .get("sub")
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| unauthorized("the token has no subject"))?;
        let mut scopes = 0u16;
        let mut add = |s: &str| {
            if let Some(scope) = Scope::parse(s) {
                scopes |= scope.bit();
            }
        };
        match (claims.get("scope"), claims.get("scp")) {
            (Some(serde_json::Value::String(s)), _) => s.split(' ').for_each(&mut add),
            (_, Some(serde_json::Value::Array(a))) => {
                a.iter().filter_map(|v| v.as_str()).for_each(&mut add)
            }
            (_, Some(serde_json::Value::String(s))) => s.split(' ').for_each(&mut add),
            _ => {}
        }
        let mut grants = Grants::default();
        if let Some(serde_json::Value::Array(list)) = claims.get(&self.config.orgs_claim) {
            for g in list.iter().filter_map(|v| v.as_str()) {
                if g == "*" {
                    grants.all = true;
                } else if let Some(backend) = g.strip_suffix(":*") {
                    grants.backends.insert(backend.to_owned());
                } else {
                    match self.routing.resolve(g) {
                        Ok(t) => {
                            grants.orgs.insert((t.backend.name.clone(), t.native_id));
                        }
                        Err(_) => {
                            grants.unresolved.insert(g.to_owned());
                        }
                    }
                }
            }
        }
        Ok(Caller {
            subject: Arc::from(subject),
            scopes,
            grants,
            expires: Some(expires),
        })
    }

    /// Fetches the JWKS again for an unknown `kid`, unless a fetch started less than
    /// `min_refetch` ago; the key, if it is now known, and the keys' generation.
    async fn refetch_for(&self, kid: &str) -> (Option<Arc<Key>>, u64) {
        let Some(jwks) = self.jwks.as_ref() else {
            return self.key(kid);
        };
        let recent = |j: &Jwks| {
            j.last
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_some_and(|t| t.elapsed() < j.min_refetch)
        };
        if !recent(jwks) {
            let _one = jwks.fetching.lock().await;
            // Another caller's fetch may have run while this one waited.
            if !recent(jwks) {
                self.fetch_jwks_locked(jwks).await;
            }
        } else {
            // A fetch may be running: wait for it to finish before looking again.
            let _one = jwks.fetching.lock().await;
        }
        self.key(kid)
    }

    async fn fetch_jwks(&self) {
        if let Some(jwks) = &self.jwks {
            let _one = jwks.fetching.lock().await;
            self.fetch_jwks_locked(jwks).await;
        }
    }

    /// One fetch; on success the key set becomes the configured keys and the published ones,
    /// and verified tokens are forgotten if it changed.
    async fn fetch_jwks_locked(&self, jwks: &Jwks) {
        *jwks.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        let req = http::Request::get(jwks.url.clone())
            .header(header::ACCEPT, "application/json")
            .body(Bytes::new());
        let Ok(req) = req else { return };
        let answer = jwks.client.send(req).await;
        let set: JwkSet = match answer {
            Ok(resp) if resp.status().is_success() => match serde_json::from_slice(resp.body()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(url = %jwks.shown, error = %e, "the JWKS is not a JSON Web Key Set");
                    return;
                }
            },
            Ok(resp) => {
                tracing::error!(url = %jwks.shown, status = resp.status().as_u16(), "the JWKS fetch failed");
                return;
            }
            Err(e) => {
                tracing::error!(url = %jwks.shown, error = %e, "the JWKS fetch failed");
                return;
            }
        };
        let mut keys = self.static_keys.clone();
        let mut published = Vec::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            let Some(alg) = jwk_algorithm(jwk) else {
                tracing::warn!(kid, "a JWKS key with no usable algorithm was ignored");
                continue;
            };
            let Ok(decoding) = DecodingKey::from_jwk(jwk) else {
                tracing::warn!(kid, "a JWKS key that does not parse was ignored");
                continue;
            };
            // A configured key is the operator's word: the issuer cannot replace it.
            if self.static_keys.contains_key(&kid) {
                tracing::warn!(kid, "a JWKS key with a configured key's kid was ignored");
                continue;
            }
            published.push(kid.clone());
            keys.insert(
                kid,
                Arc::new(Key {
                    alg,
                    decoding,
                    validation: validation(alg, &self.config),
                    source: serde_json::to_string(jwk).ok(),
                }),
            );
        }
        let changed = {
            let mut held = self.keys.write().unwrap_or_else(|e| e.into_inner());
            let before = &held.0;
            let changed = before.len() != keys.len()
                || keys
                    .iter()
                    .any(|(kid, k)| before.get(kid).is_none_or(|b| !same_key(b, k)));
            *held = (Arc::new(keys), held.1 + u64::from(changed));
            changed
        };
        if changed {
            self.verified.invalidate_all();
            tracing::info!(url = %jwks.shown, keys = published.len(), "JWKS keys loaded");
        }
    }
}

/// Whether two keys verify alike: the same algorithm, and the same JWK (or both configured).
fn same_key(a: &Key, b: &Key) -> bool {
    a.alg == b.alg && a.source == b.source
}

/// The algorithm a JWK is used with: its `alg`, else the one its key type implies.
fn jwk_algorithm(jwk: &jsonwebtoken::jwk::Jwk) -> Option<Algorithm> {
    use jsonwebtoken::jwk::KeyAlgorithm as K;
    if let Some(a) = jwk.common.key_algorithm {
        return Some(match a {
            K::RS256 => Algorithm::RS256,
            K::RS384 => Algorithm::RS384,
            K::RS512 => Algorithm::RS512,
            K::PS256 => Algorithm::PS256,
            K::PS384 => Algorithm::PS384,
            K::PS512 => Algorithm::PS512,
            K::ES256 => Algorithm::ES256,
            K::ES384 => Algorithm::ES384,
            K::EdDSA => Algorithm::EdDSA,
            // Symmetric keys are never taken from a published set.
            _ => return None,
        });
    }
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => Some(Algorithm::ES256),
            EllipticCurve::P384 => Some(Algorithm::ES384),
            _ => None,
        },
        AlgorithmParameters::OctetKeyPair(_) => Some(Algorithm::EdDSA),
        AlgorithmParameters::OctetKey(_) => None,
    }
}

/// Why a token was refused, in words that reveal nothing about the keys.
fn rejection(kind: &jsonwebtoken::errors::ErrorKind) -> &'static str {
    use jsonwebtoken::errors::ErrorKind as E;
    match kind {
        E::ExpiredSignature => "the token has expired",
        E::ImmatureSignature => "the token is not valid yet",
        E::InvalidIssuer => "the token's issuer is not accepted",
        E::InvalidAudience => "the token's audience is not this gateway",
        E::InvalidSignature => "the token's signature does not verify",
        E::MissingRequiredClaim(_) => "the token lacks a required claim (exp, iss, aud, sub)",
        E::InvalidAlgorithm => "the token's algorithm is not the one its key is used with",
        _ => "the bearer token is not valid",
    }
}

/// The bearer token of a request, or `401`.
fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("this route needs `Authorization: Bearer <token>`"))?;
    let value = value
        .to_str()
        .map_err(|_| unauthorized("the Authorization header is not a bearer token"))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| unauthorized("the Authorization header is not a bearer token"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(unauthorized(
            "the Authorization header is not a bearer token",
        ));
    }
    let token = token.trim();
    if token.is_empty() || token.len() > 8192 {
        return Err(unauthorized("the bearer token is not a well-formed JWT"));
    }
    Ok(token)
}

/// What a minted token says (`orgway token`, the demo's development token, tests).
#[derive(Debug, Clone)]
pub struct Claims {
    pub issuer: String,
    pub audience: String,
    pub subject: String,
    /// Scope names, as `scope` carries them (space-separated).
    pub scopes: Vec<String>,
    /// Org grants: refs, aliases, `backend:*`, `*`.
    pub orgs: Vec<String>,
    pub orgs_claim: String,
    pub lifetime: Duration,
}

/// Signs a token for `claims` with `key` (`kid` in its header).
pub fn mint(
    kid: &str,
    alg: Algorithm,
    key: &jsonwebtoken::EncodingKey,
    claims: &Claims,
) -> Result<String, String> {
    let now = now_s();
    let mut body = serde_json::Map::new();
    body.insert("iss".into(), claims.issuer.clone().into());
    body.insert("aud".into(), claims.audience.clone().into());
    body.insert("sub".into(), claims.subject.clone().into());
    body.insert("iat".into(), now.into());
    body.insert("nbf".into(), now.into());
    body.insert("exp".into(), (now + claims.lifetime.as_secs()).into());
    body.insert("scope".into(), claims.scopes.join(" ").into());
    body.insert(
        claims.orgs_claim.clone(),
        serde_json::Value::Array(claims.orgs.iter().cloned().map(Into::into).collect()),
    );
    let mut header = jsonwebtoken::Header::new(alg);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, &body, key).map_err(|e| format!("cannot sign: {e}"))
}

/// Every scope's name, for tokens that may do everything.
pub fn all_scopes() -> Vec<String> {
    Scope::ALL.iter().map(|s| s.as_str().to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A verifier with one HS256 key, and a token it accepts.
    fn verifier() -> (Verifier, String) {
        let text = "[[backends]]\nname = \"a\"\nkind = \"losant\"\nbase_url = \"http://127.0.0.1:1\"\ninstance_id = \"575ec8687ae143cd83dc4a97\"\ntoken = \"${T}\"\n[auth]\nmode = \"off\"\n";
        let config =
            crate::config::Config::parse(text, "t.toml", std::path::Path::new("."), &|_| {
                Some("t".into())
            })
            .unwrap();
        let routing = Arc::new(Routing::new(&config, &crate::telemetry::Metrics::new()));
        let secret = "a shared secret of thirty-two bytes!";
        let jwt = JwtConfig {
            issuer: "iss".into(),
            audience: "aud".into(),
            leeway: Duration::from_secs(0),
            orgs_claim: "orgs".into(),
            verified_tokens: 100,
            keys: vec![crate::config::AuthKey {
                kid: "k".into(),
                alg: Algorithm::HS256,
                material: crate::config::KeyMaterial::Secret(orgway_core::Secret::new(secret)),
            }],
            jwks: None,
        };
        let token = mint(
            "k",
            Algorithm::HS256,
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
            &Claims {
                issuer: "iss".into(),
                audience: "aud".into(),
                subject: "someone".into(),
                scopes: vec!["orgs:read".into()],
                orgs: vec!["*".into()],
                orgs_claim: "orgs".into(),
                lifetime: Duration::from_secs(600),
            },
        )
        .unwrap();
        (Verifier::new(&jwt, routing), token)
    }

    #[tokio::test]
    async fn a_token_verified_with_keys_that_changed_meanwhile_is_not_remembered() {
        let (v, token) = verifier();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        let caller = v.authenticate(&headers).await.unwrap();
        assert_eq!(&*caller.subject, "someone");
        assert!(v.verified.get(token.as_str()).await.is_some(), "remembered");
        v.verified.invalidate_all();
        // Verified with generation 0's keys, remembered once a fetch has changed them: the
        // fetch's forgetting of every verified token ran before, so this one is not kept.
        {
            let mut held = v.keys.write().unwrap();
            held.1 += 1;
        }
        v.remember(&token, caller.clone(), 0).await;
        assert!(v.verified.get(token.as_str()).await.is_none(), "forgotten");
        // Verified with the keys still in use: remembered.
        v.remember(&token, caller, 1).await;
        assert!(v.verified.get(token.as_str()).await.is_some(), "remembered");
    }
}
