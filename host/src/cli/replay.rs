//! `rulegate replay LOG --module CANDIDATE`: re-runs every recorded input of a decision
//! log on a candidate module in the production sandbox and compares each decision with
//! the recorded one: counts of same, different and failed records, fuel deltas, and
//! every difference field by field. Exit 1 when anything differs or fails, so a
//! release can be gated on it.
//!
//! Given a directory of platform payloads instead, each payload is answered by the
//! `--baseline` module and by the candidate, and the HTTP answers are compared.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde::Serialize;
use serde_json::{Value, json};

use crate::engine::{Engine, EngineSettings, Limits, SharedRuleSet};
use crate::model::{DecisionKind, Platform};
use crate::offline::{self, Offline, PlatformSettings};
use crate::protocols::{Answer, Body};
use crate::records::Record;
use crate::records::compare::{comparable, diff, logged_outcome};
use crate::strict;
use crate::tenants::ModuleSource;

/// Arguments of `rulegate replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The decision log (`decisions.jsonl`, or a rotated `decisions.jsonl.N`), or a
    /// directory of platform payloads (`*.json`, with `--baseline` and `--platform`).
    log: PathBuf,
    /// The candidate: a `.wasm` path, `example:<name>` or `native:<name>`.
    #[arg(long, value_parser = super::module_argument)]
    module: ModuleSource,
    /// Only records of this tenant.
    #[arg(long)]
    tenant: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Fuel per decision (default: the production default).
    #[arg(long)]
    fuel: Option<u64>,
    /// Show at most this many differences in the text report.
    #[arg(long, default_value_t = 20)]
    show: usize,
    /// Payload directories: the module whose answers the candidate's are compared with.
    #[arg(long, value_parser = super::module_argument)]
    baseline: Option<ModuleSource>,
    /// Payload directories: the platform the payloads come from (kco, klix or
    /// messenger).
    #[arg(long, value_parser = offline::platform)]
    platform: Option<Platform>,
    /// Payload directories: the callback (KCO, Klix).
    #[arg(long)]
    callback: Option<String>,
    /// Payload directories: the tenant's currency (Klix, Messenger).
    #[arg(long)]
    currency: Option<String>,
}

/// One decision of one record that did not replay the same.
#[derive(Debug, Serialize)]
struct Difference {
    line: usize,
    tenant: String,
    platform: String,
    callback: String,
    decision: String,
    recorded_module: String,
    /// The recorded answer, or the failure the policy answered for.
    recorded: Value,
    /// The candidate's answer, or its failure.
    candidate: Value,
    /// `path: recorded → candidate` for each differing field.
    fields: Vec<String>,
    /// Fields of the recorded input that were redacted (a cause of differences).
    redacted: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
struct Report {
    candidate: String,
    records: usize,
    same: usize,
    different: usize,
    failed: usize,
    recorded_fuel: u64,
    candidate_fuel: u64,
    differences: Vec<Difference>,
}

pub fn replay(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let engine = Engine::new(EngineSettings::default(), None)?;
    let rules = args.module.load(&engine)?;
    let mut limits = Limits::default();
    if let Some(fuel) = args.fuel {
        limits.fuel = Some(fuel);
    }
    if args.log.is_dir() {
        return replay_payloads(&args, &engine, &rules, limits);
    }
    let file = std::fs::File::open(&args.log)
        .with_context(|| format!("reading {}", args.log.display()))?;
    let mut report = Report {
        candidate: rules.id().to_string(),
        ..Report::default()
    };
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", args.log.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let record: Record = strict::from_slice(line.as_bytes()).with_context(|| {
            format!(
                "{} line {}: not a decision log record",
                args.log.display(),
                index + 1
            )
        })?;
        // Shadow evaluations record a candidate's answers, which were never sent.
        if record.shadow_of.is_some()
            || args
                .tenant
                .as_ref()
                .is_some_and(|tenant| *tenant != record.tenant)
        {
            continue;
        }
        report.records += 1;
        report.recorded_fuel += record.fuel;
        let mut session = rules.session(&limits);
        let (mut differs, mut failed) = (false, false);
        for (decision, logged) in &record.decisions {
            let kind = DecisionKind::from_export_name(decision)
                .with_context(|| format!("unknown decision {decision:?} in the log"))?;
            let (candidate, candidate_failed) = comparable(session.decide(kind, &record.input));
            let recorded = logged_outcome(logged);
            failed |= candidate_failed;
            if candidate != recorded {
                differs = true;
                let mut fields = Vec::new();
                diff("", &recorded, &candidate, &mut fields);
                report.differences.push(Difference {
                    line: index + 1,
                    tenant: record.tenant.clone(),
                    platform: record.platform.clone(),
                    callback: record.callback.clone(),
                    decision: decision.clone(),
                    recorded_module: record.module.clone(),
                    recorded,
                    candidate,
                    fields,
                    redacted: record
                        .redacted
                        .iter()
                        .map(|field| {
                            serde_json::to_value(field)
                                .ok()
                                .and_then(|v| v.as_str().map(str::to_string))
                                .unwrap_or_default()
                        })
                        .collect(),
                });
            }
        }
        report.candidate_fuel += session.usage().fuel;
        if failed {
            report.failed += 1;
        } else if differs {
            report.different += 1;
        } else {
            report.same += 1;
        }
    }
    finish(&args, &report)
}

fn finish(args: &ReplayArgs, report: &Report) -> anyhow::Result<ExitCode> {
    if args.json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        print_report(report, args.show);
    }
    Ok(if report.different + report.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// A platform answer in comparable form, whether the failure policy answered, and
/// the fuel it took.
fn answered(answer: &Answer) -> (Value, bool, u64) {
    let reply = &answer.reply;
    let body = match &reply.body {
        Body::Empty => Value::Null,
        Body::Json(value) => value.clone(),
        Body::RawJson(text) => serde_json::from_str(text).unwrap_or(Value::Null),
        Body::Text(text) => Value::String(text.clone()),
    };
    let fell_back = answer
        .decisions
        .as_ref()
        .is_some_and(|decisions| decisions.fallbacks().next().is_some());
    let fuel = answer.decisions.as_ref().map_or(0, |d| d.usage.fuel);
    (
        json!({ "status": reply.status, "body": body }),
        fell_back,
        fuel,
    )
}

/// Each payload answered by the baseline and by the candidate, compared.
fn replay_payloads(
    args: &ReplayArgs,
    engine: &Engine,
    candidate: &SharedRuleSet,
    limits: Limits,
) -> anyhow::Result<ExitCode> {
    let baseline = args
        .baseline
        .as_ref()
        .context("a payload directory needs --baseline (the module to compare with)")?
        .load(engine)?;
    let platform = args
        .platform
        .context("a payload directory needs --platform")?;
    let settings = PlatformSettings {
        currency: args.currency.clone(),
        ..PlatformSettings::default()
    };
    let offline = Offline::new()?;
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&args.log)?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()?;
    paths.retain(|path| path.extension().is_some_and(|ext| ext == "json"));
    paths.sort();
    let mut report = Report {
        candidate: candidate.id().to_string(),
        ..Report::default()
    };
    for (index, path) in paths.iter().enumerate() {
        let input = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let answer = |rules: &SharedRuleSet| {
            offline
                .answer(
                    platform,
                    args.callback.as_deref(),
                    &input,
                    &settings,
                    rules,
                    limits,
                )
                .with_context(|| path.display().to_string())
        };
        let (recorded, _, recorded_fuel) = answered(&answer(&baseline)?);
        let (replayed, failed, candidate_fuel) = answered(&answer(candidate)?);
        report.records += 1;
        report.recorded_fuel += recorded_fuel;
        report.candidate_fuel += candidate_fuel;
        if failed {
            report.failed += 1;
        } else if recorded == replayed {
            report.same += 1;
            continue;
        } else {
            report.different += 1;
        }
        let mut fields = Vec::new();
        diff("", &recorded, &replayed, &mut fields);
        report.differences.push(Difference {
            line: index + 1,
            tenant: path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default(),
            platform: offline::platform_name(platform).to_string(),
            callback: args.callback.clone().unwrap_or_else(|| "webhook".into()),
            decision: "response".into(),
            recorded_module: baseline.id().to_string(),
            recorded,
            candidate: replayed,
            fields,
            redacted: Vec::new(),
        });
    }
    finish(args, &report)
}

fn print_report(report: &Report, show: usize) {
    println!("candidate {}", report.candidate);
    println!(
        "{} records: {} same, {} different, {} failed",
        report.records, report.same, report.different, report.failed
    );
    let delta = report.candidate_fuel as i128 - report.recorded_fuel as i128;
    let percent = if report.recorded_fuel > 0 {
        format!(
            " ({:+.1} %)",
            delta as f64 * 100.0 / report.recorded_fuel as f64
        )
    } else {
        String::new()
    };
    println!(
        "fuel: recorded {}, candidate {}, delta {delta:+}{percent}",
        report.recorded_fuel, report.candidate_fuel
    );
    for difference in report.differences.iter().take(show) {
        println!(
            "\nline {} · {} {}.{} · {} (recorded by {})",
            difference.line,
            difference.tenant,
            difference.platform,
            difference.callback,
            difference.decision,
            difference.recorded_module
        );
        for field in &difference.fields {
            println!("  {field}");
        }
    }
    if let Some(redacted) = report
        .differences
        .iter()
        .map(|difference| &difference.redacted)
        .find(|redacted| !redacted.is_empty())
    {
        println!(
            "\nnote: the log redacted {} of its inputs; rules that read them may differ on replay",
            redacted.join(", ")
        );
    }
    if report.differences.len() > show {
        println!(
            "\n… {} more differences (--show N, or --json)",
            report.differences.len() - show
        );
    }
}
