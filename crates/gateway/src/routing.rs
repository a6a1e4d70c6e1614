//! The routing table: backends by name, org aliases, and the resolution of an org reference
//! (`backend:nativeId` or an alias, docs/API.md §2) to a backend and a validated native id.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use orgway_core::{Backend, Transport};

use crate::client::{ClientSettings, HttpClient};
use crate::config::Config;
use crate::error::ApiError;
use crate::http::params::short;
use crate::policy::{self, BackendService, Health};
use crate::registry::BackendKind;
use crate::telemetry::Metrics;

/// One configured backend with its policy stack.
#[derive(Debug)]
pub struct BackendEntry {
    pub name: String,
    pub kind: BackendKind,
    pub adapter: Arc<dyn Backend>,
    /// The outbound client of its connection settings, shared with every backend of the same
    /// settings.
    pub transport: Arc<dyn Transport>,
    pub service: BackendService,
    pub health: Arc<Health>,
    pub timeout: Duration,
    pub max_concurrency: usize,
    /// Its circuit breaker, retries and slots (reported by `/v1/backends` and `/metrics`).
    pub resilience: policy::Resilience,
    /// The gateway's own limit on calls to it (`rate_limit_rps`).
    pub rate_limit: Option<Arc<crate::limits::Limit>>,
}

impl BackendEntry {
    /// The canonical reference of one of this backend's orgs.
    pub fn org_ref(&self, native_id: &str) -> String {
        let mut s = String::with_capacity(self.name.len() + 1 + native_id.len());
        s.push_str(&self.name);
        s.push(':');
        s.push_str(native_id);
        s
    }
}

/// An org reference, resolved.
#[derive(Debug, Clone)]
pub struct OrgTarget {
    pub backend: Arc<BackendEntry>,
    /// In the backend's canonical spelling.
    pub native_id: String,
}

/// Backends and aliases.
#[derive(Debug, Default)]
pub struct Routing {
    backends: Vec<Arc<BackendEntry>>,
    aliases: HashMap<String, (Arc<BackendEntry>, String)>,
    /// backend name → native id → alias.
    reverse: HashMap<String, HashMap<String, String>>,
}

impl Routing {
    /// Builds the table, with one policy stack per backend and one outbound client (one
    /// connection pool) per distinct connection setting.
    pub fn new(config: &Config, metrics: &Arc<Metrics>) -> Routing {
        let mut clients: Vec<(&ClientSettings, Arc<dyn Transport>)> = Vec::new();
        let backends: Vec<Arc<BackendEntry>> = config
            .backends
            .iter()
            .map(|b| {
                let health = Arc::new(Health::default());
                let transport = match clients.iter().find(|(s, _)| **s == b.client) {
                    Some((_, t)) => t.clone(),
                    None => {
                        let t: Arc<dyn Transport> = Arc::new(HttpClient::with_settings(&b.client));
                        clients.push((&b.client, t.clone()));
                        t
                    }
                };
                let resilience = policy::Resilience {
                    circuit: crate::resilience::Circuit::new(b.circuit),
                    slots: crate::resilience::Slots::new(b.max_concurrency, b.max_queue),
                    retry: crate::resilience::RetryLayer::new(b.retry_attempts, b.timeout),
                };
                Arc::new(BackendEntry {
                    rate_limit: b.rate_limit.map(crate::limits::Limit::new),
                    name: b.name.clone(),
                    kind: b.kind,
                    adapter: b.adapter.clone(),
                    transport,
                    service: policy::stack(
                        &b.name,
                        b.adapter.clone(),
                        b.timeout,
                        b.max_response_bytes,
                        &resilience,
                        health.clone(),
                        metrics.clone(),
                    ),
                    resilience,
                    health,
                    timeout: b.timeout,
                    max_concurrency: b.max_concurrency,
                })
            })
            .collect();
        let mut aliases = HashMap::new();
        let mut reverse: HashMap<String, HashMap<String, String>> = HashMap::new();
        for o in &config.orgs {
            if let Some(entry) = backends.iter().find(|b| b.name == o.backend) {
                aliases.insert(o.alias.clone(), (entry.clone(), o.native_id.clone()));
                // Several aliases may name one org; responses show the first in file order.
                reverse
                    .entry(o.backend.clone())
                    .or_default()
                    .entry(o.native_id.clone())
                    .or_insert_with(|| o.alias.clone());
            }
        }
        Routing {
            backends,
            aliases,
            reverse,
        }
    }

    /// How many outbound clients (connection pools) the backends use between them.
    pub fn client_count(&self) -> usize {
        let mut seen: Vec<&Arc<dyn Transport>> = Vec::new();
        for b in &self.backends {
            if !seen.iter().any(|t| Arc::ptr_eq(t, &b.transport)) {
                seen.push(&b.transport);
            }
        }
        seen.len()
    }

    /// Every backend, in file order.
    pub fn backends(&self) -> &[Arc<BackendEntry>] {
        &self.backends
    }

    /// The backend called `name`, or `404`.
    pub fn backend(&self, name: &str) -> Result<Arc<BackendEntry>, ApiError> {
        self.backends
            .iter()
            .find(|b| b.name == name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("no backend named `{}`", short(name))))
    }

    /// The alias of an org, if the routing file gives it one.
    pub fn alias_of(&self, backend: &str, native_id: &str) -> Option<&str> {
        self.reverse
            .get(backend)?
            .get(native_id)
            .map(String::as_str)
    }

    /// Resolves an org reference. An unknown backend or alias is `404 not_found`; a native id
    /// of the wrong shape for its backend is `400 invalid_org_ref`. Nothing here calls a
    /// backend.
    pub fn resolve(&self, reference: &str) -> Result<OrgTarget, ApiError> {
        match reference.split_once(':') {
            Some((backend, native)) => {
                if backend.is_empty() {
                    return Err(ApiError::invalid_org_ref(format!(
                        "`{}` has no backend before `:`; use backend:nativeId or an alias",
                        short(reference)
                    )));
                }
                let entry = self.backend(backend)?;
                let native_id = entry.adapter.canonical_id(native).map_err(|m| {
                    ApiError::invalid_org_ref(format!(
                        "{m} (backend `{}` is {})",
                        entry.name,
                        entry.kind.name()
                    ))
                    .with_backend(&entry.name)
                })?;
                Ok(OrgTarget {
                    backend: entry,
                    native_id,
                })
            }
            None => match self.aliases.get(reference) {
                Some((entry, native_id)) => Ok(OrgTarget {
                    backend: entry.clone(),
                    native_id: native_id.clone(),
                }),
                None => Err(ApiError::not_found(format!(
                    "no org alias `{}`; use backend:nativeId or an alias from the routing file",
                    short(reference)
                ))),
            },
        }
    }
}
