//! The Access Service's OAuth2 side, simulated: `POST /api/oauth/token` with the client's id
//! and secret as HTTP Basic and the `password` and `refresh_token` grants, the access tokens
//! it issues (JWTs whose payload starts `{"exp":…,"user_name":…`, as in the seed's example
//! header), and the Bearer check every API route makes.
//!
//! The documents name the endpoint, the Basic client authentication and the grant types, but
//! not the form fields nor the answer's members (dialects.md §3.2: "standard Spring-OAuth2
//! shape", inferred). The simulator follows Spring Security OAuth2, which the JWT's
//! `user_name`/`exp` claims point to:
//! - the request is a form (`application/x-www-form-urlencoded`; parameters in the query
//!   string are read too, as Spring does) with `grant_type`, then `username` and `password`,
//!   or `refresh_token`;
//! - success is 200 `{"access_token", "token_type": "bearer", "refresh_token", "expires_in",
//!   "scope", "jti"}`; refresh tokens are reused (Spring's default), so a refresh answers with
//!   the same refresh token;
//! - a missing or wrong client is 401 `{"error": "unauthorized" | "invalid_client", …}`; a
//!   wrong password or an unknown, expired or revoked refresh token is 400
//!   `{"error": "invalid_grant", …}`; another grant type is 400 `unsupported_grant_type`;
//! - a missing Bearer token on an API route is 401 `{"error": "unauthorized", …}`, an unknown
//!   or expired one 401 `{"error": "invalid_token", …}`. Tokens are never echoed.
//!
//! Counters (grants by type, refusals, API calls refused for their token) are kept for tests.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::StatusCode;
use serde_json::{Value, json};

/// A configured user (the SafeShare administrator the gateway signs in as).
struct User {
    name: String,
    password: String,
}

// The password never reaches a log line through `{:?}`.
impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// An issued token: whose it is and until when it is accepted.
#[derive(Debug, Clone, Copy)]
struct Issued {
    user: usize,
    expires: Instant,
}

/// Counters for tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GrantCounts {
    /// Successful `password` grants.
    pub password: usize,
    /// Successful `refresh_token` grants.
    pub refresh: usize,
    /// Token requests refused (any reason).
    pub refused: usize,
    /// API requests refused with 401 for a missing, unknown or expired access token.
    pub rejected_tokens: usize,
}

/// The tokens the simulator has issued and the credentials it accepts.
pub(crate) struct Tokens {
    clients: Vec<(String, String)>,
    users: Vec<User>,
    access_lifetime: Duration,
    refresh_lifetime: Duration,
    access: HashMap<String, Issued>,
    refresh: HashMap<String, Issued>,
    /// Test knob: every token request is refused as if the client's secret were revoked.
    refuse_all: bool,
    pub(crate) counts: GrantCounts,
    keys: std::collections::hash_map::RandomState,
    issued: u64,
}

// Tokens and secrets are not shown, only how many there are.
impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("clients", &self.clients.len())
            .field("users", &self.users)
            .field("access", &self.access.len())
            .field("refresh", &self.refresh.len())
            .field("counts", &self.counts)
            .finish_non_exhaustive()
    }
}

/// A token endpoint answer: status and JSON body.
pub(crate) type Answer = (StatusCode, Value);

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Answer {
    (
        status,
        json!({ "error": error, "error_description": description }),
    )
}

/// Seconds since the epoch, for the JWT's `exp`.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Reads `Authorization: Basic base64(id:secret)`.
fn basic_credentials(header: Option<&str>) -> Option<(String, String)> {
    let (scheme, rest) = header?.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(rest.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// Reads `Authorization: Bearer <token>`.
fn bearer(header: Option<&str>) -> Option<&str> {
    let (scheme, rest) = header?.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim())
        .filter(|t| !t.is_empty())
}

impl Tokens {
    pub(crate) fn new(
        clients: &[(String, String)],
        users: &[(String, String)],
        access_lifetime: Duration,
        refresh_lifetime: Duration,
    ) -> Tokens {
        Tokens {
            clients: clients.to_vec(),
            users: users
                .iter()
                .map(|(name, password)| User {
                    name: name.clone(),
                    password: password.clone(),
                })
                .collect(),
            access_lifetime,
            refresh_lifetime,
            access: HashMap::new(),
            refresh: HashMap::new(),
            refuse_all: false,
            counts: GrantCounts::default(),
            keys: std::collections::hash_map::RandomState::new(),
            issued: 0,
        }
    }

    /// `n` bytes of keyed hashes of a counter: unguessable enough for a simulator and free of
    /// extra dependencies.
    fn random_bytes(&mut self, n: usize) -> Vec<u8> {
        self.issued += 1;
        let mut out = Vec::with_capacity(n + 8);
        let mut part = 0u64;
        while out.len() < n {
            let mut h = self.keys.build_hasher();
            h.write_u64(self.issued);
            h.write_u64(part);
            out.extend_from_slice(&h.finish().to_le_bytes());
            part += 1;
        }
        out.truncate(n);
        out
    }

    /// A `jti`: a UUID-shaped id.
    fn jti(&mut self) -> String {
        let b = self.random_bytes(16);
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        )
    }

    /// A JWT for `user`: `{"alg":"RS256"}`, a payload that starts `{"exp":…,"user_name":…` like
    /// the seed's example, and a signature nobody checks.
    fn access_token(&mut self, user: usize, client: &str, jti: &str, lifetime: Duration) -> String {
        let exp = unix_now() + lifetime.as_secs().max(1);
        let payload = format!(
            r#"{{"exp":{exp},"user_name":{},"authorities":["ROLE_SAFESHARE_ADMIN","ROLE_ORG_ADMIN"],"jti":"{jti}","client_id":{},"scope":["read","write"]}}"#,
            Value::from(self.users[user].name.as_str()),
            Value::from(client),
        );
        let signature = self.random_bytes(64);
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#),
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(signature)
        )
    }

    /// Forgets tokens that are no longer accepted, so a long-running simulator does not grow.
    fn forget_dead(&mut self, now: Instant) {
        self.access.retain(|_, t| t.expires > now);
        self.refresh.retain(|_, t| t.expires > now);
    }

    /// Issues an access token (and, when `refresh` is `None`, a new refresh token) for `user`.
    fn issue(&mut self, user: usize, client: &str, refresh: Option<String>) -> Value {
        let now = Instant::now();
        self.forget_dead(now);
        let jti = self.jti();
        let lifetime = self.access_lifetime;
        let access = self.access_token(user, client, &jti, lifetime);
        self.access.insert(
            access.clone(),
            Issued {
                user,
                expires: now + lifetime,
            },
        );
        let refresh = match refresh {
            Some(r) => r,
            None => {
                let r = URL_SAFE_NO_PAD.encode(self.random_bytes(48));
                self.refresh.insert(
                    r.clone(),
                    Issued {
                        user,
                        expires: now + self.refresh_lifetime,
                    },
                );
                r
            }
        };
        json!({
            "access_token": access,
            "token_type": "bearer",
            "refresh_token": refresh,
            "expires_in": lifetime.as_secs().max(1),
            "scope": "read write",
            "jti": jti,
        })
    }

    /// `POST /api/oauth/token`. `params` are the form's fields (and the query's).
    pub(crate) fn token(
        &mut self,
        authorization: Option<&str>,
        params: &HashMap<String, String>,
    ) -> Answer {
        let answer = self.grant(authorization, params);
        if answer.0 != StatusCode::OK {
            self.counts.refused += 1;
            tracing::info!(sim = "cocoon", status = answer.0.as_u16(), error = %answer.1["error"], "token request refused");
        }
        answer
    }

    fn grant(&mut self, authorization: Option<&str>, params: &HashMap<String, String>) -> Answer {
        let Some((client_id, secret)) = basic_credentials(authorization) else {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Full authentication is required to access this resource",
            );
        };
        let known = self
            .clients
            .iter()
            .any(|(id, s)| *id == client_id && *s == secret);
        if !known || self.refuse_all {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Bad client credentials",
            );
        }
        let param = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
        match param("grant_type") {
            None => oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Missing grant type",
            ),
            Some("password") => {
                let user = match (param("username"), param("password")) {
                    (Some(u), Some(p)) => self
                        .users
                        .iter()
                        .position(|x| x.name.eq_ignore_ascii_case(u) && x.password == p),
                    _ => None,
                };
                match user {
                    Some(user) => {
                        self.counts.password += 1;
                        tracing::info!(sim = "cocoon", "password grant");
                        (StatusCode::OK, self.issue(user, &client_id, None))
                    }
                    None => {
                        oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Bad credentials")
                    }
                }
            }
            Some("refresh_token") => {
                let now = Instant::now();
                let live = param("refresh_token")
                    .and_then(|r| self.refresh.get(r).map(|t| (r.to_owned(), *t)))
                    .filter(|(_, t)| t.expires > now);
                match live {
                    Some((r, t)) => {
                        self.counts.refresh += 1;
                        tracing::info!(sim = "cocoon", "refresh_token grant");
                        (StatusCode::OK, self.issue(t.user, &client_id, Some(r)))
                    }
                    None => oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "Invalid refresh token",
                    ),
                }
            }
            Some(other) => oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("Unsupported grant type: {}", excerpt(other)),
            ),
        }
    }

    /// The Bearer check of an API route: `Ok` with the user's name, or the 401 answer.
    pub(crate) fn authenticate(&mut self, authorization: Option<&str>) -> Result<String, Answer> {
        let refused = match bearer(authorization) {
            None => oauth_error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Full authentication is required to access this resource",
            ),
            Some(token) => match self.access.get(token) {
                Some(t) if t.expires > Instant::now() => {
                    return Ok(self.users[t.user].name.clone());
                }
                Some(_) => oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_token",
                    "Access token expired",
                ),
                None => oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_token",
                    "Cannot convert access token to JSON",
                ),
            },
        };
        self.counts.rejected_tokens += 1;
        Err(refused)
    }

    /// A token for a configured user with its own lifetime, as if issued to another client
    /// (a static token given to the gateway by configuration). Not counted as a grant.
    pub(crate) fn issue_for(&mut self, username: &str, lifetime: Duration) -> Option<String> {
        let user = self
            .users
            .iter()
            .position(|u| u.name.eq_ignore_ascii_case(username))?;
        let jti = self.jti();
        let token = self.access_token(user, "static", &jti, lifetime);
        self.access.insert(
            token.clone(),
            Issued {
                user,
                expires: Instant::now() + lifetime,
            },
        );
        Some(token)
    }

    /// Test knob: every access token issued so far stops being accepted.
    pub(crate) fn expire_access_tokens(&mut self) {
        let now = Instant::now();
        for t in self.access.values_mut() {
            t.expires = t.expires.min(now);
        }
    }

    /// Test knob: every refresh token issued so far stops being accepted.
    pub(crate) fn revoke_refresh_tokens(&mut self) {
        self.refresh.clear();
    }

    /// Test knob: refuse every token request (or stop refusing).
    pub(crate) fn set_refuse_all(&mut self, refuse: bool) {
        self.refuse_all = refuse;
    }
}

fn excerpt(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(lifetime: Duration) -> Tokens {
        Tokens::new(
            &[("app".to_owned(), "s3cret".to_owned())],
            &[("admin@x.example".to_owned(), "pw".to_owned())],
            lifetime,
            Duration::from_secs(3600),
        )
    }

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn password_then_refresh() {
        let mut t = tokens(Duration::from_secs(60));
        let auth = basic("app", "s3cret");
        let (status, body) = t.token(
            Some(&auth),
            &form(&[
                ("grant_type", "password"),
                ("username", "ADMIN@x.example"),
                ("password", "pw"),
            ]),
        );
        assert_eq!(status, StatusCode::OK, "{body}");
        let access = body["access_token"].as_str().unwrap().to_owned();
        let refresh = body["refresh_token"].as_str().unwrap().to_owned();
        assert_eq!(body["expires_in"], 60);
        // The payload starts like the seed's example token.
        let payload = access.split('.').nth(1).unwrap();
        let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert!(payload.starts_with(r#"{"exp":"#), "{payload}");
        assert!(payload.contains(r#""user_name":"admin@x.example""#));
        let header = access.split('.').next().unwrap();
        assert_eq!(
            URL_SAFE_NO_PAD.decode(header).unwrap(),
            br#"{"alg":"RS256"}"#
        );
        assert_eq!(
            t.authenticate(Some(&format!("Bearer {access}"))),
            Ok("admin@x.example".to_owned())
        );

        t.expire_access_tokens();
        assert!(t.authenticate(Some(&format!("Bearer {access}"))).is_err());
        let (status, body) = t.token(
            Some(&auth),
            &form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)]),
        );
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body["refresh_token"],
            refresh.as_str(),
            "refresh tokens are reused"
        );
        assert_ne!(body["access_token"], access.as_str());
        assert_eq!(
            t.counts,
            GrantCounts {
                password: 1,
                refresh: 1,
                refused: 0,
                rejected_tokens: 1
            }
        );
    }

    #[test]
    fn refusals() {
        let mut t = tokens(Duration::from_secs(60));
        let ok = basic("app", "s3cret");
        let cases = [
            (
                None,
                form(&[("grant_type", "password")]),
                401,
                "unauthorized",
            ),
            (
                Some(basic("app", "nope")),
                form(&[("grant_type", "password")]),
                401,
                "invalid_client",
            ),
            (Some(ok.clone()), form(&[]), 400, "invalid_request"),
            (
                Some(ok.clone()),
                form(&[
                    ("grant_type", "password"),
                    ("username", "admin@x.example"),
                    ("password", "x"),
                ]),
                400,
                "invalid_grant",
            ),
            (
                Some(ok.clone()),
                form(&[("grant_type", "refresh_token"), ("refresh_token", "nope")]),
                400,
                "invalid_grant",
            ),
            (
                Some(ok.clone()),
                form(&[("grant_type", "client_credentials")]),
                400,
                "unsupported_grant_type",
            ),
        ];
        for (auth, params, status, error) in cases {
            let (s, body) = t.token(auth.as_deref(), &params);
            assert_eq!((s.as_u16(), body["error"].as_str()), (status, Some(error)));
        }
        assert_eq!(t.counts.refused, 6);
        t.set_refuse_all(true);
        let (s, _) = t.token(
            Some(&ok),
            &form(&[
                ("grant_type", "password"),
                ("username", "admin@x.example"),
                ("password", "pw"),
            ]),
        );
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert!(t.authenticate(None).is_err());
        assert!(t.authenticate(Some("Bearer nope")).is_err());
        assert_eq!(t.counts.rejected_tokens, 2);
    }
}
