//! The `rulegate` command line: parse arguments, dispatch to one subcommand.
//!
//! Exit codes: 0 success; 1 the module was refused, a decision failed, a fixture
//! failed or a replay differed; 2 usage or load errors.

mod check;
mod keygen;
mod replay;
mod run;
mod serve;
mod sign;
mod test;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// A callback server for hosted checkouts whose business rules are WebAssembly
/// components.
#[derive(Debug, Parser)]
#[command(name = "rulegate", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check that a file is a rules module the server would accept.
    Check(check::CheckArgs),
    /// Run a module's decisions on a cart in the production sandbox.
    Run(run::RunArgs),
    /// Start the callback server.
    Serve(serve::ServeArgs),
    /// Re-run a decision log on a candidate module and report what would change.
    Replay(replay::ReplayArgs),
    /// Run a directory of fixtures on a module and compare with their expectations.
    Test(test::TestArgs),
    /// Write a new Ed25519 key pair for signing modules; prints the public key.
    Keygen(keygen::KeygenArgs),
    /// Sign a module: add this key's signature to the `.sig` file beside it.
    Sign(sign::SignArgs),
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Check(args) => check::check(args),
        Command::Run(args) => run::run(args),
        Command::Serve(args) => serve::serve(args),
        Command::Replay(args) => replay::replay(args),
        Command::Test(args) => test::test(args),
        Command::Keygen(args) => keygen::keygen(args),
        Command::Sign(args) => sign::sign(args),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Reads a module argument: a path, `example:<name>` or `native:<name>`.
fn module_argument(value: &str) -> Result<crate::tenants::ModuleSource, String> {
    value
        .parse()
        .map_err(|error: anyhow::Error| format!("{error:#}"))
}
