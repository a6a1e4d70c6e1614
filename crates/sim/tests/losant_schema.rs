//! The Losant simulator against the vendor's published JSON Schemas: every endpoint's success
//! and error bodies must validate, and the simulator's PATCH validation must agree with
//! `instanceOrgPatch.json` body by body.

mod common;

use common::{Client, assert_valid, schema};
use orgway_sim::FaultPlan;
use orgway_sim::losant::{DEMO_INSTANCE_ID, DEMO_TOKEN, LosantConfig, LosantSim};
use serde_json::{Value, json};

const ORG: &str = "575ed6e87ae143cd83dc4aa8";
/// 2024-03-04T00:00:00Z .. 2024-03-07T00:00:00Z.
const RANGE: &str = "start=1709510400000&end=1709769600000";

fn orgs_path() -> String {
    format!("/instances/{DEMO_INSTANCE_ID}/orgs")
}

fn org_path(org: &str) -> String {
    format!("/instances/{DEMO_INSTANCE_ID}/orgs/{org}")
}

fn assert_json_content_type(resp: &common::Response) {
    let ct = resp.header("content-type").unwrap_or("");
    assert!(ct.starts_with("application/json"), "content type {ct:?}");
}

/// An error body: the schema, plus both keys present as strings (the schema requires neither).
fn assert_error(resp: &common::Response, status: u16, kind: &str) {
    let error = schema("error.json");
    assert_eq!(resp.status, status, "body: {}", resp.text());
    assert_json_content_type(resp);
    let body = resp.json();
    assert_valid(&error, &body, "error body");
    assert_eq!(body["type"], kind, "body: {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "error message missing: {body}"
    );
}

#[tokio::test]
async fn every_success_body_matches_the_vendor_schemas() {
    if !common::losant_schemas("every success body matches the vendor schemas") {
        return;
    }
    let sim = LosantSim::start(LosantConfig::default())
        .await
        .expect("start");
    let c = Client::new(sim.server().addr(), DEMO_TOKEN);
    let org_schema = schema("instanceOrg.json");
    let orgs_schema = schema("instanceOrgs.json");

    // The list, plain and with every parameter.
    for query in [
        String::new(),
        "?_actions=false&_links=true&_embedded=true".to_owned(),
        "?page=0&perPage=2&sortField=creationDate&sortDirection=desc".to_owned(),
        "?filterField=name&filter=*a*&summaryInclude=payloadCount".to_owned(),
        "?sortField=lastUpdated&sortDirection=ASC&perPage=1&page=3".to_owned(),
    ] {
        let resp = c.get(&format!("{}{query}", orgs_path())).await;
        assert_eq!(resp.status, 200, "{query}: {}", resp.text());
        assert_json_content_type(&resp);
        let body = resp.json();
        assert_valid(&orgs_schema, &body, &format!("list {query}"));
        for item in body["items"].as_array().expect("items") {
            assert_valid(&org_schema, item, "list item");
        }
    }

    // Every seeded org, through GET, with and without the payload summary.
    for id in sim.org_ids() {
        for query in ["", "?summaryInclude=payloadCount"] {
            let resp = c.get(&format!("{}{query}", org_path(&id))).await;
            assert_eq!(resp.status, 200, "{}", resp.text());
            assert_valid(&org_schema, &resp.json(), &format!("org {id}{query}"));
        }
        let record = sim.org(&id).expect("org accessor");
        assert_valid(&org_schema, &record, "LosantSim::org");
    }

    // Create, patch, delete.
    let created = c
        .post(
            &orgs_path(),
            &json!({
                "name": "Schema Check Org",
                "description": "made by a test",
                "limits": {"device": 20, "dataTTL": 86400},
                "tags": [{"key": "suite", "value": "schema"}],
                "disabledAt": true,
                "members": [
                    {"userId": "5f3d9a2b1c4e5f6a7b8c9d0e", "role": "admin"},
                    {"email": "new.user@example.com", "role": "view", "disallowTransfer": true}
                ],
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let created = created.json();
    assert_valid(&org_schema, &created, "created org");
    let new_id = created["id"].as_str().expect("id").to_owned();

    let patched = c
        .patch(
            &format!("{}?summaryInclude=payloadCount", org_path(&new_id)),
            &json!({"name": "Schema Check Org 2", "disabledAt": false, "banner": {"message": "hi", "level": "info"}}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text());
    assert_valid(&org_schema, &patched.json(), "patched org");

    // The usage endpoints.
    let usage: [(&str, &str); 9] = [
        ("deviceCounts", "deviceCounts.json"),
        ("notebookMinuteCounts", "notebookMinuteCounts.json"),
        ("payloadCounts", "payloadStats.json"),
        ("payloadCounts?asBytes=true", "payloadStats.json"),
        ("payloadCountsBreakdown", "payloadCountsBreakdown.json"),
        (
            "payloadCountsBreakdown?resolution=3600000",
            "payloadCountsBreakdown.json",
        ),
        (
            "payloadCountsBreakdown?resolution=86400000&asBytes=true&includeNonBillable=true",
            "payloadCountsBreakdown.json",
        ),
        ("deviceCounts?start=0&end=0", "deviceCounts.json"),
        (
            "notebookMinuteCounts?start=-86400000",
            "notebookMinuteCounts.json",
        ),
    ];
    for id in [ORG, new_id.as_str()] {
        for (action, schema_name) in usage {
            let sep = if action.contains('?') { '&' } else { '?' };
            // Actions that set their own range are not given a second one.
            let ranges: &[&str] = if action.contains("start=") {
                &[""]
            } else {
                &["", RANGE]
            };
            for range in ranges {
                let target = format!("{}/{action}{sep}{range}", org_path(id));
                let resp = c.get(&target).await;
                assert_eq!(resp.status, 200, "{target}: {}", resp.text());
                assert_json_content_type(&resp);
                assert_valid(&schema(schema_name), &resp.json(), &target);
            }
        }
    }

    let deleted = c.delete(&org_path(&new_id)).await;
    assert_eq!(deleted.status, 200);
    let body = deleted.json();
    assert_valid(&schema("success.json"), &body, "delete");
    assert_eq!(body, json!({"success": true}));

    sim.shutdown().await;
}

#[tokio::test]
async fn every_error_body_matches_the_vendor_schema() {
    if !common::losant_schemas("every error body matches the vendor schema") {
        return;
    }
    let sim = LosantSim::start(LosantConfig::default())
        .await
        .expect("start");
    let addr = sim.server().addr();
    let c = Client::new(addr, DEMO_TOKEN);
    let anonymous = Client { addr, token: None };
    let stranger = Client::new(addr, "not-a-known-token");

    assert_error(&anonymous.get(&orgs_path()).await, 401, "Unauthorized");
    assert_error(&stranger.get(&org_path(ORG)).await, 401, "Unauthorized");
    assert_error(&c.get(&org_path("not-an-id")).await, 400, "Validation");
    assert_error(&c.get("/instances/xyz/orgs").await, 400, "Validation");
    assert_error(
        &c.get(&format!("{}?sortField=size", orgs_path())).await,
        400,
        "Validation",
    );
    assert_error(
        &c.get(&format!("{}/deviceCounts?start=yesterday", org_path(ORG)))
            .await,
        400,
        "Validation",
    );
    assert_error(
        &c.patch(&org_path(ORG), &json!({"limits": {"members": 500}}))
            .await,
        400,
        "Validation",
    );
    assert_error(
        &c.patch_raw(&org_path(ORG), b"{not json").await,
        400,
        "Validation",
    );
    assert_error(&c.post(&orgs_path(), &json!({})).await, 400, "Validation");
    assert_error(
        &c.get(&org_path("0123456789abcdef01234567")).await,
        404,
        "NotFound",
    );
    assert_error(
        &c.get("/instances/0123456789abcdef01234567/orgs").await,
        404,
        "NotFound",
    );
    assert_error(&c.get("/no/such/route").await, 404, "NotFound");
    assert_error(
        &c.call("PUT", &org_path(ORG), &[], Some(&json!({}))).await,
        404,
        "NotFound",
    );

    // A forced failure looks like a vendor error too.
    sim.server().faults().set(FaultPlan {
        status: Some(503),
        remaining: Some(1),
        ..FaultPlan::default()
    });
    assert_error(&c.get(&org_path(ORG)).await, 503, "ServiceUnavailable");

    sim.shutdown().await;
}

/// One row of the PATCH table: a body, and whether the vendor schema should accept it (stated
/// by hand, so the table also checks that the schema is read as intended).
struct Row {
    body: Value,
    valid: bool,
    /// The field a rejection must name.
    names: &'static str,
}

fn row(body: Value, valid: bool, names: &'static str) -> Row {
    Row { body, valid, names }
}

#[tokio::test]
async fn patch_validation_agrees_with_the_vendor_schema() {
    if !common::losant_schemas("patch validation agrees with the vendor schema") {
        return;
    }
    let sim = LosantSim::start(LosantConfig::default())
        .await
        .expect("start");
    let c = Client::new(sim.server().addr(), DEMO_TOKEN);
    let patch_schema = schema("instanceOrgPatch.json");
    let many_tags: Vec<Value> = (0..101)
        .map(|i| json!({"key": format!("k{i}"), "value": "v"}))
        .collect();

    let table = vec![
        row(json!({}), true, ""),
        row(json!({"name": "Renamed Org"}), true, ""),
        row(json!({"name": ""}), false, "name"),
        row(json!({"name": "x".repeat(256)}), false, "name"),
        row(json!({"name": "é".repeat(255)}), true, ""),
        row(json!({"name": 5}), false, "name"),
        row(json!({"nickname": "x"}), false, "nickname"),
        row(json!({"planId": "enterprise"}), false, "planId"),
        row(json!({"limits": {"members": 500}}), false, "limits.members"),
        row(json!({"limits": {"member": 500, "device": 100}}), true, ""),
        row(
            json!({"limits": {"dataTTL": 3600}}),
            false,
            "limits.dataTTL",
        ),
        row(json!({"limits": {"dataTTL": 86400}}), true, ""),
        row(
            json!({"limits": {"systemInterval": 4}}),
            false,
            "limits.systemInterval",
        ),
        row(
            json!({"limits": {"systemInterval": 3601}}),
            false,
            "limits.systemInterval",
        ),
        row(json!({"limits": {"systemInterval": 3600}}), true, ""),
        row(json!({"limits": {"device": -1}}), false, "limits.device"),
        row(json!({"limits": {"device": 1.5}}), false, "limits.device"),
        row(json!({"limits": {"device": 10.0}}), true, ""),
        row(json!({"limits": {"device": "10"}}), false, "limits.device"),
        row(json!({"limits": 7}), false, "limits"),
        row(json!({"mfaMode": "sometimes"}), false, "mfaMode"),
        row(json!({"mfaMode": "required"}), true, ""),
        row(
            json!({"tags": [{"key": "bad key", "value": "x"}]}),
            false,
            "tags[0].key",
        ),
        row(
            json!({"tags": [{"key": "site_id-2", "value": "north"}]}),
            true,
            "",
        ),
        row(
            json!({"tags": [{"key": "a", "value": "b", "extra": 1}]}),
            false,
            "tags[0].extra",
        ),
        row(json!({"tags": [{"key": "a"}]}), false, "tags[0].value"),
        row(json!({"tags": many_tags}), false, "tags"),
        row(json!({"disabledAt": "2024-05-01T10:00:00Z"}), true, ""),
        row(json!({"disabledAt": false}), true, ""),
        row(json!({"disabledAt": true}), true, ""),
        row(json!({"disabledAt": "last tuesday"}), false, "disabledAt"),
        row(json!({"disabledAt": 0}), false, "disabledAt"),
        row(
            json!({"banner": {"message": "Maintenance tonight", "level": "info"}}),
            true,
            "",
        ),
        row(
            json!({"banner": {"level": "severe"}}),
            false,
            "banner.level",
        ),
        row(json!({"banner": {"text": "x"}}), false, "banner.text"),
        row(
            json!({"whitelistedEmailDomains": ["ab"]}),
            false,
            "whitelistedEmailDomains[0]",
        ),
        row(
            json!({"whitelistedEmailDomains": ["example.com"]}),
            true,
            "",
        ),
        row(json!({"description": null}), false, "description"),
        row(json!({"description": "A longer description."}), true, ""),
        row(json!({"auditLogEnabled": "yes"}), false, "auditLogEnabled"),
        row(
            json!({"isReadOnly": false, "auditLogEnabled": true}),
            true,
            "",
        ),
        row(json!({"iconColor": "x".repeat(65)}), false, "iconColor"),
        row(json!({"referralId": "r-1"}), true, ""),
        row(json!([{"name": "x"}]), false, ""),
        row(json!("name"), false, ""),
    ];
    assert!(table.len() >= 20);

    for Row { body, valid, names } in &table {
        let schema_says = patch_schema.is_valid(body);
        assert_eq!(
            schema_says, *valid,
            "the table misreads the schema for {body}"
        );
        let resp = c.patch(&org_path(ORG), body).await;
        let expected = if *valid { 200 } else { 400 };
        assert_eq!(
            resp.status,
            expected,
            "simulator disagrees with instanceOrgPatch.json on {body}: {}",
            resp.text()
        );
        if !valid && !names.is_empty() {
            let message = resp.json()["message"].as_str().unwrap_or("").to_owned();
            assert!(
                message.contains(names),
                "error for {body} should name {names}: {message}"
            );
        }
    }

    // Bodies that are not JSON at all have no schema verdict; the docs' "malformed request".
    for raw in [&b"{not json"[..], b"", b"   "] {
        let resp = c.patch_raw(&org_path(ORG), raw).await;
        assert_eq!(resp.status, 400, "{:?}", String::from_utf8_lossy(raw));
    }

    sim.shutdown().await;
}
