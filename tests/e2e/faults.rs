//! The fault matrix: for every backend kind of the demo (so every dialect of the registry), each
//! way a vendor can fail — it hangs, answers 5xx, resets the connection, sends a malformed or
//! truncated body, rate limits with `Retry-After`, refuses the gateway's credentials — and a
//! slow client are each mapped to the documented status and code in the one error shape, and
//! nothing panics. (Each simulator serves as its vendor does: Watson IoT's over TLS, so its
//! faults also cross a TLS connection.)

use std::time::{Duration, Instant};

use http::Method;
use orgway_sim::FaultPlan;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::Demo;

/// One fault and what the caller must see.
struct Case {
    name: &'static str,
    plan: FaultPlan,
    status: u16,
    code: &'static str,
}

fn cases() -> Vec<Case> {
    let plan = |f: fn(&mut FaultPlan)| {
        let mut p = FaultPlan::default();
        f(&mut p);
        p
    };
    vec![
        Case {
            name: "vendor hangs",
            plan: plan(|p| p.latency_ms = 5_000),
            status: 504,
            code: "backend_timeout",
        },
        Case {
            name: "500",
            plan: plan(|p| p.status = Some(500)),
            status: 502,
            code: "backend_error",
        },
        Case {
            name: "504 from the vendor's web server",
            plan: plan(|p| p.status = Some(504)),
            status: 504,
            code: "backend_timeout",
        },
        Case {
            name: "502",
            plan: plan(|p| p.status = Some(502)),
            status: 502,
            code: "backend_error",
        },
        Case {
            name: "503",
            plan: plan(|p| p.status = Some(503)),
            status: 503,
            code: "backend_unavailable",
        },
        Case {
            name: "connection reset",
            plan: plan(|p| p.drop_connection = true),
            status: 502,
            code: "backend_error",
        },
        Case {
            name: "malformed body",
            plan: plan(|p| p.malformed_body = true),
            status: 502,
            code: "backend_bad_response",
        },
        Case {
            name: "truncated body",
            plan: plan(|p| p.truncate_body = true),
            status: 502,
            code: "backend_error",
        },
        Case {
            name: "429 with Retry-After in seconds",
            plan: plan(|p| {
                p.status = Some(429);
                p.retry_after = Some("7".into());
            }),
            status: 503,
            code: "backend_unavailable",
        },
        Case {
            name: "credentials refused",
            plan: plan(|p| p.status = Some(401)),
            status: 502,
            code: "backend_auth_failed",
        },
    ]
}

#[tokio::test]
async fn every_fault_of_every_backend_kind_maps_to_its_documented_answer() {
    // A short backend timeout so the hang case is quick, and a short body deadline for the slow
    // client.
    let d = Demo::start_with(|t| {
        t.replace("timeout_ms = 5000", "timeout_ms = 800")
            .replace("[server]", "[server]\nbody_read_timeout_ms = 800")
    })
    .await;
    let backends = d.get("/v1/backends").await.json();
    let mut kinds_seen = Vec::new();
    for b in backends["items"].as_array().unwrap() {
        let (name, kind) = (b["name"].as_str().unwrap(), b["kind"].as_str().unwrap());
        let page = d.get(&format!("/v1/backends/{name}/orgs?limit=1")).await;
        assert_eq!(page.status, 200, "{name}");
        let org = page.json()["items"][0]["id"].as_str().unwrap().to_owned();
        let (_, sim) = d.sims.iter().find(|(k, _)| k.name() == kind).unwrap();
        let faults = sim.server().faults();
        for case in cases() {
            faults.set(case.plan.clone());
            let started = Instant::now();
            let a = d.get(&format!("/v1/orgs/{org}")).await;
            faults.clear();
            let what = format!("{kind}: {}", case.name);
            assert_ne!(
                a.status,
                500,
                "{what}: {}",
                String::from_utf8_lossy(&a.body)
            );
            let e = a.error(case.status, case.code);
            assert_eq!(e["backend"], name, "{what}");
            let message = e["message"].as_str().unwrap();
            assert!(
                message.contains(name),
                "{what}: the message names the backend: {e}"
            );
            match case.name {
                "vendor hangs" => assert!(
                    started.elapsed() < Duration::from_millis(2_500),
                    "{what}: answered after the backend timeout, not the vendor's delay"
                ),
                "429 with Retry-After in seconds" => {
                    assert_eq!(
                        a.headers.get("retry-after").and_then(|v| v.to_str().ok()),
                        Some("7"),
                        "{what}: the vendor's Retry-After is passed on"
                    );
                    let health = backend(&d, name).await;
                    assert_eq!(
                        health["health"]["status"], "rate-limited",
                        "{what}: a 429 is not a failing backend"
                    );
                }
                "503" => assert!(a.headers.contains_key("retry-after"), "{what}"),
                "504 from the vendor's web server" => {
                    assert_eq!(e["backendStatus"], 504, "{what}: {e}");
                    assert!(message.contains("http 504"), "{what}: {e}");
                }
                _ => {}
            }
            // The backend serves again once the fault is gone (a refused credential is
            // remembered a few seconds by dialects that log in, so only check the others).
            if case.code != "backend_auth_failed" {
                let ok = d.get(&format!("/v1/orgs/{org}")).await;
                assert_eq!(ok.status, 200, "{what}: recovers");
            }
        }
        // A slow client: its body trickles in and never completes. It is cut off with 408
        // before anything reaches the backend, whatever the backend's kind. A dialect with no
        // write at all (watson-iot only reads) never reads a body: its writes are 501 as soon
        // as the headers are in, however slowly the body comes.
        let before = sim.server().request_count();
        let mut s = tokio::net::TcpStream::connect(d.gw.addr).await.unwrap();
        let ops = b["capabilities"]["operations"].as_array().unwrap();
        let has = |op: &str| ops.iter().any(|o| o == op);
        let (write, expect, code) = if has("org.patch") {
            (format!("PATCH /v1/orgs/{org}"), "408", "request_timeout")
        } else if has("plans.put") {
            (
                format!("PUT /v1/orgs/{org}/plans/slow"),
                "408",
                "request_timeout",
            )
        } else if has("customers.create") {
            (
                format!("POST /v1/orgs/{org}/customers"),
                "408",
                "request_timeout",
            )
        } else {
            (format!("PATCH /v1/orgs/{org}"), "501", "unsupported")
        };
        let head = format!(
            "{write} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: 64\r\n\r\n{{\"name\"",
            crate::harness::test_token()
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let mut got = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut got))
            .await
            .expect("an answer in time")
            .unwrap();
        let answer = String::from_utf8_lossy(&got[..n]).into_owned();
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {expect}")),
            "{kind}: slow client: {answer}"
        );
        assert!(answer.contains(&format!("\"{code}\"")), "{answer}");
        assert_eq!(sim.server().request_count(), before, "{kind}: slow client");
        kinds_seen.push(kind.to_owned());
    }
    for dialect in orgway::registry::DIALECTS {
        assert!(
            kinds_seen.iter().any(|k| k == dialect.kind),
            "the matrix ran for {}",
            dialect.kind
        );
    }
    // A panic in the gateway is answered 500 internal by its catch-panic layer; none was.
    let metrics = String::from_utf8_lossy(&d.get("/metrics").await.body).into_owned();
    assert!(!metrics.contains("status=\"500\""), "{metrics}");
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_passed_on_clamped() {
    let d = Demo::start().await;
    let faults = d.losant().server().faults();
    // A date ten minutes ahead: clamped to 60 s.
    let later = time::OffsetDateTime::now_utc() + time::Duration::minutes(10);
    let date = later
        .format(time::macros::format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        ))
        .unwrap();
    faults.set(FaultPlan {
        status: Some(429),
        retry_after: Some(date),
        ..FaultPlan::default()
    });
    let a = d.get("/v1/orgs/acme").await;
    faults.clear();
    a.error(503, "backend_unavailable");
    assert_eq!(
        a.headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("60")
    );
    // Without a Retry-After, the gateway still tells the caller when to come back.
    faults.set(FaultPlan {
        status: Some(429),
        remaining: Some(1),
        ..FaultPlan::default()
    });
    let a = d.get("/v1/orgs/acme").await;
    a.error(503, "backend_unavailable");
    assert!(a.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn a_vendor_down_for_maintenance_is_not_asked_again_before_its_retry_after() {
    let d = Demo::start().await;
    // Losant answers 503 with Retry-After: 120: the read is not retried within its deadline,
    // and the caller is told to come back when the vendor said.
    d.losant().server().faults().set(FaultPlan {
        status: Some(503),
        retry_after: Some("120".into()),
        ..FaultPlan::default()
    });
    let calls = d.losant_calls();
    let a = d.get("/v1/orgs/acme").await;
    d.losant().server().faults().clear();
    a.error(503, "backend_unavailable");
    assert_eq!(
        a.headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("120")
    );
    assert_eq!(d.losant_calls(), calls + 1, "asked once");
}

async fn backend(d: &Demo, name: &str) -> Value {
    let all = d.get("/v1/backends").await.json();
    all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == name)
        .unwrap()
        .clone()
}

#[tokio::test]
async fn writes_meet_faults_the_same_way() {
    let d = Demo::start_with(|t| t.replace("timeout_ms = 5000", "timeout_ms = 800")).await;
    let faults = d.losant().server().faults();
    let plan = |f: fn(&mut FaultPlan)| {
        let mut p = FaultPlan::default();
        f(&mut p);
        p
    };
    // Each fault, and what the caller is told of the change (`details.outcome`).
    for (name, plan, status, code, outcome) in [
        (
            "500",
            plan(|p| p.status = Some(500)),
            502,
            "backend_error",
            Some("unknown"),
        ),
        (
            "reset",
            plan(|p| p.drop_connection = true),
            502,
            "backend_error",
            Some("unknown"),
        ),
        (
            "hang",
            plan(|p| p.latency_ms = 5_000),
            504,
            "backend_timeout",
            Some("unknown"),
        ),
        // Losant made the change and its answer does not parse.
        (
            "malformed",
            plan(|p| p.malformed_body = true),
            502,
            "backend_error",
            Some("applied"),
        ),
        // Refused, or never asked.
        (
            "400",
            plan(|p| p.status = Some(400)),
            400,
            "bad_request",
            None,
        ),
        (
            "503",
            plan(|p| p.status = Some(503)),
            503,
            "backend_unavailable",
            None,
        ),
    ] {
        faults.set(FaultPlan {
            remaining: Some(1),
            ..plan
        });
        let a = d
            .send_json(Method::PATCH, "/v1/orgs/acme", r#"{"description":"x"}"#)
            .await;
        faults.clear();
        let e = a.error(status, code);
        assert_eq!(
            e["details"].get("outcome").and_then(|o| o.as_str()),
            outcome,
            "{name}: {e}"
        );
    }
}

#[tokio::test]
async fn an_answer_over_the_backends_size_limit_is_a_bad_response() {
    let d = Demo::start_with(|t| {
        t.replace(
            "instance_id = \"575ec8687ae143cd83dc4a97\"",
            "instance_id = \"575ec8687ae143cd83dc4a97\"\nmax_response_bytes = 1024",
        )
    })
    .await;
    // One org fits in 1 KiB; the list of all of them does not.
    let e = d
        .get("/v1/backends/losant/orgs?limit=100")
        .await
        .error(502, "backend_bad_response");
    assert!(
        e["message"].as_str().unwrap().contains("1024"),
        "the message names the limit: {e}"
    );
}

/// A backend's `[[backends]]` entry of the demo, changed as the resilience tests need.
fn resilient(extra: &'static str) -> impl FnOnce(String) -> String {
    move |t| t.replace("timeout_ms = 5000", &format!("timeout_ms = 5000\n{extra}"))
}

#[tokio::test]
async fn every_backend_kind_retries_a_read_once_sheds_overload_and_breaks_its_circuit() {
    let d = Demo::start_with(resilient(
        "max_concurrency = 1\nmax_queue = 1\ncircuit_min_calls = 6\ncircuit_open_ms = 600",
    ))
    .await;
    let backends = d.get("/v1/backends").await.json();
    for b in backends["items"].as_array().unwrap() {
        let (name, kind) = (b["name"].as_str().unwrap(), b["kind"].as_str().unwrap());
        let page = d.get(&format!("/v1/backends/{name}/orgs?limit=1")).await;
        assert_eq!(page.status, 200, "{name}");
        let org = page.json()["items"][0]["id"].as_str().unwrap().to_owned();
        let path = format!("/v1/orgs/{org}");
        let (_, sim) = d.sims.iter().find(|(k, _)| k.name() == kind).unwrap();
        let faults = sim.server().faults();
        assert_eq!(d.get(&path).await.status, 200, "{kind}: warm");

        // A retryable failure once: the caller gets the org, the vendor saw one retry.
        faults.set(FaultPlan {
            status: Some(503),
            remaining: Some(1),
            ..FaultPlan::default()
        });
        let before = sim.server().request_count();
        let a = d.get(&path).await;
        assert_eq!(
            a.status,
            200,
            "{kind}: {}",
            String::from_utf8_lossy(&a.body)
        );
        assert_eq!(
            sim.server().request_count() - before,
            2,
            "{kind}: one retry"
        );
        // A failure no retry can help (the vendor says not found): not retried.
        faults.set(FaultPlan {
            status: Some(404),
            remaining: Some(1),
            ..FaultPlan::default()
        });
        let before = sim.server().request_count();
        d.get(&path).await.error(404, "not_found");
        assert_eq!(sim.server().request_count() - before, 1, "{kind}: no retry");

        // Overload: one call runs, one waits, the others are shed at once.
        faults.set(FaultPlan {
            latency_ms: 700,
            ..FaultPlan::default()
        });
        let started = Instant::now();
        let calls: Vec<_> = (0..4)
            .map(|_| {
                let (client, url) = (crate::harness::Http::new(), d.gw.url(&path));
                tokio::spawn(async move {
                    let a = client.send(Method::GET, &url, &[], None).await;
                    (a, started.elapsed())
                })
            })
            .collect();
        let mut shed = 0;
        for c in calls {
            let (a, took) = c.await.unwrap();
            if a.status == 503 {
                let e = a.error(503, "backend_unavailable");
                assert_eq!(e["details"]["shed"], true, "{kind}: {e}");
                assert!(a.headers.contains_key("retry-after"), "{kind}");
                assert!(
                    took < Duration::from_millis(400),
                    "{kind}: shed at once, not after {took:?}"
                );
                shed += 1;
            } else {
                assert_eq!(
                    a.status,
                    200,
                    "{kind}: {}",
                    String::from_utf8_lossy(&a.body)
                );
            }
        }
        assert_eq!(shed, 2, "{kind}: 1 running + 1 queued, 2 shed");
        faults.clear();

        // A failing vendor opens the circuit: fast 503s that reach nothing, then one probe
        // closes it once the vendor is back.
        faults.set(FaultPlan {
            status: Some(500),
            ..FaultPlan::default()
        });
        for _ in 0..6 {
            d.get(&path).await.error(502, "backend_error");
        }
        let before = sim.server().request_count();
        let started = Instant::now();
        let open = d.get(&path).await;
        let e = open.error(503, "backend_unavailable");
        assert_eq!(e["details"]["circuit"], "open", "{kind}: {e}");
        assert!(open.headers.contains_key("retry-after"), "{kind}");
        assert!(
            started.elapsed() < Duration::from_millis(200),
            "{kind}: fast"
        );
        assert_eq!(sim.server().request_count(), before, "{kind}: nothing sent");
        assert_eq!(backend(&d, name).await["circuit"]["circuit"], "open");
        faults.clear();
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(d.get(&path).await.status, 200, "{kind}: the probe");
        assert_eq!(
            backend(&d, name).await["circuit"]["circuit"],
            "closed",
            "{kind}: closed after one probe"
        );
    }
    let metrics = String::from_utf8_lossy(&d.get("/metrics").await.body).into_owned();
    assert!(
        metrics
            .contains("orgway_backend_resilience{backend=\"losant\",figure=\"circuit_opened\"} 1"),
        "{metrics}"
    );
}

/// Steady load on an org while Losant answers 503 to everything: `batch` concurrent reads,
/// then `pause`, for `secs`. Each answer is 503 `backend_unavailable`; returns the requests
/// made, how many came fast from an open circuit (with `Retry-After`), and Losant's calls.
async fn under_503(
    d: &Demo,
    org: &str,
    secs: u64,
    batch: usize,
    pause: u64,
) -> (usize, usize, usize) {
    d.losant().server().faults().set(FaultPlan {
        status: Some(503),
        ..FaultPlan::default()
    });
    let before = d.losant_calls();
    let started = Instant::now();
    let (mut requests, mut fast_open) = (0usize, 0usize);
    while started.elapsed() < Duration::from_secs(secs) {
        let calls: Vec<_> = (0..batch)
            .map(|_| {
                let (client, url) = (crate::harness::Http::new(), d.gw.url(org));
                tokio::spawn(async move {
                    let t = Instant::now();
                    let a = client.send(Method::GET, &url, &[], None).await;
                    (a, t.elapsed())
                })
            })
            .collect();
        for c in calls {
            let (a, took) = c.await.unwrap();
            let e = a.error(503, "backend_unavailable");
            requests += 1;
            if e["details"]["circuit"] == "open" {
                assert!(a.headers.contains_key("retry-after"));
                if took < Duration::from_millis(100) {
                    fast_open += 1;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
    (requests, fast_open, d.losant_calls() - before)
}

#[tokio::test]
async fn a_vendor_answering_503_to_everything_gets_retries_within_the_budget() {
    // The circuit is kept closed here (it would otherwise stop the calls): only the budget
    // limits the retries.
    let d = Demo::start_with(resilient("circuit_min_calls = 1000000")).await;
    let org = "/v1/orgs/losant:575ed6e87ae143cd83dc4aa8";
    assert_eq!(d.get(org).await.status, 200);
    let (requests, _, calls) = under_503(&d, org, 3, 10, 50).await;
    // tower's budget: retries at most 20% of calls, plus a reserve of 5 a second over 10 s.
    let bound = requests + requests / 5 + 50;
    assert!(
        calls <= bound,
        "{calls} vendor calls for {requests} requests (bound {bound})"
    );
    assert!(
        calls > requests,
        "some retries were made: {calls} for {requests}"
    );
}

#[tokio::test]
async fn ten_seconds_of_503_under_steady_load_open_the_circuit_and_one_probe_closes_it() {
    let d = Demo::start_with(resilient("circuit_open_ms = 2000")).await;
    let org = "/v1/orgs/losant:575ed6e87ae143cd83dc4aa8";
    assert_eq!(d.get(org).await.status, 200);
    // About 50 requests a second, 5 at a time, for 10 s.
    let (requests, fast_open, calls) = under_503(&d, org, 10, 5, 100).await;
    assert!(
        calls <= requests + requests / 5 + 50,
        "{calls} vendor calls for {requests} requests"
    );
    assert!(
        fast_open > requests / 2,
        "most callers got a fast 503 from the open circuit: {fast_open} of {requests}"
    );
    assert_eq!(backend(&d, "losant").await["circuit"]["circuit"], "open");
    // The vendor recovers: within the open time plus one probe, reads succeed.
    d.losant().server().faults().clear();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let before = d.losant_calls();
    assert_eq!(d.get(org).await.status, 200, "the probe");
    assert_eq!(d.losant_calls() - before, 1, "one probe");
    assert_eq!(backend(&d, "losant").await["circuit"]["circuit"], "closed");
    assert_eq!(d.get(org).await.status, 200);
}

/// A vendor whose every answer is `status` with a JSON error body quoting the request it was
/// sent (its `Authorization` header and its body) in the fields each dialect reads its words
/// from, as a careless error page can. Returns its base URL and the requests it answered.
async fn echoing_vendor(status: u16) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use http_body_util::BodyExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = answered.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                let svc =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let count = count.clone();
                        async move {
                            let auth = req
                                .headers()
                                .get(http::header::AUTHORIZATION)
                                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                                .unwrap_or_default();
                            let body = req.into_body().collect().await?.to_bytes();
                            let said = format!("{auth} {}", String::from_utf8_lossy(&body));
                            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            let answer = serde_json::json!({
                                "status": status, "error": "Internal Server Error", "message": said,
                                "detail": said, "errorCode": 1, "errorMessage": said,
                            });
                            Ok::<_, hyper::Error>(
                                http::Response::builder()
                                    .status(status)
                                    .header("content-type", "application/json")
                                    .body(http_body_util::Full::new(bytes::Bytes::from(
                                        answer.to_string(),
                                    )))
                                    .unwrap(),
                            )
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (format!("http://{addr}"), answered)
}

#[tokio::test]
async fn a_login_that_fails_with_a_5xx_is_reported_without_the_vendors_words() {
    const PASSWORD: &str = "pw-Kq8vT2xR9mZ4";
    const CLIENT_SECRET: &str = "cs-Wd3nJ7pL5sY1";
    let kinds = [
        (
            "cocoon",
            "client_id = \"orgway\"\nclient_secret = \"${SECRET}\"\nusername = \"svc\"\npassword = \"${PW}\"",
            "749418071827214336",
        ),
        (
            "enhance",
            "org_id = \"5b0c3a64-8a1e-4c2f-9d41-2f6e8c1a7b90\"\nemail = \"svc@example.com\"\npassword = \"${PW}\"",
            "5b0c3a64-8a1e-4c2f-9d41-2f6e8c1a7b91",
        ),
        ("commvault", "username = \"svc\"\npassword = \"${PW}\"", "7"),
    ];
    for status in [500, 503] {
        for (kind, credentials, org) in kinds {
            let (base_url, answered) = echoing_vendor(status).await;
            let text = format!(
                "[server]\nlisten = \"127.0.0.1:0\"\n\n[auth]\nmode = \"off\"\n\n[[backends]]\nname = \"v\"\nkind = \"{kind}\"\nbase_url = \"{base_url}\"\n{credentials}\n"
            );
            let config = orgway::Config::parse(
                &text,
                "t.toml",
                std::path::Path::new("."),
                &|n: &str| match n {
                    "PW" => Some(PASSWORD.to_owned()),
                    "SECRET" => Some(CLIENT_SECRET.to_owned()),
                    _ => None,
                },
            )
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
            let gw = crate::harness::Gateway::start(config).await;
            let a = crate::harness::Http::new()
                .send(
                    Method::GET,
                    &gw.url(&format!("/v1/orgs/v:{org}")),
                    &[],
                    None,
                )
                .await;
            let (code, http_status) = if status == 503 {
                ("backend_unavailable", 503)
            } else {
                ("backend_error", 502)
            };
            let e = a.error(http_status, code);
            assert!(
                answered.load(std::sync::atomic::Ordering::SeqCst) >= 1,
                "{kind}: the login reached the vendor"
            );
            assert_eq!(e["backendStatus"], status, "{kind}: {e}");
            let text = e.to_string();
            let b64 =
                |s: &str| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, s);
            for secret in [PASSWORD, CLIENT_SECRET, &b64(PASSWORD)] {
                assert!(!text.contains(secret), "{kind} {status}: {text}");
            }
            assert!(
                e["message"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("http {status}")),
                "{kind}: {e}"
            );
            gw.stop().await.unwrap();
        }
    }
}
