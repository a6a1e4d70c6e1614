//! What the Enhance simulator's tests share: a client whose every answer is checked against the
//! vendor's OpenAPI document (`enhance/orchd-openapi.yml` of the vendor directory, see
//! orgway-testkit). For each answer the operation is found from the request's method and path
//! (the most literal path template that matches), the status must be one the operation
//! declares, and a body the operation declares a JSON schema for must validate against it
//! (`$ref`s resolved into `components.schemas`, formats such as `uuid` asserted). Without the
//! document the checks skip with a notice (and fail in CI) and the behaviours are still tested.
//!
//! Validation is done in Rust, in the test itself, rather than by an outside tool run against the
//! simulator: it then covers exactly the answers the tests provoke, refusals included, with no
//! extra install.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::common::{self, Response};

/// The vendor's document, with compiled validators cached per operation and status.
pub struct Spec {
    doc: Value,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

impl Spec {
    /// The document, or `None` after a skip notice naming `what` (a failure in CI).
    pub fn load(what: &str) -> Option<Spec> {
        let text = orgway_testkit::vendor_text("enhance/orchd-openapi.yml", what)?;
        let doc: Value = serde_norway::from_str(&text).expect("the OpenAPI document parses");
        assert!(
            doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
            "an OpenAPI 3 document"
        );
        Some(Spec {
            doc,
            validators: Mutex::new(HashMap::new()),
        })
    }

    /// The path template of the document that `path` matches, preferring literal segments
    /// (`/orgs/{org_id}/plans` over `/orgs/{org_id}/{x}`).
    pub fn template(&self, path: &str) -> Option<String> {
        let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        let mut best: Option<(usize, &String)> = None;
        for t in self.doc["paths"].as_object()?.keys() {
            let tsegs: Vec<&str> = t.split('/').collect();
            if tsegs.len() != segs.len() {
                continue;
            }
            let mut literal = 0;
            let fits = tsegs.iter().zip(&segs).all(|(a, b)| {
                if a.starts_with('{') {
                    true
                } else {
                    literal += 1;
                    a == b
                }
            });
            if fits && best.is_none_or(|(n, _)| literal > n) {
                best = Some((literal, t));
            }
        }
        best.map(|(_, t)| t.clone())
    }

    /// Checks one answer of `method path` against the operation's declared responses.
    pub fn check(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: &[u8],
    ) -> Result<String, String> {
        let template = self
            .template(path)
            .ok_or_else(|| format!("{method} {path}: no such path in the document"))?;
        let op = &self.doc["paths"][&template][method.to_ascii_lowercase()];
        if op.is_null() {
            return Err(format!(
                "{method} {template}: no such operation in the document"
            ));
        }
        let op_name = format!("{method} {template}");
        let response = &op["responses"][status.to_string()];
        if response.is_null() {
            return Err(format!(
                "{op_name}: status {status} is not one the document declares ({:?})",
                op["responses"]
                    .as_object()
                    .map(|m| m.keys().collect::<Vec<_>>())
            ));
        }
        let schema = &response["content"]["application/json"]["schema"];
        if schema.is_null() {
            // The document declares no body for this answer: there is nothing to validate.
            return Ok(op_name);
        }
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            format!(
                "{op_name} {status}: the body is not JSON ({e}): {}",
                String::from_utf8_lossy(body)
            )
        })?;
        let validator = self.validator(&format!("{op_name} {status}"), schema);
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(op_name)
        } else {
            Err(format!("{op_name} {status}: {errors:?} in {value}"))
        }
    }

    fn validator(&self, key: &str, schema: &Value) -> Arc<jsonschema::Validator> {
        let mut cache = self.validators.lock().unwrap();
        cache
            .entry(key.to_owned())
            .or_insert_with(|| {
                // The response schema, with the document's components beside it so that its
                // `#/components/schemas/…` references resolve in this root. Read as 2020-12,
                // where `uuid` is a format that is asserted (draft 4 knows no `uuid`); the
                // OpenAPI 3.0 keywords these schemas use mean the same there.
                let root = json!({
                    "allOf": [schema],
                    "components": self.doc["components"],
                });
                Arc::new(
                    jsonschema::options()
                        .with_draft(jsonschema::Draft::Draft202012)
                        .should_validate_formats(true)
                        .should_ignore_unknown_formats(true)
                        .build(&root)
                        .unwrap_or_else(|e| panic!("{key}: the schema does not compile: {e}")),
                )
            })
            .clone()
    }
}

/// A client of the simulator that checks every answer against the document (when it is at
/// hand) and remembers which operations and statuses it saw.
#[derive(Clone)]
pub struct Client {
    pub addr: SocketAddr,
    spec: Option<Arc<Spec>>,
    seen: Arc<Mutex<BTreeMap<String, BTreeSet<u16>>>>,
}

impl Client {
    /// A client; `spec` is `None` when the document is not at hand.
    pub fn new(addr: SocketAddr, spec: Option<Arc<Spec>>) -> Client {
        Client {
            addr,
            spec,
            seen: Arc::default(),
        }
    }

    /// Whether answers are checked against the document.
    pub fn checking(&self) -> bool {
        self.spec.is_some()
    }

    /// Sends a request and checks its answer.
    pub async fn send(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Response {
        let bytes = body.map(|b| serde_json::to_vec(b).unwrap());
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        if bytes.is_some() {
            all.push(("Content-Type", "application/json"));
        }
        let resp = common::send(self.addr, method, target, &all, bytes.as_deref()).await;
        if let Some(spec) = &self.spec {
            let path = target.split('?').next().unwrap_or(target);
            match spec.check(method, path, resp.status, &resp.body) {
                Ok(op) => {
                    self.seen
                        .lock()
                        .unwrap()
                        .entry(op)
                        .or_default()
                        .insert(resp.status);
                }
                Err(e) => panic!("the answer does not match the vendor's document: {e}"),
            }
        }
        resp
    }

    /// The operations answered so far, each with the statuses seen.
    pub fn seen(&self) -> BTreeMap<String, BTreeSet<u16>> {
        self.seen.lock().unwrap().clone()
    }
}

/// The document, loaded once per test binary.
pub fn spec(what: &str) -> Option<Arc<Spec>> {
    static SPEC: std::sync::OnceLock<Option<Arc<Spec>>> = std::sync::OnceLock::new();
    SPEC.get_or_init(|| Spec::load(what).map(Arc::new)).clone()
}
