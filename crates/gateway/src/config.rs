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
//!
//! [[backends]]
//! name = "iot-prod"                # used in org references: iot-prod:<native id>
//! kind = "losant"
//! base_url = "https://api.losant.com"
//! timeout_ms = 5000                # per backend call (504 above)
//! max_concurrency = 64             # concurrent calls to this backend
//! # ...and the keys of the kind (see the adapter's config module), secrets by reference:
//! instance_id = "575ec8687ae143cd83dc4a97"
//! token = "${LOSANT_TOKEN}"
//!
//! [orgs.acme]
//! backend = "iot-prod"
//! id = "575ed6e87ae143cd83dc4aa8"
//! ```
//!
//! `${NAME}` in `base_url` is replaced by the environment variable `NAME`. Secrets are resolved
//! from `${NAME}` or a file (`file:PATH`, or a path starting with `/`, `./` or `../`, relative to
//! the routing file's folder) and are never printed.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use orgway_core::{Backend, BaseUrl, Secret, SecretRef, SecretSource, SecretTarget};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use crate::registry::BackendKind;

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
}

/// One `[[backends]]` entry, validated, with its adapter built.
#[derive(Debug, Clone)]
pub struct BackendConfig {
    pub name: String,
    pub kind: BackendKind,
    pub base_url: BaseUrl,
    pub timeout: Duration,
    pub max_concurrency: usize,
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
}

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
            _ => Err(ConfigError {
                file: file.to_owned(),
                issues: loader.issues,
            }),
        }
    }

    /// The backend called `name`.
    pub fn backend(&self, name: &str) -> Option<&BackendConfig> {
        self.backends.iter().find(|b| b.name == name)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    #[serde(default)]
    listen: Option<String>,
    #[serde(default)]
    worker_threads: Option<usize>,
    #[serde(default)]
    body_limit_bytes: Option<u64>,
    #[serde(default)]
    log_format: Option<String>,
    #[serde(default)]
    log_level: Option<String>,
    #[serde(default)]
    shutdown_delay_ms: Option<u64>,
    #[serde(default)]
    shutdown_grace_ms: Option<u64>,
}

/// The keys every backend has; the rest of the table belongs to the kind.
const COMMON_BACKEND_KEYS: [&str; 5] =
    ["name", "kind", "base_url", "timeout_ms", "max_concurrency"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBackendCommon {
    name: String,
    kind: String,
    base_url: String,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    max_concurrency: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrg {
    backend: String,
    id: String,
}

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
        for (key, value) in root.into_inner() {
            match key.get_ref().as_ref() {
                "server" => server = Some(value),
                "backends" => backends = Some(value),
                "orgs" => orgs = Some(value),
                other => {
                    let msg = format!(
                        "unknown key `{other}`, expected one of `server`, `backends`, `orgs`"
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
        Some(Config {
            server: server?,
            backends,
            orgs,
        })
    }

    fn server(&mut self, value: Option<Spanned<DeValue<'a>>>) -> Option<ServerConfig> {
        let table_span = value.as_ref().map(|v| v.span());
        let spans = value.as_ref().map(key_spans).unwrap_or_default();
        let at = |key: &str| spans.get(key).cloned().or_else(|| table_span.clone());
        let raw: RawServer = match value {
            Some(v) => self.de("server", v)?,
            None => RawServer {
                listen: None,
                worker_threads: None,
                body_limit_bytes: None,
                log_format: None,
                log_level: None,
                shutdown_delay_ms: None,
                shutdown_grace_ms: None,
            },
        };
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
        let body_limit_bytes = match raw.body_limit_bytes {
            None => DEFAULT_BODY_LIMIT,
            Some(n) if (1..=1 << 30).contains(&n) => n as usize,
            Some(n) => {
                self.issue(
                    "server.body_limit_bytes",
                    at("body_limit_bytes").as_ref(),
                    format!("{n} is not between 1 and 1073741824"),
                );
                DEFAULT_BODY_LIMIT
            }
        };
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
        let raw: RawBackendCommon =
            self.de(prefix, Spanned::new(span.clone(), DeValue::Table(common)))?;
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

        let resolver = Resolver {
            dir: &self.dir,
            env: self.env,
        };
        let built = kind.build(
            &raw.name,
            base_url.clone(),
            Spanned::new(span.clone(), DeValue::Table(specific)),
            &resolver,
        );
        let adapter = match built {
            Ok(a) => a,
            Err(crate::registry::BuildError::Settings(e)) => {
                let path = e.path().to_string();
                let key = join_key(prefix, if path == "." { "" } else { &path });
                let s = e.inner().span().unwrap_or(span.clone());
                let message = e.inner().message().to_owned();
                self.issue(key, Some(&s), message);
                return None;
            }
            Err(crate::registry::BuildError::Invalid(e)) => {
                let s = at(e.key.split('.').next().unwrap_or(""));
                self.issue(join_key(prefix, &e.key), Some(&s), e.message);
                return None;
            }
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
            adapter,
        })
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

/// Replaces every `${NAME}` in `s` by the environment variable `NAME`.
pub fn expand_env(s: &str, env: EnvLookup<'_>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unclosed `${{` in `{s}`"))?;
        let name = &after[..end];
        if !orgway_core::secret::is_env_name(name) {
            return Err(format!(
                "`${{{name}}}` is not a valid environment variable name"
            ));
        }
        let value = env(name).ok_or_else(|| format!("environment variable {name} is not set"))?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Resolves secret references against an environment and the routing file's folder.
struct Resolver<'a> {
    dir: &'a Path,
    env: EnvLookup<'a>,
}

impl SecretSource for Resolver<'_> {
    fn resolve(&self, reference: &SecretRef) -> Result<Secret, String> {
        match reference.target()? {
            SecretTarget::Env(name) => (self.env)(name)
                .map(Secret::new)
                .ok_or_else(|| format!("environment variable {name} is not set")),
            SecretTarget::File(path) => {
                let p = Path::new(path);
                let full = if p.is_absolute() {
                    p.to_path_buf()
                } else {
                    self.dir.join(p)
                };
                let text = std::fs::read_to_string(&full)
                    .map_err(|e| format!("cannot read secret file {}: {e}", full.display()))?;
                let value = text.strip_suffix('\n').unwrap_or(&text);
                let value = value.strip_suffix('\r').unwrap_or(value);
                if value.is_empty() {
                    return Err(format!("secret file {} is empty", full.display()));
                }
                Ok(Secret::new(value))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("sekrit-token".into()),
            "SIM" => Some("http://127.0.0.1:9".into()),
            _ => None,
        }
    }

    const GOOD: &str = r#"
[server]
listen = "127.0.0.1:0"
log_format = "json"

[[backends]]
name = "iot-prod"
kind = "losant"
base_url = "${SIM}/"
timeout_ms = 2500
instance_id = "575ec8687ae143cd83dc4a97"
token = "${TOKEN}"

[orgs.acme]
backend = "iot-prod"
id = "575ED6E87AE143CD83DC4AA8"
"#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, "t.toml", Path::new("."), &env)
    }

    fn one_issue(text: &str) -> String {
        let e = parse(text).unwrap_err();
        assert_eq!(e.issues.len(), 1, "{e}");
        e.to_string()
    }

    #[test]
    fn a_good_file() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.server.log_format, LogFormat::Json);
        assert_eq!(c.backends.len(), 1);
        let b = &c.backends[0];
        assert_eq!(b.name, "iot-prod");
        assert_eq!(b.base_url.as_str(), "http://127.0.0.1:9");
        assert_eq!(b.timeout, Duration::from_millis(2500));
        assert_eq!(c.orgs[0].native_id, "575ed6e87ae143cd83dc4aa8");
        assert!(!format!("{c:?}").contains("sekrit"), "secrets never print");
    }

    #[test]
    fn unknown_keys_are_named_with_their_line() {
        let text = GOOD.replace("timeout_ms = 2500", "timeout_ms = 2500\ntokn = \"x\"");
        let msg = one_issue(&text);
        assert!(
            msg.starts_with("t.toml:11: backends[0].tokn: unknown field `tokn`"),
            "{msg}"
        );
        let text = GOOD.replace("log_format", "log_fmt");
        let msg = one_issue(&text);
        assert!(msg.contains("server.log_fmt: unknown field"), "{msg}");
        assert!(msg.starts_with("t.toml:4:"), "{msg}");
        let text = format!("{GOOD}\n[extra]\na = 1\n");
        assert!(one_issue(&text).contains("extra: unknown key `extra`"));
    }

    #[test]
    fn missing_env_and_bad_urls_are_named() {
        let msg = one_issue(&GOOD.replace("${TOKEN}", "${NOPE}"));
        assert!(
            msg.contains("backends[0].token: environment variable NOPE is not set"),
            "{msg}"
        );
        assert!(msg.starts_with("t.toml:12:"), "{msg}");
        let msg = one_issue(&GOOD.replace("${SIM}/", "ftp://x"));
        assert!(msg.contains("backends[0].base_url: scheme `ftp`"), "{msg}");
        let msg = one_issue(&GOOD.replace("${SIM}/", "not a url"));
        assert!(msg.contains("backends[0].base_url:"), "{msg}");
        let msg = one_issue(&GOOD.replace("${SIM}/", "${MISSING}"));
        assert!(
            msg.contains("backends[0].base_url: environment variable MISSING is not set"),
            "{msg}"
        );
    }

    #[test]
    fn literal_secrets_are_refused() {
        let msg = one_issue(&GOOD.replace("${TOKEN}", "sekrit-literal"));
        assert!(
            msg.contains("backends[0].token: secrets must be given by reference"),
            "{msg}"
        );
        assert!(!msg.contains("sekrit-literal"));
    }

    #[test]
    fn values_are_checked() {
        assert!(
            one_issue(&GOOD.replace("kind = \"losant\"", "kind = \"nope\""))
                .contains("backends[0].kind: unknown kind `nope`")
        );
        assert!(
            one_issue(&GOOD.replace("timeout_ms = 2500", "timeout_ms = \"5s\""))
                .contains("backends[0].timeout_ms: invalid type")
        );
        assert!(
            one_issue(&GOOD.replace("timeout_ms = 2500", "timeout_ms = 0"))
                .contains("backends[0].timeout_ms: 0 is not between")
        );
        assert!(
            one_issue(&GOOD.replace("575ED6E87AE143CD83DC4AA8", "42"))
                .contains("orgs.acme.id: `42` is not a Losant org id")
        );
        assert!(
            one_issue(&GOOD.replace("backend = \"iot-prod\"", "backend = \"other\""))
                .contains("orgs.acme.backend: no backend named `other`")
        );
        assert!(
            one_issue(&GOOD.replace(
                "instance_id = \"575ec8687ae143cd83dc4a97\"",
                "instance_id = \"x\""
            ))
            .contains("backends[0].instance_id:")
        );
        // The bad name is reported, and so is the alias that names a backend now missing.
        let e = parse(&GOOD.replace("name = \"iot-prod\"", "name = \"IoT:prod\"")).unwrap_err();
        assert!(e.to_string().contains("t.toml:7: backends[0].name:"), "{e}");
        assert!(
            e.to_string()
                .contains("orgs.acme.backend: no backend named `iot-prod`"),
            "{e}"
        );
        assert!(
            one_issue(&GOOD.replace("listen = \"127.0.0.1:0\"", "listen = \"localhost\""))
                .contains("server.listen:")
        );
        assert!(
            one_issue("[server]\nlisten = \"127.0.0.1:1\"\n").contains("backends: at least one")
        );
        assert!(one_issue("[server\n").contains("not valid TOML"));
    }

    #[test]
    fn every_issue_names_its_own_line() {
        let e = parse(&GOOD.replace(
            "log_format = \"json\"",
            "log_format = \"json\"\nbody_limit_bytes = 0",
        ))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.toml:5: server.body_limit_bytes: 0 is not between 1 and 1073741824"
        );
        let e = parse(&GOOD.replace("575ED6E87AE143CD83DC4AA8", "42")).unwrap_err();
        assert!(e.to_string().starts_with("t.toml:16: orgs.acme.id:"), "{e}");
        let e = parse(&GOOD.replace("backend = \"iot-prod\"", "backend = \"other\"")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("t.toml:15: orgs.acme.backend: no backend named `other`"),
            "{e}"
        );
    }

    #[test]
    fn one_problem_does_not_hide_another() {
        let text = GOOD
            .replace("timeout_ms = 2500", "timeout_ms = 0")
            .replace("backend = \"iot-prod\"", "backend = \"typo\"");
        let e = parse(&text).unwrap_err();
        assert_eq!(e.issues.len(), 2, "{e}");
        assert!(
            e.to_string()
                .contains("orgs.acme.backend: no backend named `typo`"),
            "{e}"
        );
        // An alias naming a refused backend is not reported twice.
        let e = parse(&GOOD.replace("timeout_ms = 2500", "timeout_ms = 0")).unwrap_err();
        assert_eq!(e.issues.len(), 1, "{e}");
        assert!(
            one_issue("backends = []\n[server]\nlisten = \"127.0.0.1:1\"\n")
                .contains("backends: at least one")
        );
    }

    #[test]
    fn non_string_secrets_are_not_repeated() {
        let msg = one_issue(&GOOD.replace("\"${TOKEN}\"", "12345678"));
        assert!(msg.starts_with("t.toml:12: backends[0].token:"), "{msg}");
        assert!(!msg.contains("12345678"), "{msg}");
    }

    #[test]
    fn duplicate_backends() {
        let dup = GOOD.replace("[orgs.acme]", "[[backends]]\nname = \"iot-prod\"\nkind = \"losant\"\nbase_url = \"http://x\"\ninstance_id = \"575ec8687ae143cd83dc4a97\"\ntoken = \"${TOKEN}\"\n\n[orgs.acme]");
        assert!(
            one_issue(&dup)
                .contains("backends[1].name: a backend named `iot-prod` is already defined")
        );
    }

    #[test]
    fn secrets_from_files() {
        let dir = std::env::temp_dir().join(format!("orgway-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("token"), "from-file\n").unwrap();
        let text = GOOD.replace("${TOKEN}", "./token");
        let c = Config::parse(&text, "t.toml", &dir, &env).unwrap();
        assert_eq!(c.backends.len(), 1);
        let text = GOOD.replace("${TOKEN}", "file:missing");
        let e = Config::parse(&text, "t.toml", &dir, &env).unwrap_err();
        assert!(
            e.to_string()
                .contains("backends[0].token: cannot read secret file"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn env_expansion() {
        assert_eq!(
            expand_env("${SIM}/api", &env).unwrap(),
            "http://127.0.0.1:9/api"
        );
        assert_eq!(expand_env("plain", &env).unwrap(), "plain");
        assert!(expand_env("${SIM", &env).is_err());
        assert!(expand_env("${1X}", &env).is_err());
    }
}
