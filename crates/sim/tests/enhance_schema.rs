//! The Enhance simulator against the vendor's OpenAPI document (`orchd-openapi.yml`): every
//! operation the simulator implements is driven to its success answer and to each refusal it
//! has (400, 401, 403, 404, 409), and every answer is checked against that operation's
//! declared statuses and response schema. A first test shows the checker refuses answers that
//! break the document, so a pass means something. Skipped with a notice when the document is
//! not at hand; required in CI.

mod common;
mod enhance_openapi;

use std::collections::BTreeSet;

use enhance_openapi::Client;
use orgway_sim::enhance::{
    DEMO_BUSINESS_PLAN_ID, DEMO_CUSTOMER_ID, DEMO_EMAIL, DEMO_MO_ID, DEMO_PASSWORD,
    DEMO_RESELLER_ID, DEMO_STARTER_PLAN_ID, EnhanceConfig, EnhanceSim,
};
use serde_json::json;

const WHAT: &str = "checking the Enhance simulator against orchd-openapi.yml";

#[test]
fn the_checker_refuses_answers_that_break_the_document() {
    let Some(spec) = enhance_openapi::spec(WHAT) else {
        return;
    };
    let org = format!("/orgs/{DEMO_RESELLER_ID}");
    let good = json!({
        "id": DEMO_RESELLER_ID, "name": "Acme", "status": "active", "subscriptionsCount": 1,
        "websitesCount": 0, "createdAt": "2025-05-08T10:00:00Z", "locale": "en-GB"
    });
    let bytes = |v: &serde_json::Value| serde_json::to_vec(v).unwrap();
    assert_eq!(
        spec.check("GET", &org, 200, &bytes(&good)).unwrap(),
        "GET /orgs/{org_id}"
    );
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("locale");
    let mut not_uuid = good.clone();
    not_uuid["id"] = json!("acme");
    let mut bad_status = good.clone();
    bad_status["status"] = json!("suspended");
    for wrong in [missing, not_uuid, bad_status] {
        assert!(
            spec.check("GET", &org, 200, &bytes(&wrong)).is_err(),
            "{wrong}"
        );
    }
    assert!(
        spec.check("GET", &org, 418, b"").is_err(),
        "an undeclared status"
    );
    assert!(spec.check("GET", &org, 200, b"{").is_err(), "not JSON");
    let subs = format!("/orgs/{DEMO_RESELLER_ID}/customers/{DEMO_CUSTOMER_ID}/subscriptions");
    assert!(
        spec.check("POST", &subs, 201, br#"{"id":"5"}"#).is_err(),
        "ids are integers"
    );
    assert!(spec.check("POST", &subs, 201, br#"{"id":5}"#).is_ok());
    assert_eq!(
        spec.template(&format!("{org}/plans")).as_deref(),
        Some("/orgs/{org_id}/plans"),
        "literal segments win"
    );
}

#[tokio::test]
async fn every_operation_answers_as_the_document_says() {
    let Some(spec) = enhance_openapi::spec(WHAT) else {
        return;
    };
    let sim = EnhanceSim::start(EnhanceConfig::default()).await.unwrap();
    let c = Client::new(sim.server().addr(), Some(spec));
    let bearer = [("Authorization", "Bearer enhance-demo-token")];
    let none: [(&str, &str); 0] = [];
    let missing = "00000000-0000-4000-8000-000000000000";
    let r = DEMO_RESELLER_ID;

    // createSession: 200, 400, 401.
    let creds = json!({"email": DEMO_EMAIL, "password": DEMO_PASSWORD});
    let login = c.send("POST", "/login/sessions", &none, Some(&creds)).await;
    assert_eq!(login.status, 200);
    let cookie = login
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let session = [("Cookie", cookie.as_str())];
    c.send(
        "POST",
        "/login/sessions",
        &none,
        Some(&json!({"email": DEMO_EMAIL, "password": "x"})),
    )
    .await;
    c.send("POST", "/login/sessions", &none, Some(&json!({})))
        .await;

    // getOrg, updateOrg, deleteOrg.
    for (method, body) in [
        ("GET", None),
        ("PATCH", Some(json!({"name": "Acme Hosting"}))),
    ] {
        c.send(method, &format!("/orgs/{r}"), &session, body.as_ref())
            .await;
        c.send(method, &format!("/orgs/{r}"), &none, body.as_ref())
            .await;
        c.send(method, "/orgs/x", &bearer, body.as_ref()).await;
        c.send(
            method,
            &format!("/orgs/{DEMO_MO_ID}"),
            &bearer,
            body.as_ref(),
        )
        .await;
        c.send(method, &format!("/orgs/{missing}"), &bearer, body.as_ref())
            .await;
    }
    c.send(
        "PATCH",
        &format!("/orgs/{r}"),
        &bearer,
        Some(&json!({"status": 1})),
    )
    .await;

    // getOrgCustomers, createCustomer.
    let customers = format!("/orgs/{r}/customers");
    c.send(
        "GET",
        &format!("{customers}?recursive=true&sortBy=name&limit=2"),
        &bearer,
        None,
    )
    .await;
    c.send("GET", &format!("{customers}?limit=x"), &bearer, None)
        .await;
    c.send("GET", &customers, &none, None).await;
    c.send(
        "GET",
        &format!("/orgs/{DEMO_MO_ID}/customers"),
        &bearer,
        None,
    )
    .await;
    c.send("GET", &format!("/orgs/{missing}/customers"), &bearer, None)
        .await;
    let created = c
        .send(
            "POST",
            &customers,
            &bearer,
            Some(&json!({"name": "Schema Shop"})),
        )
        .await;
    let customer = created.json()["id"].as_str().unwrap().to_owned();
    c.send(
        "POST",
        &customers,
        &bearer,
        Some(&json!({"name": "Schema Shop"})),
    )
    .await;
    c.send("POST", &customers, &bearer, Some(&json!({"nom": "x"})))
        .await;
    c.send("POST", &customers, &none, Some(&json!({"name": "x"})))
        .await;
    c.send(
        "POST",
        &format!("/orgs/{DEMO_MO_ID}/customers"),
        &bearer,
        Some(&json!({"name": "x"})),
    )
    .await;
    c.send(
        "POST",
        &format!("/orgs/{missing}/customers"),
        &bearer,
        Some(&json!({"name": "x"})),
    )
    .await;

    // getCustomerSubscriptions, createCustomerSubscription (409 twice: a duplicate, and a sale
    // beyond the reseller's quota).
    let subs = format!("{customers}/{customer}/subscriptions");
    let plan = json!({"planId": DEMO_BUSINESS_PLAN_ID});
    let sold = c.send("POST", &subs, &bearer, Some(&plan)).await;
    let sub_id = sold.json()["id"].as_u64().unwrap();
    c.send("POST", &subs, &bearer, Some(&plan)).await;
    for name in ["Schema Two", "Schema Three"] {
        let id = c
            .send("POST", &customers, &bearer, Some(&json!({"name": name})))
            .await
            .json()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        c.send(
            "POST",
            &format!("{customers}/{id}/subscriptions"),
            &bearer,
            Some(&plan),
        )
        .await;
    }
    c.send("POST", &subs, &bearer, Some(&json!({"planId": "3"})))
        .await;
    c.send("POST", &subs, &none, Some(&plan)).await;
    c.send("POST", &subs, &bearer, Some(&json!({"planId": 404})))
        .await;
    c.send(
        "POST",
        &format!("/orgs/{DEMO_MO_ID}/customers/{r}/subscriptions"),
        &bearer,
        Some(&json!({"planId": DEMO_STARTER_PLAN_ID})),
    )
    .await;
    c.send(
        "GET",
        &format!("{subs}?sortBy=plan&offset=0&limit=5"),
        &bearer,
        None,
    )
    .await;
    c.send("GET", &format!("{subs}?sortBy=nope"), &bearer, None)
        .await;
    c.send("GET", &subs, &none, None).await;
    c.send(
        "GET",
        &format!("/orgs/{DEMO_MO_ID}/customers/{r}/subscriptions"),
        &bearer,
        None,
    )
    .await;
    c.send(
        "GET",
        &format!("{customers}/{missing}/subscriptions"),
        &bearer,
        None,
    )
    .await;

    // getSubscriptionsToParent, getSubscription.
    for path in [
        format!("/orgs/{r}/subscriptions"),
        format!("/orgs/{customer}/subscriptions/{sub_id}"),
    ] {
        c.send("GET", &path, &session, None).await;
        c.send("GET", &path, &none, None).await;
        c.send("GET", &path.replace(r, DEMO_MO_ID), &bearer, None)
            .await;
    }
    c.send(
        "GET",
        &format!("/orgs/{r}/subscriptions?limit=-1"),
        &bearer,
        None,
    )
    .await;
    c.send(
        "GET",
        &format!("/orgs/{customer}/subscriptions/x"),
        &bearer,
        None,
    )
    .await;
    c.send(
        "GET",
        &format!("/orgs/{customer}/subscriptions/999"),
        &bearer,
        None,
    )
    .await;
    c.send(
        "GET",
        &format!("/orgs/{missing}/subscriptions"),
        &bearer,
        None,
    )
    .await;
    c.send(
        "GET",
        &format!("/orgs/{DEMO_MO_ID}/subscriptions/1"),
        &bearer,
        None,
    )
    .await;

    // getPlans: 200 and 404 only.
    c.send(
        "GET",
        &format!("/orgs/{r}/plans?sortBy=name&sortOrder=desc"),
        &none,
        None,
    )
    .await;
    c.send("GET", &format!("/orgs/{DEMO_MO_ID}/plans"), &none, None)
        .await;
    c.send("GET", &format!("/orgs/{missing}/plans"), &none, None)
        .await;

    // getCustomersAdded.
    let stats = format!("/orgs/{r}/stats/customers/added");
    for interval in ["hour", "day", "month"] {
        c.send(
            "GET",
            &format!("{stats}?timeInterval={interval}"),
            &bearer,
            None,
        )
        .await;
    }
    c.send("GET", &format!("{stats}?timeInterval=year"), &bearer, None)
        .await;
    c.send("GET", &stats, &none, None).await;
    c.send(
        "GET",
        &format!("/orgs/{DEMO_MO_ID}/stats/customers/added"),
        &bearer,
        None,
    )
    .await;
    c.send(
        "GET",
        &format!("/orgs/{missing}/stats/customers/added"),
        &bearer,
        None,
    )
    .await;

    // deleteOrg last: it ends what the others made.
    let del = |id: &str| format!("/orgs/{id}");
    c.send("DELETE", &del(&customer), &bearer, None).await;
    c.send("DELETE", &del(&customer), &none, None).await;
    c.send("DELETE", &del("x"), &bearer, None).await;
    c.send("DELETE", &del(DEMO_MO_ID), &bearer, None).await;
    c.send("DELETE", &del(missing), &bearer, None).await;

    // Every operation was answered, and the statuses the document gives each were provoked.
    let seen = c.seen();
    let expect = |op: &str, statuses: &[u16]| {
        let got = seen
            .get(op)
            .unwrap_or_else(|| panic!("{op} was never answered: {seen:?}"));
        let want: BTreeSet<u16> = statuses.iter().copied().collect();
        assert_eq!(got, &want, "{op}");
    };
    expect("POST /login/sessions", &[200, 400, 401]);
    expect("GET /orgs/{org_id}", &[200, 400, 401, 403, 404]);
    expect("PATCH /orgs/{org_id}", &[204, 400, 401, 403, 404]);
    expect("DELETE /orgs/{org_id}", &[204, 400, 401, 403, 404]);
    expect("GET /orgs/{org_id}/customers", &[200, 400, 401, 403, 404]);
    expect(
        "POST /orgs/{org_id}/customers",
        &[201, 400, 401, 403, 404, 409],
    );
    expect(
        "GET /orgs/{org_id}/customers/{customer_org_id}/subscriptions",
        &[200, 400, 401, 403, 404],
    );
    expect(
        "POST /orgs/{org_id}/customers/{customer_org_id}/subscriptions",
        &[201, 400, 401, 403, 404, 409],
    );
    expect(
        "GET /orgs/{org_id}/subscriptions",
        &[200, 400, 401, 403, 404],
    );
    expect(
        "GET /orgs/{org_id}/subscriptions/{subscription_id}",
        &[200, 400, 401, 403, 404],
    );
    expect("GET /orgs/{org_id}/plans", &[200, 404]);
    expect(
        "GET /orgs/{org_id}/stats/customers/added",
        &[200, 400, 401, 403, 404],
    );
    assert_eq!(seen.len(), 12, "{seen:?}");
}
