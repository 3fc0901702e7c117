// Shared by the build scripts of `host` (the example rules, embedded in the binary) and
// `tests` (the hostile test modules): builds a workspace of rules crates for a wasm
// target once per host build, in its own target directory.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds `crates` of the rules workspace at `workspace` in release mode for `target`
/// and returns, for each, the path of its module. Re-runs when the workspace, the SDK or
/// the contract change.
fn build_guests(
    repository: &Path,
    workspace: &Path,
    target: &str,
    crates: &[&str],
) -> Vec<(String, PathBuf)> {
    for watched in ["wit", "guest-sdk/src", "guest-sdk/Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", repository.join(watched).display());
    }
    println!("cargo:rerun-if-changed={}", workspace.join("Cargo.toml").display());
    println!("cargo:rerun-if-changed={}", workspace.join("Cargo.lock").display());
    for name in crates {
        for watched in ["src", "Cargo.toml", "build.rs"] {
            // Cargo treats a watched path that does not exist as always changed, which
            // would rebuild the host on every invocation: watch only what is there.
            let path = workspace.join(name).join(watched);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    require_target(target);

    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repository.join("target"))
        .join("rules-wasm");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["build", "--release", "--target", target, "--manifest-path"])
        .arg(workspace.join("Cargo.toml"))
        .args(crates.iter().flat_map(|name| ["--package", name]))
        .arg("--target-dir")
        .arg(&target_dir)
        // The outer build's flags and wrappers (coverage, clippy) are for the host.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .output()
        .expect("running cargo to build the rules modules");
    if !output.status.success() {
        panic!(
            "building the rules modules in {} failed:\n{}",
            workspace.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    crates
        .iter()
        .map(|name| {
            let artifact = target_dir
                .join(target)
                .join("release")
                .join(format!("{}.wasm", name.replace('-', "_")));
            assert!(artifact.exists(), "{} was not built", artifact.display());
            (name.to_string(), artifact)
        })
        .collect()
}

/// Fails the build with the fix when the wasm target is not installed.
fn require_target(target: &str) {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .expect("running rustc --print sysroot");
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if !sysroot.join("lib/rustlib").join(target).exists() {
        panic!(
            "the {target} target is not installed, and rules modules are built for it: \
             run `rustup target add {target}`"
        );
    }
}
