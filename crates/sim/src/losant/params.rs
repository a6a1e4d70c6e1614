//! Query parameters: parsing them from the raw query string and checking them against what the
//! docs accept.
//!
//! The docs type every query parameter as a string. Decisions where they are silent:
//! - A blank value (`page=`) counts as not given, as the docs say outright for `filterField` and
//!   `filter` ("Blank or not provided means no filtering").
//! - A parameter the action knows, given twice, is a 400 (the vendor's validator sees an array
//!   where it wants a string). Parameters an action does not know are ignored, including the
//!   SDK's HAL controls `_actions`, `_links` and `_embedded`.
//! - Booleans (`asBytes`, `includeNonBillable`) are `true`/`false` in any case, because the
//!   Python SDK sends a Python `True` as `True`.
//!
//! Time ranges (`start`, `end`, ms since the epoch): the docs give `end` a default of `0` and
//! `start` an example of `0`, and older editions of the same docs give the application-level
//! `payloadCounts` the defaults `start=-2592000000`, `end=0`, i.e. values are relative to now
//! when not positive. So here: `end` missing or `0` is now, a negative `end` is that far before
//! now; `start` missing or `0` is 30 days before the (resolved) end, a negative `start` is that
//! far before now. `start` must come before `end`, both within years 1970..9999, and the answer
//! must fit in 10 000 buckets; anything else is a 400.

use std::borrow::Cow;

use super::clock::{DAY_MS, HOUR_MS, MAX_MS};
use super::error::ApiError;
use super::series::{BreakdownOptions, Range};

/// The default span of a usage query: 30 days.
pub(crate) const DEFAULT_SPAN_MS: i64 = 30 * DAY_MS;
/// `perPage` when not given.
pub(crate) const DEFAULT_PER_PAGE: usize = 100;
/// The largest `perPage` accepted (the docs give no maximum; 1000 is this simulator's).
pub(crate) const MAX_PER_PAGE: usize = 1000;

/// A decoded query string.
#[derive(Debug, Clone, Default)]
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub(crate) fn parse(raw: Option<&str>) -> Query {
        let pairs = raw
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Query { pairs }
    }

    /// The value of a parameter the action knows; blank counts as absent, twice is a 400.
    pub(crate) fn get(&self, name: &str) -> Result<Option<&str>, ApiError> {
        let mut values = self.pairs.iter().filter(|(k, _)| k == name);
        let first = values.next();
        if values.next().is_some() {
            return Err(ApiError::validation(format!("{name} must be given once")));
        }
        Ok(first.map(|(_, v)| v.as_str()).filter(|v| !v.is_empty()))
    }
}

/// `asBytes` and friends.
pub(crate) fn boolean(q: &Query, name: &str) -> Result<bool, ApiError> {
    match q.get(name)? {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(ApiError::validation(format!(
            "{name} must be true or false"
        ))),
    }
}

fn milliseconds(q: &Query, name: &str) -> Result<Option<i64>, ApiError> {
    let Some(v) = q.get(name)? else {
        return Ok(None);
    };
    let digits = v.strip_prefix('-').unwrap_or(v);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::validation(format!(
            "{name} must be a whole number of milliseconds since the epoch"
        )));
    }
    v.parse::<i64>()
        .ok()
        .filter(|n| n.unsigned_abs() <= MAX_MS as u64)
        .map(Some)
        .ok_or_else(|| ApiError::validation(format!("{name} is out of range")))
}

/// `start`/`end`, resolved against `now` (see the module docs).
pub(crate) fn range(q: &Query, now: i64) -> Result<Range, ApiError> {
    let start = milliseconds(q, "start")?;
    let end = milliseconds(q, "end")?;
    let end = match end {
        None | Some(0) => now,
        Some(v) if v < 0 => now + v,
        Some(v) => v,
    };
    let start = match start {
        None | Some(0) => end - DEFAULT_SPAN_MS,
        Some(v) if v < 0 => now + v,
        Some(v) => v,
    };
    if start < 0 || end < 0 {
        return Err(ApiError::validation(
            "start and end must not be before 1970-01-01",
        ));
    }
    if end > MAX_MS {
        return Err(ApiError::validation("end is out of range"));
    }
    if start >= end {
        return Err(ApiError::validation("start must be before end"));
    }
    Ok(Range { start, end })
}

/// `resolution`, `asBytes` and `includeNonBillable` of `payloadCountsBreakdown`.
pub(crate) fn breakdown(q: &Query) -> Result<BreakdownOptions, ApiError> {
    let resolution = match q.get("resolution")? {
        None | Some("86400000") => DAY_MS,
        Some("3600000") => HOUR_MS,
        Some(_) => {
            return Err(ApiError::validation(
                "resolution must be one of: 86400000, 3600000",
            ));
        }
    };
    Ok(BreakdownOptions {
        resolution,
        as_bytes: boolean(q, "asBytes")?,
        include_non_billable: boolean(q, "includeNonBillable")?,
    })
}

/// What `summaryInclude` asks for.
///
/// The docs call it a "Comma-separated list of summary fields to include in org summary", with
/// `payloadCount` as the example. Reading: the summary always carries the cheap counters
/// (`deviceCount`, `memberCount`, …, `storageStats`, `notebookStats`), and `summaryInclude`
/// names the costly extras to add to them. The only such field the schema knows is
/// `payloadCount` (a `payloadStats` object over the last 30 days). Names are trimmed; unknown
/// names are ignored, since the docs list no accepted values to check them against.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SummaryInclude {
    pub(crate) payload_count: bool,
}

impl SummaryInclude {
    pub(crate) fn from_query(q: &Query) -> Result<SummaryInclude, ApiError> {
        let payload_count = q
            .get("summaryInclude")?
            .map(|v| v.split(',').any(|f| f.trim() == "payloadCount"))
            .unwrap_or(false);
        Ok(SummaryInclude { payload_count })
    }
}

/// The sort keys of the org list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SortField {
    Name,
    Id,
    CreationDate,
    LastUpdated,
}

impl SortField {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SortField::Name => "name",
            SortField::Id => "id",
            SortField::CreationDate => "creationDate",
            SortField::LastUpdated => "lastUpdated",
        }
    }
}

/// The parameters of `GET /instances/{instanceId}/orgs`.
#[derive(Debug, Clone)]
pub(crate) struct ListParams {
    pub(crate) page: usize,
    pub(crate) per_page: usize,
    pub(crate) sort_field: SortField,
    /// `sortDirection` as given (echoed back; the response schema allows `asc`, `desc`, `ASC`,
    /// `DESC` and `""`), defaulting to `asc`.
    pub(crate) sort_direction: String,
    pub(crate) descending: bool,
    /// `filterField` and `filter`, when both are given.
    pub(crate) filter: Option<(String, String)>,
    pub(crate) summary: SummaryInclude,
    /// The `query` parameter (an `advancedInstanceOrgQuery`, JSON), which overrides the filter.
    pub(crate) advanced: Option<String>,
}

fn count(q: &Query, name: &str, default: usize, min: usize, max: usize) -> Result<usize, ApiError> {
    let Some(v) = q.get(name)? else {
        return Ok(default);
    };
    v.parse::<usize>()
        .ok()
        .filter(|n| (min..=max).contains(n) && v.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            ApiError::validation(format!("{name} must be a whole number from {min} to {max}"))
        })
}

impl ListParams {
    pub(crate) fn from_query(q: &Query) -> Result<ListParams, ApiError> {
        let page = count(q, "page", 0, 0, 1_000_000)?;
        let per_page = count(q, "perPage", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)?;
        let sort_field = match q.get("sortField")? {
            None | Some("name") => SortField::Name,
            Some("id") => SortField::Id,
            Some("creationDate") => SortField::CreationDate,
            Some("lastUpdated") => SortField::LastUpdated,
            Some(_) => {
                return Err(ApiError::validation(
                    "sortField must be one of: name, id, creationDate, lastUpdated",
                ));
            }
        };
        let (sort_direction, descending) = match q.get("sortDirection")? {
            None => ("asc".to_owned(), false),
            Some(d @ ("asc" | "ASC")) => (d.to_owned(), false),
            Some(d @ ("desc" | "DESC")) => (d.to_owned(), true),
            Some(_) => {
                return Err(ApiError::validation(
                    "sortDirection must be one of: asc, desc",
                ));
            }
        };
        let filter_field = match q.get("filterField")? {
            None => None,
            Some("name") => Some("name"),
            Some(_) => return Err(ApiError::validation("filterField must be one of: name")),
        };
        // The docs: a blank or missing `filterField` means no filtering, so a `filter` alone
        // filters nothing.
        let filter = match (filter_field, q.get("filter")?) {
            (Some(field), Some(pattern)) => Some((field.to_owned(), pattern.to_owned())),
            _ => None,
        };
        let advanced = q.get("query")?.map(str::to_owned);
        Ok(ListParams {
            page,
            per_page,
            sort_field,
            sort_direction,
            descending,
            filter,
            summary: SummaryInclude::from_query(q)?,
            advanced,
        })
    }
}

/// Whether `text` matches the glob `pattern`, where `*` stands for any run of characters and
/// everything else for itself. The match covers the whole text and ignores case (the docs only
/// say "Supports globbing", with the example `my*org`).
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = fold(pattern).chars().collect();
    let t: Vec<char> = fold(text).chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    // Where the last `*` was, and how much text it has swallowed so far.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(c) if *c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Lowercases for case-insensitive comparison.
pub(crate) fn fold(s: &str) -> Cow<'_, str> {
    if s.chars().any(char::is_uppercase) {
        Cow::Owned(s.to_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Query {
        Query::parse(Some(s))
    }

    #[test]
    fn globs() {
        assert!(glob_match("my*org", "My Big Org"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXbYY"));
        assert!(!glob_match("acme", "acme corp"));
        assert!(glob_match("acme*", "Acme Corp"));
    }

    #[test]
    fn ranges_default_to_the_last_30_days() {
        let now = 1_700_000_000_000;
        assert_eq!(
            range(&q(""), now),
            Ok(Range {
                start: now - DEFAULT_SPAN_MS,
                end: now
            })
        );
        assert_eq!(
            range(&q("start=0&end=1465790400000"), now),
            Ok(Range {
                start: 1_465_790_400_000 - DEFAULT_SPAN_MS,
                end: 1_465_790_400_000
            })
        );
        assert_eq!(
            range(&q("start=-86400000"), now),
            Ok(Range {
                start: now - DAY_MS,
                end: now
            })
        );
        assert!(range(&q("start=abc"), now).is_err());
        assert!(range(&q("start=1.5"), now).is_err());
        assert!(range(&q("start=20&end=10"), now).is_err());
        assert!(range(&q("start=1&start=2"), now).is_err());
    }

    #[test]
    fn list_params_check_their_values() {
        assert!(ListParams::from_query(&q("page=-1")).is_err());
        assert!(ListParams::from_query(&q("perPage=0")).is_err());
        assert!(ListParams::from_query(&q("sortField=size")).is_err());
        assert!(ListParams::from_query(&q("sortDirection=up")).is_err());
        assert!(ListParams::from_query(&q("filterField=description")).is_err());
        let p = ListParams::from_query(&q("filter=a*&_links=true"));
        assert!(p.is_ok_and(|p| p.filter.is_none() && p.per_page == DEFAULT_PER_PAGE));
    }

    #[test]
    fn booleans_ignore_case() {
        assert_eq!(boolean(&q("asBytes=True"), "asBytes"), Ok(true));
        assert_eq!(boolean(&q("asBytes="), "asBytes"), Ok(false));
        assert!(boolean(&q("asBytes=yes"), "asBytes").is_err());
    }
}
