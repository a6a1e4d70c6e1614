//! The dialect registry: every vendor dialect orgway speaks, each described once, in
//! [`DIALECTS`]: its kind name, how its adapter is built from a `[[backends]]` table, and, for
//! `orgway demo` and the tests, how its simulator starts, how the demo routes to it and which
//! requests the demo suggests. The routing-file loader, the demo, the end-to-end harness and the
//! conformance run all iterate over this list; nothing else in the gateway names a vendor.
//!
//! Adding a vendor touches this file in one place: its entry in [`DIALECTS`].

use std::sync::Arc;

use orgway_core::{Backend, BaseUrl, FromSettings, SecretSource};
use orgway_sim::RunningSim;
use orgway_sim::demo::BoxFuture;
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeValue, ValueDeserializer};

/// Builds a backend's adapter from its kind-specific keys.
type BuildFn = fn(
    name: &str,
    base_url: BaseUrl,
    table: Spanned<DeValue<'_>>,
    secrets: &dyn SecretSource,
) -> Result<Arc<dyn Backend>, BuildError>;

/// One vendor dialect.
pub struct Dialect {
    /// The kind's name in the routing file (`kind = "losant"`) and in `meta.kind`.
    pub kind: &'static str,
    build: BuildFn,
    /// How the demo and the end-to-end tests run this dialect.
    pub demo: DemoSetup,
}

impl std::fmt::Debug for Dialect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dialect")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// A dialect's part in `orgway demo`.
#[derive(Debug)]
pub struct DemoSetup {
    /// Starts its simulator with seeded demo data on `127.0.0.1:0`.
    pub start_sim: fn() -> BoxFuture<'static, std::io::Result<Box<dyn RunningSim>>>,
    /// Its `[[backends]]` table and `[orgs.*]` aliases in the demo's routing file.
    /// `${ORGWAY_DEMO_<KIND>_URL}` is the simulator's base URL and
    /// `${ORGWAY_DEMO_<KIND>_<NAME>}` each of its demo credentials and demo settings (`<KIND>`
    /// upper-cased, `-` as `_`; see [`demo_var`]).
    pub routing: &'static str,
    /// Requests the demo's banner suggests, each a `curl` line answering 200 with JSON;
    /// `{base}` stands for the gateway's URL.
    pub try_lines: &'static [&'static str],
}

/// Every dialect, in the order documentation lists them.
pub static DIALECTS: &[Dialect] = &[
    Dialect {
        kind: orgway_losant::KIND,
        build: build::<orgway_losant::Losant>,
        demo: DemoSetup {
            start_sim: orgway_sim::demo::start::<orgway_sim::losant::LosantSim>,
            routing: r#"
[[backends]]
name = "losant"
kind = "losant"
base_url = "${ORGWAY_DEMO_LOSANT_URL}"
timeout_ms = 5000
instance_id = "575ec8687ae143cd83dc4a97"
token = "${ORGWAY_DEMO_LOSANT_TOKEN}"

[orgs.acme]
backend = "losant"
id = "575ed6e87ae143cd83dc4aa8"
"#,
            try_lines: &[
                "curl -s {base}/v1/orgs/acme",
                "curl -s {base}/v1/orgs/acme",
                "curl -s -X PATCH -H 'content-type: application/json' -d '{\"name\":\"Acme Renamed\"}' {base}/v1/orgs/acme",
                "curl -s '{base}/v1/orgs/losant:575ed6e87ae143cd83dc4aa8/usage/devices?interval=day'",
            ],
        },
    },
    Dialect {
        kind: orgway_commvault::KIND,
        build: build::<orgway_commvault::Commvault>,
        demo: DemoSetup {
            start_sim: orgway_sim::demo::start::<orgway_sim::commvault::CommvaultSim>,
            routing: r#"
[[backends]]
name = "commvault"
kind = "commvault"
base_url = "${ORGWAY_DEMO_COMMVAULT_URL}"
timeout_ms = 5000
username = "admin"
password = "${ORGWAY_DEMO_COMMVAULT_PASSWORD}"

[orgs.acme-backup]
backend = "commvault"
id = "7"
"#,
            try_lines: &["curl -s {base}/v1/orgs/acme-backup/plans"],
        },
    },
    Dialect {
        kind: orgway_cocoon::KIND,
        build: build::<orgway_cocoon::Cocoon>,
        demo: DemoSetup {
            start_sim: orgway_sim::demo::start::<orgway_sim::cocoon::CocoonSim>,
            routing: r#"
[[backends]]
name = "cocoon"
kind = "cocoon"
base_url = "${ORGWAY_DEMO_COCOON_URL}"
timeout_ms = 5000
client_id = "orgway-demo"
client_secret = "${ORGWAY_DEMO_COCOON_CLIENT_SECRET}"
username = "safeshare.admin@xy-company.com"
password = "${ORGWAY_DEMO_COCOON_PASSWORD}"

[orgs.acme-share]
backend = "cocoon"
id = "761104938213687296"
"#,
            try_lines: &["curl -s '{base}/v1/orgs/acme-share/plans?sort=-quota&limit=2'"],
        },
    },
    Dialect {
        kind: orgway_enhance::KIND,
        build: build::<orgway_enhance::Enhance>,
        demo: DemoSetup {
            start_sim: orgway_sim::demo::start::<orgway_sim::enhance::EnhanceSim>,
            routing: r#"
[[backends]]
name = "enhance"
kind = "enhance"
base_url = "${ORGWAY_DEMO_ENHANCE_URL}"
timeout_ms = 5000
org_id = "5b0c3a64-8a1e-4c2f-9d41-2f6e8c1a7b90"
email = "owner@acme-hosting.example"
password = "${ORGWAY_DEMO_ENHANCE_PASSWORD}"

[orgs.acme-hosting]
backend = "enhance"
id = "5b0c3a64-8a1e-4c2f-9d41-2f6e8c1a7b90"
"#,
            try_lines: &[
                "curl -s '{base}/v1/orgs/acme-hosting/customers?recursive=true'",
                "curl -s {base}/v1/orgs/acme-hosting/plans",
                "curl -s {base}/v1/orgs/acme-hosting/usage",
            ],
        },
    },
    Dialect {
        kind: orgway_watson_iot::KIND,
        build: build::<orgway_watson_iot::WatsonIot>,
        demo: DemoSetup {
            start_sim: orgway_sim::demo::start::<orgway_sim::watson_iot::WatsonIotSim>,
            // The simulator serves every org on one loopback address over TLS: the gateway
            // connects there, sends each org's own host name (Host and TLS server name) and
            // trusts the simulator's CA, generated when it started.
            routing: r#"
[[backends]]
name = "watson-iot"
kind = "watson-iot"
base_url = "https://{org}.internetofthings.ibmcloud.com/api/v0002"
connect_to = "${ORGWAY_DEMO_WATSON_IOT_ADDR}"
ca_file = "${ORGWAY_DEMO_WATSON_IOT_CA_FILE}"
timeout_ms = 5000
api_keys = [
  { key = "a-ab8de4-demokey001", token = "${ORGWAY_DEMO_WATSON_IOT_TOKEN_AB8DE4}" },
  { key = "a-abc123-demokey001", token = "${ORGWAY_DEMO_WATSON_IOT_TOKEN_ABC123}" },
  { key = "a-xyz789-demokey001", token = "${ORGWAY_DEMO_WATSON_IOT_TOKEN_XYZ789}" },
  { key = "a-q7w3e9-demokey001", token = "${ORGWAY_DEMO_WATSON_IOT_TOKEN_Q7W3E9}" },
]

[orgs.acme-iot]
backend = "watson-iot"
id = "abc123"
"#,
            try_lines: &[
                "curl -s {base}/v1/orgs/acme-iot",
                "curl -s '{base}/v1/orgs/watson-iot:ab8de4/usage/data-traffic?interval=day'",
            ],
        },
    },
];

/// The name of a demo variable: `ORGWAY_DEMO_<KIND>_<NAME>`.
pub fn demo_var(kind: &str, name: &str) -> String {
    format!(
        "ORGWAY_DEMO_{}_{}",
        kind.to_ascii_uppercase().replace('-', "_"),
        name
    )
}

/// A vendor dialect, as a backend's `kind`.
#[derive(Clone, Copy)]
pub struct BackendKind(&'static Dialect);

impl std::fmt::Debug for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BackendKind({})", self.0.kind)
    }
}

impl PartialEq for BackendKind {
    fn eq(&self, other: &Self) -> bool {
        self.0.kind == other.0.kind
    }
}

impl Eq for BackendKind {}

impl std::hash::Hash for BackendKind {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.kind.hash(state);
    }
}

/// Why a backend's kind-specific keys were refused.
#[derive(Debug)]
pub enum BuildError {
    /// The keys did not deserialize (unknown keys, wrong types); each problem carries its key
    /// path and span.
    Settings(Vec<serde_path_to_error::Error<toml::de::Error>>),
    /// The keys deserialized but a value is invalid.
    Invalid(orgway_core::ConfigError),
}

/// The one constructor of every dialect: deserialize its settings, then validate and build.
fn build<A: FromSettings>(
    name: &str,
    base_url: BaseUrl,
    table: Spanned<DeValue<'_>>,
    secrets: &dyn SecretSource,
) -> Result<Arc<dyn Backend>, BuildError> {
    if base_url.is_org_template() && !A::ORG_IN_HOST {
        return Err(BuildError::Invalid(orgway_core::ConfigError::new(
            "base_url",
            format!(
                "`{}` puts `{}` in the host, which only dialects that name the org in the host name fill in",
                base_url,
                orgway_core::ORG_PLACEHOLDER
            ),
        )));
    }
    let settings: A::Settings = settings(table)?;
    let adapter =
        A::from_settings(name, base_url, settings, secrets).map_err(BuildError::Invalid)?;
    Ok(Arc::new(adapter))
}

/// Deserializes a dialect's keys, finding every problem in one pass: a key that is refused
/// (unknown, or of the wrong type) is set aside and the rest tried again.
fn settings<T: DeserializeOwned>(table: Spanned<DeValue<'_>>) -> Result<T, BuildError> {
    let span = table.span();
    let DeValue::Table(mut keys) = table.into_inner() else {
        unreachable!("a [[backends]] entry is a table");
    };
    let mut errors = Vec::new();
    let mut set_aside: Vec<String> = Vec::new();
    loop {
        let attempt = Spanned::new(span.clone(), DeValue::Table(keys.clone()));
        match serde_path_to_error::deserialize::<_, T>(ValueDeserializer::from(attempt)) {
            Ok(v) if errors.is_empty() => return Ok(v),
            Ok(_) => return Err(BuildError::Settings(errors)),
            // A required key set aside for its own problem is not missing as well.
            Err(e) if set_aside.iter().any(|k| is_missing(&e, k)) => {
                return Err(BuildError::Settings(errors));
            }
            Err(e) => {
                let path = e.path().to_string();
                let top = path.split(['.', '[']).next().unwrap_or("").to_owned();
                // serde names an unknown field in its message, not its path.
                let unknown = e
                    .inner()
                    .message()
                    .strip_prefix("unknown field `")
                    .and_then(|rest| rest.split_once('`'))
                    .map(|(k, _)| k.to_owned());
                errors.push(e);
                let key = unknown.unwrap_or(top);
                if key.is_empty() || key == "." || !keys.contains_key(key.as_str()) {
                    return Err(BuildError::Settings(errors));
                }
                keys.remove(key.as_str());
                set_aside.push(key);
            }
        }
    }
}

/// Whether `e` says the field `key` is missing.
fn is_missing(e: &serde_path_to_error::Error<toml::de::Error>, key: &str) -> bool {
    e.inner().message() == format!("missing field `{key}`")
}

impl BackendKind {
    /// Every kind, in the order documentation lists them.
    pub fn all() -> impl Iterator<Item = BackendKind> {
        DIALECTS.iter().map(BackendKind)
    }

    /// The kind's name in the routing file and in `meta.kind`.
    pub fn name(self) -> &'static str {
        self.0.kind
    }

    /// The dialect.
    pub fn dialect(self) -> &'static Dialect {
        self.0
    }

    /// Reads a kind's name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::all().find(|k| k.name() == s)
    }

    /// Builds the adapter of a backend from its kind-specific keys.
    pub fn build(
        self,
        name: &str,
        base_url: BaseUrl,
        table: Spanned<DeValue<'_>>,
        secrets: &dyn SecretSource,
    ) -> Result<Arc<dyn Backend>, BuildError> {
        (self.0.build)(name, base_url, table, secrets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_unique_and_match_their_adapters() {
        let mut kinds: Vec<&str> = DIALECTS.iter().map(|d| d.kind).collect();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), DIALECTS.len());
        for k in BackendKind::all() {
            assert_eq!(BackendKind::parse(k.name()), Some(k));
        }
        assert_eq!(BackendKind::parse("nope"), None);
        assert_eq!(demo_var("watson-iot", "URL"), "ORGWAY_DEMO_WATSON_IOT_URL");
    }
}
