//! One builder for the configuration files of end-to-end tests: the loopback preamble,
//! secrets written to files and referenced by path, the admin API with its token, test
//! modules written next to the file, and the tenants of misbehaving modules that many
//! tests share.

use std::path::{Path, PathBuf};

use crate::server::Server;

/// A configuration file being written in a test's own directory.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    dir: PathBuf,
    /// Top-level keys, which TOML needs before any table.
    keys: String,
    tables: String,
}

impl ConfigFile {
    /// A configuration in `dir` whose server listens on loopback on an ephemeral port.
    pub fn new(dir: &Path) -> ConfigFile {
        ConfigFile {
            dir: dir.to_path_buf(),
            keys: "listen = \"127.0.0.1:0\"\n".into(),
            tables: String::new(),
        }
    }

    /// A top-level key, e.g. `max_body_bytes = 16384`.
    pub fn key(mut self, line: &str) -> ConfigFile {
        self.keys.push_str(line);
        self.keys.push('\n');
        self
    }

    /// `state_dir` in the directory, at `state/`.
    pub fn state_dir(self) -> ConfigFile {
        let line = format!("state_dir = {}", self.path("state"));
        self.key(&line)
    }

    /// Tables, as TOML.
    pub fn toml(mut self, text: &str) -> ConfigFile {
        self.tables.push('\n');
        self.tables.push_str(text.trim_start_matches('\n'));
        if !self.tables.ends_with('\n') {
            self.tables.push('\n');
        }
        self
    }

    /// Writes `value` to the file `name` in the directory and returns the TOML that
    /// references it, `{ file = "..." }`.
    pub fn secret(&self, name: &str, value: &str) -> String {
        std::fs::write(self.dir.join(name), value).expect("writing a secret file");
        format!("{{ file = {} }}", self.path(name))
    }

    /// The admin API on loopback, on an ephemeral port, with the bearer `token`.
    pub fn admin(self, token: &str) -> ConfigFile {
        let token = self.secret("admin-token", token);
        self.toml(&format!(
            "[admin]\nlisten = \"127.0.0.1:0\"\ntoken = {token}\n"
        ))
    }

    /// Writes the test module `name` into the directory and returns its path as a
    /// TOML string.
    pub fn module(&self, name: &str) -> String {
        crate::write_module(&self.dir, name)
    }

    /// One tenant per test module in `modules`, named after it, serving `platform`
    /// unauthenticated, with a 400 ms deadline, 8 MiB of memory and the `on_failure`
    /// table `policy` (where `{tenant}` stands for the tenant's name).
    pub fn failing_tenants(self, modules: &[&str], platform: &str, policy: &str) -> ConfigFile {
        let mut tables = String::new();
        for module in modules {
            tables.push_str(&format!(
                "[tenants.{module}]\nmodule = {path}\nlimits = {{ deadline_ms = 400, memory_bytes = 8388608 }}\n\
                 [tenants.{module}.{platform}]\nunauthenticated = true\n\
                 [tenants.{module}.on_failure]\n{policy}\n",
                path = self.module(module),
                policy = policy.trim().replace("{tenant}", module),
            ));
        }
        self.toml(&tables)
    }

    /// A tenant `slow` whose module loops until its deadline of `deadline_ms` on every
    /// call (its fuel is unbounded), serving `platform` unauthenticated; `extra` adds
    /// tables of its own.
    pub fn slow_tenant(self, platform: &str, deadline_ms: u64, extra: &str) -> ConfigFile {
        let table = format!(
            "[tenants.slow]\nmodule = {path}\nlimits = {{ fuel = 1000000000000, deadline_ms = {deadline_ms} }}\n\
             [tenants.slow.{platform}]\nunauthenticated = true\n{extra}",
            path = self.module("infinite-loop"),
            extra = extra.trim_start_matches('\n'),
        );
        self.toml(&table)
    }

    /// `name` in the directory as a TOML string.
    pub fn path(&self, name: &str) -> String {
        format!("{:?}", self.dir.join(name).display().to_string())
    }

    /// The configuration's text.
    pub fn text(&self) -> String {
        format!("{}{}", self.keys, self.tables)
    }

    /// Writes the file, `rulegate.toml` in the directory, and returns its path.
    pub fn write(&self) -> PathBuf {
        let path = self.dir.join("rulegate.toml");
        std::fs::write(&path, self.text()).expect("writing the configuration");
        path
    }

    /// Writes the file and starts a server on it.
    pub fn start(&self) -> Server {
        Server::start(Some(&self.write()))
    }
}
