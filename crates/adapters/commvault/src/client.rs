//! The thin I/O part: builds Commvault requests (paths under the `<webservice>` root, the
//! `Authtoken` header, `Accept: application/json`), sends them through the gateway's shared
//! client, and reads the answer as JSON, turning `errorCode`s in bodies and HTML pages into
//! classified errors.

use bytes::Bytes;
use http::{Method, Request, header};
use orgway_core::{BackendError, CallContext, Secret};
use serde_json::Value;

use crate::config::CommvaultConfig;
use crate::error;

/// One request to the Commvault API. Its `Debug` leaves the body out: a login body carries the
/// (base64) password.
pub struct Call {
    pub method: Method,
    /// Below the webservice root, without a leading slash (`Organization/7`).
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    /// Content type and bytes.
    pub body: Option<(&'static str, Vec<u8>)>,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("body_bytes", &self.body.as_ref().map(|(_, b)| b.len()))
            .finish()
    }
}

impl Call {
    /// A GET of `path`.
    pub fn get(path: impl Into<String>) -> Self {
        Call {
            method: Method::GET,
            path: path.into(),
            query: Vec::new(),
            body: None,
        }
    }

    /// A request with a body.
    pub fn with_body(
        method: Method,
        path: impl Into<String>,
        content_type: &'static str,
        body: Vec<u8>,
    ) -> Self {
        Call {
            method,
            path: path.into(),
            query: Vec::new(),
            body: Some((content_type, body)),
        }
    }
}

/// A raw answer: status, content type, body. Its `Debug` leaves the body out: a login answer
/// carries a token.
pub struct Raw {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Bytes,
}

impl std::fmt::Debug for Raw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Raw")
            .field("status", &self.status)
            .field("content_type", &self.content_type)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

/// Sends a call with `token` as its `Authtoken` (none for `Login`). Every HTTP status is an
/// answer; only transport failures are errors.
pub async fn send(
    cfg: &CommvaultConfig,
    cx: &CallContext,
    call: &Call,
    token: Option<&Secret>,
) -> Result<Raw, BackendError> {
    let mut url = cfg.base_url.join("/");
    url.push_str(&call.path);
    if !call.query.is_empty() {
        url.push('?');
        let mut q = form_urlencoded::Serializer::new(url);
        for (k, v) in &call.query {
            q.append_pair(k, v);
        }
        url = q.finish();
    }
    let mut req = Request::builder()
        .method(call.method.clone())
        .uri(url)
        .header(header::ACCEPT, "application/json");
    if let Some(t) = token {
        let mut v = http::HeaderValue::from_str(t.expose()).map_err(|_| {
            BackendError::auth_rejected(format!(
                "{} issued a token that is not a valid header value",
                cfg.name
            ))
        })?;
        v.set_sensitive(true);
        req = req.header("authtoken", v);
    }
    let body = match &call.body {
        Some((ct, b)) => {
            req = req.header(header::CONTENT_TYPE, *ct);
            Bytes::from(b.clone())
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
    let content_type = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Ok(Raw {
        status: resp.status().as_u16(),
        content_type,
        body: resp.into_body(),
    })
}

/// Reads a 2xx answer: JSON (what `Accept` asks for) is returned; an XML answer is checked for
/// an error code and, if it has none, reported as `None` (a success without a JSON body); an HTML
/// page, an unparseable body or a non-zero `errorCode` is an error. Any other status is
/// classified by [`error::from_status`].
pub fn json(cfg: &CommvaultConfig, raw: &Raw) -> Result<Option<Value>, BackendError> {
    let ct = raw.content_type.as_deref();
    if !(200..300).contains(&raw.status) {
        return Err(error::from_status(&cfg.name, raw.status, ct, &raw.body));
    }
    if error::looks_like_html(ct, &raw.body) {
        let title = error::html_title(&raw.body)
            .map(|t| format!(" ({t})"))
            .unwrap_or_default();
        return Err(BackendError::bad_response(format!(
            "{} sent an HTML page instead of an answer{title}",
            cfg.name
        ))
        .with_status(raw.status));
    }
    if error::looks_like_xml(ct, &raw.body) {
        return match error::xml_body_error(&raw.body) {
            Ok(None) => Ok(None),
            Ok(Some((code, msg))) => Err(error::from_body_error(&cfg.name, raw.status, code, &msg)),
            Err(e) => Err(BackendError::bad_response(format!(
                "{} sent XML that does not parse: {e}",
                cfg.name
            ))
            .with_status(raw.status)),
        };
    }
    let v: Value = serde_json::from_slice(&raw.body).map_err(|e| {
        BackendError::bad_response(format!("{} sent a body that is not JSON: {e}", cfg.name))
            .with_status(raw.status)
    })?;
    if let Some((code, msg)) = error::body_error(&v) {
        return Err(error::from_body_error(&cfg.name, raw.status, code, &msg));
    }
    Ok(Some(v))
}

/// Decodes a JSON value into a wire type.
pub fn decode<T: serde::de::DeserializeOwned>(
    cfg: &CommvaultConfig,
    what: &str,
    v: &Value,
) -> Result<T, BackendError> {
    T::deserialize(v).map_err(|e| {
        BackendError::bad_response(format!("{} sent {what} that does not parse: {e}", cfg.name))
    })
}
