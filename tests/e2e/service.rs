//! The service routes: health, readiness, metrics, the OpenAPI document, the backend list.

use serde_json::json;

use crate::harness::Demo;

#[tokio::test]
async fn health_metrics_and_the_backend_list() {
    let d = Demo::start().await;
    let health = d.get("/healthz").await;
    assert_eq!(health.body.as_ref(), br#"{"status":"ok"}"#);
    assert_eq!(health.headers["content-type"], "application/json");
    assert_eq!(health.headers["x-request-id"].len(), 32);
    // HEAD goes through the router, which answers alike without a body.
    let head = d
        .client
        .send(http::Method::HEAD, &d.gw.url("/healthz"), &[], None)
        .await;
    assert_eq!((head.status.as_u16(), head.body.len()), (200, 0));
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
            r#"orgway_http_requests_total{method="GET",route="/healthz",status="200"} 1"#
        ),
        "{text}"
    );
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

/// The OpenAPI document declares the constraints the server enforces (docs/API.md §5), and the
/// server agrees with it at their edges: a value the document allows is not refused as
/// malformed, one it forbids is `400`. `.ci/schemathesis.sh` checks the same at random.
#[tokio::test]
async fn openapi_document_is_as_strict_as_the_server() {
    let d = Demo::start().await;
    let doc = d.get("/openapi.json").await.json();
    let op = &doc["paths"]["/v1/backends/{backend}/orgs"]["get"];
    let param = |name: &str| -> serde_json::Value {
        op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("`{name}` is not declared"))["schema"]
            .clone()
    };
    let limit = param("limit");
    assert_eq!(
        (&limit["type"], &limit["minimum"], &limit["maximum"]),
        (&json!("integer"), &json!(1), &json!(500))
    );
    assert_eq!(param("include")["enum"], json!(["raw"]));
    assert_eq!(param("cursor")["minLength"], 1);
    let sorts: Vec<String> = serde_json::from_value(param("sort")["enum"].clone()).unwrap();
    for s in ["name", "-name", "createdAt", "-createdAt", "id", "-status"] {
        assert!(sorts.iter().any(|v| v == s), "sort `{s}` in {sorts:?}");
    }
    let customers = &doc["paths"]["/v1/orgs/{org}/customers"]["get"]["parameters"];
    let max_depth = customers
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "maxDepth")
        .unwrap();
    assert_eq!(
        (
            &max_depth["schema"]["minimum"],
            &max_depth["schema"]["maximum"]
        ),
        (&json!(1), &json!(100))
    );
    // Every operation names its error answers, each in the one error shape.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, o) in item.as_object().unwrap() {
            let r = &o["responses"]["400"]["content"]["application/json"]["schema"]["$ref"];
            assert_eq!(r, "#/components/schemas/ErrorDoc", "{method} {path}");
        }
    }
    // Bodies refuse unknown fields, as the server does.
    let schemas = &doc["components"]["schemas"];
    for body in [
        "OrgPatchDoc",
        "PlanPutDoc",
        "NewCustomerDoc",
        "NewSubscriptionDoc",
    ] {
        assert_eq!(schemas[body]["additionalProperties"], false, "{body}");
    }

    // The edges, against the server.
    let list = |q: &str| {
        let d = &d;
        let q = q.to_owned();
        async move { d.get(&format!("/v1/backends/losant/orgs?{q}")).await }
    };
    for ok in ["limit=1", "limit=500", "include=raw"] {
        assert_eq!(list(ok).await.status, 200, "{ok}");
    }
    for bad in ["limit=0", "limit=501", "include=", "cursor=", "sort=nme"] {
        list(bad).await.error(400, "bad_request");
    }
    for s in &sorts {
        let a = list(&format!("sort={s}")).await;
        if a.status != 200 {
            // Only a sort this backend cannot honour: documented, never a parse error.
            let e = a.error(400, "bad_request");
            assert!(
                e["message"]
                    .as_str()
                    .unwrap()
                    .contains("cannot sort this list"),
                "{s}: {e}"
            );
        }
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
