//! Writes are never applied twice (docs/API.md §4, `Idempotency-Key`): a caller that retries with
//! the same key gets the first answer, or learns that the first attempt's outcome is unknown.

use std::collections::HashMap;
use std::time::Duration;

use http::Method;
use orgway_sim::FaultPlan;

use crate::harness::{Answer, Demo, Http, token_with};

const CUSTOMERS: &str = "/v1/orgs/acme-hosting/customers";

/// POSTs the customer `name` with `key`.
async fn create(http: &Http, d: &Demo, key: &str, name: &str) -> Answer {
    http.send(
        Method::POST,
        &d.gw.url(CUSTOMERS),
        &[
            ("content-type", "application/json"),
            ("idempotency-key", key),
        ],
        Some(format!(r#"{{"name":"{name}"}}"#).into_bytes()),
    )
    .await
}

/// How many times the Enhance simulator was asked to create `name`.
fn applied(d: &Demo, name: &str) -> usize {
    let needle = format!(r#""name":"{name}""#);
    d.enhance()
        .server()
        .requests()
        .iter()
        .filter(|r| {
            r.method == "POST"
                && r.path.ends_with("/customers")
                && String::from_utf8_lossy(&r.body).contains(&needle)
        })
        .count()
}

#[tokio::test]
async fn five_hundred_writes_through_a_vendor_that_drops_half_its_answers() {
    // The vendor fails half the calls: its circuit would open, which is not what this is about.
    let d = Demo::start_with(|t| {
        t.replace(
            "name = \"enhance\"\n",
            "name = \"enhance\"\ncircuit_min_calls = 1000000\n",
        )
    })
    .await;
    let http = Http::new();
    // A read first, so the session exists and each fault below meets the write itself.
    assert_eq!(d.get(CUSTOMERS).await.status, 200);
    let mut outcomes: HashMap<&'static str, usize> = HashMap::new();
    let mut acknowledged = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..500u32 {
        let (key, name) = (format!("write-{i}"), format!("idem-{i}"));
        // Half the writes are applied and their answer lost (a fixed, mixed pattern).
        if (i * 7 + i / 3) % 2 == 0 {
            d.enhance().server().faults().set(FaultPlan {
                apply_then_drop: true,
                remaining: Some(1),
                ..FaultPlan::default()
            });
        }
        // A client that retries with the same key until it hears what happened.
        let mut attempt = create(&http, &d, &key, &name).await;
        let mut tries = 1;
        while attempt.status.is_server_error() && tries < 3 {
            attempt = create(&http, &d, &key, &name).await;
            tries += 1;
        }
        d.enhance().server().faults().clear();
        match attempt.status.as_u16() {
            201 => {
                *outcomes.entry("created").or_default() += 1;
                acknowledged.push(name);
            }
            409 => {
                let e = attempt.error(409, "conflict");
                assert_eq!(e["details"]["outcome"], "unknown", "{e}");
                *outcomes.entry("unknown").or_default() += 1;
                unknown.push(name);
            }
            other => panic!(
                "write {i}: {other}: {}",
                String::from_utf8_lossy(&attempt.body)
            ),
        }
    }
    assert!(
        outcomes["created"] > 150 && outcomes["unknown"] > 150,
        "{outcomes:?}"
    );
    // Nothing applied twice; nothing acknowledged that did not happen; every write whose answer
    // was lost was applied exactly once and never sent again.
    for name in acknowledged.iter().chain(&unknown) {
        assert_eq!(applied(&d, name), 1, "{name}");
    }
    // A retry of an acknowledged write is the first answer again, from the store.
    let calls = d.enhance().server().request_count();
    let again = create(&http, &d, "write-1", "idem-1").await;
    let first = create(&http, &d, "write-1", "idem-1").await;
    for a in [&again, &first] {
        if acknowledged.iter().any(|n| n == "idem-1") {
            assert_eq!(a.status, 201);
            assert_eq!(a.headers["idempotent-replayed"], "true");
        } else {
            a.error(409, "conflict");
        }
    }
    assert_eq!(d.enhance().server().request_count(), calls);
}

#[tokio::test]
async fn a_key_is_the_callers_and_its_request_and_a_running_write_is_not_run_twice() {
    let d = Demo::start().await;
    let http = Http::new();
    // Another body under the same key: 422, nothing sent.
    let first = create(&http, &d, "order-1", "Alpha").await;
    assert_eq!(
        first.status,
        201,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    let location = first.headers["location"].clone();
    create(&http, &d, "order-1", "Beta")
        .await
        .error(422, "idempotency_key_reused");
    assert_eq!(applied(&d, "Beta"), 0);
    // The same key from another caller is another write.
    let other = Http::anonymous();
    let token = token_with(|c| c.subject = "someone-else".into());
    let theirs = other
        .send(
            Method::POST,
            &d.gw.url(CUSTOMERS),
            &[
                ("authorization", &format!("Bearer {token}")),
                ("content-type", "application/json"),
                ("idempotency-key", "order-1"),
            ],
            Some(br#"{"name":"Alpha Two"}"#.to_vec()),
        )
        .await;
    assert_eq!(
        theirs.status,
        201,
        "{}",
        String::from_utf8_lossy(&theirs.body)
    );
    assert!(theirs.headers.get("idempotent-replayed").is_none());
    assert_eq!((applied(&d, "Alpha"), applied(&d, "Alpha Two")), (1, 1));
    // The replay carries the first answer's Location.
    let replay = create(&http, &d, "order-1", "Alpha").await;
    assert_eq!(replay.headers["location"], location);
    assert_eq!(replay.body, first.body);
    // While a write runs, its key is 409 with Retry-After; the write still completes (even if
    // its caller goes away) and its answer is then replayed.
    d.enhance().server().faults().set(FaultPlan {
        latency_ms: 1500,
        remaining: Some(1),
        ..FaultPlan::default()
    });
    let slow = {
        let (http, url) = (Http::new(), d.gw.url(CUSTOMERS));
        tokio::spawn(async move {
            tokio::time::timeout(
                Duration::from_millis(300),
                http.send(
                    Method::POST,
                    &url,
                    &[
                        ("content-type", "application/json"),
                        ("idempotency-key", "slow-1"),
                    ],
                    Some(br#"{"name":"Slow"}"#.to_vec()),
                ),
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let busy = create(&http, &d, "slow-1", "Slow").await;
    let e = busy.error(409, "conflict");
    assert_eq!(e["details"]["outcome"], "in_flight");
    assert_eq!(busy.headers["retry-after"], "1");
    assert!(slow.await.unwrap().is_err(), "the first caller gave up");
    tokio::time::sleep(Duration::from_millis(1800)).await;
    let done = create(&http, &d, "slow-1", "Slow").await;
    assert_eq!(done.status, 201, "{}", String::from_utf8_lossy(&done.body));
    assert_eq!(done.headers["idempotent-replayed"], "true");
    assert_eq!(applied(&d, "Slow"), 1);
    // A key that is not 1–255 visible ASCII is refused before anything runs.
    let bad = http
        .send(
            Method::POST,
            &d.gw.url(CUSTOMERS),
            &[
                ("content-type", "application/json"),
                ("idempotency-key", "two words"),
            ],
            Some(br#"{"name":"Gamma"}"#.to_vec()),
        )
        .await;
    bad.error(400, "bad_request");
    assert_eq!(applied(&d, "Gamma"), 0);
}
