//! Parameters of reads: list paging and sorting (docs/API.md §5), usage metrics, intervals and time
//! ranges (docs/API.md §3). Parsed and validated by the gateway; adapters receive them typed.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// Where a page starts. The gateway turns it into an opaque string for callers; adapters see
/// the backend's own notion (an offset, or a backend-issued token).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Cursor {
    /// Number of items to skip.
    Offset(u64),
    /// A continuation token issued by the backend.
    Token(String),
}

impl Cursor {
    /// The offset a cursor stands for; a list that pages by offset reads every other cursor as
    /// the start of the list.
    pub fn offset(cursor: Option<&Cursor>) -> u64 {
        match cursor {
            Some(Cursor::Offset(o)) => *o,
            _ => 0,
        }
    }
}

/// A field a list can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SortField {
    Id,
    Name,
    CreatedAt,
    UpdatedAt,
    Status,
    /// A plan's quota: its storage quota in bytes, or its first quota's limit.
    Quota,
}

impl SortField {
    /// Every field, in the order the API documents them.
    pub const ALL: [SortField; 6] = [
        SortField::Name,
        SortField::CreatedAt,
        SortField::UpdatedAt,
        SortField::Id,
        SortField::Status,
        SortField::Quota,
    ];

    /// The API's name of the field.
    pub fn as_str(self) -> &'static str {
        match self {
            SortField::Id => "id",
            SortField::Name => "name",
            SortField::CreatedAt => "createdAt",
            SortField::UpdatedAt => "updatedAt",
            SortField::Status => "status",
            SortField::Quota => "quota",
        }
    }
}

/// A sort order: a field and a direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Sort {
    pub field: SortField,
    pub descending: bool,
}

impl Sort {
    /// Reads `name`, `-name`, `createdAt`, … .
    pub fn parse(s: &str) -> Option<Sort> {
        let (descending, name) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        SortField::ALL
            .into_iter()
            .find(|f| f.as_str() == name)
            .map(|field| Sort { field, descending })
    }
}

impl fmt::Display for Sort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.descending {
            f.write_str("-")?;
        }
        f.write_str(self.field.as_str())
    }
}

/// Paging and sorting of a list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListQuery {
    /// Page size, 1–500.
    pub limit: u32,
    pub cursor: Option<Cursor>,
    pub sort: Option<Sort>,
}

impl ListQuery {
    /// The API's default page size.
    pub const DEFAULT_LIMIT: u32 = 50;
    /// The API's largest page size.
    pub const MAX_LIMIT: u32 = 500;

    /// The first page with the default size and the backend's natural order.
    pub fn first() -> Self {
        ListQuery {
            limit: Self::DEFAULT_LIMIT,
            cursor: None,
            sort: None,
        }
    }

    /// The offset this query starts at (see [`Cursor::offset`]).
    pub fn offset(&self) -> u64 {
        Cursor::offset(self.cursor.as_ref())
    }
}

/// The usage metrics of docs/API.md §3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Metric {
    Devices,
    NotebookMinutes,
    Payloads,
    DataTraffic,
    ActiveDevices,
    CustomersAdded,
}

impl Metric {
    /// Every metric the API names.
    pub const ALL: [Metric; 6] = [
        Metric::Devices,
        Metric::NotebookMinutes,
        Metric::Payloads,
        Metric::DataTraffic,
        Metric::ActiveDevices,
        Metric::CustomersAdded,
    ];

    /// The API's name of the metric.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Devices => "devices",
            Metric::NotebookMinutes => "notebook-minutes",
            Metric::Payloads => "payloads",
            Metric::DataTraffic => "data-traffic",
            Metric::ActiveDevices => "active-devices",
            Metric::CustomersAdded => "customers-added",
        }
    }

    /// Reads the API's name of a metric.
    pub fn parse(s: &str) -> Option<Metric> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// Bucket size of a usage series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Interval {
    Hour,
    Day,
    Month,
    /// One point for the whole range.
    Total,
}

impl Interval {
    /// Every interval, finest first.
    pub const ALL: [Interval; 4] = [
        Interval::Hour,
        Interval::Day,
        Interval::Month,
        Interval::Total,
    ];

    /// The API's name of the interval.
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Hour => "hour",
            Interval::Day => "day",
            Interval::Month => "month",
            Interval::Total => "total",
        }
    }

    /// Reads the API's name of an interval.
    pub fn parse(s: &str) -> Option<Interval> {
        Self::ALL.into_iter().find(|i| i.as_str() == s)
    }
}

/// A half-open time range `[from, to)`, with `from < to` guaranteed by construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeRange {
    from: Timestamp,
    to: Timestamp,
}

/// Why a time range was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("`from` ({from}) must be before `to` ({to})")]
    Reversed { from: Timestamp, to: Timestamp },
    #[error("the range from {from} to {to} is longer than {max_days} days")]
    TooLong {
        from: Timestamp,
        to: Timestamp,
        max_days: i64,
    },
}

impl TimeRange {
    /// The longest range docs/API.md allows.
    pub const MAX_DAYS: i64 = 400;
    /// The default range when the caller names none.
    pub const DEFAULT_DAYS: i64 = 30;
    const DAY_MS: i64 = 86_400_000;

    /// A range, refused when reversed, empty or longer than [`Self::MAX_DAYS`].
    pub fn new(from: Timestamp, to: Timestamp) -> Result<Self, RangeError> {
        if from >= to {
            return Err(RangeError::Reversed { from, to });
        }
        if to.millis_since(&from) > Self::MAX_DAYS * Self::DAY_MS {
            return Err(RangeError::TooLong {
                from,
                to,
                max_days: Self::MAX_DAYS,
            });
        }
        Ok(TimeRange { from, to })
    }

    /// Completes a partial range the way docs/API.md says: `to` defaults to `now`, `from` to 30 days
    /// before `to`.
    pub fn with_defaults(
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Self, RangeError> {
        let to = to.unwrap_or(now);
        let from = from.unwrap_or_else(|| to.add_millis(-Self::DEFAULT_DAYS * Self::DAY_MS));
        Self::new(from, to)
    }

    pub fn from(&self) -> Timestamp {
        self.from
    }

    pub fn to(&self) -> Timestamp {
        self.to
    }
}

/// Options of a usage series that only some metrics accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeriesOptions {
    /// `?unit=bytes`: report sizes instead of counts.
    pub bytes: bool,
    /// `?billable=false`: include non-billable items.
    pub include_non_billable: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn sorts_parse_and_print() {
        assert_eq!(
            Sort::parse("-createdAt"),
            Some(Sort {
                field: SortField::CreatedAt,
                descending: true
            })
        );
        assert_eq!(Sort::parse("name").unwrap().to_string(), "name");
        assert_eq!(
            Sort::parse("-quota"),
            Some(Sort {
                field: SortField::Quota,
                descending: true
            })
        );
        assert_eq!(Sort::parse("--name"), None);
        assert_eq!(Sort::parse("created_at"), None);
    }

    #[test]
    fn ranges_are_checked() {
        let a = ts("2016-06-13T00:00:00Z");
        let b = ts("2016-06-15T00:00:00Z");
        assert!(TimeRange::new(a, b).is_ok());
        assert!(matches!(
            TimeRange::new(b, a),
            Err(RangeError::Reversed { .. })
        ));
        assert!(matches!(
            TimeRange::new(a, a),
            Err(RangeError::Reversed { .. })
        ));
        let far = a.add_millis(401 * 86_400_000);
        assert!(matches!(
            TimeRange::new(a, far),
            Err(RangeError::TooLong { .. })
        ));
        let edge = a.add_millis(400 * 86_400_000);
        assert!(TimeRange::new(a, edge).is_ok());
    }

    #[test]
    fn range_defaults() {
        let now = ts("2016-06-30T00:00:00Z");
        let r = TimeRange::with_defaults(None, None, now).unwrap();
        assert_eq!(r.to(), now);
        assert_eq!(r.from(), ts("2016-05-31T00:00:00Z"));
        let r = TimeRange::with_defaults(None, Some(ts("2016-06-10T00:00:00Z")), now).unwrap();
        assert_eq!(r.from(), ts("2016-05-11T00:00:00Z"));
    }

    #[test]
    fn names_round_trip() {
        for m in Metric::ALL {
            assert_eq!(Metric::parse(m.as_str()), Some(m));
        }
        for i in Interval::ALL {
            assert_eq!(Interval::parse(i.as_str()), Some(i));
        }
    }
}
