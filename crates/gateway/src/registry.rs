//! The backend registry: every vendor dialect orgway speaks, one enum variant each, and the
//! match arms that name it and build its adapter from a `[[backends]]` table.
//!
//! Adding a vendor touches this file in exactly two places: a variant (with its entry in
//! `ALL`) and an arm in `name` and `build`.

use std::sync::Arc;

use orgway_core::{Backend, BaseUrl, SecretSource};
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeValue, ValueDeserializer};

/// A vendor dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendKind {
    Losant,
    Commvault,
}

/// Why a backend's kind-specific keys were refused.
#[derive(Debug)]
pub enum BuildError {
    /// The keys did not deserialize (unknown key, wrong type); carries the key path and span.
    Settings(serde_path_to_error::Error<toml::de::Error>),
    /// The keys deserialized but a value is invalid.
    Invalid(orgway_core::ConfigError),
}

fn settings<T: DeserializeOwned>(table: Spanned<DeValue<'_>>) -> Result<T, BuildError> {
    serde_path_to_error::deserialize(ValueDeserializer::from(table)).map_err(BuildError::Settings)
}

impl BackendKind {
    /// Every kind, in the order documentation lists them.
    pub const ALL: &'static [BackendKind] = &[BackendKind::Losant, BackendKind::Commvault];

    /// The kind's name in the routing file and in `meta.kind`.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Losant => orgway_losant::KIND,
            BackendKind::Commvault => orgway_commvault::KIND,
        }
    }

    /// Reads a kind's name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.name() == s)
    }

    /// Builds the adapter of a backend from its kind-specific keys.
    pub fn build(
        self,
        name: &str,
        base_url: BaseUrl,
        table: Spanned<DeValue<'_>>,
        secrets: &dyn SecretSource,
    ) -> Result<Arc<dyn Backend>, BuildError> {
        match self {
            BackendKind::Losant => {
                let s: orgway_losant::LosantSettings = settings(table)?;
                let cfg = orgway_losant::LosantConfig::from_settings(name, base_url, s, secrets)
                    .map_err(BuildError::Invalid)?;
                Ok(Arc::new(orgway_losant::Losant::new(cfg)))
            }
            BackendKind::Commvault => {
                let s: orgway_commvault::CommvaultSettings = settings(table)?;
                let cfg =
                    orgway_commvault::CommvaultConfig::from_settings(name, base_url, s, secrets)
                        .map_err(BuildError::Invalid)?;
                Ok(Arc::new(orgway_commvault::Commvault::new(cfg)))
            }
        }
    }
}
