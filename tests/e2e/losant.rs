//! Every Losant route of the gateway, end to end: the real server, the real simulator,
//! loopback sockets.

use http::Method;
use orgway_sim::FaultPlan;
use orgway_sim::losant::DEMO_ORG_ID;
use serde_json::Value;

use crate::harness::{Demo, assert_raw_without};

const ORG: &str = DEMO_ORG_ID;

fn by_id(id: &str) -> String {
    format!("/v1/orgs/losant:{id}")
}

#[tokio::test]
async fn get_org_by_alias_and_by_reference() {
    let d = Demo::start().await;
    let sim_org = d.losant().org(ORG).unwrap();

    let a = d.get("/v1/orgs/acme").await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let v = a.json();
    assert_eq!(v["id"], format!("losant:{ORG}"));
    assert_eq!(v["alias"], "acme");
    assert_eq!(v["backend"], "losant");
    assert_eq!(v["kind"], "losant");
    assert_eq!(v["nativeId"], ORG);
    assert_eq!(v["name"], sim_org["name"]);
    assert_eq!(v["status"], "active");
    assert_eq!(v["parentId"], Value::Null);
    assert_eq!(v["counts"]["devices"], sim_org["summary"]["deviceCount"]);
    assert_eq!(v["counts"]["members"], sim_org["summary"]["memberCount"]);
    assert!(v["createdAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(v["meta"]["backend"], "losant");
    assert_eq!(v["meta"]["kind"], "losant");
    assert_eq!(v["meta"]["cache"], "bypass");
    assert!(v.get("raw").is_none(), "raw only when asked");

    let b = d.get(&by_id(ORG)).await.json();
    let strip = |mut v: Value| {
        v["meta"]["fetchedAt"] = Value::Null;
        v
    };
    assert_eq!(strip(v), strip(b), "alias and backend:id name the same org");

    // Ids are canonicalized: upper-case hex names the same org.
    let c = d.get(&by_id(&ORG.to_uppercase())).await.json();
    assert_eq!(c["id"], format!("losant:{ORG}"));

    // include=raw carries the vendor record untouched.
    let r = d.get("/v1/orgs/acme?include=raw").await.json();
    assert_eq!(r["raw"]["id"], ORG);
    assert!(r["raw"]["summary"].is_object());
}

#[tokio::test]
async fn include_raw_never_shows_the_billing_contact() {
    let d = Demo::start().await;
    // The vendor's record holds the billing contact's address.
    let email = d.losant().org(ORG).unwrap()["billingEmail"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(email.contains('@'));

    assert_raw_without(
        &d,
        &[
            "/v1/orgs/acme?include=raw",
            "/v1/backends/losant/orgs?include=raw&limit=50",
            "/v1/orgs/acme/usage?include=raw",
        ],
        &["billingEmail"],
        &[&email],
    )
    .await;
    // The rest of the record is kept.
    let r = d.get("/v1/orgs/acme?include=raw").await.json();
    assert_eq!(r["raw"]["id"], ORG);
    assert!(r["raw"]["customerId"].is_string());

    let backends = d.get("/v1/backends").await.json();
    let losant = backends["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["kind"] == "losant")
        .unwrap();
    assert_eq!(
        losant["capabilities"]["rawRedactions"],
        serde_json::json!(["billingEmail"])
    );
}

#[tokio::test]
async fn a_2xx_html_page_in_place_of_an_answer_is_no_acknowledgement() {
    // A proxy in front of the vendor answers 200 with its maintenance page: nothing says what
    // the vendor did, so neither a read nor a write takes it as a success.
    let d = Demo::start().await;
    let page = FaultPlan {
        status: Some(200),
        html_page: true,
        remaining: Some(1),
        ..FaultPlan::default()
    };
    d.losant().server().faults().set(page.clone());
    let delete = || async {
        d.client
            .send(
                Method::DELETE,
                &d.gw.url("/v1/orgs/acme"),
                &[("idempotency-key", "html-1")],
                None,
            )
            .await
    };
    let e = delete().await.error(502, "backend_bad_response");
    assert_eq!(e["details"]["outcome"], "unknown", "{e}");
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("HTML page") && m.contains("Down for maintenance")),
        "{e}"
    );
    // Not sent again, and the org is still there.
    let again = delete().await.error(409, "conflict");
    assert_eq!(again["details"]["outcome"], "unknown");
    assert_eq!(d.get("/v1/orgs/acme").await.status, 200);
    // A read is a bad answer too (its retries meet the vendor's own answer: the page was one).
    d.losant().server().faults().set(FaultPlan {
        remaining: None,
        ..page
    });
    d.get("/v1/orgs/acme/usage")
        .await
        .error(502, "backend_bad_response");
}

#[tokio::test]
async fn patch_then_get_and_delete_then_404() {
    let d = Demo::start().await;
    let a = d
        .send_json(
            Method::PATCH,
            "/v1/orgs/acme",
            r#"{"name":"Acme Renamed","description":"new words"}"#,
        )
        .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.json()["name"], "Acme Renamed");
    let g = d.get("/v1/orgs/acme").await.json();
    assert_eq!(g["name"], "Acme Renamed");
    assert_eq!(g["description"], "new words");
    // The vendor saw exactly the change.
    let patch = d
        .losant()
        .server()
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH")
        .unwrap();
    let sent: Value = serde_json::from_slice(&patch.body).unwrap();
    assert_eq!(
        sent,
        serde_json::json!({"name": "Acme Renamed", "description": "new words"})
    );

    // Clearing the description and disabling the org.
    let a = d
        .send_json(
            Method::PATCH,
            "/v1/orgs/acme",
            r#"{"description":null,"status":"disabled"}"#,
        )
        .await
        .json();
    assert_eq!(a["description"], Value::Null);
    assert_eq!(a["status"], "disabled");
    let a = d
        .send_json(Method::PATCH, "/v1/orgs/acme", r#"{"status":"active"}"#)
        .await
        .json();
    assert_eq!(a["status"], "active");

    // A status Losant cannot hold, and an empty patch.
    d.send_json(Method::PATCH, "/v1/orgs/acme", r#"{"status":"suspended"}"#)
        .await
        .error(422, "unsupported_field");
    let same = d.send_json(Method::PATCH, "/v1/orgs/acme", "{}").await;
    assert_eq!(same.status, 200);
    assert_eq!(same.json()["name"], "Acme Renamed");

    let del = d
        .client
        .send(Method::DELETE, &d.gw.url("/v1/orgs/acme"), &[], None)
        .await;
    assert_eq!(del.status, 204);
    assert!(del.body.is_empty());
    let e = d.get("/v1/orgs/acme").await.error(404, "not_found");
    assert_eq!(e["backend"], "losant");
    assert_eq!(e["backendStatus"], 404);
    assert!(d.losant().org(ORG).is_none());
}

#[tokio::test]
async fn device_series_has_correct_timestamps() {
    let d = Demo::start().await;
    let a = d
        .get(&format!(
            "{}/usage/devices?from=2016-06-13T00:00:00Z&to=2016-06-16T00:00:00Z&interval=day",
            by_id(ORG)
        ))
        .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let v = a.json();
    assert_eq!(v["org"], format!("losant:{ORG}"));
    assert_eq!(v["metric"], "devices");
    assert_eq!(v["unit"], "count");
    assert_eq!(v["interval"], "day");
    assert_eq!(v["from"], "2016-06-13T00:00:00Z");
    assert_eq!(v["to"], "2016-06-16T00:00:00Z");
    assert_eq!(v["total"], Value::Null, "device totals are a gauge");
    let ats: Vec<&str> = v["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["at"].as_str().unwrap())
        .collect();
    assert_eq!(
        ats,
        [
            "2016-06-13T00:00:00Z",
            "2016-06-14T00:00:00Z",
            "2016-06-15T00:00:00Z"
        ]
    );
    for p in v["points"].as_array().unwrap() {
        assert!(p["value"].is_u64());
        assert!(p["detail"]["created"].is_u64() && p["detail"]["deleted"].is_u64());
    }
    // Consecutive totals differ by created minus deleted.
    let pts = v["points"].as_array().unwrap();
    for w in pts.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let expect = a["value"].as_i64().unwrap() + b["detail"]["created"].as_i64().unwrap()
            - b["detail"]["deleted"].as_i64().unwrap();
        assert_eq!(b["value"].as_i64().unwrap(), expect);
    }
    // The vendor got milliseconds since the epoch, as strings.
    let r = d
        .losant()
        .server()
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/deviceCounts"))
        .unwrap();
    assert_eq!(r.query_param("start").as_deref(), Some("1465776000000"));
    assert_eq!(r.query_param("end").as_deref(), Some("1466035200000"));

    // Milliseconds are accepted as input too, and month grouping works.
    let m = d
        .get(&format!(
            "{}/usage/devices?from=1464739200000&to=1467331200000&interval=month",
            by_id(ORG)
        ))
        .await
        .json();
    assert_eq!(m["points"].as_array().unwrap().len(), 1);
    assert_eq!(m["points"][0]["at"], "2016-06-01T00:00:00Z");
}

#[tokio::test]
async fn payload_totals_and_series() {
    let d = Demo::start().await;
    let range = "from=2016-06-13T00:00:00Z&to=2016-06-14T00:00:00Z";
    let t = d
        .get(&format!(
            "/v1/orgs/acme/usage/payloads?{range}&interval=total"
        ))
        .await;
    assert_eq!(t.status, 200, "{}", String::from_utf8_lossy(&t.body));
    let t = t.json();
    let pts = t["points"].as_array().unwrap();
    assert_eq!(pts.len(), 1);
    assert_eq!(pts[0]["at"], "2016-06-13T00:00:00Z");
    let detail = pts[0]["detail"].as_object().unwrap();
    assert!(!detail.is_empty(), "per-type detail: {t}");
    let sum: u64 = detail.values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(pts[0]["value"].as_u64().unwrap(), sum);
    assert_eq!(t["total"].as_u64().unwrap(), sum);
    assert!(
        d.losant()
            .server()
            .requests()
            .iter()
            .any(|r| r.path.ends_with("/payloadCounts"))
    );

    let h = d
        .get(&format!(
            "/v1/orgs/acme/usage/payloads?{range}&interval=hour"
        ))
        .await
        .json();
    let hours = h["points"].as_array().unwrap();
    assert_eq!(hours.len(), 24);
    assert_eq!(hours[1]["at"], "2016-06-13T01:00:00Z");
    let day = d
        .get(&format!(
            "/v1/orgs/acme/usage/payloads?{range}&interval=day"
        ))
        .await
        .json();
    assert_eq!(day["points"].as_array().unwrap().len(), 1);
    let req = d
        .losant()
        .server()
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path.ends_with("/payloadCountsBreakdown"))
        .unwrap();
    assert_eq!(req.query_param("resolution").as_deref(), Some("86400000"));

    // A range starting inside a day: the total counts the days `interval=day` has (those
    // starting inside the range), whichever vendor action it comes from.
    let inside = "from=2016-06-13T12:00:00Z&to=2016-06-15T00:00:00Z";
    let sum_of = |v: &serde_json::Value| -> u64 {
        v["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["value"].as_u64().unwrap())
            .sum()
    };
    let by_day = d
        .get(&format!(
            "/v1/orgs/acme/usage/payloads?{inside}&interval=day"
        ))
        .await
        .json();
    assert_eq!(by_day["points"].as_array().unwrap().len(), 1, "{by_day}");
    let total = d
        .get(&format!(
            "/v1/orgs/acme/usage/payloads?{inside}&interval=total"
        ))
        .await
        .json();
    assert_eq!(total["total"].as_u64(), Some(sum_of(&by_day)), "{total}");
    let total_all = d
        .get(&format!(
            "/v1/orgs/acme/usage/payloads?{inside}&interval=total&billable=false"
        ))
        .await
        .json();
    let by_day_all = d
        .get(&format!(
            "/v1/orgs/acme/usage/payloads?{inside}&interval=day&billable=false"
        ))
        .await
        .json();
    assert_eq!(total_all["total"].as_u64(), Some(sum_of(&by_day_all)));
    // Inside one day: no day starts in it, nothing counted, nothing asked.
    let calls = d.losant_calls();
    let none = d
        .get("/v1/orgs/acme/usage/payloads?from=2016-06-13T06:00:00Z&to=2016-06-13T18:00:00Z&interval=total")
        .await
        .json();
    assert_eq!(none["total"], 0, "{none}");
    assert_eq!(d.losant_calls(), calls);

    let bytes = d
        .get(&format!(
            "/v1/orgs/acme/usage/payloads?{range}&unit=bytes&billable=false"
        ))
        .await
        .json();
    assert_eq!(bytes["unit"], "bytes");
    let req = d
        .losant()
        .server()
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path.ends_with("/payloadCountsBreakdown"))
        .unwrap();
    assert_eq!(req.query_param("asBytes").as_deref(), Some("true"));
    assert_eq!(
        req.query_param("includeNonBillable").as_deref(),
        Some("true")
    );

    let nb = d
        .get(&format!("/v1/orgs/acme/usage/notebook-minutes?{range}"))
        .await
        .json();
    assert_eq!(nb["unit"], "minutes");
    assert!(nb["total"].is_u64());
}

#[tokio::test]
async fn unsupported_metric_lists_the_supported_ones() {
    let d = Demo::start().await;
    let before = d.losant_calls();
    for metric in ["data-traffic", "bogus"] {
        let e = d
            .get(&format!("/v1/orgs/acme/usage/{metric}"))
            .await
            .error(501, "unsupported");
        assert_eq!(
            e["details"]["supported"],
            serde_json::json!(["devices", "notebook-minutes", "payloads"])
        );
        assert_eq!(e["backend"], "losant");
    }
    let e = d
        .get("/v1/orgs/acme/usage/devices?interval=hour")
        .await
        .error(501, "unsupported");
    assert_eq!(
        e["details"]["supported"],
        serde_json::json!(["day", "month", "total"])
    );
    // Routes the dialect has no operation for.
    let e = d.get("/v1/orgs/acme/plans").await.error(501, "unsupported");
    assert!(
        e["details"]["supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o == "org.get")
    );
    d.get("/v1/orgs/acme/customers")
        .await
        .error(501, "unsupported");
    d.send_json(Method::PUT, "/v1/orgs/acme/plans/gold", "{}")
        .await
        .error(501, "unsupported");
    assert_eq!(
        d.losant_calls(),
        before,
        "no backend call for unsupported routes"
    );
}

#[tokio::test]
async fn usage_summary() {
    let d = Demo::start().await;
    let sim_org = d.losant().org(ORG).unwrap();
    let v = d.get("/v1/orgs/acme/usage").await.json();
    assert_eq!(v["org"], format!("losant:{ORG}"));
    let metrics = v["metrics"].as_array().unwrap();
    let get = |m: &str| metrics.iter().find(|x| x["metric"] == m).cloned();
    assert_eq!(
        get("devices").unwrap()["value"],
        sim_org["summary"]["deviceCount"]
    );
    assert_eq!(get("devices").unwrap()["unit"], "count");
    assert_eq!(get("storage").unwrap()["unit"], "bytes");
    assert!(get("payloads").is_some(), "payloadCount is asked for: {v}");
}

#[tokio::test]
async fn listing_pages_with_cursors_and_sorts() {
    let d = Demo::start().await;
    let all_ids = d.losant().org_ids();
    let first = d.get("/v1/backends/losant/orgs?limit=2").await;
    assert_eq!(
        first.status,
        200,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    let first = first.json();
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    assert_eq!(first["total"], all_ids.len());
    // The first org by name is the one the routing file calls `acme`; the others have no alias.
    assert_eq!(first["items"][0]["alias"], "acme");
    assert_eq!(first["items"][1]["alias"], Value::Null);

    // Walk the whole list by cursor; every org once, in name order.
    let mut seen = Vec::new();
    let mut next = first["nextCursor"].as_str().map(str::to_owned);
    seen.extend(
        first["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap().to_owned()),
    );
    while let Some(c) = next {
        let page = d
            .get(&format!("/v1/backends/losant/orgs?limit=2&cursor={c}"))
            .await
            .json();
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["name"].as_str().unwrap().to_owned()),
        );
        next = page["nextCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen.len(), all_ids.len());
    let mut sorted = seen.clone();
    sorted.sort_by_key(|n| n.to_lowercase());
    assert_eq!(
        seen, sorted,
        "the backend's default order is by name, ignoring case"
    );

    // Descending by name, natively.
    let desc = d.get("/v1/backends/losant/orgs?sort=-name").await.json();
    let names: Vec<&str> = desc["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    let mut expect = names.clone();
    expect.sort_by_key(|n| std::cmp::Reverse(n.to_lowercase()));
    assert_eq!(names, expect);
    let req = d
        .losant()
        .server()
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.query_param("sortField").is_some())
        .unwrap();
    assert_eq!(req.query_param("sortDirection").as_deref(), Some("desc"));

    // By status, which Losant cannot sort: the gateway does, over the whole list.
    let by_status = d
        .get("/v1/backends/losant/orgs?sort=-status&limit=3")
        .await
        .json();
    let statuses: Vec<&str> = by_status["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.len(), 3);
    assert_eq!(by_status["total"], all_ids.len());
    let mut s = statuses.clone();
    s.sort_by(|a, b| b.cmp(a));
    assert_eq!(statuses, s);
    assert!(by_status["nextCursor"].is_string());

    // A cursor of one sort order is refused by another.
    let c = by_status["nextCursor"].as_str().unwrap();
    d.get(&format!("/v1/backends/losant/orgs?cursor={c}"))
        .await
        .error(400, "bad_request");
    d.get("/v1/backends/nope/orgs")
        .await
        .error(404, "not_found");
}

#[tokio::test]
async fn request_ids_are_kept_echoed_and_forwarded() {
    let d = Demo::start().await;
    let a = d
        .client
        .send(
            Method::GET,
            &d.gw.url("/v1/orgs/acme"),
            &[("x-request-id", "trace-abc-123")],
            None,
        )
        .await;
    assert_eq!(a.headers["x-request-id"], "trace-abc-123");
    let r = d.losant().server().requests().into_iter().last().unwrap();
    assert_eq!(r.header("x-request-id"), Some("trace-abc-123"));
    // The vendor's SDK headers and query controls.
    assert_eq!(r.header("accept"), Some("application/json"));
    assert_eq!(r.header("accept-version"), Some("^1.31.0"));
    assert_eq!(r.header("authorization"), Some("Bearer losant-demo-token"));
    assert_eq!(r.query_param("_actions").as_deref(), Some("false"));
    assert_eq!(r.query_param("_links").as_deref(), Some("true"));
    assert_eq!(r.query_param("_embedded").as_deref(), Some("true"));

    let bad = "x".repeat(200);
    let b = d
        .client
        .send(
            Method::GET,
            &d.gw.url("/v1/orgs/acme"),
            &[("x-request-id", &bad)],
            None,
        )
        .await;
    let generated = b.headers["x-request-id"].to_str().unwrap();
    assert_ne!(generated, bad);
    assert_eq!(generated.len(), 32);
    let e = d.get("/v1/orgs/nope").await.error(404, "not_found");
    assert!(e["requestId"].as_str().unwrap().len() == 32);
}

#[tokio::test]
async fn losantdomain_is_a_header_when_configured() {
    // Added to the Losant table only (its `instance_id` line): other dialects have no `domain`.
    let d = Demo::start_with(|t| {
        t.replace(
            "instance_id = \"575ec8687ae143cd83dc4a97\"",
            "instance_id = \"575ec8687ae143cd83dc4a97\"\ndomain = \"example.com\"",
        )
    })
    .await;
    d.get("/v1/orgs/acme").await;
    let r = d.losant().server().requests().into_iter().last().unwrap();
    assert_eq!(r.header("losantdomain"), Some("example.com"));
    assert_eq!(r.query_param("losantdomain"), None);
}

#[tokio::test]
async fn backend_failures_are_classified() {
    let d = Demo::start_with(|t| t.replacen("timeout_ms = 5000", "timeout_ms = 1500", 1)).await;
    let faults = d.losant().server().faults();

    faults.set(FaultPlan {
        latency_ms: 4000,
        remaining: Some(1),
        ..FaultPlan::default()
    });
    let e = d.get("/v1/orgs/acme").await.error(504, "backend_timeout");
    assert_eq!(e["message"], "losant did not answer within 1.5s");
    assert_eq!(e["backend"], "losant");

    faults.set(FaultPlan {
        malformed_body: true,
        remaining: Some(1),
        ..FaultPlan::default()
    });
    let e = d
        .get("/v1/orgs/acme")
        .await
        .error(502, "backend_bad_response");
    let message = e["message"].as_str().unwrap();
    assert!(
        message.starts_with("losant sent an org that does not parse: "),
        "{message}"
    );

    // Failures a retry may cure are retried: these last until cleared.
    faults.set(FaultPlan {
        status: Some(500),
        ..FaultPlan::default()
    });
    let e = d.get("/v1/orgs/acme").await.error(502, "backend_error");
    assert_eq!(e["backendStatus"], 500);

    faults.set(FaultPlan {
        status: Some(503),
        ..FaultPlan::default()
    });
    let a = d.get("/v1/orgs/acme").await;
    a.error(503, "backend_unavailable");
    assert!(a.headers.contains_key("retry-after"));
    faults.clear();

    faults.set(FaultPlan {
        status: Some(401),
        remaining: Some(1),
        ..FaultPlan::default()
    });
    d.get("/v1/orgs/acme")
        .await
        .error(502, "backend_auth_failed");

    // After failures, GET /v1/backends shows the backend's health.
    let b = d.get("/v1/backends").await.json();
    let health = &b["items"][0]["health"];
    assert_eq!(health["status"], "failing");
    assert!(health["failures"].as_u64().unwrap() >= 4);
    assert_eq!(d.get("/v1/orgs/acme").await.status, 200);
    let b = d.get("/v1/backends").await.json();
    assert_eq!(b["items"][0]["health"]["status"], "healthy");
}

#[tokio::test]
async fn unreachable_backend_is_503() {
    // A port that was free a moment ago: nothing listens there.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let d = Demo::start_with(|t| {
        t.replace(
            "${ORGWAY_DEMO_LOSANT_URL}",
            &format!("http://127.0.0.1:{port}"),
        )
    })
    .await;
    let e = d
        .get("/v1/orgs/acme")
        .await
        .error(503, "backend_unavailable");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("losant is unreachable"),
        "{e}"
    );
}

#[tokio::test]
async fn in_flight_requests_finish_on_shutdown() {
    let mut d = Demo::start().await;
    d.losant().server().faults().set(FaultPlan {
        latency_ms: 700,
        remaining: Some(1),
        ..FaultPlan::default()
    });
    let client = d.client.clone();
    let url = d.gw.url("/v1/orgs/acme");
    let before = d.losant_calls();
    let slow = tokio::spawn(async move { client.send(Method::GET, &url, &[], None).await });
    // Shut down only once the request is in flight (the backend has it).
    while d.losant_calls() == before {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    d.gw.signal_stop();
    let answer = slow.await.unwrap();
    assert_eq!(answer.status, 200, "the in-flight request finished");
    let Demo { gw, sims, .. } = d;
    gw.join().await.unwrap();
    sims.shutdown().await;
}

#[tokio::test]
async fn past_the_grace_period_open_connections_are_closed_and_the_server_returns() {
    let mut d = Demo::start_with(|t| {
        t.replace(
            "log_level = \"info\"\n",
            "log_level = \"info\"\nshutdown_grace_ms = 300\n",
        )
    })
    .await;
    // A read and a write, each slower than the grace period.
    d.losant().server().faults().set(FaultPlan {
        latency_ms: 3000,
        remaining: Some(2),
        ..FaultPlan::default()
    });
    let before = d.losant_calls();
    let (read, write) = {
        let (client, url) = (d.client.clone(), d.gw.url("/v1/orgs/acme"));
        let read = tokio::spawn(async move { client.send(Method::GET, &url, &[], None).await });
        let (client, url) = (d.client.clone(), d.gw.url("/v1/orgs/acme"));
        let write = tokio::spawn(async move {
            client
                .send(
                    Method::PATCH,
                    &url,
                    &[("content-type", "application/json")],
                    Some(br#"{"name":"Past The Grace"}"#.to_vec()),
                )
                .await
        });
        (read, write)
    };
    while d.losant_calls() < before + 2 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let started = std::time::Instant::now();
    d.gw.signal_stop();
    let Demo { gw, sims, .. } = d;
    // The server returns (it did not panic) at the end of the grace period, not the requests'.
    gw.join().await.unwrap();
    assert!(started.elapsed() < std::time::Duration::from_millis(2500));
    // Their connections were closed: neither caller got an answer (the client's `send`
    // panics, "an answer", on a connection closed without one).
    for (what, task) in [("read", read), ("write", write)] {
        let outcome = tokio::time::timeout(std::time::Duration::from_secs(2), task).await;
        assert!(
            matches!(&outcome, Ok(Err(e)) if e.is_panic()),
            "the {what}'s connection is closed, not left open: {outcome:?}"
        );
    }
    sims.shutdown().await;
}

#[tokio::test]
async fn series_ranges_are_half_open() {
    let d = Demo::start().await;
    let count = |v: &Value| v["points"].as_array().unwrap().len();
    let days = d
        .get("/v1/orgs/acme/usage/devices?from=2025-05-01T00:00:00Z&to=2025-05-04T00:00:00Z&interval=day")
        .await;
    assert_eq!(days.status, 200, "{}", String::from_utf8_lossy(&days.body));
    let days = days.json();
    assert_eq!(count(&days), 3, "{days}");
    assert_eq!(days["points"][2]["at"], "2025-05-03T00:00:00Z");
    let hours = d
        .get("/v1/orgs/acme/usage/payloads?from=2025-05-01T00:00:00Z&to=2025-05-01T06:00:00Z&interval=hour")
        .await;
    assert_eq!(
        hours.status,
        200,
        "{}",
        String::from_utf8_lossy(&hours.body)
    );
    let hours = hours.json();
    assert_eq!(count(&hours), 6, "{hours}");
    assert_eq!(hours["points"][5]["at"], "2025-05-01T05:00:00Z");
}
