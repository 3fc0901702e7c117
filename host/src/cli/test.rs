//! `rulegate test DIR`: runs every fixture in `DIR` on a module with the production
//! engine and limits, and compares what it answers with what the fixture expects.
//!
//! A fixture is one JSON file:
//!
//! ```json
//! {
//!   "description": "CA sales tax on a T-shirt",
//!   "platform": "kco",                   // kco | klix | messenger; absent: a canonical cart
//!   "callback": "address_update",        // KCO and Klix
//!   "settings": { "currency": "USD" },   // optional: order_id, currency, country, payload, prices_include_tax
//!   "input": { ... },                    // or "input_file": "path/relative/to/the/fixture"
//!   "expect": { "status": 200, "body": { ... } },
//!   "max_fuel": 100000                   // optional ceiling
//! }
//! ```
//!
//! A canonical-cart fixture expects decisions instead, by export name, run in the order
//! tax, shipping-options, validate: `"expect": {"tax": {...}, "validate": "Approve"}`
//! (a rejection is `{"rejected": {...}}`, a failure `{"failed": {"kind": ...}}`).
//!
//! `--bless` rewrites the `expect` of every failing fixture with what the module
//! answered: write the input, bless, review the diff, commit.
//!
//! Exit codes: 0 all passed, 1 a fixture failed, 2 usage or load errors.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::Config;
use crate::engine::{Engine, EngineSettings, Limits, SharedRuleSet};
use crate::model::{Cart, DecisionKind, Platform};
use crate::offline::{self, Offline, PlatformSettings};
use crate::protocols::{Body, messenger};
use crate::records::compare::{comparable, diff};
use crate::strict::{self, Strict};
use crate::tenants::ModuleSource;

/// Arguments of `rulegate test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// The directory of fixtures (`*.json`).
    dir: PathBuf,
    /// The module: a `.wasm` path, `example:<name>` or `native:<name>`. Defaults to the
    /// tenant's module with `--config` and `--tenant`.
    #[arg(long, value_parser = super::module_argument)]
    module: Option<ModuleSource>,
    /// A configuration file whose tenant's limits (and module) the fixtures run with.
    #[arg(long, requires = "tenant")]
    config: Option<PathBuf>,
    /// The tenant of `--config`.
    #[arg(long, requires = "config")]
    tenant: Option<String>,
    /// Print the report as JSON.
    #[arg(long, conflicts_with = "junit")]
    json: bool,
    /// Also write a JUnit XML report to this file.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Accept what the module answers now: rewrite each fixture's `expect` with it.
    #[arg(long)]
    bless: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    #[serde(default)]
    description: Option<String>,
    #[serde(default, deserialize_with = "platform")]
    platform: Option<Platform>,
    #[serde(default)]
    callback: Option<String>,
    #[serde(default)]
    settings: FixtureSettings,
    #[serde(default)]
    input: Option<Value>,
    #[serde(default)]
    input_file: Option<PathBuf>,
    expect: serde_json::Map<String, Value>,
    #[serde(default)]
    max_fuel: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureSettings {
    #[serde(default)]
    order_id: Option<String>,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    country: Option<String>,
    #[serde(default)]
    payload: messenger::PayloadFormat,
    #[serde(default)]
    prices_include_tax: bool,
}

/// A fixture's `platform`, spelled as on the command line.
fn platform<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Platform>, D::Error> {
    let name = String::deserialize(deserializer)?;
    offline::platform(&name)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// The result of one fixture.
#[derive(Debug, Serialize)]
struct FixtureResult {
    name: String,
    description: Option<String>,
    passed: bool,
    fuel: u64,
    failures: Vec<String>,
    /// What the module answered, in the form of `expect`.
    #[serde(skip)]
    actual: serde_json::Map<String, Value>,
}

#[derive(Debug, Serialize)]
struct Report {
    module: String,
    passed: usize,
    failed: usize,
    fixtures: Vec<FixtureResult>,
}

pub fn test(args: TestArgs) -> anyhow::Result<ExitCode> {
    let (module, limits) = module_and_limits(&args)?;
    let engine = Engine::new(EngineSettings::default(), None)?;
    let rules = module.load(&engine)?;
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&args.dir)
        .with_context(|| format!("reading {}", args.dir.display()))?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()?;
    paths.retain(|path| path.extension().is_some_and(|ext| ext == "json"));
    paths.sort();
    anyhow::ensure!(
        !paths.is_empty(),
        "{} holds no fixtures (*.json)",
        args.dir.display()
    );
    let offline = Offline::new()?;
    let mut fixtures = Vec::new();
    for path in &paths {
        let fixture = read_fixture(path)?;
        let result = run_fixture(&offline, path, &fixture, &rules, limits)?;
        if args.bless && !result.passed {
            bless(path, &result.actual)?;
        }
        fixtures.push(result);
    }
    let passed = fixtures.iter().filter(|f| f.passed).count();
    let report = Report {
        module: rules.id().to_string(),
        passed,
        failed: fixtures.len() - passed,
        fixtures,
    };
    if let Some(path) = &args.junit {
        std::fs::write(path, junit(&report, &args.dir))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(if report.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn module_and_limits(args: &TestArgs) -> anyhow::Result<(ModuleSource, Limits)> {
    let tenant = match (&args.config, &args.tenant) {
        (Some(config), Some(tenant)) => {
            let config = Config::load(Some(config))?;
            Some(
                config
                    .tenants
                    .get(tenant)
                    .cloned()
                    .with_context(|| format!("the configuration has no tenant {tenant:?}"))?,
            )
        }
        _ => None,
    };
    let limits = tenant.as_ref().map(|t| t.limits).unwrap_or_default();
    let module = match (&args.module, &tenant) {
        (Some(module), _) => module.clone(),
        (None, Some(tenant)) => tenant.module.parse()?,
        (None, None) => anyhow::bail!("give --module, or --config and --tenant"),
    };
    Ok((module, limits))
}

fn read_fixture(path: &Path) -> anyhow::Result<Fixture> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
    serde_path_to_error::deserialize(Strict(&mut deserializer)).map_err(|error| {
        anyhow::anyhow!("{}: `{}`: {}", path.display(), error.path(), error.inner())
    })
}

fn input_bytes(path: &Path, fixture: &Fixture) -> anyhow::Result<Vec<u8>> {
    match (&fixture.input, &fixture.input_file) {
        (Some(input), None) => Ok(serde_json::to_vec(input)?),
        (None, Some(file)) => {
            let file = path.parent().unwrap_or(Path::new(".")).join(file);
            std::fs::read(&file)
                .with_context(|| format!("{}: reading {}", path.display(), file.display()))
        }
        _ => anyhow::bail!(
            "{}: give exactly one of `input` and `input_file`",
            path.display()
        ),
    }
}

fn run_fixture(
    offline: &Offline,
    path: &Path,
    fixture: &Fixture,
    rules: &SharedRuleSet,
    limits: Limits,
) -> anyhow::Result<FixtureResult> {
    let input = input_bytes(path, fixture)?;
    let mut failures = Vec::new();
    let mut actual = serde_json::Map::new();
    let fuel = match fixture.platform {
        Some(platform) => {
            let settings = PlatformSettings {
                order_id: fixture.settings.order_id.clone(),
                currency: fixture.settings.currency.clone(),
                country: fixture.settings.country.clone(),
                payload: fixture.settings.payload,
                prices_include_tax: fixture.settings.prices_include_tax,
            };
            let answer = offline
                .answer(
                    platform,
                    fixture.callback.as_deref(),
                    &input,
                    &settings,
                    rules,
                    limits,
                )
                .with_context(|| path.display().to_string())?;
            for (decision, failure) in answer.decisions.iter().flat_map(|d| d.fallbacks()) {
                failures.push(format!(
                    "the failure policy answered {decision}: {}",
                    failure.to_string().lines().next().unwrap_or("")
                ));
            }
            let reply = &answer.reply;
            let body = match &reply.body {
                Body::Empty => Value::Null,
                Body::Json(value) => value.clone(),
                Body::RawJson(text) => serde_json::from_str(text).unwrap_or(Value::Null),
                Body::Text(text) => Value::String(text.clone()),
            };
            actual.insert("status".into(), Value::from(reply.status));
            actual.insert("body".into(), body.clone());
            if fixture.expect.is_empty() {
                failures.push("`expect` is empty (run with --bless to fill it in)".into());
            }
            for (key, expected) in &fixture.expect {
                match key.as_str() {
                    "status" => {
                        if expected != &Value::from(reply.status) {
                            failures.push(format!("status: {expected} → {}", reply.status));
                        }
                    }
                    "body" => {
                        let mut fields = Vec::new();
                        diff("body", expected, &body, &mut fields);
                        failures.extend(fields);
                    }
                    other => anyhow::bail!(
                        "{}: `expect.{other}`: a platform fixture expects `status` and `body`",
                        path.display()
                    ),
                }
            }
            answer.decisions.map_or(0, |d| d.usage.fuel)
        }
        None => {
            let cart: Cart = strict::from_slice(&input).with_context(|| {
                format!("{}: the input is not a canonical cart", path.display())
            })?;
            let mut session = rules.session(&limits);
            // An empty expectation (a fixture to bless) runs every decision.
            let all = fixture.expect.is_empty();
            for kind in DecisionKind::ALL {
                let decision = kind.export_name();
                let expected = fixture.expect.get(decision);
                if expected.is_none() && !all {
                    continue;
                }
                let (answered, _) = comparable(session.decide(kind, &cart));
                let mut fields = Vec::new();
                diff(
                    decision,
                    expected.unwrap_or(&Value::Null),
                    &answered,
                    &mut fields,
                );
                failures.extend(fields);
                actual.insert(decision.into(), answered);
            }
            if let Some(other) = fixture
                .expect
                .keys()
                .find(|key| DecisionKind::from_export_name(key).is_none())
            {
                anyhow::bail!(
                    "{}: `expect.{other}`: a cart fixture expects `tax`, `shipping-options` or `validate`",
                    path.display()
                );
            }
            session.usage().fuel
        }
    };
    if let Some(ceiling) = fixture.max_fuel
        && fuel > ceiling
    {
        failures.push(format!("fuel {fuel} is above the ceiling of {ceiling}"));
    }
    Ok(FixtureResult {
        name: path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default(),
        description: fixture.description.clone(),
        passed: failures.is_empty(),
        fuel,
        failures,
        actual,
    })
}

/// Rewrites the fixture's `expect` with what the module answered.
fn bless(path: &Path, actual: &serde_json::Map<String, Value>) -> anyhow::Result<()> {
    let mut document: Value = serde_json::from_slice(&std::fs::read(path)?)?;
    document["expect"] = Value::Object(actual.clone());
    let mut text = serde_json::to_string_pretty(&document)?;
    text.push('\n');
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    println!("blessed {}", path.display());
    Ok(())
}

fn print_report(report: &Report) {
    println!("module {}", report.module);
    for fixture in &report.fixtures {
        let status = if fixture.passed { "ok  " } else { "FAIL" };
        println!("{status} {} (fuel {})", fixture.name, fixture.fuel);
        for failure in &fixture.failures {
            println!("       {failure}");
        }
    }
    println!(
        "\n{} fixtures: {} passed, {} failed",
        report.passed + report.failed,
        report.passed,
        report.failed
    );
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn junit(report: &Report, dir: &Path) -> String {
    let suite = xml(&dir.display().to_string());
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"{suite}\" tests=\"{}\" failures=\"{}\">\n",
        report.passed + report.failed,
        report.failed
    );
    for fixture in &report.fixtures {
        out.push_str(&format!(
            "  <testcase classname=\"{suite}\" name=\"{}\">\n",
            xml(&fixture.name)
        ));
        if !fixture.passed {
            out.push_str(&format!(
                "    <failure message=\"{}\">{}</failure>\n",
                xml(fixture.failures.first().map(String::as_str).unwrap_or("")),
                xml(&fixture.failures.join("\n"))
            ));
        }
        out.push_str("  </testcase>\n");
    }
    out.push_str("</testsuite>\n");
    out
}
