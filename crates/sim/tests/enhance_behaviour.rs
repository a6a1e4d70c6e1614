//! The Enhance simulator's behaviour, over HTTP: logins and sessions, the org, customer,
//! subscription, plan and stats operations, the reseller rule, and that a refused write leaves
//! the state as it was. Every answer is also checked against the vendor's OpenAPI document
//! (see `enhance_openapi`).

mod common;
mod enhance_openapi;

use std::time::Duration;

use enhance_openapi::Client;
use orgway_sim::FaultPlan;
use orgway_sim::enhance::{
    DEMO_BUSINESS_PLAN_ID, DEMO_CUSTOMER_ID, DEMO_DELETED_ID, DEMO_EMAIL, DEMO_MO_ID,
    DEMO_MO_TOKEN, DEMO_NESTED_CUSTOMER_ID, DEMO_PASSWORD, DEMO_RESELLER_ID, DEMO_RESELLER_PLAN_ID,
    DEMO_STARTER_PLAN_ID, DEMO_SUB_RESELLER_ID, DEMO_SUSPENDED_ID, DEMO_TOKEN, EnhanceConfig,
    EnhanceSim, Login,
};
use serde_json::{Value, json};

const GIB: u64 = 1024 * 1024 * 1024;
const BEARER: (&str, &str) = ("Authorization", "Bearer enhance-demo-token");
const MO_BEARER: (&str, &str) = ("Authorization", "Bearer enhance-mo-token");

async fn start() -> (EnhanceSim, Client) {
    start_with(EnhanceConfig::default()).await
}

async fn start_with(config: EnhanceConfig) -> (EnhanceSim, Client) {
    let sim = EnhanceSim::start(config).await.unwrap();
    let spec =
        enhance_openapi::spec("checking the Enhance simulator's answers against orchd-openapi.yml");
    let client = Client::new(sim.server().addr(), spec);
    (sim, client)
}

async fn get(c: &Client, target: &str) -> common::Response {
    c.send("GET", target, &[BEARER], None).await
}

/// The `id0` cookie of a login answer.
fn session_cookie(r: &common::Response) -> String {
    let set = r.header("set-cookie").expect("a Set-Cookie header");
    let pair = set.split(';').next().unwrap();
    assert!(pair.starts_with("id0="), "{set}");
    pair.to_owned()
}

/// The reseller's own subscription's usage of a resource.
fn reseller_usage(sim: &EnhanceSim, resource: &str) -> u64 {
    let subs = sim.subscriptions_of(DEMO_RESELLER_ID);
    subs[0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == resource)
        .map_or(0, |r| r["usage"].as_u64().unwrap())
}

#[tokio::test]
async fn logins_issue_session_cookies_that_expire() {
    let (sim, c) = start().await;
    let creds = json!({ "email": DEMO_EMAIL, "password": DEMO_PASSWORD });
    let r = c.send("POST", "/login/sessions", &[], Some(&creds)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let m = &r.json()["memberships"][0];
    assert_eq!(
        (m["orgId"].as_str(), m["isMasterOrg"].as_bool()),
        (Some(DEMO_RESELLER_ID), Some(false))
    );
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=3600"));
    let cookie = session_cookie(&r);
    let org = c
        .send(
            "GET",
            &format!("/orgs/{DEMO_RESELLER_ID}"),
            &[("Cookie", &cookie)],
            None,
        )
        .await;
    assert_eq!(org.status, 200);
    assert_eq!(org.json()["name"], "Acme Hosting");
    assert_eq!(sim.logins(), 1);

    // Wrong password, another realm, a malformed body.
    let wrong = json!({ "email": DEMO_EMAIL, "password": "nope" });
    assert_eq!(
        c.send("POST", "/login/sessions", &[], Some(&wrong))
            .await
            .status,
        401
    );
    let realm = format!("/login/sessions?realmId={DEMO_CUSTOMER_ID}");
    assert_eq!(
        c.send("POST", &realm, &[], Some(&creds)).await.status,
        401,
        "not a member in that realm"
    );
    let mo_realm = format!("/login/sessions?realmId={DEMO_MO_ID}");
    assert_eq!(
        c.send("POST", &mo_realm, &[], Some(&creds)).await.status,
        200
    );
    assert_eq!(
        c.send("POST", "/login/sessions?realmId=x", &[], Some(&creds))
            .await
            .status,
        400
    );
    assert_eq!(
        c.send(
            "POST",
            "/login/sessions",
            &[],
            Some(&json!({"email": DEMO_EMAIL}))
        )
        .await
        .status,
        400
    );
    assert_eq!(sim.failed_logins(), 2);

    // Sessions end.
    sim.expire_sessions();
    let r = c
        .send(
            "GET",
            &format!("/orgs/{DEMO_RESELLER_ID}"),
            &[("Cookie", &cookie)],
            None,
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["code"], "unauthorized");
}

#[tokio::test]
async fn a_short_session_lapses_by_itself_and_two_factor_logins_get_no_session() {
    let config = EnhanceConfig {
        logins: vec![
            Login {
                email: "short@acme.example".into(),
                password: "pw".into(),
                org_id: DEMO_RESELLER_ID.into(),
                two_factor: false,
            },
            Login {
                email: "otp@acme.example".into(),
                password: "pw".into(),
                org_id: DEMO_RESELLER_ID.into(),
                two_factor: true,
            },
        ],
        session_lifetime: Duration::from_millis(1_000),
        ..EnhanceConfig::default()
    };
    let (_sim, c) = start_with(config).await;
    let r = c
        .send(
            "POST",
            "/login/sessions",
            &[],
            Some(&json!({"email": "short@acme.example", "password": "pw"})),
        )
        .await;
    let cookie = session_cookie(&r);
    let path = format!("/orgs/{DEMO_RESELLER_ID}");
    assert_eq!(
        c.send("GET", &path, &[("Cookie", &cookie)], None)
            .await
            .status,
        200
    );
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(
        c.send("GET", &path, &[("Cookie", &cookie)], None)
            .await
            .status,
        401
    );

    let r = c
        .send(
            "POST",
            "/login/sessions",
            &[],
            Some(&json!({"email": "otp@acme.example", "password": "pw"})),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json(), json!({"authMethod": "otp"}));
    let pending = session_cookie(&r);
    assert_eq!(
        c.send("GET", &path, &[("Cookie", &pending)], None)
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn credentials_reach_their_org_and_the_orgs_below_it() {
    let (_sim, c) = start().await;
    let org = |id: &str| format!("/orgs/{id}");
    assert_eq!(
        c.send("GET", &org(DEMO_RESELLER_ID), &[], None)
            .await
            .status,
        401
    );
    assert_eq!(
        c.send(
            "GET",
            &org(DEMO_RESELLER_ID),
            &[("Authorization", "Bearer wrong")],
            None
        )
        .await
        .status,
        401
    );
    assert_eq!(
        c.send(
            "GET",
            &org(DEMO_RESELLER_ID),
            &[("Authorization", "Basic eDp5")],
            None
        )
        .await
        .status,
        401
    );
    assert_eq!(
        get(&c, &org(DEMO_NESTED_CUSTOMER_ID)).await.status,
        200,
        "two levels below"
    );
    let r = get(&c, &org(DEMO_MO_ID)).await;
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (403, Some("forbidden")),
        "the parent"
    );
    assert_eq!(
        c.send("GET", &org(DEMO_MO_ID), &[MO_BEARER], None)
            .await
            .status,
        200
    );
    assert_eq!(get(&c, "/orgs/not-a-uuid").await.status, 400);
    assert_eq!(
        get(&c, &org("00000000-0000-4000-8000-000000000000"))
            .await
            .status,
        404
    );
    // Not an operation of the document, so sent without its check.
    let r = common::send(c.addr, "GET", "/orgs", &[BEARER], None).await;
    assert_eq!(r.status, 404, "no such route");

    let one = get(&c, &org(DEMO_CUSTOMER_ID)).await.json();
    assert_eq!(one["parentId"], DEMO_RESELLER_ID);
    assert_eq!(
        (one["status"].as_str(), one["subscriptionsCount"].as_u64()),
        (Some("active"), Some(1))
    );
    let cafe = get(&c, &org(DEMO_SUSPENDED_ID)).await.json();
    assert_eq!(cafe["suspendedBy"], DEMO_RESELLER_ID);
    assert_eq!(
        get(&c, &org(DEMO_DELETED_ID)).await.json()["status"],
        "deleted"
    );
}

#[tokio::test]
async fn customer_lists_filter_recurse_sort_and_page() {
    let (_sim, c) = start().await;
    let names = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let list = |q: &str| {
        let c = c.clone();
        let q = q.to_owned();
        async move {
            let r = get(&c, &format!("/orgs/{DEMO_RESELLER_ID}/customers{q}")).await;
            assert_eq!(r.status, 200, "{q}: {}", r.text());
            r.json()
        }
    };
    let all = list("").await;
    assert_eq!(
        names(&all),
        ["Blue Bakery", "Dev Agency", "Corner Cafe"],
        "creation order, no deleted"
    );
    assert_eq!(all["total"], 3);
    assert_eq!(names(&list("?status=suspended").await), ["Corner Cafe"]);
    assert_eq!(names(&list("?status=deleted").await), ["Old Client"]);
    assert_eq!(
        names(&list("?status=active").await),
        ["Blue Bakery", "Dev Agency"]
    );
    assert_eq!(list("?recursive=true").await["total"], 4);
    assert_eq!(list("?recursive=true&maxDepth=1").await["total"], 3);
    assert_eq!(
        list("?maxDepth=5").await["total"],
        3,
        "maxDepth alone does not recurse"
    );
    let sorted = list("?recursive=true&sortBy=name&sortOrder=desc").await;
    assert_eq!(
        names(&sorted),
        ["Tiny Shop", "Dev Agency", "Corner Cafe", "Blue Bakery"]
    );
    let page = list("?sortBy=name&offset=1&limit=1").await;
    assert_eq!(
        (names(&page), page["total"].as_u64()),
        (vec!["Corner Cafe".to_owned()], Some(3))
    );
    assert_eq!(
        names(&list(&format!("?planId={DEMO_BUSINESS_PLAN_ID}")).await),
        ["Dev Agency"]
    );
    assert_eq!(list("").await, all, "reads change nothing");
    assert_eq!(
        get(&c, &format!("/orgs/{DEMO_CUSTOMER_ID}/customers"))
            .await
            .json()["total"],
        0,
        "not a reseller: empty"
    );
    for bad in [
        "?limit=-1",
        "?offset=x",
        "?sortBy=plan",
        "?sortOrder=up",
        "?recursive=yes",
        "?status=gone",
        "?recursive=true&maxDepth=0",
    ] {
        let r = get(&c, &format!("/orgs/{DEMO_RESELLER_ID}/customers{bad}")).await;
        assert_eq!(r.status, 400, "{bad}");
    }
    let r = get(&c, &format!("/orgs/{DEMO_MO_ID}/customers")).await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn customers_are_created_once_per_name() {
    let (sim, c) = start().await;
    let path = format!("/orgs/{DEMO_RESELLER_ID}/customers");
    let r = c
        .send(
            "POST",
            &path,
            &[BEARER],
            Some(&json!({"name": "Green Grocer"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let org = sim.org(&id).unwrap();
    assert_eq!(
        (org["name"].as_str(), org["parentId"].as_str()),
        (Some("Green Grocer"), Some(DEMO_RESELLER_ID))
    );
    assert_eq!(org["subscriptionsCount"], 0);

    let before = sim.snapshot();
    for (body, status) in [
        (json!({"name": "green grocer"}), 409),
        (json!({"name": "Blue Bakery"}), 409),
        (json!({}), 400),
        (json!({"name": ""}), 400),
        (json!({"name": 5}), 400),
        (json!({"name": "X", "extra": 1}), 400),
        (json!(["X"]), 400),
    ] {
        let r = c.send("POST", &path, &[BEARER], Some(&body)).await;
        assert_eq!(r.status, status, "{body}: {}", r.text());
    }
    assert_eq!(
        sim.snapshot(),
        before,
        "refused creations leave nothing behind"
    );
    // The same name below another parent is another customer.
    let nested = format!("/orgs/{DEMO_SUB_RESELLER_ID}/customers");
    assert_eq!(
        c.send(
            "POST",
            &nested,
            &[BEARER],
            Some(&json!({"name": "Green Grocer"}))
        )
        .await
        .status,
        201
    );
    assert_eq!(
        c.send(
            "POST",
            &format!("/orgs/{DEMO_MO_ID}/customers"),
            &[BEARER],
            Some(&json!({"name": "Y"}))
        )
        .await
        .status,
        403
    );
}

#[tokio::test]
async fn a_sale_draws_from_the_resellers_subscription_until_its_quota_is_spent() {
    let (sim, c) = start().await;
    let new_customer = |name: &'static str| {
        let c = c.clone();
        async move {
            let r = c
                .send(
                    "POST",
                    &format!("/orgs/{DEMO_RESELLER_ID}/customers"),
                    &[BEARER],
                    Some(&json!({"name": name})),
                )
                .await;
            r.json()["id"].as_str().unwrap().to_owned()
        }
    };
    let subscribe = |customer: String, body: Value| {
        let c = c.clone();
        async move {
            c.send(
                "POST",
                &format!("/orgs/{DEMO_RESELLER_ID}/customers/{customer}/subscriptions"),
                &[BEARER],
                Some(&body),
            )
            .await
        }
    };
    assert_eq!(
        (
            reseller_usage(&sim, "websites"),
            reseller_usage(&sim, "diskspace")
        ),
        (6, 25 * GIB)
    );
    let first = new_customer("Shop One").await;
    let r = subscribe(
        first.clone(),
        json!({"planId": DEMO_BUSINESS_PLAN_ID, "friendlyName": "Shop One web"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let sub_id = r.json()["id"].as_u64().unwrap();
    assert_eq!(
        (
            reseller_usage(&sim, "websites"),
            reseller_usage(&sim, "diskspace")
        ),
        (11, 45 * GIB),
        "rose by the sold amount"
    );
    let listed = get(
        &c,
        &format!("/orgs/{DEMO_RESELLER_ID}/customers/{first}/subscriptions"),
    )
    .await
    .json();
    assert_eq!(listed["total"], 1);
    let sub = &listed["items"][0];
    assert_eq!(
        (
            sub["id"].as_u64(),
            sub["planId"].as_u64(),
            sub["planName"].as_str()
        ),
        (Some(sub_id), Some(DEMO_BUSINESS_PLAN_ID), Some("Business"))
    );
    assert_eq!(
        (
            sub["subscriberId"].as_str(),
            sub["vendorId"].as_str(),
            sub["friendlyName"].as_str()
        ),
        (
            Some(first.as_str()),
            Some(DEMO_RESELLER_ID),
            Some("Shop One web")
        )
    );
    assert_eq!(
        sub["resources"][0],
        json!({"name": "websites", "total": 5, "usage": 0})
    );
    assert_eq!(
        sub["resources"][2],
        json!({"name": "mailboxes", "usage": 0}),
        "unlimited: no total"
    );
    let own = get(&c, &format!("/orgs/{first}/subscriptions/{sub_id}")).await;
    assert_eq!(own.json()["id"], sub_id);
    assert_eq!(
        get(&c, &format!("/orgs/{first}/subscriptions/{}", sub_id + 100))
            .await
            .status,
        404
    );
    assert_eq!(
        get(&c, &format!("/orgs/{first}/subscriptions/x"))
            .await
            .status,
        400
    );
    assert_eq!(
        get(&c, &format!("/orgs/{first}/subscriptions"))
            .await
            .json()["total"],
        1
    );

    // Refusals, none of which changes anything.
    let before = sim.snapshot();
    let cases = [
        (
            first.clone(),
            json!({"planId": DEMO_BUSINESS_PLAN_ID}),
            409,
            "already_exists",
        ),
        (
            first.clone(),
            json!({"planId": DEMO_BUSINESS_PLAN_ID.to_string()}),
            400,
            "invalid_input",
        ),
        (first.clone(), json!({"planId": 1.5}), 400, "invalid_input"),
        (first.clone(), json!({}), 400, "invalid_input"),
        (first.clone(), json!({"planId": 999}), 404, "not_found"),
        (
            first.clone(),
            json!({"planId": DEMO_RESELLER_PLAN_ID}),
            404,
            "not_found",
        ),
        (
            DEMO_NESTED_CUSTOMER_ID.to_owned(),
            json!({"planId": DEMO_STARTER_PLAN_ID}),
            404,
            "not_found",
        ),
        (
            first.clone(),
            json!({"planId": DEMO_STARTER_PLAN_ID, "dedicatedServers": {"appServerId": "x"}}),
            400,
            "invalid_input",
        ),
    ];
    for (customer, body, status, code) in cases {
        let r = subscribe(customer, body.clone()).await;
        assert_eq!(
            (r.status, r.json()["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
    }
    assert_eq!(sim.snapshot(), before);

    // 11 of 20 websites sold: one more Business (5) fits, the next does not.
    let second = new_customer("Shop Two").await;
    assert_eq!(
        subscribe(second, json!({"planId": DEMO_BUSINESS_PLAN_ID}))
            .await
            .status,
        201
    );
    assert_eq!(reseller_usage(&sim, "websites"), 16);
    let third = new_customer("Shop Three").await;
    let before = sim.snapshot();
    let r = subscribe(third.clone(), json!({"planId": DEMO_BUSINESS_PLAN_ID})).await;
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (409, Some("quota_exceeded")),
        "{}",
        r.text()
    );
    assert_eq!(sim.snapshot(), before, "a refused sale records nothing");
    assert!(sim.subscriptions_of(&third).is_empty());
    // A smaller plan still fits.
    assert_eq!(
        subscribe(third, json!({"planId": DEMO_STARTER_PLAN_ID}))
            .await
            .status,
        201
    );
    assert_eq!(reseller_usage(&sim, "websites"), 17);
}

#[tokio::test]
async fn the_mo_sells_from_nothing_and_customers_without_a_reseller_subscription_cannot_sell() {
    let (sim, c) = start().await;
    let r = c
        .send(
            "POST",
            &format!("/orgs/{DEMO_MO_ID}/customers"),
            &[MO_BEARER],
            Some(&json!({"name": "Second Reseller"})),
        )
        .await;
    let reseller = r.json()["id"].as_str().unwrap().to_owned();
    let r = c
        .send(
            "POST",
            &format!("/orgs/{DEMO_MO_ID}/customers/{reseller}/subscriptions"),
            &[MO_BEARER],
            Some(&json!({"planId": DEMO_RESELLER_PLAN_ID})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    // Tiny Shop offers no plans: a subscription to a plan of its reseller is not one of its own.
    let r = c
        .send(
            "POST",
            &format!("/orgs/{DEMO_NESTED_CUSTOMER_ID}/customers"),
            &[BEARER],
            Some(&json!({"name": "Sub"})),
        )
        .await;
    let sub = r.json()["id"].as_str().unwrap().to_owned();
    let before = sim.snapshot();
    let r = c
        .send(
            "POST",
            &format!("/orgs/{DEMO_NESTED_CUSTOMER_ID}/customers/{sub}/subscriptions"),
            &[BEARER],
            Some(&json!({"planId": DEMO_STARTER_PLAN_ID})),
        )
        .await;
    assert_eq!(r.status, 404, "Tiny Shop offers no such plan");
    assert_eq!(sim.snapshot(), before);
}

#[tokio::test]
async fn plans_on_offer_need_no_credentials() {
    let (_sim, c) = start().await;
    let r = c
        .send("GET", &format!("/orgs/{DEMO_RESELLER_ID}/plans"), &[], None)
        .await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["total"], 2);
    let business = &v["items"][1];
    assert_eq!(
        (business["id"].as_u64(), business["name"].as_str()),
        (Some(DEMO_BUSINESS_PLAN_ID), Some("Business"))
    );
    assert_eq!(
        business["resources"][1],
        json!({"name": "diskspace", "total": 20 * GIB})
    );
    assert_eq!(business["resources"][2], json!({"name": "mailboxes"}));
    assert_eq!(business["subscriptionsCount"], 1);
    let desc = c
        .send(
            "GET",
            &format!("/orgs/{DEMO_RESELLER_ID}/plans?sortBy=name&sortOrder=desc&limit=1"),
            &[],
            None,
        )
        .await
        .json();
    assert_eq!(
        (desc["items"][0]["name"].as_str(), desc["total"].as_u64()),
        (Some("Starter"), Some(2))
    );
    assert_eq!(
        c.send(
            "GET",
            "/orgs/00000000-0000-4000-8000-000000000000/plans",
            &[],
            None
        )
        .await
        .status,
        404
    );
}

#[tokio::test]
async fn customers_added_counts_direct_customers_per_bucket() {
    let (_sim, c) = start().await;
    let path = format!("/orgs/{DEMO_RESELLER_ID}/stats/customers/added");
    let days = get(&c, &format!("{path}?timeInterval=day")).await.json();
    let days = days.as_array().unwrap();
    assert!(days.len() > 390 && days.len() <= 1000, "{}", days.len());
    let sum: u64 = days
        .iter()
        .map(|d| d["resourceCount"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, 4, "direct customers, the deleted one included");
    assert!(
        days[0]["interval"]
            .as_str()
            .unwrap()
            .ends_with("T00:00:00Z")
    );
    let months = get(&c, &format!("{path}?timeInterval=month")).await.json();
    let sum: u64 = months
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["resourceCount"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, 4);
    let hours = get(&c, &format!("{path}?timeInterval=hour")).await.json();
    assert_eq!(hours.as_array().unwrap().len(), 2160);
    assert_eq!(
        get(&c, &format!("{path}?timeInterval=week")).await.status,
        400
    );
    assert_eq!(
        get(&c, &format!("/orgs/{DEMO_MO_ID}/stats/customers/added"))
            .await
            .status,
        403
    );
}

#[tokio::test]
async fn org_updates_rename_suspend_and_delete() {
    let (sim, c) = start().await;
    let path = format!("/orgs/{DEMO_CUSTOMER_ID}");
    let patch = |body: Value| {
        let c = c.clone();
        let path = path.clone();
        async move { c.send("PATCH", &path, &[BEARER], Some(&body)).await }
    };
    let r = patch(json!({"name": "Blue Bakery Ltd"})).await;
    assert_eq!((r.status, r.body.len()), (204, 0));
    assert_eq!(
        sim.org(DEMO_CUSTOMER_ID).unwrap()["name"],
        "Blue Bakery Ltd"
    );
    assert_eq!(patch(json!({"isSuspended": true})).await.status, 204);
    assert_eq!(
        sim.org(DEMO_CUSTOMER_ID).unwrap()["suspendedBy"],
        DEMO_RESELLER_ID
    );
    assert_eq!(
        patch(json!({"isSuspended": false, "status": "active"}))
            .await
            .status,
        204
    );
    assert!(
        sim.org(DEMO_CUSTOMER_ID)
            .unwrap()
            .get("suspendedBy")
            .is_none()
    );
    assert_eq!(patch(json!({})).await.status, 204);
    let before = sim.snapshot();
    for body in [
        json!({"name": "Dev Agency"}),
        json!({"status": "suspended"}),
        json!({"description": "x"}),
        json!({"isSuspended": "yes"}),
        json!({"name": " "}),
    ] {
        assert_eq!(patch(body.clone()).await.status, 400, "{body}");
    }
    assert_eq!(sim.snapshot(), before);

    // A soft delete ends the org's subscriptions and gives their quota back.
    let websites = reseller_usage(&sim, "websites");
    let r = c.send("DELETE", &path, &[BEARER], None).await;
    assert_eq!(r.status, 204);
    assert_eq!(sim.org(DEMO_CUSTOMER_ID).unwrap()["status"], "deleted");
    assert_eq!(
        sim.subscriptions_of(DEMO_CUSTOMER_ID)[0]["status"],
        "deleted"
    );
    assert_eq!(reseller_usage(&sim, "websites"), websites - 1);
    // A deleted org's name is free again.
    let r = c
        .send(
            "POST",
            &format!("/orgs/{DEMO_RESELLER_ID}/customers"),
            &[BEARER],
            Some(&json!({"name": "Blue Bakery Ltd"})),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(
        c.send(
            "DELETE",
            &format!("/orgs/{DEMO_RESELLER_ID}"),
            &[BEARER],
            None
        )
        .await
        .status,
        403,
        "its own org"
    );
    assert_eq!(
        c.send(
            "DELETE",
            &format!("/orgs/{DEMO_SUB_RESELLER_ID}?force=true"),
            &[BEARER],
            None
        )
        .await
        .status,
        403,
        "MO only"
    );
    assert_eq!(
        c.send(
            "DELETE",
            &format!("/orgs/{DEMO_SUB_RESELLER_ID}?force=true"),
            &[MO_BEARER],
            None
        )
        .await
        .status,
        204
    );
    assert!(sim.org(DEMO_SUB_RESELLER_ID).is_none() && sim.org(DEMO_NESTED_CUSTOMER_ID).is_none());
    assert_eq!(
        get(&c, &format!("/orgs/{DEMO_SUB_RESELLER_ID}"))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn forced_faults_look_like_the_vendors_errors() {
    let (sim, c) = start().await;
    sim.server().faults().set(FaultPlan {
        status: Some(503),
        remaining: Some(1),
        ..FaultPlan::default()
    });
    // A forced status the document does not declare for this operation is sent without the
    // document check: this is the fault knob, not the API.
    let r = common::send(
        sim.server().addr(),
        "GET",
        &format!("/orgs/{DEMO_RESELLER_ID}"),
        &[BEARER],
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (503, Some("service_unavailable"))
    );
    sim.server().faults().set(FaultPlan {
        malformed_body: true,
        remaining: Some(1),
        ..FaultPlan::default()
    });
    let r = common::send(
        sim.server().addr(),
        "GET",
        &format!("/orgs/{DEMO_RESELLER_ID}"),
        &[BEARER],
        None,
    )
    .await;
    assert!(serde_json::from_slice::<Value>(&r.body).is_err());
    assert_eq!(
        get(&c, &format!("/orgs/{DEMO_RESELLER_ID}")).await.status,
        200,
        "served again"
    );
    assert!(!format!("{:?}", EnhanceConfig::default()).contains(DEMO_TOKEN));
    let _ = DEMO_MO_TOKEN;
}
