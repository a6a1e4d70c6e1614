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
    // The same subject with a token that no longer grants the org: 403, as without a key, and
    // not the stored answer (nor any sign of it).
    let calls = d.enhance().server().request_count();
    let narrowed = token_with(|c| c.orgs = vec!["losant:*".into()]);
    let refused = Http::anonymous()
        .send(
            Method::POST,
            &d.gw.url(CUSTOMERS),
            &[
                ("authorization", &format!("Bearer {narrowed}")),
                ("content-type", "application/json"),
                ("idempotency-key", "order-1"),
            ],
            Some(br#"{"name":"Alpha"}"#.to_vec()),
        )
        .await;
    refused.error(403, "forbidden");
    assert!(refused.headers.get("idempotent-replayed").is_none());
    assert!(!String::from_utf8_lossy(&refused.body).contains(location.to_str().unwrap()));
    assert_eq!(d.enhance().server().request_count(), calls);
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

#[tokio::test]
async fn a_create_whose_read_back_fails_says_it_was_applied_and_is_never_sent_twice() {
    // Enhance's time limit is short, so a read back slower than it meets the call's deadline.
    let d = Demo::start_cached(|t| {
        t.replace(
            "timeout_ms = 5000\norg_id = \"5b0c",
            "timeout_ms = 700\norg_id = \"5b0c",
        )
    })
    .await;
    let http = Http::new();
    // A read first, so the session exists and the faults below meet the write's own requests.
    assert_eq!(d.get(CUSTOMERS).await.status, 200);
    // The vendor creates the customer (the request let through), then answers the read back
    // with 503, which alone would read as "nothing done, try again", or not within the
    // backend's time limit, which alone would read as "outcome unknown".
    let unavailable = FaultPlan {
        status: Some(503),
        after: 1,
        remaining: Some(1),
        ..FaultPlan::default()
    };
    // Each takes 450 ms: the call's deadline (700 ms) falls during the read back, before the
    // read back's own time limit would.
    let too_slow = FaultPlan {
        latency_ms: 450,
        remaining: Some(2),
        ..FaultPlan::default()
    };
    for (key, name, fault, status) in [
        (
            Some("read-back-1"),
            "read back keyed",
            &unavailable,
            Some(503),
        ),
        (None, "read back bare", &unavailable, Some(503)),
        (Some("read-back-2"), "read back slow", &too_slow, None),
    ] {
        d.enhance().server().faults().set(fault.clone());
        let first = match key {
            Some(key) => create(&http, &d, key, name).await,
            None => {
                d.send_json(Method::POST, CUSTOMERS, &format!(r#"{{"name":"{name}"}}"#))
                    .await
            }
        };
        d.enhance().server().faults().clear();
        let e = first.error(502, "backend_error");
        assert_eq!(e["details"]["outcome"], "applied", "{name}: {e}");
        assert_eq!(
            e.get("backendStatus").and_then(|s| s.as_u64()),
            status,
            "{name}: {e}"
        );
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .starts_with("enhance made the change, but reading its result failed: "),
            "{e}"
        );
        assert!(!first.headers.contains_key("retry-after"), "{name}");
        assert_eq!(applied(&d, name), 1, "{name}");
        // The customers list, read before, is not answered from before the change.
        let list = d.get(CUSTOMERS).await.json();
        assert!(
            list["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["name"] == name),
            "{name}: {list}"
        );
        if let Some(key) = key {
            // Its retry is the same answer, from the store: not a second customer, nor a 409.
            let again = create(&http, &d, key, name).await;
            assert_eq!(again.headers["idempotent-replayed"], "true");
            let replayed = again.error(502, "backend_error");
            assert_eq!(replayed["message"], e["message"]);
            assert_eq!(replayed["details"], e["details"]);
            assert_eq!(applied(&d, name), 1, "{name}");
        }
    }
}

#[tokio::test]
async fn a_write_whose_answer_is_lost_says_its_outcome_is_unknown_and_reads_come_fresh() {
    let d = Demo::start_cached(|t| t).await;
    let org = "/v1/orgs/acme";
    let before = d.get(org).await;
    assert_eq!(before.status, 200);
    assert_eq!(d.get(org).await.headers["x-cache"], "hit", "cached");
    // The vendor renames the org, and the connection breaks before its answer.
    d.losant().server().faults().set(FaultPlan {
        apply_then_drop: true,
        remaining: Some(1),
        ..FaultPlan::default()
    });
    let e = d
        .send_json(Method::PATCH, org, r#"{"name":"Renamed In The Dark"}"#)
        .await
        .error(502, "backend_error");
    d.losant().server().faults().clear();
    assert_eq!(e["details"]["outcome"], "unknown", "{e}");
    // The change may have been made: the org is read from the vendor again, not the cache.
    let after = d.get(org).await;
    assert_eq!(after.headers["x-cache"], "miss");
    assert_eq!(after.json()["name"], "Renamed In The Dark");
    // A write refused before it could change anything says nothing of an outcome, and leaves
    // the cache as it was.
    let e = d
        .send_json(Method::PATCH, org, r#"{"name":""}"#)
        .await
        .error(400, "bad_request");
    assert!(e["details"].get("outcome").is_none(), "{e}");
    assert_eq!(d.get(org).await.headers["x-cache"], "hit");
}
