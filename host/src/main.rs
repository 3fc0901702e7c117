//! The `rulegate` command.

/// mimalloc rather than glibc's allocator: a callback allocates and frees many small
/// objects across the server's threads, and glibc consolidated its free lists on every
/// request (hyper's read buffer is a large allocation per request).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    rulegate::cli::main()
}
