//! Every Enhance route of the gateway, end to end against the Enhance simulator: a customer
//! created, listed, subscribed to a plan and its subscription listed with its usage; the
//! reseller's own usage rising by what it sold, and a sale beyond its quota refused as a
//! normalized `409 conflict`; writes answered only with what the simulator holds, refusals
//! leaving its state as it was; ids checked before any call; the session cookie login (one
//! login however many calls wait, renewed on 401, refusals backed off) and the API token.

use http::Method;
use orgway_sim::FaultPlan;
use orgway_sim::enhance::{
    DEMO_BUSINESS_PLAN_ID, DEMO_CUSTOMER_ID, DEMO_DELETED_ID, DEMO_EMAIL, DEMO_MO_ID,
    DEMO_PASSWORD, DEMO_RESELLER_ID, DEMO_SUSPENDED_ID, DEMO_TOKEN, EnhanceConfig, EnhanceSim,
    Login,
};
use serde_json::{Value, json};

use crate::harness::{Demo, Gateway, Http};

const GIB: u64 = 1024 * 1024 * 1024;

fn enhance(d: &Demo) -> &EnhanceSim {
    d.sims.get()
}

/// The value of one metric of `GET /v1/orgs/{org}/usage`.
async fn usage(d: &Demo, metric: &str) -> u64 {
    let u = d.get("/v1/orgs/acme-hosting/usage").await;
    assert_eq!(u.status, 200, "{}", String::from_utf8_lossy(&u.body));
    u.json()["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["metric"] == metric)
        .and_then(|m| m["value"].as_u64())
        .unwrap_or_else(|| panic!("no {metric} in the usage"))
}

/// Creates a customer of the reseller; returns its canonical id.
async fn new_customer(d: &Demo, name: &str) -> String {
    let a = d
        .send_json(
            Method::POST,
            "/v1/orgs/acme-hosting/customers",
            &json!({ "name": name }).to_string(),
        )
        .await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    a.json()["id"].as_str().unwrap().to_owned()
}

async fn subscribe(d: &Demo, customer: &str, plan: &str) -> crate::harness::Answer {
    d.send_json(
        Method::POST,
        &format!("/v1/orgs/acme-hosting/customers/{customer}/subscriptions"),
        &json!({ "planId": plan }).to_string(),
    )
    .await
}

#[tokio::test]
async fn a_customer_is_created_listed_subscribed_and_its_usage_shown() {
    let d = Demo::start().await;
    let sim = enhance(&d);
    let websites = usage(&d, "websites").await;
    let disk = usage(&d, "diskspace").await;

    // Create: 201, Location, the new org as the simulator holds it.
    let a = d
        .send_json(
            Method::POST,
            "/v1/orgs/acme-hosting/customers",
            r#"{"name":"Harbour Books"}"#,
        )
        .await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    let org = a.json();
    let id = org["id"].as_str().unwrap().to_owned();
    let native = org["nativeId"].as_str().unwrap().to_owned();
    assert_eq!(id, format!("enhance:{native}"));
    let held = sim
        .org(&native)
        .expect("the simulator holds the new customer");
    assert_eq!(held["name"], "Harbour Books");
    assert_eq!(
        (
            org["name"].as_str(),
            org["status"].as_str(),
            org["kind"].as_str()
        ),
        (Some("Harbour Books"), Some("active"), Some("enhance"))
    );
    assert_eq!(org["parentId"], format!("enhance:{DEMO_RESELLER_ID}"));
    assert_eq!(org["counts"], json!({"websites": 0, "subscriptions": 0}));
    let location = a.headers["location"].to_str().unwrap().to_owned();
    assert_eq!(location, format!("/v1/orgs/{id}"));
    let again = d.get(&location).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["id"], id, "the Location is the new org");

    // List: the reseller's customers include it.
    let list = d.get("/v1/orgs/acme-hosting/customers").await.json();
    assert_eq!(list["total"], 4);
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["id"] == id)
    );

    // Subscribe it to the Business plan: 201 with the subscription read back.
    let a = subscribe(&d, &id, &DEMO_BUSINESS_PLAN_ID.to_string()).await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    let sub = a.json();
    assert_eq!(
        (
            sub["planId"].as_str(),
            sub["planName"].as_str(),
            sub["status"].as_str()
        ),
        (Some("3"), Some("Business"), Some("active"))
    );
    assert_eq!(sub["subscriberId"], id);
    assert_eq!(sub["vendorId"], format!("enhance:{DEMO_RESELLER_ID}"));
    assert!(sub["id"].as_str().unwrap().parse::<u64>().is_ok(), "{sub}");
    let held = sim.subscriptions_of(&native);
    assert_eq!(held.len(), 1, "the simulator holds the subscription");
    assert_eq!(held[0]["id"].to_string(), sub["id"].as_str().unwrap());
    let post = enhance(&d)
        .server()
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.method == "POST")
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&post.body).unwrap(),
        json!({"planId": 3}),
        "an integer planId on the wire"
    );

    // List its subscriptions with their resource usage.
    let subs = d
        .get(&format!(
            "/v1/orgs/acme-hosting/customers/{id}/subscriptions"
        ))
        .await;
    assert_eq!(subs.status, 200, "{}", String::from_utf8_lossy(&subs.body));
    let subs = subs.json();
    assert_eq!(subs["total"], 1);
    assert_eq!(
        subs["items"][0]["resources"],
        json!([
            {"resource": "websites", "used": 0, "limit": 5, "unit": "count"},
            {"resource": "diskspace", "used": 0, "limit": 20 * GIB, "unit": "bytes"},
            {"resource": "mailboxes", "used": 0, "limit": null, "unit": "count"}
        ])
    );

    // The reseller's own usage rose by the sold amount.
    assert_eq!(usage(&d, "websites").await, websites + 5);
    assert_eq!(usage(&d, "diskspace").await, disk + 20 * GIB);

    // Plans on offer: quotas from resources, unlimited as null.
    let plans = d.get("/v1/orgs/acme-hosting/plans?sort=-name").await.json();
    let names: Vec<&str> = plans["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Starter", "Business"]);
    assert_eq!(
        plans["items"][1]["quotas"][2],
        json!({"resource": "mailboxes", "limit": null, "unit": "count"})
    );
    assert_eq!(plans["items"][1]["assignees"], Value::Null);
}

#[tokio::test]
async fn exhausting_the_resellers_quota_is_a_normalized_409_that_changes_nothing() {
    let d = Demo::start().await;
    let sim = enhance(&d);
    // 6 of the reseller's 20 websites are sold; each Business sale takes 5.
    for name in ["Quota One", "Quota Two"] {
        let c = new_customer(&d, name).await;
        assert_eq!(subscribe(&d, &c, "3").await.status, 201);
    }
    assert_eq!(usage(&d, "websites").await, 16);
    let third = new_customer(&d, "Quota Three").await;
    let before = sim.snapshot();
    let e = subscribe(&d, &third, "3").await.error(409, "conflict");
    assert_eq!(
        (e["backend"].as_str(), e["backendStatus"].as_u64()),
        (Some("enhance"), Some(409))
    );
    assert!(e["message"].as_str().unwrap().contains("quota"), "{e}");
    assert_eq!(
        sim.snapshot(),
        before,
        "a refused sale leaves nothing behind"
    );
    assert_eq!(usage(&d, "websites").await, 16);
    let subs = d
        .get(&format!(
            "/v1/orgs/acme-hosting/customers/{third}/subscriptions"
        ))
        .await
        .json();
    assert_eq!(subs["total"], 0);
    // A plan that still fits is sold.
    assert_eq!(subscribe(&d, &third, "2").await.status, 201);
    assert_eq!(usage(&d, "websites").await, 17);
}

#[tokio::test]
async fn refused_and_failed_writes_leave_no_state_behind() {
    let d = Demo::start().await;
    let sim = enhance(&d);
    let customers = "/v1/orgs/acme-hosting/customers";
    let before = sim.snapshot();
    // Duplicate names (without regard to case) are 409.
    d.send_json(Method::POST, customers, r#"{"name":"blue bakery"}"#)
        .await
        .error(409, "conflict");
    // Already subscribed to that plan: 409; a plan the reseller does not offer: 404.
    let bakery = format!("enhance:{DEMO_CUSTOMER_ID}");
    subscribe(&d, &bakery, "2").await.error(409, "conflict");
    subscribe(&d, &bakery, "999").await.error(404, "not_found");
    subscribe(&d, &bakery, "1").await.error(404, "not_found");
    assert_eq!(sim.snapshot(), before);

    // The vendor failing or the connection dropping: not acknowledged, and nothing held.
    for plan in [
        FaultPlan {
            status: Some(500),
            remaining: Some(1),
            ..FaultPlan::default()
        },
        FaultPlan {
            drop_connection: true,
            remaining: Some(1),
            ..FaultPlan::default()
        },
    ] {
        sim.server().faults().set(plan);
        let a = d
            .send_json(Method::POST, customers, r#"{"name":"Never Held"}"#)
            .await;
        sim.server().faults().clear();
        a.error(502, "backend_error");
        assert_eq!(sim.snapshot(), before);
    }
}

#[tokio::test]
async fn a_write_refused_for_a_lapsed_session_whose_renewal_times_out_leaves_its_key_free() {
    let d = Demo::start_with(|t| t.replace("timeout_ms = 5000", "timeout_ms = 800")).await;
    let sim = enhance(&d);
    let customers = d.gw.url("/v1/orgs/acme-hosting/customers");
    assert_eq!(
        d.get("/v1/orgs/acme-hosting").await.status,
        200,
        "logged in"
    );
    let before = sim.snapshot();
    // The session lapses: the write is refused (401, nothing done), and the renewal's login
    // is held past the deadline.
    sim.expire_sessions();
    sim.server().faults().set(FaultPlan {
        latency_ms: 3000,
        after: 1,
        remaining: Some(1),
        ..FaultPlan::default()
    });
    let post = || async {
        d.client
            .send(
                Method::POST,
                &customers,
                &[
                    ("content-type", "application/json"),
                    ("idempotency-key", "lapsed-1"),
                ],
                Some(br#"{"name":"Lapsed Session Bakery"}"#.to_vec()),
            )
            .await
    };
    let e = post().await.error(504, "backend_timeout");
    assert_eq!(e["details"].get("outcome"), None, "nothing was done: {e}");
    assert_eq!(sim.snapshot(), before);
    // The key is free: its retry runs, and makes the customer once.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    sim.server().faults().clear();
    let made = post().await;
    assert_eq!(made.status, 201, "{}", String::from_utf8_lossy(&made.body));
    let again = post().await;
    assert_eq!(again.status, 201);
    assert_eq!(
        again
            .headers
            .get("idempotent-replayed")
            .map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );
}

#[tokio::test]
async fn ids_are_checked_before_any_call() {
    let d = Demo::start().await;
    let sim = enhance(&d);
    d.get("/v1/backends/enhance/orgs?limit=1").await; // logs in
    let before = sim.server().request_count();
    d.get("/v1/orgs/enhance:42")
        .await
        .error(400, "invalid_org_ref");
    d.get("/v1/orgs/enhance:3fa85f64-5717-4562-b3fc-2c963f66afa")
        .await
        .error(400, "invalid_org_ref");
    d.get("/v1/orgs/acme-hosting/customers/enhance:nope/subscriptions")
        .await
        .error(400, "invalid_org_ref");
    let bakery = format!("enhance:{DEMO_CUSTOMER_ID}");
    for plan in ["gold", "-1", "5.0", ""] {
        let e = subscribe(&d, &bakery, plan).await;
        assert_eq!(
            e.status,
            400,
            "{plan}: {}",
            String::from_utf8_lossy(&e.body)
        );
    }
    d.send_json(
        Method::POST,
        &format!("/v1/orgs/acme-hosting/customers/{bakery}/subscriptions"),
        r#"{"planId":3}"#,
    )
    .await
    .error(400, "bad_request");
    d.send_json(Method::PUT, "/v1/orgs/acme-hosting/plans/2", "{}")
        .await
        .error(501, "unsupported");
    assert_eq!(
        sim.server().request_count(),
        before,
        "no call reached the simulator"
    );
    // Upper case is the same org, canonical in the answer.
    let upper = DEMO_CUSTOMER_ID.to_ascii_uppercase();
    let one = d.get(&format!("/v1/orgs/enhance:{upper}")).await.json();
    assert_eq!(one["id"], bakery);
}

#[tokio::test]
async fn customer_lists_map_filters_sorts_and_paging() {
    let d = Demo::start().await;
    let sim = enhance(&d);
    let names = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let get = |q: &'static str| {
        let d = &d;
        async move {
            let a = d.get(&format!("/v1/orgs/acme-hosting/customers{q}")).await;
            assert_eq!(a.status, 200, "{q}: {}", String::from_utf8_lossy(&a.body));
            a.json()
        }
    };
    assert_eq!(
        names(&get("").await),
        ["Blue Bakery", "Dev Agency", "Corner Cafe"]
    );
    assert_eq!(get("?recursive=true").await["total"], 4);
    assert_eq!(get("?recursive=true&maxDepth=1").await["total"], 3);
    let suspended = get("?status=suspended").await;
    assert_eq!(names(&suspended), ["Corner Cafe"]);
    assert_eq!(suspended["items"][0]["status"], "suspended");
    assert_eq!(
        suspended["items"][0]["id"],
        format!("enhance:{DEMO_SUSPENDED_ID}")
    );
    let deleted = get("?status=deleted").await;
    assert_eq!(
        (names(&deleted), deleted["items"][0]["status"].as_str()),
        (vec!["Old Client".to_owned()], Some("deleted"))
    );
    assert_eq!(deleted["items"][0]["nativeId"], DEMO_DELETED_ID);

    // A native sort is Enhance's; status is sorted by the gateway.
    let desc = get("?sort=-name&recursive=true").await;
    assert_eq!(
        names(&desc),
        ["Tiny Shop", "Dev Agency", "Corner Cafe", "Blue Bakery"]
    );
    let r = sim.server().requests().into_iter().last().unwrap();
    assert_eq!(
        (
            r.query_param("sortBy").as_deref(),
            r.query_param("sortOrder").as_deref(),
            r.query_param("recursive").as_deref()
        ),
        (Some("name"), Some("desc"), Some("true"))
    );
    let by_status = get("?sort=-status").await;
    assert_eq!(by_status["items"][0]["status"], "suspended");
    let r = sim.server().requests().into_iter().last().unwrap();
    assert_eq!(r.query_param("sortBy"), None, "no native status sort");
    d.get("/v1/orgs/acme-hosting/customers?sort=updatedAt")
        .await
        .error(400, "bad_request");

    // Pages follow the cursor.
    let first = get("?limit=2").await;
    assert_eq!((names(&first).len(), first["total"].as_u64()), (2, Some(3)));
    let cursor = first["nextCursor"].as_str().unwrap();
    let second = d
        .get(&format!(
            "/v1/orgs/acme-hosting/customers?limit=2&cursor={cursor}"
        ))
        .await
        .json();
    assert_eq!(
        (names(&second), second["nextCursor"].clone()),
        (vec!["Corner Cafe".to_owned()], Value::Null)
    );
    let r = sim.server().requests().into_iter().last().unwrap();
    assert_eq!(
        (
            r.query_param("offset").as_deref(),
            r.query_param("limit").as_deref()
        ),
        (Some("2"), Some("2"))
    );

    // The backend's orgs are the configured org's customers, all levels down.
    let orgs = d.get("/v1/backends/enhance/orgs").await.json();
    assert_eq!(orgs["total"], 4);
}

#[tokio::test]
async fn orgs_are_patched_suspended_and_deleted() {
    let d = Demo::start().await;
    let sim = enhance(&d);
    let path = format!("/v1/orgs/enhance:{DEMO_CUSTOMER_ID}");
    let a = d
        .send_json(Method::PATCH, &path, r#"{"name":"Blue Bakery Ltd"}"#)
        .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.json()["name"], "Blue Bakery Ltd");
    assert_eq!(
        sim.org(DEMO_CUSTOMER_ID).unwrap()["name"],
        "Blue Bakery Ltd"
    );
    let a = d
        .send_json(Method::PATCH, &path, r#"{"status":"suspended"}"#)
        .await;
    assert_eq!(a.json()["status"], "suspended");
    assert_eq!(
        sim.org(DEMO_CUSTOMER_ID).unwrap()["suspendedBy"],
        DEMO_RESELLER_ID
    );
    let a = d
        .send_json(Method::PATCH, &path, r#"{"status":"active"}"#)
        .await;
    assert_eq!(a.json()["status"], "active");
    let before = sim.snapshot();
    d.send_json(Method::PATCH, &path, r#"{"description":"x"}"#)
        .await
        .error(422, "unsupported_field");
    d.send_json(Method::PATCH, &path, r#"{"status":"disabled"}"#)
        .await
        .error(422, "unsupported_field");
    d.send_json(Method::PATCH, &path, r#"{"name":"Dev Agency"}"#)
        .await
        .error(400, "bad_request");
    assert_eq!(sim.snapshot(), before);

    let a = d
        .client
        .send(Method::DELETE, &d.gw.url(&path), &[], None)
        .await;
    assert_eq!(a.status, 204);
    assert_eq!(d.get(&path).await.json()["status"], "deleted");
    // The MO is outside the reseller's reach: the gateway's credentials are refused there.
    d.get(&format!("/v1/orgs/enhance:{DEMO_MO_ID}"))
        .await
        .error(502, "backend_auth_failed");
}

#[tokio::test]
async fn customers_added_is_a_series() {
    let d = Demo::start().await;
    let a = d
        .get("/v1/orgs/acme-hosting/usage/customers-added?interval=day")
        .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let s = a.json();
    assert_eq!(
        (s["unit"].as_str(), s["interval"].as_str()),
        (Some("count"), Some("day"))
    );
    // The last 30 days: Blue Bakery (20 days ago), Dev Agency (12), Corner Cafe (5).
    assert_eq!(s["total"], 3);
    let points = s["points"].as_array().unwrap();
    assert!(points.len() >= 30 && points.len() <= 31, "{}", points.len());
    let total = d
        .get("/v1/orgs/acme-hosting/usage/customers-added?interval=total")
        .await
        .json();
    assert_eq!(
        (
            total["points"].as_array().unwrap().len(),
            total["points"][0]["value"].as_u64()
        ),
        (1, Some(3))
    );
    let r = enhance(&d).server().requests().into_iter().last().unwrap();
    assert_eq!(r.query_param("timeInterval").as_deref(), Some("day"));
    // By month: the days inside the range, summed per calendar month (the range starts inside
    // one), as the other dialects do; the same three customers, whatever the day of the month.
    let months = d
        .get("/v1/orgs/acme-hosting/usage/customers-added?interval=month")
        .await
        .json();
    assert_eq!(months["total"], 3, "{months}");
    let sum: u64 = months["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, 3);
    assert!(
        months["points"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["at"].as_str().unwrap()[8..].starts_with("01T00:00:00")),
        "{months}"
    );
    let e = d
        .get("/v1/orgs/acme-hosting/usage/devices")
        .await
        .error(501, "unsupported");
    assert_eq!(e["details"]["supported"], json!(["customers-added"]));
}

#[tokio::test]
async fn one_login_however_many_calls_wait_and_a_lapsed_session_is_renewed() {
    let d = Demo::start().await;
    let sim = enhance(&d);
    let burst = |n: usize| {
        let (http, url) = (d.client.clone(), d.gw.url("/v1/orgs/acme-hosting"));
        async move {
            let mut tasks = Vec::new();
            for _ in 0..n {
                let (http, url) = (http.clone(), url.clone());
                tasks.push(tokio::spawn(async move {
                    http.send(Method::GET, &url, &[], None)
                        .await
                        .status
                        .as_u16()
                }));
            }
            let mut out = Vec::new();
            for t in tasks {
                out.push(t.await.unwrap());
            }
            out
        }
    };
    assert!(burst(20).await.iter().all(|s| *s == 200));
    assert_eq!(sim.logins(), 1, "one login for twenty waiting calls");
    sim.expire_sessions();
    assert!(burst(20).await.iter().all(|s| *s == 200));
    assert_eq!(sim.logins(), 2, "one renewal after the session lapsed");
    let login = sim
        .server()
        .requests()
        .into_iter()
        .find(|r| r.path == "/login/sessions")
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&login.body).unwrap(),
        json!({"email": DEMO_EMAIL, "password": DEMO_PASSWORD})
    );
    let call = sim.server().requests().into_iter().last().unwrap();
    assert!(call.header("cookie").unwrap().starts_with("id0="));
    assert_eq!(call.header("authorization"), None);
}

/// A gateway with one Enhance backend on `sim`, its credential keys given as `creds`.
async fn gateway_for(sim: &EnhanceSim, creds: &str) -> Gateway {
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[auth]\nmode = \"off\"\n\n[[backends]]\nname = \"hosting\"\nkind = \"enhance\"\nbase_url = \"{}\"\norg_id = \"{DEMO_RESELLER_ID}\"\n{creds}\n",
        sim.base_url()
    );
    let config =
        orgway::Config::parse(
            &text,
            "t.toml",
            std::path::Path::new("."),
            &|n: &str| match n {
                "TOKEN" => Some(DEMO_TOKEN.to_owned()),
                "BAD" => Some("wrong-secret".to_owned()),
                "PW" => Some("pw".to_owned()),
                _ => None,
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
    Gateway::start(config).await
}

#[tokio::test]
async fn an_api_token_is_sent_as_bearer_and_refusals_are_backend_auth_failed() {
    let sim = EnhanceSim::start(EnhanceConfig {
        logins: vec![Login {
            email: "otp@acme.example".into(),
            password: "pw".into(),
            org_id: DEMO_RESELLER_ID.into(),
            two_factor: true,
        }],
        ..EnhanceConfig::default()
    })
    .await
    .unwrap();
    let http = Http::new();
    let org = format!("/v1/orgs/hosting:{DEMO_CUSTOMER_ID}");

    let gw = gateway_for(&sim, "token = \"${TOKEN}\"").await;
    let a = http.send(Method::GET, &gw.url(&org), &[], None).await;
    assert_eq!(a.status, 200);
    let r = sim.server().requests().into_iter().last().unwrap();
    assert_eq!(
        r.header("authorization"),
        Some(&*format!("Bearer {DEMO_TOKEN}"))
    );
    gw.stop().await.unwrap();

    // A refused token, a wrong password and a login that needs a second factor: each is
    // backend_auth_failed. A refused login is remembered rather than tried again at once; a
    // token has nothing to renew, so each call is sent once with it and no login is tried.
    let logins = |sim: &EnhanceSim| {
        sim.server()
            .requests()
            .iter()
            .filter(|r| r.path == "/login/sessions")
            .count()
    };
    for (creds, max_requests) in [
        ("token = \"${BAD}\"", 5),
        ("email = \"otp@acme.example\"\npassword = \"${BAD}\"", 1),
        ("email = \"otp@acme.example\"\npassword = \"${PW}\"", 1),
    ] {
        let gw = gateway_for(&sim, creds).await;
        let before = sim.server().request_count();
        let logins_before = logins(&sim);
        for _ in 0..5 {
            let a = http.send(Method::GET, &gw.url(&org), &[], None).await;
            let body: Value = serde_json::from_slice(&a.body).unwrap();
            assert_eq!(a.status, 502, "{creds}: {body}");
            assert_eq!(body["error"]["code"], "backend_auth_failed", "{creds}");
            let text = body.to_string();
            assert!(!text.contains("wrong-secret"), "{text}");
        }
        assert_eq!(
            sim.server().request_count() - before,
            max_requests,
            "{creds}: refused logins are backed off, not retried on every call"
        );
        assert_eq!(
            logins(&sim) - logins_before,
            if creds.starts_with("token") { 0 } else { 1 },
            "{creds}"
        );
        gw.stop().await.unwrap();
    }
    assert_eq!(sim.logins(), 0);
}

#[tokio::test]
async fn a_hung_login_is_abandoned_at_the_backends_timeout() {
    let d = Demo::start_with(|t| t.replace("timeout_ms = 5000", "timeout_ms = 800")).await;
    let sim = enhance(&d);
    // The first request the simulator sees is the login: it hangs for 3 s.
    sim.server().faults().set(FaultPlan {
        latency_ms: 3_000,
        remaining: Some(1),
        ..FaultPlan::default()
    });
    let started = std::time::Instant::now();
    d.get("/v1/orgs/acme-hosting")
        .await
        .error(504, "backend_timeout");
    assert!(started.elapsed() < std::time::Duration::from_millis(2_500));
    // Past its deadline the hung login is abandoned: the next call logs in anew at once.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let a = d.get("/v1/orgs/acme-hosting").await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert!(started.elapsed() < std::time::Duration::from_millis(2_500));
}

#[tokio::test]
async fn a_subscription_sold_shows_at_once_in_the_cached_org_list() {
    let d = Demo::start_cached(|t| t).await;
    let customer = new_customer(&d, "List Watcher").await;
    let list = "/v1/backends/enhance/orgs";
    let subscriptions = |a: &crate::harness::Answer| {
        a.json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["id"] == customer.as_str())
            .map(|o| o["counts"]["subscriptions"].clone())
    };
    d.get(list).await;
    let before = d.get(list).await;
    assert_eq!(before.headers["x-cache"], "hit");
    assert_eq!(subscriptions(&before), Some(json!(0)));
    let sold = subscribe(&d, &customer, &DEMO_BUSINESS_PLAN_ID.to_string()).await;
    assert_eq!(sold.status, 201, "{}", String::from_utf8_lossy(&sold.body));
    // The list shows the customer's count of subscriptions: it is read again, not the hit.
    let after = d.get(list).await;
    assert_eq!(after.headers["x-cache"], "miss");
    assert_eq!(subscriptions(&after), Some(json!(1)));
}
