//! `rulegate check`: is it a component (or a core module the host can make one), does it
//! implement the world, what does it import, does it compile.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use crate::engine::{Engine, EngineSettings};

/// Arguments of `rulegate check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The module file (a `.wasm` component).
    module: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&args.module)
        .with_context(|| format!("reading {}", args.module.display()))?;
    let engine = Engine::new(EngineSettings::default(), None)?;
    let inspection = engine.inspect(&bytes);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&inspection)?);
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
            None => println!(
                "world    implements {}\nresult   accepted",
                inspection.world
            ),
            Some(error) => println!("result   refused: {error}"),
        }
    }
    Ok(if inspection.accepted() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
