//! Starts the real server as a process on an ephemeral loopback port, and stops it.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::http::{self, Response};

/// A running `rulegate serve`, killed when dropped.
#[derive(Debug)]
pub struct Server {
    /// Where it listens.
    pub address: SocketAddr,
    /// Where the admin API listens, when configured.
    pub admin: Option<SocketAddr>,
    child: Child,
    /// The server's working directory (its default state directory lives there).
    pub workdir: tempfile::TempDir,
}

impl Server {
    /// Starts `rulegate serve` with `config` (the embedded default when `None`) on
    /// 127.0.0.1 and an ephemeral port, and waits until it listens.
    pub fn start(config: Option<&Path>) -> Server {
        Server::start_with(config, &[], None)
    }

    /// Like [`Server::start`], with extra environment variables and, when given, its
    /// log (standard error) written to `log`.
    pub fn start_with(config: Option<&Path>, env: &[(&str, &str)], log: Option<&Path>) -> Server {
        let workdir = tempfile::tempdir().expect("a working directory");
        let mut command = Command::new(binary());
        command
            .current_dir(workdir.path())
            .args(["serve", "--listen", "127.0.0.1:0"]);
        if let Some(config) = config {
            command.arg("--config").arg(config);
        }
        command.env("RULEGATE_LOG", "error");
        for (name, value) in env {
            command.env(name, value);
        }
        let stderr = match log {
            Some(path) => Stdio::from(std::fs::File::create(path).expect("creating the log file")),
            None => Stdio::inherit(),
        };
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("starting rulegate serve");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let mut admin = None;
        let address = loop {
            let line = lines.next().and_then(Result::ok).unwrap_or_else(|| {
                panic!("rulegate serve exited before listening: {:?}", child.wait())
            });
            if let Some(url) = line.strip_prefix("rulegate admin on http://") {
                admin = Some(url.trim().parse().expect("a socket address"));
            }
            if let Some(url) = line.strip_prefix("rulegate listening on http://") {
                break url.trim().parse().expect("a socket address");
            }
        };
        Server {
            address,
            admin,
            child,
            workdir,
        }
    }

    /// Runs `rulegate serve` on `config` with the environment variables `env` set
    /// (`Some`) or removed (`None`), expecting it to fail before it listens; returns
    /// its standard error.
    pub fn fails_to_start(config: &Path, env: &[(&str, Option<&str>)]) -> String {
        let workdir = tempfile::tempdir().expect("a working directory");
        let mut command = Command::new(binary());
        command
            .current_dir(workdir.path())
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .env("RULEGATE_LOG", "error");
        for (name, value) in env {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        let output = command.output().expect("running rulegate serve");
        assert!(
            !output.status.success(),
            "rulegate serve started on {}",
            config.display()
        );
        String::from_utf8_lossy(&output.stderr).into_owned()
    }

    /// Kills the process at once (SIGKILL): a crash, as far as its files know.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits (at most `within`) for the process to exit; its exit
    /// code, or `None` when it did not exit in time (it is then killed).
    pub fn terminate(mut self, within: std::time::Duration) -> Option<i32> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let began = std::time::Instant::now();
        while began.elapsed() < within {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        None
    }

    /// The process id, for signals.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `POST target` with a JSON body, on the callback listener.
    pub fn post_json(&self, target: &str, body: &[u8]) -> Response {
        http::post_json(self.address, target, body)
    }

    /// `POST target` with `headers`, on the callback listener.
    pub fn post(&self, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        http::request(self.address, "POST", target, headers, body)
    }

    /// `method target` on the admin API with `Authorization: Bearer <token>`.
    pub fn admin(&self, token: &str, method: &str, target: &str, body: &[u8]) -> Response {
        let authorization = format!("Bearer {token}");
        self.admin_with(method, target, Some(&authorization), body)
    }

    /// `method target` on the admin API with the `Authorization` header given, if any.
    pub fn admin_with(
        &self,
        method: &str,
        target: &str,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Response {
        let address = self.admin.expect("the admin API is configured");
        let mut headers = vec![("Content-Type", "application/wasm")];
        if let Some(value) = authorization {
            headers.push(("Authorization", value));
        }
        http::request(address, method, target, &headers, body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The path of the `rulegate` binary under test (`rulegate-e2e`, which cargo builds
/// next to the integration tests of this package).
pub fn binary() -> PathBuf {
    let test = std::env::current_exe().expect("the test executable's path");
    let profile_dir = test
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>");
    let binary = profile_dir.join(format!("rulegate-e2e{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.exists(),
        "{} is missing: run the tests with cargo",
        binary.display()
    );
    binary
}
