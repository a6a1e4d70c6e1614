//! The thin I/O part: builds Losant requests (paths, SDK query controls, headers), sends them
//! through the gateway's shared client and turns the answer into bytes or a classified error.

use bytes::Bytes;
use http::{Method, Request, header};
use orgway_core::{BackendError, CallContext};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::de::DeserializeOwned;

use crate::config::LosantConfig;
use crate::error;

/// Characters escaped in a path segment: everything but unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The HAL controls the vendor's SDKs put on every request.
const SDK_QUERY: [(&str, &str); 3] = [
    ("_actions", "false"),
    ("_links", "true"),
    ("_embedded", "true"),
];

/// Percent-encodes one path segment.
pub fn segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// A request to one Losant action.
#[derive(Debug)]
pub struct Call<'a> {
    pub method: Method,
    /// The path below the base URL, segments already encoded.
    pub path: String,
    pub query: Vec<(&'a str, String)>,
    pub body: Option<Vec<u8>>,
}

impl<'a> Call<'a> {
    /// A request without a body.
    pub fn new(method: Method, path: String) -> Self {
        Call {
            method,
            path,
            query: Vec::new(),
            body: None,
        }
    }

    /// Adds a query parameter.
    pub fn param(mut self, name: &'a str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }

    /// Sets a JSON body.
    pub fn json(mut self, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self
    }
}

/// The path of the instance's org collection.
pub fn orgs_path(cfg: &LosantConfig) -> String {
    format!("/instances/{}/orgs", segment(&cfg.instance_id))
}

/// The path of one org, or of one of its actions when `action` is given.
pub fn org_path(cfg: &LosantConfig, org: &str, action: Option<&str>) -> String {
    let mut p = format!("{}/{}", orgs_path(cfg), segment(org));
    if let Some(a) = action {
        p.push('/');
        p.push_str(a);
    }
    p
}

/// The full URL of a call: base URL, path, the SDK's query controls, then the call's own
/// parameters.
pub fn url(cfg: &LosantConfig, call: &Call<'_>) -> String {
    let mut url = cfg.base_url.join(&call.path);
    url.push('?');
    let mut q = form_urlencoded::Serializer::new(url);
    for (k, v) in SDK_QUERY {
        q.append_pair(k, v);
    }
    for (k, v) in &call.query {
        q.append_pair(k, v);
    }
    q.finish()
}

/// Sends a call and returns the body of a 2xx answer, or the classified error.
pub async fn send(
    cfg: &LosantConfig,
    cx: &CallContext,
    call: Call<'_>,
) -> Result<Bytes, BackendError> {
    let url = url(cfg, &call);

    let mut req = Request::builder()
        .method(call.method)
        .uri(url)
        .header(header::ACCEPT, "application/json")
        .header("accept-version", cfg.accept_version.clone());
    let mut auth =
        http::HeaderValue::from_str(&format!("Bearer {}", cfg.token.expose())).map_err(|_| {
            BackendError::upstream("the configured token is not a valid header value")
                .retryable(false)
        })?;
    auth.set_sensitive(true);
    req = req.header(header::AUTHORIZATION, auth);
    if let Some(d) = &cfg.domain {
        req = req.header("losantdomain", d.clone());
    }
    let body = match call.body {
        Some(b) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            Bytes::from(b)
        }
        None => Bytes::new(),
    };
    let req = req.body(body).map_err(|e| {
        BackendError::upstream(format!("{}: could not build the request: {e}", cfg.name))
            .retryable(false)
    })?;

    let resp = cx
        .send(req)
        .await
        .map_err(|e| e.into_backend_error(&cfg.name))?;
    let status = resp.status().as_u16();
    let body = resp.into_body();
    if (200..300).contains(&status) {
        Ok(body)
    } else {
        Err(error::from_status(&cfg.name, status, &body))
    }
}

/// Parses a JSON answer into its wire type, and into a raw value when the caller asked for it.
pub fn decode<T: DeserializeOwned>(
    cfg: &LosantConfig,
    what: &str,
    body: &[u8],
    include_raw: bool,
) -> Result<(T, Option<serde_json::Value>), BackendError> {
    let typed = serde_json::from_slice::<T>(body).map_err(|e| {
        BackendError::bad_response(format!(
            "{} sent a {what} that does not parse: {e}",
            cfg.name
        ))
    })?;
    let raw = if include_raw {
        Some(serde_json::from_slice(body).map_err(|e| {
            BackendError::bad_response(format!(
                "{} sent a {what} that does not parse: {e}",
                cfg.name
            ))
        })?)
    } else {
        None
    };
    Ok((typed, raw))
}
