//! The service routes: health, readiness, metrics, the OpenAPI document, the backend list.

use crate::harness::Demo;

#[tokio::test]
async fn health_metrics_and_the_backend_list() {
    let d = Demo::start().await;
    assert_eq!(d.get("/healthz").await.json()["status"], "ok");
    assert_eq!(d.get("/readyz").await.json()["status"], "ready");

    d.get("/v1/orgs/acme").await;
    let m = d.get("/metrics").await;
    assert_eq!(m.status, 200);
    assert!(
        m.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = String::from_utf8_lossy(&m.body);
    assert!(
        text.contains(
            r#"orgway_http_requests_total{method="GET",route="/v1/orgs/{org}",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"orgway_backend_calls_total{backend="losant",operation="org.get",outcome="ok"} 1"#
        ),
        "{text}"
    );

    let b = d.get("/v1/backends").await.json();
    let item = &b["items"][0];
    assert_eq!(item["name"], "losant");
    assert_eq!(item["kind"], "losant");
    assert_eq!(item["timeoutMs"], 5000);
    let caps = &item["capabilities"];
    assert_eq!(
        caps["operations"],
        serde_json::json!([
            "org.get",
            "org.patch",
            "org.delete",
            "orgs.list",
            "usage.get",
            "usage.series"
        ])
    );
    assert_eq!(caps["usageMetrics"][2]["metric"], "payloads");
    assert_eq!(
        caps["usageMetrics"][2]["intervals"],
        serde_json::json!(["hour", "day", "month", "total"])
    );
    assert_eq!(
        caps["patchableFields"],
        serde_json::json!(["name", "description", "status"])
    );
    assert_eq!(item["health"]["status"], "healthy");
    assert!(
        item.get("baseUrl").is_none(),
        "backend addresses are not published"
    );
    d.gw.stop().await.expect("a clean stop");
}

#[tokio::test]
async fn openapi_document_covers_every_route() {
    let d = Demo::start().await;
    let doc = d.get("/openapi.json").await.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/v1/orgs/{org}",
        "/v1/backends",
        "/v1/backends/{backend}/orgs",
        "/v1/orgs/{org}/plans",
        "/v1/orgs/{org}/plans/{plan}",
        "/v1/orgs/{org}/usage",
        "/v1/orgs/{org}/usage/{metric}",
        "/v1/orgs/{org}/customers",
        "/v1/orgs/{org}/customers/{customer}/subscriptions",
    ] {
        assert!(
            paths.contains_key(p),
            "{p} missing from the OpenAPI document"
        );
    }
    let org = &doc["components"]["schemas"]["OrgBody"]["properties"];
    for f in [
        "id",
        "alias",
        "backend",
        "kind",
        "nativeId",
        "name",
        "status",
        "parentId",
        "plan",
        "createdAt",
        "counts",
        "meta",
    ] {
        assert!(org.get(f).is_some(), "OrgBody.{f}");
    }
}

#[test]
fn every_example_config_parses() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        seen += 1;
        // Every ${VAR} an example names resolves to a placeholder here.
        let env = |name: &str| {
            Some(if name.ends_with("_URL") {
                "http://127.0.0.1:9".to_owned()
            } else {
                format!("placeholder-{name}")
            })
        };
        orgway::Config::load(&path, &env).unwrap_or_else(|e| panic!("{e}"));
    }
    assert!(seen >= 1, "config/ holds the example routing files");
}

#[tokio::test]
async fn readiness_fails_before_the_listener_closes() {
    let mut d = Demo::start_with(|t| {
        t.replace(
            "log_level = \"info\"",
            "log_level = \"info\"\nshutdown_delay_ms = 2000",
        )
    })
    .await;
    assert_eq!(d.get("/readyz").await.status, 200);
    d.gw.signal_stop();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let e = d.get("/readyz").await.error(503, "unavailable");
    assert!(e["message"].as_str().unwrap().contains("shutting down"));
    assert_eq!(
        d.get("/v1/orgs/acme").await.status,
        200,
        "still serving while not ready"
    );
    let crate::harness::Demo { gw, sims, .. } = d;
    gw.join().await.unwrap();
    sims.shutdown().await;
}
