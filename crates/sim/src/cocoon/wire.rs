//! The Access Service's formats that are not resources: the JSON content type, error bodies,
//! the list envelope and its query parameters, and the fault style.
//!
//! The documents do not show an error body (dialects.md §3.4: "undocumented"). The simulator
//! answers the way the Spring application the token's claims point to does: OAuth2 failures as
//! `{"error", "error_description"}` (see `auth.rs`), everything else as Spring Boot's
//! `{"timestamp", "status", "error", "message", "path"}`.

use std::collections::HashMap;

use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use serde_json::{Value, json};

/// The content type of every JSON answer, as a Spring application writes it.
pub(crate) const JSON: &str = "application/json;charset=UTF-8";

/// A JSON response.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    // Serialising a `Value` cannot fail (its keys are strings).
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    (status, [(header::CONTENT_TYPE, JSON)], bytes).into_response()
}

/// A failed API request, in Spring Boot's error shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// The body, for a request to `path`.
    pub(crate) fn render(&self, path: &str) -> Response {
        json_response(self.status, &error_body(self.status, &self.message, path))
    }
}

fn error_body(status: StatusCode, message: &str, path: &str) -> Value {
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    json!({
        "timestamp": timestamp,
        "status": status.as_u16(),
        "error": status.canonical_reason().unwrap_or("Error"),
        "message": message,
        "path": path,
    })
}

/// The error body for a status forced by the fault knobs (the path is not known there).
pub(crate) fn fault_error_body(status: StatusCode) -> Response {
    if status == StatusCode::UNAUTHORIZED {
        return json_response(
            status,
            &json!({ "error": "invalid_token", "error_description": "Access token expired" }),
        );
    }
    let message = status.canonical_reason().unwrap_or("Simulated failure");
    json_response(status, &error_body(status, message, ""))
}

/// A body that claims to be JSON and does not parse: a list cut off in an id.
pub(crate) fn fault_malformed_body() -> (&'static str, &'static str) {
    (JSON, r#"{"items":[{"id":"7567535352"#)
}

/// The member a list's items are under. The seed's prose says `item`, its example `items`
/// (dialects.md §3.3); the simulator sends `items` unless a test asks for the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListMember {
    #[default]
    Items,
    Item,
}

impl ListMember {
    fn key(self) -> &'static str {
        match self {
            ListMember::Items => "items",
            ListMember::Item => "item",
        }
    }
}

/// A list's query parameters (`limit`, `offset`, `orderBy`, `sortBy`), checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ListParams {
    /// 0 = no limit.
    pub(crate) limit: u64,
    pub(crate) offset: u64,
}

impl ListParams {
    /// Reads the parameters; `max_limit` is the largest `limit` the endpoint documents (the
    /// plans list says 0–100). `orderBy` and `sortBy` are checked against their enums (either
    /// letter case) and then have no effect: the documented bug.
    pub(crate) fn parse(
        query: &HashMap<String, String>,
        max_limit: Option<u64>,
    ) -> Result<ListParams, ApiError> {
        let number = |name: &str| -> Result<u64, ApiError> {
            match query.get(name) {
                None => Ok(0),
                Some(v) => v.trim().parse::<u64>().map_err(|_| {
                    ApiError::bad_request(format!(
                        "Failed to convert value of type 'java.lang.String' to required type 'int'; \
                         parameter '{name}': For input string: \"{}\"",
                        v.chars().take(32).collect::<String>()
                    ))
                }),
            }
        };
        let limit = number("limit")?;
        if let Some(max) = max_limit
            && limit > max
        {
            return Err(ApiError::bad_request(format!(
                "limit must be between 0 and {max}"
            )));
        }
        let offset = number("offset")?;
        let one_of = |name: &str, allowed: &[&str]| -> Result<(), ApiError> {
            match query.get(name) {
                Some(v) if !allowed.iter().any(|a| a.eq_ignore_ascii_case(v)) => {
                    Err(ApiError::bad_request(format!(
                        "No enum constant for parameter '{name}': {}",
                        v.chars().take(32).collect::<String>()
                    )))
                }
                _ => Ok(()),
            }
        };
        one_of("orderBy", &["ASC", "DESC"])?;
        one_of("sortBy", &["name", "description", "quota"])?;
        Ok(ListParams { limit, offset })
    }

    /// The list envelope of the seed: the page of `all` the parameters select, under
    /// `member`, with `count` (the number of items returned, as the seed's example shows) and
    /// `offset` as strings of digits.
    pub(crate) fn envelope(self, all: Vec<Value>, member: ListMember) -> Value {
        let skip = usize::try_from(self.offset).unwrap_or(usize::MAX);
        let take = match self.limit {
            0 => usize::MAX,
            n => usize::try_from(n).unwrap_or(usize::MAX),
        };
        let items: Vec<Value> = all.into_iter().skip(skip).take(take).collect();
        let mut out = serde_json::Map::new();
        out.insert("count".to_owned(), Value::from(items.len().to_string()));
        out.insert(member.key().to_owned(), Value::Array(items));
        out.insert("offset".to_owned(), Value::from(self.offset.to_string()));
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn list_parameters() {
        let p = ListParams::parse(&q(&[("sortBy", "QUOTA"), ("orderBy", "desc")]), None).unwrap();
        assert_eq!(
            p,
            ListParams {
                limit: 0,
                offset: 0
            }
        );
        assert!(ListParams::parse(&q(&[("sortBy", "size")]), None).is_err());
        assert!(ListParams::parse(&q(&[("orderBy", "up")]), None).is_err());
        assert!(ListParams::parse(&q(&[("limit", "x")]), None).is_err());
        assert!(ListParams::parse(&q(&[("offset", "-1")]), None).is_err());
        assert!(ListParams::parse(&q(&[("limit", "101")]), Some(100)).is_err());
        assert!(ListParams::parse(&q(&[("limit", "100")]), Some(100)).is_ok());
    }

    #[test]
    fn envelopes() {
        let all: Vec<Value> = (1..=5).map(Value::from).collect();
        let p = ListParams {
            limit: 2,
            offset: 3,
        };
        assert_eq!(
            p.envelope(all.clone(), ListMember::Items),
            json!({"items": [4, 5], "count": "2", "offset": "3"})
        );
        let p = ListParams {
            limit: 0,
            offset: 0,
        };
        assert_eq!(
            p.envelope(all, ListMember::Item)["item"]
                .as_array()
                .unwrap()
                .len(),
            5
        );
    }
}
