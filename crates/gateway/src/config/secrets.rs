//! Secrets and environment references of the routing file: `${NAME}` expansion and the
//! [`SecretSource`] that resolves secret references from the environment or from files.

use std::path::Path;

use orgway_core::{Secret, SecretRef, SecretSource, SecretTarget};

use super::EnvLookup;

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
pub(super) struct Resolver<'a> {
    pub(super) dir: &'a Path,
    pub(super) env: EnvLookup<'a>,
    /// How many secrets were asked for: a backend that has none sends no credentials.
    pub(super) resolved: std::cell::Cell<usize>,
}

impl SecretSource for Resolver<'_> {
    fn resolve(&self, reference: &SecretRef) -> Result<Secret, String> {
        self.resolved.set(self.resolved.get() + 1);
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
                // A bare path (`/…`) that cannot be read may be a secret pasted in place of a
                // reference (a base64 secret can start with `/`): it is named only when given
                // as `file:PATH`.
                let text = std::fs::read_to_string(&full).map_err(|e| {
                    if reference.names_a_file() {
                        format!("cannot read secret file {}: {e}", full.display())
                    } else {
                        format!(
                            "cannot read the secret file it names ({e}); if the value is the \
                             secret itself, give it by reference instead (\"${{ENV_VAR}}\" or \
                             \"file:PATH\")"
                        )
                    }
                })?;
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
