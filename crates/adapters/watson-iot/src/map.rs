//! Pure conversions between the Watson IoT wire types and orgway's model. No I/O: each function
//! takes vendor values and returns normalized ones (or the query values to send), and is tested
//! with payloads shaped like the vendor's documents.
//!
//! Units: the vendor counts data traffic in kB (the swagger's `DataTrafficDetail`: "in kB"; the
//! iot-python docs say bytes, but the API's own specification is followed). The API reports
//! bytes, so every figure is multiplied by [`BYTES_PER_KB`] = 1000 (the SI kilo of "kB").

use orgway_core::series::Bucket;
use orgway_core::text::excerpt;
use orgway_core::{BackendError, Counts, Org, OrgStatus, PlanRef, TimeRange, Timestamp};

use crate::wire::{Organization, UsageFigures};

/// Bytes in one of the vendor's kB.
pub const BYTES_PER_KB: u64 = 1000;

/// Whether `s` is an org id as the vendor writes it: six lowercase letters and digits.
pub fn is_org_id(s: &str) -> bool {
    s.len() == 6
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Checks a native org id (six letters and digits; a host name's case does not matter) and
/// returns its canonical, lowercase spelling.
pub fn canonical_id(raw: &str) -> Result<String, String> {
    let lower = raw.to_ascii_lowercase();
    if is_org_id(&lower) {
        Ok(lower)
    } else {
        Err(format!(
            "`{}` is not a Watson IoT org id (6 letters and digits)",
            excerpt(raw, 64)
        ))
    }
}

/// The org an API key belongs to: its middle part (`a-{org}-{random}`), as both vendor SDKs
/// read it.
pub fn key_org(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("a-")?;
    let (org, random) = rest.split_once('-')?;
    (is_org_id(org) && !random.is_empty() && random.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then_some(org)
}

fn timestamp(
    backend: &str,
    field: &str,
    s: Option<&str>,
) -> Result<Option<Timestamp>, BackendError> {
    s.map(|s| {
        Timestamp::parse_rfc3339(s).map_err(|_| {
            BackendError::bad_response(format!(
                "{backend} sent `{}` in `{field}`, which is not a date-time",
                excerpt(s, 64)
            ))
        })
    })
    .transpose()
}

/// An `Organization` as an org. `asked` is the org the request named: an answer about another
/// org is refused, so a misrouted request can never show one org's record as another's. `raw`
/// is the record as received (nothing in it is secret), kept only when asked for.
///
/// `enabled` is the status (`false` is disabled); the plan is the tier (`type`) by name, and by
/// id the Bluemix pricing plan (either spelling) where there is one, else the tier again.
pub fn org_from_wire(
    backend: &str,
    asked: &str,
    w: Organization,
    raw: Option<serde_json::Value>,
) -> Result<Org, BackendError> {
    let id = w.id.as_deref().ok_or_else(|| {
        BackendError::bad_response(format!("{backend} sent an organization without an id"))
    })?;
    let native_id = canonical_id(id).map_err(|m| {
        BackendError::bad_response(format!("{backend} sent an org id it cannot use: {m}"))
    })?;
    if native_id != asked {
        return Err(BackendError::bad_response(format!(
            "{backend} answered with org {native_id} when asked for org {asked}"
        )));
    }
    let status = w.enabled.map(|on| {
        if on {
            OrgStatus::Active
        } else {
            OrgStatus::Disabled
        }
    });
    let plan_id = w
        .bluemix
        .as_ref()
        .and_then(|b| b.plan())
        .map(str::to_owned)
        .or_else(|| w.plan_type.clone());
    let plan = (plan_id.is_some() || w.plan_type.is_some()).then(|| PlanRef {
        id: plan_id,
        name: w.plan_type.clone(),
    });
    Ok(Org {
        native_id,
        name: w.name,
        description: None,
        status,
        parent_native_id: None,
        plan,
        created_at: timestamp(backend, "created", w.created.as_deref())?,
        updated_at: timestamp(backend, "updated", w.updated.as_deref())?,
        counts: Counts::default(),
        raw,
    })
}

/// The vendor's `start` and `end` for a half-open range: whole days, both included, from the
/// day `from` falls in to the day of the range's last instant. Core's series grouping then
/// drops the days the range does not hold.
pub fn usage_dates(range: TimeRange) -> (String, String) {
    (
        range.from().floor_day().date_string(),
        range.to().add_millis(-1).date_string(),
    )
}

fn date(backend: &str, s: &str) -> Result<Timestamp, BackendError> {
    let bad = || {
        BackendError::bad_response(format!(
            "{backend} sent `{}` in `days[].date`, which is not a date (YYYY-MM-DD)",
            excerpt(s, 32)
        ))
    };
    let mut parts = s.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let (Ok(y), Ok(m), Ok(d)) = (y.parse(), m.parse(), d.parse()) else {
        return Err(bad());
    };
    Timestamp::from_date(y, m, d).map_err(|_| bad())
}

/// The per-day figures of a usage answer as daily buckets, each value multiplied by `scale`,
/// in time order. Asked with `detail=true`, an answer without `days` is a bad response.
fn day_buckets(backend: &str, w: &UsageFigures, scale: u64) -> Result<Vec<Bucket>, BackendError> {
    let days = w.days.as_ref().ok_or_else(|| {
        BackendError::bad_response(format!(
            "{backend} sent no per-day figures (`days`) though they were asked for"
        ))
    })?;
    let mut out = days
        .iter()
        .map(|d| {
            Ok(Bucket {
                at: date(backend, &d.date)?,
                value: d.total.saturating_mul(scale),
                detail: None,
            })
        })
        .collect::<Result<Vec<_>, BackendError>>()?;
    out.sort_by_key(|b| b.at);
    Ok(out)
}

/// `data-traffic` per day, in bytes.
pub fn traffic_buckets(backend: &str, w: &UsageFigures) -> Result<Vec<Bucket>, BackendError> {
    day_buckets(backend, w, BYTES_PER_KB)
}

/// `active-devices` per day: how many devices were active that day.
pub fn device_buckets(backend: &str, w: &UsageFigures) -> Result<Vec<Bucket>, BackendError> {
    day_buckets(backend, w, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn ids_and_keys() {
        assert_eq!(canonical_id("AB8DE4").unwrap(), "ab8de4");
        for bad in ["ab8de", "ab8de45", "ab-de4", "ab8dé4", "", "../x"] {
            assert!(canonical_id(bad).is_err(), "{bad}");
        }
        assert_eq!(key_org("a-abc123-kodl0vqqrk"), Some("abc123"));
        for bad in [
            "abc123",
            "a-abc123-",
            "a-abc12-x",
            "a-ABC123-x",
            "d-abc123-x",
            "a-abc123-x:y",
        ] {
            assert_eq!(key_org(bad), None, "{bad}");
        }
    }

    #[test]
    fn whole_days_cover_the_range() {
        let r = TimeRange::new(ts("2024-01-30T00:00:00Z"), ts("2024-02-03T00:00:00Z")).unwrap();
        assert_eq!(usage_dates(r), ("2024-01-30".into(), "2024-02-02".into()));
        let r = TimeRange::new(ts("2024-01-30T12:00:00Z"), ts("2024-02-03T00:00:01Z")).unwrap();
        assert_eq!(usage_dates(r), ("2024-01-30".into(), "2024-02-03".into()));
    }

    #[test]
    fn dates_are_checked() {
        assert_eq!(date("w", "2024-02-29").unwrap(), ts("2024-02-29T00:00:00Z"));
        for bad in [
            "2023-02-29",
            "2024-2-1",
            "2024-01-01T00:00:00Z",
            "x",
            "2024-01-01-01",
        ] {
            let e = date("w", bad).unwrap_err();
            assert!(e.message.contains("days[].date"), "{bad}: {}", e.message);
        }
    }
}
