//! The `[[backends]]` keys of a Losant backend, and their validation.
//!
//! ```toml
//! [[backends]]
//! name = "iot-prod"
//! kind = "losant"
//! base_url = "https://api.losant.com"
//! instance_id = "575ec8687ae143cd83dc4a97"
//! token = "${LOSANT_TOKEN}"       # an instance API token, by reference
//! domain = "example.com"          # optional: sent as the `losantdomain` header
//! ```

use orgway_core::{BaseUrl, ConfigError, Secret, SecretRef, SecretSource};
use serde::Deserialize;

use crate::map::is_object_id;

/// The Losant-specific keys of a `[[backends]]` entry, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LosantSettings {
    /// The Enterprise instance that owns the orgs (24 hex digits).
    pub instance_id: String,
    /// An API token whose scopes cover the instance-org actions, by reference.
    pub token: SecretRef,
    /// Sent as the `losantdomain` header ("domain scope of request, rarely needed").
    #[serde(default)]
    pub domain: Option<String>,
    /// The `Accept-Version` header; defaults to the version the vendor's current SDK sends.
    #[serde(default)]
    pub accept_version: Option<String>,
}

/// A validated Losant backend configuration.
#[derive(Debug, Clone)]
pub struct LosantConfig {
    pub name: String,
    pub base_url: BaseUrl,
    pub instance_id: String,
    pub token: Secret,
    /// `Bearer <token>`, marked sensitive, built once rather than at every call.
    pub authorization: http::HeaderValue,
    pub domain: Option<http::HeaderValue>,
    pub accept_version: http::HeaderValue,
}

/// What the Python SDK `losant-rest` 2.3.0 sends ("Built For Version 1.31.0").
pub const DEFAULT_ACCEPT_VERSION: &str = "^1.31.0";

impl LosantConfig {
    /// Validates the settings of the backend called `name`.
    pub fn from_settings(
        name: &str,
        base_url: BaseUrl,
        settings: LosantSettings,
        secrets: &dyn SecretSource,
    ) -> Result<Self, ConfigError> {
        if !is_object_id(&settings.instance_id) {
            return Err(ConfigError::new(
                "instance_id",
                format!(
                    "`{}` is not a Losant id (24 hexadecimal digits)",
                    settings.instance_id
                ),
            ));
        }
        let token = secrets
            .resolve(&settings.token)
            .map_err(|m| ConfigError::new("token", m))?;
        let authorization = match http::HeaderValue::from_str(&format!("Bearer {}", token.expose()))
        {
            Ok(mut v) if !token.expose().is_empty() => {
                v.set_sensitive(true);
                v
            }
            _ => {
                return Err(ConfigError::new(
                    "token",
                    "the token is empty or contains characters not allowed in an HTTP header",
                ));
            }
        };
        let domain = match settings.domain {
            Some(d) => Some(
                http::HeaderValue::from_str(&d)
                    .map_err(|_| ConfigError::new("domain", "not a valid header value"))?,
            ),
            None => None,
        };
        let accept_version = http::HeaderValue::from_str(
            settings
                .accept_version
                .as_deref()
                .unwrap_or(DEFAULT_ACCEPT_VERSION),
        )
        .map_err(|_| ConfigError::new("accept_version", "not a valid header value"))?;
        Ok(LosantConfig {
            name: name.to_owned(),
            base_url,
            instance_id: settings.instance_id.to_ascii_lowercase(),
            token,
            authorization,
            domain,
            accept_version,
        })
    }
}

impl orgway_core::FromSettings for crate::Losant {
    type Settings = LosantSettings;

    fn from_settings(
        name: &str,
        base_url: BaseUrl,
        settings: LosantSettings,
        secrets: &dyn SecretSource,
    ) -> Result<Self, ConfigError> {
        LosantConfig::from_settings(name, base_url, settings, secrets).map(crate::Losant::new)
    }
}
