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
        let refused = || {
            ConfigError::new(
                "token",
                "the token is empty or contains characters not allowed in an HTTP header",
            )
        };
        if token.expose().is_empty() {
            return Err(refused());
        }
        let mut authorization = http::HeaderValue::from_str(&format!("Bearer {}", token.expose()))
            .map_err(|_| refused())?;
        authorization.set_sensitive(true);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `${TOKEN}` resolves to the token the test gives.
    struct Token(&'static str);

    impl SecretSource for Token {
        fn resolve(&self, r: &SecretRef) -> Result<Secret, String> {
            match r.target()? {
                orgway_core::SecretTarget::Env("TOKEN") => Ok(Secret::new(self.0)),
                other => Err(format!("{other:?} is not set here")),
            }
        }
    }

    fn build(token: &'static str) -> Result<LosantConfig, ConfigError> {
        let settings = LosantSettings {
            instance_id: "575ec8687ae143cd83dc4a97".into(),
            token: SecretRef::new("${TOKEN}"),
            domain: None,
            accept_version: None,
        };
        let base = BaseUrl::parse("https://api.losant.com").unwrap();
        LosantConfig::from_settings("iot", base, settings, &Token(token))
    }

    #[test]
    fn the_token_becomes_a_sensitive_bearer_header_or_is_refused() {
        let cfg = build("s3cret-token").unwrap();
        assert_eq!(cfg.authorization, "Bearer s3cret-token");
        assert!(cfg.authorization.is_sensitive());
        assert!(!format!("{cfg:?}").contains("s3cret"), "{cfg:?}");
        for bad in ["", "line\nbreak", "nul\u{0}"] {
            let e = build(bad).unwrap_err();
            assert_eq!(e.key, "token", "{bad:?}");
            assert!(
                e.message.contains("empty or contains characters"),
                "{bad:?}: {e}"
            );
        }
    }
}
