//! The thin I/O part: what is Losant's own about a request (its paths, the SDK's query controls
//! first, the `Accept-Version`, Bearer and `losantdomain` headers) and about an answer (a non-2xx
//! is classified by [`error::from_status`]). Building, sending and decoding are core's
//! [`orgway_core::call`].

use bytes::Bytes;
use http::{HeaderValue, Method, header};
use orgway_core::call::{self, Call, push_segment};
use orgway_core::{BackendError, CallContext};

use crate::config::LosantConfig;
use crate::error;

/// The HAL controls the vendor's SDKs put on every request, before the action's parameters.
const SDK_QUERY: [(&str, &str); 3] = [
    ("_actions", "false"),
    ("_links", "true"),
    ("_embedded", "true"),
];

/// The API version header (names built once: a name built from a `&str` is parsed at each use).
const ACCEPT_VERSION: http::HeaderName = http::HeaderName::from_static("accept-version");
/// The header naming the instance's domain, when configured.
const LOSANT_DOMAIN: http::HeaderName = http::HeaderName::from_static("losantdomain");

/// A call to one Losant action, with the SDK's query controls; the action's own parameters
/// follow them.
pub fn call(method: Method, path: String) -> Call {
    Call::new(method, path).params(SDK_QUERY)
}

/// The path of the instance's org collection.
pub fn orgs_path(cfg: &LosantConfig) -> String {
    let mut p = String::with_capacity(96);
    p.push_str("/instances/");
    push_segment(&mut p, &cfg.instance_id);
    p.push_str("/orgs");
    p
}

/// The path of one org, or of one of its actions when `action` is given.
pub fn org_path(cfg: &LosantConfig, org: &str, action: Option<&str>) -> String {
    let mut p = orgs_path(cfg);
    p.push('/');
    push_segment(&mut p, org);
    if let Some(a) = action {
        p.push('/');
        p.push_str(a);
    }
    p
}

/// Sends a call with Losant's headers and returns the body of a 2xx answer, or the classified
/// error.
pub async fn send(cfg: &LosantConfig, cx: &CallContext, call: Call) -> Result<Bytes, BackendError> {
    let mut call = call
        .header(header::ACCEPT, HeaderValue::from_static("application/json"))
        .header(ACCEPT_VERSION, cfg.accept_version.clone())
        .sensitive_header(header::AUTHORIZATION, cfg.authorization.clone());
    if let Some(d) = &cfg.domain {
        call = call.header(LOSANT_DOMAIN, d.clone());
    }
    let answer = call::send(cx, &cfg.name, &cfg.base_url, call).await?;
    if answer.is_success() {
        Ok(answer.body)
    } else {
        Err(answer.failure(&cfg.name, || {
            error::from_status(&cfg.name, answer.status, &answer.body)
        }))
    }
}
