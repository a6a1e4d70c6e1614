//! The thin I/O part: what is Commvault's own about a request (paths under the `<webservice>`
//! root, `Accept: application/json`, the `Authtoken` header) and about an answer (JSON, with
//! `errorCode`s in bodies, XML and HTML pages turned into classified errors). Building and
//! sending a request are core's [`orgway_core::call`].

use http::{HeaderValue, header};
use orgway_core::call::{self, Answer, Call};
use orgway_core::{BackendError, CallContext, Secret};
use serde_json::Value;

use crate::config::CommvaultConfig;
use crate::error;

/// Sends a call with `token` as its `Authtoken` (none for `Login`). Every HTTP status is an
/// answer; only transport failures are errors. The call is borrowed: a call that met an expired
/// token is sent again with a fresh one.
pub async fn send(
    cfg: &CommvaultConfig,
    cx: &CallContext,
    call: &Call,
    token: Option<&Secret>,
) -> Result<Answer, BackendError> {
    let mut call = call
        .clone()
        .header(header::ACCEPT, HeaderValue::from_static("application/json"));
    if let Some(t) = token {
        let v = HeaderValue::from_str(t.expose()).map_err(|_| {
            BackendError::auth_rejected(format!(
                "{} issued a token that is not a valid header value",
                cfg.name
            ))
        })?;
        call = call.sensitive_header("authtoken", v);
    }
    call::send(cx, &cfg.name, &cfg.base_url, call).await
}

/// Reads a 2xx answer: JSON (what `Accept` asks for) is returned; an XML answer is checked for
/// an error code and, if it has none, reported as `None` (a success without a JSON body); an
/// unparseable body or a non-zero `errorCode` is an error (and an HTML page, refused by core's
/// `send`). Any other status is
/// classified by [`error::from_status`].
pub fn json(cfg: &CommvaultConfig, raw: &Answer) -> Result<Option<Value>, BackendError> {
    let ct = raw.content_type();
    if !raw.is_success() {
        return Err(raw.failure(&cfg.name, || {
            error::from_status(&cfg.name, raw.status, ct, &raw.body)
        }));
    }
    // (A 2xx HTML page never gets here: core's `send` refuses it.)
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
