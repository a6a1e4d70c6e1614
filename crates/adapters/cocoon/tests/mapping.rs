//! The Cocoon mappings against payloads shaped like the vendor's documents: the seed's example
//! answer of `…/statistics/plans` verbatim (`statistics-plans.json`), the same with the prose's
//! `item` member, and answers built from the field lists of dialects.md §3 (plans,
//! organisations, statistics, a token answer whose JWT starts like the seed's example).

use orgway_cocoon::map;
use orgway_cocoon::wire::{List, Organisation, StorageStatistics, TokenAnswer, UserStatistics};
use orgway_core::{ErrorKind, ListQuery, Page, Unit};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn items(name: &str) -> Vec<Value> {
    let list: List = serde_json::from_value(fixture(name)).unwrap();
    map::items("share", "a list", list).unwrap()
}

#[test]
fn the_seeds_plans_in_bytes_with_assignees() {
    let plans = map::plans(
        "share",
        &items("statistics-plans.json"),
        &items("plans.json"),
        false,
    )
    .unwrap();
    assert_eq!(plans.len(), 2);
    let temp = &plans[0];
    assert_eq!(temp.id, "756753535244587008");
    assert_eq!(temp.name.as_deref(), Some("Temporary Staff Originators"));
    assert_eq!(temp.quotas.len(), 1);
    assert_eq!(
        (
            temp.quotas[0].resource.as_str(),
            temp.quotas[0].limit,
            temp.quotas[0].unit
        ),
        ("storage", Some(4096 * 1_048_576), Unit::Bytes),
        "4096 MiB as bytes"
    );
    let staff = &plans[1];
    assert_eq!(staff.quotas[0].limit, Some(10_737_418_240));
    assert_eq!(
        (staff.is_default, staff.description.as_deref()),
        (Some(true), Some("10 GiB for each staff member"))
    );
    // docs/API.md's plan example is exactly this plan.
    let a = staff.assignees.as_ref().unwrap();
    assert_eq!(
        (a.total, a.within_quota, a.unused, a.over_quota),
        (1, 1, 0, 0)
    );
    assert_eq!(temp.assignees.as_ref().unwrap().total, 0);

    // With raw records, each plan carries the two it was made from.
    let raw = map::plans(
        "share",
        &items("statistics-plans.json"),
        &items("plans.json"),
        true,
    )
    .unwrap();
    let r = raw[1].raw.as_ref().unwrap();
    assert_eq!(r["statistics"]["quota"], "10240");
    assert_eq!(r["plan"]["isDefault"], true);

    let page = Page::window(
        plans,
        &ListQuery {
            limit: 1,
            ..ListQuery::first()
        },
    );
    assert_eq!((page.items.len(), page.total), (1, Some(2)));
}

#[test]
fn item_and_items_are_both_read() {
    let from_item = items("statistics-plans-item.json");
    assert_eq!(from_item.len(), 1);
    assert_eq!(from_item[0], items("statistics-plans.json")[0]);
}

#[test]
fn a_quota_that_is_not_digits_names_the_field() {
    let mut stats = items("statistics-plans.json");
    stats[1]["quota"] = Value::from("12x");
    let e = map::plans("share", &stats, &items("plans.json"), false).unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadResponse);
    assert_eq!(
        e.message,
        "share sent \"12x\" as `quota` of plan 749419742544326656, which is not a whole number (a string of digits)"
    );
    let mut list = fixture("statistics-plans.json");
    list["offset"] = Value::from("zero");
    let list: List = serde_json::from_value(list).unwrap();
    let e = map::items("share", "a plan statistics list", list).unwrap_err();
    assert!(
        e.message.contains("`offset` of a plan statistics list"),
        "{}",
        e.message
    );
    let mut stats = items("statistics-plans.json");
    stats[0]["originatorsCount"] = Value::from("one");
    let e = map::plans("share", &stats, &[], false).unwrap_err();
    assert!(
        e.message
            .contains("`originatorsCount` of plan 756753535244587008")
    );
}

#[test]
fn organisations() {
    let v = fixture("organisation.json");
    let w: Organisation = serde_json::from_value(v.clone()).unwrap();
    let org = map::org_from_wire("share", &w, Some(v.clone())).unwrap();
    assert_eq!(org.native_id, "749418071827214336");
    assert_eq!(org.name.as_deref(), Some("Another Org."));
    assert_eq!(org.description, None, "an empty description is none");
    assert_eq!(
        (org.status, org.created_at, org.plan.as_ref()),
        (None, None, None)
    );
    assert_eq!(org.raw, Some(v));

    let all: Vec<_> = items("organisations.json")
        .iter()
        .map(|v| {
            let w: Organisation = serde_json::from_value(v.clone()).unwrap();
            map::org_from_wire("share", &w, None).unwrap()
        })
        .collect();
    assert_eq!(all[1].native_id, "761104938213687296");
    assert_eq!(
        all[1].description.as_deref(),
        Some("Research and development")
    );
}

#[test]
fn usage_from_the_statistics() {
    let storage: StorageStatistics =
        serde_json::from_value(fixture("statistics-storage.json")).unwrap();
    let users: UserStatistics = serde_json::from_value(fixture("statistics-users.json")).unwrap();
    let u = map::usage("share", &storage, &users, None).unwrap();
    let get = |m: &str| {
        u.metrics
            .iter()
            .find(|x| x.metric == m)
            .map(|x| (x.value, x.unit))
    };
    assert_eq!(
        get("storage"),
        Some((734_003_200, Unit::Bytes)),
        "bytes as sent"
    );
    assert_eq!(
        get("storage-allocated"),
        Some((2_094_080 * 1_048_576, Unit::Bytes)),
        "MiB as bytes"
    );
    assert_eq!(get("storage-required"), Some((10_737_418_240, Unit::Bytes)));
    assert_eq!(get("originators"), Some((1, Unit::Count)));
    assert_eq!(get("collaborators"), Some((4, Unit::Count)));
    assert_eq!(get("organisation-admins"), Some((1, Unit::Count)));

    // Figures not sent are not reported; a page with none of them is not what it was taken for.
    let some = map::usage(
        "share",
        &StorageStatistics {
            used_storage: storage.used_storage.clone(),
            ..StorageStatistics::default()
        },
        &UserStatistics {
            collaborator_count: users.collaborator_count.clone(),
            ..UserStatistics::default()
        },
        None,
    )
    .unwrap();
    let names: Vec<&str> = some.metrics.iter().map(|m| m.metric.as_str()).collect();
    assert_eq!(names, ["storage", "collaborators"]);
    let none = map::usage(
        "share",
        &StorageStatistics::default(),
        &UserStatistics::default(),
        None,
    )
    .unwrap_err();
    assert_eq!(none.kind, orgway_core::ErrorKind::BadResponse);
}

#[test]
fn token_answers() {
    let t: TokenAnswer = serde_json::from_value(fixture("token.json")).unwrap();
    let issued = map::issued("share", &t, 0).unwrap();
    assert_eq!(issued.lifetime, Some(std::time::Duration::from_secs(299)));
    assert!(issued.refresh_token.is_some());
    assert_eq!(map::jwt_exp(&issued.access_token), Some(1_467_016_666));
}
