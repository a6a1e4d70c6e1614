//! Request bodies: the vendor's `instanceOrgPatch` and `instanceOrgPost` schemas, checked by
//! hand the way a strict server would, so a body is accepted exactly when the schema accepts it.
//!
//! Both schemas have `additionalProperties: false` at the top level and in `limits`, `banner` and
//! each tag, so an unknown key anywhere is a 400 (this includes the docs' own example
//! `limits.members`, whose schema key is `limits.member`). JSON Schema semantics are followed
//! where they are easy to get wrong: string lengths count characters, not bytes, and `integer`
//! accepts integral numbers written with a fraction (`10.0`). Each error names the offending
//! field by its dotted path. A body is read as JSON whatever its `Content-Type` says (the SDKs
//! always send `application/json`); an empty, non-JSON or non-object body is a 400.

use serde_json::{Map, Value};

use super::clock::parse_rfc3339;
use super::error::ApiError;

/// The keys of `limits`, with their minimum and maximum.
pub(crate) const LIMITS: &[(&str, i64, Option<i64>)] = &[
    ("apitoken", 0, None),
    ("application", 0, None),
    ("applicationcertificate", 0, None),
    ("applicationcertificateauthority", 0, None),
    ("applicationkey", 0, None),
    ("credential", 0, None),
    ("dashboard", 0, None),
    ("datatable", 0, None),
    ("device", 0, None),
    ("devicerecipe", 0, None),
    ("experiencedomain", 0, None),
    ("experienceendpoint", 0, None),
    ("experiencegroup", 0, None),
    ("experienceslug", 0, None),
    ("experienceuser", 0, None),
    ("experienceversion", 0, None),
    ("experienceview", 0, None),
    ("file", 0, None),
    ("flow", 0, None),
    ("integration", 0, None),
    ("notebook", 0, None),
    ("privatefile", 0, None),
    ("resourcejob", 0, None),
    ("webhook", 0, None),
    ("dataTTL", 86_400, None),
    ("member", 0, None),
    ("payload", 0, None),
    ("storage", 0, None),
    ("notebookMinutesPerRun", 0, None),
    ("notebookMinutesPerMonth", 0, None),
    ("notebookInParallel", 0, None),
    ("experienceFlowSlots", 0, None),
    ("applicationFlowSlots", 0, None),
    ("systemInterval", 5, Some(3600)),
];

const MFA_MODES: &[&str] = &["notRequired", "adminRequired", "required"];
const BANNER_LEVELS: &[&str] = &["info", "warning", "critical"];
const MEMBER_ROLES: &[&str] = &["admin", "edit", "collaborate", "view", "none"];
const RESOURCE_ROLES: &[&str] = &["collaborate", "view", "none"];

/// Which schema a body is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyKind {
    /// `instanceOrgPatch`: nothing required.
    Patch,
    /// `instanceOrgPost`: `name` required, `members` allowed.
    Post,
}

/// Parses a request body that must be a JSON object.
pub(crate) fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::validation("request body is required"));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::validation("request body must be a JSON object")),
        Err(_) => Err(ApiError::validation("request body is not valid JSON")),
    }
}

/// Checks an org body against `instanceOrgPatch` or `instanceOrgPost`.
pub(crate) fn org_body(body: &Map<String, Value>, kind: BodyKind) -> Result<(), ApiError> {
    if kind == BodyKind::Post && !body.contains_key("name") {
        return Err(ApiError::validation("name is required"));
    }
    for (key, value) in body {
        match key.as_str() {
            "name" => string(value, "name", 1, Some(255)).map(drop)?,
            "description" => string(value, "description", 0, Some(32_767)).map(drop)?,
            "iconColor" => string(value, "iconColor", 0, Some(64)).map(drop)?,
            "limits" => limits(value)?,
            "whitelistedEmailDomains" => {
                for (i, item) in array(value, "whitelistedEmailDomains", None)?
                    .iter()
                    .enumerate()
                {
                    string(item, &format!("whitelistedEmailDomains[{i}]"), 3, Some(45))?;
                }
            }
            "auditLogEnabled" => boolean(value, "auditLogEnabled")?,
            "isReadOnly" => boolean(value, "isReadOnly")?,
            "disabledAt" => disabled_at(value)?,
            "tags" => tags(value)?,
            "referralId" => string(value, "referralId", 0, Some(1024)).map(drop)?,
            "mfaMode" => one_of(value, "mfaMode", MFA_MODES)?,
            "banner" => banner(value)?,
            "members" if kind == BodyKind::Post => members(value)?,
            other => {
                return Err(ApiError::validation(format!("{other} is not allowed")));
            }
        }
    }
    Ok(())
}

/// A JSON Schema `integer`: any number without a fractional part.
pub(crate) fn as_integer(value: &Value) -> Option<f64> {
    let n = value.as_number()?;
    if n.is_i64() || n.is_u64() {
        return n.as_f64();
    }
    n.as_f64().filter(|f| f.is_finite() && f.fract() == 0.0)
}

fn string<'v>(
    value: &'v Value,
    path: &str,
    min: usize,
    max: Option<usize>,
) -> Result<&'v str, ApiError> {
    let Some(s) = value.as_str() else {
        return Err(ApiError::validation(format!("{path} must be a string")));
    };
    let len = s.chars().count();
    if len < min {
        return Err(ApiError::validation(format!(
            "{path} must be at least {min} characters long"
        )));
    }
    if let Some(max) = max
        && len > max
    {
        return Err(ApiError::validation(format!(
            "{path} must be at most {max} characters long"
        )));
    }
    Ok(s)
}

fn boolean(value: &Value, path: &str) -> Result<(), ApiError> {
    if value.is_boolean() {
        Ok(())
    } else {
        Err(ApiError::validation(format!("{path} must be a boolean")))
    }
}

fn one_of(value: &Value, path: &str, allowed: &[&str]) -> Result<(), ApiError> {
    match value.as_str() {
        Some(s) if allowed.contains(&s) => Ok(()),
        _ => Err(ApiError::validation(format!(
            "{path} must be one of: {}",
            allowed.join(", ")
        ))),
    }
}

fn object<'v>(value: &'v Value, path: &str) -> Result<&'v Map<String, Value>, ApiError> {
    value
        .as_object()
        .ok_or_else(|| ApiError::validation(format!("{path} must be an object")))
}

fn array<'v>(value: &'v Value, path: &str, max: Option<usize>) -> Result<&'v [Value], ApiError> {
    let items = value
        .as_array()
        .ok_or_else(|| ApiError::validation(format!("{path} must be an array")))?;
    if let Some(max) = max
        && items.len() > max
    {
        return Err(ApiError::validation(format!(
            "{path} must have at most {max} items"
        )));
    }
    Ok(items)
}

fn hex_id(value: &Value, path: &str) -> Result<(), ApiError> {
    match value.as_str() {
        Some(s) if super::is_object_id(s) => Ok(()),
        _ => Err(ApiError::validation(format!(
            "{path} must be a 24 character hex id"
        ))),
    }
}

fn limits(value: &Value) -> Result<(), ApiError> {
    for (key, v) in object(value, "limits")? {
        let path = format!("limits.{key}");
        let Some((_, min, max)) = LIMITS.iter().find(|(k, _, _)| k == key) else {
            return Err(ApiError::validation(format!("{path} is not allowed")));
        };
        let Some(n) = as_integer(v) else {
            return Err(ApiError::validation(format!("{path} must be an integer")));
        };
        if n < *min as f64 {
            return Err(ApiError::validation(format!(
                "{path} must be greater than or equal to {min}"
            )));
        }
        if let Some(max) = max
            && n > *max as f64
        {
            return Err(ApiError::validation(format!(
                "{path} must be less than or equal to {max}"
            )));
        }
    }
    Ok(())
}

fn disabled_at(value: &Value) -> Result<(), ApiError> {
    // The patch schema allows a date-time or any boolean; the org schema only `false` or a
    // date-time, so the store turns `true` into "now".
    match value {
        Value::Bool(_) => Ok(()),
        Value::String(s) if parse_rfc3339(s).is_some() => Ok(()),
        _ => Err(ApiError::validation(
            "disabledAt must be a date-time string or a boolean",
        )),
    }
}

fn tags(value: &Value) -> Result<(), ApiError> {
    for (i, tag) in array(value, "tags", Some(100))?.iter().enumerate() {
        let path = format!("tags[{i}]");
        let tag = object(tag, &path)?;
        for (key, v) in tag {
            match key.as_str() {
                "key" => {
                    let k = string(v, &format!("{path}.key"), 1, Some(255))?;
                    if !k
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                    {
                        return Err(ApiError::validation(format!(
                            "{path}.key must match ^[0-9a-zA-Z_-]{{1,255}}$"
                        )));
                    }
                }
                "value" => string(v, &format!("{path}.value"), 1, Some(255)).map(drop)?,
                other => {
                    return Err(ApiError::validation(format!(
                        "{path}.{other} is not allowed"
                    )));
                }
            }
        }
        for required in ["key", "value"] {
            if !tag.contains_key(required) {
                return Err(ApiError::validation(format!(
                    "{path}.{required} is required"
                )));
            }
        }
    }
    Ok(())
}

fn banner(value: &Value) -> Result<(), ApiError> {
    for (key, v) in object(value, "banner")? {
        match key.as_str() {
            "message" => string(v, "banner.message", 0, Some(2048)).map(drop)?,
            "level" => one_of(v, "banner.level", BANNER_LEVELS)?,
            other => {
                return Err(ApiError::validation(format!(
                    "banner.{other} is not allowed"
                )));
            }
        }
    }
    Ok(())
}

/// `members` of `instanceOrgPost`: up to 10 (the schema writes `"maxItems": "10"`, a string,
/// which a strict reader would call a broken schema; the intent is plain), each either an
/// existing user (`userId`) or an invitation (`email`), with a role.
fn members(value: &Value) -> Result<(), ApiError> {
    for (i, member) in array(value, "members", Some(10))?.iter().enumerate() {
        let path = format!("members[{i}]");
        let m = object(member, &path)?;
        let by_email = m.contains_key("email");
        if by_email == m.contains_key("userId") {
            return Err(ApiError::validation(format!(
                "{path} must have exactly one of userId or email"
            )));
        }
        if !m.contains_key("role") {
            return Err(ApiError::validation(format!("{path}.role is required")));
        }
        for (key, v) in m {
            let field = format!("{path}.{key}");
            match key.as_str() {
                "userId" => hex_id(v, &field)?,
                "email" => {
                    let email = string(v, &field, 1, Some(1024))?;
                    if !looks_like_email(email) {
                        return Err(ApiError::validation(format!(
                            "{field} must be an email address"
                        )));
                    }
                }
                "role" => one_of(v, &field, MEMBER_ROLES)?,
                "applicationRoles" | "dashboardRoles" => resource_roles(v, &field)?,
                "disallowTransfer" if by_email => boolean(v, &field)?,
                _ => return Err(ApiError::validation(format!("{field} is not allowed"))),
            }
        }
    }
    Ok(())
}

fn resource_roles(value: &Value, path: &str) -> Result<(), ApiError> {
    for (i, item) in array(value, path, Some(100))?.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        let item = object(item, &item_path)?;
        for (key, v) in item {
            match key.as_str() {
                "resourceId" => hex_id(v, &format!("{item_path}.resourceId"))?,
                "role" => one_of(v, &format!("{item_path}.role"), RESOURCE_ROLES)?,
                other => {
                    return Err(ApiError::validation(format!(
                        "{item_path}.{other} is not allowed"
                    )));
                }
            }
        }
        for required in ["resourceId", "role"] {
            if !item.contains_key(required) {
                return Err(ApiError::validation(format!(
                    "{item_path}.{required} is required"
                )));
            }
        }
    }
    Ok(())
}

/// `local@domain` with something on both sides: the level of checking `format: email` needs here.
fn looks_like_email(s: &str) -> bool {
    match s.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !s.chars().any(char::is_whitespace)
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(body: Value, kind: BodyKind) -> Result<(), String> {
        let map = body.as_object().cloned().unwrap_or_default();
        org_body(&map, kind).map_err(|e| e.message)
    }

    #[test]
    fn names_the_offending_field() {
        let e = check(json!({"limits": {"members": 500}}), BodyKind::Patch);
        assert_eq!(e, Err("limits.members is not allowed".to_owned()));
        let e = check(
            json!({"tags": [{"key": "a b", "value": "x"}]}),
            BodyKind::Patch,
        );
        assert!(e.is_err_and(|m| m.starts_with("tags[0].key")));
    }

    #[test]
    fn integers_may_be_written_as_floats() {
        assert_eq!(
            check(json!({"limits": {"device": 10.0}}), BodyKind::Patch),
            Ok(())
        );
        assert!(check(json!({"limits": {"device": 10.5}}), BodyKind::Patch).is_err());
    }

    #[test]
    fn post_needs_a_name_and_allows_members() {
        assert!(check(json!({}), BodyKind::Post).is_err());
        let body = json!({"name": "x", "members": [{"email": "a@b.co", "role": "view"}]});
        assert_eq!(check(body.clone(), BodyKind::Post), Ok(()));
        assert!(check(json!({"members": []}), BodyKind::Patch).is_err());
    }

    #[test]
    fn bodies_must_be_objects() {
        assert!(parse_object(b"").is_err());
        assert!(parse_object(b"[1]").is_err());
        assert!(parse_object(b"{nope").is_err());
        assert!(parse_object(b"{}").is_ok());
    }
}
