//! Validation of a routing file into the runtime types: the `Loader` walks the TOML document,
//! deserializes each part into its raw struct (`raw.rs`), checks every value and builds each
//! backend's adapter, collecting every issue with its dotted key path and line.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use orgway_core::BaseUrl;
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::raw::{
    AUTH_KEYS, CACHE_KEYS, COMMON_BACKEND_KEYS, CORS_KEYS, RawAuth, RawBackendCommon, RawCache,
    RawCors, RawOrg, RawServer, RawTtls, SERVER_KEYS,
};
use super::secrets::{Resolver, expand_env};
use super::{
    AuthConfig, AuthKey, BackendConfig, CacheConfig, CacheTtls, Config, ConfigIssue, CorsConfig,
    DEFAULT_BODY_LIMIT, DEFAULT_BODY_READ_TIMEOUT_MS, DEFAULT_CACHE_MAX_BYTES,
    DEFAULT_HEADER_READ_TIMEOUT_MS, DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_LISTEN,
    DEFAULT_MAX_CONCURRENCY, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_SHUTDOWN_GRACE_MS, DEFAULT_STALE_IF_ERROR_MS,
    DEFAULT_STALE_WHILE_REVALIDATE_MS, DEFAULT_TIMEOUT_MS, EnvLookup, JwksConfig, JwtConfig,
    KeyMaterial, LogFormat, OrgAlias, ServerConfig,
};
use crate::client::{ClientSettings, ConnectTo, load_ca_file};
use crate::limits::Rate;
use crate::registry::BackendKind;

/// Validates a routing file's text: the runtime configuration, or every issue found.
pub(super) fn validate(
    text: &str,
    dir: &Path,
    env: EnvLookup<'_>,
) -> Result<Config, Vec<ConfigIssue>> {
    let mut loader = Loader {
        text,
        dir: dir.to_path_buf(),
        env,
        issues: Vec::new(),
        refused_backends: Vec::new(),
    };
    let config = loader.load();
    match config {
        Some(c) if loader.issues.is_empty() => Ok(c),
        _ => Err(loader.issues),
    }
}

/// Walks a routing file, collecting every issue rather than stopping at the first.
struct Loader<'a> {
    text: &'a str,
    dir: PathBuf,
    env: EnvLookup<'a>,
    issues: Vec<ConfigIssue>,
    /// Names of backends that were refused: org aliases naming them are not reported again.
    refused_backends: Vec<String>,
}

impl<'a> Loader<'a> {
    fn line_of(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text[..end].bytes().filter(|b| *b == b'\n').count() + 1
    }

    fn issue(
        &mut self,
        key: impl Into<String>,
        span: Option<&Range<usize>>,
        message: impl Into<String>,
    ) {
        let line = span.map(|s| self.line_of(s));
        self.issues.push(ConfigIssue {
            key: key.into(),
            line,
            message: message.into(),
        });
    }

    /// Deserializes a table whose keys are `known`, reporting every problem under `prefix` in
    /// one pass: each unknown key, then each key whose value does not deserialize (that key is
    /// set aside and the rest tried again), so one bad key never hides another. Returns what the
    /// remaining keys say (`None` when even that fails, e.g. a required key is missing), so
    /// their values can be checked too; any problem found is already an issue.
    fn de_table<T: DeserializeOwned>(
        &mut self,
        prefix: &str,
        value: Spanned<DeValue<'a>>,
        known: &[&str],
    ) -> Option<T> {
        let whole = value.span();
        let DeValue::Table(mut table) = value.into_inner() else {
            self.issue(prefix, Some(&whole), "must be a table");
            return None;
        };
        let expected = known
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let unknown: Vec<(String, Range<usize>)> = table
            .keys()
            .filter(|k| !known.contains(&k.get_ref().as_ref()))
            .map(|k| (k.get_ref().to_string(), k.span()))
            .collect();
        for (key, span) in unknown {
            self.issue(
                join_key(prefix, &key),
                Some(&span),
                format!("unknown field `{key}`, expected one of {expected}"),
            );
            table.remove(key.as_str());
        }
        let mut set_aside: Vec<String> = Vec::new();
        loop {
            let attempt = Spanned::new(whole.clone(), DeValue::Table(table.clone()));
            match serde_path_to_error::deserialize::<_, T>(ValueDeserializer::from(attempt)) {
                // The keys that were not refused, so the caller can still check their values;
                // the issues already recorded make the file refused.
                Ok(v) => return Some(v),
                // A required key set aside for its own problem is not missing as well.
                Err(e)
                    if set_aside
                        .iter()
                        .any(|k| e.inner().message() == format!("missing field `{k}`")) =>
                {
                    return None;
                }
                Err(e) => {
                    let path = e.path().to_string();
                    let key = join_key(prefix, if path == "." { "" } else { &path });
                    let span = e.inner().span().unwrap_or(whole.clone());
                    self.issue(key, Some(&span), e.inner().message().to_owned());
                    let top = path.split(['.', '[']).next().unwrap_or("");
                    if path == "." || !table.contains_key(top) {
                        return None;
                    }
                    table.remove(top);
                    set_aside.push(top.to_owned());
                }
            }
        }
    }

    /// Deserializes a spanned value, reporting problems under `prefix`.
    fn de<T: DeserializeOwned>(&mut self, prefix: &str, value: Spanned<DeValue<'a>>) -> Option<T> {
        let whole = value.span();
        match serde_path_to_error::deserialize::<_, T>(ValueDeserializer::from(value)) {
            Ok(v) => Some(v),
            Err(e) => {
                let path = e.path().to_string();
                let key = join_key(prefix, if path == "." { "" } else { &path });
                let span = e.inner().span().unwrap_or(whole);
                let message = e.inner().message().to_owned();
                self.issue(key, Some(&span), message);
                None
            }
        }
    }

    fn load(&mut self) -> Option<Config> {
        let root = match DeTable::parse(self.text) {
            Ok(r) => r,
            Err(e) => {
                let span = e.span();
                self.issue(
                    "",
                    span.as_ref(),
                    format!("not valid TOML: {}", e.message()),
                );
                return None;
            }
        };
        let mut server = None;
        let mut backends = None;
        let mut orgs = None;
        let mut cache = None;
        let mut auth = None;
        let mut cors = None;
        for (key, value) in root.into_inner() {
            match key.get_ref().as_ref() {
                "server" => server = Some(value),
                "backends" => backends = Some(value),
                "orgs" => orgs = Some(value),
                "cache" => cache = Some(value),
                "auth" => auth = Some(value),
                "cors" => cors = Some(value),
                other => {
                    let msg = format!(
                        "unknown key `{other}`, expected one of `server`, `backends`, `orgs`, `cache`, `auth`, `cors`"
                    );
                    self.issue(other.to_owned(), Some(&key.span()), msg);
                }
            }
        }
        let server = self.server(server);
        let backends = match backends {
            Some(b) => self.backends(b),
            None => {
                self.issue(
                    "backends",
                    None,
                    "at least one [[backends]] entry is required",
                );
                Vec::new()
            }
        };
        let orgs = match orgs {
            Some(o) => self.orgs(o, &backends),
            None => Vec::new(),
        };
        let cache = cache.and_then(|c| self.cache(c));
        let auth = match auth {
            Some(a) => self.auth(a),
            None => {
                self.issue(
                    "auth",
                    None,
                    "an [auth] table is required: the keys that verify callers' tokens \
                     (issuer, audience, [[auth.keys]] or [auth.jwks]), or mode = \"off\" to let \
                     anyone who reaches the port do anything",
                );
                None
            }
        };
        let cors = cors.and_then(|c| self.cors(c));
        Some(Config {
            server: server?,
            backends,
            orgs,
            cache,
            auth: auth?,
            cors,
        })
    }

    /// `[cors]`.
    fn cors(&mut self, value: Spanned<DeValue<'a>>) -> Option<CorsConfig> {
        let spans = key_spans(&value);
        let table_span = value.span();
        let at = |key: &str| spans.get(key).cloned().unwrap_or(table_span.clone());
        let raw: RawCors = self.de_table("cors", value, &CORS_KEYS)?;
        let mut origins = Vec::new();
        let mut any = false;
        for o in raw.allowed_origins.unwrap_or_default() {
            if o == "*" {
                any = true;
                continue;
            }
            let uri = o.parse::<http::Uri>().ok();
            let ok = uri.as_ref().is_some_and(|u| {
                matches!(u.scheme_str(), Some("http") | Some("https"))
                    && u.host().is_some()
                    && u.path_and_query().is_none_or(|p| p.as_str() == "/")
                    && !o.ends_with('/')
            });
            if !ok {
                self.issue(
                    "cors.allowed_origins",
                    Some(&at("allowed_origins")),
                    format!("`{o}` is not an origin (scheme://host[:port], no path) or `*`"),
                );
                continue;
            }
            origins.push(o.to_ascii_lowercase());
        }
        if origins.is_empty() && !any {
            self.issue(
                "cors.allowed_origins",
                Some(&at("allowed_origins")),
                "list the origins allowed (or `*`)",
            );
        }
        let max_age = raw.max_age_s.unwrap_or(600);
        if max_age > 86_400 {
            self.issue(
                "cors.max_age_s",
                Some(&at("max_age_s")),
                format!("{max_age} is more than 86400 (a day)"),
            );
        }
        Some(CorsConfig {
            origins,
            any,
            max_age: Duration::from_secs(max_age),
        })
    }

    /// `[auth]`.
    fn auth(&mut self, value: Spanned<DeValue<'a>>) -> Option<AuthConfig> {
        let spans = key_spans(&value);
        let table_span = value.span();
        let at = |key: &str| spans.get(key).cloned().unwrap_or(table_span.clone());
        let raw: RawAuth = self.de_table("auth", value, &AUTH_KEYS)?;
        match raw.mode.as_deref().unwrap_or("jwt") {
            "off" => return Some(AuthConfig::Off),
            "jwt" => {}
            other => {
                self.issue(
                    "auth.mode",
                    Some(&at("mode")),
                    format!("unknown mode `{other}`, expected `jwt` or `off`"),
                );
                return None;
            }
        }
        let mut required = |key: &str, v: Option<String>| match v.filter(|s| !s.trim().is_empty()) {
            Some(v) => Some(v),
            None => {
                self.issue(
                    format!("auth.{key}"),
                    Some(&at(key)),
                    format!("`{key}` is required: every token must carry it"),
                );
                None
            }
        };
        let issuer = required("issuer", raw.issuer);
        let audience = required("audience", raw.audience);
        let leeway = raw.leeway_s.unwrap_or(30);
        if leeway > 300 {
            self.issue(
                "auth.leeway_s",
                Some(&at("leeway_s")),
                format!("{leeway} is more than 300 (five minutes)"),
            );
        }
        let verified_tokens = raw.verified_tokens.unwrap_or(10_000);
        if !(1..=10_000_000).contains(&verified_tokens) {
            self.issue(
                "auth.verified_tokens",
                Some(&at("verified_tokens")),
                format!("{verified_tokens} is not between 1 and 10000000"),
            );
        }
        let dir = self.dir.clone();
        let resolver = Resolver {
            dir: &dir,
            env: self.env,
            resolved: std::cell::Cell::new(0),
        };
        let mut keys: Vec<AuthKey> = Vec::new();
        for (i, k) in raw.keys.unwrap_or_default().into_iter().enumerate() {
            let prefix = format!("auth.keys[{i}]");
            let Ok(alg) = k.alg.parse::<jsonwebtoken::Algorithm>() else {
                self.issue(
                    format!("{prefix}.alg"),
                    Some(&at("keys")),
                    format!(
                        "unknown algorithm `{}`, expected one of HS256, HS384, HS512, RS256, \
                         RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA",
                        k.alg
                    ),
                );
                continue;
            };
            let material = match (&k.secret, &k.public_key_file) {
                (Some(secret), None) => {
                    match orgway_core::SecretSource::resolve(&resolver, secret) {
                        Ok(s) => KeyMaterial::Secret(s),
                        Err(m) => {
                            self.issue(format!("{prefix}.secret"), Some(&at("keys")), m);
                            continue;
                        }
                    }
                }
                (None, Some(file)) => {
                    let p = Path::new(file);
                    let full = if p.is_absolute() {
                        p.to_path_buf()
                    } else {
                        dir.join(p)
                    };
                    match std::fs::read(&full) {
                        Ok(pem) => KeyMaterial::PublicPem(pem),
                        Err(e) => {
                            self.issue(
                                format!("{prefix}.public_key_file"),
                                Some(&at("keys")),
                                format!("cannot read {}: {e}", full.display()),
                            );
                            continue;
                        }
                    }
                }
                _ => {
                    self.issue(
                        prefix.clone(),
                        Some(&at("keys")),
                        "a key has either `secret` (HS algorithms) or `public_key_file` (the others)",
                    );
                    continue;
                }
            };
            if let Err(m) = crate::auth::static_key(alg, &material) {
                self.issue(prefix, Some(&at("keys")), m);
                continue;
            }
            if keys.iter().any(|x| x.kid == k.kid) {
                self.issue(
                    format!("{prefix}.kid"),
                    Some(&at("keys")),
                    format!("`{}` names two keys", k.kid),
                );
                continue;
            }
            keys.push(AuthKey {
                kid: k.kid,
                alg,
                material,
            });
        }
        let jwks = match raw.jwks {
            None => None,
            Some(j) => {
                let url = expand_env(&j.url, self.env)
                    .and_then(|u| {
                        u.parse::<http::Uri>()
                            .map_err(|e| format!("not a URL: {e}"))
                    })
                    .and_then(|u| match (u.scheme_str(), u.host()) {
                        (Some("https"), Some(_)) => Ok(u),
                        // The keys tokens are trusted by: never fetched in the clear from
                        // another machine.
                        (Some("http"), Some(host)) if is_loopback_host(host) => Ok(u),
                        (Some("http"), Some(_)) => Err(
                            "must be an https:// URL (http:// only to this machine): whoever can \
                             change the keys on the way can sign any token"
                                .to_owned(),
                        ),
                        _ => Err("must be an https:// URL".to_owned()),
                    });
                match url {
                    Ok(url) => Some(JwksConfig {
                        url,
                        refresh: Duration::from_secs(j.refresh_s.unwrap_or(300).max(1)),
                        min_refetch: Duration::from_secs(j.min_refetch_s.unwrap_or(10).max(1)),
                        client: ClientSettings::default(),
                    }),
                    Err(m) => {
                        self.issue("auth.jwks.url", Some(&at("jwks")), m);
                        None
                    }
                }
            }
        };
        if keys.is_empty() && jwks.is_none() && self.issues.is_empty() {
            self.issue(
                "auth.keys",
                Some(&table_span),
                "no key to verify tokens with: add [[auth.keys]] or [auth.jwks]",
            );
        }
        Some(AuthConfig::Jwt(Box::new(JwtConfig {
            issuer: issuer?,
            audience: audience?,
            leeway: Duration::from_secs(leeway),
            orgs_claim: raw.orgs_claim.unwrap_or_else(|| "orgs".to_owned()),
            verified_tokens,
            keys,
            jwks,
        })))
    }

    /// `[cache]`.
    fn cache(&mut self, value: Spanned<DeValue<'a>>) -> Option<CacheConfig> {
        let spans = key_spans(&value);
        let table_span = value.span();
        let at = |key: &str| spans.get(key).cloned().unwrap_or(table_span.clone());
        let raw: RawCache = self.de_table("cache", value, &CACHE_KEYS)?;
        let max_bytes = raw.max_bytes.unwrap_or(DEFAULT_CACHE_MAX_BYTES);
        if !(64 * 1024..=1 << 40).contains(&max_bytes) {
            self.issue(
                "cache.max_bytes",
                Some(&at("max_bytes")),
                format!("{max_bytes} is not between 65536 and 1099511627776"),
            );
        }
        let mut window = |key: &str, value: Option<u64>, default: u64| {
            let ms = value.unwrap_or(default);
            if ms > 86_400_000 {
                self.issue(
                    format!("cache.{key}"),
                    Some(&at(key)),
                    format!("{ms} is more than 86400000 (a day)"),
                );
            }
            Duration::from_millis(ms)
        };
        let stale_while_revalidate = window(
            "stale_while_revalidate_ms",
            raw.stale_while_revalidate_ms,
            DEFAULT_STALE_WHILE_REVALIDATE_MS,
        );
        let stale_if_error = window(
            "stale_if_error_ms",
            raw.stale_if_error_ms,
            DEFAULT_STALE_IF_ERROR_MS,
        );
        let ttl = self.ttls(
            "cache.ttl_ms",
            raw.ttl_ms.unwrap_or_default(),
            &at("ttl_ms"),
        );
        Some(CacheConfig {
            max_bytes,
            stale_while_revalidate,
            stale_if_error,
            ttl,
        })
    }

    /// Times to live, each at most a day.
    fn ttls(&mut self, prefix: &str, raw: RawTtls, span: &Range<usize>) -> CacheTtls {
        let mut one = |name: &str, v: Option<u64>| {
            v.map(|ms| {
                if ms > 86_400_000 {
                    self.issue(
                        format!("{prefix}.{name}"),
                        Some(span),
                        format!("{ms} is more than 86400000 (a day)"),
                    );
                }
                Duration::from_millis(ms)
            })
        };
        CacheTtls {
            org: one("org", raw.org),
            orgs: one("orgs", raw.orgs),
            plans: one("plans", raw.plans),
            usage: one("usage", raw.usage),
            series: one("series", raw.series),
            customers: one("customers", raw.customers),
            subscriptions: one("subscriptions", raw.subscriptions),
        }
    }

    fn server(&mut self, value: Option<Spanned<DeValue<'a>>>) -> Option<ServerConfig> {
        let table_span = value.as_ref().map(|v| v.span());
        let spans = value.as_ref().map(key_spans).unwrap_or_default();
        let at = |key: &str| spans.get(key).cloned().or_else(|| table_span.clone());
        // A refused key is reported and its default used, so the other keys are still checked.
        let raw: RawServer = match value {
            Some(v) => self.de_table("server", v, &SERVER_KEYS).unwrap_or_default(),
            None => RawServer::default(),
        };
        // A number, its default when absent; one out of `range` is reported.
        let bounded = |this: &mut Self,
                       key: &str,
                       value: Option<u64>,
                       default: u64,
                       range: std::ops::RangeInclusive<u64>| {
            let v = value.unwrap_or(default);
            if !range.contains(&v) {
                this.issue(
                    format!("server.{key}"),
                    at(key).as_ref(),
                    format!("{v} is not between {} and {}", range.start(), range.end()),
                );
            }
            v
        };
        let timeout = |this: &mut Self, key: &str, value: Option<u64>, default: u64| {
            Duration::from_millis(bounded(this, key, value, default, 1..=3_600_000))
        };
        let header_read_timeout = timeout(
            self,
            "header_read_timeout_ms",
            raw.header_read_timeout_ms,
            DEFAULT_HEADER_READ_TIMEOUT_MS,
        );
        let body_read_timeout = timeout(
            self,
            "body_read_timeout_ms",
            raw.body_read_timeout_ms,
            DEFAULT_BODY_READ_TIMEOUT_MS,
        );
        let idle_timeout = timeout(
            self,
            "idle_timeout_ms",
            raw.idle_timeout_ms,
            DEFAULT_IDLE_TIMEOUT_MS,
        );
        let caller_rate_limit = self.rate(
            "server",
            raw.caller_rate_limit_rps,
            raw.caller_rate_limit_burst,
            at("caller_rate_limit_rps").as_ref(),
        );
        let size = |this: &mut Self, key: &str, value: Option<u64>, default: usize, range| {
            usize::try_from(bounded(this, key, value, default as u64, range)).unwrap_or(usize::MAX)
        };
        let idempotency_max_bytes = size(
            self,
            "idempotency_max_bytes",
            raw.idempotency_max_bytes,
            64 * 1024 * 1024,
            64 * 1024..=1 << 40,
        );
        let max_connections = size(
            self,
            "max_connections",
            raw.max_connections.map(|n| n as u64),
            DEFAULT_MAX_CONNECTIONS,
            1..=1_000_000,
        );
        // hyper's read buffer: at least 8 KiB.
        let max_header_bytes = size(
            self,
            "max_header_bytes",
            raw.max_header_bytes,
            DEFAULT_MAX_HEADER_BYTES,
            8192..=1 << 20,
        );
        let delay_ms = raw.shutdown_delay_ms.unwrap_or(0);
        if delay_ms > 600_000 {
            self.issue(
                "server.shutdown_delay_ms",
                at("shutdown_delay_ms").as_ref(),
                format!("{delay_ms} is more than 600000"),
            );
        }
        let grace_ms = raw.shutdown_grace_ms.unwrap_or(DEFAULT_SHUTDOWN_GRACE_MS);
        if grace_ms > 600_000 {
            self.issue(
                "server.shutdown_grace_ms",
                at("shutdown_grace_ms").as_ref(),
                format!("{grace_ms} is more than 600000"),
            );
        }
        let listen_text = raw.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        let listen = match listen_text.parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                self.issue(
                    "server.listen",
                    at("listen").as_ref(),
                    format!("`{listen_text}` is not an address like 127.0.0.1:8080"),
                );
                None
            }
        };
        let worker_threads = match raw.worker_threads {
            None => None,
            Some(n) if (1..=1024).contains(&n) => NonZeroUsize::new(n),
            Some(n) => {
                self.issue(
                    "server.worker_threads",
                    at("worker_threads").as_ref(),
                    format!("{n} is not between 1 and 1024"),
                );
                None
            }
        };
        let body_limit_bytes = size(
            self,
            "body_limit_bytes",
            raw.body_limit_bytes,
            DEFAULT_BODY_LIMIT,
            1..=1 << 30,
        );
        let log_format = match raw.log_format.as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                self.issue(
                    "server.log_format",
                    at("log_format").as_ref(),
                    format!("`{other}` is not `text` or `json`"),
                );
                LogFormat::Text
            }
        };
        let log_level = raw.log_level.unwrap_or_else(|| "info".to_owned());
        if log_level
            .parse::<tracing_subscriber::filter::Targets>()
            .is_err()
        {
            self.issue(
                "server.log_level",
                at("log_level").as_ref(),
                format!("`{log_level}` is not a level or target list"),
            );
        }
        Some(ServerConfig {
            listen: listen?,
            worker_threads,
            body_limit_bytes,
            log_format,
            log_level,
            shutdown_delay: Duration::from_millis(delay_ms),
            shutdown_grace: Duration::from_millis(grace_ms),
            header_read_timeout,
            body_read_timeout,
            idle_timeout,
            max_connections,
            max_header_bytes,
            caller_rate_limit,
            idempotency_max_bytes,
        })
    }

    fn backends(&mut self, value: Spanned<DeValue<'a>>) -> Vec<BackendConfig> {
        let span = value.span();
        let DeValue::Array(items) = value.into_inner() else {
            self.issue(
                "backends",
                Some(&span),
                "must be an array of tables ([[backends]])",
            );
            return Vec::new();
        };
        let mut out: Vec<BackendConfig> = Vec::new();
        let entries = items.len();
        for (i, item) in items.into_iter().enumerate() {
            let prefix = format!("backends[{i}]");
            let name_span = key_spans(&item).get("name").cloned();
            if let Some(b) = self.backend(&prefix, item) {
                if out.iter().any(|o| o.name == b.name) {
                    self.issue(
                        format!("{prefix}.name"),
                        name_span.as_ref(),
                        format!("a backend named `{}` is already defined", b.name),
                    );
                } else {
                    out.push(b);
                }
            }
        }
        // Entries that were all refused have been reported; an empty list has not.
        if entries == 0 {
            self.issue(
                "backends",
                Some(&span),
                "at least one [[backends]] entry is required",
            );
        }
        out
    }

    fn backend(&mut self, prefix: &str, item: Spanned<DeValue<'a>>) -> Option<BackendConfig> {
        let name = match item.get_ref() {
            DeValue::Table(t) => t
                .iter()
                .find(|(k, _)| k.get_ref() == "name")
                .and_then(|(_, v)| v.get_ref().as_str().map(str::to_owned)),
            _ => None,
        };
        let built = self.backend_entry(prefix, item);
        if let (None, Some(name)) = (&built, name) {
            self.refused_backends.push(name);
        }
        built
    }

    fn backend_entry(&mut self, prefix: &str, item: Spanned<DeValue<'a>>) -> Option<BackendConfig> {
        let issues_before = self.issues.len();
        let span = item.span();
        let DeValue::Table(table) = item.into_inner() else {
            self.issue(prefix, Some(&span), "must be a table");
            return None;
        };
        let mut common = DeTable::default();
        let mut specific = DeTable::default();
        let mut key_spans: BTreeMap<String, Range<usize>> = BTreeMap::new();
        for (k, v) in table {
            key_spans.insert(k.get_ref().to_string(), k.span());
            if COMMON_BACKEND_KEYS.contains(&k.get_ref().as_ref()) {
                common.insert(k, v);
            } else {
                specific.insert(k, v);
            }
        }
        let raw: RawBackendCommon = self.de_table(
            prefix,
            Spanned::new(span.clone(), DeValue::Table(common)),
            &COMMON_BACKEND_KEYS,
        )?;
        let at = |key: &str| key_spans.get(key).cloned().unwrap_or(span.clone());

        if !is_backend_name(&raw.name) {
            self.issue(format!("{prefix}.name"), Some(&at("name")), format!(
                "`{}` is not a backend name: use 1–63 lowercase letters, digits and `-`, starting with a letter or digit",
                raw.name
            ));
        }
        let Some(kind) = BackendKind::parse(&raw.kind) else {
            let known: Vec<&str> = BackendKind::all().map(|k| k.name()).collect();
            self.issue(
                format!("{prefix}.kind"),
                Some(&at("kind")),
                format!(
                    "unknown kind `{}`, expected one of {}",
                    raw.kind,
                    known
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            return None;
        };
        let base_url = match expand_env(&raw.base_url, self.env).and_then(|u| BaseUrl::parse(&u)) {
            Ok(u) => u,
            Err(m) => {
                self.issue(format!("{prefix}.base_url"), Some(&at("base_url")), m);
                return None;
            }
        };
        let timeout_ms = raw.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
        if !(1..=600_000).contains(&timeout_ms) {
            self.issue(
                format!("{prefix}.timeout_ms"),
                Some(&at("timeout_ms")),
                format!("{timeout_ms} is not between 1 and 600000"),
            );
        }
        let max_concurrency = raw.max_concurrency.unwrap_or(DEFAULT_MAX_CONCURRENCY);
        if !(1..=100_000).contains(&max_concurrency) {
            self.issue(
                format!("{prefix}.max_concurrency"),
                Some(&at("max_concurrency")),
                format!("{max_concurrency} is not between 1 and 100000"),
            );
        }

        let max_response_bytes = match raw.max_response_bytes {
            None => DEFAULT_MAX_RESPONSE_BYTES,
            Some(n) if (1024..=1 << 30).contains(&n) => n as usize,
            Some(n) => {
                self.issue(
                    format!("{prefix}.max_response_bytes"),
                    Some(&at("max_response_bytes")),
                    format!("{n} is not between 1024 and 1073741824"),
                );
                DEFAULT_MAX_RESPONSE_BYTES
            }
        };

        let connect_to = match raw.connect_to.as_deref() {
            None => None,
            Some(text) => match expand_env(text, self.env).and_then(|t| ConnectTo::parse(&t)) {
                Ok(c) => Some(c),
                Err(m) => {
                    self.issue(format!("{prefix}.connect_to"), Some(&at("connect_to")), m);
                    None
                }
            },
        };
        let extra_roots = match raw.ca_file.as_deref() {
            None => Vec::new(),
            Some(text) => match expand_env(text, self.env).and_then(|t| {
                let p = Path::new(&t);
                load_ca_file(&if p.is_absolute() {
                    p.to_path_buf()
                } else {
                    self.dir.join(p)
                })
            }) {
                Ok(roots) => roots,
                Err(m) => {
                    self.issue(format!("{prefix}.ca_file"), Some(&at("ca_file")), m);
                    Vec::new()
                }
            },
        };

        let resolver = Resolver {
            dir: &self.dir,
            env: self.env,
            resolved: std::cell::Cell::new(0),
        };
        let built = kind.build(
            &raw.name,
            base_url.clone(),
            Spanned::new(span.clone(), DeValue::Table(specific)),
            &resolver,
        );
        let adapter = match built {
            Ok(a) => a,
            Err(crate::registry::BuildError::Settings(errors)) => {
                for e in errors {
                    let path = e.path().to_string();
                    let key = join_key(prefix, if path == "." { "" } else { &path });
                    let s = e.inner().span().unwrap_or(span.clone());
                    let message = e.inner().message().to_owned();
                    self.issue(key, Some(&s), message);
                }
                return None;
            }
            Err(crate::registry::BuildError::Invalid(e)) => {
                let s = at(e.key.split('.').next().unwrap_or(""));
                self.issue(join_key(prefix, &e.key), Some(&s), e.message);
                return None;
            }
        };
        // Credentials sent in clear text to another machine are refused unless the operator
        // says so: loopback is this machine, so it is allowed. With `connect_to`, that address
        // is the machine the credentials go to.
        let local = match &connect_to {
            Some(c) => is_loopback_host(c.host()),
            None => is_loopback(&base_url),
        };
        if resolver.resolved.get() > 0
            && base_url.as_str().starts_with("http://")
            && !local
            && raw.allow_insecure_http != Some(true)
        {
            self.issue(
                format!("{prefix}.base_url"),
                Some(&at("base_url")),
                format!(
                    "`{}` would send this backend's credentials unencrypted to another host; use https://, or set allow_insecure_http = true",
                    base_url
                ),
            );
        }
        let mut bounded =
            |key: &str, v: Option<u64>, default: u64, range: std::ops::RangeInclusive<u64>| {
                let v = v.unwrap_or(default);
                if !range.contains(&v) {
                    self.issue(
                        format!("{prefix}.{key}"),
                        Some(&at(key)),
                        format!("{v} is not between {} and {}", range.start(), range.end()),
                    );
                }
                v
            };
        let max_queue = bounded(
            "max_queue",
            raw.max_queue.map(|v| v as u64),
            max_concurrency as u64,
            0..=1_000_000,
        ) as usize;
        let retry_attempts = bounded(
            "retry_attempts",
            raw.retry_attempts.map(u64::from),
            3,
            1..=10,
        ) as u32;
        let circuit = crate::resilience::CircuitSettings {
            failure_percent: bounded(
                "circuit_failure_percent",
                raw.circuit_failure_percent.map(u64::from),
                50,
                1..=100,
            ) as u32,
            min_calls: bounded(
                "circuit_min_calls",
                raw.circuit_min_calls.map(u64::from),
                20,
                1..=1_000_000,
            ) as u32,
            window: Duration::from_millis(bounded(
                "circuit_window_ms",
                raw.circuit_window_ms,
                10_000,
                100..=3_600_000,
            )),
            open_for: Duration::from_millis(bounded(
                "circuit_open_ms",
                raw.circuit_open_ms,
                5_000,
                10..=3_600_000,
            )),
        };
        let rate_limit = self.rate(
            prefix,
            raw.rate_limit_rps,
            raw.rate_limit_burst,
            Some(&at("rate_limit_rps")),
        );
        let cache_ttl = match raw.cache_ttl_ms.clone() {
            Some(t) => self.ttls(&format!("{prefix}.cache_ttl_ms"), t, &at("cache_ttl_ms")),
            None => CacheTtls::default(),
        };
        if self.issues.len() > issues_before {
            return None;
        }
        Some(BackendConfig {
            name: raw.name,
            kind,
            base_url,
            timeout: Duration::from_millis(timeout_ms),
            max_concurrency,
            max_response_bytes,
            client: ClientSettings {
                extra_roots,
                connect_to,
            },
            cache_ttl,
            rate_limit,
            max_queue,
            retry_attempts,
            circuit,
            adapter,
        })
    }

    /// A rate limit of `rps` requests per second with a burst of `burst` (default: `rps`).
    fn rate(
        &mut self,
        prefix: &str,
        rps: Option<u32>,
        burst: Option<u32>,
        span: Option<&Range<usize>>,
    ) -> Option<Rate> {
        let (rps_key, burst_key) = if prefix == "server" {
            ("caller_rate_limit_rps", "caller_rate_limit_burst")
        } else {
            ("rate_limit_rps", "rate_limit_burst")
        };
        let Some(rps) = rps else {
            if burst.is_some() {
                self.issue(
                    format!("{prefix}.{burst_key}"),
                    span,
                    format!("a burst needs `{rps_key}`"),
                );
            }
            return None;
        };
        let per_second = NonZeroU32::new(rps).filter(|_| rps <= 1_000_000);
        let burst = NonZeroU32::new(burst.unwrap_or(rps)).filter(|b| b.get() <= 10_000_000);
        match (per_second, burst) {
            (Some(per_second), Some(burst)) => Some(Rate { per_second, burst }),
            (None, _) => {
                self.issue(
                    format!("{prefix}.{rps_key}"),
                    span,
                    format!("{rps} is not between 1 and 1000000"),
                );
                None
            }
            (_, None) => {
                self.issue(
                    format!("{prefix}.{burst_key}"),
                    span,
                    "the burst is not between 1 and 10000000",
                );
                None
            }
        }
    }

    fn orgs(&mut self, value: Spanned<DeValue<'a>>, backends: &[BackendConfig]) -> Vec<OrgAlias> {
        let span = value.span();
        let DeValue::Table(table) = value.into_inner() else {
            self.issue(
                "orgs",
                Some(&span),
                "must be a table of [orgs.<alias>] tables",
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (alias, v) in table {
            let alias_span = alias.span();
            let alias = alias.into_inner().into_owned();
            let prefix = format!("orgs.{alias}");
            if !is_alias(&alias) {
                self.issue(prefix.clone(), Some(&alias_span), format!(
                    "`{alias}` is not an alias: use 1–128 letters, digits, `.`, `_` and `-`, starting with a letter or digit"
                ));
                continue;
            }
            let spans = key_spans(&v);
            let at = |key: &str| spans.get(key).cloned().unwrap_or(alias_span.clone());
            let Some(raw) = self.de::<RawOrg>(&prefix, v) else {
                continue;
            };
            let Some(backend) = backends.iter().find(|b| b.name == raw.backend) else {
                // A backend that was refused has been reported; an alias naming it is not.
                if !self.refused_backends.contains(&raw.backend) {
                    self.issue(
                        format!("{prefix}.backend"),
                        Some(&at("backend")),
                        format!("no backend named `{}`", raw.backend),
                    );
                }
                continue;
            };
            match backend.adapter.canonical_id(&raw.id) {
                Ok(native_id) => out.push(OrgAlias {
                    alias,
                    backend: raw.backend,
                    native_id,
                }),
                Err(m) => self.issue(format!("{prefix}.id"), Some(&at("id")), m),
            }
        }
        out
    }
}

/// The span of each key of a table value (empty for any other value).
fn key_spans(v: &Spanned<DeValue<'_>>) -> BTreeMap<String, Range<usize>> {
    match v.get_ref() {
        DeValue::Table(t) => t
            .iter()
            .map(|(k, _)| (k.get_ref().to_string(), k.span()))
            .collect(),
        _ => BTreeMap::new(),
    }
}

fn join_key(prefix: &str, rest: &str) -> String {
    match (prefix.is_empty(), rest.is_empty()) {
        (_, true) => prefix.to_owned(),
        (true, false) => rest.to_owned(),
        (false, false) => format!("{prefix}.{rest}"),
    }
}

/// Backend names appear in org references (`name:id`) and metrics labels.
pub fn is_backend_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
}

/// Aliases appear in paths; they may not contain `:`, which marks a `backend:id` reference.
pub fn is_alias(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && s.as_bytes()[0].is_ascii_alphanumeric()
}

/// Whether a base URL's host is this machine: `localhost`, `127.0.0.0/8` or `::1`.
fn is_loopback(url: &BaseUrl) -> bool {
    let Ok(uri) = url.as_str().parse::<http::Uri>() else {
        return false;
    };
    is_loopback_host(uri.host().unwrap_or(""))
}

/// Whether a host name or address is this machine.
fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
