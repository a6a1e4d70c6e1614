//! The Watson IoT simulator over real TLS connections: the org taken from the host name (or the
//! API key), the View Organization body, the credential checks in the documented order, the
//! usage routes with and without detail, the vendor's error body, and a client that does not
//! trust the simulator's CA failing its handshake.

mod common;

use std::sync::Arc;

use base64::Engine;
use common::Response;
use common::tls::{send, trusting};
use orgway_sim::FaultPlan;
use orgway_sim::watson_iot::{
    DEMO_DISABLED_ORG, DEMO_ORG_2, DEMO_ORG_ID, WatsonIotConfig, WatsonIotSim, demo_key, demo_token,
};
use serde_json::Value;

fn basic(key: &str, token: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{key}:{token}"))
    )
}

struct Probe {
    sim: WatsonIotSim,
    config: Arc<rustls::ClientConfig>,
}

impl Probe {
    async fn start() -> Probe {
        let sim = WatsonIotSim::start(WatsonIotConfig::default())
            .await
            .expect("start simulator");
        let config = trusting(sim.ca_pem());
        Probe { sim, config }
    }

    /// A GET of `target` on `host` with `auth` as the `Authorization` header.
    async fn get_on(&self, host: &str, target: &str, auth: Option<&str>) -> Response {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
        send(
            self.config.clone(),
            self.sim.addr(),
            host,
            "GET",
            target,
            &headers,
        )
        .await
        .expect("a TLS exchange")
    }

    /// A GET on the org's own host with its demo key.
    async fn get(&self, org: &str, target: &str) -> Response {
        let auth = basic(&demo_key(org), &demo_token(org));
        self.get_on(&self.sim.host(org), target, Some(&auth)).await
    }
}

fn assert_error(r: &Response, status: u16, id: &str) -> Value {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = r.json();
    assert_eq!(v["exception"]["id"], id, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{id}: ")),
        "{v}"
    );
    assert!(v["exception"]["properties"].is_array(), "{v}");
    v
}

#[tokio::test]
async fn each_org_is_served_on_its_own_host_name() {
    let p = Probe::start().await;
    assert!(p.sim.base_url().starts_with("https://127.0.0.1:"));
    assert!(p.sim.base_url().ends_with("/api/v0002"));

    let a = p.get(DEMO_ORG_ID, "/api/v0002/").await;
    assert_eq!(a.status, 200, "{}", a.text());
    let org = a.json();
    assert_eq!(org["id"], DEMO_ORG_ID);
    assert_eq!(org["name"], "My organization");
    assert_eq!(org["enabled"], true);
    assert_eq!(org["type"], "Bluemix Free");
    // The document's spelling of the Bluemix block…
    assert_eq!(org["bluemix"]["planId"], "iotf-service-bronze-id");
    assert_eq!(
        org["bluemix"]["organizationGuid"],
        "025273cb-d3c5-4204-9fef-ad5f84c2af02"
    );
    assert_eq!(org["config"]["historian"]["retention"], 1);
    assert_eq!(org["created"], "2015-04-08T11:23:23+00:00");

    // …and the swagger's, on another org of the same server.
    let org = p.get(DEMO_ORG_2, "/api/v0002/").await.json();
    assert_eq!(org["id"], DEMO_ORG_2);
    assert_eq!(org["bluemix"]["plan"], "iotf-service-gold-id");
    assert!(org["bluemix"].get("planId").is_none());

    // A disabled org can still be read: that is how `enabled: false` is seen.
    let org = p.get(DEMO_DISABLED_ORG, "/api/v0002/").await.json();
    assert_eq!(org["enabled"], false);

    let seen = p.sim.server().requests();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0].path, "/api/v0002/");
    assert_eq!(
        seen[1].header("host"),
        Some(p.sim.host(DEMO_ORG_2).as_str())
    );
}

#[tokio::test]
async fn without_an_org_host_name_the_api_keys_org_is_used() {
    let p = Probe::start().await;
    let auth = basic(&demo_key(DEMO_ORG_2), &demo_token(DEMO_ORG_2));
    let org = p.get_on("localhost", "/api/v0002/", Some(&auth)).await;
    assert_eq!(org.json()["id"], DEMO_ORG_2);
    // The host's org wins over the key's: a key used on another org's host does not exist there.
    let other = p
        .get_on(&p.sim.host(DEMO_ORG_ID), "/api/v0002/", Some(&auth))
        .await;
    assert_error(&other, 403, "CUDSM0403E");
}

#[tokio::test]
async fn credentials_are_checked_in_the_documented_order() {
    let p = Probe::start().await;
    let host = p.sim.host(DEMO_ORG_ID);
    let good = basic(&demo_key(DEMO_ORG_ID), &demo_token(DEMO_ORG_ID));

    // 404 before anything else for an org that does not exist.
    let r = p
        .get_on(&p.sim.host("nope00"), "/api/v0002/", Some(&good))
        .await;
    let body = assert_error(&r, 404, "CUDSM0404E");
    assert!(body["message"].as_str().unwrap().contains("does not exist"));
    // 401: no token at all, or an empty one.
    assert_error(
        &p.get_on(&host, "/api/v0002/", None).await,
        401,
        "CUDSM0401E",
    );
    let empty = basic(&demo_key(DEMO_ORG_ID), "");
    assert_error(
        &p.get_on(&host, "/api/v0002/", Some(&empty)).await,
        401,
        "CUDSM0401E",
    );
    // 403: not Basic, or a key that does not exist.
    assert_error(
        &p.get_on(&host, "/api/v0002/", Some("Bearer abc")).await,
        403,
        "CUDSM0403E",
    );
    let unknown = basic("a-ab8de4-nosuchkey0", "whatever");
    assert_error(
        &p.get_on(&host, "/api/v0002/", Some(&unknown)).await,
        403,
        "CUDSM0403E",
    );
    // 401: a known key with the wrong token.
    let wrong = basic(&demo_key(DEMO_ORG_ID), "not-the-token");
    let r = p.get_on(&host, "/api/v0002/", Some(&wrong)).await;
    assert_error(&r, 401, "CUDSM0401E");
    assert!(!r.text().contains("not-the-token"), "no echo of the token");
    assert_eq!(p.sim.refused(), 5);
    assert_eq!(
        p.get_on(&host, "/api/v0002/", Some(&good)).await.status,
        200
    );
}

#[tokio::test]
async fn data_traffic_with_and_without_detail() {
    let p = Probe::start().await;
    let a = p
        .get(
            DEMO_ORG_2,
            "/api/v0002/usage/data-traffic?start=2024-01-01&end=2024-01-31&detail=True",
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text());
    let v = a.json();
    assert_eq!(v["start"], "2024-01-01");
    assert_eq!(v["end"], "2024-01-31");
    let days = v["days"].as_array().unwrap();
    assert_eq!(days.len(), 31);
    assert_eq!(days[0]["date"], "2024-01-01");
    let sum: u64 = days.iter().map(|d| d["total"].as_u64().unwrap()).sum();
    assert_eq!(v["total"], sum);
    assert_eq!(v["average"], sum / 31);

    // Without detail the same totals, and `days` is null.
    let plain = p
        .get(
            DEMO_ORG_2,
            "/api/v0002/usage/data-traffic?start=2024-01&end=2024-01",
        )
        .await
        .json();
    assert!(plain["days"].is_null(), "{plain}");
    assert_eq!(plain["total"], v["total"]);
    assert_eq!(plain["end"], "2024-01-31", "a month ends on its last day");

    // Active devices answer the same shape.
    let a = p
        .get(
            DEMO_ORG_2,
            "/api/v0002/usage/active-devices?start=2024-01-01&end=2024-01-07&detail=true",
        )
        .await
        .json();
    assert_eq!(a["days"].as_array().unwrap().len(), 7);
    assert!(a["total"].as_u64().unwrap() <= 40);
}

#[tokio::test]
async fn a_bad_usage_query_is_a_400_naming_each_violation() {
    let p = Probe::start().await;
    let r = p
        .get(
            DEMO_ORG_ID,
            "/api/v0002/usage/data-traffic?start=2024-02-30&detail=maybe",
        )
        .await;
    let v = assert_error(&r, 400, "CUDRS0007E");
    let names: Vec<&str> = v["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            assert_eq!(x["exception"]["id"], "CUDRS0012E");
            x["exception"]["properties"][0].as_str().unwrap()
        })
        .collect();
    assert_eq!(names, ["start", "end", "detail"]);
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let p = Probe::start().await;
    let r = p.get(DEMO_ORG_ID, "/api/v0002/device/types").await;
    assert_error(&r, 404, "CUDSM0404E");
    let auth = basic(&demo_key(DEMO_ORG_ID), &demo_token(DEMO_ORG_ID));
    let r = send(
        p.config.clone(),
        p.sim.addr(),
        &p.sim.host(DEMO_ORG_ID),
        "DELETE",
        "/api/v0002/",
        &[("Authorization", &auth)],
    )
    .await
    .unwrap();
    assert_error(&r, 405, "CUDSM0405E");
    let status = p.get(DEMO_ORG_ID, "/api/v0002/service-status").await.json();
    assert_eq!(status["us-south"]["messaging"], "green");
}

#[tokio::test]
async fn a_client_without_the_simulators_ca_fails_its_handshake() {
    let p = Probe::start().await;
    // Trusting another CA (a second simulator's) is not trusting this one.
    let other = WatsonIotSim::start(WatsonIotConfig::default())
        .await
        .unwrap();
    let wrong = trusting(other.ca_pem());
    let e = send(
        wrong,
        p.sim.addr(),
        &p.sim.host(DEMO_ORG_ID),
        "GET",
        "/api/v0002/",
        &[],
    )
    .await
    .unwrap_err();
    assert!(
        e.to_string().contains("certificate"),
        "the handshake fails on the certificate: {e}"
    );
    assert_eq!(p.sim.server().request_count(), 0, "nothing was served");
    // The CA file is the CA the server presents.
    let on_disk = std::fs::read_to_string(p.sim.ca_file()).unwrap();
    assert_eq!(on_disk, p.sim.ca_pem());
}

#[tokio::test]
async fn forced_faults_speak_the_vendors_error_body() {
    let p = Probe::start().await;
    p.sim.server().faults().set(FaultPlan {
        status: Some(500),
        remaining: Some(1),
        ..FaultPlan::default()
    });
    assert_error(&p.get(DEMO_ORG_ID, "/api/v0002/").await, 500, "CUDSM0500E");
    p.sim.server().faults().set(FaultPlan {
        status: Some(401),
        remaining: Some(1),
        ..FaultPlan::default()
    });
    assert_error(&p.get(DEMO_ORG_ID, "/api/v0002/").await, 401, "CUDSM0401E");
    assert_eq!(p.get(DEMO_ORG_ID, "/api/v0002/").await.status, 200);
}
