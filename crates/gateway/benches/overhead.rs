//! What the gateway costs, measured side by side in one run: `cargo bench -p orgway --bench overhead`.
//!
//! Three pairs, each timed in alternating rounds so that a noisy machine slows both sides alike:
//! 1. the gateway's `/healthz` against a bare hyper server answering the same bytes — the cost
//!    of the HTTP stack itself (request id, logging, metrics, routing);
//! 2. `GET /v1/orgs/{org}` through the gateway against the same Losant call made directly to the
//!    simulator — the cost of translating one call (no cache yet: every call reaches the backend);
//! 3. the same org by alias with `X-Request-Id` set, against (2)'s direct call.
//!
//! It prints requests per second and median / p99 latency per side and the ratio
//! gateway ÷ baseline. Nothing is asserted: ratios are read, not timed in tests.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use orgway::demo::Sims;
use tokio::net::TcpListener;

const CONCURRENCY: usize = 16;
const ROUND: Duration = Duration::from_millis(1500);
const ROUNDS: usize = 4;

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// A request to send: URL and headers.
#[derive(Clone)]
struct Target {
    url: String,
    headers: Vec<(&'static str, String)>,
}

/// Runs `CONCURRENCY` workers sending `target` for `ROUND`, returning latencies.
async fn round(client: &HttpClient, target: &Target) -> Vec<Duration> {
    let deadline = Instant::now() + ROUND;
    let mut workers = Vec::new();
    for _ in 0..CONCURRENCY {
        let (client, target) = (client.clone(), target.clone());
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let mut b = http::Request::get(&target.url);
                for (k, v) in &target.headers {
                    b = b.header(*k, v);
                }
                let started = Instant::now();
                let resp = client
                    .request(b.body(Full::new(Bytes::new())).unwrap())
                    .await
                    .unwrap();
                assert!(
                    resp.status().is_success(),
                    "{} answered {}",
                    target.url,
                    resp.status()
                );
                resp.into_body().collect().await.unwrap();
                lat.push(started.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    all
}

struct Stats {
    rps: f64,
    p50: Duration,
    p99: Duration,
}

fn stats(mut lat: Vec<Duration>, seconds: f64) -> Stats {
    lat.sort();
    let at = |q: f64| lat[((lat.len() as f64 - 1.0) * q) as usize];
    Stats {
        rps: lat.len() as f64 / seconds,
        p50: at(0.5),
        p99: at(0.99),
    }
}

/// Alternates rounds of the two targets and prints both and their ratio.
async fn compare(client: &HttpClient, name: &str, subject: &Target, baseline: &Target) {
    // Warm both (connections, caches, lazily built state).
    round(client, subject).await;
    round(client, baseline).await;
    let (mut s, mut b) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        s.extend(round(client, subject).await);
        b.extend(round(client, baseline).await);
    }
    let secs = ROUND.as_secs_f64() * ROUNDS as f64;
    let (s, b) = (stats(s, secs), stats(b, secs));
    println!("{name}");
    println!(
        "  gateway : {:>9.0} req/s  p50 {:>8.1?}  p99 {:>8.1?}",
        s.rps, s.p50, s.p99
    );
    println!(
        "  baseline: {:>9.0} req/s  p50 {:>8.1?}  p99 {:>8.1?}",
        b.rps, b.p50, b.p99
    );
    println!(
        "  ratio gateway/baseline: throughput {:.2}  p50 latency {:.2}  p99 latency {:.2}",
        s.rps / b.rps,
        s.p50.as_secs_f64() / b.p50.as_secs_f64(),
        s.p99.as_secs_f64() / b.p99.as_secs_f64()
    );
}

/// A bare hyper server answering every request with `body`.
async fn bare_hyper(body: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let svc = service_fn(move |_req| async move {
                    Ok::<_, Infallible>(
                        http::Response::builder()
                            .header("content-type", "application/json")
                            .body(Full::new(Bytes::from_static(body)))
                            .unwrap(),
                    )
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let sims = Sims::start().await.unwrap();
        for (_, sim) in sims.iter() {
            sim.server().set_recording(false);
        }
        let losant = sims.get::<orgway_sim::losant::LosantSim>();
        let env = sims.env();
        let text = orgway::demo::demo_config_text()
            .replace(orgway::demo::DEMO_AUTH_CONFIG, "\n[auth]\nmode = \"off\"\n")
            .replace("listen = \"127.0.0.1:8080\"", "listen = \"127.0.0.1:0\"")
            .replace("log_level = \"info\"", "log_level = \"warn\"");
        let config = orgway::Config::parse(&text, "demo.toml", Path::new("."), &move |n: &str| env.get(n).cloned()).unwrap();
        orgway::telemetry::init_tracing(config.server.log_format, &config.server.log_level);
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let gw = listener.local_addr().unwrap();
        tokio::spawn(orgway::run(config, listener, std::future::pending()));
        let bare = bare_hyper(br#"{"status":"ok"}"#).await;

        let client: HttpClient = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(CONCURRENCY).build_http();
        let plain = |url: String| Target { url, headers: vec![] };
        let org = orgway_sim::losant::DEMO_ORG_ID;
        let direct = Target {
            url: format!(
                "{}/instances/{}/orgs/{org}?_actions=false&_links=true&_embedded=true&summaryInclude=deviceCount,memberCount,appCount,dashCount,flowCount,storageStats",
                losant.base_url(),
                losant.instance_id()
            ),
            headers: vec![("authorization", format!("Bearer {}", orgway_sim::losant::DEMO_TOKEN)), ("accept", "application/json".into())],
        };
        println!("orgway overhead, {CONCURRENCY} concurrent clients, {ROUNDS} alternating rounds of {ROUND:?} per side\n");
        compare(&client, "1. /healthz vs a bare hyper server", &plain(format!("http://{gw}/healthz")), &plain(format!("http://{bare}/"))).await;
        compare(&client, "2. GET /v1/orgs/losant:<id> vs the same call straight to the Losant simulator", &plain(format!("http://{gw}/v1/orgs/losant:{org}")), &direct).await;
        let with_id = Target { url: format!("http://{gw}/v1/orgs/acme"), headers: vec![("x-request-id", "bench-request".into())] };
        compare(&client, "3. GET /v1/orgs/acme (alias, caller's request id) vs the direct call", &with_id, &direct).await;
    });
}
