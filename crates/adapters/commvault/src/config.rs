//! The `[[backends]]` keys of a Commvault backend, and their validation.
//!
//! ```toml
//! [[backends]]
//! name = "backup-eu"
//! kind = "commvault"
//! base_url = "https://cv.example.com/commandcenter/api"   # the <webservice> root
//! username = "orgway-svc"
//! password = "${COMMVAULT_PASSWORD}"    # by reference; sent base64-encoded to POST Login
//! # domain = "corp"                     # optional login domain
//! # device_id = "orgway-backup-eu"      # optional; identifies the gateway's sessions
//! # or, instead of username/password, a token issued by Commvault:
//! # authtoken = "${COMMVAULT_AUTHTOKEN}"  # "QSDK …"
//! ```

use orgway_core::{BaseUrl, ConfigError, Secret, SecretRef, SecretSource};
use serde::Deserialize;

/// The Commvault-specific keys of a `[[backends]]` entry, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommvaultSettings {
    /// The user the gateway logs in as.
    #[serde(default)]
    pub username: Option<String>,
    /// That user's password, by reference.
    #[serde(default)]
    pub password: Option<SecretRef>,
    /// A token to use instead of logging in (`QSDK …`), by reference.
    #[serde(default)]
    pub authtoken: Option<SecretRef>,
    /// The login domain, for directory users.
    #[serde(default)]
    pub domain: Option<String>,
    /// The `deviceId` sent with logins and renewals; defaults to `orgway-<backend name>`.
    #[serde(default)]
    pub device_id: Option<String>,
}

/// How the gateway authenticates.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// Logs in with `POST Login` and renews with `POST RenewLoginToken`.
    Password {
        username: String,
        password: Secret,
        domain: Option<String>,
    },
    /// Uses a token issued elsewhere; renews it when Commvault says it expired.
    Token(Secret),
}

/// A validated Commvault backend configuration.
#[derive(Debug, Clone)]
pub struct CommvaultConfig {
    pub name: String,
    pub base_url: BaseUrl,
    pub credentials: Credentials,
    pub device_id: String,
}

fn header_safe(key: &str, value: &str) -> Result<(), ConfigError> {
    if value.is_empty() || value.chars().any(|c| c.is_control()) {
        return Err(ConfigError::new(
            key,
            "must be non-empty text without control characters",
        ));
    }
    Ok(())
}

impl CommvaultConfig {
    /// Validates the settings of the backend called `name`.
    pub fn from_settings(
        name: &str,
        base_url: BaseUrl,
        s: CommvaultSettings,
        secrets: &dyn SecretSource,
    ) -> Result<Self, ConfigError> {
        let credentials = match (s.username, s.password, s.authtoken) {
            (Some(username), Some(password), None) => {
                header_safe("username", &username)?;
                let password = secrets
                    .resolve(&password)
                    .map_err(|m| ConfigError::new("password", m))?;
                if password.expose().is_empty() {
                    return Err(ConfigError::new("password", "the password is empty"));
                }
                Credentials::Password {
                    username,
                    password,
                    domain: s.domain,
                }
            }
            (None, None, Some(token)) => {
                if s.domain.is_some() {
                    return Err(ConfigError::new(
                        "domain",
                        "applies only to username/password logins",
                    ));
                }
                let token = secrets
                    .resolve(&token)
                    .map_err(|m| ConfigError::new("authtoken", m))?;
                let t = token.expose();
                // cvpysdk prefixes a bare token with `QSDK `; so does the gateway.
                let t =
                    if t.starts_with("QSDK ") || t.starts_with("SAML ") || t.starts_with("Bearer ")
                    {
                        t.to_owned()
                    } else {
                        format!("QSDK {t}")
                    };
                if http::HeaderValue::from_str(&t).is_err() {
                    return Err(ConfigError::new(
                        "authtoken",
                        "the token contains characters not allowed in an HTTP header",
                    ));
                }
                Credentials::Token(Secret::new(t))
            }
            (Some(_), None, None) => {
                return Err(ConfigError::new(
                    "password",
                    "`username` needs a `password`",
                ));
            }
            (None, Some(_), None) => {
                return Err(ConfigError::new(
                    "username",
                    "`password` needs a `username`",
                ));
            }
            (None, None, None) => {
                return Err(ConfigError::new(
                    "username",
                    "give `username` and `password`, or `authtoken`",
                ));
            }
            (_, _, Some(_)) => {
                return Err(ConfigError::new(
                    "authtoken",
                    "give either `authtoken` or `username` and `password`, not both",
                ));
            }
        };
        let device_id = s.device_id.unwrap_or_else(|| format!("orgway-{name}"));
        header_safe("device_id", &device_id)?;
        Ok(CommvaultConfig {
            name: name.to_owned(),
            base_url,
            credentials,
            device_id,
        })
    }
}

impl orgway_core::FromSettings for crate::Commvault {
    type Settings = CommvaultSettings;

    fn from_settings(
        name: &str,
        base_url: BaseUrl,
        settings: CommvaultSettings,
        secrets: &dyn SecretSource,
    ) -> Result<Self, ConfigError> {
        CommvaultConfig::from_settings(name, base_url, settings, secrets).map(crate::Commvault::new)
    }
}
