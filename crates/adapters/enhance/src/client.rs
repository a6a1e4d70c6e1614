//! The thin I/O part: what is Enhance's own about a request (its paths, `Accept`, and the
//! credential: `Authorization: Bearer` for an API token, `Cookie: id0=` for a login session)
//! and about an answer (a non-2xx is classified by [`error::from_status`]). Building, sending
//! and decoding are core's [`orgway_core::call`].

use bytes::Bytes;
use http::{HeaderValue, header};
use orgway_core::call::{self, Answer, Call, segment};
use orgway_core::{BackendError, CallContext, Secret};

use crate::config::{Credentials, EnhanceConfig};
use crate::error;

/// `/orgs/{org}`.
pub fn org_path(org: &str) -> String {
    format!("/orgs/{}", segment(org))
}

/// `/orgs/{org}/customers`.
pub fn customers_path(org: &str) -> String {
    format!("{}/customers", org_path(org))
}

/// `/orgs/{org}/customers/{customer}/subscriptions`.
pub fn customer_subscriptions_path(org: &str, customer: &str) -> String {
    format!(
        "{}/{}/subscriptions",
        customers_path(org),
        segment(customer)
    )
}

/// `/orgs/{org}/subscriptions`: the org's own subscriptions (to its parent's plans).
pub fn own_subscriptions_path(org: &str) -> String {
    format!("{}/subscriptions", org_path(org))
}

/// `/orgs/{org}/subscriptions/{id}`.
pub fn subscription_path(org: &str, id: u64) -> String {
    format!("{}/{id}", own_subscriptions_path(org))
}

/// `/orgs/{org}/plans`: the plans the org offers.
pub fn plans_path(org: &str) -> String {
    format!("{}/plans", org_path(org))
}

/// `/orgs/{org}/stats/customers/added`.
pub fn customers_added_path(org: &str) -> String {
    format!("{}/stats/customers/added", org_path(org))
}

/// The credential header: a token as `Authorization: Bearer`, a session as its `id0` cookie.
fn with_credential(
    cfg: &EnhanceConfig,
    call: Call,
    credential: &Secret,
) -> Result<Call, BackendError> {
    let (name, value) = match cfg.credentials {
        Credentials::Token(_) => (
            header::AUTHORIZATION,
            format!("Bearer {}", credential.expose()),
        ),
        Credentials::Login { .. } => (header::COOKIE, format!("id0={}", credential.expose())),
    };
    let value = HeaderValue::from_str(&value).map_err(|_| {
        BackendError::auth_rejected(format!(
            "{}: the credential is not a valid header value",
            cfg.name
        ))
    })?;
    Ok(call.sensitive_header(name, value))
}

/// Sends a call with the credential; every HTTP status is an answer. The call is borrowed: a
/// call that met an expired session is sent again with a renewed one.
pub async fn send(
    cfg: &EnhanceConfig,
    cx: &CallContext,
    call: &Call,
    credential: Option<&Secret>,
) -> Result<Answer, BackendError> {
    let mut call = call
        .clone()
        .header(header::ACCEPT, HeaderValue::from_static("application/json"));
    if let Some(c) = credential {
        call = with_credential(cfg, call, c)?;
    }
    call::send(cx, &cfg.name, &cfg.base_url, call).await
}

/// The body of a 2xx answer, or the classified error.
pub fn body(cfg: &EnhanceConfig, answer: Answer) -> Result<Bytes, BackendError> {
    if answer.is_success() {
        Ok(answer.body)
    } else {
        Err(answer.failure(&cfg.name, || {
            error::from_status(&cfg.name, answer.status, &answer.body)
        }))
    }
}
