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
        let t = OffsetDateTime::now_utc();
        Self::from_offset(t).unwrap_or(Timestamp(t))
    }

    /// Converts to UTC at millisecond precision, or `None` when the instant in UTC falls
    /// outside the years 1–9999 (`9999-12-31T23:30:00-01:00` is in year 10000 in UTC).
    fn from_offset(t: OffsetDateTime) -> Option<Self> {
        // Keep millisecond precision: no vendor we speak to is finer, and it keeps the printed
        // form stable across parse/print round trips.
        let t = t.checked_to_offset(UtcOffset::UTC)?;
        if !(1..=9999).contains(&t.year()) {
            return None;
        }
        let ms = t.millisecond();
        Some(Timestamp(
            t.replace_nanosecond(u32::from(ms) * 1_000_000).unwrap_or(t),
        ))
    }

    /// Reads RFC 3339 (any offset; converted to UTC). Instants outside the years 1–9999 in UTC
    /// are refused, never a panic.
    pub fn parse_rfc3339(s: &str) -> Result<Self, TimestampError> {
        let t = OffsetDateTime::parse(s, &Rfc3339)
            .map_err(|_| TimestampError(format!("`{}` is not an RFC 3339 timestamp", short(s))))?;
        Self::from_offset(t).ok_or_else(|| {
            TimestampError(format!(
                "`{}` is outside the years 1 to 9999 in UTC",
                short(s)
            ))
        })
    }

    /// Reads either RFC 3339 or a count of milliseconds since the epoch (a string of digits),
    /// the two forms docs/API.md accepts for `from` and `to`.
    pub fn parse_api(s: &str) -> Result<Self, TimestampError> {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            let ms: i64 = s.parse().map_err(|_| {
                TimestampError(format!(
                    "`{}` is too large for milliseconds since the epoch",
                    short(s)
                ))
            })?;
            return Self::from_unix_millis(ms);
        }
        Self::parse_rfc3339(s).map_err(|e| {
            if OffsetDateTime::parse(s, &Rfc3339).is_ok() {
                e
            } else {
                // `+02:00` written into a query unencoded arrives as ` 02:00`.
                let hint = if s.contains(' ') {
                    " (a `+` in a query string reads as a space: write it `%2B`)"
                } else {
                    ""
                };
                TimestampError(format!(
                    "`{}` is neither an RFC 3339 timestamp nor milliseconds since the epoch{hint}",
                    short(s)
                ))
            }
        })
    }

    /// From milliseconds since the epoch.
    pub fn from_unix_millis(ms: i64) -> Result<Self, TimestampError> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .ok()
            .and_then(Self::from_offset)
            .ok_or_else(|| TimestampError(format!("{ms} ms since the epoch is out of range")))
    }

    /// From whole seconds since the epoch.
    pub fn from_unix_seconds(s: i64) -> Result<Self, TimestampError> {
        OffsetDateTime::from_unix_timestamp(s)
            .ok()
            .and_then(Self::from_offset)
            .ok_or_else(|| TimestampError(format!("{s} s since the epoch is out of range")))
    }

    /// From a calendar date at midnight UTC.
    pub fn from_date(year: i32, month: u8, day: u8) -> Result<Self, TimestampError> {
        let not_a_date = || TimestampError(format!("{year:04}-{month:02}-{day:02} is not a date"));
        let m = Month::try_from(month).map_err(|_| not_a_date())?;
        let date = Date::from_calendar_date(year, m, day).map_err(|_| not_a_date())?;
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

/// A caller's or vendor's text cut to a length fit for an error message.
fn short(s: &str) -> String {
    crate::text::excerpt(s, 64)
}

impl Timestamp {
    /// Writes the RFC 3339 form (`2024-05-01T12:00:00Z`, or `…:00.250Z` with milliseconds) into
    /// `buf` and returns it, without the formatting machinery: timestamps are in every answer.
    /// `None` for a year outside 0000–9999, which `Display` writes the slow way.
    fn rfc3339<'a>(&self, buf: &'a mut [u8; 24]) -> Option<&'a str> {
        let (year, month, day) = self.0.to_calendar_date();
        let (hour, minute, second, ms) = self.0.to_hms_milli();
        let year = u16::try_from(year).ok().filter(|y| *y <= 9999)?;
        fn two(b: &mut [u8], v: u8) {
            b[0] = b'0' + v / 10;
            b[1] = b'0' + v % 10;
        }
        buf[0] = b'0' + (year / 1000) as u8;
        buf[1] = b'0' + (year / 100 % 10) as u8;
        two(&mut buf[2..4], (year % 100) as u8);
        buf[4] = b'-';
        two(&mut buf[5..7], u8::from(month));
        buf[7] = b'-';
        two(&mut buf[8..10], day);
        buf[10] = b'T';
        two(&mut buf[11..13], hour);
        buf[13] = b':';
        two(&mut buf[14..16], minute);
        buf[16] = b':';
        two(&mut buf[17..19], second);
        let end = if ms == 0 {
            19
        } else {
            buf[19] = b'.';
            buf[20] = b'0' + (ms / 100) as u8;
            two(&mut buf[21..23], (ms % 100) as u8);
            23
        };
        buf[end] = b'Z';
        std::str::from_utf8(&buf[..=end]).ok()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = self.rfc3339(&mut [0; 24]) {
            return f.write_str(s);
        }
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
        match self.rfc3339(&mut [0; 24]) {
            Some(text) => s.serialize_str(text),
            None => s.collect_str(self),
        }
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
    fn the_quick_form_is_the_formatted_one() {
        // Years 1 to 9999, every millisecond pattern: the digits written by hand match the
        // formatter's, as text and as JSON.
        let mut ms = -62_135_596_800_000i64; // 0001-01-01T00:00:00Z
        while ms < 253_402_300_799_000 {
            let t = Timestamp::from_unix_millis(ms).unwrap();
            let (y, mo, d) = t.0.to_calendar_date();
            let (h, mi, sec, milli) = t.0.to_hms_milli();
            let mut want = format!("{y:04}-{:02}-{d:02}T{h:02}:{mi:02}:{sec:02}", u8::from(mo));
            if milli != 0 {
                want.push_str(&format!(".{milli:03}"));
            }
            want.push('Z');
            assert_eq!(t.to_string(), want);
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{want}\""));
            ms += 7_919_993_317_007; // about 92 days, and never a whole second
            ms += if ms % 3 == 0 {
                3_000 - ms.rem_euclid(1000)
            } else {
                0
            };
        }
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
        // An offset's `+` sent unencoded in a query arrives as a space: the message says so.
        let e = Timestamp::parse_api("2016-06-13T06:00:00 02:00").unwrap_err();
        assert!(e.to_string().contains("write it `%2B`"), "{e}");
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
    fn out_of_range_instants_are_errors_not_panics() {
        for s in [
            "9999-12-31T23:30:00-01:00",
            "0001-01-01T00:30:00+01:00",
            "0000-01-01T00:00:00Z",
        ] {
            assert!(Timestamp::parse_rfc3339(s).is_err(), "{s}");
            let e = Timestamp::parse_api(s).unwrap_err().to_string();
            assert!(e.contains("outside the years"), "{s}: {e}");
        }
        assert!(Timestamp::parse_rfc3339("9999-12-31T22:30:00-01:00").is_ok());
        assert!(Timestamp::from_unix_millis(i64::MAX).is_err());
        assert!(Timestamp::from_unix_millis(i64::MIN).is_err());
        assert!(Timestamp::from_unix_seconds(i64::MAX).is_err());
        let long = "9".repeat(5000);
        let e = Timestamp::parse_api(&long).unwrap_err().to_string();
        assert!(e.len() < 200, "bad values are truncated in messages: {e}");
    }

    /// A small deterministic generator (xorshift), so the property test needs no extra crate
    /// and fails the same way every run.
    struct Gen(u64);

    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
            from[(self.next() % from.len() as u64) as usize]
        }

        fn digits(&mut self, n: usize) -> String {
            (0..n)
                .map(|_| char::from(b'0' + (self.next() % 10) as u8))
                .collect()
        }
    }

    /// Random RFC 3339 strings (valid, edge-of-range and malformed) and epoch strings: parsing
    /// never panics, and whatever parses survives the arithmetic the gateway and adapters do.
    #[test]
    fn parsing_never_panics() {
        let mut g = Gen(0x9e37_79b9_7f4a_7c15);
        for _ in 0..50_000 {
            let (d4, d5) = (g.digits(4), g.digits(5));
            let (n1, n2) = ((g.next() % 25) as usize, (g.next() % 20) as usize);
            let s = match g.next() % 4 {
                0 => format!(
                    "{}-{}-{}T{}:{}:{}{}{}",
                    g.pick(&["0000", "0001", "1970", "2024", "9999", &d4, &d5]),
                    g.digits(2),
                    g.digits(2),
                    g.digits(2),
                    g.digits(2),
                    g.digits(2),
                    g.pick(&["", ".5", ".999999999", ".", ".0000000000001"]),
                    g.pick(&[
                        "Z", "z", "+00:00", "-23:59", "+23:59", "-01:00", "+14:00", "", "+24:00",
                        "-00:60"
                    ]),
                ),
                1 => g.digits(n1),
                2 => format!("-{}", g.digits(n2)),
                _ => {
                    let mut b: Vec<u8> = "2024-02-29T23:59:60.123+01:00".bytes().collect();
                    let i = (g.next() % b.len() as u64) as usize;
                    b[i] = (g.next() % 128) as u8;
                    String::from_utf8_lossy(&b).into_owned()
                }
            };
            if let Ok(t) = Timestamp::parse_api(&s) {
                let _ = (
                    t.unix_millis(),
                    t.unix_seconds(),
                    t.date_string(),
                    t.to_string(),
                );
                let _ = (t.floor_hour(), t.floor_day(), t.floor_month());
                let _ = (t.add_millis(i64::MAX), t.add_millis(i64::MIN));
                let _ = t.millis_since(&Timestamp::EPOCH);
                let _ = crate::TimeRange::with_defaults(Some(t), None, Timestamp::now());
                let _ = crate::TimeRange::with_defaults(None, Some(t), Timestamp::now());
                assert_eq!(Timestamp::parse_rfc3339(&t.to_string()), Ok(t), "{s}");
            }
        }
    }

    #[test]
    fn seconds_and_dates() {
        let t = Timestamp::from_unix_seconds(1_465_790_400).unwrap();
        assert_eq!(t.to_string(), "2016-06-13T04:00:00Z");
        assert_eq!(
            Timestamp::from_date(2024, 2, 29).unwrap().to_string(),
            "2024-02-29T00:00:00Z"
        );
        assert_eq!(
            Timestamp::from_date(2023, 2, 29).unwrap_err().to_string(),
            "2023-02-29 is not a date"
        );
        assert_eq!(
            Timestamp::from_date(2023, 13, 1).unwrap_err().to_string(),
            "2023-13-01 is not a date"
        );
    }
}
