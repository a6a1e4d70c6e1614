//! The thin I/O part: what is Cocoon's own about a request (the API under `/api/v1` and the
//! token endpoint under `/api/oauth` below the access-service origin, `Accept:
//! application/json`, the Bearer token; the token request's Basic client authentication and
//! form body) and about an answer (JSON, a failure known by its status). Building, sending and
//! decoding are core's [`orgway_core::call`].

use http::{HeaderValue, Method, header};
use orgway_core::call::{self, Answer, Call, decode_json, segment};
use orgway_core::{BackendError, CallContext, Secret};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::config::{Client, CocoonConfig};
use crate::error;
use crate::map;

/// The organisation list.
pub const ORGANISATIONS: &str = "/api/v1/organisations";
/// The token endpoint.
pub const TOKEN: &str = "/api/oauth/token";

/// `/api/v1/organisations/{orgGroupId}` followed by `rest` (`""`, `/plans`, …).
pub fn org_path(org: &str, rest: &str) -> String {
    format!("{ORGANISATIONS}/{}{rest}", segment(org))
}

fn accept_json(call: Call) -> Call {
    call.header(header::ACCEPT, HeaderValue::from_static("application/json"))
}

/// Sends an API call with `token` as its Bearer token. Every HTTP status is an answer; only
/// transport failures are errors. The call is borrowed: one that met an expired token is sent
/// again with a fresh one.
pub async fn send(
    cfg: &CocoonConfig,
    cx: &CallContext,
    call: &Call,
    token: &Secret,
) -> Result<Answer, BackendError> {
    let bearer = HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
        BackendError::auth_rejected(format!(
            "{}: the gateway's access token is not a valid header value",
            cfg.name
        ))
    })?;
    let call = accept_json(call.clone()).sensitive_header(header::AUTHORIZATION, bearer);
    call::send(cx, &cfg.name, &cfg.base_url, call).await
}

/// Classifies an API answer that is not a 2xx (a 429 first, as the rate limit it is).
pub fn check(cfg: &CocoonConfig, answer: &Answer) -> Result<(), BackendError> {
    if !answer.is_success() {
        return Err(answer.failure(&cfg.name, || {
            error::from_status(&cfg.name, answer.status, &answer.body)
        }));
    }
    Ok(())
}

/// Reads an API answer: a 2xx as JSON of type `T` (and the raw value when `include_raw`);
/// anything else classified by [`check`]. `what` names the thing, with its article.
pub fn read<T: DeserializeOwned>(
    cfg: &CocoonConfig,
    answer: &Answer,
    what: &str,
    include_raw: bool,
) -> Result<(T, Option<Value>), BackendError> {
    check(cfg, answer)?;
    decode_json(&cfg.name, what, &answer.body, include_raw)
        .map_err(|e| e.with_status(answer.status))
}

/// Sends a token request for `grant` with the client's id and secret as HTTP Basic.
pub async fn token_request(
    cfg: &CocoonConfig,
    cx: &CallContext,
    client: &Client,
    grant: map::Grant<'_>,
) -> Result<Answer, BackendError> {
    let basic = HeaderValue::from_str(&map::basic_auth(client)).map_err(|_| {
        BackendError::auth_rejected(format!(
            "{}: the client's credentials cannot be sent in a header",
            cfg.name
        ))
    })?;
    let call = accept_json(Call::new(Method::POST, TOKEN).credential_exchange())
        .sensitive_header(header::AUTHORIZATION, basic)
        .body(
            HeaderValue::from_static("application/x-www-form-urlencoded"),
            map::token_form(grant),
        );
    call::send(cx, &cfg.name, &cfg.base_url, call).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            org_path("749418071827214336", ""),
            "/api/v1/organisations/749418071827214336"
        );
        assert_eq!(
            org_path("7", "/statistics/plans"),
            "/api/v1/organisations/7/statistics/plans"
        );
    }
}
