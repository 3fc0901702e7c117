//! A real PostgreSQL server for the fleet's tests, from the machine's packages: a new
//! cluster in a temporary directory (`initdb`), started on a free loopback port
//! (`pg_ctl`), as the `postgres` user when the tests run as root, stopped when dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The password of the cluster's superuser `rulegate`.
pub const PASSWORD: &str = "fleet-Pass-7c2e";

/// A running PostgreSQL cluster, stopped when dropped.
#[derive(Debug)]
pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
    as_postgres: bool,
}

/// The directory of `initdb` and `pg_ctl`: Debian's versioned directory, else `PATH`.
fn bin_dir() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop().unwrap_or_else(|| {
        std::env::var_os("PATH")
            .and_then(|path| std::env::split_paths(&path).find(|dir| dir.join("initdb").exists()))
            .expect("PostgreSQL's server binaries (Debian package `postgresql`) are needed")
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

impl Postgres {
    /// A new cluster, started, with password authentication over TCP.
    pub fn start() -> Postgres {
        let dir = tempfile::tempdir().expect("a directory for the cluster");
        let as_postgres = is_root();
        let postgres = Postgres {
            bin: bin_dir(),
            port: free_port(),
            as_postgres,
            dir,
        };
        std::fs::create_dir_all(postgres.data()).unwrap();
        std::fs::write(postgres.dir.path().join("pw"), PASSWORD).unwrap();
        if as_postgres {
            // initdb refuses root: the cluster belongs to `postgres`.
            let dir = postgres.dir.path().display().to_string();
            run(Command::new("chmod").args(["755", &dir]));
            run(Command::new("chown").args(["-R", "postgres:postgres", &dir]));
        }
        let data = postgres.data().display().to_string();
        let pwfile = postgres.dir.path().join("pw").display().to_string();
        run(&mut postgres.command(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "rulegate",
                "--pwfile",
                &pwfile,
                "-E",
                "UTF8",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "--no-sync",
            ],
        ));
        postgres.start_again();
        postgres
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let binary = self.bin.join(program).display().to_string();
        let mut command = if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--", &binary]);
            command
        } else {
            Command::new(binary)
        };
        command.args(args).current_dir(self.dir.path());
        command
    }

    /// Starts the server (again, after [`Postgres::stop`]) and waits until it accepts
    /// connections.
    pub fn start_again(&self) {
        let data = self.data().display().to_string();
        let log = self.dir.path().join("server.log").display().to_string();
        let options = format!(
            "-p {} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port
        );
        run(&mut self.command(
            "pg_ctl",
            &["-D", &data, "-l", &log, "-o", &options, "-w", "start"],
        ));
    }

    /// Stops the server at once, as a crash or an outage would.
    pub fn stop(&self) {
        let data = self.data().display().to_string();
        run(&mut self.command("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]));
    }

    /// The URL of `database` as the superuser.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://rulegate:{PASSWORD}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    /// Runs `sql` in `database` with `psql`; the rows, one per line, columns split by
    /// `|`.
    pub fn sql(&self, database: &str, sql: &str) -> String {
        let output = Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                &self.url(database),
                "-c",
                sql,
            ])
            .output()
            .expect("running psql");
        assert!(
            output.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// A new, empty database.
    pub fn database(&self, name: &str) -> String {
        self.sql("postgres", &format!("CREATE DATABASE {name}"));
        name.to_string()
    }

    /// The directory of the server's binaries.
    pub fn bin_dir(&self) -> &Path {
        &self.bin
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data().display().to_string();
        let _ = self
            .command("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"])
            .output();
    }
}

fn run(command: &mut Command) -> Output {
    let output = command.output().expect("running a PostgreSQL command");
    assert!(
        output.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}
