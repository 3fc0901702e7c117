//! Secrets: named by reference in configuration (so files hold none), never printed,
//! and compared in constant time. A leaf: it knows nothing of the rest of the host.

use std::path::PathBuf;

use anyhow::Context;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A secret named by reference: the value comes from an environment variable or a file
/// (trailing newline trimmed). A secret written inline is refused without repeating it.
#[derive(Debug, Clone)]
pub struct SecretRef {
    /// The environment variable holding the secret.
    pub env: Option<String>,
    /// The file holding the secret.
    pub file: Option<PathBuf>,
}

/// The reference's table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Reference {
    #[serde(default)]
    env: Option<String>,
    #[serde(default)]
    file: Option<PathBuf>,
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = SecretRef;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a secret by reference, { env = \"NAME\" } or { file = \"path\" }")
            }

            fn visit_str<E: serde::de::Error>(self, _inline: &str) -> Result<SecretRef, E> {
                Err(E::custom(
                    "a secret is never written inline: give it by reference, \
                     { env = \"NAME\" } or { file = \"path\" }",
                ))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<SecretRef, A::Error> {
                let reference =
                    Reference::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(SecretRef {
                    env: reference.env,
                    file: reference.file,
                })
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl SecretRef {
    /// Reads the secret; `key` names the setting in errors (never the value).
    pub fn resolve(&self, key: &str) -> anyhow::Result<Secret> {
        let value = match (&self.env, &self.file) {
            (Some(name), None) => std::env::var(name).map_err(|_| {
                anyhow::anyhow!("`{key}`: the environment variable {name} is not set")
            })?,
            (None, Some(path)) => std::fs::read_to_string(path)
                .with_context(|| format!("`{key}`: reading {}", path.display()))?
                .trim_end_matches(['\n', '\r'])
                .to_string(),
            _ => anyhow::bail!("`{key}`: give exactly one of `env` and `file`"),
        };
        anyhow::ensure!(!value.is_empty(), "`{key}`: the secret is empty");
        Ok(Secret::new(value))
    }
}

/// A secret value. Its `Debug` form is redacted, so it cannot reach a log by accident.
/// Its hash is computed once, so a comparison hashes only what was presented.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    value: String,
    digest: [u8; 32],
}

impl Secret {
    /// A secret from its value.
    pub fn new(value: impl Into<String>) -> Secret {
        let value = value.into();
        let digest = Sha256::digest(value.as_bytes()).into();
        Secret { value, digest }
    }

    /// The value, for signing or sending only.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// Whether `presented` is this secret, in constant time: both sides are hashed
    /// first, so neither the content nor the length leaks through timing.
    pub fn matches(&self, presented: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        presented.ct_eq(&self.digest).into()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_come_by_reference_and_stay_out_of_debug() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "hunter2\n").unwrap();
        let reference = SecretRef {
            env: None,
            file: Some(path),
        };
        let secret = reference.resolve("k").unwrap();
        assert_eq!(secret.expose(), "hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));
        let missing = SecretRef {
            env: Some("RULEGATE_TEST_SURELY_UNSET".into()),
            file: None,
        };
        let error = missing.resolve("tenants.a.kco.secret").unwrap_err();
        assert!(
            error.to_string().contains("tenants.a.kco.secret"),
            "{error}"
        );
        let both = SecretRef {
            env: Some("A".into()),
            file: Some("b".into()),
        };
        assert!(
            both.resolve("k")
                .unwrap_err()
                .to_string()
                .contains("exactly one")
        );
    }

    #[test]
    fn matching_is_exact() {
        let secret = Secret::new("s3cret");
        assert!(secret.matches("s3cret"));
        assert!(!secret.matches("s3cre"));
        assert!(!secret.matches("s3cret!"));
        assert!(!secret.matches(""));
    }
}
