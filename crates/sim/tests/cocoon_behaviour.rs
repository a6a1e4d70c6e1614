//! How the Cocoon simulator behaves over a sequence of calls: the token endpoint's grants and
//! refusals and its counters, tokens expiring by their lifetime or by the knob, the Bearer
//! check, the lists with the documented sort bug, organisation reads and updates, the
//! statistics, and the fault knobs.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use common::{Response, send};
use orgway_sim::FaultPlan;
use orgway_sim::cocoon::{
    CocoonConfig, CocoonSim, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_ORG_ID, DEMO_PASSWORD,
    DEMO_PLANS_ORG_ID, DEMO_USERNAME, GrantCounts,
};
use serde_json::Value;

fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

/// A token request with the demo client and these form fields.
async fn token_request(addr: SocketAddr, auth: Option<&str>, fields: &[(&str, &str)]) -> Response {
    let form = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let default = basic(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET);
    let auth = auth.unwrap_or(&default);
    send(
        addr,
        "POST",
        "/api/oauth/token",
        &[
            ("Authorization", auth),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        Some(form.as_bytes()),
    )
    .await
}

async fn password_grant(addr: SocketAddr) -> Value {
    let r = token_request(
        addr,
        None,
        &[
            ("grant_type", "password"),
            ("username", DEMO_USERNAME),
            ("password", DEMO_PASSWORD),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

async fn call(
    addr: SocketAddr,
    method: &str,
    token: Option<&str>,
    target: &str,
    body: Option<(&str, &[u8])>,
) -> Response {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers: Vec<(&str, &str)> = vec![("Accept", "application/json")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a));
    }
    if let Some((ct, _)) = body {
        headers.push(("Content-Type", ct));
    }
    send(addr, method, target, &headers, body.map(|(_, b)| b)).await
}

async fn get(addr: SocketAddr, token: &str, target: &str) -> Response {
    call(addr, "GET", Some(token), target, None).await
}

async fn start(config: CocoonConfig) -> (CocoonSim, SocketAddr, String) {
    let sim = CocoonSim::start(config).await.unwrap();
    let addr = sim.server().addr();
    let token = password_grant(addr).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    (sim, addr, token)
}

fn ids(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn grants_refusals_and_counters() {
    let sim = CocoonSim::start(CocoonConfig::default()).await.unwrap();
    let addr = sim.server().addr();
    let first = password_grant(addr).await;
    assert_eq!(first["token_type"], "bearer");
    assert_eq!(first["expires_in"], 300);
    let refresh = first["refresh_token"].as_str().unwrap().to_owned();

    let r = token_request(
        addr,
        None,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let second = r.json();
    assert_ne!(second["access_token"], first["access_token"]);
    let old = first["access_token"].as_str().unwrap();
    let new = second["access_token"].as_str().unwrap();
    // Both stay good until they expire: a refresh does not revoke the token it replaces.
    for t in [old, new] {
        assert_eq!(get(addr, t, "/api/v1/organisations").await.status, 200);
    }

    // Refusals: no client, a wrong secret, a wrong password, a revoked refresh token.
    let r = send(addr, "POST", "/api/oauth/token", &[], None).await;
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (401, Some("unauthorized"))
    );
    let wrong = basic(DEMO_CLIENT_ID, "nope");
    let r = token_request(addr, Some(&wrong), &[("grant_type", "password")]).await;
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let r = token_request(
        addr,
        None,
        &[
            ("grant_type", "password"),
            ("username", DEMO_USERNAME),
            ("password", "wrong"),
        ],
    )
    .await;
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    sim.revoke_refresh_tokens();
    let r = token_request(
        addr,
        None,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(!r.text().contains(&refresh), "tokens are never echoed");
    sim.set_refuse_token_requests(true);
    let r = token_request(
        addr,
        None,
        &[
            ("grant_type", "password"),
            ("username", DEMO_USERNAME),
            ("password", DEMO_PASSWORD),
        ],
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        sim.grants(),
        GrantCounts {
            password: 1,
            refresh: 1,
            refused: 5,
            rejected_tokens: 0
        }
    );
}

#[tokio::test]
async fn access_tokens_expire_by_their_lifetime_and_by_the_knob() {
    let (sim, addr, token) = start(CocoonConfig {
        access_token_lifetime: Duration::from_secs(1),
        ..CocoonConfig::default()
    })
    .await;
    assert_eq!(get(addr, &token, "/api/v1/organisations").await.status, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = get(addr, &token, "/api/v1/organisations").await;
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (401, Some("invalid_token"))
    );
    assert!(!r.text().contains(&token));

    let fresh = password_grant(addr).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(get(addr, &fresh, "/api/v1/organisations").await.status, 200);
    sim.expire_access_tokens();
    assert_eq!(get(addr, &fresh, "/api/v1/organisations").await.status, 401);
    // A static token issued by the knob lives by its own lifetime.
    let long = sim
        .issue_access_token(DEMO_USERNAME, Duration::from_secs(3600))
        .unwrap();
    assert_eq!(get(addr, &long, "/api/v1/organisations").await.status, 200);
    assert!(
        sim.issue_access_token("nobody", Duration::from_secs(1))
            .is_none()
    );
    assert_eq!(sim.grants().rejected_tokens, 2);
}

#[tokio::test]
async fn every_route_checks_the_bearer_token_after_the_path() {
    let (_sim, addr, token) = start(CocoonConfig::default()).await;
    let org = format!("/api/v1/organisations/{DEMO_ORG_ID}");
    let routes = [
        "/api/v1/organisations".to_owned(),
        org.clone(),
        format!("{org}/plans"),
        format!("{org}/statistics/plans"),
        format!("{org}/statistics/users"),
        format!("{org}/statistics/items/storage"),
    ];
    for route in &routes {
        assert_eq!(get(addr, &token, route).await.status, 200, "{route}");
        let r = call(addr, "GET", None, route, None).await;
        assert_eq!(
            (r.status, r.json()["error"].as_str()),
            (401, Some("unauthorized")),
            "{route}"
        );
        let r = get(addr, "not-a-token", route).await;
        assert_eq!(
            (r.status, r.json()["error"].as_str()),
            (401, Some("invalid_token")),
            "{route}"
        );
    }
    // Paths and methods the API does not have are answered before the token is looked at.
    let r = call(addr, "GET", None, "/api/v1/nothing", None).await;
    assert_eq!((r.status, r.json()["status"].as_u64()), (404, Some(404)));
    assert_eq!(r.json()["path"], "/api/v1/nothing");
    let r = call(addr, "DELETE", None, &org, None).await;
    assert_eq!(r.status, 405);
    let r = call(addr, "GET", None, "/api/oauth/token", None).await;
    assert_eq!(r.status, 405);
}

#[tokio::test]
async fn lists_page_and_ignore_their_sort_parameters() {
    let (_sim, addr, token) = start(CocoonConfig::default()).await;
    let plans = format!("/api/v1/organisations/{DEMO_PLANS_ORG_ID}/statistics/plans");
    let natural = get(addr, &token, &plans).await.json();
    let natural_ids = ids(&natural);
    assert_eq!(natural_ids.len(), 6);
    let names: Vec<&str> = natural["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    let mut by_name = names.clone();
    by_name.sort_unstable();
    assert_ne!(names, by_name, "the natural order is not by name");
    // The documented bug: `sortBy` and `orderBy` have no effect, in any letter case.
    for q in [
        "sortBy=name&orderBy=ASC",
        "sortBy=QUOTA&orderBy=DESC",
        "sortBy=quota&orderBy=desc",
        "sortBy=Description",
    ] {
        let sorted = get(addr, &token, &format!("{plans}?{q}")).await.json();
        assert_eq!(ids(&sorted), natural_ids, "{q}");
    }
    for q in ["sortBy=size", "orderBy=up", "limit=x", "offset=-2"] {
        let r = get(addr, &token, &format!("{plans}?{q}")).await;
        assert_eq!(
            (r.status, r.json()["status"].as_u64()),
            (400, Some(400)),
            "{q}"
        );
    }
    // Paging by offset and limit over the natural order.
    let page = get(addr, &token, &format!("{plans}?limit=4&offset=4"))
        .await
        .json();
    assert_eq!(ids(&page), natural_ids[4..]);
    assert_eq!(
        (page["count"].as_str(), page["offset"].as_str()),
        (Some("2"), Some("4"))
    );

    // The plans list: the same plans, with descriptions and one default.
    let list = format!("/api/v1/organisations/{DEMO_PLANS_ORG_ID}/plans");
    let p = get(addr, &token, &list).await.json();
    assert_eq!(ids(&p), natural_ids);
    let defaults = p["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["isDefault"] == true)
        .count();
    assert_eq!(defaults, 1);
    assert!(
        p["items"][0]["description"]
            .as_str()
            .is_some_and(|d| !d.is_empty())
    );
    assert_eq!(
        get(addr, &token, &format!("{list}?limit=100")).await.status,
        200
    );
    assert_eq!(
        get(addr, &token, &format!("{list}?limit=101")).await.status,
        400
    );

    // The organisations.
    let orgs = get(
        addr,
        &token,
        "/api/v1/organisations?sortBy=name&orderBy=DESC",
    )
    .await
    .json();
    assert_eq!(ids(&orgs)[0], DEMO_ORG_ID, "natural order");
    assert_eq!(orgs["count"], "3");
    for o in orgs["items"].as_array().unwrap() {
        assert!(
            o["quota"]
                .as_str()
                .unwrap()
                .bytes()
                .all(|b| b.is_ascii_digit())
        );
    }
}

#[tokio::test]
async fn organisations_are_read_and_updated() {
    let (sim, addr, token) = start(CocoonConfig::default()).await;
    let path = format!("/api/v1/organisations/{DEMO_ORG_ID}");
    let before = get(addr, &token, &path).await.json();
    assert_eq!(before["id"], DEMO_ORG_ID);
    assert_eq!(before["quota"], "2094080");

    let body = br#"{"name":"XY Company Pty","description":null}"#;
    let r = call(
        addr,
        "PUT",
        Some(&token),
        &path,
        Some(("application/json", body)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let after = r.json();
    assert_eq!(
        (after["name"].as_str(), after["description"].as_str()),
        (Some("XY Company Pty"), Some(""))
    );
    assert_eq!(
        after["adminEmail"], before["adminEmail"],
        "a partial update"
    );
    assert_eq!(sim.org(DEMO_ORG_ID).unwrap(), after);

    let r = call(addr, "PUT", Some(&token), &path, Some(("text/plain", body))).await;
    assert_eq!(r.status, 415);
    for bad in [
        &b"{\"name\":\"\"}"[..],
        b"{\"quota\":\"12x\"}",
        b"[1]",
        b"{",
    ] {
        let r = call(
            addr,
            "PUT",
            Some(&token),
            &path,
            Some(("application/json", bad)),
        )
        .await;
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(bad));
    }
    let r = get(addr, &token, "/api/v1/organisations/1").await;
    assert_eq!(
        (r.status, r.json()["message"].as_str()),
        (404, Some("Organisation not found"))
    );
    let r = get(addr, &token, "/api/v1/organisations/abc").await;
    assert_eq!(r.status, 400);
    let r = get(addr, &token, "/api/v1/organisations/1/plans").await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn statistics_agree_with_the_plans() {
    let (sim, addr, token) = start(CocoonConfig::default()).await;
    let org = format!("/api/v1/organisations/{DEMO_PLANS_ORG_ID}");
    let plans = get(addr, &token, &format!("{org}/statistics/plans"))
        .await
        .json();
    let users = get(addr, &token, &format!("{org}/statistics/users"))
        .await
        .json();
    let storage = get(addr, &token, &format!("{org}/statistics/items/storage"))
        .await
        .json();
    let items = plans["items"].as_array().unwrap();
    let originators: u64 = items
        .iter()
        .map(|p| p["originatorsCount"].as_u64().unwrap())
        .sum();
    assert_eq!(users["originatorCount"], originators);
    assert!(users["collaboratorCount"].is_u64() && users["organisationAdminCount"].is_u64());
    let required: u64 = items
        .iter()
        .map(|p| {
            p["quota"].as_str().unwrap().parse::<u64>().unwrap()
                * p["originatorsCount"].as_u64().unwrap()
        })
        .sum();
    assert_eq!(storage["requiredStorage"], required.to_string());
    assert_eq!(
        storage["allocatedStorage"],
        sim.org(DEMO_PLANS_ORG_ID).unwrap()["quota"]
    );
    assert!(
        storage["usedStorage"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .is_ok()
    );

    // The quota knob: the vendor's text, whatever it is.
    let plan = items[1]["id"].as_str().unwrap();
    assert!(sim.set_plan_quota_text(plan, "12x"));
    assert!(!sim.set_plan_quota_text("1", "1"));
    let plans = get(addr, &token, &format!("{org}/statistics/plans"))
        .await
        .json();
    assert_eq!(plans["items"][1]["quota"], "12x");
}

#[tokio::test]
async fn faults_look_like_the_vendors() {
    let (sim, addr, token) = start(CocoonConfig::default()).await;
    let faults = sim.server().faults();
    faults.set(FaultPlan {
        status: Some(503),
        remaining: Some(1),
        ..FaultPlan::default()
    });
    let r = get(addr, &token, "/api/v1/organisations").await;
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["error"], "Service Unavailable");
    faults.set(FaultPlan {
        status: Some(401),
        remaining: Some(1),
        ..FaultPlan::default()
    });
    let r = get(addr, &token, "/api/v1/organisations").await;
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (401, Some("invalid_token"))
    );
    faults.set(FaultPlan {
        malformed_body: true,
        remaining: Some(1),
        ..FaultPlan::default()
    });
    let r = get(addr, &token, "/api/v1/organisations").await;
    assert_eq!(r.status, 200);
    assert!(serde_json::from_slice::<Value>(&r.body).is_err());
    // The token endpoint meets faults too.
    faults.set(FaultPlan {
        status: Some(500),
        remaining: Some(1),
        ..FaultPlan::default()
    });
    let r = token_request(addr, None, &[("grant_type", "password")]).await;
    assert_eq!(r.status, 500);
    assert_eq!(get(addr, &token, "/api/v1/organisations").await.status, 200);
}
