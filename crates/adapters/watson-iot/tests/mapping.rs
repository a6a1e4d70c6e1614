//! The Watson IoT mappings against payloads shaped like the vendor's documents: the View
//! Organization document's own example (`organization.json`, its YAML-ish print made JSON), the
//! 2019 swagger's spellings (`organization-swagger.json`), an org from outside Bluemix, the
//! `DataTraffic` answer with and without `days`, active devices, and the error sample wiotp-sdk
//! keeps in `exceptions.py` (`error-invalid.json`). The vendor publishes no JSON Schema to check
//! them against.

use std::path::PathBuf;

use orgway_core::series::{self, Aggregate};
use orgway_core::{ErrorKind, Interval, Metric, OrgStatus, TimeRange, Timestamp, Unit};
use orgway_watson_iot::wire::{Organization, UsageFigures};
use orgway_watson_iot::{error, map};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn org(name: &str) -> Organization {
    serde_json::from_value(fixture(name)).unwrap()
}

fn ts(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

#[test]
fn the_documents_example_org() {
    let raw = fixture("organization.json");
    let o = map::org_from_wire(
        "watson",
        "ab8de4",
        org("organization.json"),
        Some(raw.clone()),
    )
    .unwrap();
    assert_eq!(o.native_id, "ab8de4");
    assert_eq!(o.name.as_deref(), Some("My organization"));
    assert_eq!(o.description, None);
    assert_eq!(o.status, Some(OrgStatus::Active));
    assert_eq!(o.parent_native_id, None);
    let plan = o.plan.unwrap();
    assert_eq!(plan.id.as_deref(), Some("iotf-service-bronze-id"));
    assert_eq!(plan.name.as_deref(), Some("Bluemix Free"));
    assert_eq!(
        o.created_at,
        Some(ts("2015-04-08T11:23:23Z")),
        "+00:00 read as UTC"
    );
    assert_eq!(o.updated_at, Some(ts("2015-04-08T11:23:23Z")));
    assert_eq!(o.counts, Default::default(), "no counters in this record");
    assert_eq!(o.raw, Some(raw), "the record untouched");
}

#[test]
fn the_swaggers_spelling_and_a_disabled_org() {
    let o = map::org_from_wire("watson", "abc123", org("organization-swagger.json"), None).unwrap();
    assert_eq!(o.status, Some(OrgStatus::Disabled));
    let plan = o.plan.unwrap();
    assert_eq!(
        plan.id.as_deref(),
        Some("iotf-service-gold-id"),
        "bluemix.plan"
    );
    assert_eq!(plan.name.as_deref(), Some("Bluemix Gold"));
    assert_eq!(o.created_at.unwrap().to_string(), "2018-02-11T09:30:00Z");
    assert_eq!(o.updated_at, Some(ts("2023-06-01T14:05:10Z")));
}

#[test]
fn an_org_outside_bluemix_is_on_its_tier() {
    let o = map::org_from_wire("watson", "xyz789", org("organization-plain.json"), None).unwrap();
    let plan = o.plan.unwrap();
    assert_eq!(plan.id.as_deref(), Some("Subscription"));
    assert_eq!(plan.name.as_deref(), Some("Subscription"));
    // Nothing known, nothing made up.
    let bare: Organization = serde_json::from_value(serde_json::json!({"id": "xyz789"})).unwrap();
    let o = map::org_from_wire("watson", "xyz789", bare, None).unwrap();
    assert_eq!(
        (o.status, o.plan, o.name, o.created_at),
        (None, None, None, None)
    );
}

#[test]
fn an_answer_about_another_org_or_with_bad_fields_is_refused() {
    let e = map::org_from_wire("watson", "abc123", org("organization.json"), None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadResponse);
    assert_eq!(
        e.message,
        "watson answered with org ab8de4 when asked for org abc123"
    );
    let mut v = fixture("organization.json");
    v["created"] = "last tuesday".into();
    let e = map::org_from_wire("watson", "ab8de4", serde_json::from_value(v).unwrap(), None)
        .unwrap_err();
    assert!(e.message.contains("`created`"), "{}", e.message);
    let no_id: Organization = serde_json::from_value(serde_json::json!({"name": "x"})).unwrap();
    let e = map::org_from_wire("watson", "ab8de4", no_id, None).unwrap_err();
    assert!(
        e.message
            .starts_with("watson sent an organization without an id")
    );
    let bad_id: Organization =
        serde_json::from_value(serde_json::json!({"id": "no such id!", "name": "x"})).unwrap();
    let e = map::org_from_wire("watson", "ab8de4", bad_id, None).unwrap_err();
    assert!(
        e.message.starts_with(
            "watson sent an org id it cannot use: `no such id!` is not a Watson IoT org id"
        ),
        "{}",
        e.message
    );
    // A field of the wrong type does not parse at all.
    let mut v = fixture("organization.json");
    v["enabled"] = "yes".into();
    assert!(serde_json::from_value::<Organization>(v).is_err());
}

#[test]
fn data_traffic_per_day_in_bytes_trimmed_to_the_range() {
    let w: UsageFigures = serde_json::from_value(fixture("data-traffic.json")).unwrap();
    let buckets = map::traffic_buckets("watson", &w).unwrap();
    assert_eq!(buckets.len(), 4);
    assert_eq!(buckets[0].at, ts("2024-01-30T00:00:00Z"));
    assert_eq!(buckets[0].value, 1_000_000, "1000 kB is 1 000 000 bytes");

    // [30 Jan, 2 Feb): the vendor's whole days include 2 Feb, which the range does not.
    let range = TimeRange::new(ts("2024-01-30T00:00:00Z"), ts("2024-02-02T00:00:00Z")).unwrap();
    assert_eq!(
        map::usage_dates(range),
        ("2024-01-30".into(), "2024-02-01".into())
    );
    let days = series::group(buckets.clone(), Interval::Day, Aggregate::Sum, range);
    let values: Vec<u64> = days.iter().map(|p| p.value).collect();
    assert_eq!(values, [1_000_000, 2_000_000, 3_000_000]);
    let s = series::build(
        Metric::DataTraffic,
        Unit::Bytes,
        Interval::Day,
        range,
        days,
        Aggregate::Sum,
        None,
    );
    assert_eq!(s.total, Some(6_000_000));

    let range = TimeRange::new(ts("2024-01-30T00:00:00Z"), ts("2024-02-03T00:00:00Z")).unwrap();
    let months = series::group(buckets, Interval::Month, Aggregate::Sum, range);
    assert_eq!(months.len(), 2);
    assert_eq!(months[0].at, ts("2024-01-01T00:00:00Z"));
    assert_eq!(months[0].value, 3_000_000);
    assert_eq!(months[1].value, 7_000_000);
}

#[test]
fn usage_without_days_or_with_bad_days_is_a_bad_response() {
    let w: UsageFigures = serde_json::from_value(fixture("data-traffic-summary.json")).unwrap();
    assert!(w.days.is_none(), "`days: null` reads as no days");
    let e = map::traffic_buckets("watson", &w).unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadResponse);
    assert!(e.message.contains("`days`"), "{}", e.message);

    let mut v = fixture("data-traffic.json");
    v["days"][1]["date"] = "2024-01-31T00:00:00Z".into();
    let w: UsageFigures = serde_json::from_value(v).unwrap();
    let e = map::traffic_buckets("watson", &w).unwrap_err();
    assert!(e.message.contains("days[].date"), "{}", e.message);

    let mut v = fixture("data-traffic.json");
    v["days"][0]["total"] = (-5).into();
    assert!(serde_json::from_value::<UsageFigures>(v).is_err());
}

#[test]
fn active_devices_per_day() {
    let w: UsageFigures = serde_json::from_value(fixture("active-devices.json")).unwrap();
    let buckets = map::device_buckets("watson", &w).unwrap();
    let values: Vec<u64> = buckets.iter().map(|b| b.value).collect();
    assert_eq!(values, [27, 31, 29], "counts, not scaled");
}

#[test]
fn the_vendors_error_sample() {
    let body = serde_json::to_vec(&fixture("error-invalid.json")).unwrap();
    let e = error::from_status("watson", 400, &body);
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    assert_eq!(e.backend_status, Some(400));
    assert!(
        e.message.starts_with(
            "watson refused the request: CUDRS0007E: The request was not valid. Review the constraint violations provided; CUDRS0012E: The severity field"
        ),
        "{}",
        e.message
    );
    assert!(
        e.message.ends_with("equal to or less than 2"),
        "no closing period: {}",
        e.message
    );
}
