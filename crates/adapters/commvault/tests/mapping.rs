//! The Commvault mappings against payloads shaped like the vendor's documented examples
//! (dialects.md §2.3; the seed's PUT Organization answer).

use orgway_commvault::error::body_error;
use orgway_commvault::map;
use orgway_commvault::wire::{OrganizationInfoEnvelope, PlanList, Provider, Providers};
use orgway_core::{ListQuery, OrgStatus, Page, Unit};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn organization_details() {
    let v = fixture("organization.json");
    let env: OrganizationInfoEnvelope = serde_json::from_value(v.clone()).unwrap();
    let info = env.organization_info.unwrap();
    let org = map::org_from_info("commvault", &info, Some(v.clone())).unwrap();
    assert_eq!(org.native_id, "7");
    assert_eq!(org.name.as_deref(), Some("Acme"));
    assert_eq!(org.description, None);
    assert_eq!(org.status, Some(OrgStatus::Active));
    assert_eq!(
        org.created_at.unwrap().to_string(),
        "2016-06-13T04:00:00Z",
        "epoch seconds"
    );
    let plan = org.plan.unwrap();
    assert_eq!(
        (plan.id.as_deref(), plan.name.as_deref()),
        (Some("3"), Some("Laptop plan"))
    );
    assert_eq!(
        (org.counts.users, org.counts.machines, org.counts.servers),
        (Some(2), Some(5), Some(1))
    );
    assert_eq!(org.counts.devices, None);
    assert_eq!(org.raw, Some(v));
}

#[test]
fn plans_with_defaults() {
    let v = fixture("organization.json");
    let env: OrganizationInfoEnvelope = serde_json::from_value(v.clone()).unwrap();
    let info = env.organization_info.unwrap();
    let plans = map::plans_from_info(&info, None);
    assert_eq!(plans.len(), 2);
    assert_eq!(
        (plans[0].id.as_str(), plans[0].is_default),
        ("3", Some(true))
    );
    assert_eq!(
        (
            plans[1].id.as_str(),
            plans[1].name.as_deref(),
            plans[1].is_default
        ),
        ("5", Some("Server plan"), Some(false))
    );
    assert!(
        plans[0].quotas.is_empty() && plans[0].assignees.is_none(),
        "commvault plans carry no quotas"
    );
    let with_raw = map::plans_from_info(&info, Some(&v));
    assert_eq!(
        with_raw[1].raw.as_ref().unwrap()["plan"]["planName"],
        "Server plan"
    );

    let page = Page::window(
        plans,
        &ListQuery {
            limit: 1,
            ..ListQuery::first()
        },
    );
    assert_eq!((page.items.len(), page.total), (1, Some(2)));
    assert_eq!(page.next, Some(orgway_core::Cursor::Offset(1)));
}

#[test]
fn usage_counters() {
    let env: OrganizationInfoEnvelope =
        serde_json::from_value(fixture("organization.json")).unwrap();
    let u = map::usage_from_info(&env.organization_info.unwrap(), None);
    let get = |m: &str| {
        u.metrics
            .iter()
            .find(|x| x.metric == m)
            .map(|x| (x.value, x.unit))
    };
    assert_eq!(get("users"), Some((2, Unit::Count)));
    assert_eq!(get("machines"), Some((5, Unit::Count)));
    assert_eq!(get("servers"), Some((1, Unit::Count)));
    assert_eq!(get("physical-devices"), Some((4, Unit::Count)));
    assert_eq!(get("plans"), Some((2, Unit::Count)));
}

#[test]
fn organization_list() {
    let list: Providers = serde_json::from_value(fixture("providers.json")).unwrap();
    assert_eq!(list.filter_query_count, Some(9));
    let orgs: Vec<_> = list
        .providers
        .iter()
        .map(|p| {
            map::org_from_provider(
                "commvault",
                &serde_json::from_value::<Provider>(p.clone()).unwrap(),
                None,
            )
            .unwrap()
        })
        .collect();
    assert_eq!(orgs[0].native_id, "7");
    assert_eq!(
        orgs[1].native_id, "12",
        "ids written as strings read the same"
    );
    assert_eq!(orgs[1].status, Some(OrgStatus::Disabled));
    assert_eq!(orgs[1].description.as_deref(), Some("reseller"));
}

#[test]
fn commcell_plans_resolve_by_id_or_name() {
    let list: PlanList = serde_json::from_value(fixture("plans.json")).unwrap();
    let keys = map::plan_keys(&list.plans);
    assert_eq!(
        map::find_plan("8", &keys).unwrap().1.as_deref(),
        Some("Gold backup")
    );
    assert_eq!(
        map::find_plan("Gold backup", &keys).unwrap().0.as_deref(),
        Some("8")
    );
}

#[test]
fn the_seed_success_answer_is_no_error() {
    assert_eq!(body_error(&fixture("update-ok.json")), None);
}

#[test]
fn a_record_that_cannot_be_used_is_reported_under_the_backends_name() {
    let p: Provider = serde_json::from_value(serde_json::json!({ "connectName": "x" })).unwrap();
    let e = map::org_from_provider("cv-eu", &p, None).unwrap_err();
    assert_eq!(e.message, "cv-eu sent a provider without shortName.id");
}
