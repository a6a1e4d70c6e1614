//! The TOML routing file: raw serde structs (unknown keys refused), then validation into runtime
//! types so nothing downstream re-checks. Every error names the dotted key path and its line.
//!
//! ```toml
//! [server]
//! listen = "127.0.0.1:8080"        # address to serve on
//! worker_threads = 2               # tokio worker threads (default: one per core)
//! body_limit_bytes = 1048576       # largest request body accepted (413 above)
//! log_format = "text"              # or "json"
//! log_level = "info"               # or a tracing target list, e.g. "orgway=debug,info"
//! shutdown_delay_ms = 0            # after SIGTERM, how long /readyz fails before the listener closes
//! shutdown_grace_ms = 30000        # then how long in-flight requests may still run
//! header_read_timeout_ms = 10000   # a request's headers must arrive within this, from their first byte
//! body_read_timeout_ms = 30000     # a request's body must arrive within this (408 above)
//! idle_timeout_ms = 60000          # a keep-alive connection with no request (and nothing written) is closed after this
//! max_connections = 10000          # open client connections; more are answered 503 and closed
//! max_header_bytes = 32768         # a request's head (request line and headers); 431 above
//! caller_rate_limit_rps = 100      # requests per second per caller (token subject), 429 above;
//! caller_rate_limit_burst = 200    # default: no limit; the burst defaults to the rate
//! idempotency_max_bytes = 67108864 # Idempotency-Key records (answers kept 24 h), in bytes
//!
//! [[backends]]
//! name = "iot-prod"                # used in org references: iot-prod:<native id>
//! kind = "losant"
//! base_url = "https://api.losant.com"
//! timeout_ms = 5000                # per backend call (504 above)
//! max_concurrency = 64             # concurrent calls to this backend
//! max_response_bytes = 4194304     # the largest answer read from it (502 above)
//! allow_insecure_http = false      # credentials over http:// to a host other than loopback are
//!                                  # refused unless this is true
//! ca_file = "/etc/orgway/ca.pem"   # CA certificates (PEM) trusted besides the built-in roots
//! connect_to = "10.0.0.5:443"      # connect here whatever the URL's host; the URL's host is
//!                                  # still sent as Host and checked against the certificate
//! rate_limit_rps = 50              # calls per second the gateway makes to it (429 above);
//! rate_limit_burst = 100           # default: no limit; the burst defaults to the rate
//! max_queue = 64                   # calls waiting for a slot (default max_concurrency); more: 503
//! retry_attempts = 3               # tries of a read that failed retryably (1: no retry)
//! circuit_failure_percent = 50     # the circuit opens when this share of the calls in
//! circuit_min_calls = 20           # circuit_window_ms (at least circuit_min_calls of them)
//! circuit_window_ms = 10000        # failed by the backend's fault, for circuit_open_ms
//! circuit_open_ms = 5000
//! # ...and the keys of the kind (see the adapter's config module), secrets by reference:
//! instance_id = "575ec8687ae143cd83dc4a97"
//! token = "${LOSANT_TOKEN}"
//!
//! [orgs.acme]
//! backend = "iot-prod"
//! id = "575ed6e87ae143cd83dc4aa8"
//!
//! [cache]                          # without this table nothing is cached
//! max_bytes = 67108864             # answers held, in bytes (64 MiB)
//! stale_while_revalidate_ms = 10000  # after the TTL, answered stale at once while one refresh runs
//! stale_if_error_ms = 300000       # after the TTL, answered stale while the backend fails
//! [cache.ttl_ms]                   # per class of read; 0 turns the class off
//! org = 30000                      # GET /v1/orgs/{org}
//! orgs = 30000                     # GET /v1/backends/{b}/orgs
//! plans = 60000
//! usage = 15000                    # GET …/usage
//! series = 60000                   # GET …/usage/{metric}
//! customers = 30000
//! subscriptions = 30000
//! ```
//!
//! ```toml
//! [auth]                           # required: who may call the API (docs/API.md §4)
//! mode = "jwt"                     # the default; "off" lets anyone do anything (logged at start)
//! issuer = "https://id.example.com/"   # the `iss` every token must carry
//! audience = "orgway"              # the `aud` every token must carry
//! leeway_s = 30                    # clock skew allowed on exp and nbf
//! orgs_claim = "orgs"              # the claim listing the orgs granted
//! verified_tokens = 10000          # verified tokens remembered (each until its exp)
//! [[auth.keys]]                    # keys named by the tokens' `kid`
//! kid = "hs-1"
//! alg = "HS256"                    # HS256/384/512: `secret`, by reference
//! secret = "${ORGWAY_AUTH_SECRET}"
//! [[auth.keys]]
//! kid = "rs-1"
//! alg = "RS256"                    # RS*/PS*/ES256/ES384/EdDSA: a PEM public key file
//! public_key_file = "keys/rs-1.pem"
//! [auth.jwks]                      # and/or keys published by the issuer (never a configured kid)
//! url = "https://id.example.com/.well-known/jwks.json"   # https, or http:// to this machine only
//! refresh_s = 300                  # fetched at start, then this often
//! min_refetch_s = 10               # a token with an unknown kid fetches again, at most this often
//! ```
//!
//! ```toml
//! [cors]                           # browser frontends on other origins; without it, no CORS
//! allowed_origins = ["https://app.example.com"]   # exact origins, or "*"
//! max_age_s = 600                  # how long a browser keeps a preflight's answer
//! ```
//!
//! A backend may set its own `cache_ttl_ms = { org = 0, plans = 300000 }` over `[cache.ttl_ms]`.
//!
//! `${NAME}` in `base_url`, `ca_file` and `connect_to` is replaced by the environment variable
//! `NAME`; a relative `ca_file` is read from the routing file's folder. Secrets are resolved
//! from `${NAME}` or a file (`file:PATH`, or a path starting with `/`, `./` or `../`, relative to
//! the routing file's folder) and are never printed.
//!
//! The module's files: this one holds the runtime types and the [`Config::load`] /
//! [`Config::parse`] API; `raw.rs` the serde structs of the file as written (unknown keys
//! refused); `load.rs` the validation of those into the runtime types; `secrets.rs` the
//! `${NAME}` expansion and the secret resolver; `tests.rs` the tests.

mod load;
mod raw;
mod secrets;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use orgway_core::{Backend, BaseUrl};

use crate::client::ClientSettings;
use crate::registry::BackendKind;

pub use load::{is_alias, is_backend_name};
pub use secrets::expand_env;

/// Default `[server] listen`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default `[server] body_limit_bytes`: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
/// Default `timeout_ms` of a backend.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;
/// Default `max_concurrency` of a backend.
pub const DEFAULT_MAX_CONCURRENCY: usize = 64;
/// Default `[server] shutdown_grace_ms`.
pub const DEFAULT_SHUTDOWN_GRACE_MS: u64 = 30_000;
/// Default `[server] header_read_timeout_ms`.
pub const DEFAULT_HEADER_READ_TIMEOUT_MS: u64 = 10_000;
/// Default `[server] body_read_timeout_ms`.
pub const DEFAULT_BODY_READ_TIMEOUT_MS: u64 = 30_000;
/// Default `[server] idle_timeout_ms`.
pub const DEFAULT_IDLE_TIMEOUT_MS: u64 = 60_000;
/// Default `[server] max_header_bytes`: 32 KiB, as nginx's default header buffers.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 32 * 1024;
/// Default `[server] max_connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Default `max_response_bytes` of a backend: 4 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// `[server]`, validated.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub worker_threads: Option<NonZeroUsize>,
    pub body_limit_bytes: usize,
    pub log_format: LogFormat,
    pub log_level: String,
    /// After the shutdown signal, how long `/readyz` answers 503 while requests are still
    /// accepted, so a load balancer stops sending before the listener closes.
    pub shutdown_delay: Duration,
    pub shutdown_grace: Duration,
    /// A request's headers must arrive within this, counted from their first byte; then the
    /// connection is answered `408` and closed.
    pub header_read_timeout: Duration,
    /// A request's body must arrive within this (`408 request_timeout`).
    pub body_read_timeout: Duration,
    /// A keep-alive connection waiting for its next request is closed after this.
    pub idle_timeout: Duration,
    /// Open client connections; more are answered `503 unavailable` and closed.
    pub max_connections: usize,
    /// The largest request head (request line and headers) read; `431 headers_too_large`
    /// above it (or above 100 header fields).
    pub max_header_bytes: usize,
    /// Requests per second per caller (token subject), with a burst (`429` above).
    pub caller_rate_limit: Option<crate::limits::Rate>,
    /// What the `Idempotency-Key` records may hold, in bytes.
    pub idempotency_max_bytes: usize,
}

/// One `[[backends]]` entry, validated, with its adapter built.
#[derive(Debug, Clone)]
pub struct BackendConfig {
    pub name: String,
    pub kind: BackendKind,
    pub base_url: BaseUrl,
    pub timeout: Duration,
    pub max_concurrency: usize,
    /// The largest answer read from this backend.
    pub max_response_bytes: usize,
    /// How its connections are made (`ca_file`, `connect_to`); backends with equal settings
    /// share one outbound client.
    pub client: ClientSettings,
    /// Its own time to live per class of cached read (`cache_ttl_ms`), over `[cache.ttl_ms]`.
    pub cache_ttl: CacheTtls,
    /// Calls per second to this backend, with a burst (`429` above).
    pub rate_limit: Option<crate::limits::Rate>,
    /// Calls that may wait for a concurrency slot; more are shed (`503`).
    pub max_queue: usize,
    /// Tries of a retryable read, the first included (1: no retry).
    pub retry_attempts: u32,
    pub circuit: crate::resilience::CircuitSettings,
    pub adapter: Arc<dyn Backend>,
}

/// One `[orgs.<alias>]` entry, validated (its id is in the backend's canonical spelling).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgAlias {
    pub alias: String,
    pub backend: String,
    pub native_id: String,
}

/// The whole routing file, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub backends: Vec<BackendConfig>,
    pub orgs: Vec<OrgAlias>,
    /// `[cache]`; without it nothing is cached.
    pub cache: Option<CacheConfig>,
    /// `[auth]`.
    pub auth: AuthConfig,
    /// `[cors]`; without it no answer carries CORS headers.
    pub cors: Option<CorsConfig>,
}

/// `[cors]`, validated: which browser origins may call the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsConfig {
    /// Exact origins (`https://app.example.com`), in lowercase.
    pub origins: Vec<String>,
    /// `*` was listed: any origin (tokens travel in a header, never in cookies).
    pub any: bool,
    /// How long a browser may keep a preflight's answer.
    pub max_age: Duration,
}

/// `[auth]`, validated.
#[derive(Debug, Clone)]
pub enum AuthConfig {
    /// `mode = "off"`: every caller may do everything.
    Off,
    Jwt(Box<JwtConfig>),
}

/// `[auth]` with `mode = "jwt"`.
#[derive(Debug, Clone)]
pub struct JwtConfig {
    pub issuer: String,
    pub audience: String,
    pub leeway: Duration,
    pub orgs_claim: String,
    pub verified_tokens: u64,
    pub keys: Vec<AuthKey>,
    pub jwks: Option<JwksConfig>,
}

/// One `[[auth.keys]]` entry.
#[derive(Debug, Clone)]
pub struct AuthKey {
    pub kid: String,
    pub alg: jsonwebtoken::Algorithm,
    pub material: KeyMaterial,
}

/// What a key verifies with.
#[derive(Debug, Clone)]
pub enum KeyMaterial {
    /// An HS key's shared secret.
    Secret(orgway_core::Secret),
    /// A public key, PEM.
    PublicPem(Vec<u8>),
}

/// `[auth.jwks]`.
#[derive(Debug, Clone)]
pub struct JwksConfig {
    pub url: http::Uri,
    pub refresh: Duration,
    pub min_refetch: Duration,
    pub client: ClientSettings,
}

/// `[cache]`, validated: the read cache (`crate::cache`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    /// What the cache may hold, in bytes of answers (bodies, keys and bookkeeping).
    pub max_bytes: u64,
    /// After an entry's time to live, how long it is still answered at once (marked stale)
    /// while one refresh runs in the background.
    pub stale_while_revalidate: Duration,
    /// After its time to live, how long an entry is still answered (marked stale) when the
    /// backend fails to refresh it.
    pub stale_if_error: Duration,
    /// Time to live per class of read; zero disables the class.
    pub ttl: CacheTtls,
}

/// Time to live per class of cached read; `None` where not set (a backend's own table falls
/// back to `[cache.ttl_ms]`, which falls back to the defaults).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheTtls {
    pub org: Option<Duration>,
    pub orgs: Option<Duration>,
    pub plans: Option<Duration>,
    pub usage: Option<Duration>,
    pub series: Option<Duration>,
    pub customers: Option<Duration>,
    pub subscriptions: Option<Duration>,
}

/// Default `[cache] max_bytes`: 64 MiB.
pub const DEFAULT_CACHE_MAX_BYTES: u64 = 64 * 1024 * 1024;
/// Default `[cache] stale_while_revalidate_ms`.
pub const DEFAULT_STALE_WHILE_REVALIDATE_MS: u64 = 10_000;
/// Default `[cache] stale_if_error_ms`.
pub const DEFAULT_STALE_IF_ERROR_MS: u64 = 300_000;

/// One thing wrong with a routing file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// The dotted key path (`backends[0].timeout_ms`), or empty for the file as a whole.
    pub key: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    pub message: String,
}

/// Everything wrong with a routing file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub issues: Vec<ConfigIssue>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, issue) in self.issues.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            f.write_str(&self.file)?;
            if let Some(line) = issue.line {
                write!(f, ":{line}")?;
            }
            f.write_str(": ")?;
            if !issue.key.is_empty() {
                write!(f, "{}: ", issue.key)?;
            }
            f.write_str(&issue.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Where the loader looks up environment variables. The binary passes the process
/// environment; `orgway demo` and tests pass their own, so nothing mutates the process env.
pub type EnvLookup<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);

/// The process environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

impl Config {
    /// Reads and validates a routing file.
    pub fn load(path: &Path, env: EnvLookup<'_>) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            issues: vec![ConfigIssue {
                key: String::new(),
                line: None,
                message: format!("cannot read the file: {e}"),
            }],
        })?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::parse(&text, &file, &dir, env)
    }

    /// Validates a routing file's text. `file` names it in messages; `dir` is where relative
    /// secret paths are resolved from.
    pub fn parse(
        text: &str,
        file: &str,
        dir: &Path,
        env: EnvLookup<'_>,
    ) -> Result<Config, ConfigError> {
        load::validate(text, dir, env).map_err(|issues| ConfigError {
            file: file.to_owned(),
            issues,
        })
    }

    /// The backend called `name`.
    pub fn backend(&self, name: &str) -> Option<&BackendConfig> {
        self.backends.iter().find(|b| b.name == name)
    }
}
