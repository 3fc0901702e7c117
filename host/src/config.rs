//! Configuration: one TOML file, read once at startup into the runtime form. With no
//! file, the embedded default serves the example rules.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

use crate::engine::{EngineSettings, Limits};

/// The configuration `rulegate serve` uses when given no file: tenant `demo` runs the
/// EU shop, `us-demo` the US shop and `catalog-demo` the catalog shop, all from the
/// components embedded in the binary.
pub const EMBEDDED_DEFAULT: &str = include_str!("default-config.toml");

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the callback server listens.
    pub listen: SocketAddr,
    /// Where precompiled artifacts are kept, relative to the working directory; none
    /// disables the cache.
    #[serde(default)]
    pub cache_dir: Option<PathBuf>,
    /// Process-wide engine settings.
    #[serde(default)]
    pub engine: EngineSettings,
    /// The merchants served, by the name that prefixes their callback URLs.
    pub tenants: BTreeMap<String, TenantConfig>,
}

/// One merchant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// The rules: `example:<name>` (embedded component), `native:<name>` (the example
    /// linked natively, for benchmarks) or a path to a `.wasm` component.
    pub module: String,
    /// Per-call limits.
    #[serde(default)]
    pub limits: Limits,
}

impl Config {
    /// Parses a configuration, naming the key and the problem on error.
    pub fn parse(text: &str, origin: &str) -> anyhow::Result<Config> {
        let config: Config =
            toml::from_str(text).with_context(|| format!("invalid configuration in {origin}"))?;
        config
            .validate()
            .with_context(|| format!("invalid configuration in {origin}"))?;
        Ok(config)
    }

    /// Reads `path`, or the embedded default when `None`.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        match path {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading configuration {}", path.display()))?;
                Config::parse(&text, &path.display().to_string())
            }
            None => Config::parse(EMBEDDED_DEFAULT, "the embedded default configuration"),
        }
    }

    fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            !self.tenants.is_empty(),
            "`tenants`: at least one tenant is needed"
        );
        for (name, tenant) in &self.tenants {
            anyhow::ensure!(
                !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "`tenants.{name}`: a tenant name is used in URLs; use letters, digits, '-' and '_'"
            );
            anyhow::ensure!(
                tenant.limits.memory_bytes <= self.engine.max_memory_bytes,
                "`tenants.{name}.limits.memory_bytes`: {} is above `engine.max_memory_bytes` ({})",
                tenant.limits.memory_bytes,
                self.engine.max_memory_bytes
            );
            anyhow::ensure!(
                tenant.limits.deadline_ms > 0,
                "`tenants.{name}.limits.deadline_ms` must be positive"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_parses() {
        let config = Config::load(None).unwrap();
        assert_eq!(config.tenants["demo"].module, "example:eu-shop");
        assert_eq!(config.tenants.len(), 3);
    }

    #[test]
    fn errors_name_the_key() {
        let error = Config::parse(
            "listen = \"127.0.0.1:1\"\n[tenants.a]\nmodule = \"x\"\nfuel = 3\n",
            "test",
        )
        .unwrap_err();
        assert!(
            format!("{error:#}").contains("unknown field `fuel`"),
            "{error:#}"
        );
        let error = Config::parse(
            "listen = \"nowhere\"\n[tenants.a]\nmodule = \"x\"\n",
            "test",
        )
        .unwrap_err();
        assert!(format!("{error:#}").contains("listen"), "{error:#}");
        let error = Config::parse(
            "listen = \"127.0.0.1:1\"\n[tenants.\"a b\"]\nmodule = \"x\"\n",
            "test",
        )
        .unwrap_err();
        assert!(format!("{error:#}").contains("tenants.a b"), "{error:#}");
        let error = Config::parse("listen = \"127.0.0.1:1\"\ntenants = {}\n", "test").unwrap_err();
        assert!(
            format!("{error:#}").contains("at least one tenant"),
            "{error:#}"
        );
    }
}
