//! The end-to-end harness: simulators and a real gateway on loopback sockets, an HTTP client,
//! and a way to run the `orgway` binary itself.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use orgway::Config;
use orgway::demo::Sims;
use orgway_sim::commvault::CommvaultSim;
use orgway_sim::losant::LosantSim;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A gateway serving in this process.
pub struct Gateway {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Gateway {
    /// Serves `config` on `127.0.0.1:0`.
    pub async fn start(config: Config) -> Gateway {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(orgway::run(config, listener, async move {
            let _ = stopped.await;
        }));
        Gateway {
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Signals shutdown and waits for the server to return.
    pub async fn stop(mut self) -> std::io::Result<()> {
        self.shut_down().await
    }

    /// [`Gateway::stop`], keeping the value (its address) for the test's later checks.
    pub async fn shut_down(&mut self) -> std::io::Result<()> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        match self.task.take() {
            Some(t) => t.await.unwrap(),
            None => Ok(()),
        }
    }

    /// Signals shutdown without waiting.
    pub fn signal_stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }

    /// Waits for the server task after [`Gateway::signal_stop`].
    pub async fn join(mut self) -> std::io::Result<()> {
        match self.task.take() {
            Some(t) => t.await.unwrap(),
            None => Ok(()),
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// The demo's simulators with a gateway configured for them.
pub struct Demo {
    pub sims: Sims,
    pub gw: Gateway,
    pub client: Http,
}

impl Demo {
    /// Starts the demo setup without its read cache, so every request reaches a simulator;
    /// `edit` may change the configuration text first (for example a shorter timeout).
    pub async fn start_with(edit: impl FnOnce(String) -> String) -> Demo {
        Self::start_text(edit(
            orgway::demo::demo_config_text().replace(orgway::demo::DEMO_CACHE_CONFIG, ""),
        ))
        .await
    }

    /// The demo setup with its read cache, as `orgway demo` runs it; `edit` may change the
    /// configuration text first.
    pub async fn start_cached(edit: impl FnOnce(String) -> String) -> Demo {
        Self::start_text(edit(orgway::demo::demo_config_text())).await
    }

    async fn start_text(text: String) -> Demo {
        let sims = Sims::start().await.unwrap();
        let text = text.replace("listen = \"127.0.0.1:8080\"", "listen = \"127.0.0.1:0\"");
        let mut env = sims.env();
        // The demo's auth, with the secret the tests' token is signed with.
        env.insert(
            orgway::demo::DEMO_AUTH_SECRET_VAR.to_owned(),
            TEST_AUTH_SECRET.to_owned(),
        );
        let config = Config::parse(&text, "demo.toml", Path::new("."), &move |n: &str| {
            env.get(n).cloned()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let gw = Gateway::start(config).await;
        Demo {
            sims,
            gw,
            client: Http::new(),
        }
    }

    /// The demo setup without its read cache.
    pub async fn start() -> Demo {
        Self::start_with(|t| t).await
    }

    /// The Losant simulator.
    pub fn losant(&self) -> &LosantSim {
        self.sims.get()
    }

    /// The Enhance simulator.
    pub fn enhance(&self) -> &orgway_sim::enhance::EnhanceSim {
        self.sims.get()
    }

    /// The Commvault simulator.
    pub fn commvault(&self) -> &CommvaultSim {
        self.sims.get()
    }

    /// How many requests the Losant simulator has received.
    pub fn losant_calls(&self) -> usize {
        self.losant().server().request_count()
    }

    /// GET a path, expecting JSON.
    pub async fn get(&self, path: &str) -> Answer {
        self.client
            .send(Method::GET, &self.gw.url(path), &[], None)
            .await
    }

    /// A request with a JSON body.
    pub async fn send_json(&self, method: Method, path: &str, body: &str) -> Answer {
        self.client
            .send(
                method,
                &self.gw.url(path),
                &[("content-type", "application/json")],
                Some(body.as_bytes().to_vec()),
            )
            .await
    }
}

/// An answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// The body as JSON (panics with the body when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// Asserts the API's error shape and returns the inner error object.
    pub fn error(&self, status: u16, code: &str) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(
            self.headers
                .get("content-type")
                .map(|v| v.to_str().unwrap()),
            Some("application/json")
        );
        let v = self.json();
        let obj = v.as_object().expect("an object");
        assert_eq!(obj.len(), 1, "only `error` at the top: {v}");
        let e = v["error"].clone();
        assert_eq!(e["code"], code, "{v}");
        let keys: Vec<&String> = e.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "backend",
                "backendStatus",
                "code",
                "details",
                "message",
                "requestId"
            ],
            "{v}"
        );
        assert!(
            e["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty() && !m.ends_with('.')),
            "{v}"
        );
        assert_eq!(
            e["requestId"].as_str(),
            self.headers
                .get("x-request-id")
                .and_then(|h| h.to_str().ok()),
            "the error names the request id the response carries"
        );
        e
    }
}

/// A small HTTP/1.1 client.
#[derive(Clone)]
pub struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    /// Sent as `Authorization: Bearer …` unless a request names its own `authorization`.
    bearer: Option<String>,
}

/// The secret the demo setup's tokens are signed with in these tests.
pub const TEST_AUTH_SECRET: &str = "e2e-test-secret-6c1f0a9b3d";

/// A token of the demo setup signed with [`TEST_AUTH_SECRET`]: `claims` edited from one that
/// may do everything (every scope, every org, an hour).
pub fn token_with(edit: impl FnOnce(&mut orgway::auth::Claims)) -> String {
    let mut claims = orgway::auth::Claims {
        issuer: "orgway-demo".into(),
        audience: "orgway".into(),
        subject: "e2e".into(),
        scopes: orgway::auth::all_scopes(),
        orgs: vec!["*".into()],
        orgs_claim: "orgs".into(),
        lifetime: Duration::from_secs(3600),
    };
    edit(&mut claims);
    let key = jsonwebtoken::EncodingKey::from_secret(TEST_AUTH_SECRET.as_bytes());
    orgway::auth::mint("demo", jsonwebtoken::Algorithm::HS256, &key, &claims).unwrap()
}

/// The token every test client sends unless told otherwise.
pub fn test_token() -> String {
    static TOKEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TOKEN.get_or_init(|| token_with(|_| {})).clone()
}

impl Default for Http {
    fn default() -> Self {
        Self::new()
    }
}

impl Http {
    pub fn new() -> Self {
        Http {
            client: Client::builder(TokioExecutor::new()).build_http(),
            bearer: Some(test_token()),
        }
    }

    /// A client that sends no token of its own.
    pub fn anonymous() -> Self {
        Http {
            client: Client::builder(TokioExecutor::new()).build_http(),
            bearer: None,
        }
    }

    /// Sends a request; the URL's path is sent exactly as written (no normalisation).
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Answer {
        let mut b = Request::builder().method(method).uri(url);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        if let Some(t) = &self.bearer
            && !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        let req = b
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .unwrap();
        let resp = tokio::time::timeout(Duration::from_secs(30), self.client.request(req))
            .await
            .expect("answer within 30s")
            .expect("an answer");
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }
}

/// The `orgway` binary built for these tests.
pub fn orgway_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_orgway"))
}

/// A temporary folder, removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("orgway-e2e-{}-{tag}-{n}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn write(&self, name: &str, text: &str) -> std::path::PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Sends a signal to a child process.
pub fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Runs the binary with `args` and an environment, returning (exit code, stdout, stderr).
pub fn run_bin(args: &[&str], env: &HashMap<&str, &str>) -> (i32, String, String) {
    let out = orgway_bin()
        .args(args)
        .envs(env.iter())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Waits until `addr` accepts connections.
pub async fn wait_for_port(addr: SocketAddr) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{addr} never accepted connections");
}

/// Checks the answers of `include=raw` routes: each is a 200 whose JSON has a `raw` record
/// (every item's, for a list), and nowhere holds a member named one of `keys` (without regard
/// to case) or any of the `values` in its text.
pub async fn assert_raw_without(d: &Demo, paths: &[&str], keys: &[&str], values: &[&str]) {
    fn has_key(v: &Value, keys: &[&str]) -> Option<String> {
        match v {
            Value::Object(m) => m.iter().find_map(|(k, v)| {
                if keys.iter().any(|w| w.eq_ignore_ascii_case(k)) {
                    Some(k.clone())
                } else {
                    has_key(v, keys)
                }
            }),
            Value::Array(a) => a.iter().find_map(|v| has_key(v, keys)),
            _ => None,
        }
    }
    for path in paths {
        let a = d.get(path).await;
        let text = String::from_utf8_lossy(&a.body).into_owned();
        assert_eq!(a.status, 200, "{path}: {text}");
        let v = a.json();
        match v["items"].as_array() {
            Some(items) => {
                assert!(!items.is_empty(), "{path}: {v}");
                for item in items {
                    assert!(
                        item["raw"].is_object(),
                        "{path}: an item without raw: {item}"
                    );
                }
            }
            None => assert!(v["raw"].is_object(), "{path}: no raw: {v}"),
        }
        if let Some(k) = has_key(&v, keys) {
            panic!("{path}: `{k}` is in the answer: {text}");
        }
        for value in values {
            assert!(
                !text.contains(value),
                "{path}: `{value}` is in the answer: {text}"
            );
        }
    }
}
