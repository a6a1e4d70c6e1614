//! The Cocoon session: the OAuth2 access token the gateway holds, and how a new one is
//! obtained at `POST /api/oauth/token` with the client's id and secret as HTTP Basic — the
//! `refresh_token` grant when the gateway holds a refresh token, the `password` grant otherwise
//! or when the refresh token is refused.
//!
//! When a refresh runs is core's credential flow (`orgway_core::credential`), the same for
//! every dialect: one token request in flight however many calls wait, no caller owning it;
//! abandoned after the backend's `timeout_ms`; refusals remembered and backed off (5 s, 20 s,
//! 80 s, up to 5 min); and, since every token answer says how long it lasts (`expires_in`, or
//! the JWT's `exp`), a token is refreshed shortly before it ends rather than after a 401.
//!
//! Which refusals lead where:
//! - the refresh token refused as a grant (400, `invalid_grant`: expired or revoked): it is
//!   never sent again, and the password grant follows at once when there is a password;
//! - the client refused (401, `invalid_client`): the password grant would be refused the same
//!   way, so none follows;
//! - any other answer but a 2xx, a 5xx or a 429 refuses the gateway's credentials too (a 404
//!   from a wrong base URL alike): `502 backend_auth_failed`, never `not_found`.
//!
//! So a refused refresh costs one token request per backoff period, plus, the first time, the
//! password grant that replaces a spent refresh token.
//!
//! This is a credential flow, not a retry policy: the call that met an expired token is sent
//! once more with the new token (see `lib.rs`); the gateway's stack decides everything else.

use std::fmt;
use std::sync::{Arc, Mutex};

use orgway_core::call::decode_json;
use orgway_core::credential::{Credential, Fresh, RefreshFuture};
use orgway_core::{BackendError, CallContext, ErrorKind, Secret};

use crate::client;
use crate::config::{Client, CocoonConfig, Credentials};
use crate::error;
use crate::map::{self, Grant};
use crate::wire::TokenAnswer;

/// An access token and the refresh token that came with it.
#[derive(Clone)]
pub struct Token {
    pub access: Secret,
    pub refresh: Option<Secret>,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("access", &self.access)
            .field("refresh", &self.refresh.as_ref().map(|_| "***"))
            .finish()
    }
}

/// The fingerprint of the last refresh token Cocoon refused.
type Refused = Arc<Mutex<Option<String>>>;

/// The session of one backend.
#[derive(Debug)]
pub struct Session {
    token: Credential<Token>,
    refused_refresh: Refused,
}

impl Session {
    /// A session; with a static token it starts with that token, otherwise with none (the
    /// first call asks for one).
    pub fn new(creds: &Credentials) -> Self {
        let initial = match creds {
            Credentials::Static(t) => Some(Token {
                access: t.clone(),
                refresh: None,
            }),
            Credentials::OAuth { .. } => None,
        };
        Session {
            token: Credential::new(initial),
            refused_refresh: Arc::new(Mutex::new(None)),
        }
    }

    fn refresh(
        &self,
        cfg: &Arc<CocoonConfig>,
        cx: &CallContext,
    ) -> impl FnOnce(Option<Token>) -> RefreshFuture<Token> + use<> {
        let (cfg, cx, refused) = (cfg.clone(), cx.clone(), self.refused_refresh.clone());
        move |current| Box::pin(async move { obtain(cfg, cx, refused, current).await })
    }

    /// A token to call with, and its generation (to pass to [`Session::renew_after`] on a
    /// 401).
    pub async fn token(
        &self,
        cfg: &Arc<CocoonConfig>,
        cx: &CallContext,
    ) -> Result<(Token, u64), BackendError> {
        self.token.get(cx.timeout(), self.refresh(cfg, cx)).await
    }

    /// A token newer than generation `stale`, which Cocoon just refused.
    pub async fn renew_after(
        &self,
        cfg: &Arc<CocoonConfig>,
        cx: &CallContext,
        stale: u64,
    ) -> Result<(Token, u64), BackendError> {
        self.token
            .renew_after(stale, cx.timeout(), self.refresh(cfg, cx))
            .await
    }
}

fn lock(m: &Mutex<Option<String>>) -> std::sync::MutexGuard<'_, Option<String>> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A new access token: by the refresh token held (or configured) unless Cocoon refused it
/// before, else (or when it is refused now) by the password.
async fn obtain(
    cfg: Arc<CocoonConfig>,
    cx: CallContext,
    refused: Refused,
    current: Option<Token>,
) -> Result<Fresh<Token>, BackendError> {
    let (client, password, configured) = match &cfg.credentials {
        Credentials::Static(_) => {
            return Err(BackendError::auth_rejected(format!(
                "{} no longer accepts the configured access token",
                cfg.name
            )));
        }
        Credentials::OAuth {
            client,
            password,
            refresh_token,
        } => (client, password, refresh_token),
    };
    let refresh = current
        .and_then(|t| t.refresh)
        .or_else(|| configured.clone())
        .filter(|r| lock(&refused).as_deref() != Some(r.fingerprint().as_str()));
    if let Some(r) = refresh {
        match grant(&cfg, &cx, client, Grant::Refresh(r.expose()), Some(&r)).await {
            Ok(fresh) => return Ok(fresh),
            // The refresh token is spent: never again; the password, if there is one, now.
            Err(e) if e.kind == ErrorKind::AuthRejected && e.backend_status == Some(400) => {
                *lock(&refused) = Some(r.fingerprint());
                if password.is_none() {
                    return Err(e);
                }
            }
            // The client is refused, or Cocoon is down or slow: a password grant would fare no
            // better.
            Err(e) => return Err(e),
        }
    }
    match password {
        Some((username, password)) => {
            let g = Grant::Password {
                username,
                password: password.expose(),
            };
            grant(&cfg, &cx, client, g, None).await
        }
        None => Err(BackendError::auth_rejected(format!(
            "{} holds no refresh token Cocoon accepts, and no password is configured",
            cfg.name
        ))),
    }
}

/// One token request. `used` is the refresh token sent, kept when the answer has no new one.
async fn grant(
    cfg: &CocoonConfig,
    cx: &CallContext,
    client: &Client,
    g: Grant<'_>,
    used: Option<&Secret>,
) -> Result<Fresh<Token>, BackendError> {
    let answer = client::token_request(cfg, cx, client, g).await?;
    if let Some(limited) = answer.rate_limit(&cfg.name) {
        return Err(limited);
    }
    if answer.status >= 500 {
        // Classified by its status alone: a token endpoint's words may quote the credential
        // it was sent.
        return Err(error::from_status(&cfg.name, answer.status, b""));
    }
    if !answer.is_success() {
        return Err(error::token_refused(
            &cfg.name,
            g.grant_type(),
            answer.status,
            &answer.body,
        ));
    }
    let (t, _) = decode_json::<TokenAnswer>(&cfg.name, "a token answer", &answer.body, false)?;
    let now = u64::try_from(orgway_core::Timestamp::now().unix_millis() / 1000).unwrap_or(0);
    let issued = map::issued(&cfg.name, &t, now)?;
    Ok(Fresh {
        value: Token {
            access: Secret::new(issued.access_token),
            refresh: issued
                .refresh_token
                .map(Secret::new)
                .or_else(|| used.cloned()),
        },
        lifetime: issued.lifetime,
    })
}
