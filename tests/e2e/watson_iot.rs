//! Every Watson IoT route of the gateway, end to end: the real server and the real simulator
//! over TLS on loopback. The demo's backend reaches every org's host name
//! (`{org}.internetofthings.ibmcloud.com`) at the simulator's one address, and trusts the CA
//! the simulator generated when it started.

use http::Method;
use orgway_sim::watson_iot::{DEMO_DISABLED_ORG, DEMO_ORG_2, DEMO_ORG_ID, WatsonIotSim};
use serde_json::Value;

use crate::harness::Demo;

fn sim(d: &Demo) -> &WatsonIotSim {
    d.sims.get()
}

fn calls(d: &Demo) -> usize {
    sim(d).server().request_count()
}

#[tokio::test]
async fn two_orgs_of_one_simulator_each_on_its_own_host_name() {
    let d = Demo::start().await;
    let first = d.get(&format!("/v1/orgs/watson-iot:{DEMO_ORG_ID}")).await;
    assert_eq!(
        first.status,
        200,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    let v = first.json();
    assert_eq!(v["id"], format!("watson-iot:{DEMO_ORG_ID}"));
    assert_eq!(v["kind"], "watson-iot");
    assert_eq!(v["nativeId"], DEMO_ORG_ID);
    assert_eq!(v["name"], "My organization");
    assert_eq!(v["status"], "active");
    assert_eq!(v["plan"]["id"], "iotf-service-bronze-id");
    assert_eq!(v["plan"]["name"], "Bluemix Free");
    assert_eq!(v["createdAt"], "2015-04-08T11:23:23Z");
    assert_eq!(v["updatedAt"], "2015-04-08T11:23:23Z");
    assert_eq!(v["description"], Value::Null);
    assert_eq!(v["parentId"], Value::Null);
    assert_eq!(v["counts"], serde_json::json!({}));
    assert_eq!(v["meta"]["kind"], "watson-iot");

    // The second org by its alias: the swagger's spelling of the Bluemix plan.
    let v = d.get("/v1/orgs/acme-iot").await.json();
    assert_eq!(v["id"], format!("watson-iot:{DEMO_ORG_2}"));
    assert_eq!(v["alias"], "acme-iot");
    assert_eq!(v["name"], "Acme Devices");
    assert_eq!(v["plan"]["id"], "iotf-service-gold-id");
    assert_eq!(v["plan"]["name"], "Bluemix Gold");

    // Upper-case ids name the same org; include=raw is the vendor's record.
    let r = d
        .get(&format!(
            "/v1/orgs/watson-iot:{}?include=raw",
            DEMO_ORG_2.to_uppercase()
        ))
        .await
        .json();
    assert_eq!(r["id"], format!("watson-iot:{DEMO_ORG_2}"));
    assert_eq!(r["raw"], sim(&d).org(DEMO_ORG_2).unwrap());

    // On the wire: each org's own host name, its own key over Basic, the trailing slash.
    let seen = sim(&d).server().requests();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0].path, "/api/v0002/");
    assert_eq!(
        seen[0].header("host"),
        Some(sim(&d).host(DEMO_ORG_ID).as_str())
    );
    assert_eq!(
        seen[1].header("host"),
        Some(sim(&d).host(DEMO_ORG_2).as_str())
    );
    assert_ne!(
        seen[0].header("authorization"),
        seen[1].header("authorization")
    );
    assert!(
        seen[0]
            .header("authorization")
            .unwrap()
            .starts_with("Basic ")
    );
    assert!(seen[0].header("x-request-id").is_some());
    // Connections are pooled, one per org host name: the second org's served it twice.
    assert_eq!(sim(&d).server().tls_connections(), 2);
}

#[tokio::test]
async fn a_disabled_org_reads_disabled() {
    let d = Demo::start().await;
    let v = d
        .get(&format!("/v1/orgs/watson-iot:{DEMO_DISABLED_ORG}"))
        .await
        .json();
    assert_eq!(v["status"], "disabled");
    assert_eq!(v["plan"]["id"], "Trial", "no Bluemix plan: the tier");
    // Disabling an org at the vendor shows at once.
    assert!(sim(&d).set_enabled(DEMO_ORG_ID, false));
    let v = d
        .get(&format!("/v1/orgs/watson-iot:{DEMO_ORG_ID}"))
        .await
        .json();
    assert_eq!(v["status"], "disabled");
}

#[tokio::test]
async fn the_list_is_the_orgs_the_backend_has_keys_for() {
    let d = Demo::start().await;
    let page = d.get("/v1/backends/watson-iot/orgs?limit=3").await.json();
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["nativeId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["ab8de4", "abc123", "q7w3e9"], "by id");
    assert_eq!(page["total"], 4);
    assert_eq!(page["items"][1]["alias"], "acme-iot");
    let next = page["nextCursor"].as_str().unwrap();
    let rest = d
        .get(&format!(
            "/v1/backends/watson-iot/orgs?limit=3&cursor={next}"
        ))
        .await
        .json();
    assert_eq!(rest["items"][0]["nativeId"], "xyz789");
    assert_eq!(rest["nextCursor"], Value::Null);
    // Sorted by name by the gateway, over the whole list.
    let by_name = d
        .get("/v1/backends/watson-iot/orgs?sort=-name")
        .await
        .json();
    let names: Vec<&str> = by_name["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "My organization",
            "Initech Pilot",
            "Globex Sensors",
            "Acme Devices"
        ]
    );
    let by_id = d
        .get("/v1/backends/watson-iot/orgs?sort=-id&limit=1")
        .await
        .json();
    assert_eq!(by_id["items"][0]["nativeId"], "xyz789");
}

#[tokio::test]
async fn an_org_whose_key_the_vendor_refuses_does_not_fail_the_list() {
    // The key of org xyz789 is sent with another key's token: the vendor answers 401.
    let d = Demo::start_with(|t| {
        t.replace(
            "token = \"${ORGWAY_DEMO_WATSON_IOT_TOKEN_XYZ789}\"",
            "token = \"${ORGWAY_DEMO_WATSON_IOT_TOKEN_ABC123}\"",
        )
    })
    .await;
    let page = d.get("/v1/backends/watson-iot/orgs").await;
    assert_eq!(page.status, 200, "{}", String::from_utf8_lossy(&page.body));
    let page = page.json();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    // Listed with its id only; the others as the vendor holds them.
    assert_eq!(items[3]["nativeId"], "xyz789");
    assert_eq!(
        (&items[3]["name"], &items[3]["status"]),
        (&Value::Null, &Value::Null)
    );
    assert_eq!(items[1]["name"], "Acme Devices");
    // A read of it says why.
    d.get("/v1/orgs/watson-iot:xyz789")
        .await
        .error(502, "backend_auth_failed");
}

#[tokio::test]
async fn an_org_without_a_key_or_unknown_to_the_vendor_is_404() {
    // One more key, for an org the vendor does not have.
    let d = Demo::start_with(|t| {
        t.replace(
            "api_keys = [\n",
            "api_keys = [\n  { key = \"a-nope00-demokey001\", token = \"${ORGWAY_DEMO_WATSON_IOT_TOKEN_AB8DE4}\" },\n",
        )
    })
    .await;
    let before = calls(&d);
    let e = d
        .get("/v1/orgs/watson-iot:zzz999")
        .await
        .error(404, "not_found");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("no API key for org zzz999"),
        "{e}"
    );
    assert_eq!(calls(&d), before, "no call for an org without a key");

    let e = d
        .get("/v1/orgs/watson-iot:nope00")
        .await
        .error(404, "not_found");
    assert_eq!(e["backendStatus"], 404);
    assert!(
        e["message"].as_str().unwrap().contains("does not exist"),
        "{e}"
    );

    // Malformed ids never reach the vendor.
    for bad in ["abc12", "abc1234", "abc_12"] {
        d.get(&format!("/v1/orgs/watson-iot:{bad}"))
            .await
            .error(400, "invalid_org_ref");
    }
    assert_eq!(calls(&d), before + 1);
}

#[tokio::test]
async fn a_wrong_token_is_backend_auth_failed() {
    // abc123's key with xyz789's token.
    let d = Demo::start_with(|t| {
        t.replace(
            "token = \"${ORGWAY_DEMO_WATSON_IOT_TOKEN_ABC123}\"",
            "token = \"${ORGWAY_DEMO_WATSON_IOT_TOKEN_XYZ789}\"",
        )
    })
    .await;
    let a = d.get("/v1/orgs/acme-iot").await;
    let e = a.error(502, "backend_auth_failed");
    assert_eq!(e["backend"], "watson-iot");
    assert_eq!(e["backendStatus"], 401);
    let body = String::from_utf8_lossy(&a.body);
    assert!(
        !body.contains("watson-demo-"),
        "no token in the answer: {body}"
    );
    assert_eq!(sim(&d).refused(), 1);
    // The other orgs are unaffected.
    assert_eq!(d.get("/v1/orgs/watson-iot:xyz789").await.status, 200);
}

#[tokio::test]
async fn without_the_simulators_ca_the_connection_is_refused_saying_why() {
    let d =
        Demo::start_with(|t| t.replace("ca_file = \"${ORGWAY_DEMO_WATSON_IOT_CA_FILE}\"\n", ""))
            .await;
    let a = d.get("/v1/orgs/acme-iot").await;
    let e = a.error(502, "backend_error");
    let message = e["message"].as_str().unwrap();
    assert!(
        message.starts_with("watson-iot: the backend's certificate is not trusted: "),
        "{message}"
    );
    assert_eq!(e["backendStatus"], Value::Null, "it never answered");
    assert_eq!(calls(&d), 0, "no request reached the simulator");
    assert!(!a.headers.contains_key("retry-after"), "not a 503");
    // The other backends, on the default client, are untouched.
    assert_eq!(d.get("/v1/orgs/acme").await.status, 200);
}

#[tokio::test]
async fn data_traffic_per_day_in_bytes_by_month_and_in_total() {
    let d = Demo::start().await;
    let path = |interval: &str| {
        format!(
            "/v1/orgs/acme-iot/usage/data-traffic?from=2024-01-30T00:00:00Z&to=2024-02-03T00:00:00Z&interval={interval}&include=raw"
        )
    };
    let a = d.get(&path("day")).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let v = a.json();
    assert_eq!(v["metric"], "data-traffic");
    assert_eq!(v["unit"], "bytes");
    assert_eq!(v["interval"], "day");
    let points = v["points"].as_array().unwrap();
    let raw_days = v["raw"]["days"].as_array().unwrap();
    assert_eq!(points.len(), 4);
    assert_eq!(
        raw_days.len(),
        4,
        "the vendor's whole days, 30 Jan to 2 Feb"
    );
    for (p, day) in points.iter().zip(raw_days) {
        assert_eq!(
            p["value"].as_u64().unwrap(),
            day["total"].as_u64().unwrap() * 1000,
            "kB × 1000"
        );
        assert!(
            p["at"]
                .as_str()
                .unwrap()
                .starts_with(day["date"].as_str().unwrap())
        );
    }
    let total: u64 = points.iter().map(|p| p["value"].as_u64().unwrap()).sum();
    assert_eq!(v["total"], total);
    let seen = sim(&d).server().requests();
    let q = seen.last().unwrap();
    assert_eq!(q.path, "/api/v0002/usage/data-traffic");
    assert_eq!(q.query_param("start").as_deref(), Some("2024-01-30"));
    assert_eq!(q.query_param("end").as_deref(), Some("2024-02-02"));
    assert_eq!(q.query_param("detail").as_deref(), Some("true"));

    let m = d.get(&path("month")).await.json();
    let months: Vec<&str> = m["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["at"].as_str().unwrap())
        .collect();
    assert_eq!(months, ["2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z"]);
    assert_eq!(m["total"], total);
    let t = d.get(&path("total")).await.json();
    assert_eq!(t["points"][0]["value"], total);
}

#[tokio::test]
async fn active_devices_by_day_only() {
    let d = Demo::start().await;
    let v = d
        .get("/v1/orgs/acme-iot/usage/active-devices?from=2024-03-01T00:00:00Z&to=2024-03-08T00:00:00Z")
        .await
        .json();
    assert_eq!(v["unit"], "count");
    assert_eq!(v["points"].as_array().unwrap().len(), 7);
    assert_eq!(
        v["total"],
        Value::Null,
        "a sum of daily distinct devices means nothing"
    );
    let before = calls(&d);
    let e = d
        .get("/v1/orgs/acme-iot/usage/active-devices?interval=month")
        .await
        .error(501, "unsupported");
    assert_eq!(e["details"]["supported"], serde_json::json!(["day"]));
    let e = d
        .get("/v1/orgs/acme-iot/usage/devices")
        .await
        .error(501, "unsupported");
    assert_eq!(
        e["details"]["supported"],
        serde_json::json!(["data-traffic", "active-devices"])
    );
    assert_eq!(calls(&d), before);
}

#[tokio::test]
async fn writes_and_other_resources_are_501_without_a_call() {
    let d = Demo::start().await;
    let before = calls(&d);
    d.send_json(Method::PATCH, "/v1/orgs/acme-iot", r#"{"name":"x"}"#)
        .await
        .error(501, "unsupported");
    d.get("/v1/orgs/acme-iot/plans")
        .await
        .error(501, "unsupported");
    d.get("/v1/orgs/acme-iot/usage")
        .await
        .error(501, "unsupported");
    d.get("/v1/orgs/acme-iot/customers")
        .await
        .error(501, "unsupported");
    assert_eq!(calls(&d), before);
    let backends = d.get("/v1/backends").await.json();
    let w = backends["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["kind"] == "watson-iot")
        .unwrap()
        .clone();
    assert_eq!(
        w["capabilities"]["operations"],
        serde_json::json!(["org.get", "orgs.list", "usage.series"])
    );
}
