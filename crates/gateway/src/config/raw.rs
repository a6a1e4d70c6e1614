//! The routing file as written: serde structs with unknown keys refused, before any value is
//! checked (`load.rs` turns them into the runtime types of `mod.rs`).

use orgway_core::SecretRef;
use serde::Deserialize;

/// `[server]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    #[serde(default)]
    pub(super) listen: Option<String>,
    #[serde(default)]
    pub(super) worker_threads: Option<usize>,
    #[serde(default)]
    pub(super) body_limit_bytes: Option<u64>,
    #[serde(default)]
    pub(super) log_format: Option<String>,
    #[serde(default)]
    pub(super) log_level: Option<String>,
    #[serde(default)]
    pub(super) shutdown_delay_ms: Option<u64>,
    #[serde(default)]
    pub(super) shutdown_grace_ms: Option<u64>,
    #[serde(default)]
    pub(super) header_read_timeout_ms: Option<u64>,
    #[serde(default)]
    pub(super) body_read_timeout_ms: Option<u64>,
    #[serde(default)]
    pub(super) idle_timeout_ms: Option<u64>,
    #[serde(default)]
    pub(super) max_connections: Option<usize>,
    #[serde(default)]
    pub(super) max_header_bytes: Option<u64>,
    #[serde(default)]
    pub(super) caller_rate_limit_rps: Option<u32>,
    #[serde(default)]
    pub(super) caller_rate_limit_burst: Option<u32>,
    #[serde(default)]
    pub(super) idempotency_max_bytes: Option<u64>,
}

/// The keys of `[server]`.
pub(super) const SERVER_KEYS: [&str; 15] = [
    "idempotency_max_bytes",
    "caller_rate_limit_rps",
    "caller_rate_limit_burst",
    "listen",
    "worker_threads",
    "body_limit_bytes",
    "log_format",
    "log_level",
    "shutdown_delay_ms",
    "shutdown_grace_ms",
    "header_read_timeout_ms",
    "body_read_timeout_ms",
    "idle_timeout_ms",
    "max_connections",
    "max_header_bytes",
];

/// `[cache]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCache {
    #[serde(default)]
    pub(super) max_bytes: Option<u64>,
    #[serde(default)]
    pub(super) stale_while_revalidate_ms: Option<u64>,
    #[serde(default)]
    pub(super) stale_if_error_ms: Option<u64>,
    #[serde(default)]
    pub(super) ttl_ms: Option<RawTtls>,
}

/// The keys of `[cache]`.
pub(super) const CACHE_KEYS: [&str; 4] = [
    "max_bytes",
    "stale_while_revalidate_ms",
    "stale_if_error_ms",
    "ttl_ms",
];

/// Time to live per class of read, in milliseconds (`[cache.ttl_ms]`, or a backend's
/// `cache_ttl_ms`).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTtls {
    #[serde(default)]
    pub(super) org: Option<u64>,
    #[serde(default)]
    pub(super) orgs: Option<u64>,
    #[serde(default)]
    pub(super) plans: Option<u64>,
    #[serde(default)]
    pub(super) usage: Option<u64>,
    #[serde(default)]
    pub(super) series: Option<u64>,
    #[serde(default)]
    pub(super) customers: Option<u64>,
    #[serde(default)]
    pub(super) subscriptions: Option<u64>,
}

/// The keys every backend has; the rest of the table belongs to the kind.
pub(super) const COMMON_BACKEND_KEYS: [&str; 18] = [
    "max_queue",
    "retry_attempts",
    "circuit_failure_percent",
    "circuit_min_calls",
    "circuit_window_ms",
    "circuit_open_ms",
    "rate_limit_rps",
    "rate_limit_burst",
    "name",
    "kind",
    "base_url",
    "timeout_ms",
    "max_concurrency",
    "max_response_bytes",
    "allow_insecure_http",
    "ca_file",
    "connect_to",
    "cache_ttl_ms",
];

/// The common keys of a `[[backends]]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBackendCommon {
    pub(super) name: String,
    pub(super) kind: String,
    pub(super) base_url: String,
    #[serde(default)]
    pub(super) timeout_ms: Option<u64>,
    #[serde(default)]
    pub(super) max_concurrency: Option<usize>,
    #[serde(default)]
    pub(super) max_response_bytes: Option<u64>,
    #[serde(default)]
    pub(super) allow_insecure_http: Option<bool>,
    #[serde(default)]
    pub(super) ca_file: Option<String>,
    #[serde(default)]
    pub(super) connect_to: Option<String>,
    #[serde(default)]
    pub(super) cache_ttl_ms: Option<RawTtls>,
    #[serde(default)]
    pub(super) rate_limit_rps: Option<u32>,
    #[serde(default)]
    pub(super) rate_limit_burst: Option<u32>,
    #[serde(default)]
    pub(super) max_queue: Option<usize>,
    #[serde(default)]
    pub(super) retry_attempts: Option<u32>,
    #[serde(default)]
    pub(super) circuit_failure_percent: Option<u32>,
    #[serde(default)]
    pub(super) circuit_min_calls: Option<u32>,
    #[serde(default)]
    pub(super) circuit_window_ms: Option<u64>,
    #[serde(default)]
    pub(super) circuit_open_ms: Option<u64>,
}

/// An `[orgs.<alias>]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOrg {
    pub(super) backend: String,
    pub(super) id: String,
}

/// `[auth]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuth {
    #[serde(default)]
    pub(super) mode: Option<String>,
    #[serde(default)]
    pub(super) issuer: Option<String>,
    #[serde(default)]
    pub(super) audience: Option<String>,
    #[serde(default)]
    pub(super) leeway_s: Option<u64>,
    #[serde(default)]
    pub(super) orgs_claim: Option<String>,
    #[serde(default)]
    pub(super) verified_tokens: Option<u64>,
    #[serde(default)]
    pub(super) keys: Option<Vec<RawAuthKey>>,
    #[serde(default)]
    pub(super) jwks: Option<RawJwks>,
}

/// The keys of `[auth]`.
pub(super) const AUTH_KEYS: [&str; 8] = [
    "mode",
    "issuer",
    "audience",
    "leeway_s",
    "orgs_claim",
    "verified_tokens",
    "keys",
    "jwks",
];

/// An `[[auth.keys]]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuthKey {
    pub(super) kid: String,
    pub(super) alg: String,
    #[serde(default)]
    pub(super) secret: Option<SecretRef>,
    #[serde(default)]
    pub(super) public_key_file: Option<String>,
}

/// `[auth.jwks]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawJwks {
    pub(super) url: String,
    #[serde(default)]
    pub(super) refresh_s: Option<u64>,
    #[serde(default)]
    pub(super) min_refetch_s: Option<u64>,
}

/// `[cors]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCors {
    #[serde(default)]
    pub(super) allowed_origins: Option<Vec<String>>,
    #[serde(default)]
    pub(super) max_age_s: Option<u64>,
}

/// The keys of `[cors]`.
pub(super) const CORS_KEYS: [&str; 2] = ["allowed_origins", "max_age_s"];
