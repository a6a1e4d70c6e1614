//! Slow, idle and too many clients: each is cut off by its `[server]` limit, answered in the
//! error shape where an answer can still be sent, and never stops a normal request being served.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::Demo;

/// The demo with tight client limits.
async fn demo(limits: &str) -> Demo {
    let limits = limits.to_owned();
    Demo::start_with(move |t| t.replace("[server]", &format!("[server]\n{limits}"))).await
}

/// Reads until the server closes the connection (or `within` passes), returning what it sent
/// and how long that took.
async fn read_to_close(s: &mut TcpStream, within: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(within, s.read_to_end(&mut got)).await;
    (
        String::from_utf8_lossy(&got).into_owned(),
        started.elapsed(),
    )
}

fn json_body(answer: &str) -> serde_json::Value {
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"))
}

#[tokio::test]
async fn a_client_trickling_its_headers_is_answered_408_and_cut_off() {
    let d = demo("header_read_timeout_ms = 2000").await;
    let mut s = TcpStream::connect(d.gw.addr).await.unwrap();
    let started = Instant::now();
    // One header byte a second, forever.
    let trickle = async {
        for b in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaa" {
            if s.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(3500), trickle).await;
    let (answer, _) = read_to_close(&mut s, Duration::from_secs(3)).await;
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "cut off within the timeout"
    );
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let e = json_body(&answer);
    assert_eq!(e["error"]["code"], "request_timeout");
    assert!(
        e["error"]["requestId"]
            .as_str()
            .is_some_and(|r| !r.is_empty())
    );
    // The connection is closed: a write now fails or reads end at once.
    let mut rest = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(1), s.read_to_end(&mut rest))
        .await
        .expect("closed")
        .unwrap_or(0);
    assert_eq!(n, 0);
    // Others are served meanwhile and after.
    assert_eq!(d.get("/healthz").await.status, 200);
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed() {
    let d = demo("idle_timeout_ms = 800").await;
    let mut s = TcpStream::connect(d.gw.addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (answer, took) = read_to_close(&mut s, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_secs(3),
        "kept alive, then closed after the idle timeout: {took:?}"
    );
    // (A connection that never sends anything is closed after the header timeout: below.)
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_header_timeout() {
    // Not after the (long) idle timeout: a socket that never sends would hold a connection
    // slot that long, and a few thousand of them, reopened, would keep the cap full.
    let d = demo("header_read_timeout_ms = 1000\nidle_timeout_ms = 60000").await;
    let mut quiet = TcpStream::connect(d.gw.addr).await.unwrap();
    let (nothing, took) = read_to_close(&mut quiet, Duration::from_secs(10)).await;
    assert!(nothing.is_empty(), "{nothing}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[tokio::test]
async fn on_shutdown_idle_and_fresh_connections_are_closed_at_once() {
    // Long limits: only the shutdown can close these connections within the test's bounds.
    let mut d = demo("idle_timeout_ms = 60000\nheader_read_timeout_ms = 60000").await;
    let mut idle = TcpStream::connect(d.gw.addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 12];
    idle.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    let mut fresh = TcpStream::connect(d.gw.addr).await.unwrap();
    // Both are the server's before it is told to stop.
    assert_eq!(d.get("/healthz").await.status, 200);
    let started = Instant::now();
    d.gw.signal_stop();
    let (rest, _) = read_to_close(&mut idle, Duration::from_secs(10)).await;
    assert!(!rest.contains("HTTP/1.1"), "no second answer: {rest}");
    let (nothing, _) = read_to_close(&mut fresh, Duration::from_secs(10)).await;
    assert!(nothing.is_empty(), "{nothing}");
    // Not the idle or header timeout (60 s), nor the grace period (30 s).
    stopped_within(d, started, Duration::from_secs(3)).await;
}

#[tokio::test]
async fn a_head_still_arriving_when_the_gateway_stops_is_still_timed() {
    // The drain ends idle connections; one whose first request's head is still arriving is
    // not idle, and is still answered 408 at its header timeout, not left to the grace period.
    let mut d = demo("header_read_timeout_ms = 1000\nshutdown_grace_ms = 8000").await;
    let mut slow = TcpStream::connect(d.gw.addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHo")
        .await
        .unwrap();
    assert_eq!(d.get("/healthz").await.status, 200);
    let started = Instant::now();
    d.gw.signal_stop();
    let (answer, took) = read_to_close(&mut slow, Duration::from_secs(12)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    stopped_within(d, started, Duration::from_secs(4)).await;
}

/// Waits for the gateway told to stop at `started`, which must have returned within `limit`.
async fn stopped_within(d: Demo, started: Instant, limit: Duration) {
    let Demo { gw, sims, .. } = d;
    gw.join().await.unwrap();
    assert!(started.elapsed() < limit, "{:?}", started.elapsed());
    sims.shutdown().await;
}

/// Sends `request` on a new connection and reads the answer until the server closes it.
async fn exchange(d: &Demo, request: &[u8]) -> String {
    let mut s = TcpStream::connect(d.gw.addr).await.unwrap();
    s.write_all(request).await.unwrap();
    read_to_close(&mut s, Duration::from_secs(5)).await.0
}

#[tokio::test]
async fn heads_hyper_refuses_are_answered_in_the_error_shape() {
    let d = demo("max_header_bytes = 8192").await;
    let id = |a: &str| {
        json_body(a)["error"]["requestId"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // Headers over the configured limit, and more than 100 fields: 431.
    let big = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(10_000)
    );
    let many: String = (0..101).map(|i| format!("X-H{i}: v\r\n")).collect();
    let many = format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many}\r\n");
    let mut ids = Vec::new();
    for request in [big, many] {
        let answer = exchange(&d, request.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
        let e = json_body(&answer);
        assert_eq!(e["error"]["code"], "headers_too_large");
        assert_eq!(
            e["error"]["message"],
            "the request headers are over the limit (8192 bytes, 100 fields)"
        );
        assert!(answer.contains(&format!("x-request-id: {}", id(&answer))));
        ids.push(id(&answer));
    }
    assert_ne!(ids[0], ids[1]);
    // Not HTTP: 400.
    let answer = exchange(&d, b"NOT HTTP AT ALL\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert_eq!(json_body(&answer)["error"]["code"], "bad_request");
    // Under the limit, served; and the gateway's own 4xx answers are its own.
    let fine = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(6_000)
    );
    assert!(
        exchange(&d, fine.as_bytes())
            .await
            .starts_with("HTTP/1.1 200")
    );
    let missing = exchange(
        &d,
        b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    assert_eq!(json_body(&missing)["error"]["code"], "not_found");
    // The connection guards' answers are counted, under the route `connection`.
    let metrics = String::from_utf8(d.get("/metrics").await.body.to_vec()).unwrap();
    for (status, n) in [(431, 2), (400, 1)] {
        let line = format!(
            "orgway_http_requests_total{{method=\"other\",route=\"connection\",status=\"{status}\"}} {n}"
        );
        assert!(metrics.lines().any(|l| l == line), "{line}\n{metrics}");
    }
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_408() {
    let d = demo("body_read_timeout_ms = 1000").await;
    // Without and with an Idempotency-Key (whose layer reads the body itself): the same answer.
    for extra in ["", "idempotency-key: k-408\r\n"] {
        let mut s = TcpStream::connect(d.gw.addr).await.unwrap();
        s.write_all(
            format!(
                "PATCH /v1/orgs/acme HTTP/1.1\r\nHost: x\r\nauthorization: Bearer {}\r\n{extra}content-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"name\":",
                crate::harness::test_token()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        let started = Instant::now();
        let mut got = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut got))
            .await
            .expect("an answer")
            .unwrap();
        let answer = String::from_utf8_lossy(&got[..n]).into_owned();
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(answer.starts_with("HTTP/1.1 408"), "{extra}{answer}");
        let e = json_body(&answer);
        assert_eq!(e["error"]["code"], "request_timeout", "{extra}");
        assert_eq!(
            e["error"]["message"], "the request body did not arrive within 1s",
            "{extra}"
        );
    }
    assert_eq!(d.losant_calls(), 0, "nothing reached the backend");
}

#[tokio::test]
async fn two_thousand_idle_sockets_do_not_stop_a_normal_request() {
    let d = Demo::start().await;
    let mut idle = Vec::with_capacity(2000);
    for _ in 0..2000 {
        idle.push(TcpStream::connect(d.gw.addr).await.unwrap());
    }
    let started = Instant::now();
    let a = d.get("/v1/orgs/acme").await;
    assert_eq!(a.status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    drop(idle);
}

#[tokio::test]
async fn connections_over_the_cap_are_answered_503_at_once() {
    let d = demo("max_connections = 20").await;
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(TcpStream::connect(d.gw.addr).await.unwrap());
    }
    // Let the accept loop take all twenty.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut extra = TcpStream::connect(d.gw.addr).await.unwrap();
    let (answer, took) = read_to_close(&mut extra, Duration::from_secs(5)).await;
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );
    assert_eq!(json_body(&answer)["error"]["code"], "unavailable");
    // Each refusal has a request id of its own.
    let mut another = TcpStream::connect(d.gw.addr).await.unwrap();
    let (again, _) = read_to_close(&mut another, Duration::from_secs(5)).await;
    let id = |a: &str| {
        json_body(a)["error"]["requestId"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_ne!(id(&answer), id(&again));
    // A slot freed is a slot served.
    held.pop();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(d.get("/healthz").await.status, 200);
}
