//! The Losant mappings against recorded-shape payloads. Each fixture is first checked against
//! the vendor's own JSON Schema (`losant/` of the vendor directory, see orgway-testkit), so the mappings are tested on
//! payloads the vendor could really send.

use std::path::PathBuf;

use orgway_core::series::{self, Aggregate};
use orgway_core::{
    ErrorKind, Interval, ListQuery, Metric, OrgStatus, TimeRange, Timestamp, Unit, UsagePoint,
};
use orgway_losant::map;
use orgway_losant::wire::{
    DeviceCounts, InstanceOrg, InstanceOrgs, NotebookMinuteCounts, PayloadCountsBreakdown,
    PayloadStats,
};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// Loads a fixture after checking it against the vendor schema of the same shape, when the
/// vendor's schemas are at hand (see orgway-testkit: skipped with a notice otherwise, required
/// in CI).
fn checked(fixture_name: &str, schema_name: &str) -> Value {
    let what = format!("checking fixture {fixture_name} against the vendor schema {schema_name}");
    let Some(schema_path) = orgway_testkit::vendor_file(&format!("losant/{schema_name}"), &what)
    else {
        return fixture(fixture_name);
    };
    let schema: Value = serde_json::from_slice(
        &std::fs::read(&schema_path)
            .unwrap_or_else(|e| panic!("vendor schema {}: {e}", schema_path.display())),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let value = fixture(fixture_name);
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "{fixture_name} violates {schema_name}: {errors:?}"
    );
    value
}

fn ts(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

#[test]
fn org_maps_every_field_it_knows() {
    let v = checked("instanceOrg.json", "instanceOrg.json");
    let w: InstanceOrg = serde_json::from_value(v.clone()).unwrap();
    let org = map::org_from_wire("losant", w, Some(v.clone())).unwrap();
    assert_eq!(org.native_id, "575ed6e87ae143cd83dc4aa8");
    assert_eq!(org.name.as_deref(), Some("Example Org"));
    assert_eq!(
        org.description, None,
        "an empty description is no description"
    );
    assert_eq!(org.status, Some(OrgStatus::Active));
    assert_eq!(org.parent_native_id, None);
    assert_eq!(
        org.plan.as_ref().and_then(|p| p.id.as_deref()),
        Some("sandbox")
    );
    assert_eq!(org.created_at, Some(ts("2016-06-13T04:00:00Z")));
    assert_eq!(org.updated_at.unwrap().to_string(), "2016-06-14T10:30:00Z");
    assert_eq!(org.counts.devices, Some(41));
    assert_eq!(org.counts.members, Some(3));
    assert_eq!(org.counts.applications, Some(3));
    assert_eq!(org.counts.dashboards, Some(4));
    assert_eq!(org.counts.flows, Some(12));
    assert_eq!(org.counts.storage_bytes, Some(123456));
    assert_eq!(org.counts.users, None);
    assert_eq!(org.raw, Some(v));
}

#[test]
fn disabled_orgs_and_list_pages() {
    let v = checked("instanceOrgs.json", "instanceOrgs.json");
    let w: InstanceOrgs = serde_json::from_value(v).unwrap();
    let query = ListQuery {
        limit: 2,
        ..ListQuery::first()
    };
    let req = map::page_request(0, 2);
    let page = map::orgs_page("losant", vec![w], &req, &query, false).unwrap();
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.total, Some(5));
    assert_eq!(page.next, Some(orgway_core::Cursor::Offset(2)));
    assert_eq!(page.items[0].status, Some(OrgStatus::Disabled));
    assert_eq!(page.items[0].counts, orgway_core::Counts::default());
    assert_eq!(page.items[1].description.as_deref(), Some("second"));
    assert_eq!(page.items[1].counts.devices, Some(5));
    assert!(page.items[0].raw.is_none());
}

#[test]
fn straddling_windows_are_stitched() {
    // Offset 1, limit 2: Losant pages of 2 are [a b] [c d]; the window is [b c].
    let page = |ids: &[&str], n: u64| InstanceOrgs {
        items: ids
            .iter()
            .map(|i| serde_json::json!({"id": format!("{i:0>24}"), "name": i}))
            .collect(),
        count: Some(ids.len() as u64),
        total_count: Some(4),
        per_page: Some(2),
        page: Some(n),
    };
    let query = ListQuery {
        limit: 2,
        cursor: Some(orgway_core::Cursor::Offset(1)),
        sort: None,
    };
    let req = map::page_request(1, 2);
    let out = map::orgs_page(
        "losant",
        vec![page(&["a", "b"], 0), page(&["c", "d"], 1)],
        &req,
        &query,
        false,
    )
    .unwrap();
    let names: Vec<_> = out.items.iter().map(|o| o.name.clone().unwrap()).collect();
    assert_eq!(names, ["b", "c"]);
    assert_eq!(out.next, Some(orgway_core::Cursor::Offset(3)));
}

#[test]
fn usage_summary_from_org() {
    let v = checked("instanceOrg.json", "instanceOrg.json");
    let w: InstanceOrg = serde_json::from_value(v).unwrap();
    let usage = map::usage_from_org("losant", &w, None).unwrap();
    let get = |m: &str| usage.metrics.iter().find(|x| x.metric == m).cloned();
    assert_eq!(get("devices").unwrap().value, 41);
    let storage = get("storage").unwrap();
    assert_eq!((storage.value, storage.unit), (123456, Unit::Bytes));
    let minutes = get("notebook-minutes").unwrap();
    assert_eq!((minutes.value, minutes.unit), (42, Unit::Minutes));
    assert_eq!(get("payloads").unwrap().value, 1244);
    assert_eq!(get("members").unwrap().value, 3);
}

#[test]
fn device_series_by_day_and_total() {
    let v = checked("deviceCounts.json", "deviceCounts.json");
    let w: DeviceCounts = serde_json::from_value(v).unwrap();
    let from = ts("2016-06-13T00:00:00Z");
    let to = ts("2016-06-15T00:00:00Z");
    let points = series::group(
        map::device_buckets("losant", &w).unwrap(),
        Interval::Day,
        Aggregate::Last,
        TimeRange::new(from, ts("2016-06-15T00:00:00Z")).unwrap(),
    );
    let s = series::build(
        Metric::Devices,
        Unit::Count,
        Interval::Day,
        TimeRange::new(from, to).unwrap(),
        points,
        Aggregate::Last,
        None,
    );
    assert_eq!(s.points.len(), 2);
    assert_eq!(s.points[0].at.to_string(), "2016-06-13T00:00:00Z");
    assert_eq!(s.points[0].value, 41);
    let d = s.points[0].detail.as_ref().unwrap();
    assert_eq!((d["created"], d["deleted"]), (2, 0));
    assert_eq!(s.points[1].at.to_string(), "2016-06-14T00:00:00Z");
    assert_eq!(s.total, None, "device totals are a gauge: no sum");

    let total = series::group(
        map::device_buckets("losant", &w).unwrap(),
        Interval::Total,
        Aggregate::Last,
        TimeRange::new(from, ts("2016-06-15T00:00:00Z")).unwrap(),
    );
    assert_eq!(total.len(), 1);
    assert_eq!(total[0].value, 39, "the last total of the range");
    let d = total[0].detail.as_ref().unwrap();
    assert_eq!((d["created"], d["deleted"]), (3, 3));
}

#[test]
fn notebook_minutes_sum() {
    let v = checked("notebookMinuteCounts.json", "notebookMinuteCounts.json");
    let w: NotebookMinuteCounts = serde_json::from_value(v).unwrap();
    let from = ts("2016-06-13T00:00:00Z");
    let points = series::group(
        map::notebook_buckets("losant", &w).unwrap(),
        Interval::Day,
        Aggregate::Sum,
        TimeRange::new(from, ts("2016-06-15T00:00:00Z")).unwrap(),
    );
    let s = series::build(
        Metric::NotebookMinutes,
        Unit::Minutes,
        Interval::Day,
        TimeRange::new(from, ts("2016-06-15T00:00:00Z")).unwrap(),
        points,
        Aggregate::Sum,
        None,
    );
    assert_eq!(s.total, Some(17));
    assert_eq!(s.points[0].detail.as_ref().unwrap()["errored"], 1);
}

#[test]
fn payload_breakdown_by_hour() {
    let v = checked("payloadCountsBreakdown.json", "payloadCountsBreakdown.json");
    let w: PayloadCountsBreakdown = serde_json::from_value(v).unwrap();
    let from = ts("2016-06-13T00:00:00Z");
    let points = series::group(
        map::payload_buckets("losant", &w).unwrap(),
        Interval::Hour,
        Aggregate::Sum,
        TimeRange::new(from, ts("2016-06-15T00:00:00Z")).unwrap(),
    );
    assert_eq!(
        points
            .iter()
            .map(|p| (p.at.to_string(), p.value))
            .collect::<Vec<_>>(),
        [
            ("2016-06-13T00:00:00Z".to_owned(), 120),
            ("2016-06-13T01:00:00Z".to_owned(), 80),
            ("2016-06-13T02:00:00Z".to_owned(), 0)
        ]
    );
}

#[test]
fn payload_total_has_per_type_detail() {
    let v = checked("payloadStats.json", "payloadStats.json");
    let w: PayloadStats = serde_json::from_value(v).unwrap();
    let from = ts("2016-06-13T00:00:00Z");
    let p: UsagePoint = map::payload_total_point("losant", &w, from).unwrap();
    assert_eq!(p.value, 1244);
    assert_eq!(p.at, from);
    let d = p.detail.unwrap();
    assert_eq!(d["mqttIn"], 1200);
    assert_eq!(d["deviceState"], 40, "sources of one type add up");
    assert_eq!(d["webhook"], 4);
}

#[test]
fn errors_keep_the_vendor_message_for_callers_faults() {
    let v = checked("error.json", "error.json");
    let e = orgway_losant::error::from_status("iot-prod", 404, v.to_string().as_bytes());
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert!(e.message.contains("Organization was not found"));
}

#[test]
fn bad_vendor_dates_are_bad_responses() {
    let w: InstanceOrg = serde_json::from_value(serde_json::json!({
        "id": "575ed6e87ae143cd83dc4aa8", "name": "x", "creationDate": "yesterday"
    }))
    .unwrap();
    // The message names the backend as the routing file does, not the vendor.
    let e = map::org_from_wire("iot-eu", w, None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadResponse);
    assert_eq!(
        e.message,
        "iot-eu sent `yesterday` in `creationDate`, which is not a date-time"
    );
    let w: InstanceOrg =
        serde_json::from_value(serde_json::json!({ "id": "not-an-id", "name": "x" })).unwrap();
    let e = map::org_from_wire("iot-eu", w, None).unwrap_err();
    assert!(
        e.message
            .starts_with("iot-eu sent an org id it cannot use: `not-an-id` is not a Losant org id"),
        "{}",
        e.message
    );
}
