//! The Commvault session: the `QSDK …` token the gateway holds, how it is obtained
//! (`POST Login`, password base64-encoded) and renewed (`POST RenewLoginToken`, else a fresh
//! login).
//!
//! When a refresh runs is core's credential flow (`orgway_core::credential`), the same for
//! every dialect: one login (or renewal) in flight however many calls wait, no caller owning
//! it; abandoned after the backend's `timeout_ms` so a login that never answers cannot block
//! the backend; refusals remembered and backed off (5 s, 20 s, 80 s, up to 5 min) so a wrong
//! password under load cannot lock the service account (Commvault locks accounts after
//! repeated failures).
//!
//! Any answer to a login other than a 2xx, a 5xx or a 429 is a refusal of the gateway's
//! credentials (`502 backend_auth_failed`): a 400 "Invalid username or password", and a 404
//! from a wrong base path, alike. A 2xx carrying an error code or no token is one too.
//!
//! This is a credential flow, not a retry policy: the call that met the expired token is
//! repeated once with the new token (see `lib.rs`); the gateway's policy stack still decides
//! everything else.

use std::sync::Arc;

use http::Method;
use orgway_core::call::{Answer, Call, from_value};
use orgway_core::credential::{Credential, Fresh, RefreshFuture};
use orgway_core::{BackendError, CallContext, ErrorKind, Secret};

use crate::client;
use crate::config::{CommvaultConfig, Credentials};
use crate::error;
use crate::map;
use crate::wire::TokenAnswer;

/// The session of one backend.
#[derive(Debug)]
pub struct Session {
    token: Credential<Secret>,
}

impl Session {
    /// A session; with a configured token it starts with that token, otherwise with none (the
    /// first call logs in).
    pub fn new(creds: &Credentials) -> Self {
        let initial = match creds {
            Credentials::Token(t) => Some(t.clone()),
            Credentials::Password { .. } => None,
        };
        Session {
            token: Credential::new(initial),
        }
    }

    /// How many logins or renewals have been started (tests).
    pub fn refreshes_started(&self) -> u64 {
        self.token.refreshes_started()
    }

    fn refresh(
        cfg: &Arc<CommvaultConfig>,
        cx: &CallContext,
    ) -> impl FnOnce(Option<Secret>) -> RefreshFuture<Secret> {
        let (cfg, cx) = (cfg.clone(), cx.clone());
        move |current| Box::pin(async move { obtain(cfg, cx, current).await.map(Fresh::lasting) })
    }

    /// A token to call with, logging in first if there is none. Returns the token and its
    /// generation (to pass to [`Session::renew_after`] on a 401).
    pub async fn token(
        &self,
        cfg: &Arc<CommvaultConfig>,
        cx: &CallContext,
    ) -> Result<(Secret, u64), BackendError> {
        self.token.get(cx.timeout(), Self::refresh(cfg, cx)).await
    }

    /// A token newer than generation `stale`, which Commvault just refused.
    pub async fn renew_after(
        &self,
        cfg: &Arc<CommvaultConfig>,
        cx: &CallContext,
        stale: u64,
    ) -> Result<(Secret, u64), BackendError> {
        self.token
            .renew_after(stale, cx.timeout(), Self::refresh(cfg, cx))
            .await
    }
}

/// Renews `current` if there is one, else (or if Commvault will not renew it) logs in.
async fn obtain(
    cfg: Arc<CommvaultConfig>,
    cx: CallContext,
    current: Option<Secret>,
) -> Result<Secret, BackendError> {
    let renewed = match &current {
        // cvpysdk renews a `QSDK`/`SAML` token, never a `Bearer` one (dialects.md §2.2).
        Some(token) if !token.expose().starts_with("Bearer ") => {
            match renew(&cfg, &cx, token).await {
                Ok(t) => Some(t),
                // The backend is down or slow: a login would fare no better.
                Err(e) if matches!(e.kind, ErrorKind::Timeout | ErrorKind::Unavailable) => {
                    return Err(e);
                }
                Err(_) => None,
            }
        }
        _ => None,
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
        ) => login(&cfg, &cx, username, password, domain.as_deref()).await?,
        (None, Credentials::Token(_)) => {
            return Err(BackendError::auth_rejected(format!(
                "{} no longer accepts the configured authtoken and would not renew it",
                cfg.name
            )));
        }
    };
    Ok(token)
}

/// Reads a token out of a `Login` or `RenewLoginToken` answer.
fn token_from(cfg: &CommvaultConfig, raw: &Answer, action: &str) -> Result<Secret, BackendError> {
    let refused = || {
        BackendError::auth_rejected(format!("{} refused the gateway's {action}", cfg.name))
            .with_status(raw.status)
    };
    // Every answer but a success, a server failure or a rate limit refuses the credentials:
    // a 400 "Invalid username or password", a 403, and a 404 from a wrong base path alike.
    if !(200..300).contains(&raw.status) && raw.status < 500 && raw.status != 429 {
        return Err(refused());
    }
    if raw.status >= 500 {
        // Classified by its status alone: a login's failure may quote what it was sent.
        return Err(error::from_status(&cfg.name, raw.status, None, b""));
    }
    let v = match client::json(cfg, raw) {
        Ok(Some(v)) => v,
        Ok(None) => {
            return Err(BackendError::bad_response(format!(
                "{} answered the {action} in XML, not JSON",
                cfg.name
            )));
        }
        // An error code in the body of a 2xx login answer is a refusal of the credentials.
        Err(e)
            if (200..300).contains(&raw.status)
                && matches!(
                    e.kind,
                    ErrorKind::NotFound
                        | ErrorKind::Conflict
                        | ErrorKind::Upstream
                        | ErrorKind::InvalidInput
                ) =>
        {
            return Err(refused());
        }
        Err(e) => return Err(e),
    };
    let answer: TokenAnswer = from_value(&cfg.name, &format!("a {action} answer"), &v)?;
    match answer.token.filter(|t| !t.is_empty()) {
        Some(t) if http::HeaderValue::from_str(&t).is_ok() => Ok(Secret::new(t)),
        Some(_) => Err(BackendError::bad_response(format!(
            "{} issued a token that is not a valid header value",
            cfg.name
        ))),
        None => Err(refused()),
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
    let call = Call::new(Method::POST, "/Login")
        .json(body)
        .credential_exchange();
    let raw = client::send(cfg, cx, &call, None).await?;
    token_from(cfg, &raw, "login")
}

async fn renew(
    cfg: &CommvaultConfig,
    cx: &CallContext,
    old: &Secret,
) -> Result<Secret, BackendError> {
    let body = map::renew_body(old.expose(), &cfg.device_id);
    let call = Call::new(Method::POST, "/RenewLoginToken")
        .json(body)
        .credential_exchange();
    let raw = client::send(cfg, cx, &call, Some(old)).await?;
    token_from(cfg, &raw, "token renewal")
}
