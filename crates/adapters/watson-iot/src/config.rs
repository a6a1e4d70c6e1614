//! The `[[backends]]` keys of a Watson IoT backend, and their validation.
//!
//! ```toml
//! [[backends]]
//! name = "watson"
//! kind = "watson-iot"
//! # `{org}` is replaced by each org's id: the vendor names the org in the host name.
//! base_url = "https://{org}.internetofthings.ibmcloud.com/api/v0002"
//! # One API key per org; the org is the key's middle part (`a-{org}-{random}`), as the vendor's
//! # SDKs read it. Tokens by reference.
//! api_keys = [
//!   { key = "a-abc123-kodl0vqqrk", token = "${WATSON_ABC123_TOKEN}" },
//!   { key = "a-xyz789-p0q1r2s3t4", token = "${WATSON_XYZ789_TOKEN}" },
//! ]
//! ```
//!
//! The backend holds exactly the orgs it has keys for: those are the orgs it lists, and any
//! other org id is `404` without a call. A base URL without `{org}` (a private deployment on
//! one host name) sends every org's requests there; the vendor tells the orgs apart by the key.
//! For tests and private deployments, the common keys `connect_to` and `ca_file` reach the
//! org host names at a fixed address and trust a private CA.

use std::collections::BTreeMap;
use std::fmt;

use orgway_core::{BaseUrl, ConfigError, Secret, SecretRef, SecretSource};
use serde::Deserialize;

use crate::map::key_org;

/// The Watson IoT keys of a `[[backends]]` entry, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatsonIotSettings {
    /// The API keys, one per org the backend holds.
    pub api_keys: Vec<ApiKeySettings>,
}

/// One entry of `api_keys`, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeySettings {
    /// The API key (`a-{org}-{random}`): the user name of HTTP Basic, not a secret.
    pub key: String,
    /// Its authentication token, by reference.
    pub token: SecretRef,
}

/// One API key, validated, with the org it belongs to.
#[derive(Clone)]
pub struct ApiKey {
    pub org: String,
    pub key: String,
    pub token: Secret,
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("org", &self.org)
            .field("key", &self.key)
            .field("token", &self.token)
            .finish()
    }
}

/// A validated Watson IoT backend configuration.
#[derive(Debug, Clone)]
pub struct WatsonIotConfig {
    pub name: String,
    /// `https://{org}.…/api/v0002`, or one host for every org.
    pub base_url: BaseUrl,
    /// Org id → its key, in org id order.
    pub keys: BTreeMap<String, ApiKey>,
}

impl WatsonIotConfig {
    /// Validates the settings of the backend called `name`.
    pub fn from_settings(
        name: &str,
        base_url: BaseUrl,
        settings: WatsonIotSettings,
        secrets: &dyn SecretSource,
    ) -> Result<Self, ConfigError> {
        if settings.api_keys.is_empty() {
            return Err(ConfigError::new(
                "api_keys",
                "at least one API key is needed: the backend holds the orgs it has keys for",
            ));
        }
        let mut keys: BTreeMap<String, ApiKey> = BTreeMap::new();
        for (i, k) in settings.api_keys.into_iter().enumerate() {
            let at = |field: &str| format!("api_keys[{i}].{field}");
            let org = key_org(&k.key).ok_or_else(|| {
                ConfigError::new(
                    at("key"),
                    format!(
                        "`{}` is not a Watson IoT API key: `a-`, the org id (6 lowercase letters and digits), `-`, then letters and digits",
                        orgway_core::text::excerpt(&k.key, 64)
                    ),
                )
            })?;
            if keys.contains_key(org) {
                return Err(ConfigError::new(
                    at("key"),
                    format!("org {org} already has an API key"),
                ));
            }
            if let Err(m) = base_url.for_org(org) {
                return Err(ConfigError::new(at("key"), m));
            }
            let token = secrets
                .resolve(&k.token)
                .map_err(|m| ConfigError::new(at("token"), m))?;
            if token.expose().is_empty() || token.expose().chars().any(char::is_control) {
                return Err(ConfigError::new(
                    at("token"),
                    "the token is empty or contains control characters",
                ));
            }
            keys.insert(
                org.to_owned(),
                ApiKey {
                    org: org.to_owned(),
                    key: k.key,
                    token,
                },
            );
        }
        Ok(WatsonIotConfig {
            name: name.to_owned(),
            base_url,
            keys,
        })
    }
}

impl orgway_core::FromSettings for crate::WatsonIot {
    type Settings = WatsonIotSettings;

    const ORG_IN_HOST: bool = true;

    fn from_settings(
        name: &str,
        base_url: BaseUrl,
        settings: WatsonIotSettings,
        secrets: &dyn SecretSource,
    ) -> Result<Self, ConfigError> {
        WatsonIotConfig::from_settings(name, base_url, settings, secrets).map(crate::WatsonIot::new)
    }
}
