//! The `rulegate` command.

fn main() -> std::process::ExitCode {
    rulegate::cli::main()
}
