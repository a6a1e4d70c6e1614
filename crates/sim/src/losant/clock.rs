//! Time on the Losant wire: milliseconds since the epoch in requests, ISO-8601 date-times with
//! milliseconds (`2016-06-13T00:00:00.000Z`) in responses.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// One UTC day in milliseconds.
pub(crate) const DAY_MS: i64 = 86_400_000;
/// One hour in milliseconds.
pub(crate) const HOUR_MS: i64 = 3_600_000;
/// 9999-12-31T23:59:59.999Z: the last instant a four-digit year can show.
pub(crate) const MAX_MS: i64 = 253_402_300_799_999;

/// Now, in milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
    i64::try_from(nanos / 1_000_000).unwrap_or(0)
}

/// `ms` as `YYYY-MM-DDTHH:MM:SS.mmmZ`. Out-of-range values (callers validate ranges first)
/// clamp to the representable span rather than fail.
pub(crate) fn iso(ms: i64) -> String {
    let ms = ms.clamp(0, MAX_MS);
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".to_owned())
}

/// Parses an RFC 3339 date-time (what JSON Schema's `format: date-time` means) to milliseconds
/// since the epoch.
pub(crate) fn parse_rfc3339(text: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    let ms = t.to_offset(UtcOffset::UTC).unix_timestamp_nanos() / 1_000_000;
    i64::try_from(ms)
        .ok()
        .filter(|ms| (0..=MAX_MS).contains(ms))
}

/// The start of the bucket of width `step` that holds `ms` (`ms` is never negative here).
pub(crate) fn floor_to(ms: i64, step: i64) -> i64 {
    ms - ms.rem_euclid(step)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_milliseconds() {
        assert_eq!(iso(1_465_776_000_000), "2016-06-13T00:00:00.000Z");
        assert_eq!(iso(1_465_776_000_123), "2016-06-13T00:00:00.123Z");
    }

    #[test]
    fn parses_offsets_to_utc() {
        assert_eq!(
            parse_rfc3339("2016-06-13T02:00:00+02:00"),
            Some(1_465_776_000_000)
        );
        assert_eq!(parse_rfc3339("2016-06-13"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn floors_to_buckets() {
        assert_eq!(floor_to(1_465_776_000_123, DAY_MS), 1_465_776_000_000);
        assert_eq!(floor_to(1_465_779_599_999, HOUR_MS), 1_465_776_000_000);
    }
}
