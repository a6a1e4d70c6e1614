//! Secrets and configuration references: credentials are written in the routing file only by
//! reference (`${ENV_VAR}` or a file path), resolved by the gateway, and never printed.

use std::collections::hash_map::DefaultHasher;
use std::fmt;
use std::hash::{Hash, Hasher};

use serde::Deserialize;

/// A resolved secret. Its `Debug` and `Display` print `***`; only [`Secret::expose`] reveals it,
/// and only adapters building a request call that.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for putting on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// See [`fingerprint`].
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.0)
    }
}

/// A short, stable fingerprint of a value (16 hex digits of SipHash with fixed keys), for
/// telling credentials apart in cache keys without holding them. It is not published: a
/// fingerprint of a weak password could be guessed back.
pub fn fingerprint(value: &impl Hash) -> String {
    let mut h = DefaultHasher::new();
    value.hash(&mut h);
    format!("{:016x}", h.finish())
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How the routing file names a secret: `${ENV_VAR}`, `file:PATH`, or a path that starts with
/// `/`, `./` or `../`. Anything else is refused when resolved, so a literal secret pasted into the
/// file is an error, not a silent leak into version control.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretRef(String);

/// Reads a reference, refusing anything but a string without repeating the value: a number or
/// a boolean written where a reference belongs may be a pasted secret.
impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        const EXPECTED: &str =
            "a string reference: \"${ENV_VAR}\", \"file:PATH\" or a path starting with / ./ ../";
        fn refuse<E: serde::de::Error>() -> E {
            E::custom(format!(
                "the value is not {EXPECTED} (it is not repeated here, in case it is a secret)"
            ))
        }
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = SecretRef;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SecretRef, E> {
                Ok(SecretRef(v.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<SecretRef, E> {
                Ok(SecretRef(v))
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<SecretRef, E> {
                Err(refuse())
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<SecretRef, E> {
                Err(refuse())
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<SecretRef, E> {
                Err(refuse())
            }
            fn visit_i128<E: serde::de::Error>(self, _: i128) -> Result<SecretRef, E> {
                Err(refuse())
            }
            fn visit_u128<E: serde::de::Error>(self, _: u128) -> Result<SecretRef, E> {
                Err(refuse())
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<SecretRef, E> {
                Err(refuse())
            }
            fn visit_bytes<E: serde::de::Error>(self, _: &[u8]) -> Result<SecretRef, E> {
                Err(refuse())
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, _: A) -> Result<SecretRef, A::Error> {
                Err(refuse())
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, _: A) -> Result<SecretRef, A::Error> {
                Err(refuse())
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl SecretRef {
    /// A reference, as written in the file.
    pub fn new(reference: impl Into<String>) -> Self {
        SecretRef(reference.into())
    }

    /// Whether it names a file as `file:PATH` (not as a bare path, which a secret pasted in
    /// place of a reference can look like).
    pub fn names_a_file(&self) -> bool {
        self.0.starts_with("file:")
    }

    /// What the reference points at.
    pub fn target(&self) -> Result<SecretTarget<'_>, String> {
        let s = self.0.as_str();
        if let Some(inner) = s.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
            if is_env_name(inner) {
                return Ok(SecretTarget::Env(inner));
            }
            return Err(format!(
                "`${{{inner}}}` is not a valid environment variable name"
            ));
        }
        if let Some(path) = s.strip_prefix("file:") {
            if path.is_empty() {
                return Err("`file:` needs a path".into());
            }
            return Ok(SecretTarget::File(path));
        }
        if s.starts_with('/') || s.starts_with("./") || s.starts_with("../") {
            return Ok(SecretTarget::File(s));
        }
        Err("secrets must be given by reference: \"${ENV_VAR}\", \"file:PATH\" or a path starting with / ./ ../".into())
    }
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A valid reference names a variable or a path, which is not secret; anything else
        // might be a pasted secret and is not printed.
        match self.target() {
            Ok(_) => write!(f, "SecretRef({:?})", self.0),
            Err(_) => f.write_str("SecretRef(<not a reference>)"),
        }
    }
}

/// Where a [`SecretRef`] points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretTarget<'a> {
    /// An environment variable.
    Env(&'a str),
    /// A file whose contents (without a trailing newline) are the secret.
    File(&'a str),
}

/// Whether `s` is a conventional environment variable name.
pub fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Resolves references; implemented by the gateway, which owns the environment and the files.
pub trait SecretSource {
    /// Reads the secret a reference points at.
    fn resolve(&self, reference: &SecretRef) -> Result<Secret, String>;
}

/// A configuration value that is wrong, named by its key relative to the adapter's settings
/// (the gateway prefixes the backend's path and adds the line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    /// An error about `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            key: key.into(),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "Secret(***) ***");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn references() {
        assert_eq!(
            SecretRef::new("${LOSANT_TOKEN}").target(),
            Ok(SecretTarget::Env("LOSANT_TOKEN"))
        );
        assert_eq!(
            SecretRef::new("file:/run/secrets/x").target(),
            Ok(SecretTarget::File("/run/secrets/x"))
        );
        assert_eq!(
            SecretRef::new("./token.txt").target(),
            Ok(SecretTarget::File("./token.txt"))
        );
        assert!(SecretRef::new("hunter2").target().is_err());
        assert!(SecretRef::new("${1BAD}").target().is_err());
        assert!(SecretRef::new("file:").target().is_err());
        assert_eq!(
            format!("{:?}", SecretRef::new("hunter2")),
            "SecretRef(<not a reference>)"
        );
        let from = |v: serde_json::Value| serde_json::from_value::<SecretRef>(v);
        assert_eq!(
            from(serde_json::json!("${X}")).unwrap(),
            SecretRef::new("${X}")
        );
        for v in [
            serde_json::json!(12345678),
            serde_json::json!(true),
            serde_json::json!(1.5),
            serde_json::json!(["s3cr3t"]),
        ] {
            let e = from(v).unwrap_err().to_string();
            assert!(
                !e.contains("12345678") && !e.contains("s3cr3t") && !e.contains("1.5"),
                "{e}"
            );
        }
    }
}
