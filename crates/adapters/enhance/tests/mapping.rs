//! The Enhance mappings against payloads shaped like the vendor's documented examples
//! (dialects.md §4.4, the seed's wire examples). Each fixture is first checked against its
//! schema in the vendor's OpenAPI document (`enhance/orchd-openapi.yml` of the vendor directory,
//! see orgway-testkit: skipped with a notice when absent, required in CI), so the mappings are
//! tested on payloads the vendor could really send.

use std::path::PathBuf;

use orgway_core::series::{self, Aggregate};
use orgway_core::{
    Cursor, CustomerFilter, ErrorKind, Interval, ListQuery, OrgStatus, Sort, SortField, TimeRange,
    Timestamp, Unit,
};
use orgway_enhance::map;
use orgway_enhance::wire::{self, Listing, NewResourceId, NewResourceUuid};
use serde_json::{Value, json};

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// The vendor's `components`, when the document is at hand.
fn components() -> Option<Value> {
    static DOC: std::sync::OnceLock<Option<Value>> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        let text = orgway_testkit::vendor_text(
            "enhance/orchd-openapi.yml",
            "checking the Enhance fixtures against orchd-openapi.yml",
        )?;
        let doc: Value = serde_norway::from_str(&text).expect("the OpenAPI document parses");
        Some(doc["components"].clone())
    })
    .clone()
}

/// Loads a fixture after checking it against the document's schema `schema_name`.
fn checked(fixture_name: &str, schema_name: &str) -> Value {
    let value = fixture(fixture_name);
    let Some(components) = components() else {
        return value;
    };
    assert!(
        components["schemas"].get(schema_name).is_some(),
        "the document has no schema {schema_name}"
    );
    let root = json!({
        "$ref": format!("#/components/schemas/{schema_name}"),
        "components": components,
    });
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .should_ignore_unknown_formats(true)
        .build(&root)
        .unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("{e} at {}", e.instance_path()))
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
fn an_org_maps_every_field_it_knows() {
    let v = checked("org.json", "Org");
    let w: wire::Org = serde_json::from_value(v.clone()).unwrap();
    let org = map::org_from_wire("hosting", w, Some(v.clone())).unwrap();
    assert_eq!(org.native_id, "3fa85f64-5717-4562-b3fc-2c963f66afa6");
    assert_eq!(org.name.as_deref(), Some("Acme"));
    assert_eq!(org.status, Some(OrgStatus::Active));
    assert_eq!(
        org.parent_native_id.as_deref(),
        Some("11111111-1111-1111-1111-111111111111")
    );
    assert_eq!(org.created_at, Some(ts("2025-05-08T10:00:00Z")));
    assert_eq!(
        (org.description, org.updated_at, org.plan),
        (None, None, None)
    );
    assert_eq!(
        (org.counts.subscriptions, org.counts.websites),
        (Some(1), Some(0))
    );
    assert_eq!(org.counts.devices, None);
    assert_eq!(org.raw, Some(v));
}

#[test]
fn customers_suspended_deleted_and_odd_dates() {
    let v = checked("customers.json", "CustomersListing");
    let listing: Listing = serde_json::from_value(v).unwrap();
    assert_eq!(listing.total, Some(7));
    let orgs: Vec<_> = listing
        .items
        .into_iter()
        .map(|i| map::org_from_wire("hosting", serde_json::from_value(i).unwrap(), None).unwrap())
        .collect();
    assert_eq!(
        orgs.iter().map(|o| o.status).collect::<Vec<_>>(),
        [
            Some(OrgStatus::Active),
            Some(OrgStatus::Suspended),
            Some(OrgStatus::Deleted)
        ],
        "suspension is a non-null suspendedBy"
    );
    assert_eq!(
        orgs[1].native_id, "7c9e6679-7425-40de-944b-e07fc1f90ae7",
        "ids are canonical"
    );
    assert_eq!(
        orgs[1].created_at,
        Some(ts("2025-05-09T08:30:00Z")),
        "a date-time without a zone is UTC"
    );
    assert_eq!(orgs[2].parent_native_id, None);

    let broken = |patch: Value| {
        let mut o = fixture("org.json");
        for (k, v) in patch.as_object().unwrap() {
            o[k] = v.clone();
        }
        let w: wire::Org = serde_json::from_value(o).unwrap();
        map::org_from_wire("hosting", w, None).unwrap_err()
    };
    let e = broken(json!({"createdAt": "last tuesday"}));
    assert_eq!(e.kind, ErrorKind::BadResponse);
    assert!(e.message.contains("createdAt"), "{}", e.message);
    assert!(
        broken(json!({"status": "paused"}))
            .message
            .contains("status")
    );
    assert!(broken(json!({"id": "42"})).message.contains("`id`"));
    assert!(
        broken(json!({"parentId": "x"}))
            .message
            .contains("parentId")
    );
}

#[test]
fn the_customer_query_maps_paging_sorting_and_filters() {
    let q = ListQuery {
        limit: 10,
        cursor: Some(Cursor::Offset(20)),
        sort: Sort::parse("-name"),
    };
    let filter = CustomerFilter {
        status: Some(OrgStatus::Suspended),
        recursive: true,
        max_depth: Some(2),
    };
    let params: Vec<(&str, String)> = map::customer_params(&q, &filter);
    let text: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    assert_eq!(
        text,
        [
            "offset=20",
            "limit=10",
            "sortBy=name",
            "sortOrder=desc",
            "recursive=true",
            "maxDepth=2",
            "status=suspended"
        ]
    );
    let plain = map::customer_params(
        &ListQuery {
            sort: Sort::parse("status"),
            ..ListQuery::first()
        },
        &CustomerFilter {
            max_depth: Some(3),
            ..CustomerFilter::default()
        },
    );
    assert_eq!(
        plain,
        [("offset", "0".to_owned()), ("limit", "50".to_owned())],
        "no native status sort; maxDepth only with recursive"
    );
    assert!(map::CUSTOMER_SORTS.contains(&SortField::CreatedAt));
}

#[test]
fn subscriptions_carry_their_resource_usage() {
    let v = checked("subscriptions.json", "SubscriptionsListing");
    let listing: Listing = serde_json::from_value(v).unwrap();
    let raw = listing.items[0].clone();
    let w: wire::Subscription = serde_json::from_value(raw.clone()).unwrap();
    let s = map::subscription_from_wire("hosting", w, Some(raw)).unwrap();
    assert_eq!(
        (s.id.as_str(), s.plan_id.as_deref(), s.plan_name.as_deref()),
        ("42", Some("5"), Some("Gold")),
        "integer ids as strings"
    );
    assert_eq!(
        s.subscriber_native_id.as_deref(),
        Some("3fa85f64-5717-4562-b3fc-2c963f66afa6")
    );
    assert_eq!(s.status, Some(OrgStatus::Active));
    let websites = &s.resources[0];
    assert_eq!(
        (
            websites.resource.as_str(),
            websites.used,
            websites.limit,
            websites.unit
        ),
        ("websites", 1, Some(10), Unit::Count)
    );
    let disk = &s.resources[1];
    assert_eq!(
        (disk.used, disk.limit, disk.unit),
        (123_456, None, Unit::Bytes),
        "no total: unlimited"
    );
    assert!(s.raw.is_some());
}

#[test]
fn usage_sums_the_orgs_own_live_subscriptions() {
    let v = checked("own-subscriptions.json", "SubscriptionsListing");
    let listing: Listing = serde_json::from_value(v).unwrap();
    let subs: Vec<wire::Subscription> = listing
        .items
        .into_iter()
        .map(|i| serde_json::from_value(i).unwrap())
        .collect();
    let u = map::usage_from_subscriptions(&subs, None);
    let got: Vec<(&str, u64, Unit)> = u
        .metrics
        .iter()
        .map(|m| (m.metric.as_str(), m.value, m.unit))
        .collect();
    assert_eq!(
        got,
        [
            ("websites", 7, Unit::Count),
            ("diskspace", 26_843_545_600, Unit::Bytes),
            ("mailboxes", 10, Unit::Count),
            ("transfer", 5000, Unit::Bytes),
        ],
        "the deleted subscription is left out"
    );
}

#[test]
fn plans_on_offer_have_quotas_with_unlimited_as_null() {
    let v = checked("plans.json", "PlansListing");
    let listing: Listing = serde_json::from_value(v).unwrap();
    let plans: Vec<_> = listing
        .items
        .into_iter()
        .map(|i| map::plan_from_wire(serde_json::from_value(i).unwrap(), None))
        .collect();
    let business = &plans[1];
    assert_eq!(
        (business.id.as_str(), business.name.as_deref()),
        ("3", Some("Business"))
    );
    let quotas: Vec<(&str, Option<u64>, Unit)> = business
        .quotas
        .iter()
        .map(|q| (q.resource.as_str(), q.limit, q.unit))
        .collect();
    assert_eq!(
        quotas,
        [
            ("websites", Some(5), Unit::Count),
            ("diskspace", Some(21_474_836_480), Unit::Bytes),
            ("mailboxes", None, Unit::Count)
        ]
    );
    assert_eq!(
        (business.assignees.clone(), business.is_default),
        (None, None)
    );
}

#[test]
fn customers_added_buckets_are_trimmed_to_the_half_open_range() {
    let v = checked("customers-added.json", "CustomersAddedStats");
    let stats: Vec<wire::ResourceCountByInterval> = serde_json::from_value(v).unwrap();
    let buckets = map::customer_buckets("hosting", &stats).unwrap();
    assert_eq!(buckets.len(), 4);
    let range = TimeRange::new(ts("2025-05-07T00:00:00Z"), ts("2025-05-09T00:00:00Z")).unwrap();
    let days = series::group(buckets.clone(), Interval::Day, Aggregate::Sum, range);
    assert_eq!(
        days.iter().map(|p| p.value).collect::<Vec<_>>(),
        [2, 1],
        "[from, to)"
    );
    let total = series::group(buckets, Interval::Total, Aggregate::Sum, range);
    assert_eq!((total.len(), total[0].value), (1, 3));
    assert_eq!(map::stats_interval(Interval::Total), "day");
    // Months too are summed from days, over the days inside the range.
    assert_eq!(map::stats_interval(Interval::Month), "day");

    let odd = |interval: &str, count: f64| wire::ResourceCountByInterval {
        interval: interval.into(),
        resource_count: count,
    };
    let b =
        map::customer_buckets("hosting", &[odd("2025-05", 3.0), odd("2025-04-30", 1.0)]).unwrap();
    assert_eq!(
        b.iter().map(|b| b.at.to_string()).collect::<Vec<_>>(),
        ["2025-04-30T00:00:00Z", "2025-05-01T00:00:00Z"],
        "dates and months read, in time order"
    );
    for (interval, count, field) in [
        ("soon", 1.0, "interval"),
        ("2025-05-01", 1.5, "resourceCount"),
        ("2025-05-01", -1.0, "resourceCount"),
    ] {
        let e = map::customer_buckets("hosting", &[odd(interval, count)]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadResponse);
        assert!(e.message.contains(field), "{}", e.message);
    }
}

#[test]
fn created_ids_and_logins_parse() {
    let v = checked("new-customer.json", "NewResourceUuid");
    let id: NewResourceUuid = serde_json::from_value(v).unwrap();
    assert!(map::is_uuid(&id.id));
    let v = checked("new-subscription.json", "NewResourceId");
    assert_eq!(serde_json::from_value::<NewResourceId>(v).unwrap().id, 42);
    checked("login.json", "LoginMemberships");
}

#[test]
fn requests_are_what_the_document_asks_for() {
    let Some(components) = components() else {
        return;
    };
    let valid = |schema: &str, v: &Value| {
        let root =
            json!({"$ref": format!("#/components/schemas/{schema}"), "components": components});
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_ignore_unknown_formats(true)
            .build(&root)
            .unwrap()
            .is_valid(v)
    };
    let sub = serde_json::to_value(wire::NewSubscription {
        plan_id: 5,
        friendly_name: Some("Gold"),
    })
    .unwrap();
    assert_eq!(sub, json!({"planId": 5, "friendlyName": "Gold"}));
    assert!(valid("NewSubscription", &sub));
    assert!(valid(
        "NewCustomer",
        &serde_json::to_value(wire::NewCustomer { name: "Acme" }).unwrap()
    ));
    let patch = map::patch_body(&orgway_core::OrgPatch {
        name: orgway_core::Patch::Set("Acme".into()),
        status: orgway_core::Patch::Set(OrgStatus::Active),
        ..Default::default()
    })
    .unwrap();
    assert!(valid("OrgUpdate", &serde_json::to_value(patch).unwrap()));
}
