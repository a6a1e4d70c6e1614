//! Usage management: `GET /usage/data-traffic` and `GET /usage/active-devices`, their query
//! (`start`, `end`, `detail`) and the figures they answer with.
//!
//! From the documents: `start` and `end` are `YYYY` (the first or last day of that year),
//! `YYYY-MM` (of that month) or `YYYY-MM-DD`, both days included; `detail` is a boolean, sent by
//! wiotp-sdk as Python prints one (`True`/`False`), so it is read case-insensitively. The answer
//! is `DataTraffic {start, end, average, total, days?}` with dates as `YYYY-MM-DD` (the SDK
//! parses them with `%Y-%m-%d`), `days: [{date, total}]` per day only with `detail=true`.
//!
//! Decided here, where the documents are silent or disagree:
//! - Units: data traffic is in **kB** (1 kB = 1000 bytes), per day and in `total`/`average`, as
//!   the swagger's `DataTrafficDetail` says (the iot-python docs say bytes; the API's own
//!   specification is followed).
//! - Without `detail`, `days` is `null`, not absent: the swagger makes it optional, and
//!   wiotp-sdk 1.0.1's `DataTransferSummary` deletes the key unconditionally, so the service
//!   must have sent it; `null` is what a Java service serialising an unset list sends.
//! - `active-devices` (not in the swagger; a legacy endpoint known from its `average`) answers
//!   the same shape: per day the number of distinct devices that connected that day, `total` the
//!   number of distinct devices over the whole range, `average` the mean of the days.
//! - `average` is the integer mean over the days of the range (total / days, rounded down).
//! - Days before the org was created, after today (UTC), and every day of a disabled org (its
//!   messaging is off) count zero.
//! - Both parameters are required; `start` after `end`, or a range over 731 days, is a 400.
//! - The figures are made up but stable: the same org and day always give the same numbers.

use serde_json::{Value, json};
use time::Date;

use super::error::{ApiError, Violation};
use super::store::OrgSeed;

/// The longest range answered, in days: two years, a bound of the simulator's own.
pub(crate) const MAX_DAYS: i64 = 731;

/// A usage query, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UsageQuery {
    pub(crate) start: Date,
    pub(crate) end: Date,
    pub(crate) detail: bool,
}

/// Which edge of a period a date names: `2024` starts on 1 January and ends on 31 December.
#[derive(Clone, Copy)]
enum Edge {
    Start,
    End,
}

fn month(n: u8) -> Option<time::Month> {
    time::Month::try_from(n).ok()
}

fn number<T: std::str::FromStr>(s: &str, digits: usize) -> Option<T> {
    (s.len() == digits && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// Reads `YYYY`, `YYYY-MM` or `YYYY-MM-DD`, as the first or the last day it names.
fn period_date(s: &str, edge: Edge) -> Option<Date> {
    let parts: Vec<&str> = s.split('-').collect();
    let year: i32 = number(parts.first()?, 4)?;
    match (parts.len(), edge) {
        (1, Edge::Start) => Date::from_calendar_date(year, time::Month::January, 1).ok(),
        (1, Edge::End) => Date::from_calendar_date(year, time::Month::December, 31).ok(),
        (2, edge) => {
            let m = month(number(parts[1], 2)?)?;
            let first = Date::from_calendar_date(year, m, 1).ok()?;
            match edge {
                Edge::Start => Some(first),
                Edge::End => Some(
                    Date::from_calendar_date(year, m, m.length(year))
                        .ok()
                        .unwrap_or(first),
                ),
            }
        }
        (3, _) => {
            Date::from_calendar_date(year, month(number(parts[1], 2)?)?, number(parts[2], 2)?).ok()
        }
        _ => None,
    }
}

/// The calendar date as `YYYY-MM-DD`.
pub(crate) fn ymd(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Reads a boolean the way the service must to serve wiotp-sdk: `true`/`false` in any case.
pub(crate) fn boolean(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

impl UsageQuery {
    /// Validates a query string, naming every problem at once.
    pub(crate) fn parse(query: Option<&str>) -> Result<UsageQuery, ApiError> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let mut violations = Vec::new();
        let mut date = |name: &str, edge: Edge| match get(name) {
            None => {
                violations.push(Violation::missing(name));
                None
            }
            Some(v) => {
                let d = period_date(v, edge);
                if d.is_none() {
                    violations.push(Violation::parameter(
                        name,
                        v,
                        "expected YYYY, YYYY-MM or YYYY-MM-DD",
                    ));
                }
                d
            }
        };
        let start = date("start", Edge::Start);
        let end = date("end", Edge::End);
        let detail = match get("detail") {
            None => Some(false),
            Some(v) => {
                let b = boolean(v);
                if b.is_none() {
                    violations.push(Violation::parameter("detail", v, "expected true or false"));
                }
                b
            }
        };
        if let (Some(s), Some(e)) = (start, end) {
            if s > e {
                violations.push(Violation::parameter(
                    "end",
                    &ymd(e),
                    &format!("it is before the start, {}", ymd(s)),
                ));
            } else if (e - s).whole_days() + 1 > MAX_DAYS {
                violations.push(Violation::parameter(
                    "end",
                    &ymd(e),
                    &format!("the range is longer than {MAX_DAYS} days"),
                ));
            }
        }
        match (start, end, detail) {
            (Some(start), Some(end), Some(detail)) if violations.is_empty() => {
                Ok(UsageQuery { start, end, detail })
            }
            _ => Err(ApiError::invalid(violations)),
        }
    }

    /// Every day of the range, in order.
    fn days(&self) -> impl Iterator<Item = Date> {
        let end = self.end;
        std::iter::successors(Some(self.start), move |d| {
            d.next_day().filter(|n| *n <= end)
        })
    }
}

/// A stable pseudo-random number for a tuple of values (FNV-1a, then a SplitMix64 finish so
/// neighbouring days differ a lot).
fn noise(org: &str, day: Date, salt: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(org.as_bytes());
    eat(&day.to_julian_day().to_le_bytes());
    eat(&salt.to_le_bytes());
    let mut z = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Whether the org has any figure on `day`.
fn live(org: &OrgSeed, day: Date, today: Date) -> bool {
    let created = period_date(org.created_date(), Edge::Start);
    org.enabled && day <= today && created.is_none_or(|c| day >= c)
}

/// The org's data traffic on one day, in kB.
pub(crate) fn traffic_kb(org: &OrgSeed, day: Date, today: Date) -> u64 {
    if !live(org, day, today) || org.daily_kb == 0 {
        return 0;
    }
    org.daily_kb / 2 + noise(&org.id, day, 0) % org.daily_kb
}

/// Whether device `i` of the org connected on `day` (about seven days in ten).
fn active(org: &OrgSeed, i: u32, day: Date, today: Date) -> bool {
    live(org, day, today) && noise(&org.id, day, u64::from(i) + 1) % 10 < 7
}

fn answer(q: &UsageQuery, per_day: &[(Date, u64)], total: u64, day_sum: u64) -> Value {
    let n = per_day.len().max(1) as u64;
    let days = if q.detail {
        Value::Array(
            per_day
                .iter()
                .map(|(d, v)| json!({ "date": ymd(*d), "total": v }))
                .collect(),
        )
    } else {
        Value::Null
    };
    json!({
        "start": ymd(q.start),
        "end": ymd(q.end),
        "average": day_sum / n,
        "total": total,
        "days": days,
    })
}

/// `GET /usage/data-traffic`.
pub(crate) fn data_traffic(org: &OrgSeed, q: &UsageQuery, today: Date) -> Value {
    let per_day: Vec<(Date, u64)> = q.days().map(|d| (d, traffic_kb(org, d, today))).collect();
    let sum = per_day.iter().map(|(_, v)| v).sum();
    answer(q, &per_day, sum, sum)
}

/// `GET /usage/active-devices`.
pub(crate) fn active_devices(org: &OrgSeed, q: &UsageQuery, today: Date) -> Value {
    let per_day: Vec<(Date, u64)> = q
        .days()
        .map(|d| {
            let n = (0..org.devices)
                .filter(|i| active(org, *i, d, today))
                .count();
            (d, n as u64)
        })
        .collect();
    let distinct = (0..org.devices)
        .filter(|i| q.days().any(|d| active(org, *i, d, today)))
        .count() as u64;
    let sum = per_day.iter().map(|(_, v)| v).sum();
    answer(q, &per_day, distinct, sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watson_iot::store::demo_orgs;

    fn date(s: &str) -> Date {
        period_date(s, Edge::Start).unwrap()
    }

    #[test]
    fn periods() {
        let q = UsageQuery::parse(Some("start=2024&end=2024-02")).unwrap();
        assert_eq!(
            (ymd(q.start), ymd(q.end)),
            ("2024-01-01".into(), "2024-02-29".into())
        );
        assert!(!q.detail);
        let q = UsageQuery::parse(Some("start=2023-12-30&end=2024&detail=True")).unwrap();
        assert_eq!(ymd(q.end), "2024-12-31");
        assert!(q.detail);
        assert!(UsageQuery::parse(Some("start=2024-01-01&end=2024-01-01&detail=FALSE")).is_ok());
    }

    #[test]
    fn refusals_name_every_problem() {
        let e = UsageQuery::parse(Some("start=2024-13&detail=yes")).unwrap_err();
        assert_eq!(e.status, 400);
        let names: Vec<&str> = e
            .violations
            .iter()
            .map(|v| v.properties[0].as_str())
            .collect();
        assert_eq!(names, ["start", "end", "detail"]);
        let e = UsageQuery::parse(Some("start=2024-02-02&end=2024-02-01")).unwrap_err();
        assert!(e.violations[0].message.contains("before the start"));
        assert!(UsageQuery::parse(Some("start=2020-01-01&end=2022-12-31")).is_err());
        assert!(UsageQuery::parse(Some("start=2024-02-30&end=2024-03-01")).is_err());
        assert!(UsageQuery::parse(Some("start=24-01-01&end=2024-03-01")).is_err());
    }

    #[test]
    fn figures_add_up_and_stay_put() {
        let org = &demo_orgs()[1];
        let today = date("2024-06-30");
        let q = UsageQuery::parse(Some("start=2024-06-01&end=2024-06-30&detail=true")).unwrap();
        let a = data_traffic(org, &q, today);
        let days = a["days"].as_array().unwrap();
        assert_eq!(days.len(), 30);
        let sum: u64 = days.iter().map(|d| d["total"].as_u64().unwrap()).sum();
        assert_eq!(a["total"], sum);
        assert_eq!(a["average"], sum / 30);
        assert_eq!(a, data_traffic(org, &q, today), "stable");
        assert!(days.iter().all(|d| d["total"].as_u64().unwrap() > 0));
        // Future days count zero; no detail means `days: null`.
        let q = UsageQuery::parse(Some("start=2024-06-30&end=2024-07-01")).unwrap();
        let a = data_traffic(org, &q, today);
        assert!(a["days"].is_null());
        let q = UsageQuery::parse(Some("start=2024-07-01&end=2024-07-01")).unwrap();
        assert_eq!(data_traffic(org, &q, today)["total"], 0);

        let q = UsageQuery::parse(Some("start=2024-06-01&end=2024-06-07&detail=true")).unwrap();
        let a = active_devices(org, &q, today);
        let max_day = a["days"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["total"].as_u64().unwrap())
            .max()
            .unwrap();
        let distinct = a["total"].as_u64().unwrap();
        assert!(max_day <= distinct && distinct <= u64::from(org.devices));
        // A disabled org has no traffic.
        let disabled = demo_orgs().into_iter().find(|o| !o.enabled).unwrap();
        assert_eq!(data_traffic(&disabled, &q, today)["total"], 0);
    }
}
