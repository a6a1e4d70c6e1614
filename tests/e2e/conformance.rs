//! The conformance list: what every backend of the demo must do, whatever its dialect. Each
//! backend `GET /v1/backends` lists is driven through the same checks, and the demo has a
//! backend of every dialect in the registry, so a new dialect is held to them by its registry
//! entry alone.

use http::Method;
use serde_json::Value;

use crate::harness::Demo;

/// Every route, with the capability that serves it, for a given org reference.
fn routes(org: &str) -> Vec<(Method, String, &'static str, Option<&'static str>)> {
    vec![
        (Method::GET, format!("/v1/orgs/{org}"), "org.get", None),
        (
            Method::PATCH,
            format!("/v1/orgs/{org}"),
            "org.patch",
            Some(r#"{"description":"x"}"#),
        ),
        (
            Method::GET,
            format!("/v1/orgs/{org}/plans"),
            "plans.list",
            None,
        ),
        (
            Method::PUT,
            format!("/v1/orgs/{org}/plans/conformance-plan"),
            "plans.put",
            Some("{}"),
        ),
        (
            Method::DELETE,
            format!("/v1/orgs/{org}/plans/conformance-plan"),
            "plans.delete",
            None,
        ),
        (
            Method::GET,
            format!("/v1/orgs/{org}/usage"),
            "usage.get",
            None,
        ),
        (
            Method::GET,
            format!("/v1/orgs/{org}/usage/devices"),
            "usage.series",
            None,
        ),
        (
            Method::GET,
            format!("/v1/orgs/{org}/customers"),
            "customers.list",
            None,
        ),
        (
            Method::POST,
            format!("/v1/orgs/{org}/customers"),
            "customers.create",
            Some(r#"{"name":"x"}"#),
        ),
        (
            Method::DELETE,
            format!("/v1/orgs/{org}"),
            "org.delete",
            None,
        ),
    ]
}

#[tokio::test]
async fn every_backend_conforms() {
    let d = Demo::start().await;
    let backends = d.get("/v1/backends").await.json();
    let items = backends["items"].as_array().unwrap();
    // The demo routes to every dialect of the registry, so every dialect is held to these checks.
    for dialect in orgway::registry::DIALECTS {
        assert!(
            items.iter().any(|b| b["kind"] == dialect.kind),
            "the demo has no backend of kind {}",
            dialect.kind
        );
    }
    for b in items {
        let name = b["name"].as_str().unwrap();
        let ops: Vec<&str> = b["capabilities"]["operations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o.as_str().unwrap())
            .collect();
        assert!(
            ops.contains(&"org.get") && ops.contains(&"orgs.list"),
            "{name}: every backend gets and lists orgs"
        );

        // The list pages with opaque cursors and canonical ids.
        let page = d.get(&format!("/v1/backends/{name}/orgs?limit=2")).await;
        assert_eq!(
            page.status,
            200,
            "{name}: {}",
            String::from_utf8_lossy(&page.body)
        );
        let page = page.json();
        let listed = page["items"].as_array().unwrap();
        assert!(!listed.is_empty(), "{name}: the demo seeds orgs");
        assert!(listed.len() <= 2);
        for o in listed {
            let id = o["id"].as_str().unwrap();
            assert_eq!(id, format!("{name}:{}", o["nativeId"].as_str().unwrap()));
            assert_eq!(o["meta"]["backend"], name);
            assert_eq!(o["kind"], b["kind"]);
            // Each listed org can be fetched by its canonical id, and is the same org.
            let one = d.get(&format!("/v1/orgs/{id}")).await;
            assert_eq!(
                one.status,
                200,
                "{id}: {}",
                String::from_utf8_lossy(&one.body)
            );
            let one = one.json();
            assert_eq!(one["id"], id);
            assert_eq!(
                one["name"], o["name"],
                "{id}: list and get agree on the name"
            );
            for key in [
                "alias",
                "backend",
                "kind",
                "nativeId",
                "name",
                "description",
                "status",
                "parentId",
                "plan",
                "createdAt",
                "updatedAt",
                "counts",
                "meta",
            ] {
                assert!(
                    one.get(key).is_some(),
                    "{id}: `{key}` is always present (null when unknown)"
                );
            }
            assert!(
                one["counts"]
                    .as_object()
                    .unwrap()
                    .values()
                    .all(Value::is_u64),
                "{id}: counts are integers"
            );
        }

        // Malformed native ids never reach the backend.
        let before = d.sims.requests_total();
        for bad in ["..%2F..%2Fx", "x%20y", "%00", &"9".repeat(40)] {
            d.get(&format!("/v1/orgs/{name}:{bad}"))
                .await
                .error(400, "invalid_org_ref");
        }
        assert_eq!(
            d.sims.requests_total(),
            before,
            "{name}: no backend call for malformed ids"
        );

        // Routes the dialect lacks answer 501 without a backend call, the others do not.
        let org = listed[0]["id"].as_str().unwrap().to_owned();
        for (method, path, op, body) in routes(&org) {
            if ops.contains(&op) {
                continue;
            }
            let before = d.sims.requests_total();
            let a = match body {
                Some(b) => d.send_json(method.clone(), &path, b).await,
                None => {
                    d.client
                        .send(method.clone(), &d.gw.url(&path), &[], None)
                        .await
                }
            };
            let e = a.error(501, "unsupported");
            assert_eq!(e["backend"], name, "{method} {path}");
            assert_eq!(
                d.sims.requests_total(),
                before,
                "{name}: {method} {path} made a backend call"
            );
        }
    }
}

/// Each dialect of the registry has what the rest of the product relies on: an example in
/// `config/example.toml` that parses, a simulator the demo starts and routes to, and (above) a
/// place in the conformance run.
#[tokio::test]
async fn every_dialect_has_an_example_a_demo_simulator_and_a_conformance_place() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/example.toml");
    let env = |name: &str| {
        Some(if name.ends_with("_URL") {
            "http://127.0.0.1:9".to_owned()
        } else {
            format!("placeholder-{name}")
        })
    };
    let config =
        orgway::Config::load(std::path::Path::new(example), &env).unwrap_or_else(|e| panic!("{e}"));
    let d = Demo::start().await;
    let sims: Vec<&str> = d.sims.iter().map(|(k, _)| k.name()).collect();
    for dialect in orgway::registry::DIALECTS {
        assert!(
            config
                .backends
                .iter()
                .any(|b| b.kind.name() == dialect.kind),
            "config/example.toml has no backend of kind {}",
            dialect.kind
        );
        assert!(
            sims.contains(&dialect.kind),
            "the demo starts no {} simulator",
            dialect.kind
        );
        assert!(
            !dialect.demo.try_lines.is_empty(),
            "the demo suggests no request for {}",
            dialect.kind
        );
        // The demo routes to the simulator: listing the backend's orgs reaches it.
        let (_, sim) = d
            .sims
            .iter()
            .find(|(k, _)| k.name() == dialect.kind)
            .unwrap();
        let before = sim.server().request_count();
        let backend = config_backend_of(&d, dialect.kind).await;
        let page = d.get(&format!("/v1/backends/{backend}/orgs?limit=1")).await;
        assert_eq!(page.status, 200, "{}", String::from_utf8_lossy(&page.body));
        assert!(
            sim.server().request_count() > before,
            "{}: the demo's backend reaches its simulator",
            dialect.kind
        );
    }
}

/// The name of the demo's backend of a kind.
async fn config_backend_of(d: &Demo, kind: &str) -> String {
    let backends = d.get("/v1/backends").await.json();
    backends["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["kind"] == kind)
        .and_then(|b| b["name"].as_str())
        .unwrap()
        .to_owned()
}

/// The rows of the table of docs/API.md §8: kind, and the member names in its "removed" cell
/// that lead each `;`/`,`-separated entry (the first code span of each).
fn documented_redactions() -> Vec<(String, Vec<String>)> {
    let api = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/API.md"))
        .expect("docs/API.md is in the repository");
    let section = api
        .split("\n## ")
        .find(|s| s.starts_with("8. "))
        .expect("docs/API.md has a §8");
    let mut rows = Vec::new();
    for row in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let kind = cells[1].trim_matches('`').to_owned();
        // Names are the code spans outside parentheses.
        let mut names = Vec::new();
        let (mut depth, mut in_code, mut current) = (0, false, String::new());
        for c in cells[2].chars() {
            match c {
                '(' if !in_code => depth += 1,
                ')' if !in_code => depth -= 1,
                '`' if depth == 0 => {
                    if in_code {
                        names.push(std::mem::take(&mut current));
                    }
                    in_code = !in_code;
                }
                c if in_code && depth == 0 => current.push(c),
                _ => {}
            }
        }
        rows.push((kind, names));
    }
    rows
}

#[tokio::test]
async fn raw_redactions_are_documented_and_applied() {
    let d = Demo::start().await;
    let documented = documented_redactions();
    let backends = d.get("/v1/backends").await.json();
    for b in backends["items"].as_array().unwrap() {
        let (name, kind) = (b["name"].as_str().unwrap(), b["kind"].as_str().unwrap());
        let declared: Vec<String> = b["capabilities"]["rawRedactions"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: no rawRedactions: {b}"))
            .iter()
            .map(|k| k.as_str().unwrap().to_owned())
            .collect();
        let row = documented
            .iter()
            .find(|(k, _)| k == kind)
            .unwrap_or_else(|| panic!("docs/API.md §8 has no row for `{kind}`"));
        assert_eq!(row.1, declared, "{kind}: docs/API.md §8 and rawRedactions");

        // No listed org's raw record holds a declared name, listed or fetched.
        let page = d
            .get(&format!("/v1/backends/{name}/orgs?include=raw&limit=50"))
            .await
            .json();
        let mut answers = vec![page.clone()];
        for o in page["items"].as_array().unwrap() {
            let id = o["id"].as_str().unwrap();
            answers.push(d.get(&format!("/v1/orgs/{id}?include=raw")).await.json());
        }
        for answer in answers {
            let text = answer.to_string();
            for key in &declared {
                assert!(
                    !text.contains(&format!("\"{key}\":")),
                    "{name}: `{key}` in {text}"
                );
            }
        }
    }
}
