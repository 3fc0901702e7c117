//! `rulegate run`: a module's decisions on a canonical cart, or its answer to a
//! platform callback payload, in the production sandbox, with what they cost.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use serde::Serialize;
use serde_json::{Value, json};

use crate::engine::{
    ArtifactCache, Engine, EngineError, EngineSettings, Limits, Outcome, SharedRuleSet, Usage,
};
use crate::model::{Cart, Decided, DecisionKind, Platform};
use crate::offline::{self, Offline, PlatformSettings};
use crate::protocols::{Answer, Body, messenger};
use crate::strict;
use crate::tenants::ModuleSource;

/// Arguments of `rulegate run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The module: a `.wasm` path, `example:<name>` or `native:<name>`.
    #[arg(long, value_parser = super::module_argument)]
    module: ModuleSource,
    /// The input (`-` for standard input): a canonical cart, or with `--platform` the
    /// callback's body exactly as the platform sends it.
    #[arg(long)]
    input: PathBuf,
    /// The decisions to run on a canonical cart, in order (default: tax, shipping,
    /// validate).
    #[arg(long, value_enum, conflicts_with = "platform")]
    decision: Vec<DecisionArg>,
    /// Treat the input as this platform's callback payload (kco, klix or messenger)
    /// and print the HTTP answer the server would send.
    #[arg(long, value_parser = offline::platform)]
    platform: Option<Platform>,
    /// The platform callback (KCO: address_update, country_change,
    /// shipping_option_update, validation, push; Klix: shipping_cost). Messenger needs
    /// none: the delivery says which event it is.
    #[arg(long, requires = "platform")]
    callback: Option<String>,
    /// The order id the callback URL would carry.
    #[arg(long, requires = "platform")]
    order_id: Option<String>,
    /// Klix and Messenger: the tenant's currency (default: EUR for Klix, USD for
    /// Messenger).
    #[arg(long, requires = "platform")]
    currency: Option<String>,
    /// Klix: the country of shipping-cost addresses.
    #[arg(long, default_value = "LV")]
    country: String,
    /// Messenger: how the tenant reads Buy Button payloads.
    #[arg(long, value_enum, default_value = "opaque")]
    payload: PayloadArg,
    /// Messenger: payload-cart prices include tax.
    #[arg(long)]
    prices_include_tax: bool,
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

#[derive(Debug, Clone, Copy, ValueEnum)]
enum PayloadArg {
    Opaque,
    CartLines,
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
enum Reported {
    /// The module decided.
    Decided(Value),
    /// The module declined (a declared rule error).
    RuleError(Value),
    /// The sandbox stopped it, or its answer broke the contract.
    Failed { kind: &'static str, message: String },
}

impl Reported {
    fn of(outcome: Outcome) -> anyhow::Result<Reported> {
        fn report<T: Serialize>(
            result: Result<Decided<T>, EngineError>,
        ) -> anyhow::Result<Reported> {
            Ok(match result {
                Ok(Ok(decision)) => Reported::Decided(serde_json::to_value(decision)?),
                Ok(Err(rule_error)) => Reported::RuleError(serde_json::to_value(rule_error)?),
                Err(error) => Reported::Failed {
                    kind: error.kind(),
                    message: error.to_string(),
                },
            })
        }
        match outcome {
            Outcome::Tax(result) => report(result),
            Outcome::Shipping(result) => report(result),
            Outcome::Validate(result) => report(result),
        }
    }
}

fn read_input(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("reading standard input")?;
        Ok(bytes)
    } else {
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))
    }
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let input = read_input(&args.input)?;
    let limits = limits(&args);
    let cache = args
        .cache_dir
        .clone()
        .map(ArtifactCache::open)
        .transpose()
        .context("opening the cache directory")?;
    let engine = Engine::new(EngineSettings::default(), cache)?;
    let rules = args.module.load(&engine)?;
    match args.platform {
        Some(platform) => {
            let settings = PlatformSettings {
                order_id: args.order_id.clone(),
                currency: args.currency.clone(),
                country: Some(args.country.clone()),
                payload: match args.payload {
                    PayloadArg::Opaque => messenger::PayloadFormat::Opaque,
                    PayloadArg::CartLines => messenger::PayloadFormat::CartLines,
                },
                prices_include_tax: args.prices_include_tax,
            };
            let answer = Offline::new()?.answer(
                platform,
                args.callback.as_deref(),
                &input,
                &settings,
                &rules,
                limits,
            )?;
            report_answer(&args, &rules, answer)
        }
        None => run_cart(&args, rules, limits, &input),
    }
}

fn limits(args: &RunArgs) -> Limits {
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
    limits
}

/// The platform form's report: the exact HTTP answer the server would send, what the
/// policy answered for, and what the rules used.
fn report_answer(
    args: &RunArgs,
    rules: &SharedRuleSet,
    answer: Answer,
) -> anyhow::Result<ExitCode> {
    let usage = answer
        .decisions
        .as_ref()
        .map(|d| d.usage.clone())
        .unwrap_or_default();
    let fallbacks: Vec<Value> = answer
        .decisions
        .iter()
        .flat_map(|decisions| decisions.fallbacks())
        .map(|(decision, failure)| {
            json!({ "decision": decision.export_name(), "kind": failure.kind(), "reason": failure.to_string() })
        })
        .collect();
    let reply = &answer.reply;
    if args.json {
        let headers: serde_json::Map<String, Value> = reply
            .headers
            .iter()
            .map(|(name, value)| (name.to_string(), Value::String(value.clone())))
            .collect();
        // The body goes into the report as the server's bytes, so exact decimals
        // (Klix's `39.20`) stay exact.
        let body = match &reply.body {
            Body::Empty => "null".to_string(),
            Body::Json(value) => value.to_string(),
            Body::RawJson(text) => text.clone(),
            Body::Text(text) => Value::String(text.clone()).to_string(),
        };
        #[derive(Serialize)]
        struct Report<'a> {
            module: &'a str,
            status: u16,
            headers: serde_json::Map<String, Value>,
            body: Box<serde_json::value::RawValue>,
            fallbacks: &'a [Value],
            usage: &'a Usage,
        }
        let report = Report {
            module: rules.id(),
            status: reply.status,
            headers,
            body: serde_json::value::RawValue::from_string(body)?,
            fallbacks: &fallbacks,
            usage: &usage,
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("module {}", rules.id());
        println!("\nHTTP {}", reply.status);
        for (name, value) in &reply.headers {
            println!("{name}: {value}");
        }
        match &reply.body {
            Body::Empty => println!("(empty body)"),
            Body::Json(value) => println!("{}", serde_json::to_string_pretty(value)?),
            Body::RawJson(text) | Body::Text(text) => println!("{text}"),
        }
        for fallback in &fallbacks {
            println!(
                "\nfailure policy answered {}: {} ({})",
                fallback["decision"], fallback["reason"], fallback["kind"]
            );
        }
        print_usage(&usage);
    }
    let refused = answer.decisions.is_none() && reply.status >= 400;
    Ok(if refused || !fallbacks.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn run_cart(
    args: &RunArgs,
    rules: SharedRuleSet,
    limits: Limits,
    input: &[u8],
) -> anyhow::Result<ExitCode> {
    let cart: Cart = strict::from_slice(input)
        .with_context(|| format!("{} is not a canonical cart", args.input.display()))?;
    let decisions: Vec<DecisionKind> = if args.decision.is_empty() {
        DecisionKind::ALL.to_vec()
    } else {
        args.decision
            .iter()
            .copied()
            .map(DecisionKind::from)
            .collect()
    };
    let mut session = rules.session(&limits);
    let mut outcomes = Vec::new();
    for decision in decisions {
        outcomes.push((decision, Reported::of(session.decide(decision, &cart))?));
    }
    let usage = session.usage().clone();
    let failed = outcomes
        .iter()
        .any(|(_, outcome)| matches!(outcome, Reported::Failed { .. }));

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
    outcomes: &[(DecisionKind, Reported)],
    usage: &Usage,
) -> anyhow::Result<()> {
    println!("module {module}");
    for (kind, outcome) in outcomes {
        match outcome {
            Reported::Decided(value) => println!(
                "\n{kind}: decided\n{}",
                serde_json::to_string_pretty(value)?
            ),
            Reported::RuleError(value) => println!(
                "\n{kind}: declined\n{}",
                serde_json::to_string_pretty(value)?
            ),
            Reported::Failed {
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
    print_usage(usage);
    Ok(())
}

fn print_usage(usage: &Usage) {
    let reruns = match usage.reruns {
        0 => String::new(),
        n => format!(" ({n} for calls that outgrew a direct call and were made again)"),
    };
    println!(
        "\nfuel {} · peak memory {} KiB · time {:.3} ms · {} instance(s){reruns}",
        usage.fuel,
        usage.peak_memory_bytes / 1024,
        usage.elapsed.as_secs_f64() * 1000.0,
        usage.instances
    );
}
