//! The Enhance credential: an API token given by configuration, or the session cookie `id0`
//! that a login (`POST /login/sessions` with the email and password) sets.
//!
//! When a login runs is core's credential flow (`orgway_core::credential`), the same for every
//! dialect: one login in flight however many calls wait, no caller owning it; abandoned after
//! the backend's `timeout_ms`; refusals remembered and backed off (5 s, 20 s, 80 s, up to
//! 5 min), so a wrong password under load cannot lock the login; and a session whose cookie
//! states its lifetime (`Max-Age` or `Expires`) renewed shortly before it ends.
//!
//! Any answer to a login other than a 2xx, a 5xx or a 429 is a refusal of the gateway's
//! credentials (`502 backend_auth_failed`): the 401 "Invalid credentials", a 400 and a 404 from
//! a wrong base path alike. So is a 2xx that sets no session: the 201 of a login that needs a
//! second factor, which the gateway cannot give. A token the vendor refuses is not renewed: its
//! refusal is remembered the same way.
//!
//! This is a credential flow, not a retry policy: the call that met an expired session is sent
//! once more with the new one (see `lib.rs`).

use std::sync::Arc;

use http::Method;
use orgway_core::call::Call;
use orgway_core::credential::{Credential, Fresh, RefreshFuture};
use orgway_core::{BackendError, CallContext, Secret, Timestamp};

use crate::client;
use crate::config::{Credentials, EnhanceConfig};
use crate::error;

/// The credential of one backend.
#[derive(Debug)]
pub struct Session {
    credential: Credential<Secret>,
}

impl Session {
    /// A session: with a token it starts with that token, with a login with none (the first
    /// call logs in).
    pub fn new(creds: &Credentials) -> Self {
        let initial = match creds {
            Credentials::Token(t) => Some(t.clone()),
            Credentials::Login { .. } => None,
        };
        Session {
            credential: Credential::new(initial),
        }
    }

    /// How many logins have been started (tests).
    pub fn logins_started(&self) -> u64 {
        self.credential.refreshes_started()
    }

    fn refresh(
        cfg: &Arc<EnhanceConfig>,
        cx: &CallContext,
    ) -> impl FnOnce(Option<Secret>) -> RefreshFuture<Secret> {
        let (cfg, cx) = (cfg.clone(), cx.clone());
        move |_| Box::pin(async move { obtain(&cfg, &cx).await })
    }

    /// A credential to call with and its generation (for [`Session::renew_after`]).
    pub async fn get(
        &self,
        cfg: &Arc<EnhanceConfig>,
        cx: &CallContext,
    ) -> Result<(Secret, u64), BackendError> {
        self.credential
            .get(cx.timeout(), Self::refresh(cfg, cx))
            .await
    }

    /// A credential newer than generation `stale`, which Enhance just refused.
    pub async fn renew_after(
        &self,
        cfg: &Arc<EnhanceConfig>,
        cx: &CallContext,
        stale: u64,
    ) -> Result<(Secret, u64), BackendError> {
        self.credential
            .renew_after(stale, cx.timeout(), Self::refresh(cfg, cx))
            .await
    }
}

/// Logs in, or says that a token cannot be renewed.
async fn obtain(cfg: &EnhanceConfig, cx: &CallContext) -> Result<Fresh<Secret>, BackendError> {
    let Credentials::Login {
        email,
        password,
        realm_id,
    } = &cfg.credentials
    else {
        return Err(BackendError::auth_rejected(format!(
            "{} rejected the configured API token",
            cfg.name
        )));
    };
    let body = serde_json::json!({ "email": email, "password": password.expose() });
    let mut login = Call::new(Method::POST, "/login/sessions")
        .json(body.to_string())
        .credential_exchange();
    if let Some(realm) = realm_id {
        login = login.param("realmId", realm.clone());
    }
    let answer = client::send(cfg, cx, &login, None).await?;
    let refused = |why: &str| {
        BackendError::auth_rejected(format!("{} refused the gateway's login{why}", cfg.name))
            .with_status(answer.status)
    };
    if let Some(limited) = answer.rate_limit(&cfg.name) {
        return Err(limited);
    }
    if answer.status >= 500 {
        // Classified by its status alone: a login's failure may quote what it was sent.
        return Err(error::from_status(&cfg.name, answer.status, b""));
    }
    if !answer.is_success() {
        return Err(refused(""));
    }
    if answer.status == 201 {
        return Err(refused(
            ": the login needs a second factor, which the gateway cannot give",
        ));
    }
    let cookie = answer
        .set_cookie("id0", Timestamp::now())
        .filter(|c| !c.value.is_empty())
        .ok_or_else(|| refused(": the answer set no session cookie"))?;
    if http::HeaderValue::from_str(&format!("id0={}", cookie.value)).is_err() {
        return Err(BackendError::bad_response(format!(
            "{} set a session cookie that is not a valid header value",
            cfg.name
        )));
    }
    Ok(Fresh {
        value: Secret::new(cookie.value),
        lifetime: cookie.lifetime,
    })
}
