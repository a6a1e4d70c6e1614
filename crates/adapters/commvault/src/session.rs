//! The Commvault session: the `QSDK …` token the gateway holds, how it is obtained
//! (`POST Login`, password base64-encoded) and renewed (`POST RenewLoginToken`, else a fresh
//! login), and the guarantee that however many calls find it missing or expired at once,
//! exactly one login (or renewal) is in flight.
//!
//! Each token has a generation. A call that gets a 401 asks for a token newer than the one it
//! used. The first such call starts a refresh; every call that asks while it runs awaits the
//! same refresh (a shared future) and gets its outcome, success or failure. No single caller
//! owns it: a caller that gives up (its client disconnects, its deadline passes) leaves the
//! refresh running for the others, so a login is never abandoned half-way and started again.
//!
//! A login Commvault refuses is remembered for [`LOGIN_COOLDOWN`]: calls in that time get the
//! same `backend_auth_failed` without another attempt, so a wrong password under load cannot
//! lock the service account (Commvault locks accounts after repeated failures).
//!
//! This is a credential flow, not a retry policy: the call that met the expired token is
//! repeated once with the new token (see `lib.rs`); the gateway's policy stack still decides
//! everything else.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::Shared;
use http::Method;
use orgway_core::call::{Answer, Call, from_value};
use orgway_core::{BackendError, CallContext, ErrorKind, Secret};

use crate::client;
use crate::config::{CommvaultConfig, Credentials};
use crate::map;
use crate::wire::TokenAnswer;

/// How long a refused login is answered from memory.
pub const LOGIN_COOLDOWN: Duration = Duration::from_secs(5);

/// The token and its generation.
#[derive(Clone)]
struct Held {
    token: Secret,
    generation: u64,
}

type Refresh = Shared<Pin<Box<dyn Future<Output = Result<Held, BackendError>> + Send>>>;

struct State {
    held: Option<Held>,
    /// The refresh under way, if any; every caller needing a token awaits this one.
    inflight: Option<Refresh>,
    /// The last refused login and when it was refused.
    refused: Option<(Instant, BackendError)>,
}

/// The session of one backend.
pub struct Session {
    state: Mutex<State>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.lock();
        f.debug_struct("Session")
            .field("generation", &st.held.as_ref().map(|h| h.generation))
            .field("refreshing", &st.inflight.is_some())
            .finish()
    }
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
            state: Mutex::new(State {
                held,
                inflight: None,
                refused: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A token to call with, logging in first if there is none. Returns the token and its
    /// generation (to pass to [`Session::renew_after`] on a 401).
    pub async fn token(
        &self,
        cfg: &Arc<CommvaultConfig>,
        cx: &CallContext,
    ) -> Result<(Secret, u64), BackendError> {
        if let Some(h) = &self.lock().held {
            return Ok((h.token.clone(), h.generation));
        }
        self.refresh(cfg, cx, None).await
    }

    /// A token newer than generation `stale`, which Commvault just refused.
    pub async fn renew_after(
        &self,
        cfg: &Arc<CommvaultConfig>,
        cx: &CallContext,
        stale: u64,
    ) -> Result<(Secret, u64), BackendError> {
        self.refresh(cfg, cx, Some(stale)).await
    }

    async fn refresh(
        &self,
        cfg: &Arc<CommvaultConfig>,
        cx: &CallContext,
        stale: Option<u64>,
    ) -> Result<(Secret, u64), BackendError> {
        let refresh = {
            let mut st = self.lock();
            if let Some(h) = &st.held
                && stale != Some(h.generation)
            {
                // Another call logged in or renewed since this one got its token.
                return Ok((h.token.clone(), h.generation));
            }
            match &st.inflight {
                Some(r) => r.clone(),
                None => {
                    if let Some((at, e)) = &st.refused
                        && at.elapsed() < LOGIN_COOLDOWN
                    {
                        return Err(e.clone());
                    }
                    let work: Pin<Box<dyn Future<Output = Result<Held, BackendError>> + Send>> =
                        Box::pin(obtain(cfg.clone(), cx.clone(), st.held.clone()));
                    let r = work.shared();
                    st.inflight = Some(r.clone());
                    r
                }
            }
        };
        let outcome = refresh.clone().await;
        let mut st = self.lock();
        // The first caller to see the refresh finish records its outcome, once.
        if st.inflight.as_ref().is_some_and(|r| r.ptr_eq(&refresh)) {
            st.inflight = None;
            match &outcome {
                Ok(h) => {
                    st.held = Some(h.clone());
                    st.refused = None;
                }
                Err(e) if e.kind == ErrorKind::AuthRejected => {
                    st.refused = Some((Instant::now(), e.clone()))
                }
                Err(_) => {}
            }
        }
        outcome.map(|h| (h.token, h.generation))
    }
}

/// Renews `current` if there is one, else (or if Commvault will not renew it) logs in.
async fn obtain(
    cfg: Arc<CommvaultConfig>,
    cx: CallContext,
    current: Option<Held>,
) -> Result<Held, BackendError> {
    let generation = current.as_ref().map_or(1, |h| h.generation + 1);
    let renewed = match &current {
        Some(h) => match renew(&cfg, &cx, &h.token).await {
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
        ) => login(&cfg, &cx, username, password, domain.as_deref()).await?,
        (None, Credentials::Token(_)) => {
            return Err(BackendError::auth_rejected(format!(
                "{} no longer accepts the configured authtoken and would not renew it",
                cfg.name
            )));
        }
    };
    Ok(Held { token, generation })
}

/// Reads a token out of a `Login` or `RenewLoginToken` answer.
fn token_from(cfg: &CommvaultConfig, raw: &Answer, action: &str) -> Result<Secret, BackendError> {
    let refused = || {
        BackendError::auth_rejected(format!("{} refused the gateway's {action}", cfg.name))
            .with_status(raw.status)
    };
    if raw.status == 401 || raw.status == 403 {
        return Err(refused());
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
    let call = Call::new(Method::POST, "/Login").json(body);
    let raw = client::send(cfg, cx, &call, None).await?;
    token_from(cfg, &raw, "login")
}

async fn renew(
    cfg: &CommvaultConfig,
    cx: &CallContext,
    old: &Secret,
) -> Result<Secret, BackendError> {
    let body = map::renew_body(old.expose(), &cfg.device_id);
    let call = Call::new(Method::POST, "/RenewLoginToken").json(body);
    let raw = client::send(cfg, cx, &call, Some(old)).await?;
    token_from(cfg, &raw, "token renewal")
}
