//! The `rulegate` command, built inside the test package so end-to-end tests can run it
//! as a process: the same entry point as the shipped binary.

fn main() -> std::process::ExitCode {
    rulegate::cli::main()
}
