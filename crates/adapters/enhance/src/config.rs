//! The `[[backends]]` keys of an Enhance backend, and their validation.
//!
//! ```toml
//! [[backends]]
//! name = "hosting"
//! kind = "enhance"
//! base_url = "https://panel.example.com/api"   # the control panel's API root
//! # The org the gateway acts for (the MO, or a reseller): its customers, direct and indirect,
//! # are the orgs `GET /v1/backends/hosting/orgs` lists.
//! org_id = "5b0c3a64-8a1e-4c2f-9d41-2f6e8c1a7b90"
//! token = "${ENHANCE_TOKEN}"        # an API token (sent as Bearer), by reference
//! # or, instead of a token, a login whose session cookie (`id0`) the gateway holds and renews:
//! # email = "orgway@example.com"
//! # password = "${ENHANCE_PASSWORD}"
//! # realm_id = "11111111-1111-1111-1111-111111111111"   # optional: the login's realm (MO or reseller)
//! ```

use orgway_core::{BaseUrl, ConfigError, Secret, SecretRef, SecretSource};
use serde::Deserialize;

use crate::map::canonical_id;

/// The Enhance-specific keys of a `[[backends]]` entry, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnhanceSettings {
    /// The org the gateway acts for (a UUID): the MO or a reseller.
    pub org_id: String,
    /// An API token, by reference.
    #[serde(default)]
    pub token: Option<SecretRef>,
    /// The login's email, to log in with instead of a token.
    #[serde(default)]
    pub email: Option<String>,
    /// That login's password, by reference.
    #[serde(default)]
    pub password: Option<SecretRef>,
    /// The realm to log in to (`?realmId=`), when not the one the panel's domain implies.
    #[serde(default)]
    pub realm_id: Option<String>,
}

/// How the gateway authenticates.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// `Authorization: Bearer <token>`; a refused token is not renewed.
    Token(Secret),
    /// `POST /login/sessions`, then `Cookie: id0=<session>`, renewed by logging in again.
    Login {
        email: String,
        password: Secret,
        realm_id: Option<String>,
    },
}

/// A validated Enhance backend configuration.
#[derive(Debug, Clone)]
pub struct EnhanceConfig {
    pub name: String,
    pub base_url: BaseUrl,
    /// The org the gateway acts for, canonical (lowercase).
    pub org_id: String,
    pub credentials: Credentials,
}

fn uuid_key(key: &str, value: &str) -> Result<String, ConfigError> {
    canonical_id(value).map_err(|m| ConfigError::new(key, m))
}

impl EnhanceConfig {
    /// Validates the settings of the backend called `name`.
    pub fn from_settings(
        name: &str,
        base_url: BaseUrl,
        s: EnhanceSettings,
        secrets: &dyn SecretSource,
    ) -> Result<Self, ConfigError> {
        let org_id = uuid_key("org_id", &s.org_id)?;
        let credentials = match (s.token, s.email, s.password) {
            (Some(token), None, None) => {
                if s.realm_id.is_some() {
                    return Err(ConfigError::new(
                        "realm_id",
                        "applies only to email/password logins",
                    ));
                }
                let token = secrets
                    .resolve(&token)
                    .map_err(|m| ConfigError::new("token", m))?;
                let t = token.expose();
                if t.is_empty() || http::HeaderValue::from_str(&format!("Bearer {t}")).is_err() {
                    return Err(ConfigError::new(
                        "token",
                        "the token is empty or contains characters not allowed in an HTTP header",
                    ));
                }
                Credentials::Token(token)
            }
            (None, Some(email), Some(password)) => {
                if !email.contains('@') || email.chars().any(char::is_control) {
                    return Err(ConfigError::new("email", "must be an email address"));
                }
                let password = secrets
                    .resolve(&password)
                    .map_err(|m| ConfigError::new("password", m))?;
                if password.expose().is_empty() {
                    return Err(ConfigError::new("password", "the password is empty"));
                }
                let realm_id = s
                    .realm_id
                    .as_deref()
                    .map(|r| uuid_key("realm_id", r))
                    .transpose()?;
                Credentials::Login {
                    email,
                    password,
                    realm_id,
                }
            }
            (None, Some(_), None) => {
                return Err(ConfigError::new("password", "`email` needs a `password`"));
            }
            (None, None, Some(_)) => {
                return Err(ConfigError::new("email", "`password` needs an `email`"));
            }
            (None, None, None) => {
                return Err(ConfigError::new(
                    "token",
                    "give `token`, or `email` and `password`",
                ));
            }
            (Some(_), _, _) => {
                return Err(ConfigError::new(
                    "token",
                    "give either `token` or `email` and `password`, not both",
                ));
            }
        };
        Ok(EnhanceConfig {
            name: name.to_owned(),
            base_url,
            org_id,
            credentials,
        })
    }
}

impl orgway_core::FromSettings for crate::Enhance {
    type Settings = EnhanceSettings;

    fn from_settings(
        name: &str,
        base_url: BaseUrl,
        settings: EnhanceSettings,
        secrets: &dyn SecretSource,
    ) -> Result<Self, ConfigError> {
        EnhanceConfig::from_settings(name, base_url, settings, secrets).map(crate::Enhance::new)
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
                orgway_core::SecretTarget::Env(n) => Ok(Secret::new(format!("value-of-{n}"))),
                orgway_core::SecretTarget::File(_) => Err("no files here".into()),
            }
        }
    }

    fn settings(extra: &[(&str, &str)]) -> EnhanceSettings {
        let mut s = EnhanceSettings {
            org_id: "5B0C3A64-8A1E-4C2F-9D41-2F6E8C1A7B90".into(),
            token: None,
            email: None,
            password: None,
            realm_id: None,
        };
        for (k, v) in extra {
            match *k {
                "token" => s.token = Some(SecretRef::new(*v)),
                "email" => s.email = Some((*v).into()),
                "password" => s.password = Some(SecretRef::new(*v)),
                "realm_id" => s.realm_id = Some((*v).into()),
                "org_id" => s.org_id = (*v).into(),
                _ => unreachable!(),
            }
        }
        s
    }

    fn build(extra: &[(&str, &str)]) -> Result<EnhanceConfig, ConfigError> {
        let base = BaseUrl::parse("https://panel.example.com/api").unwrap();
        EnhanceConfig::from_settings("hosting", base, settings(extra), &Env)
    }

    #[test]
    fn credentials_are_a_token_or_a_login() {
        let c = build(&[("token", "${T}")]).unwrap();
        assert_eq!(
            c.org_id, "5b0c3a64-8a1e-4c2f-9d41-2f6e8c1a7b90",
            "canonical"
        );
        assert!(matches!(c.credentials, Credentials::Token(_)));
        let c = build(&[
            ("email", "a@b.example"),
            ("password", "${P}"),
            ("realm_id", "11111111-1111-1111-1111-111111111111"),
        ])
        .unwrap();
        assert!(matches!(
            c.credentials,
            Credentials::Login {
                realm_id: Some(_),
                ..
            }
        ));
        let key = |extra: &[(&str, &str)]| build(extra).unwrap_err().key;
        assert_eq!(key(&[]), "token");
        assert_eq!(key(&[("token", "${T}"), ("email", "a@b.example")]), "token");
        assert_eq!(key(&[("email", "a@b.example")]), "password");
        assert_eq!(key(&[("password", "${P}")]), "email");
        assert_eq!(key(&[("email", "nope"), ("password", "${P}")]), "email");
        assert_eq!(
            key(&[("email", "a@b.example"), ("password", "${EMPTY}")]),
            "password"
        );
        assert_eq!(key(&[("token", "${EMPTY}")]), "token");
        assert_eq!(key(&[("token", "literal-secret")]), "token");
        assert_eq!(key(&[("token", "${T}"), ("realm_id", "x")]), "realm_id");
        assert_eq!(
            key(&[
                ("email", "a@b.example"),
                ("password", "${P}"),
                ("realm_id", "x")
            ]),
            "realm_id"
        );
        assert_eq!(key(&[("org_id", "42"), ("token", "${T}")]), "org_id");
        let e = build(&[("token", "literal-secret")])
            .unwrap_err()
            .to_string();
        assert!(!e.contains("literal-secret"), "{e}");
    }
}
