//! Deterministic usage series for one org: device counts, notebook minutes and payload counts,
//! per whole UTC day (or hour), shaped like the vendor's `deviceCounts`, `notebookMinuteCounts`,
//! `payloadCountsBreakdown` and `payloadStats` schemas.
//!
//! Every bucket's numbers are a pure function of the org (its id, creation date and size) and
//! the bucket's start, drawn from SplitMix64, so the same org and range always give the same
//! answer and overlapping ranges agree on the buckets they share. The series ignore "now": a
//! bucket in the future gets numbers like any other (a simplification the docs do not rule on).
//!
//! Plausibility rules:
//! - nothing happens before the day the org was created, and activity ramps up over its first
//!   120 days;
//! - the device total follows `total(d) = total(d-1) + created(d) - deleted(d)` exactly and
//!   stays within about 2 % of the org's `deviceCount` once ramped up;
//! - a day's payloads are split over its 24 hours with a diurnal curve and largest-remainder
//!   rounding, so hourly values sum to the daily value exactly;
//! - sizes (`asBytes=true`) are counts times a per-day average payload size (140..500 bytes);
//! - non-billable payloads are 4..12 % on top of the billable ones, so `includeNonBillable=true`
//!   never gives less than the billable count.

use serde_json::{Map, Value, json};

use super::clock::{DAY_MS, HOUR_MS, floor_to, iso};
use super::error::ApiError;

/// The most buckets one answer holds (27 years of days, about 14 months of hours).
pub(crate) const MAX_BUCKETS: i64 = 10_000;
/// How long an org takes to reach its full size.
const RAMP_MS: i64 = 120 * DAY_MS;

// Salts keep the independent draws for one bucket apart.
const SALT_DEVICES: u64 = 0xD1;
const SALT_CHURN: u64 = 0xC4;
const SALT_RUNS: u64 = 0x0B1;
const SALT_ERRORED: u64 = 0x0B2;
const SALT_TIMEOUT: u64 = 0x0B3;
const SALT_CANCELED: u64 = 0x0B4;
const SALT_MINUTES: u64 = 0x0B5;
const SALT_PAYLOADS: u64 = 0xA1;
const SALT_NON_BILLABLE: u64 = 0xA2;
const SALT_SIZE: u64 = 0xA3;
const SALT_HOURS: u64 = 0xA4;
const SALT_MIX: u64 = 0xA5;

/// Payload types (the `payloadStats` schema's keys), the sources each one is counted under, and
/// the share of traffic each pair has, in thousandths, before per-org variation. The schema
/// leaves the inner keys open ("by type and source"); these source names are this simulator's
/// reading.
const PAYLOAD_MIX: &[(&str, &str, u64)] = &[
    ("deviceState", "mqtt", 520),
    ("deviceState", "rest", 70),
    ("deviceState", "flow", 35),
    ("mqttIn", "mqtt", 140),
    ("mqttOut", "mqtt", 45),
    ("deviceConnect", "mqtt", 8),
    ("deviceDisconnect", "mqtt", 8),
    ("deviceCommand", "flow", 25),
    ("deviceCommand", "rest", 5),
    ("deviceCreate", "rest", 1),
    ("webhook", "webhook", 30),
    ("endpoint", "experience", 35),
    ("timer", "flow", 50),
    ("event", "flow", 6),
    ("event", "rest", 2),
    ("virtualButton", "flow", 1),
    ("dataTable", "flow", 9),
    ("integration", "mqtt", 5),
    ("inboundEmail", "email", 1),
    ("flowError", "flow", 2),
    ("notebook", "notebook", 1),
    ("resourceJob", "flow", 1),
    ("appFile", "rest", 1),
];

/// A time range in milliseconds, `start` inclusive, `end` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Range {
    pub(crate) start: i64,
    pub(crate) end: i64,
}

impl Range {
    /// The starts of the buckets of width `step` that cover the range: from the bucket holding
    /// `start` to the one holding the last millisecond before `end`.
    pub(crate) fn buckets(&self, step: i64) -> Result<Vec<i64>, ApiError> {
        let first = floor_to(self.start, step);
        let n = (self.end - first + step - 1) / step;
        if n > MAX_BUCKETS {
            return Err(ApiError::validation(format!(
                "time range is too long: it would return {n} buckets, the most is {MAX_BUCKETS}"
            )));
        }
        Ok((0..n).map(|i| first + i * step).collect())
    }
}

/// What the series need to know about an org.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Profile {
    /// The org id (lowercase), the seed of every draw.
    pub(crate) id: String,
    pub(crate) created_ms: i64,
    /// `summary.deviceCount`: where the device total settles.
    pub(crate) devices: i64,
    /// `summary.notebookCount`: no notebooks, no notebook minutes.
    pub(crate) notebooks: i64,
    /// Billable payloads on an average weekday once ramped up.
    pub(crate) payloads_per_day: i64,
}

/// One day of device counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DeviceDay {
    pub(crate) created: i64,
    pub(crate) deleted: i64,
    pub(crate) total: i64,
}

/// One day of notebook executions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotebookDay {
    pub(crate) minutes: i64,
    pub(crate) completed: i64,
    pub(crate) canceled: i64,
    pub(crate) errored: i64,
    pub(crate) timeout: i64,
}

/// One day of payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PayloadDay {
    pub(crate) billable: i64,
    pub(crate) non_billable: i64,
    /// Average payload size that day, in bytes.
    pub(crate) size: i64,
}

/// What a `payloadCountsBreakdown` bucket counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BreakdownOptions {
    pub(crate) resolution: i64,
    pub(crate) as_bytes: bool,
    pub(crate) include_non_billable: bool,
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a over the id, so the seed does not depend on the id's case.
fn seed_of(id: &str) -> u64 {
    id.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// `value * fraction`, rounded, for the small non-negative quantities used here.
fn scale(value: i64, fraction: f64) -> i64 {
    (value as f64 * fraction).round() as i64
}

impl Profile {
    /// A uniform draw in `[0, 1)` for (salt, t).
    fn unit(&self, salt: u64, t: i64) -> f64 {
        let h = splitmix64(splitmix64(seed_of(&self.id) ^ splitmix64(salt)) ^ (t as u64));
        (h >> 11) as f64 / (1u64 << 53) as f64
    }

    /// How far the org has grown by the end of the day starting at `day`: 0 before it existed,
    /// 1 from 120 days on.
    fn ramp(&self, day: i64) -> f64 {
        let age = day + DAY_MS - self.created_ms;
        if age <= 0 {
            0.0
        } else {
            (age as f64 / RAMP_MS as f64).min(1.0)
        }
    }

    fn device_total(&self, day: i64) -> i64 {
        let ramp = self.ramp(day);
        if ramp == 0.0 || self.devices <= 0 {
            return 0;
        }
        let wobble = 1.0 + 0.04 * (self.unit(SALT_DEVICES, day) - 0.5);
        scale(self.devices, ramp * wobble).max(0)
    }

    /// Device counts for the day starting at `day`.
    pub(crate) fn device_day(&self, day: i64) -> DeviceDay {
        let total = self.device_total(day);
        let before = self.device_total(day - DAY_MS);
        // Some devices come and go on the same day without changing the total.
        let churn = (total as f64 * 0.01 * self.unit(SALT_CHURN, day)).floor() as i64;
        let delta = total - before;
        DeviceDay {
            created: delta.max(0) + churn,
            deleted: (-delta).max(0) + churn,
            total,
        }
    }

    /// Notebook executions for the day starting at `day`.
    pub(crate) fn notebook_day(&self, day: i64) -> NotebookDay {
        let ramp = self.ramp(day);
        if ramp == 0.0 || self.notebooks <= 0 {
            return NotebookDay {
                minutes: 0,
                completed: 0,
                canceled: 0,
                errored: 0,
                timeout: 0,
            };
        }
        let runs = scale(self.notebooks, 1.5 * ramp * self.unit(SALT_RUNS, day));
        let errored = scale(runs, 0.08 * self.unit(SALT_ERRORED, day));
        let timeout = scale(runs, 0.03 * self.unit(SALT_TIMEOUT, day));
        let canceled = scale(runs, 0.04 * self.unit(SALT_CANCELED, day));
        let completed = runs - errored - timeout - canceled;
        // A completed run takes 2..12 minutes, a timed-out one hits a 15-minute limit, the
        // others stop within the first minute.
        let per_run = 2.0 + 10.0 * self.unit(SALT_MINUTES, day);
        let minutes = scale(completed, per_run) + timeout * 15 + errored + canceled;
        NotebookDay {
            minutes,
            completed,
            canceled,
            errored,
            timeout,
        }
    }

    /// Payloads for the day starting at `day`.
    pub(crate) fn payload_day(&self, day: i64) -> PayloadDay {
        let ramp = self.ramp(day);
        if ramp == 0.0 || self.payloads_per_day <= 0 {
            return PayloadDay {
                billable: 0,
                non_billable: 0,
                size: 0,
            };
        }
        // 1970-01-01 was a Thursday: (days + 4) % 7 is 0 on Sundays.
        let weekday = (day / DAY_MS + 4).rem_euclid(7);
        let weekly = if weekday == 0 || weekday == 6 {
            0.75
        } else {
            1.0
        };
        let noise = 0.85 + 0.3 * self.unit(SALT_PAYLOADS, day);
        let billable = scale(self.payloads_per_day, ramp * weekly * noise);
        let non_billable = scale(billable, 0.04 + 0.08 * self.unit(SALT_NON_BILLABLE, day));
        let size = 140 + (360.0 * self.unit(SALT_SIZE, day)) as i64;
        PayloadDay {
            billable,
            non_billable,
            size,
        }
    }

    /// The weights a day's payloads are spread over its hours with: busier in the working day,
    /// with some per-hour noise.
    fn hour_weights(&self, day: i64) -> [u64; 24] {
        let mut weights = [0u64; 24];
        for (h, w) in weights.iter_mut().enumerate() {
            let angle = std::f64::consts::TAU * (h as f64 - 8.0) / 24.0;
            let diurnal = 1.0 + 0.45 * angle.sin();
            let noise = 0.8 + 0.4 * self.unit(SALT_HOURS, day + h as i64 * HOUR_MS);
            *w = (1000.0 * diurnal * noise).round() as u64;
        }
        weights
    }

    /// One day's value split over its 24 hours.
    fn split_day(&self, day: i64, value: i64) -> [i64; 24] {
        let weights = self.hour_weights(day);
        let mut out = [0i64; 24];
        for (o, v) in out.iter_mut().zip(split(value, &weights)) {
            *o = v;
        }
        out
    }

    /// `deviceCounts`: one bucket per day.
    pub(crate) fn device_counts(&self, range: Range) -> Result<Value, ApiError> {
        let counts: Vec<Value> = range
            .buckets(DAY_MS)?
            .into_iter()
            .map(|day| {
                let d = self.device_day(day);
                json!({ "date": iso(day), "created": d.created, "deleted": d.deleted, "total": d.total })
            })
            .collect();
        Ok(json!({ "start": iso(range.start), "end": iso(range.end), "counts": counts }))
    }

    /// `notebookMinuteCounts`: one bucket per day.
    pub(crate) fn notebook_minute_counts(&self, range: Range) -> Result<Value, ApiError> {
        let counts: Vec<Value> = range
            .buckets(DAY_MS)?
            .into_iter()
            .map(|day| {
                let n = self.notebook_day(day);
                json!({
                    "date": iso(day),
                    "minutes": n.minutes,
                    "completed": n.completed,
                    "canceled": n.canceled,
                    "errored": n.errored,
                    "timeout": n.timeout,
                })
            })
            .collect();
        Ok(json!({ "start": iso(range.start), "end": iso(range.end), "counts": counts }))
    }

    /// The value of one breakdown bucket for a day's numbers (or one hour's share of them).
    fn breakdown_value(
        day: &PayloadDay,
        billable: i64,
        non_billable: i64,
        o: BreakdownOptions,
    ) -> i64 {
        let count = if o.include_non_billable {
            billable + non_billable
        } else {
            billable
        };
        if o.as_bytes { count * day.size } else { count }
    }

    /// `payloadCountsBreakdown`: one bucket per day or per hour.
    pub(crate) fn payload_breakdown(
        &self,
        range: Range,
        o: BreakdownOptions,
    ) -> Result<Value, ApiError> {
        let buckets = range.buckets(o.resolution)?;
        let mut counts = Vec::with_capacity(buckets.len());
        // Hourly buckets reuse their day's split; the cache holds the last day computed.
        let mut cached: Option<(i64, PayloadDay, [i64; 24], [i64; 24])> = None;
        for t in buckets {
            let day = floor_to(t, DAY_MS);
            let value = if o.resolution == DAY_MS {
                let p = self.payload_day(day);
                Self::breakdown_value(&p, p.billable, p.non_billable, o)
            } else {
                let (p, billable, non_billable) = match &cached {
                    Some((d, p, b, n)) if *d == day => (*p, *b, *n),
                    _ => {
                        let p = self.payload_day(day);
                        let b = self.split_day(day, p.billable);
                        let n = self.split_day(day, p.non_billable);
                        cached = Some((day, p, b, n));
                        (p, b, n)
                    }
                };
                let h = ((t - day) / HOUR_MS) as usize;
                Self::breakdown_value(&p, billable[h % 24], non_billable[h % 24], o)
            };
            counts.push(json!({ "date": iso(t), "value": value }));
        }
        Ok(json!({ "start": iso(range.start), "end": iso(range.end), "counts": counts }))
    }

    /// `payloadStats`: the billable payloads of the days covering the range, by type and source.
    pub(crate) fn payload_stats(&self, range: Range, as_bytes: bool) -> Result<Value, ApiError> {
        let total: i64 = range
            .buckets(DAY_MS)?
            .into_iter()
            .map(|day| {
                let p = self.payload_day(day);
                if as_bytes {
                    p.billable * p.size
                } else {
                    p.billable
                }
            })
            .sum();
        let weights: Vec<u64> = PAYLOAD_MIX
            .iter()
            .enumerate()
            .map(|(i, (_, _, w))| {
                let variation = 0.5 + self.unit(SALT_MIX, i as i64);
                (*w as f64 * 1000.0 * variation).round() as u64
            })
            .collect();
        let mut stats = Map::new();
        for ((kind, source, _), n) in PAYLOAD_MIX.iter().zip(split(total, &weights)) {
            let entry = stats
                .entry((*kind).to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(sources) = entry {
                sources.insert((*source).to_owned(), json!(n));
            }
        }
        Ok(Value::Object(stats))
    }
}

/// Splits `value` into parts proportional to `weights`, rounding so the parts sum to `value`
/// exactly (largest remainder; ties go to the earlier part).
pub(crate) fn split(value: i64, weights: &[u64]) -> Vec<i64> {
    let value = value.max(0);
    let total: u128 = weights.iter().map(|w| u128::from(*w)).sum();
    if total == 0 || weights.is_empty() {
        let mut out = vec![0; weights.len()];
        if let Some(first) = out.first_mut() {
            *first = value;
        }
        return out;
    }
    let v = value as u128;
    let mut parts: Vec<i64> = Vec::with_capacity(weights.len());
    let mut remainders: Vec<(u128, usize)> = Vec::with_capacity(weights.len());
    for (i, w) in weights.iter().enumerate() {
        let share = v * u128::from(*w);
        parts.push((share / total) as i64);
        remainders.push((share % total, i));
    }
    let assigned: i64 = parts.iter().sum();
    let mut left = value - assigned;
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in remainders {
        if left <= 0 {
            break;
        }
        if let Some(p) = parts.get_mut(i) {
            *p += 1;
            left -= 1;
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    const JUNE_13_2016: i64 = 1_465_776_000_000;

    fn profile() -> Profile {
        Profile {
            id: "575ed6e87ae143cd83dc4aa8".to_owned(),
            created_ms: JUNE_13_2016 - 400 * DAY_MS,
            devices: 400,
            notebooks: 6,
            payloads_per_day: 90_000,
        }
    }

    #[test]
    fn split_sums_exactly() {
        let parts = split(1001, &[1, 1, 1]);
        assert_eq!(parts.iter().sum::<i64>(), 1001);
        assert_eq!(parts, vec![334, 334, 333]);
        assert_eq!(split(5, &[0, 0]), vec![5, 0]);
    }

    #[test]
    fn device_totals_chain() {
        let p = profile();
        for i in 0..60 {
            let day = JUNE_13_2016 + i * DAY_MS;
            let d = p.device_day(day);
            let before = p.device_day(day - DAY_MS);
            assert_eq!(d.total, before.total + d.created - d.deleted);
            assert!(
                (d.total - 400).abs() <= 10,
                "total {} too far from 400",
                d.total
            );
        }
    }

    #[test]
    fn nothing_before_creation() {
        let mut p = profile();
        p.created_ms = JUNE_13_2016 + 10 * DAY_MS;
        assert_eq!(p.device_day(JUNE_13_2016).total, 0);
        assert_eq!(p.payload_day(JUNE_13_2016).billable, 0);
        assert_eq!(p.notebook_day(JUNE_13_2016).minutes, 0);
    }

    #[test]
    fn hours_sum_to_the_day() {
        let p = profile();
        let day = JUNE_13_2016;
        let whole = p.payload_day(day);
        let hours = p.split_day(day, whole.billable);
        assert_eq!(hours.iter().sum::<i64>(), whole.billable);
    }

    #[test]
    fn bucket_counts_cover_the_range() {
        let r = Range {
            start: JUNE_13_2016,
            end: JUNE_13_2016 + 3 * DAY_MS,
        };
        assert_eq!(r.buckets(DAY_MS).map(|b| b.len()), Ok(3));
        assert_eq!(r.buckets(HOUR_MS).map(|b| b.len()), Ok(72));
        let ragged = Range {
            start: JUNE_13_2016 + 5,
            end: JUNE_13_2016 + DAY_MS + 5,
        };
        assert_eq!(ragged.buckets(DAY_MS).map(|b| b.len()), Ok(2));
    }

    #[test]
    fn stats_total_matches_breakdown() {
        let p = profile();
        let r = Range {
            start: JUNE_13_2016,
            end: JUNE_13_2016 + 7 * DAY_MS,
        };
        let stats = p.payload_stats(r, false).map_err(|e| e.message);
        let stats_total: f64 = stats
            .iter()
            .flat_map(|s| s.as_object().into_iter().flat_map(|m| m.values()))
            .flat_map(|sources| sources.as_object().into_iter().flat_map(|m| m.values()))
            .filter_map(Value::as_f64)
            .sum();
        let days: i64 = (0..7)
            .map(|i| p.payload_day(JUNE_13_2016 + i * DAY_MS).billable)
            .sum();
        assert_eq!(stats_total as i64, days);
    }
}
