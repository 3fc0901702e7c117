//! Configuration: one TOML file, read once at startup. Each floor of the host owns the
//! type of its own table (the engine's `[engine]`, the server's `[http]` and
//! `[admin]`, a tenant's `[tenants.<name>]`, ...); this module only puts them
//! together, checks what spans tables, and hands each its part. With no file, the
//! embedded default serves the example rules.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

use crate::engine::EngineSettings;
use crate::fleet::StoreSettings;
use crate::records::DecisionLogSettings;
use crate::server::HttpSettings;
use crate::server::admin::AdminSettings;
use crate::strict::Strict;
use crate::tenants::TenantSettings;
use crate::watch::WatchSettings;

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
    /// Where the host keeps its state (precompiled artifacts under `cache/`, recorded
    /// events in `events.jsonl`), relative to the working directory.
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// The largest request body accepted, in bytes; larger ones get 413.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// Process-wide engine settings.
    #[serde(default)]
    pub engine: EngineSettings,
    /// Limits of every listener: header and request deadlines, header size, the
    /// shutdown grace period.
    #[serde(default)]
    pub http: HttpSettings,
    /// The decision log (on by default, under the state directory).
    #[serde(default)]
    pub decision_log: DecisionLogSettings,
    /// The admin API; absent = no admin listener.
    #[serde(default)]
    pub admin: Option<AdminSettings>,
    /// Where versions, tenant state and events live: the state directory (default) or a
    /// PostgreSQL database a fleet of hosts shares.
    #[serde(default)]
    pub store: StoreSettings,
    /// A directory watched for `<tenant>.wasm` deploys; absent = none.
    #[serde(default)]
    pub watch: Option<WatchSettings>,
    /// The merchants served, by the name that prefixes their callback URLs.
    pub tenants: BTreeMap<String, TenantSettings>,
}

/// A TOML error as its message and position, without the source line it would quote:
/// that line may hold a secret written inline.
fn located(text: &str, error: &toml::de::Error) -> anyhow::Error {
    let message = error.message().trim_end();
    match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            // The key of the line, never its value.
            let source = text.lines().nth(line - 1).unwrap_or("");
            match source.split_once('=') {
                Some((key, _)) => {
                    anyhow::anyhow!("line {line}, column {column}, `{}`: {message}", key.trim())
                }
                None => anyhow::anyhow!("line {line}, column {column}: {message}"),
            }
        }
        None => anyhow::anyhow!("{message}"),
    }
}

fn default_state_dir() -> PathBuf {
    PathBuf::from("rulegate-state")
}

fn default_max_body_bytes() -> usize {
    1 << 20
}

impl Config {
    /// Parses a configuration, naming the key and the problem on error.
    pub fn parse(text: &str, origin: &str) -> anyhow::Result<Config> {
        let config = toml::Deserializer::parse(text)
            .and_then(|document| Config::deserialize(Strict(document)))
            .map_err(|error| located(text, &error))
            .with_context(|| format!("invalid configuration in {origin}"))?;
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
        self.store.validate()?;
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
            tenant.on_failure.check_callbacks(
                crate::protocols::CALLBACKS,
                &format!("tenants.{name}.on_failure"),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_and_watch_tables() {
        let base = "listen = \"127.0.0.1:0\"\n[tenants.a]\nmodule = \"example:us-shop\"\n";
        let config = Config::parse(
            &format!("{base}[admin]\ntoken = {{ env = \"T\" }}\n[watch]\ndir = \"deploy\"\n"),
            "t",
        )
        .unwrap();
        let admin = config.admin.unwrap();
        assert!(admin.listen.ip().is_loopback());
        assert_eq!(config.watch.unwrap().interval_ms, 1000);
        for (table, expected) in [
            ("[admin]\n", "missing field `token`"),
            (
                "[admin]\ntoken = \"inline\"\n",
                "line 5, column 9, `token`: a secret is never written inline",
            ),
            ("[watch]\ndir = 5\n", "expected path string"),
            ("[watch]\ndir = \"d\"\nevery = 3\n", "unknown field `every`"),
        ] {
            let error = format!(
                "{:#}",
                Config::parse(&format!("{base}{table}"), "t").unwrap_err()
            );
            assert!(error.contains(expected), "{table}: {error}");
        }
    }

    #[test]
    fn store_table() {
        let base = "listen = \"127.0.0.1:0\"\n[tenants.a]\nmodule = \"example:us-shop\"\n";
        let config = Config::parse(base, "t").unwrap();
        assert_eq!(config.store.kind, crate::fleet::StoreKind::Files);
        let config = Config::parse(
            &format!(
                "{base}[store]\nkind = \"postgres\"\nurl = {{ env = \"DB\" }}\nhost_id = \"h1\"\n"
            ),
            "t",
        )
        .unwrap();
        assert_eq!(config.store.kind, crate::fleet::StoreKind::Postgres);
        assert_eq!(config.store.poll_interval_ms, 2_000);
        assert!(config.store.notifications);
        assert_eq!(config.store.host_id(), "h1");
        for (table, expected) in [
            ("kind = \"postgres\"\n", "`store.url` is needed"),
            (
                "kind = \"postgres\"\nurl = \"postgres://u:p@h/d\"\n",
                "a secret is never written inline",
            ),
            ("url = { env = \"DB\" }\n", "is for `kind = \"postgres\"`"),
            (
                "kind = \"postgres\"\nurl = { env = \"DB\" }\npoll_interval_ms = 1\n",
                "at least 10",
            ),
            ("kind = \"mysql\"\n", "unknown variant `mysql`"),
            ("kind = \"files\"\npoll = 3\n", "unknown field `poll`"),
        ] {
            let error = format!(
                "{:#}",
                Config::parse(&format!("{base}[store]\n{table}"), "t").unwrap_err()
            );
            assert!(error.contains(expected), "{table}: {error}");
            assert!(!error.contains("u:p@h"), "the URL is echoed: {error}");
        }
    }

    #[test]
    fn embedded_default_parses() {
        let config = Config::load(None).unwrap();
        assert_eq!(config.tenants["demo"].module, "example:eu-shop");
        assert_eq!(config.tenants.len(), 4);
        let klix = config.tenants["klix-demo"].klix.as_ref().unwrap();
        assert!(klix.unauthenticated && klix.api.is_none());
        let kco = config.tenants["demo"].kco.as_ref().unwrap();
        assert!(kco.unauthenticated);
    }

    #[test]
    fn an_array_is_not_a_table() {
        let base = "listen = \"127.0.0.1:0\"\n[tenants.a]\nmodule = \"example:us-shop\"\n";
        for (extra, expected) in [
            ("limits = [1, 2, 3]\n", "expected struct Limits"),
            (
                "on_failure = [\"approve\"]\n",
                "expected struct FailurePolicy",
            ),
        ] {
            let error = format!(
                "{:#}",
                Config::parse(&format!("{base}{extra}"), "t").unwrap_err()
            );
            assert!(error.contains("invalid type: sequence"), "{extra}: {error}");
            assert!(error.contains(expected), "{extra}: {error}");
        }
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
