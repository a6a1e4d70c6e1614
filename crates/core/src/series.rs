//! Usage series from a vendor's time buckets: [`group`] rolls hourly or daily [`Bucket`]s up
//! into the asked [`Interval`], and [`build`] makes the [`UsageSeries`] answer, with a total
//! for counters. Pure: adapters turn their vendor's answer into buckets and call these.

use std::collections::BTreeMap;

use crate::model::{Unit, UsagePoint, UsageSeries};
use crate::query::{Interval, Metric, TimeRange};
use crate::time::Timestamp;

/// One bucket of a daily or hourly series, before grouping into the asked interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub at: Timestamp,
    pub value: u64,
    pub detail: Option<BTreeMap<String, u64>>,
}

/// How buckets combine when grouped: counters add up; gauges (device totals) keep their last
/// value, while their detail (created, deleted) still adds up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    Sum,
    Last,
}

/// Groups daily (or hourly) buckets, in time order, into the asked interval, keeping only the
/// buckets the range holds: the range is half-open, so a bucket is in it when
/// `from <= start < to` (docs/API.md §3). Vendors that count their end bucket inclusively are
/// trimmed here, once for every dialect. `Day` and `Hour` keep the buckets as they are; `Month`
/// groups them by calendar month (UTC), each point labelled with its month's start; `Total`
/// makes one point at `from`.
pub fn group(
    buckets: Vec<Bucket>,
    interval: Interval,
    agg: Aggregate,
    range: TimeRange,
) -> Vec<UsagePoint> {
    let from = range.from();
    let buckets = buckets
        .into_iter()
        .filter(|b| from <= b.at && b.at < range.to());
    let key = |t: Timestamp| match interval {
        Interval::Hour | Interval::Day => t,
        Interval::Month => t.floor_month(),
        Interval::Total => from,
    };
    let mut out: Vec<UsagePoint> = Vec::new();
    for b in buckets {
        let at = key(b.at);
        match out.last_mut() {
            Some(p) if p.at == at => {
                p.value = match agg {
                    Aggregate::Sum => p.value.saturating_add(b.value),
                    Aggregate::Last => b.value,
                };
                if let (Some(acc), Some(d)) = (&mut p.detail, b.detail) {
                    for (k, v) in d {
                        let slot = acc.entry(k).or_insert(0);
                        *slot = slot.saturating_add(v);
                    }
                }
            }
            _ => out.push(UsagePoint {
                at,
                value: b.value,
                detail: b.detail,
            }),
        }
    }
    out
}

/// Builds the series answer from grouped points. Counters ([`Aggregate::Sum`]) get a `total`;
/// gauges ([`Aggregate::Last`]) do not, since a sum of daily totals means nothing.
pub fn build(
    metric: Metric,
    unit: Unit,
    interval: Interval,
    range: TimeRange,
    points: Vec<UsagePoint>,
    agg: Aggregate,
    raw: Option<serde_json::Value>,
) -> UsageSeries {
    let total = match agg {
        Aggregate::Sum => Some(
            points
                .iter()
                .map(|p| p.value)
                .fold(0u64, u64::saturating_add),
        ),
        Aggregate::Last => None,
    };
    UsageSeries {
        metric: metric.as_str().to_owned(),
        unit,
        interval,
        from: range.from(),
        to: range.to(),
        points,
        total,
        raw,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn grouping() {
        let b = |d: &str, v: u64| Bucket {
            at: ts(d),
            value: v,
            detail: Some(BTreeMap::from([("created".to_owned(), 1u64)])),
        };
        let days = vec![
            b("2016-05-30T00:00:00Z", 10),
            b("2016-05-31T00:00:00Z", 11),
            b("2016-06-01T00:00:00Z", 12),
        ];
        let from = ts("2016-05-30T00:00:00Z");
        let range = TimeRange::new(from, ts("2016-06-02T00:00:00Z")).unwrap();
        let months = group(days.clone(), Interval::Month, Aggregate::Last, range);
        assert_eq!(months.len(), 2);
        assert_eq!(months[0].at, ts("2016-05-01T00:00:00Z"));
        assert_eq!(months[0].value, 11);
        assert_eq!(months[0].detail.as_ref().unwrap()["created"], 2);
        let total = group(days.clone(), Interval::Total, Aggregate::Sum, range);
        assert_eq!(total.len(), 1);
        assert_eq!(total[0].value, 33);
        assert_eq!(total[0].at, from);
        assert_eq!(group(days, Interval::Day, Aggregate::Sum, range).len(), 3);
    }

    #[test]
    fn ranges_are_half_open() {
        let day = |d: u32| Bucket {
            at: ts(&format!("2025-05-{d:02}T00:00:00Z")),
            value: u64::from(d),
            detail: None,
        };
        // A vendor that answers the end day too: 1, 2, 3 and 4 May for [1 May, 4 May).
        let days: Vec<Bucket> = (1..=4).map(day).collect();
        let range = TimeRange::new(ts("2025-05-01T00:00:00Z"), ts("2025-05-04T00:00:00Z")).unwrap();
        let points = group(days, Interval::Day, Aggregate::Sum, range);
        let at: Vec<String> = points.iter().map(|p| p.at.to_string()).collect();
        assert_eq!(
            at,
            [
                "2025-05-01T00:00:00Z",
                "2025-05-02T00:00:00Z",
                "2025-05-03T00:00:00Z"
            ]
        );
        // Six hours are six hourly points, not seven.
        let hours: Vec<Bucket> = (0..=6)
            .map(|h| Bucket {
                at: ts(&format!("2025-05-01T{h:02}:00:00Z")),
                value: 1,
                detail: None,
            })
            .collect();
        let range = TimeRange::new(ts("2025-05-01T00:00:00Z"), ts("2025-05-01T06:00:00Z")).unwrap();
        assert_eq!(group(hours, Interval::Hour, Aggregate::Sum, range).len(), 6);
        // A bucket that starts before `from` is not in the range either.
        let range = TimeRange::new(ts("2025-05-01T12:00:00Z"), ts("2025-05-03T00:00:00Z")).unwrap();
        let days: Vec<Bucket> = (1..=3).map(day).collect();
        assert_eq!(group(days, Interval::Day, Aggregate::Sum, range).len(), 1);
    }

    #[test]
    fn totals_only_for_counters() {
        let range = TimeRange::new(ts("2016-05-30T00:00:00Z"), ts("2016-06-02T00:00:00Z")).unwrap();
        let points = |values: &[u64]| {
            values
                .iter()
                .map(|&value| UsagePoint {
                    at: range.from(),
                    value,
                    detail: None,
                })
                .collect::<Vec<_>>()
        };
        let s = build(
            Metric::Payloads,
            Unit::Count,
            Interval::Day,
            range,
            points(&[1, 2, u64::MAX]),
            Aggregate::Sum,
            None,
        );
        assert_eq!(s.total, Some(u64::MAX), "sums saturate");
        assert_eq!(
            (s.metric.as_str(), s.from, s.to),
            ("payloads", range.from(), range.to())
        );
        let s = build(
            Metric::Devices,
            Unit::Count,
            Interval::Day,
            range,
            points(&[4, 5]),
            Aggregate::Last,
            None,
        );
        assert_eq!(s.total, None);
        assert_eq!(s.points.len(), 2);
    }
}
