//! The read cache end to end (docs/API.md §7): one fill per key, stale-while-revalidate without
//! waiting, stale-if-error, invalidation on write, keys kept apart per credential, and the
//! HTTP headers. The simulators count the calls they receive.

use std::time::{Duration, Instant};

use http::Method;
use orgway_sim::FaultPlan;

use crate::harness::{Answer, Demo, Gateway, Http};

const ORG: &str = "/v1/orgs/losant:575ed6e87ae143cd83dc4aa8";

/// Calls to the Losant simulator for one org (its instance-org GET).
fn org_reads(d: &Demo) -> usize {
    d.losant()
        .server()
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/orgs/575ed6e87ae143cd83dc4aa8"))
        .count()
}

/// `n` concurrent GETs of `path`, with each one's latency. Each burst has a client of its own
/// (new connections): reusing a thousand pooled connections that sat idle for a second costs
/// the test client hundreds of milliseconds on its own, whatever the server.
async fn burst(d: &Demo, n: usize, path: &str) -> Vec<(Answer, Duration)> {
    let client = Http::new();
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let (http, url) = (client.clone(), d.gw.url(path));
        tasks.push(tokio::spawn(async move {
            let started = Instant::now();
            let a = http.send(Method::GET, &url, &[], None).await;
            (a, started.elapsed())
        }));
    }
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

fn p99(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[(v.len() * 99 / 100).min(v.len() - 1)]
}

fn header<'a>(a: &'a Answer, name: &str) -> &'a str {
    a.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[tokio::test]
async fn a_thousand_concurrent_misses_make_one_backend_call() {
    let d = Demo::start_cached(|t| t).await;
    // The vendor takes four seconds (its timeout is five), so callers arrive while the one
    // fill runs even on a loaded machine.
    d.losant().server().faults().set(FaultPlan {
        latency_ms: 4000,
        remaining: Some(1),
        ..FaultPlan::default()
    });
    let answers = burst(&d, 1000, ORG).await;
    assert_eq!(org_reads(&d), 1, "one fill for a thousand callers");
    // The same answer for all: the same content, fetched once (the same `fetchedAt`); only
    // `meta.cache` tells a caller that waited for the fill (`miss`) from one that came after
    // it (`hit`).
    let content = |a: &Answer| {
        let mut v = a.json();
        let how = v["meta"]["cache"].take();
        (v, how)
    };
    let (first, _) = content(&answers[0].0);
    let mut waited = 0;
    for (a, _) in &answers {
        assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
        let (v, how) = content(a);
        assert_eq!(v, first, "identical answers");
        assert_eq!(how, header(a, "x-cache"));
        if header(a, "cache-status").ends_with("; collapsed") {
            waited += 1;
        }
    }
    assert!(
        waited > 500,
        "most callers waited for the one fill: {waited}"
    );
    // Then a hit, with its headers.
    let hit = d.get(ORG).await;
    assert_eq!(header(&hit, "x-cache"), "hit");
    assert!(header(&hit, "cache-status").starts_with("orgway; hit; ttl="));
    assert!(header(&hit, "cache-control").starts_with("private, max-age="));
    assert_eq!(header(&hit, "vary"), "authorization");
    assert_eq!(hit.json()["meta"]["cache"], "hit");
    assert_eq!(org_reads(&d), 1);
    let backends = d.get("/v1/backends").await.json();
    let losant = backends["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "losant")
        .unwrap()
        .clone();
    assert_eq!(losant["cache"]["enabled"], true);
    assert_eq!(losant["cache"]["collapsed"], waited);
    assert_eq!(losant["cache"]["misses"], 1);
    assert_eq!(losant["cache"]["hits"], 1000 - 1 - waited + 1);
}

#[tokio::test]
async fn stale_entries_are_answered_at_once_while_one_refresh_runs() {
    let d = Demo::start_cached(|t| {
        t.replace("org = 10000", "org = 1000").replace(
            "stale_while_revalidate_ms = 5000",
            "stale_while_revalidate_ms = 60000",
        )
    })
    .await;
    assert_eq!(d.get(ORG).await.status, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // The refresh now takes three seconds: anyone waiting for it would show.
    let refresh = Duration::from_millis(3000);
    d.losant().server().faults().set(FaultPlan {
        latency_ms: refresh.as_millis() as u64,
        remaining: Some(1),
        ..FaultPlan::default()
    });
    let before = org_reads(&d);
    let started = Instant::now();
    let answers = burst(&d, 1000, ORG).await;
    for (a, _) in &answers {
        assert_eq!(a.status, 200);
        assert_eq!(header(a, "x-cache"), "stale");
        assert_eq!(a.json()["meta"]["cache"], "stale");
    }
    // The whole burst was answered while the refresh was still under way (an answer after it
    // would be a hit), so nobody waited for it. (Not timed against the hits' latency: on a
    // loaded machine a burst of a thousand takes a few hundred milliseconds either way.)
    let still = d.get(ORG).await;
    assert_eq!(
        header(&still, "x-cache"),
        "stale",
        "the refresh was in after {:?}",
        started.elapsed()
    );
    let stale_p99 = p99(answers.into_iter().map(|(_, t)| t).collect());
    assert!(
        stale_p99 < refresh / 2,
        "stale answers waited: p99 {stale_p99:?}"
    );
    // Exactly one refresh ran; once it is in, answers are fresh again.
    tokio::time::sleep(refresh.saturating_sub(started.elapsed()) + Duration::from_millis(300))
        .await;
    assert_eq!(org_reads(&d) - before, 1, "one background refresh");
    let fresh = d.get(ORG).await;
    assert_eq!(header(&fresh, "x-cache"), "hit");
}

#[tokio::test]
async fn writes_invalidate_and_so_do_failed_writes_that_may_have_changed_something() {
    let d = Demo::start_cached(|t| t).await;
    let name = d.get("/v1/orgs/acme").await.json()["name"].clone();
    assert_eq!(header(&d.get("/v1/orgs/acme").await, "x-cache"), "hit");

    // A PATCH the vendor refused changed nothing: the entry is still answered, without a
    // backend call.
    d.losant().server().faults().set(FaultPlan {
        status: Some(400),
        remaining: Some(1),
        ..FaultPlan::default()
    });
    let e = d
        .send_json(Method::PATCH, "/v1/orgs/acme", r#"{"name":"Never"}"#)
        .await
        .error(400, "bad_request");
    assert!(e["details"].get("outcome").is_none(), "{e}");
    let before = org_reads(&d);
    let still = d.get("/v1/orgs/acme").await;
    assert_eq!(header(&still, "x-cache"), "hit");
    assert_eq!(still.json()["name"], name);
    assert_eq!(org_reads(&d), before);

    // One the vendor failed (500) may have changed something: its outcome is unknown, and the
    // org is read from the vendor again.
    d.losant().server().faults().set(FaultPlan {
        status: Some(500),
        remaining: Some(1),
        ..FaultPlan::default()
    });
    let e = d
        .send_json(Method::PATCH, "/v1/orgs/acme", r#"{"name":"Never"}"#)
        .await
        .error(502, "backend_error");
    assert_eq!(e["details"]["outcome"], "unknown", "{e}");
    let again = d.get("/v1/orgs/acme").await;
    assert_eq!(header(&again, "x-cache"), "miss");
    assert_eq!(again.json()["name"], name, "the vendor did not apply it");
    assert_eq!(org_reads(&d), before + 1);

    // A PATCH, then a GET: the new name, never the cached old one.
    let a = d
        .send_json(Method::PATCH, "/v1/orgs/acme", r#"{"name":"Renamed"}"#)
        .await;
    assert_eq!(a.status, 200);
    let after = d.get("/v1/orgs/acme").await;
    assert_eq!(after.json()["name"], "Renamed");
    assert_eq!(header(&after, "x-cache"), "miss");
    // The backend's org list was dropped too.
    let listed = d.get("/v1/backends/losant/orgs?limit=100").await.json();
    assert!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["name"] == "Renamed")
    );

    // A DELETE, then a GET: 404.
    assert_eq!(d.get("/v1/orgs/acme").await.status, 200);
    let del = d
        .client
        .send(Method::DELETE, &d.gw.url("/v1/orgs/acme"), &[], None)
        .await;
    assert_eq!(del.status, 204);
    d.get("/v1/orgs/acme").await.error(404, "not_found");
}

#[tokio::test]
async fn stale_if_error_then_the_error() {
    let d = Demo::start_cached(|t| {
        t.replace("org = 10000", "org = 500")
            .replace(
                "stale_while_revalidate_ms = 5000",
                "stale_while_revalidate_ms = 0",
            )
            .replace("stale_if_error_ms = 60000", "stale_if_error_ms = 1500")
    })
    .await;
    let name = d.get(ORG).await.json()["name"].clone();
    tokio::time::sleep(Duration::from_millis(600)).await;
    // The backend is down: its connections drop.
    d.losant().server().faults().set(FaultPlan {
        drop_connection: true,
        ..FaultPlan::default()
    });
    let stale = d.get(ORG).await;
    assert_eq!(stale.status, 200);
    assert_eq!(header(&stale, "x-cache"), "stale");
    assert!(
        header(&stale, "cache-status").contains("fwd=stale; fwd-status=502"),
        "{}",
        header(&stale, "cache-status")
    );
    let v = stale.json();
    assert_eq!(v["name"], name);
    assert_eq!(v["meta"]["cache"], "stale");
    // Past the stale limit: the documented error.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    d.get(ORG).await.error(502, "backend_error");
    d.losant().server().faults().clear();
    assert_eq!(header(&d.get(ORG).await, "x-cache"), "miss");
}

#[tokio::test]
async fn etags_and_no_cache() {
    let d = Demo::start_cached(|t| t).await;
    let first = d.get(ORG).await;
    let etag = header(&first, "etag").to_owned();
    assert!(etag.starts_with('"') && etag.len() == 34, "{etag}");
    // If-None-Match: 304, no body, no backend call.
    let before = org_reads(&d);
    let not_modified = d
        .client
        .send(
            Method::GET,
            &d.gw.url(ORG),
            &[("if-none-match", &etag)],
            None,
        )
        .await;
    assert_eq!(not_modified.status, 304);
    assert!(not_modified.body.is_empty());
    assert_eq!(header(&not_modified, "etag"), etag);
    // A hit's headers, less the content type of a body it does not carry.
    assert!(not_modified.headers.get("content-type").is_none());
    assert_eq!(header(&not_modified, "x-cache"), "hit");
    assert_eq!(header(&not_modified, "vary"), "authorization");
    assert_eq!(org_reads(&d), before);
    // Cache-Control: no-cache reads the backend and refreshes the entry; the content is the
    // same, so is its tag.
    let forced = d
        .client
        .send(
            Method::GET,
            &d.gw.url(ORG),
            &[("cache-control", "no-cache")],
            None,
        )
        .await;
    assert_eq!(forced.status, 200);
    assert_eq!(header(&forced, "x-cache"), "miss");
    assert!(header(&forced, "cache-status").contains("fwd=request"));
    assert_eq!(org_reads(&d), before + 1);
    assert_eq!(header(&forced, "etag"), etag, "same content, same tag");
    assert_eq!(header(&d.get(ORG).await, "x-cache"), "hit");
    // `include=raw` is another entry; `?limit=50&sort=name` and `?sort=name` are one.
    assert_eq!(
        header(&d.get(&format!("{ORG}?include=raw")).await, "x-cache"),
        "miss"
    );
    let a = d.get("/v1/backends/losant/orgs?sort=name").await;
    let b = d.get("/v1/backends/losant/orgs?limit=50&sort=name").await;
    assert_eq!(
        (header(&a, "x-cache"), header(&b, "x-cache")),
        ("miss", "hit")
    );
    // Purges.
    let purged = d
        .client
        .send(
            Method::DELETE,
            &d.gw.url("/v1/cache/orgs/losant:575ed6e87ae143cd83dc4aa8"),
            &[],
            None,
        )
        .await;
    assert_eq!(purged.status, 204);
    assert_eq!(header(&d.get(ORG).await, "x-cache"), "miss");
    let purged = d
        .client
        .send(
            Method::DELETE,
            &d.gw.url("/v1/cache/backends/losant"),
            &[],
            None,
        )
        .await;
    assert_eq!(purged.status, 204);
    assert_eq!(header(&d.get(ORG).await, "x-cache"), "miss");
    d.client
        .send(
            Method::DELETE,
            &d.gw.url("/v1/cache/backends/nope"),
            &[],
            None,
        )
        .await
        .error(404, "not_found");
    // The counters are on /metrics.
    let metrics = String::from_utf8_lossy(&d.get("/metrics").await.body).into_owned();
    assert!(
        metrics.contains("orgway_cache_lookups_total{backend=\"losant\",result=\"hit\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("orgway_cache_bytes "), "{metrics}");
}

#[tokio::test]
async fn backends_with_different_credentials_never_share_an_entry() {
    use orgway_sim::losant::{DEMO_TOKEN, LosantConfig, LosantSim};
    let sim = LosantSim::start(LosantConfig {
        tokens: vec![DEMO_TOKEN.to_owned(), "second-token".to_owned()],
        ..LosantConfig::default()
    })
    .await
    .unwrap();
    let backend = |name: &str, token: &str| {
        format!(
            "[[backends]]\nname = \"{name}\"\nkind = \"losant\"\nbase_url = \"{}\"\ninstance_id = \"575ec8687ae143cd83dc4a97\"\ntoken = \"${{{token}}}\"\n",
            sim.base_url()
        )
    };
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[auth]\nmode = \"off\"\n\n{}\n{}\n[cache]\n[cache.ttl_ms]\norg = 60000\n",
        backend("a", "TOKEN_A"),
        backend("b", "TOKEN_B")
    );
    let config =
        orgway::Config::parse(
            &text,
            "t.toml",
            std::path::Path::new("."),
            &|n: &str| match n {
                "TOKEN_A" => Some(DEMO_TOKEN.to_owned()),
                "TOKEN_B" => Some("second-token".to_owned()),
                _ => None,
            },
        )
        .unwrap();
    let gw = Gateway::start(config).await;
    let http = Http::new();
    let get = |b: &str| {
        let (http, url) = (
            http.clone(),
            gw.url(&format!("/v1/orgs/{b}:575ed6e87ae143cd83dc4aa8")),
        );
        async move { http.send(Method::GET, &url, &[], None).await }
    };
    let a = get("a").await;
    assert_eq!(header(&a, "x-cache"), "miss");
    // The data changes behind the gateway: backend `b` must see it, not `a`'s entry.
    let auth = format!("Bearer {DEMO_TOKEN}");
    let patched = http
        .send(
            Method::PATCH,
            &format!(
                "{}/instances/575ec8687ae143cd83dc4a97/orgs/575ed6e87ae143cd83dc4aa8",
                sim.base_url()
            ),
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            Some(br#"{"name":"Changed Behind"}"#.to_vec()),
        )
        .await;
    assert_eq!(
        patched.status,
        200,
        "{}",
        String::from_utf8_lossy(&patched.body)
    );
    let b = get("b").await;
    assert_eq!(header(&b, "x-cache"), "miss");
    assert_eq!(b.json()["name"], "Changed Behind");
    assert_ne!(a.json()["name"], "Changed Behind");
    assert_eq!(header(&get("a").await, "x-cache"), "hit");
    let tokens: Vec<String> = sim
        .server()
        .requests()
        .iter()
        .filter(|r| r.method == "GET")
        .filter_map(|r| {
            r.headers
                .iter()
                .find(|(k, _)| k == "authorization")
                .map(|(_, v)| v.clone())
        })
        .collect();
    assert_eq!(
        tokens,
        [
            format!("Bearer {DEMO_TOKEN}"),
            "Bearer second-token".to_owned()
        ]
    );
    gw.stop().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn a_backend_can_turn_a_class_off() {
    // Losant's org reads are not cached (its own `cache_ttl_ms`); its usage still is.
    let d = Demo::start_cached(|t| {
        t.replace(
            "instance_id = \"575ec8687ae143cd83dc4a97\"",
            "instance_id = \"575ec8687ae143cd83dc4a97\"\ncache_ttl_ms = { org = 0 }",
        )
    })
    .await;
    for _ in 0..2 {
        let a = d.get(ORG).await;
        assert_eq!(header(&a, "x-cache"), "bypass");
        assert_eq!(a.json()["meta"]["cache"], "bypass");
        assert!(a.headers.get("etag").is_none());
    }
    assert_eq!(org_reads(&d), 2);
    let usage = "/v1/orgs/acme/usage";
    assert_eq!(header(&d.get(usage).await, "x-cache"), "miss");
    assert_eq!(header(&d.get(usage).await, "x-cache"), "hit");
    let backends = d.get("/v1/backends").await.json();
    let losant = backends["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "losant")
        .unwrap()
        .clone();
    assert_eq!(losant["cache"]["ttlMs"]["org"], 0);
    assert_eq!(losant["cache"]["ttlMs"]["usage"], 5000);
}

/// The front door (`cache.rs`, "The front index"): a repeated `GET` is answered before routing,
/// with the very answer a routed hit gives, and steps aside as soon as anything could make the
/// routed read answer otherwise.
#[tokio::test]
async fn the_front_door_answers_repeats_as_the_router_would_and_steps_aside_after_writes() {
    let d = Demo::start_cached(|t| t).await;
    // The alias and the org id are one entry; the first read of each target is routed.
    assert_eq!(header(&d.get("/v1/orgs/acme").await, "x-cache"), "miss");
    let routed = d.get(ORG).await;
    assert_eq!(header(&routed, "x-cache"), "hit");
    // Repeats: the same answer (the request id aside), no backend call.
    let reads = org_reads(&d);
    for _ in 0..3 {
        let front = d.get(ORG).await;
        assert_eq!(front.status, 200);
        assert_eq!(front.body, routed.body);
        for h in ["content-type", "etag", "x-cache", "vary"] {
            assert_eq!(header(&front, h), header(&routed, h), "{h}");
        }
        assert!(header(&front, "cache-status").starts_with("orgway; hit; ttl="));
        assert!(header(&front, "cache-control").starts_with("private, max-age="));
        assert_eq!(header(&front, "x-request-id").len(), 32);
    }
    // A caller's request id is echoed there too, and `If-None-Match` is honoured.
    let mine = d
        .client
        .send(
            Method::GET,
            &d.gw.url(ORG),
            &[
                ("x-request-id", "front-door-1"),
                ("if-none-match", header(&routed, "etag")),
            ],
            None,
        )
        .await;
    assert_eq!(
        (mine.status.as_u16(), header(&mine, "x-request-id")),
        (304, "front-door-1")
    );
    assert_eq!(org_reads(&d), reads);
    // Front answers are counted as hits, on the route they came from.
    let backends = d.get("/v1/backends").await.json();
    let losant = backends["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "losant")
        .unwrap()
        .clone();
    assert!(losant["cache"]["hits"].as_u64().unwrap() >= 5, "{losant}");
    let metrics = String::from_utf8_lossy(&d.get("/metrics").await.body).into_owned();
    assert!(
        metrics.contains("route=\"/v1/orgs/{org}\",status=\"304\""),
        "{metrics}"
    );

    // A write to another org of the backend: the front door steps aside, the routed read still
    // finds the entry (its org was not written), and the door opens again after it.
    let other = d.get("/v1/backends/losant/orgs?limit=100").await.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .find(|id| !id.ends_with("575ed6e87ae143cd83dc4aa8"))
        .unwrap();
    let patched = d
        .send_json(
            Method::PATCH,
            &format!("/v1/orgs/{other}"),
            r#"{"name":"Elsewhere"}"#,
        )
        .await;
    assert_eq!(
        patched.status,
        200,
        "{}",
        String::from_utf8_lossy(&patched.body)
    );
    assert_eq!(header(&d.get(ORG).await, "x-cache"), "hit");
    assert_eq!(header(&d.get(ORG).await, "x-cache"), "hit");
    assert_eq!(org_reads(&d), reads);

    // A write to the org itself: the next read is a miss with the new name, through the door.
    d.send_json(Method::PATCH, "/v1/orgs/acme", r#"{"name":"Front"}"#)
        .await;
    let after = d.get(ORG).await;
    assert_eq!(
        (header(&after, "x-cache"), after.json()["name"].as_str()),
        ("miss", Some("Front"))
    );
    assert_eq!(header(&d.get(ORG).await, "x-cache"), "hit");
    // An operator's purge, and a caller's no-cache, are never answered by the door.
    let purged = d
        .client
        .send(Method::DELETE, &d.gw.url("/v1/cache/orgs/acme"), &[], None)
        .await;
    assert_eq!(purged.status, 204);
    assert_eq!(header(&d.get(ORG).await, "x-cache"), "miss");
    assert_eq!(header(&d.get(ORG).await, "x-cache"), "hit");
    let forced = d
        .client
        .send(Method::GET, &d.gw.url(ORG), &[("pragma", "no-cache")], None)
        .await;
    assert_eq!(header(&forced, "x-cache"), "miss");
}

/// Every `meta` of an answer (a list's items carry the page's) says how that answer was given,
/// and nothing else differs between the miss and the hits after it, `include=raw` included.
#[tokio::test]
async fn each_answer_of_an_entry_carries_its_own_meta_and_the_same_content() {
    let d = Demo::start_cached(|t| t).await;
    /// The body with each meta's `cache` and `fetchedAt` taken out, and those values, in order.
    fn split(mut v: serde_json::Value, metas: &mut Vec<(String, String)>) -> serde_json::Value {
        match &mut v {
            serde_json::Value::Object(m) => {
                if let Some(meta) = m.get_mut("meta").and_then(|m| m.as_object_mut()) {
                    let cache = meta.remove("cache").expect("meta.cache");
                    let fetched = meta.remove("fetchedAt").expect("meta.fetchedAt");
                    metas.push((
                        cache.as_str().unwrap().to_owned(),
                        fetched.as_str().unwrap().to_owned(),
                    ));
                }
                for (_, x) in m.iter_mut() {
                    *x = split(x.take(), metas);
                }
            }
            serde_json::Value::Array(a) => {
                for x in a.iter_mut() {
                    *x = split(x.take(), metas);
                }
            }
            _ => {}
        }
        v
    }
    // The Enhance org's demo customer, which holds a subscription.
    let customer = format!("enhance:{}", orgway_sim::enhance::DEMO_CUSTOMER_ID);
    let subscriptions = format!("/v1/orgs/acme-hosting/customers/{customer}/subscriptions");
    // Every kind of body a read answers with: a page of orgs and an org (Losant, with the raw
    // record), usage, a usage series, a page of plans (Commvault), a page of
    // subscriptions (Enhance).
    for path in [
        "/v1/backends/losant/orgs?limit=100&include=raw",
        "/v1/orgs/acme?include=raw",
        "/v1/orgs/acme/usage",
        "/v1/orgs/acme/usage/devices?interval=day",
        "/v1/orgs/acme-backup/plans",
        subscriptions.as_str(),
    ] {
        let miss = d.get(path).await;
        assert_eq!(
            miss.status,
            200,
            "{path}: {}",
            String::from_utf8_lossy(&miss.body)
        );
        assert_eq!(header(&miss, "x-cache"), "miss", "{path}");
        let mut miss_metas = Vec::new();
        let miss_body = split(miss.json(), &mut miss_metas);
        let n = miss_metas.len();
        assert!(n >= 1, "{path}");
        if path.contains("/orgs?") || path.ends_with("/plans") {
            assert!(n > 2, "{path}: a page and its items, each with a meta");
        }
        if path.ends_with("/subscriptions") {
            assert!(
                n >= 2,
                "{path}: a page and its subscription, each with a meta"
            );
        }
        // One fetch, so one `fetchedAt` throughout, and a real one.
        let fetched = miss_metas[0].1.clone();
        assert!(fetched.starts_with("20"), "{path}: fetchedAt {fetched}");
        let expect = |cache: &str| vec![(cache.to_owned(), fetched.clone()); n];
        assert_eq!(miss_metas, expect("miss"), "{path}");
        for _ in 0..2 {
            let hit = d.get(path).await;
            assert_eq!(header(&hit, "x-cache"), "hit", "{path}");
            let mut hit_metas = Vec::new();
            let hit_body = split(hit.json(), &mut hit_metas);
            assert_eq!(hit_body, miss_body, "{path}");
            assert_eq!(hit_metas, expect("hit"), "{path}");
        }
    }
}
