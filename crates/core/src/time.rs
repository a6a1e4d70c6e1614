//! `Timestamp`: an instant in UTC, written as RFC 3339 (`2016-06-13T04:00:00Z`) everywhere orgway
//! speaks JSON, and convertible to the encodings vendors use (milliseconds or seconds since the epoch).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::{Date, Duration, Month, OffsetDateTime, Time, UtcOffset};

/// An instant, always held in UTC.
///
/// It prints as RFC 3339 with a `Z` suffix; sub-second digits appear only when the instant has
/// them (milliseconds), so a whole-second instant prints exactly like docs/API.md's examples.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

/// Why a text could not be read as a timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TimestampError(String);

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp(OffsetDateTime::UNIX_EPOCH);

    /// The current instant (reads the system clock; the only impure function of this module).
    pub fn now() -> Self {
        Self::from_offset(OffsetDateTime::now_utc())
    }

    fn from_offset(t: OffsetDateTime) -> Self {
        // Keep millisecond precision: no vendor we speak to is finer, and it keeps the printed
        // form stable across parse/print round trips.
        let t = t.to_offset(UtcOffset::UTC);
        let ms = t.millisecond();
        Timestamp(t.replace_nanosecond(u32::from(ms) * 1_000_000).unwrap_or(t))
    }

    /// Reads RFC 3339 (any offset; converted to UTC).
    pub fn parse_rfc3339(s: &str) -> Result<Self, TimestampError> {
        OffsetDateTime::parse(s, &Rfc3339)
            .map(Self::from_offset)
            .map_err(|_| TimestampError(format!("`{s}` is not an RFC 3339 timestamp")))
    }

    /// Reads either RFC 3339 or a count of milliseconds since the epoch (a string of digits),
    /// the two forms docs/API.md accepts for `from` and `to`.
    pub fn parse_api(s: &str) -> Result<Self, TimestampError> {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            let ms: i64 = s.parse().map_err(|_| {
                TimestampError(format!(
                    "`{s}` is too large for milliseconds since the epoch"
                ))
            })?;
            return Self::from_unix_millis(ms);
        }
        Self::parse_rfc3339(s).map_err(|_| {
            TimestampError(format!(
                "`{s}` is neither an RFC 3339 timestamp nor milliseconds since the epoch"
            ))
        })
    }

    /// From milliseconds since the epoch.
    pub fn from_unix_millis(ms: i64) -> Result<Self, TimestampError> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .map(Self::from_offset)
            .map_err(|_| TimestampError(format!("{ms} ms since the epoch is out of range")))
    }

    /// From whole seconds since the epoch.
    pub fn from_unix_seconds(s: i64) -> Result<Self, TimestampError> {
        OffsetDateTime::from_unix_timestamp(s)
            .map(Self::from_offset)
            .map_err(|_| TimestampError(format!("{s} s since the epoch is out of range")))
    }

    /// From a calendar date at midnight UTC.
    pub fn from_date(year: i32, month: u8, day: u8) -> Result<Self, TimestampError> {
        let month = Month::try_from(month).map_err(|_| TimestampError("bad month".into()))?;
        let date = Date::from_calendar_date(year, month, day)
            .map_err(|_| TimestampError(format!("{year}-{month}-{day} is not a date")))?;
        Ok(Timestamp(date.with_time(Time::MIDNIGHT).assume_utc()))
    }

    /// Milliseconds since the epoch.
    pub fn unix_millis(&self) -> i64 {
        (self.0.unix_timestamp_nanos() / 1_000_000) as i64
    }

    /// Whole seconds since the epoch.
    pub fn unix_seconds(&self) -> i64 {
        self.0.unix_timestamp()
    }

    /// The calendar date, `YYYY-MM-DD`.
    pub fn date_string(&self) -> String {
        let d = self.0.date();
        format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
    }

    /// This instant plus a number of milliseconds (which may be negative), saturating at the
    /// representable range.
    pub fn add_millis(&self, ms: i64) -> Self {
        Timestamp(
            self.0
                .checked_add(Duration::milliseconds(ms))
                .unwrap_or(if ms < 0 {
                    OffsetDateTime::UNIX_EPOCH
                } else {
                    self.0
                }),
        )
    }

    /// Milliseconds from `earlier` to `self`.
    pub fn millis_since(&self, earlier: &Timestamp) -> i64 {
        (self.0 - earlier.0).whole_milliseconds() as i64
    }

    /// The start of this instant's hour.
    pub fn floor_hour(&self) -> Self {
        let t = self.0;
        Timestamp(t.replace_time(Time::from_hms(t.hour(), 0, 0).unwrap_or(Time::MIDNIGHT)))
    }

    /// Midnight UTC of this instant's day.
    pub fn floor_day(&self) -> Self {
        Timestamp(self.0.replace_time(Time::MIDNIGHT))
    }

    /// Midnight UTC of the first day of this instant's month.
    pub fn floor_month(&self) -> Self {
        let d = self.0.date();
        let first = d.replace_day(1).unwrap_or(d);
        Timestamp(first.with_time(Time::MIDNIGHT).assume_utc())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        let d = t.date();
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            d.year(),
            u8::from(d.month()),
            d.day(),
            t.hour(),
            t.minute(),
            t.second()
        )?;
        let ms = t.millisecond();
        if ms != 0 {
            write!(f, ".{ms:03}")?;
        }
        f.write_str("Z")
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Timestamp::parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_whole_seconds_without_fraction() {
        let t = Timestamp::parse_rfc3339("2016-06-13T04:00:00.000Z").unwrap();
        assert_eq!(t.to_string(), "2016-06-13T04:00:00Z");
    }

    #[test]
    fn keeps_milliseconds_and_converts_offsets() {
        let t = Timestamp::parse_rfc3339("2016-06-13T06:00:00.250+02:00").unwrap();
        assert_eq!(t.to_string(), "2016-06-13T04:00:00.250Z");
    }

    #[test]
    fn api_accepts_millis_and_rfc3339() {
        let a = Timestamp::parse_api("1465790400000").unwrap();
        let b = Timestamp::parse_api("2016-06-13T04:00:00Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.unix_millis(), 1_465_790_400_000);
        assert!(Timestamp::parse_api("yesterday").is_err());
        assert!(Timestamp::parse_api("").is_err());
        assert!(Timestamp::parse_api("99999999999999999999999").is_err());
    }

    #[test]
    fn floors() {
        let t = Timestamp::parse_rfc3339("2016-06-13T04:35:12.5Z").unwrap();
        assert_eq!(t.floor_hour().to_string(), "2016-06-13T04:00:00Z");
        assert_eq!(t.floor_day().to_string(), "2016-06-13T00:00:00Z");
        assert_eq!(t.floor_month().to_string(), "2016-06-01T00:00:00Z");
        assert_eq!(t.date_string(), "2016-06-13");
    }

    #[test]
    fn seconds_and_dates() {
        let t = Timestamp::from_unix_seconds(1_465_790_400).unwrap();
        assert_eq!(t.to_string(), "2016-06-13T04:00:00Z");
        assert_eq!(
            Timestamp::from_date(2024, 2, 29).unwrap().to_string(),
            "2024-02-29T00:00:00Z"
        );
        assert!(Timestamp::from_date(2023, 2, 29).is_err());
    }
}
