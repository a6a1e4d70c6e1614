//! The `[[backends]]` keys of a Cocoon Data backend, and their validation.
//!
//! ```toml
//! [[backends]]
//! name = "share-au"
//! kind = "cocoon"
//! base_url = "https://access-service.example.com"   # the <access-service> origin
//! client_id = "orgway"                          # the OAuth2 client registered on the platform
//! client_secret = "${COCOON_CLIENT_SECRET}"     # by reference; sent as HTTP Basic with the id
//! username = "safeshare.admin@example.com"      # the password grant
//! password = "${COCOON_PASSWORD}"
//! # refresh_token = "${COCOON_REFRESH_TOKEN}"   # and/or a refresh token issued to the client
//! # or, instead of all the above, an access token issued elsewhere:
//! # token = "${COCOON_TOKEN}"
//! ```
//!
//! With a client, the gateway obtains access tokens itself: the `refresh_token` grant when it
//! holds a refresh token (the configured one, or the last one the vendor issued), the
//! `password` grant otherwise or when the refresh token is refused. A static `token` is used
//! until the vendor refuses it.

use orgway_core::{BaseUrl, ConfigError, Secret, SecretRef, SecretSource};
use serde::Deserialize;

/// The Cocoon-specific keys of a `[[backends]]` entry, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CocoonSettings {
    /// The OAuth2 client's id.
    #[serde(default)]
    pub client_id: Option<String>,
    /// The OAuth2 client's secret, by reference.
    #[serde(default)]
    pub client_secret: Option<SecretRef>,
    /// The user of the password grant (a SafeShare administrator).
    #[serde(default)]
    pub username: Option<String>,
    /// That user's password, by reference.
    #[serde(default)]
    pub password: Option<SecretRef>,
    /// A refresh token issued to the client, by reference.
    #[serde(default)]
    pub refresh_token: Option<SecretRef>,
    /// An access token to use as it is, by reference.
    #[serde(default)]
    pub token: Option<SecretRef>,
}

/// The OAuth2 client the gateway is on the platform.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub secret: Secret,
}

/// How the gateway authenticates.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// An access token given by configuration, used until refused.
    Static(Secret),
    /// Tokens from `POST /api/oauth/token`.
    OAuth {
        client: Client,
        /// `(username, password)` for the password grant.
        password: Option<(String, Secret)>,
        /// A refresh token to start with.
        refresh_token: Option<Secret>,
    },
}

/// A validated Cocoon backend configuration.
#[derive(Debug, Clone)]
pub struct CocoonConfig {
    pub name: String,
    pub base_url: BaseUrl,
    pub credentials: Credentials,
}

fn resolve(
    secrets: &dyn SecretSource,
    key: &str,
    r: &SecretRef,
    header: bool,
) -> Result<Secret, ConfigError> {
    let s = secrets.resolve(r).map_err(|m| ConfigError::new(key, m))?;
    if s.expose().is_empty() {
        return Err(ConfigError::new(key, "the value is empty"));
    }
    if header && http::HeaderValue::from_str(s.expose()).is_err() {
        return Err(ConfigError::new(
            key,
            "the value contains characters not allowed in an HTTP header",
        ));
    }
    Ok(s)
}

fn plain_text(key: &str, value: &str) -> Result<(), ConfigError> {
    if value.is_empty() || value.chars().any(char::is_control) {
        return Err(ConfigError::new(
            key,
            "must be non-empty text without control characters",
        ));
    }
    Ok(())
}

impl CocoonConfig {
    /// Validates the settings of the backend called `name`.
    pub fn from_settings(
        name: &str,
        base_url: BaseUrl,
        s: CocoonSettings,
        secrets: &dyn SecretSource,
    ) -> Result<Self, ConfigError> {
        let oauth_keys = s.client_id.is_some()
            || s.client_secret.is_some()
            || s.username.is_some()
            || s.password.is_some()
            || s.refresh_token.is_some();
        let credentials = match (s.token, oauth_keys) {
            (Some(_), true) => {
                return Err(ConfigError::new(
                    "token",
                    "give either `token` or a client (`client_id`, `client_secret`) with \
                     `username` and `password` or `refresh_token`, not both",
                ));
            }
            (Some(token), false) => Credentials::Static(resolve(secrets, "token", &token, true)?),
            (None, false) => {
                return Err(ConfigError::new(
                    "client_id",
                    "give a client (`client_id`, `client_secret`) with `username` and \
                     `password` or `refresh_token`, or a static `token`",
                ));
            }
            (None, true) => {
                let id = s.client_id.ok_or_else(|| {
                    ConfigError::new("client_id", "the token grants need the client's id")
                })?;
                plain_text("client_id", &id)?;
                // HTTP Basic joins id and secret with a colon; an id with one cannot be sent.
                if id.contains(':') {
                    return Err(ConfigError::new("client_id", "must not contain `:`"));
                }
                let secret = s.client_secret.as_ref().ok_or_else(|| {
                    ConfigError::new("client_secret", "the token grants need the client's secret")
                })?;
                let secret = resolve(secrets, "client_secret", secret, false)?;
                let password = match (s.username, s.password) {
                    (Some(u), Some(p)) => {
                        plain_text("username", &u)?;
                        Some((u, resolve(secrets, "password", &p, false)?))
                    }
                    (Some(_), None) => {
                        return Err(ConfigError::new(
                            "password",
                            "`username` needs a `password`",
                        ));
                    }
                    (None, Some(_)) => {
                        return Err(ConfigError::new(
                            "username",
                            "`password` needs a `username`",
                        ));
                    }
                    (None, None) => None,
                };
                let refresh_token = s
                    .refresh_token
                    .as_ref()
                    .map(|r| resolve(secrets, "refresh_token", r, false))
                    .transpose()?;
                if password.is_none() && refresh_token.is_none() {
                    return Err(ConfigError::new(
                        "username",
                        "give `username` and `password`, or `refresh_token`, for the client",
                    ));
                }
                Credentials::OAuth {
                    client: Client { id, secret },
                    password,
                    refresh_token,
                }
            }
        };
        Ok(CocoonConfig {
            name: name.to_owned(),
            base_url,
            credentials,
        })
    }
}

impl orgway_core::FromSettings for crate::Cocoon {
    type Settings = CocoonSettings;

    fn from_settings(
        name: &str,
        base_url: BaseUrl,
        settings: CocoonSettings,
        secrets: &dyn SecretSource,
    ) -> Result<Self, ConfigError> {
        CocoonConfig::from_settings(name, base_url, settings, secrets).map(crate::Cocoon::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Env;

    impl SecretSource for Env {
        fn resolve(&self, r: &SecretRef) -> Result<Secret, String> {
            match r.target()? {
                orgway_core::SecretTarget::Env("EMPTY") => Ok(Secret::new("")),
                orgway_core::SecretTarget::Env(name) => Ok(Secret::new(format!("value-of-{name}"))),
                orgway_core::SecretTarget::File(_) => Err("no files here".into()),
            }
        }
    }

    fn settings(keys: &[(&str, &str)]) -> CocoonSettings {
        let get = |k: &str| keys.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
        CocoonSettings {
            client_id: get("client_id").map(str::to_owned),
            client_secret: get("client_secret").map(SecretRef::new),
            username: get("username").map(str::to_owned),
            password: get("password").map(SecretRef::new),
            refresh_token: get("refresh_token").map(SecretRef::new),
            token: get("token").map(SecretRef::new),
        }
    }

    fn build(keys: &[(&str, &str)]) -> Result<CocoonConfig, ConfigError> {
        CocoonConfig::from_settings(
            "share",
            BaseUrl::parse("https://access.example.com").unwrap(),
            settings(keys),
            &Env,
        )
    }

    fn key_of(keys: &[(&str, &str)]) -> String {
        build(keys).unwrap_err().key
    }

    #[test]
    fn credential_forms() {
        let client = [("client_id", "app"), ("client_secret", "${S}")];
        let with_password = [&client[..], &[("username", "u"), ("password", "${P}")]].concat();
        let c = build(&with_password).unwrap();
        assert!(matches!(
            c.credentials,
            Credentials::OAuth {
                password: Some(_),
                refresh_token: None,
                ..
            }
        ));
        let with_refresh = [&client[..], &[("refresh_token", "${R}")]].concat();
        assert!(matches!(
            build(&with_refresh).unwrap().credentials,
            Credentials::OAuth {
                password: None,
                refresh_token: Some(_),
                ..
            }
        ));
        assert!(matches!(
            build(&[("token", "${T}")]).unwrap().credentials,
            Credentials::Static(_)
        ));
    }

    #[test]
    fn refusals_name_their_key() {
        assert_eq!(key_of(&[]), "client_id");
        assert_eq!(key_of(&[("token", "${T}"), ("client_id", "a")]), "token");
        assert_eq!(key_of(&[("token", "${EMPTY}")]), "token");
        assert_eq!(
            key_of(&[
                ("client_secret", "${S}"),
                ("username", "u"),
                ("password", "${P}")
            ]),
            "client_id"
        );
        assert_eq!(
            key_of(&[
                ("client_id", "a:b"),
                ("client_secret", "${S}"),
                ("refresh_token", "${R}")
            ]),
            "client_id"
        );
        assert_eq!(
            key_of(&[("client_id", "a"), ("username", "u"), ("password", "${P}")]),
            "client_secret"
        );
        assert_eq!(
            key_of(&[("client_id", "a"), ("client_secret", "${S}")]),
            "username"
        );
        assert_eq!(
            key_of(&[
                ("client_id", "a"),
                ("client_secret", "${S}"),
                ("username", "u")
            ]),
            "password"
        );
        assert_eq!(
            key_of(&[
                ("client_id", "a"),
                ("client_secret", "plain-secret"),
                ("refresh_token", "${R}")
            ]),
            "client_secret",
            "secrets by reference only"
        );
    }
}
