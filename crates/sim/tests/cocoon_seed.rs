//! The Cocoon simulator against the seed, the vendor's `…/statistics/plans` page (its example
//! answer is kept verbatim in `fixtures/`): every answer of the endpoint has exactly the
//! members the seed lists, with the JSON types of its example (ids, quotas, `count` and
//! `offset` strings of digits, counters integers, the percentage a float), and the seed's
//! organisation answers exactly the seed's example.

mod common;

use std::net::SocketAddr;

use common::{Response, send};
use orgway_sim::cocoon::{
    CocoonConfig, CocoonSim, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_ORG_ID, DEMO_PASSWORD,
    DEMO_USERNAME, ListMember,
};
use serde_json::Value;

/// The seed's example answer, verbatim.
const EXAMPLE: &str = include_str!("fixtures/cocoon-statistics-plans-example.json");

/// The members of a plan the seed's prose lists, in its order.
const ITEM_MEMBERS: [&str; 8] = [
    "id",
    "name",
    "quota",
    "originatorsCount",
    "percentageOfAllOriginators",
    "unusedPlanQuotaOriginatorsCount",
    "usedPlanQuotaOriginatorsCount",
    "exceededPlanQuotaOriginatorsCount",
];

/// An access token from the password grant.
async fn token(addr: SocketAddr) -> String {
    use base64::Engine;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{DEMO_CLIENT_ID}:{DEMO_CLIENT_SECRET}"))
    );
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "password")
        .append_pair("username", DEMO_USERNAME)
        .append_pair("password", DEMO_PASSWORD)
        .finish();
    let r = send(
        addr,
        "POST",
        "/api/oauth/token",
        &[
            ("Authorization", &basic),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        Some(form.as_bytes()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["access_token"].as_str().unwrap().to_owned()
}

async fn get(addr: SocketAddr, token: &str, target: &str) -> Response {
    let auth = format!("Bearer {token}");
    send(addr, "GET", target, &[("Authorization", &auth)], None).await
}

fn digits(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
}

/// The kind of JSON value the example has at each member, checked against an answer's.
fn same_types(example: &Value, got: &Value, at: &str) {
    match (example, got) {
        (Value::String(e), Value::String(_)) if e.bytes().all(|b| b.is_ascii_digit()) => {
            assert!(
                digits(got),
                "{at}: a string of digits, as in the seed: {got}"
            );
        }
        (Value::String(_), Value::String(_)) => {}
        (Value::Number(e), Value::Number(g)) => {
            assert_eq!(e.is_f64(), g.is_f64(), "{at}: {got} (seed: {example})");
            if !e.is_f64() {
                assert!(g.is_u64(), "{at}: a non-negative integer: {got}");
            }
        }
        _ => panic!("{at}: {got} is not the seed's type ({example})"),
    }
}

/// Checks one `…/statistics/plans` answer against the seed's members and types.
fn check_answer(body: &Value, member: &str, what: &str) {
    let example: Value = serde_json::from_str(EXAMPLE).unwrap();
    let obj = body.as_object().unwrap();
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut expected = vec!["count", member, "offset"];
    expected.sort_unstable();
    assert_eq!(keys, expected, "{what}: {body}");
    same_types(&example["count"], &body["count"], &format!("{what}: count"));
    same_types(
        &example["offset"],
        &body["offset"],
        &format!("{what}: offset"),
    );
    let items = body[member].as_array().unwrap();
    assert_eq!(
        body["count"].as_str().unwrap(),
        items.len().to_string(),
        "{what}: count is the number of items returned, as in the example"
    );
    let model = &example["items"][1];
    for item in items {
        let mut keys: Vec<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let mut expected = ITEM_MEMBERS.to_vec();
        expected.sort_unstable();
        assert_eq!(keys, expected, "{what}: {item}");
        for m in ITEM_MEMBERS {
            same_types(&model[m], &item[m], &format!("{what}: {m}"));
        }
        let pct = item["percentageOfAllOriginators"].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&pct), "{what}: {item}");
    }
}

#[test]
fn the_fixture_is_the_seeds_example() {
    let example: Value = serde_json::from_str(EXAMPLE).unwrap();
    for item in example["items"].as_array().unwrap() {
        let keys: Vec<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut sorted = ITEM_MEMBERS.to_vec();
        sorted.sort_unstable();
        assert_eq!(keys, sorted, "the example has the prose's members");
    }
    assert_eq!(example["count"], "2");
}

#[tokio::test]
async fn the_seeds_organisation_answers_the_seeds_example() {
    let sim = CocoonSim::start(CocoonConfig::default()).await.unwrap();
    let addr = sim.server().addr();
    let t = token(addr).await;
    // The seed's own request, and the same without parameters.
    for target in [
        format!("/api/v1/organisations/{DEMO_ORG_ID}/statistics/plans?sortBy=name&orderBy=ASC"),
        format!("/api/v1/organisations/{DEMO_ORG_ID}/statistics/plans"),
    ] {
        let r = get(addr, &t, &target).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(
            r.header("content-type")
                .unwrap()
                .starts_with("application/json")
        );
        let example: Value = serde_json::from_str(EXAMPLE).unwrap();
        assert_eq!(r.json(), example, "{target}");
        // Floats are written as the seed writes them.
        assert!(r.text().contains(r#""percentageOfAllOriginators":100.0"#));
        assert!(r.text().contains(r#""percentageOfAllOriginators":0.0"#));
    }
}

#[tokio::test]
async fn every_plan_statistics_answer_has_the_seeds_members_and_types() {
    let sim = CocoonSim::start(CocoonConfig::default()).await.unwrap();
    let addr = sim.server().addr();
    let t = token(addr).await;
    for member in [ListMember::Items, ListMember::Item] {
        sim.set_list_member(member);
        let key = match member {
            ListMember::Items => "items",
            ListMember::Item => "item",
        };
        for org in sim.org_ids() {
            for q in [
                "",
                "?limit=2",
                "?limit=2&offset=1",
                "?offset=5",
                "?limit=0&offset=0",
                "?sortBy=QUOTA&orderBy=desc",
                "?sortBy=description",
            ] {
                let target = format!("/api/v1/organisations/{org}/statistics/plans{q}");
                let r = get(addr, &t, &target).await;
                assert_eq!(r.status, 200, "{target}: {}", r.text());
                check_answer(&r.json(), key, &target);
            }
        }
    }
}
