//! Request bodies: read under the configured size limit (`413` above it), checked to be JSON
//! objects, and decoded into the operations' inputs with every unknown or mistyped field named.

use axum::body::Body;
use http::{HeaderMap, header};
use http_body_util::{BodyExt, Limited};
use orgway_core::{OrgPatch, OrgStatus, Patch};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::http::params::short;

/// The whole body: `413` over `limit`, `408` when it has not all arrived within `timeout`.
pub async fn read_body(
    body: Body,
    limit: usize,
    timeout: std::time::Duration,
) -> Result<bytes::Bytes, ApiError> {
    match tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await {
        Err(_) => Err(ApiError::new(
            crate::error::ErrorCode::RequestTimeout,
            format!(
                "the request body did not arrive within {}",
                crate::policy::human(timeout)
            ),
        )),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            Err(ApiError::payload_too_large(limit))
        }
        Ok(Err(_)) => Err(ApiError::bad_request("the request body could not be read")),
        Ok(Ok(c)) => Ok(c.to_bytes()),
    }
}

/// Reads a JSON object body. `None` when the body is empty and `required` is false.
pub async fn json_object(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    timeout: std::time::Duration,
    required: bool,
) -> Result<Option<Map<String, Value>>, ApiError> {
    let bytes = read_body(body, limit, timeout).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return if required {
            Err(ApiError::bad_request("a JSON object body is required"))
        } else {
            Ok(None)
        };
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !(essence == "application/json" || essence.ends_with("+json")) {
        return Err(ApiError::bad_request(format!(
            "the body must be sent as application/json (or application/merge-patch+json), not `{}`",
            if essence.is_empty() {
                "no content type".to_owned()
            } else {
                short(&essence)
            }
        )));
    }
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))?;
    match value {
        Value::Object(m) => Ok(Some(m)),
        other => Err(ApiError::bad_request(format!(
            "the body must be a JSON object, not {}",
            json_type(&other)
        ))),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Refuses fields outside `known`, naming all of them.
pub fn only_known(m: &Map<String, Value>, known: &[&str]) -> Result<(), ApiError> {
    let unknown: Vec<String> = m
        .keys()
        .filter(|k| !known.contains(&k.as_str()))
        .map(|k| short(k))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(ApiError::bad_request(format!(
        "unknown field{} {}; the fields are {}",
        if unknown.len() > 1 { "s" } else { "" },
        unknown
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", "),
        known.join(", ")
    ))
    .with_detail("fields", unknown))
}

/// A JSON merge patch of an org (`name`, `description`, `status`).
pub fn org_patch(m: &Map<String, Value>) -> Result<OrgPatch, ApiError> {
    only_known(m, &["name", "description", "status"])?;
    let text = |field: &str| -> Result<Patch<String>, ApiError> {
        match m.get(field) {
            None => Ok(Patch::Keep),
            Some(Value::Null) => Ok(Patch::Clear),
            Some(Value::String(s)) => Ok(Patch::Set(s.clone())),
            Some(other) => Err(ApiError::bad_request(format!(
                "`{field}` must be a string or null, not {}",
                json_type(other)
            ))),
        }
    };
    let name = text("name")?;
    match &name {
        Patch::Clear => return Err(ApiError::bad_request("`name` cannot be removed (null)")),
        Patch::Set(n) => check_name("name", n)?,
        _ => {}
    }
    let description = text("description")?;
    let status = match m.get("status") {
        None => Patch::Keep,
        Some(Value::String(s)) => Patch::Set(OrgStatus::parse(s).ok_or_else(|| {
            ApiError::bad_request(format!(
                "`status` must be one of active, disabled, suspended, deleted, not `{}`",
                short(s)
            ))
        })?),
        Some(Value::Null) => {
            return Err(ApiError::bad_request("`status` cannot be removed (null)"));
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "`status` must be a string, not {}",
                json_type(other)
            )));
        }
    };
    Ok(OrgPatch {
        name,
        description,
        status,
    })
}

/// Reads a required, non-empty string field.
/// The longest display name (an org's, a customer's, a subscription's) the API accepts, in
/// characters.
pub const MAX_NAME_CHARS: usize = 255;

/// Checks a display name: not blank, at most [`MAX_NAME_CHARS`] characters, no control
/// characters. Every backend gets names it can show; none is sent a name it would refuse for
/// its form alone.
pub fn check_name(field: &str, s: &str) -> Result<(), ApiError> {
    if s.trim().is_empty() {
        return Err(ApiError::bad_request(format!("`{field}` cannot be empty")));
    }
    if s.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::bad_request(format!(
            "`{field}` is longer than {MAX_NAME_CHARS} characters"
        )));
    }
    if s.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "`{field}` cannot contain control characters"
        )));
    }
    Ok(())
}

/// A required display name (see [`check_name`]).
pub fn required_name(m: &Map<String, Value>, field: &str) -> Result<String, ApiError> {
    let s = required_string(m, field)?;
    check_name(field, &s)?;
    Ok(s)
}

/// An optional display name (see [`check_name`]).
pub fn optional_name(m: &Map<String, Value>, field: &str) -> Result<Option<String>, ApiError> {
    let s = optional_string(m, field)?;
    if let Some(s) = &s {
        check_name(field, s)?;
    }
    Ok(s)
}

/// Reads a required string field that is not blank.
pub fn required_string(m: &Map<String, Value>, field: &str) -> Result<String, ApiError> {
    match m.get(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err(ApiError::bad_request(format!("`{field}` cannot be empty"))),
        None | Some(Value::Null) => Err(ApiError::bad_request(format!("`{field}` is required"))),
        Some(other) => Err(ApiError::bad_request(format!(
            "`{field}` must be a string, not {}",
            json_type(other)
        ))),
    }
}

/// Reads an optional string field.
pub fn optional_string(m: &Map<String, Value>, field: &str) -> Result<Option<String>, ApiError> {
    match m.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ApiError::bad_request(format!(
            "`{field}` must be a string, not {}",
            json_type(other)
        ))),
    }
}

/// Reads an optional boolean field.
pub fn optional_bool(m: &Map<String, Value>, field: &str) -> Result<Option<bool>, ApiError> {
    match m.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(ApiError::bad_request(format!(
            "`{field}` must be true or false, not {}",
            json_type(other)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: std::time::Duration = std::time::Duration::from_secs(5);
    use crate::error::ErrorCode;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn patches() {
        let p = org_patch(&obj(
            json!({"name": "N", "description": null, "status": "disabled"}),
        ))
        .unwrap();
        assert_eq!(p.name, Patch::Set("N".into()));
        assert_eq!(p.description, Patch::Clear);
        assert_eq!(p.status, Patch::Set(OrgStatus::Disabled));
        let e = org_patch(&obj(json!({"name": "N", "planId": "x", "limits": {}}))).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadRequest);
        assert!(
            e.message.contains("unknown fields `limits`, `planId`"),
            "{}",
            e.message
        );
        assert!(org_patch(&obj(json!({"name": null}))).is_err());
        assert!(org_patch(&obj(json!({"name": "  "}))).is_err());
        assert!(org_patch(&obj(json!({"name": 5}))).is_err());
        assert!(org_patch(&obj(json!({"status": "paused"}))).is_err());
        assert_eq!(org_patch(&obj(json!({}))).unwrap(), OrgPatch::default());
    }

    #[tokio::test]
    async fn bodies() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        let ok = json_object(&h, Body::from("{\"a\":1}"), 100, T, true)
            .await
            .unwrap();
        assert_eq!(ok.unwrap()["a"], 1);
        let e = json_object(&h, Body::from("{not json"), 100, T, true)
            .await
            .unwrap_err();
        assert!(e.message.starts_with("the body is not valid JSON"));
        let e = json_object(&h, Body::from("[1]"), 100, T, true)
            .await
            .unwrap_err();
        assert!(e.message.contains("not an array"));
        let e = json_object(&h, Body::from(vec![b' '; 200]), 100, T, true)
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::PayloadTooLarge);
        assert_eq!(
            json_object(&h, Body::empty(), 100, T, false).await.unwrap(),
            None
        );
        assert!(json_object(&h, Body::empty(), 100, T, true).await.is_err());
        let e = json_object(&HeaderMap::new(), Body::from("{}"), 100, T, true)
            .await
            .unwrap_err();
        assert!(e.message.contains("application/json"));
    }
}
