//! `rulegate keygen`: a new Ed25519 key pair for signing modules. The private key goes
//! to a file only its owner can read; the public key, what operators list in a
//! tenant's `signers`, is printed.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use crate::signature::SigningKey;

/// Arguments of `rulegate keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the private key (PEM, PKCS#8); never overwritten.
    #[arg(long)]
    out: PathBuf,
}

pub fn keygen(args: KeygenArgs) -> anyhow::Result<ExitCode> {
    let (key, pem) = SigningKey::generate()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&args.out).with_context(|| {
        format!(
            "creating {} (an existing key is never overwritten)",
            args.out.display()
        )
    })?;
    file.write_all(pem.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!("{}", key.public_key());
    Ok(ExitCode::SUCCESS)
}
