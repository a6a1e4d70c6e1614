//! The thin I/O part: what is Watson IoT's own about a request (the org's base URL, with the
//! org id as the first label of its host name; HTTP Basic with the org's API key and token) and
//! about an answer (a non-2xx is classified by [`error::from_status`]). Building, sending and
//! decoding are core's [`orgway_core::call`].

use base64::Engine;
use bytes::Bytes;
use http::{HeaderValue, header};
use orgway_core::call::{self, Call};
use orgway_core::{BackendError, CallContext};

use crate::config::{ApiKey, WatsonIotConfig};
use crate::error;

/// The path of View Organization, below the API root: the root itself, with its trailing slash
/// (`…/api/v0002/`), as the document and the SDKs write it.
pub const ORGANIZATION: &str = "/";
/// The data volume used, per day with `detail=true`.
pub const DATA_TRAFFIC: &str = "/usage/data-traffic";
/// The devices active over a period, per day with `detail=true`.
pub const ACTIVE_DEVICES: &str = "/usage/active-devices";

/// `Authorization: Basic base64(key:token)`.
fn basic(key: &ApiKey) -> Result<HeaderValue, BackendError> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        key.key,
        key.token.expose()
    ));
    HeaderValue::from_str(&format!("Basic {encoded}")).map_err(|_| {
        BackendError::upstream("the configured API key is not a valid header value")
            .retryable(false)
    })
}

/// Sends a call for the org of `key`, to that org's host, and returns the body of a 2xx
/// answer, or the classified error.
pub async fn send(
    cfg: &WatsonIotConfig,
    cx: &CallContext,
    key: &ApiKey,
    call: Call,
) -> Result<Bytes, BackendError> {
    let base = cfg
        .base_url
        .for_org(&key.org)
        .map_err(|m| BackendError::upstream(format!("{}: {m}", cfg.name)).retryable(false))?;
    let call = call
        .header(header::ACCEPT, HeaderValue::from_static("application/json"))
        .sensitive_header(header::AUTHORIZATION, basic(key)?);
    let answer = call::send(cx, &cfg.name, &base, call).await?;
    if answer.is_success() {
        Ok(answer.body)
    } else {
        Err(answer.failure(&cfg.name, || {
            error::from_status(&cfg.name, answer.status, &answer.body)
        }))
    }
}
