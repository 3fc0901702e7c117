//! `rulegate run`: a module's decisions on a canonical cart, in the production sandbox,
//! with what they cost.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use serde::Serialize;
use serde_json::{Value, json};

use crate::engine::{ArtifactCache, Engine, EngineError, EngineSettings, Limits, Usage};
use crate::model::{Cart, Decided, DecisionKind};
use crate::registry::ModuleSource;

/// Arguments of `rulegate run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The module: a `.wasm` path, `example:<name>` or `native:<name>`.
    #[arg(long, value_parser = super::module_argument)]
    module: ModuleSource,
    /// The canonical cart as JSON (`-` for standard input).
    #[arg(long)]
    input: PathBuf,
    /// The decisions to run, in order (default: tax, shipping, validate).
    #[arg(long, value_enum)]
    decision: Vec<DecisionArg>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    /// Fuel per decision (default: the production default).
    #[arg(long)]
    fuel: Option<u64>,
    /// Run without a fuel budget (only the deadline stops a runaway module).
    #[arg(long, conflicts_with = "fuel")]
    no_fuel: bool,
    /// Memory limit in bytes.
    #[arg(long)]
    memory: Option<u64>,
    /// Deadline for all decisions, in milliseconds.
    #[arg(long)]
    deadline_ms: Option<u64>,
    /// Keep compiled modules in this directory between runs.
    #[arg(long, env = "RULEGATE_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DecisionArg {
    Shipping,
    Tax,
    Validate,
}

impl From<DecisionArg> for DecisionKind {
    fn from(arg: DecisionArg) -> DecisionKind {
        match arg {
            DecisionArg::Shipping => DecisionKind::Shipping,
            DecisionArg::Tax => DecisionKind::Tax,
            DecisionArg::Validate => DecisionKind::Validate,
        }
    }
}

/// The result of one decision as the CLI reports it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
enum Outcome {
    /// The module decided.
    Decided(Value),
    /// The module declined (a declared rule error).
    RuleError(Value),
    /// The sandbox stopped it, or its answer broke the contract.
    Failed { kind: &'static str, message: String },
}

fn outcome<T: Serialize>(result: Result<Decided<T>, EngineError>) -> anyhow::Result<Outcome> {
    Ok(match result {
        Ok(Ok(decision)) => Outcome::Decided(serde_json::to_value(decision)?),
        Ok(Err(rule_error)) => Outcome::RuleError(serde_json::to_value(rule_error)?),
        Err(error) => Outcome::Failed {
            kind: error.kind(),
            message: error.to_string(),
        },
    })
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let text = if args.input.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading the cart from standard input")?;
        text
    } else {
        std::fs::read_to_string(&args.input)
            .with_context(|| format!("reading {}", args.input.display()))?
    };
    let cart: Cart = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a canonical cart", args.input.display()))?;

    let mut limits = Limits::default();
    if let Some(fuel) = args.fuel {
        limits.fuel = Some(fuel);
    }
    if args.no_fuel {
        limits.fuel = None;
    }
    if let Some(memory) = args.memory {
        limits.memory_bytes = memory;
    }
    if let Some(deadline) = args.deadline_ms {
        limits.deadline_ms = deadline;
    }
    let cache = args
        .cache_dir
        .map(ArtifactCache::open)
        .transpose()
        .context("opening the cache directory")?;
    let engine = Engine::new(EngineSettings::default(), cache)?;
    let rules = args.module.load(&engine)?;

    let decisions: Vec<DecisionKind> = if args.decision.is_empty() {
        DecisionKind::ALL.to_vec()
    } else {
        args.decision.into_iter().map(DecisionKind::from).collect()
    };
    let mut session = rules.session(&limits);
    let mut outcomes = Vec::new();
    for decision in decisions {
        let result = match decision {
            DecisionKind::Shipping => outcome(session.shipping_options(&cart))?,
            DecisionKind::Tax => outcome(session.tax(&cart))?,
            DecisionKind::Validate => outcome(session.validate(&cart))?,
        };
        outcomes.push((decision, result));
    }
    let usage = session.usage().clone();
    let failed = outcomes
        .iter()
        .any(|(_, outcome)| matches!(outcome, Outcome::Failed { .. }));

    if args.json {
        let decisions: serde_json::Map<String, Value> = outcomes
            .iter()
            .map(|(kind, outcome)| {
                Ok((
                    kind.export_name().to_string(),
                    serde_json::to_value(outcome)?,
                ))
            })
            .collect::<anyhow::Result<_>>()?;
        let report = json!({ "module": rules.id(), "decisions": decisions, "usage": usage });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_human(rules.id(), &outcomes, &usage)?;
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_human(
    module: &str,
    outcomes: &[(DecisionKind, Outcome)],
    usage: &Usage,
) -> anyhow::Result<()> {
    println!("module {module}");
    for (kind, outcome) in outcomes {
        match outcome {
            Outcome::Decided(value) => println!(
                "\n{kind}: decided\n{}",
                serde_json::to_string_pretty(value)?
            ),
            Outcome::RuleError(value) => println!(
                "\n{kind}: declined\n{}",
                serde_json::to_string_pretty(value)?
            ),
            Outcome::Failed {
                kind: failure,
                message,
            } => println!("\n{kind}: FAILED ({failure})\n{message}"),
        }
    }
    if !usage.logs.is_empty() {
        println!("\nlog");
        for entry in &usage.logs {
            println!("  {:?}: {}", entry.level, entry.message);
        }
        if usage.logs_dropped > 0 {
            println!("  ({} more dropped)", usage.logs_dropped);
        }
    }
    println!(
        "\nfuel {} · peak memory {} KiB · time {:.3} ms · {} instance(s)",
        usage.fuel,
        usage.peak_memory_bytes / 1024,
        usage.elapsed.as_secs_f64() * 1000.0,
        usage.instances
    );
    Ok(())
}
