//! Query-string parsing for every route, strict: a parameter the route does not know, a
//! repeated one, or a malformed value is `400 bad_request` naming it, before any backend is
//! called. Also the opaque list cursor, encoded and checked in this one place.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use orgway_core::{
    Cursor, CustomerFilter, Interval, ListQuery, Metric, MetricSupport, OrgStatus, SeriesOptions,
    Sort, SortField, TimeRange, Timestamp,
};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// A route's query parameters, checked against the names it accepts.
#[derive(Debug, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parses a raw query string, refusing names outside `allowed` and repeated names.
    pub fn parse(raw: Option<&str>, allowed: &[&str]) -> Result<Params, ApiError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            if !allowed.contains(&k.as_ref()) {
                let accepted = if allowed.is_empty() {
                    "this route accepts none".to_owned()
                } else {
                    format!("this route accepts: {}", allowed.join(", "))
                };
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter `{}`; {accepted}",
                    short(&k)
                )));
            }
            if pairs.iter().any(|(n, _)| *n == k) {
                return Err(ApiError::bad_request(format!(
                    "query parameter `{k}` is given more than once"
                )));
            }
            pairs.push((k.into_owned(), v.into_owned()));
        }
        Ok(Params { pairs })
    }

    /// The value of a parameter, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `include=raw` was asked for (the only `include` value).
    pub fn include_raw(&self) -> Result<bool, ApiError> {
        match self.get("include") {
            None => Ok(false),
            Some("raw") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!(
                "`include` accepts only `raw`, not `{}`",
                short(other)
            ))),
        }
    }

    /// A boolean parameter (`true` or `false`).
    pub fn bool(&self, name: &str, default: bool) -> Result<bool, ApiError> {
        match self.get(name) {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(ApiError::bad_request(format!(
                "`{name}` must be `true` or `false`, not `{}`",
                short(other)
            ))),
        }
    }
}

/// A caller's text, cut short and stripped of control characters, for use in messages.
pub fn short(s: &str) -> String {
    orgway_core::text::excerpt(s, 64)
}

/// Names of the parameters of a route that reads or writes one resource: only `include`.
pub const INCLUDE_PARAMS: [&str; 1] = ["include"];

/// Names of the parameters of a route that takes none (the deletes, `GET /v1/backends`).
pub const NO_PARAMS: [&str; 0] = [];

/// Names of the parameters every list accepts.
pub const LIST_PARAMS: [&str; 4] = ["limit", "cursor", "sort", "include"];

/// Every value `sort` accepts: each [`SortField`], ascending and with `-` descending. Which of
/// them a list honours depends on its backend (`ListSupport`); the others are `400` there.
pub fn sort_values() -> Vec<String> {
    SortField::ALL
        .iter()
        .flat_map(|f| [f.as_str().to_owned(), format!("-{}", f.as_str())])
        .collect()
}

/// Reads `limit`, `cursor` and `sort`. `scope` names the list (and is bound into cursors, so a
/// cursor of one list or sort order is refused by another).
pub fn list_query(p: &Params, scope: &str) -> Result<ListQuery, ApiError> {
    let limit = match p.get("limit") {
        None => ListQuery::DEFAULT_LIMIT,
        Some(s) => match s.parse::<u32>() {
            Ok(n) if (1..=ListQuery::MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "`limit` must be an integer from 1 to {}, not `{}`",
                    ListQuery::MAX_LIMIT,
                    short(s)
                )));
            }
        },
    };
    let sort = match p.get("sort") {
        None => None,
        Some(s) => Some(Sort::parse(s).ok_or_else(|| {
            ApiError::bad_request(format!(
                "`sort` must be one of {}, not `{}`",
                sort_values().join(", "),
                short(s)
            ))
        })?),
    };
    let cursor = match p.get("cursor") {
        None => None,
        Some(c) => Some(decode_cursor(c, &cursor_scope(scope, sort))?),
    };
    Ok(ListQuery {
        limit,
        cursor,
        sort,
    })
}

/// Names of the parameters of a customer list: a list's, and its filter's.
pub const CUSTOMER_PARAMS: [&str; 7] = [
    "limit",
    "cursor",
    "sort",
    "include",
    "status",
    "recursive",
    "maxDepth",
];

/// The statuses a customer list can be filtered by.
pub const CUSTOMER_STATUSES: [OrgStatus; 3] =
    [OrgStatus::Active, OrgStatus::Suspended, OrgStatus::Deleted];

/// The largest `maxDepth` of a customer list.
pub const MAX_DEPTH: u32 = 100;

/// Reads a customer list's filter: `status` (active, suspended or deleted), `recursive` and
/// `maxDepth` (1 to 100).
pub fn customer_filter(p: &Params) -> Result<CustomerFilter, ApiError> {
    Ok(CustomerFilter {
        status: match p.get("status") {
            None => None,
            Some(s) => match OrgStatus::parse(s) {
                Some(st) if CUSTOMER_STATUSES.contains(&st) => Some(st),
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "`status` must be active, suspended or deleted, not `{}`",
                        short(s)
                    )));
                }
            },
        },
        // A depth asks for a recursive list, unless `recursive=false` says otherwise.
        recursive: p.bool("recursive", p.get("maxDepth").is_some())?,
        max_depth: match p.get("maxDepth") {
            None => None,
            Some(s) => Some(
                s.parse::<u32>()
                    .ok()
                    .filter(|d| (1..=MAX_DEPTH).contains(d))
                    .ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "`maxDepth` must be an integer from 1 to {MAX_DEPTH}, not `{}`",
                            short(s)
                        ))
                    })?,
            ),
        },
    })
}

/// The scope a list's cursors are bound to: the list and its sort order.
pub fn cursor_scope(list: &str, sort: Option<Sort>) -> String {
    match sort {
        Some(s) => format!("{list}|{s}"),
        None => list.to_owned(),
    }
}

#[derive(Serialize, Deserialize)]
struct CursorRepr {
    /// Version of the encoding.
    v: u8,
    /// Scope: list and sort order.
    s: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    o: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    t: Option<String>,
}

/// Encodes a cursor for callers: opaque, URL-safe.
pub fn encode_cursor(cursor: &Cursor, scope: &str) -> String {
    let repr = match cursor {
        Cursor::Offset(o) => CursorRepr {
            v: 1,
            s: scope.to_owned(),
            o: Some(*o),
            t: None,
        },
        Cursor::Token(t) => CursorRepr {
            v: 1,
            s: scope.to_owned(),
            o: None,
            t: Some(t.clone()),
        },
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&repr).unwrap_or_default())
}

/// Decodes a caller's cursor, refusing one that is malformed or belongs to another list.
pub fn decode_cursor(s: &str, scope: &str) -> Result<Cursor, ApiError> {
    let bad = || ApiError::bad_request("`cursor` is not a cursor this gateway issued");
    let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| bad())?;
    let repr: CursorRepr = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if repr.v != 1 {
        return Err(bad());
    }
    if repr.s != scope {
        return Err(ApiError::bad_request(
            "`cursor` belongs to another list or sort order; start again without it",
        ));
    }
    match (repr.o, repr.t) {
        (Some(o), None) => Ok(Cursor::Offset(o)),
        // No backend of this gateway issues continuation tokens (every list pages by
        // offset, which would read one as the start of the list): one is not a cursor it
        // issued.
        _ => Err(bad()),
    }
}

/// Names of the parameters of a usage series.
pub const SERIES_PARAMS: [&str; 6] = ["from", "to", "interval", "unit", "billable", "include"];

/// The validated parameters of a usage series.
#[derive(Debug, Clone, Copy)]
pub struct SeriesParams {
    pub interval: Interval,
    pub range: TimeRange,
    pub options: SeriesOptions,
}

/// Reads a series' parameters for a metric the backend offers. Malformed values are `400`; an
/// interval, unit or filter the backend cannot give for this metric is `501` listing what it can.
pub fn series(
    p: &Params,
    support: &MetricSupport,
    now: Timestamp,
) -> Result<SeriesParams, ApiError> {
    let time = |name: &str| -> Result<Option<Timestamp>, ApiError> {
        p.get(name)
            .map(|s| {
                Timestamp::parse_api(s).map_err(|e| ApiError::bad_request(format!("`{name}`: {e}")))
            })
            .transpose()
    };
    let from = time("from")?;
    let to = time("to")?;
    let range = TimeRange::with_defaults(from, to, now)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let interval = match p.get("interval") {
        None => Interval::Day,
        Some(s) => Interval::parse(s).ok_or_else(|| {
            ApiError::bad_request(format!(
                "`interval` must be hour, day, month or total, not `{}`",
                short(s)
            ))
        })?,
    };
    let metric = support.metric.as_str();
    if !support.intervals.contains(&interval) {
        let supported: Vec<String> = support
            .intervals
            .iter()
            .map(|i| i.as_str().to_owned())
            .collect();
        return Err(ApiError::unsupported(
            format!("`{metric}` is not available by {}", interval.as_str()),
            supported,
        ));
    }
    // `unit` names what the values count: the metric's own unit, or bytes where the backend
    // can give sizes instead.
    let own = support.unit.as_str();
    let bytes = match p.get("unit") {
        None => false,
        Some(u) if u == own => false,
        Some("bytes") if support.bytes => true,
        Some("bytes") => {
            return Err(ApiError::unsupported(
                format!("`{metric}` is not available in bytes"),
                vec![own.to_owned()],
            ));
        }
        Some(other) => {
            let mut allowed = vec![format!("`{own}`")];
            if support.bytes {
                allowed.push("`bytes`".to_owned());
            }
            return Err(ApiError::bad_request(format!(
                "`unit` of `{metric}` must be {}, not `{}`",
                allowed.join(" or "),
                short(other)
            )));
        }
    };
    let billable_only = p.bool("billable", true)?;
    if !billable_only && !support.non_billable {
        return Err(ApiError::unsupported(
            format!("`{metric}` has no non-billable items to include"),
            vec!["billable=true".to_owned()],
        ));
    }
    Ok(SeriesParams {
        interval,
        range,
        options: SeriesOptions {
            bytes,
            include_non_billable: !billable_only,
        },
    })
}

/// Reads a metric name; any name the backend does not offer (known to the API or not) is `501`
/// listing those it does.
pub fn metric(
    name: &str,
    supports: &[MetricSupport],
    backend: &str,
) -> Result<MetricSupport, ApiError> {
    Metric::parse(name)
        .and_then(|m| supports.iter().find(|s| s.metric == m).copied())
        .ok_or_else(|| {
            ApiError::unsupported(
                format!(
                    "backend `{backend}` does not offer the metric `{}`",
                    short(name)
                ),
                supports
                    .iter()
                    .map(|s| s.metric.as_str().to_owned())
                    .collect(),
            )
            .with_backend(backend)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use orgway_core::Unit;

    fn p(q: &str, allowed: &[&str]) -> Result<Params, ApiError> {
        Params::parse(Some(q), allowed)
    }

    #[test]
    fn customer_filters() {
        let f = |q: &str| customer_filter(&p(q, &CUSTOMER_PARAMS).unwrap());
        assert_eq!(f("").unwrap(), CustomerFilter::default());
        let got = f("status=suspended&recursive=true&maxDepth=3").unwrap();
        assert_eq!(got.status, Some(OrgStatus::Suspended));
        assert!(got.recursive);
        assert_eq!(got.max_depth, Some(3));
        // A depth alone asks for a recursive list (it was ignored without `recursive=true`).
        let got = f("maxDepth=2").unwrap();
        assert!(got.recursive);
        assert_eq!(got.max_depth, Some(2));
        assert!(!f("recursive=false&maxDepth=2").unwrap().recursive);
        for bad in [
            "status=disabled",
            "status=nope",
            "recursive=yes",
            "maxDepth=0",
            "maxDepth=101",
            "maxDepth=x",
        ] {
            assert_eq!(f(bad).unwrap_err().code, ErrorCode::BadRequest, "{bad}");
        }
    }

    #[test]
    fn strict_names() {
        assert!(p("limit=5", &LIST_PARAMS).is_ok());
        let e = p("limt=5", &LIST_PARAMS).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadRequest);
        assert!(
            e.message.contains("unknown query parameter `limt`"),
            "{}",
            e.message
        );
        assert!(
            p("limit=5&limit=6", &LIST_PARAMS)
                .unwrap_err()
                .message
                .contains("more than once")
        );
        assert!(p("", &[]).is_ok());
    }

    #[test]
    fn limits() {
        let q = |s: &str| list_query(&p(s, &LIST_PARAMS).unwrap(), "orgs|b");
        assert_eq!(q("").unwrap().limit, 50);
        assert_eq!(q("limit=500").unwrap().limit, 500);
        for bad in [
            "limit=abc",
            "limit=0",
            "limit=501",
            "limit=-1",
            "limit=1.5",
            "limit=",
        ] {
            let e = q(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::BadRequest, "{bad}");
            assert!(
                e.message
                    .contains("`limit` must be an integer from 1 to 500")
            );
        }
        assert!(
            q("sort=bogus")
                .unwrap_err()
                .message
                .contains("`sort` must be one of name, -name")
        );
    }

    #[test]
    fn cursors_are_bound_to_their_list_and_sort() {
        let scope = cursor_scope("orgs|b", Sort::parse("-name"));
        let c = encode_cursor(&Cursor::Offset(100), &scope);
        let q = list_query(
            &p(&format!("cursor={c}&sort=-name"), &LIST_PARAMS).unwrap(),
            "orgs|b",
        )
        .unwrap();
        assert_eq!(q.cursor, Some(Cursor::Offset(100)));
        assert!(
            list_query(
                &p(&format!("cursor={c}&sort=name"), &LIST_PARAMS).unwrap(),
                "orgs|b"
            )
            .is_err()
        );
        assert!(
            list_query(
                &p(&format!("cursor={c}&sort=-name"), &LIST_PARAMS).unwrap(),
                "orgs|other"
            )
            .is_err()
        );
        assert!(list_query(&p("cursor=garbage", &LIST_PARAMS).unwrap(), "orgs|b").is_err());
        // A continuation token, which no backend of this gateway issues: not one of its
        // cursors (every list would read it as its start).
        let t = encode_cursor(&Cursor::Token("abc".into()), "x");
        assert_eq!(
            decode_cursor(&t, "x").unwrap_err().code,
            ErrorCode::BadRequest
        );
    }

    const PAYLOADS: MetricSupport = MetricSupport {
        metric: Metric::Payloads,
        unit: Unit::Count,
        intervals: &[Interval::Hour, Interval::Day, Interval::Total],
        bytes: true,
        non_billable: false,
    };

    #[test]
    fn series_params() {
        let now = Timestamp::parse_rfc3339("2016-07-01T00:00:00Z").unwrap();
        let s = |q: &str| series(&p(q, &SERIES_PARAMS).unwrap(), &PAYLOADS, now);
        let ok = s("from=2016-06-13T00:00:00Z&to=1466035200000&interval=hour&unit=bytes").unwrap();
        assert_eq!(ok.interval, Interval::Hour);
        assert!(ok.options.bytes);
        assert_eq!(ok.range.to().to_string(), "2016-06-16T00:00:00Z");
        let e = s("from=2016-06-15T00:00:00Z&to=2016-06-13T00:00:00Z").unwrap_err();
        assert_eq!(e.code, ErrorCode::BadRequest);
        assert!(e.message.contains("must be before"));
        assert_eq!(
            s("from=2015-01-01T00:00:00Z").unwrap_err().code,
            ErrorCode::BadRequest
        );
        assert_eq!(s("interval=week").unwrap_err().code, ErrorCode::BadRequest);
        let e = s("interval=month").unwrap_err();
        assert_eq!((e.status().as_u16(), e.code), (501, ErrorCode::Unsupported));
        assert_eq!(
            e.details["supported"],
            serde_json::json!(["hour", "day", "total"])
        );
        assert_eq!(
            s("billable=false").unwrap_err().code,
            ErrorCode::Unsupported
        );
        assert!(!s("unit=count").unwrap().options.bytes);
        assert_eq!(s("unit=minutes").unwrap_err().code, ErrorCode::BadRequest);
        assert_eq!(s("unit=kb").unwrap_err().code, ErrorCode::BadRequest);
        assert_eq!(s("billable=maybe").unwrap_err().code, ErrorCode::BadRequest);
        assert_eq!(s("from=tomorrow").unwrap_err().code, ErrorCode::BadRequest);
        let d = s("").unwrap();
        assert_eq!(d.range.from().to_string(), "2016-06-01T00:00:00Z");
        assert_eq!(d.interval, Interval::Day);
    }

    #[test]
    fn metrics_not_offered_list_the_offered() {
        let e = metric("data-traffic", &[PAYLOADS], "iot").unwrap_err();
        assert_eq!((e.status().as_u16(), e.code), (501, ErrorCode::Unsupported));
        assert_eq!(e.details["supported"], serde_json::json!(["payloads"]));
        assert_eq!(
            metric("bogus", &[PAYLOADS], "iot").unwrap_err().code,
            ErrorCode::Unsupported
        );
        assert!(metric("payloads", &[PAYLOADS], "iot").is_ok());
    }
}
