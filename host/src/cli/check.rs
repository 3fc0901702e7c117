//! `rulegate check`: is it a component (or a core module the host can make one), does it
//! implement the world, what does it import, does it compile; with `--signers`, is it
//! signed as a tenant with those signers requires.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use crate::engine::{Contract, Engine, EngineSettings};
use crate::signature::{self, PublicKey, Refusal, Signatures, Signers};

/// Arguments of `rulegate check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The module file (a `.wasm` component or core module).
    module: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Also verify the module's signatures as a tenant listing these signers would
    /// (`ed25519:...`, comma-separated or repeated).
    #[arg(long, value_delimiter = ',')]
    signers: Vec<String>,
    /// How many of `--signers` must have signed.
    #[arg(long, default_value_t = 1)]
    minimum_signatures: usize,
    /// The signature file (default: the module's path with `.sig` appended).
    #[arg(long)]
    signature: Option<PathBuf>,
}

/// The signature verdict `--signers` asks for: the signers who signed, or why not.
fn verify(
    args: &CheckArgs,
    version: &str,
) -> anyhow::Result<Option<Result<Vec<PublicKey>, String>>> {
    if args.signers.is_empty() {
        return Ok(None);
    }
    let keys = args
        .signers
        .iter()
        .map(|key| key.trim().parse::<PublicKey>())
        .collect::<Result<Vec<_>, _>>()?;
    let signers =
        Signers::new(keys, args.minimum_signatures).map_err(|error| anyhow::anyhow!(error))?;
    let path = args
        .signature
        .clone()
        .unwrap_or_else(|| signature::beside(&args.module));
    let file = match std::fs::read(&path) {
        Ok(bytes) => match Signatures::parse(&bytes) {
            Ok(file) => Some(file),
            Err(error) => return Ok(Some(Err(format!("bad signature: {error}")))),
        },
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => return Err(error).with_context(|| format!("reading {}", path.display())),
    };
    Ok(Some(
        signers
            .check(version, file.as_ref())
            .map_err(|refusal: Refusal| refusal.to_string()),
    ))
}

pub fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&args.module)
        .with_context(|| format!("reading {}", args.module.display()))?;
    let engine = Engine::new(EngineSettings::default(), None)?;
    let inspection = engine.inspect(&bytes);
    let signed = verify(&args, &inspection.hash)?;
    let signed_ok = !matches!(signed, Some(Err(_)));
    if args.json {
        let mut report = serde_json::to_value(&inspection)?;
        if let Some(signed) = &signed {
            report["signatures"] = match signed {
                Ok(keys) => serde_json::json!({ "accepted": true, "signed_by": keys }),
                Err(reason) => serde_json::json!({ "accepted": false, "error": reason }),
            };
        }
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "module   {} ({} bytes, {})",
            args.module.display(),
            inspection.size,
            inspection.hash
        );
        println!("kind     {}", inspection.kind);
        if let Some(time) = inspection.compile_time {
            println!("compiles yes, in {:.1} ms", time.as_secs_f64() * 1000.0);
        }
        if !inspection.imports.is_empty() {
            println!("imports");
            for import in &inspection.imports {
                let verdict = if import.allowed {
                    "ok       "
                } else {
                    "FORBIDDEN"
                };
                println!("  {verdict} {}", import.name);
            }
        }
        if !inspection.exports.is_empty() {
            println!("exports  {}", inspection.exports.join(", "));
        }
        match &inspection.error {
            None => {
                println!("world    implements {}", inspection.world);
                if let Some(contract) = inspection.contract
                    && contract != Contract::CURRENT
                {
                    println!(
                        "contract {contract}, served as it is; rebuilt with the current SDK \
                         ({}) it answers shipping and tax in one call",
                        Contract::CURRENT
                    );
                }
                println!("result   accepted");
            }
            Some(error) => println!("result   refused: {error}"),
        }
        match &signed {
            None => {}
            Some(Ok(keys)) => {
                for key in keys {
                    println!("signed   by {key}");
                }
                println!("signers  accepted");
            }
            Some(Err(reason)) => println!("signers  refused: {reason}"),
        }
    }
    Ok(if inspection.accepted() && signed_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
