//! `rulegate sign`: adds this key's signature of a module to the `.sig` file beside it
//! (`module.wasm.sig`), so a release that needs several signers collects theirs in one
//! file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use crate::durable;
use crate::engine::ModuleHash;
use crate::signature::{Signatures, SigningKey, beside};

/// Arguments of `rulegate sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The module file.
    module: PathBuf,
    /// The private key file `rulegate keygen` wrote.
    #[arg(long)]
    key: PathBuf,
    /// The signature file (default: the module's path with `.sig` appended).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn sign(args: SignArgs) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&args.module)
        .with_context(|| format!("reading {}", args.module.display()))?;
    let pem = std::fs::read_to_string(&args.key)
        .with_context(|| format!("reading {}", args.key.display()))?;
    let key = SigningKey::from_pem(&pem).with_context(|| args.key.display().to_string())?;
    let version = ModuleHash::of(&bytes).to_string();
    let out = args.out.unwrap_or_else(|| beside(&args.module));
    // Others' signatures of this version are kept; a file for another version (the
    // module was rebuilt since) is replaced.
    let mut file = match Signatures::read(&out)? {
        Some(existing) if existing.version == version => existing,
        Some(existing) => {
            eprintln!(
                "{} signed {}; replacing it with signatures of {version}",
                out.display(),
                existing.version
            );
            Signatures::of(&version)
        }
        None => Signatures::of(&version),
    };
    file.add(key.sign(&version));
    let dir = match out.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    durable::write_atomic(dir, &out, &file.to_bytes())
        .with_context(|| format!("writing {}", out.display()))?;
    println!(
        "signed {version} as {} ({} signature(s) in {})",
        key.public_key(),
        file.signatures.len(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}
