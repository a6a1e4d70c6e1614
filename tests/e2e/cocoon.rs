//! Every Cocoon route of the gateway, end to end against the Cocoon simulator: plans sorted by
//! the gateway across pages (Cocoon's own sort does nothing), quotas in bytes, malformed
//! numbers refused naming the field; the OAuth2 token flow (one refresh however many calls
//! wait, refreshed before `exp`, refusals backed off); org reads and updates, usage.

use std::time::Duration;

use http::Method;
use orgway_sim::cocoon::{
    CocoonConfig, CocoonSim, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_ORG_ID, DEMO_PASSWORD,
    DEMO_PLANS_ORG_ID, DEMO_USERNAME, ListMember,
};
use serde_json::Value;

use crate::harness::{Demo, Gateway, Http};

fn cocoon(d: &Demo) -> &CocoonSim {
    d.sims.get()
}

/// Token requests the simulator received.
fn token_requests(sim: &CocoonSim) -> usize {
    sim.server()
        .requests()
        .iter()
        .filter(|r| r.path == "/api/oauth/token")
        .count()
}

/// A gateway with one Cocoon backend `share` at `base_url`, with `credentials` (TOML lines
/// whose `${…}` references resolve through `env`).
async fn gateway_at(
    base_url: &str,
    credentials: &str,
    env: Vec<(&'static str, String)>,
) -> Gateway {
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[auth]\nmode = \"off\"\n\n[[backends]]\nname = \"share\"\nkind = \"cocoon\"\nbase_url = \"{base_url}\"\n{credentials}\n"
    );
    let config = orgway::Config::parse(
        &text,
        "t.toml",
        std::path::Path::new("."),
        &move |n: &str| env.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    Gateway::start(config).await
}

/// [`gateway_at`] the simulator.
async fn gateway_for(
    sim: &CocoonSim,
    credentials: &str,
    env: Vec<(&'static str, String)>,
) -> Gateway {
    gateway_at(&sim.base_url(), credentials, env).await
}

/// The demo client signing in with the demo user's password, at `base_url`.
async fn password_gateway_at(base_url: &str) -> Gateway {
    gateway_at(
        base_url,
        &format!(
            "client_id = \"{DEMO_CLIENT_ID}\"\nclient_secret = \"${{SECRET}}\"\nusername = \"{DEMO_USERNAME}\"\npassword = \"${{PW}}\""
        ),
        vec![
            ("SECRET", DEMO_CLIENT_SECRET.to_owned()),
            ("PW", DEMO_PASSWORD.to_owned()),
        ],
    )
    .await
}

/// [`password_gateway_at`] the simulator.
async fn password_gateway(sim: &CocoonSim) -> Gateway {
    password_gateway_at(&sim.base_url()).await
}

/// The demo client's `Authorization` header at the token endpoint.
fn client_basic() -> String {
    use base64::Engine;
    let pair = format!("{DEMO_CLIENT_ID}:{DEMO_CLIENT_SECRET}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// `n` concurrent GETs of `url`, their statuses.
async fn burst(http: &Http, n: usize, url: String) -> Vec<u16> {
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

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Follows `nextCursor` from `first` (a path with a query), collecting every page's items.
async fn all_pages(d: &Demo, first: &str) -> (Vec<Value>, usize) {
    let mut items = Vec::new();
    let mut pages = 0;
    let mut url = first.to_owned();
    loop {
        let a = d.get(&url).await;
        assert_eq!(a.status, 200, "{url}: {}", String::from_utf8_lossy(&a.body));
        let page = a.json();
        pages += 1;
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["nextCursor"].as_str() {
            Some(c) => url = format!("{first}&cursor={c}"),
            None => return (items, pages),
        }
    }
}

fn storage_limit(plan: &Value) -> u64 {
    let q = &plan["quotas"][0];
    assert_eq!(
        (&q["resource"], &q["unit"]),
        (&"storage".into(), &"bytes".into())
    );
    q["limit"]
        .as_u64()
        .expect("a quota in bytes, as an integer")
}

#[tokio::test]
async fn plans_sorted_by_quota_across_pages_in_bytes() {
    let d = Demo::start().await;
    let sim = cocoon(&d);
    let natural = d.get("/v1/orgs/acme-share/plans").await.json();
    let natural_ids = ids(&natural);
    assert_eq!(natural_ids.len(), 6);
    assert_eq!(natural["total"], 6);

    // -quota over three pages of two: the global order, none repeated, none missing.
    let (items, pages) = all_pages(&d, "/v1/orgs/acme-share/plans?sort=-quota&limit=2").await;
    assert_eq!(pages, 3);
    let quotas: Vec<u64> = items.iter().map(storage_limit).collect();
    let mut expected = quotas.clone();
    expected.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(quotas, expected, "{items:?}");
    let mut seen: Vec<String> = items
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    seen.sort();
    let mut all = natural_ids.clone();
    all.sort();
    assert_eq!(seen, all, "every plan once");
    // The quotas are the simulator's MiB in bytes.
    let engineering = items.iter().find(|p| p["name"] == "Engineering").unwrap();
    assert_eq!(storage_limit(engineering), 51_200 * 1_048_576);
    assert_eq!(engineering["isDefault"], true);
    assert_eq!(engineering["assignees"]["total"], 12);
    assert_eq!(quotas[0], 1_048_576 * 1_048_576, "the 1 TiB archive first");

    // Ascending, by name, by id: each the gateway's, each total.
    let (up, _) = all_pages(&d, "/v1/orgs/acme-share/plans?sort=quota&limit=4").await;
    let up: Vec<u64> = up.iter().map(storage_limit).collect();
    let mut rev = quotas.clone();
    rev.reverse();
    assert_eq!(up, rev);
    let (by_name, _) = all_pages(&d, "/v1/orgs/acme-share/plans?sort=name&limit=5").await;
    let names: Vec<&str> = by_name
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
    let (by_id, _) = all_pages(&d, "/v1/orgs/acme-share/plans?sort=-id&limit=50").await;
    let got: Vec<&str> = by_id.iter().map(|p| p["id"].as_str().unwrap()).collect();
    let mut want = got.clone();
    want.sort_unstable_by_key(|id| std::cmp::Reverse(id.parse::<u64>().unwrap()));
    assert_eq!(got, want);

    // Without a sort, pages follow Cocoon's own order.
    let (plain, pages) = all_pages(&d, "/v1/orgs/acme-share/plans?limit=4").await;
    assert_eq!(pages, 2);
    let plain: Vec<&str> = plain.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(plain, natural_ids);

    // Cocoon's sort parameters do nothing, so the gateway never sends them.
    assert!(
        sim.server()
            .requests()
            .iter()
            .all(|r| r.query_param("sortBy").is_none() && r.query_param("orderBy").is_none())
    );

    // A sort the gateway cannot honour is 400, before any backend call.
    let before = sim.server().request_count();
    let e = d
        .get("/v1/orgs/acme-share/plans?sort=createdAt")
        .await
        .error(400, "bad_request");
    assert!(
        e["message"].as_str().unwrap().contains("name, id, quota"),
        "{e}"
    );
    d.get("/v1/backends/cocoon/orgs?sort=quota")
        .await
        .error(400, "bad_request");
    assert_eq!(sim.server().request_count(), before);
}

#[tokio::test]
async fn the_backend_list_shows_the_sorts_the_gateway_does() {
    let d = Demo::start().await;
    let all = d.get("/v1/backends").await.json();
    let b = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["kind"] == "cocoon")
        .unwrap()
        .clone();
    let lists = &b["capabilities"]["lists"];
    let plans = &lists["plans"];
    assert_eq!(
        plans["sorts"],
        serde_json::json!(["name", "id", "quota"]),
        "{b}"
    );
    assert_eq!(plans["nativeSorts"], serde_json::json!([]), "{b}");
    assert_eq!(
        lists["orgs"]["sorts"],
        serde_json::json!(["name", "id"]),
        "{b}"
    );
    assert_eq!(lists["orgs"]["nativeSorts"], serde_json::json!([]), "{b}");
}

#[tokio::test]
async fn a_quota_that_is_not_digits_is_a_bad_response_naming_it() {
    let d = Demo::start().await;
    assert!(cocoon(&d).set_plan_quota_text("761105247614910464", "12x"));
    let e = d
        .get("/v1/orgs/acme-share/plans")
        .await
        .error(502, "backend_bad_response");
    let m = e["message"].as_str().unwrap();
    assert!(m.contains("`quota`") && m.contains("\"12x\""), "{e}");
    assert_eq!(e["backend"], "cocoon");
}

#[tokio::test]
async fn lists_under_item_read_like_lists_under_items() {
    let d = Demo::start().await;
    let plans = d.get("/v1/orgs/acme-share/plans").await.json();
    let orgs = d.get("/v1/backends/cocoon/orgs").await.json();
    cocoon(&d).set_list_member(ListMember::Item);
    assert_eq!(
        ids(&d.get("/v1/orgs/acme-share/plans").await.json()),
        ids(&plans)
    );
    assert_eq!(
        ids(&d.get("/v1/backends/cocoon/orgs").await.json()),
        ids(&orgs)
    );
}

#[tokio::test]
async fn orgs_are_read_listed_and_updated() {
    let d = Demo::start().await;
    let sim = cocoon(&d);
    let org = format!("/v1/orgs/cocoon:{DEMO_ORG_ID}");
    let a = d.get(&org).await.json();
    assert_eq!(
        (a["name"].as_str(), a["kind"].as_str()),
        (Some("XY Company"), Some("cocoon"))
    );
    assert_eq!(a["status"], Value::Null, "Cocoon reports no status");

    let list = d.get("/v1/backends/cocoon/orgs?sort=-name").await.json();
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["XY Company", "Northwind Legal", "Acme Research"]);

    let p = d
        .send_json(
            Method::PATCH,
            &org,
            r#"{"name":"XY Company Pty","description":null}"#,
        )
        .await;
    assert_eq!(p.status, 200, "{}", String::from_utf8_lossy(&p.body));
    let p = p.json();
    assert_eq!(
        (p["name"].as_str(), &p["description"]),
        (Some("XY Company Pty"), &Value::Null)
    );
    let stored = sim.org(DEMO_ORG_ID).unwrap();
    assert_eq!(
        (stored["name"].as_str(), stored["description"].as_str()),
        (Some("XY Company Pty"), Some(""))
    );
    let put = sim
        .server()
        .requests()
        .into_iter()
        .find(|r| r.method == "PUT")
        .unwrap();
    assert_eq!(put.path, format!("/api/v1/organisations/{DEMO_ORG_ID}"));
    assert_eq!(put.header("content-type"), Some("application/json"));
    assert!(
        put.header("authorization")
            .unwrap()
            .starts_with("Bearer eyJ")
    );
    let body: Value = serde_json::from_slice(&put.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"name": "XY Company Pty", "description": ""})
    );

    d.send_json(Method::PATCH, &org, r#"{"status":"disabled"}"#)
        .await
        .error(422, "unsupported_field");
    d.send_json(Method::PATCH, &org, r#"{"name":null}"#)
        .await
        .error(400, "bad_request");
    d.get("/v1/orgs/cocoon:1").await.error(404, "not_found");
    d.get("/v1/orgs/cocoon:abc")
        .await
        .error(400, "invalid_org_ref");
}

#[tokio::test]
async fn usage_from_the_statistics_and_raw_records() {
    let d = Demo::start().await;
    let u = d.get(&format!("/v1/orgs/cocoon:{DEMO_ORG_ID}/usage")).await;
    assert_eq!(u.status, 200, "{}", String::from_utf8_lossy(&u.body));
    let u = u.json();
    let metric = |m: &str| {
        u["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["metric"] == m)
            .map(|x| {
                (
                    x["value"].as_u64().unwrap(),
                    x["unit"].as_str().unwrap().to_owned(),
                )
            })
    };
    assert_eq!(metric("storage"), Some((734_003_200, "bytes".into())));
    assert_eq!(
        metric("storage-allocated"),
        Some((2_094_080 * 1_048_576, "bytes".into()))
    );
    assert_eq!(
        metric("storage-required"),
        Some((10_240 * 1_048_576, "bytes".into()))
    );
    assert_eq!(metric("originators"), Some((1, "count".into())));
    assert_eq!(metric("collaborators"), Some((4, "count".into())));

    let raw = d
        .get(&format!("/v1/orgs/cocoon:{DEMO_ORG_ID}/usage?include=raw"))
        .await
        .json();
    assert_eq!(raw["raw"]["storage"]["usedStorage"], "734003200");
    assert_eq!(raw["raw"]["users"]["originatorCount"], 1);
    let plans = d
        .get(&format!("/v1/orgs/cocoon:{DEMO_ORG_ID}/plans?include=raw"))
        .await
        .json();
    assert_eq!(plans["items"][1]["raw"]["statistics"]["quota"], "10240");
    assert_eq!(plans["items"][1]["raw"]["plan"]["isDefault"], true);
    assert_eq!(storage_limit(&plans["items"][1]), 10_737_418_240);
}

#[tokio::test]
async fn a_token_that_expires_mid_run_is_refreshed_once_for_fifty_requests() {
    let d = Demo::start().await;
    let sim = cocoon(&d);
    let url = d.gw.url("/v1/orgs/acme-share/plans");
    assert!(
        burst(&d.client, 50, url.clone())
            .await
            .iter()
            .all(|s| *s == 200)
    );
    let g = sim.grants();
    assert_eq!(
        (g.password, g.refresh),
        (1, 0),
        "one sign-in for fifty calls"
    );

    // Every token dies at once: fifty calls (a hundred Cocoon requests) meet 401s, and one
    // refresh serves them all.
    sim.expire_access_tokens();
    assert!(
        burst(&d.client, 50, url.clone())
            .await
            .iter()
            .all(|s| *s == 200)
    );
    let g = sim.grants();
    assert_eq!((g.password, g.refresh), (1, 1), "{g:?}");
    assert_eq!(token_requests(sim), 2);

    // The token request: the client as HTTP Basic, a form body.
    let first = sim
        .server()
        .requests()
        .into_iter()
        .find(|r| r.path == "/api/oauth/token")
        .unwrap();
    assert_eq!(first.header("authorization"), Some(client_basic().as_str()));
    assert_eq!(
        first.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let form: Vec<(String, String)> = form_urlencoded::parse(&first.body).into_owned().collect();
    assert!(
        form.contains(&("grant_type".into(), "password".into())),
        "{form:?}"
    );
    assert!(form.contains(&("username".into(), DEMO_USERNAME.into())));
}

#[tokio::test]
async fn tokens_are_refreshed_before_their_exp() {
    // Tokens that live 3 s: the gateway refreshes 0.6 s before the end.
    let sim = CocoonSim::start(CocoonConfig {
        access_token_lifetime: Duration::from_secs(3),
        ..CocoonConfig::default()
    })
    .await
    .unwrap();
    let gw = password_gateway(&sim).await;
    let http = Http::new();
    let url = gw.url(&format!("/v1/orgs/share:{DEMO_PLANS_ORG_ID}"));
    assert!(
        burst(&http, 10, url.clone())
            .await
            .iter()
            .all(|s| *s == 200)
    );
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert!(
        burst(&http, 50, url.clone())
            .await
            .iter()
            .all(|s| *s == 200)
    );
    let g = sim.grants();
    assert_eq!((g.password, g.refresh), (1, 1), "{g:?}");
    assert_eq!(g.rejected_tokens, 0, "no call met an expired token");
    gw.stop().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn a_refused_refresh_is_an_auth_failure_and_backs_off() {
    let sim = CocoonSim::start(CocoonConfig::default()).await.unwrap();
    let gw = password_gateway(&sim).await;
    let http = Http::new();
    let url = gw.url(&format!("/v1/orgs/share:{DEMO_ORG_ID}"));
    assert_eq!(burst(&http, 1, url.clone()).await, [200]);
    assert_eq!(token_requests(&sim), 1);

    // The client's secret is revoked and the token dies: fifty calls, one token request.
    sim.set_refuse_token_requests(true);
    sim.expire_access_tokens();
    let started = std::time::Instant::now();
    let statuses = burst(&http, 50, url.clone()).await;
    assert!(statuses.iter().all(|s| *s == 502), "{statuses:?}");
    let e = http
        .send(Method::GET, &url, &[], None)
        .await
        .error(502, "backend_auth_failed");
    assert_eq!(e["backend"], "share");
    assert!(!e.to_string().contains(DEMO_CLIENT_SECRET));
    assert_eq!(
        token_requests(&sim),
        2,
        "the refresh, and no password grant after a refused client"
    );
    // Calls keep coming for 6.5 s: one more token request once the first 5 s are over.
    let mut within_first_period = 0;
    while started.elapsed() < Duration::from_millis(6_500) {
        http.send(Method::GET, &url, &[], None)
            .await
            .error(502, "backend_auth_failed");
        if started.elapsed() < Duration::from_millis(4_900) {
            within_first_period = token_requests(&sim);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(within_first_period, 2, "nothing more within the backoff");
    assert_eq!(
        token_requests(&sim),
        3,
        "one token request per backoff period"
    );
    gw.stop().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn a_spent_refresh_token_is_replaced_by_the_password_grant() {
    let sim = CocoonSim::start(CocoonConfig::default()).await.unwrap();
    let gw = password_gateway(&sim).await;
    let http = Http::new();
    let url = gw.url(&format!("/v1/orgs/share:{DEMO_ORG_ID}/plans"));
    assert_eq!(burst(&http, 1, url.clone()).await, [200]);
    sim.revoke_refresh_tokens();
    sim.expire_access_tokens();
    assert!(
        burst(&http, 30, url.clone())
            .await
            .iter()
            .all(|s| *s == 200)
    );
    let g = sim.grants();
    assert_eq!((g.password, g.refresh, g.refused), (2, 0, 1), "{g:?}");
    assert_eq!(
        token_requests(&sim),
        3,
        "sign-in, the refused refresh, sign-in"
    );
    gw.stop().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn a_configured_refresh_token_or_static_token_needs_no_password() {
    let sim = CocoonSim::start(CocoonConfig::default()).await.unwrap();
    // A refresh token the client was issued elsewhere.
    let http = Http::new();
    let issued = http
        .send(
            Method::POST,
            &format!("{}/api/oauth/token", sim.base_url()),
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("authorization", &client_basic()),
            ],
            Some(
                format!("grant_type=password&username={DEMO_USERNAME}&password={DEMO_PASSWORD}")
                    .into_bytes(),
            ),
        )
        .await
        .json();
    let refresh = issued["refresh_token"].as_str().unwrap().to_owned();
    let gw = gateway_for(
        &sim,
        &format!("client_id = \"{DEMO_CLIENT_ID}\"\nclient_secret = \"${{SECRET}}\"\nrefresh_token = \"${{RT}}\""),
        vec![("SECRET", DEMO_CLIENT_SECRET.to_owned()), ("RT", refresh)],
    )
    .await;
    let url = gw.url(&format!("/v1/orgs/share:{DEMO_ORG_ID}"));
    assert_eq!(burst(&http, 20, url.clone()).await, vec![200; 20]);
    assert_eq!((sim.grants().password, sim.grants().refresh), (1, 1));
    // Revoked, with no password to fall back on: 502, and the token is not sent again.
    sim.revoke_refresh_tokens();
    sim.expire_access_tokens();
    assert!(
        burst(&http, 20, url.clone())
            .await
            .iter()
            .all(|s| *s == 502)
    );
    let before = token_requests(&sim);
    tokio::time::sleep(Duration::from_millis(5_200)).await;
    http.send(Method::GET, &url, &[], None)
        .await
        .error(502, "backend_auth_failed");
    assert_eq!(
        token_requests(&sim),
        before,
        "a refused refresh token is never sent again"
    );
    gw.stop().await.unwrap();

    // A static access token: no token request at all, until Cocoon refuses it.
    let token = sim
        .issue_access_token(DEMO_USERNAME, Duration::from_secs(3600))
        .unwrap();
    let before = token_requests(&sim);
    let t = token.clone();
    let gw = gateway_for(&sim, "token = \"${TOKEN}\"", vec![("TOKEN", t)]).await;
    let url = gw.url(&format!("/v1/orgs/share:{DEMO_ORG_ID}/usage"));
    assert_eq!(burst(&http, 5, url.clone()).await, vec![200; 5]);
    let sent = sim.server().requests().into_iter().last().unwrap();
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {token}").as_str())
    );
    sim.expire_access_tokens();
    let e = http
        .send(Method::GET, &url, &[], None)
        .await
        .error(502, "backend_auth_failed");
    assert!(!e.to_string().contains(&token));
    assert_eq!(token_requests(&sim), before);
    gw.stop().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn a_wrong_base_url_is_an_auth_failure_not_a_missing_org() {
    let sim = CocoonSim::start(CocoonConfig::default()).await.unwrap();
    let gw = password_gateway_at(&format!("{}/wrong", sim.base_url())).await;
    let http = Http::new();
    let e = http
        .send(
            Method::GET,
            &gw.url(&format!("/v1/orgs/share:{DEMO_ORG_ID}")),
            &[],
            None,
        )
        .await
        .error(502, "backend_auth_failed");
    assert_eq!(e["backendStatus"], 404, "{e}");
    gw.stop().await.unwrap();
    sim.shutdown().await;
}
