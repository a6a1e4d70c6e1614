//! The Commvault session: the `QSDK …` token the gateway holds, how it is obtained
//! (`POST Login`, password base64-encoded) and renewed (`POST RenewLoginToken`, else a fresh
//! login), and the guarantee that however many calls find it missing or expired at once,
//! exactly one login (or renewal) is in flight.
//!
//! Each token has a generation. A call that gets a 401 asks for a token newer than the one it
//! used; the first such call renews while the others wait on one async lock, and each then
//! finds a newer generation and uses it without logging in again.
//!
//! This is a credential flow, not a retry policy: the call that met the expired token is
//! repeated once with the new token (see `lib.rs`); the gateway's policy stack still decides
//! everything else.

use std::sync::Mutex;

use http::Method;
use orgway_core::{BackendError, CallContext, ErrorKind, Secret};

use crate::client::{self, Call};
use crate::config::{CommvaultConfig, Credentials};
use crate::map;
use crate::wire::TokenAnswer;

/// The token and its generation.
#[derive(Debug, Clone)]
struct Held {
    token: Secret,
    generation: u64,
}

/// The session of one backend.
#[derive(Debug)]
pub struct Session {
    held: Mutex<Option<Held>>,
    refreshing: tokio::sync::Mutex<()>,
}

impl Session {
    /// A session; with a configured token it starts with that token, otherwise with none (the
    /// first call logs in).
    pub fn new(creds: &Credentials) -> Self {
        let held = match creds {
            Credentials::Token(t) => Some(Held {
                token: t.clone(),
                generation: 1,
            }),
            Credentials::Password { .. } => None,
        };
        Session {
            held: Mutex::new(held),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    fn current(&self) -> Option<Held> {
        self.held.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A token to call with, logging in first if there is none. Returns the token and its
    /// generation (to pass to [`Session::renew_after`] on a 401).
    pub async fn token(
        &self,
        cfg: &CommvaultConfig,
        cx: &CallContext,
    ) -> Result<(Secret, u64), BackendError> {
        if let Some(h) = self.current() {
            return Ok((h.token, h.generation));
        }
        self.refresh(cfg, cx, None).await
    }

    /// A token newer than generation `stale`, which Commvault just refused.
    pub async fn renew_after(
        &self,
        cfg: &CommvaultConfig,
        cx: &CallContext,
        stale: u64,
    ) -> Result<(Secret, u64), BackendError> {
        self.refresh(cfg, cx, Some(stale)).await
    }

    async fn refresh(
        &self,
        cfg: &CommvaultConfig,
        cx: &CallContext,
        stale: Option<u64>,
    ) -> Result<(Secret, u64), BackendError> {
        let _one_at_a_time = self.refreshing.lock().await;
        let current = self.current();
        if let Some(h) = &current
            && stale != Some(h.generation)
        {
            // Another call logged in or renewed while this one waited.
            return Ok((h.token.clone(), h.generation));
        }
        let generation = current.as_ref().map_or(1, |h| h.generation + 1);
        let renewed = match &current {
            Some(h) => match renew(cfg, cx, &h.token).await {
                Ok(t) => Some(t),
                // The backend is down or slow: a login would fare no better.
                Err(e) if matches!(e.kind, ErrorKind::Timeout | ErrorKind::Unavailable) => {
                    return Err(e);
                }
                Err(_) => None,
            },
            None => None,
        };
        let token = match (renewed, &cfg.credentials) {
            (Some(t), _) => t,
            (
                None,
                Credentials::Password {
                    username,
                    password,
                    domain,
                },
            ) => login(cfg, cx, username, password, domain.as_deref()).await?,
            (None, Credentials::Token(_)) => {
                return Err(BackendError::auth_rejected(format!(
                    "{} no longer accepts the configured authtoken and would not renew it",
                    cfg.name
                )));
            }
        };
        *self.held.lock().unwrap_or_else(|e| e.into_inner()) = Some(Held {
            token: token.clone(),
            generation,
        });
        Ok((token, generation))
    }
}

/// Reads a token out of a `Login` or `RenewLoginToken` answer.
fn token_from(
    cfg: &CommvaultConfig,
    raw: &client::Raw,
    action: &str,
) -> Result<Secret, BackendError> {
    if raw.status == 401 || raw.status == 403 {
        return Err(BackendError::auth_rejected(format!(
            "{} refused the gateway's {action} (http {})",
            cfg.name, raw.status
        ))
        .with_status(raw.status));
    }
    let v = client::json(cfg, raw).map_err(|e| match e.kind {
        // An error code in the body of a login is a refusal of the credentials.
        ErrorKind::NotFound
        | ErrorKind::Conflict
        | ErrorKind::Upstream
        | ErrorKind::InvalidInput
            if (200..300).contains(&raw.status) =>
        {
            BackendError::auth_rejected(format!("{} refused the gateway's {action}", cfg.name))
                .with_status(raw.status)
        }
        _ => e,
    })?;
    let answer: TokenAnswer = client::decode(cfg, &format!("a {action} answer"), &v)?;
    match answer.token.filter(|t| !t.is_empty()) {
        Some(t) if http::HeaderValue::from_str(&t).is_ok() => Ok(Secret::new(t)),
        Some(_) => Err(BackendError::bad_response(format!(
            "{} issued a token that is not a valid header value",
            cfg.name
        ))),
        None => Err(BackendError::auth_rejected(format!(
            "{} refused the gateway's {action}",
            cfg.name
        ))
        .with_status(raw.status)),
    }
}

async fn login(
    cfg: &CommvaultConfig,
    cx: &CallContext,
    username: &str,
    password: &Secret,
    domain: Option<&str>,
) -> Result<Secret, BackendError> {
    let body = map::login_body(username, password.expose(), domain, &cfg.device_id);
    let call = Call::with_body(Method::POST, "Login", "application/json", body);
    let raw = client::send(cfg, cx, &call, None).await?;
    token_from(cfg, &raw, "login")
}

async fn renew(
    cfg: &CommvaultConfig,
    cx: &CallContext,
    old: &Secret,
) -> Result<Secret, BackendError> {
    let body = map::renew_body(old.expose(), &cfg.device_id);
    let call = Call::with_body(Method::POST, "RenewLoginToken", "application/json", body);
    let raw = client::send(cfg, cx, &call, Some(old)).await?;
    token_from(cfg, &raw, "token renewal")
}
