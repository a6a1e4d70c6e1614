//! Helpers shared by the simulator's integration tests: a minimal HTTP/1.1 client over a TCP
//! stream (hyper is not a dependency of the sim crate, and a test client this small is easy to
//! read), and the vendor's published JSON Schemas.

// Each test binary compiles this module and uses a different part of it.
#![allow(dead_code)]

pub mod sdk;
pub mod tls;

use std::net::SocketAddr;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Whether the vendor's Losant schemas are at hand (`losant/` in the vendor directory, see
/// orgway-testkit); when they are not, the check named `what` says it skipped (or, in CI, fails).
pub fn losant_schemas(what: &str) -> bool {
    orgway_testkit::vendor_file("losant/instanceOrg.json", what).is_some()
}

/// A response as read off the wire.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the body text when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }
}

/// Sends one request on a fresh connection and reads the whole answer.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    let mut stream = TcpStream::connect(addr)
        .await
        .expect("connect to simulator");
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        head.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.expect("write head");
    if let Some(b) = body {
        stream.write_all(b).await.expect("write body");
    }
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read response");
    parse(&raw)
}

/// Reads a whole HTTP/1.1 answer off the wire.
pub fn parse(raw: &[u8]) -> Response {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response has a header block");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let rest = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_text = String::from_utf8_lossy(&data[..eol]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16)
            .unwrap_or(0);
        data = &data[eol + 2..];
        if size == 0 || data.len() < size {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[(size + 2).min(data.len())..];
    }
}

/// A client holding a simulator's address and a token.
#[derive(Debug, Clone)]
pub struct Client {
    pub addr: SocketAddr,
    pub token: Option<String>,
}

impl Client {
    pub fn new(addr: SocketAddr, token: &str) -> Client {
        Client {
            addr,
            token: Some(token.to_owned()),
        }
    }

    /// A request with the SDK's usual headers plus `extra`.
    pub async fn call(
        &self,
        method: &str,
        target: &str,
        extra: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Response {
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let mut headers: Vec<(&str, &str)> = vec![
            ("Accept", "application/json"),
            ("Accept-Version", "^1.31.0"),
        ];
        if let Some(a) = &auth {
            headers.push(("Authorization", a));
        }
        if body.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        headers.extend_from_slice(extra);
        let bytes = body.map(|b| serde_json::to_vec(b).expect("serialise body"));
        send(self.addr, method, target, &headers, bytes.as_deref()).await
    }

    pub async fn get(&self, target: &str) -> Response {
        self.call("GET", target, &[], None).await
    }

    pub async fn delete(&self, target: &str) -> Response {
        self.call("DELETE", target, &[], None).await
    }

    pub async fn patch(&self, target: &str, body: &Value) -> Response {
        self.call("PATCH", target, &[], Some(body)).await
    }

    pub async fn post(&self, target: &str, body: &Value) -> Response {
        self.call("POST", target, &[], Some(body)).await
    }

    /// A PATCH whose body is sent exactly as given.
    pub async fn patch_raw(&self, target: &str, body: &[u8]) -> Response {
        let auth = format!("Bearer {}", self.token.clone().unwrap_or_default());
        let headers = [
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
        ];
        send(self.addr, "PATCH", target, &headers, Some(body)).await
    }
}

/// One of the vendor's schemas, compiled with format checking on (`date-time`, `email`). Call
/// [`losant_schemas`] first.
pub fn schema(name: &str) -> jsonschema::Validator {
    let path = orgway_testkit::vendor_dir()
        .expect("the vendor directory")
        .join("losant")
        .join(name);
    let path = path.display();
    let text =
        std::fs::read_to_string(path.to_string()).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let value: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {path}: {e}"));
    jsonschema::options()
        .should_validate_formats(true)
        .build(&value)
        .unwrap_or_else(|e| panic!("compile {path}: {e}"))
}

/// Panics, listing every violation, when `value` does not match `validator`.
pub fn assert_valid(validator: &jsonschema::Validator, value: &Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not match the vendor schema:\n  {}\nbody: {value}",
        errors.join("\n  ")
    );
}
