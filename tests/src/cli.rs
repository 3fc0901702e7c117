//! Runs the `rulegate` binary as a user does and captures what it printed.

use std::process::Command;

use crate::server::binary;

/// What one run of `rulegate` did.
#[derive(Debug)]
pub struct Run {
    /// The exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs `rulegate ARGS...` to completion.
pub fn rulegate(args: &[&str]) -> Run {
    let output = Command::new(binary())
        .args(args)
        .output()
        .expect("running rulegate");
    Run {
        code: output.status.code().expect("exited normally"),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
