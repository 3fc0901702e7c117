//! rulegate's performance harness: `cargo bench -p rulegate --bench performance`.
//!
//! Measures, in one run on this machine, and writes `docs/PERFORMANCE.md`:
//! - the engine: one decision on a fresh isolated instance, on a reused instance, and the
//!   same rules compiled natively; 5-line and 200-line carts; fuel per decision;
//! - end to end: the real server on loopback under a keep-alive load generator, KCO
//!   address_update, Klix shipping cost and Messenger checkout_update, wasm rules and
//!   native rules side by side, at 1, 16 and 64 connections;
//! - isolation: a healthy tenant's latency while another tenant's module burns its
//!   deadline on every call;
//! - scale: start-up with 1,000 tenants from the precompiled cache versus compiling,
//!   and resident memory per idle tenant; 100 JavaScript tenants: disk per artifact,
//!   restart time from the cache, resident memory idle and serving;
//! - fleet: three hosts sharing one PostgreSQL (a cluster of its own, from the
//!   machine's packages): how long an activation takes to reach the other hosts, with
//!   and without notifications, and callback throughput with the shared store against
//!   the state directory.
//!
//! Every figure is quoted next to a baseline measured in the same run.
//! `RULEGATE_BENCH_QUICK=1` shortens every phase (for a smoke run);
//! `RULEGATE_BENCH_ONLY=engine,end-to-end,scale` runs only the phases named (and then
//! prints the report without writing the file).

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use rulegate::engine::{Engine, EngineSettings, Limits, Session, SharedRuleSet};
use rulegate::model::{Address, Cart, Line, LineKind, Platform, Price, empty_cart};

/// The guest build the build scripts use, for the test module the isolation run needs
/// and the wasip2 build of an example.
mod guests {
    include!("../build_guests.rs");

    pub fn build(
        repository: &Path,
        workspace: &Path,
        target: &str,
        crates: &[&str],
    ) -> Vec<(String, PathBuf)> {
        build_guests(repository, workspace, target, crates)
    }
}

/// The example `name` built as a wasm32-wasip2 component: the build rules had before
/// the SDK's core-module build, measured beside it.
fn wasip2_example(name: &str) -> PathBuf {
    let examples = repository().join("example-rules");
    guests::build(&repository(), &examples, "wasm32-wasip2", &[name])
        .remove(0)
        .1
}

fn quick() -> bool {
    std::env::var_os("RULEGATE_BENCH_QUICK").is_some()
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ sits in the repository")
        .to_path_buf()
}

/// A PostgreSQL cluster of the fleet phase's own, as the fleet's tests start one (they
/// also stop and restart it, which the benchmark does not).
#[path = "../../tests/src/postgres.rs"]
#[allow(dead_code)]
mod postgres;

/// The phases `RULEGATE_BENCH_ONLY` names, or `None` for all of them.
fn only() -> Option<Vec<String>> {
    let only = std::env::var("RULEGATE_BENCH_ONLY").ok()?;
    Some(
        only.split(',')
            .map(|phase| phase.trim().to_string())
            .collect(),
    )
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    type Phase = fn(&mut String) -> anyhow::Result<()>;
    let phases: [(&str, Phase); 5] = [
        ("engine", engine),
        ("end-to-end", end_to_end),
        ("scale", scale),
        ("scale-javascript", scale_javascript),
        ("fleet", fleet),
    ];
    let only = only();
    if let Some(names) = &only
        && let Some(unknown) = names
            .iter()
            .find(|name| !phases.iter().any(|(phase, _)| phase == name))
    {
        anyhow::bail!(
            "RULEGATE_BENCH_ONLY: no phase {unknown:?} (engine, end-to-end, scale, scale-javascript, fleet)"
        );
    }
    let mut report = String::new();
    let began = Instant::now();
    machine(&mut report)?;
    for (name, phase) in phases {
        if only
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n == name))
        {
            eprintln!("{name} …");
            phase(&mut report)?;
        }
    }
    let _ = writeln!(
        report,
        "\nThe whole run took {:.0} s.",
        began.elapsed().as_secs_f64()
    );
    if only.is_some() {
        println!("{report}");
        return Ok(());
    }
    let path = repository().join("docs/PERFORMANCE.md");
    std::fs::create_dir_all(path.parent().unwrap())?;
    std::fs::write(&path, &report)?;
    println!("{report}");
    eprintln!("wrote {}", path.display());
    Ok(())
}

fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .unwrap_or_default()
}

fn machine(out: &mut String) -> anyhow::Result<()> {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|line| line.starts_with("model name"))
        .and_then(|line| line.split(':').nth(1))
        .unwrap_or("unknown")
        .trim()
        .to_string();
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    writeln!(out, "# Performance\n")?;
    writeln!(
        out,
        "Measured by `cargo bench -p rulegate --bench performance`, which writes this file. \
         The machines are shared and noisy, so figures are quoted as ratios against a baseline \
         measured in the same run; absolute times are only for orientation.\n"
    )?;
    writeln!(out, "| machine | |\n|---|---|")?;
    writeln!(out, "| CPU | {cpu} × {cores} |")?;
    writeln!(out, "| kernel | {} |", command_output("uname", &["-r"]))?;
    writeln!(out, "| rustc | {} |", command_output("rustc", &["-V"]))?;
    writeln!(out, "| wasmtime | 48.0.8 |")?;
    writeln!(
        out,
        "| mode | {} |",
        if quick() {
            "quick (RULEGATE_BENCH_QUICK)"
        } else {
            "full"
        }
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------
// Engine

fn us_cart(lines: usize) -> Cart {
    let mut cart = empty_cart(Platform::Kco, "USD", 1_767_225_600_000);
    cart.lines = (0..lines)
        .map(|index| Line {
            reference: format!("SKU-{index}"),
            name: format!("Item {index}"),
            kind: LineKind::Physical,
            quantity: 1_000 * (1 + index as u64 % 3),
            unit_price: Some(Price {
                amount: 1_000 + 137 * index as i64,
                includes_tax: false,
            }),
            discount: 0,
            tax_rate: None,
            unit_weight_grams: Some(250),
            attributes: Vec::new(),
        })
        .collect();
    cart.shipping_address = Some(Address {
        country: "US".into(),
        region: Some("TX".into()),
        postal_code: Some("78701".into()),
        city: Some("Austin".into()),
        street_lines: vec!["1 Congress Ave".into()],
        organization: None,
    });
    cart
}

struct Timing {
    median: Duration,
    p99: Duration,
}

fn timing(mut samples: Vec<Duration>) -> Timing {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    Timing {
        median: at(0.5),
        p99: at(0.99),
    }
}

fn micros(duration: Duration) -> String {
    format!("{:.2} µs", duration.as_secs_f64() * 1e6)
}

/// The decisions one sample asks for: a single shipping decision, or the shipping and
/// tax decisions a KCO address_update or Messenger checkout_update asks for, on one
/// session.
#[derive(Clone, Copy, PartialEq)]
enum Ask {
    Shipping,
    ShippingAndTax,
}

/// Runs `ask` on `session` as the server does: shipping and tax as one quote (one call
/// of a contract 0.2.0 module, two of a 0.1.0 one).
fn ask(session: &mut dyn Session, cart: &Cart, ask: Ask) {
    match ask {
        Ask::Shipping => {
            std::hint::black_box(session.shipping_options(cart).unwrap().unwrap());
        }
        Ask::ShippingAndTax => {
            let quoted = session.quote(cart);
            std::hint::black_box(quoted.shipping.unwrap().unwrap());
            std::hint::black_box(quoted.tax.unwrap().unwrap());
        }
    }
}

/// `ask` once per sample: on a fresh instance each time, or on one reused instance.
fn decide_samples(
    rules: &SharedRuleSet,
    cart: &Cart,
    fresh: bool,
    asked: Ask,
    samples: usize,
) -> (Timing, u64, u64) {
    let (durations, fuel, memory) = decide_durations(rules, cart, fresh, asked, samples);
    (timing(durations), fuel, memory)
}

/// What [`decide_samples`] measures, sample by sample (after a tenth as warm-up).
fn decide_durations(
    rules: &SharedRuleSet,
    cart: &Cart,
    fresh: bool,
    asked: Ask,
    samples: usize,
) -> (Vec<Duration>, u64, u64) {
    let limits = Limits::default();
    let mut durations = Vec::with_capacity(samples);
    let (fuel, memory) = {
        let mut session = rules.session(&limits);
        ask(session.as_mut(), cart, asked);
        (session.usage().fuel, session.usage().peak_memory_bytes)
    };
    // A reused instance is replaced (and instantiated), untimed, every `REUSES` calls:
    // the guest SDK's bump allocator never frees, so one instance cannot take calls
    // forever.
    const REUSES: usize = 25;
    let mut reused = rules.session(&limits);
    for call in 0..samples / 10 + samples {
        if !fresh && call % REUSES == 0 {
            reused = rules.session(&limits);
            ask(reused.as_mut(), cart, asked);
        }
        let began = Instant::now();
        if fresh {
            ask(rules.session(&limits).as_mut(), cart, asked);
        } else {
            ask(reused.as_mut(), cart, asked);
        }
        if call >= samples / 10 {
            durations.push(began.elapsed());
        }
    }
    (durations, fuel, memory)
}

/// Fresh instance + shipping + tax on `cart`, for each of `rules` (each on an engine of
/// its own), in six alternating turns: the median of each one's turn medians.
fn alternate(rules: &[SharedRuleSet], cart: &Cart, samples: usize) -> Vec<Duration> {
    let mut turns = vec![Vec::new(); rules.len()];
    for _ in 0..6 {
        for (side, rules) in rules.iter().enumerate() {
            let (timing, _, _) =
                decide_samples(rules, cart, true, Ask::ShippingAndTax, samples / 6);
            turns[side].push(timing.median);
        }
    }
    turns
        .into_iter()
        .map(|mut medians| {
            medians.sort();
            medians[medians.len() / 2]
        })
        .collect()
}

/// What resetting slots without `PAGEMAP_SCAN` (the safe path while swap is active)
/// costs a fresh decision.
fn slot_reset(out: &mut String, samples: usize) -> anyhow::Result<()> {
    let example = rulegate::examples::find("us-shop").expect("the US example");
    let engines = [true, false].map(|pagemap_scan| {
        Engine::new(
            EngineSettings {
                pagemap_scan,
                ..EngineSettings::default()
            },
            None,
        )
    });
    let [fast, safe] = engines;
    let (fast, safe) = (fast?, safe?);
    let rules: [SharedRuleSet; 2] = [fast.load(example.wasm)?, safe.load(example.wasm)?];
    let medians = alternate(&rules, &us_cart(5), samples);
    let (with_scan, without) = (medians[0], medians[1]);
    writeln!(
        out,
        "\nSlot reset, fresh instance + shipping + tax on 5 lines, each on an engine of its own \
         in six alternating turns (median of the turns' medians): with `PAGEMAP_SCAN` \
         ({:?} on this host) {}, without it (the path used while swap is active) {}: {:.2}×.",
        fast.slot_reset(),
        micros(with_scan),
        micros(without),
        without.as_secs_f64() / with_scan.as_secs_f64()
    )?;
    Ok(())
}

/// How much of a reused slot is restored in place (`keep_resident_bytes`): fresh
/// instance + shipping + tax on 5 lines on slots pre-used by 200-line carts, alone and
/// on two threads at once (where decommitting pages costs TLB shootdowns), each size on
/// an engine of its own, in six alternating turns (median of the turns' medians).
fn keep_resident(out: &mut String, samples: usize) -> anyhow::Result<()> {
    let example = rulegate::examples::find("us-shop").expect("the US example");
    let sizes = [64 << 10, 256 << 10, 1 << 20, 4 << 20];
    let rules = sizes
        .iter()
        .map(|&keep_resident_bytes| -> anyhow::Result<SharedRuleSet> {
            let engine = Engine::new(
                EngineSettings {
                    keep_resident_bytes,
                    ..EngineSettings::default()
                },
                None,
            )?;
            let rules: SharedRuleSet = engine.load(example.wasm)?;
            decide_durations(&rules, &us_cart(200), true, Ask::ShippingAndTax, 1_000);
            Ok(rules)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let cart = us_cart(5);
    let alone = alternate(&rules, &cart, samples);
    // Two threads at once: each sample's time on either thread.
    let mut turns = vec![Vec::new(); rules.len()];
    for _ in 0..6 {
        for (side, rules) in rules.iter().enumerate() {
            let durations = std::thread::scope(|scope| {
                let threads = [0, 1].map(|_| {
                    scope.spawn(|| {
                        decide_durations(rules, &cart, true, Ask::ShippingAndTax, samples / 12).0
                    })
                });
                threads
                    .into_iter()
                    .flat_map(|thread| thread.join().expect("a bench thread"))
                    .collect::<Vec<_>>()
            });
            turns[side].push(timing(durations).median);
        }
    }
    let together: Vec<Duration> = turns
        .into_iter()
        .map(|mut medians| {
            medians.sort();
            medians[medians.len() / 2]
        })
        .collect();
    writeln!(
        out,
        "\nHow much of a reused slot is restored in place (`[engine] keep_resident_bytes`), \
         fresh instance + shipping + tax on 5 lines on slots pre-used by 200-line carts, each \
         size on an engine of its own in six alternating turns (median of the turns' \
         medians), on one thread and on two at once:\n\n\
         | keep resident | one thread | two threads |\n|---|---|---|"
    )?;
    for ((size, alone), together) in sizes.iter().zip(&alone).zip(&together) {
        writeln!(
            out,
            "| {} KiB | {} | {} |",
            size >> 10,
            micros(*alone),
            micros(*together)
        )?;
    }
    Ok(())
}

/// The US shop as the SDK builds it beside other builds of the same rules, fresh
/// instance + shipping + tax on 5 lines, on clean and on pre-used slots.
fn builds(out: &mut String, samples: usize) -> anyhow::Result<()> {
    let example = rulegate::examples::find("us-shop").expect("the US example");
    let comparisons = [
        (
            "The two builds of the US shop",
            "SDK core module",
            "wasip2 component",
            std::fs::read(wasip2_example("us-shop"))?,
        ),
        (
            "The US shop as the SDK builds it (contract 0.2.0: shipping and tax in one `quote` \
             call) and as the SDK of contract 0.1.0 built it (`tests/fixtures/modules/`: two \
             calls)",
            "0.2.0, one call",
            "0.1.0, two calls",
            std::fs::read(contract_0_1_example())?,
        ),
    ];
    for (title, ours, theirs, other) in comparisons {
        let engines = (0..4)
            .map(|_| Engine::new(EngineSettings::default(), None))
            .collect::<anyhow::Result<Vec<Engine>>>()?;
        let rules: Vec<SharedRuleSet> = vec![
            engines[0].load(example.wasm)?,
            engines[1].load(&other)?,
            engines[2].load(example.wasm)?,
            engines[3].load(&other)?,
        ];
        for used in &rules[2..] {
            decide_durations(used, &us_cart(200), true, Ask::ShippingAndTax, 1_000);
        }
        let medians = alternate(&rules, &us_cart(5), samples);
        writeln!(
            out,
            "\n{title}, fresh instance + shipping + tax on 5 lines, each on an engine of its \
             own in six alternating turns (median of the turns' medians):\n\n\
             | slots | {ours} | {theirs} | ratio |\n|---|---|---|---|"
        )?;
        for (label, mine, other) in [
            ("clean", medians[0], medians[1]),
            ("pre-used", medians[2], medians[3]),
        ] {
            writeln!(
                out,
                "| {label} | {} | {} | {:.2}× |",
                micros(mine),
                micros(other),
                mine.as_secs_f64() / other.as_secs_f64()
            )?;
        }
    }
    Ok(())
}

/// The US shop as the SDK of contract 0.1.0 built it.
fn contract_0_1_example() -> PathBuf {
    repository().join("tests/fixtures/modules/us-shop-contract-0.1.0.wasm")
}

/// Runs `program args` in `dir`, failing with its output.
fn run_in(dir: &Path, program: &str, args: &[&str]) -> anyhow::Result<()> {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|error| {
            anyhow::anyhow!(
                "running {program} (the TypeScript twin needs Node.js 20+ and npm): {error}"
            )
        })?;
    anyhow::ensure!(
        output.status.success(),
        "{program} {args:?} in {}: {}{}",
        dir.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

/// The TypeScript twin of the US shop (`example-rules-js/us-shop`), built with the SDK's
/// `rulegate-build`.
fn typescript_us_shop() -> anyhow::Result<Vec<u8>> {
    let sdk = repository().join("guest-sdk-js");
    let shop = repository().join("example-rules-js/us-shop");
    for dir in [&sdk, &shop] {
        run_in(
            dir,
            "npm",
            &["ci", "--no-audit", "--no-fund", "--prefer-offline"],
        )?;
    }
    run_in(&sdk, "npm", &["run", "build"])?;
    run_in(&shop, "npm", &["run", "build"])?;
    Ok(std::fs::read(shop.join("rules.wasm"))?)
}

/// The US shop in TypeScript beside its Rust twin: a fresh instance per KCO session,
/// compile time, and what the artifact costs.
fn typescript(out: &mut String) -> anyhow::Result<()> {
    let bytes = typescript_us_shop()?;
    let rust = rulegate::examples::find("us-shop").expect("the US example");
    let samples = if quick() { 60 } else { 600 };
    let row = |label: &str, module: &[u8]| -> anyhow::Result<(String, Duration, u64)> {
        let cache_dir = tempfile::tempdir()?;
        let cached = || -> anyhow::Result<Engine> {
            Engine::new(
                EngineSettings::default(),
                Some(rulegate::engine::ArtifactCache::open(cache_dir.path())?),
            )
        };
        let began = Instant::now();
        let rules: SharedRuleSet = cached()?.load(module)?;
        let compile = began.elapsed();
        let artifact: u64 = std::fs::read_dir(cache_dir.path())?
            .map(|entry| entry.and_then(|entry| entry.metadata()).map(|m| m.len()))
            .sum::<std::io::Result<u64>>()?;
        let began = Instant::now();
        let _again: SharedRuleSet = cached()?.load(module)?;
        let from_cache = began.elapsed();
        let (timing, fuel, memory) =
            decide_samples(&rules, &us_cart(5), true, Ask::ShippingAndTax, samples);
        let line = format!(
            "| {label} | {} | {} | {fuel} | {} KiB | {:.1} MB | {:.2} s | {:.1} MB | {} ms |",
            micros(timing.median),
            micros(timing.p99),
            memory >> 10,
            module.len() as f64 / 1e6,
            compile.as_secs_f64(),
            artifact as f64 / 1e6,
            from_cache.as_millis(),
        );
        Ok((line, timing.median, fuel))
    };
    writeln!(
        out,
        "\nThe US shop in TypeScript (`example-rules-js/us-shop`, built with `rulegate-build`) \
         beside its Rust twin: fresh instance + shipping + tax on 5 lines, {samples} samples; \
         compile time on a fresh engine, the precompiled artifact on disk, and loading it from \
         that cache on a fresh engine.\n\n\
         | rules | fresh median | fresh p99 | fuel | memory | module | compile | artifact | load from cache |\n\
         |---|---|---|---|---|---|---|---|---|"
    )?;
    let (line, rust_median, rust_fuel) = row("Rust (SDK core module)", rust.wasm)?;
    writeln!(out, "{line}")?;
    let (line, ts_median, ts_fuel) = row("TypeScript", &bytes)?;
    writeln!(out, "{line}")?;
    writeln!(
        out,
        "\nTypeScript ÷ Rust: {:.0}× the time, {:.0}× the fuel (targets: ≤ 1 ms median, ≤ 10 M fuel).",
        ts_median.as_secs_f64() / rust_median.as_secs_f64(),
        ts_fuel as f64 / rust_fuel as f64
    )?;
    Ok(())
}

fn engine(out: &mut String) -> anyhow::Result<()> {
    let engine = Engine::new(EngineSettings::default(), None)?;
    let example = rulegate::examples::find("us-shop").expect("the US example");
    let native = example.native();
    let samples = if quick() { 2_000 } else { 20_000 };
    writeln!(out, "\n## Engine: decisions on one session, US shop\n")?;
    writeln!(
        out,
        "One shipping decision, and the shipping and tax decisions a KCO address_update or \
         Messenger checkout_update asks for, on a fresh isolated instance per sample (store, \
         instantiate, calls), on a reused instance, and with the same rules compiled \
         natively, {samples} samples each, in six alternating turns. Each wasm column runs on \
         an engine of its own made for its row, so no row inherits another's slot history; \
         \"pre-used slots\" first runs 200-line carts on its engine, as a busy server's slots \
         have. Fuel and memory are per sample.\n"
    )?;
    writeln!(
        out,
        "| cart | native median | wasm reused median | wasm fresh median | wasm fresh p99 | fresh, pre-used slots median | fresh ÷ native | pre-used ÷ native | fresh ÷ reused | fuel | memory |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|")?;
    let rows = [
        (5, Ask::Shipping, "5 lines"),
        (200, Ask::Shipping, "200 lines"),
        (5, Ask::ShippingAndTax, "5 lines, shipping + tax"),
    ];
    for (lines, asked, label) in rows {
        let cart = us_cart(lines);
        // Reused, fresh on clean slots, fresh on pre-used slots: an engine each.
        let engines = (0..3)
            .map(|_| Engine::new(EngineSettings::default(), None))
            .collect::<anyhow::Result<Vec<Engine>>>()?;
        let wasm = engines
            .iter()
            .map(|engine| {
                engine
                    .load(example.wasm)
                    .map(|rules| -> SharedRuleSet { rules })
            })
            .collect::<Result<Vec<SharedRuleSet>, _>>()?;
        decide_durations(&wasm[2], &us_cart(200), true, Ask::ShippingAndTax, 1_000);
        let mut durations: [Vec<Duration>; 4] = Default::default();
        let (mut fuel, mut memory) = (0, 0);
        for _ in 0..6 {
            let turn = samples / 6;
            durations[0].extend(decide_durations(&native, &cart, true, asked, turn).0);
            durations[1].extend(decide_durations(&wasm[0], &cart, false, asked, turn).0);
            let (fresh, turn_fuel, turn_memory) =
                decide_durations(&wasm[1], &cart, true, asked, turn);
            (fuel, memory) = (turn_fuel, turn_memory);
            durations[2].extend(fresh);
            durations[3].extend(decide_durations(&wasm[2], &cart, true, asked, turn).0);
        }
        let [native_timing, reused, fresh, used] = durations.map(timing);
        writeln!(
            out,
            "| {label} | {} | {} | {} | {} | {} | {:.1}× | {:.1}× | {:.2}× | {fuel} | {} KiB |",
            micros(native_timing.median),
            micros(reused.median),
            micros(fresh.median),
            micros(fresh.p99),
            micros(used.median),
            fresh.median.as_secs_f64() / native_timing.median.as_secs_f64(),
            used.median.as_secs_f64() / native_timing.median.as_secs_f64(),
            fresh.median.as_secs_f64() / reused.median.as_secs_f64(),
            memory >> 10,
        )?;
    }
    builds(out, samples)?;
    typescript(out)?;
    keep_resident(out, samples)?;
    slot_reset(out, samples)?;
    let mut fuel_line = String::new();
    for name in ["eu-shop", "us-shop", "catalog-shop"] {
        let rules: SharedRuleSet = engine.load(rulegate::examples::find(name).unwrap().wasm)?;
        let cart = match name {
            "us-shop" => us_cart(200),
            _ => {
                let mut cart = us_cart(200);
                cart.currency = if name == "eu-shop" { "EUR" } else { "SEK" }.into();
                let country = if name == "eu-shop" { "DE" } else { "SE" };
                if let Some(address) = cart.shipping_address.as_mut() {
                    address.country = country.into();
                    address.region = None;
                }
                for line in &mut cart.lines {
                    line.unit_price = line.unit_price.map(|price| Price {
                        includes_tax: true,
                        ..price
                    });
                }
                cart
            }
        };
        let mut session = rules.session(&Limits::default());
        let _ = session.tax(&cart);
        let tax = session.usage().fuel;
        let _ = session.shipping_options(&cart);
        let shipping = session.usage().fuel - tax;
        let _ = session.validate(&cart);
        let validate = session.usage().fuel - tax - shipping;
        let _ = writeln!(fuel_line, "| {name} | {tax} | {shipping} | {validate} |");
    }
    writeln!(
        out,
        "\nFuel per decision on a 200-line cart (target < 100,000):\n\n| example | tax | shipping-options | validate |\n|---|---|---|---|\n{fuel_line}"
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------
// End to end

/// A running `rulegate serve`, killed on drop.
struct Served {
    child: Child,
    address: SocketAddr,
    admin: Option<SocketAddr>,
    began: Instant,
    ready_after: Duration,
}

impl Served {
    fn start(config: &Path, workdir: &Path) -> anyhow::Result<Served> {
        Served::start_with(config, workdir, &[])
    }

    /// Starts `rulegate serve` on `config` with the extra environment `env`.
    fn start_with(config: &Path, workdir: &Path, env: &[(&str, &str)]) -> anyhow::Result<Served> {
        let began = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_rulegate"))
            .current_dir(workdir)
            .args(["serve", "--config"])
            .arg(config)
            .env("RULEGATE_LOG", "error")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child.stdout.take().expect("piped");
        let mut lines = BufReader::new(stdout).lines();
        let mut admin = None;
        let address = loop {
            let line = lines
                .next()
                .ok_or_else(|| anyhow::anyhow!("rulegate serve exited before listening"))??;
            if let Some(url) = line.strip_prefix("rulegate admin on http://") {
                admin = Some(url.trim().parse()?);
            }
            if let Some(url) = line.strip_prefix("rulegate listening on http://") {
                break url.trim().parse()?;
            }
        };
        Ok(Served {
            child,
            address,
            admin,
            began,
            ready_after: began.elapsed(),
        })
    }

    /// Where load for this server goes.
    fn target(&self) -> Target {
        Target {
            address: self.address,
            pid: self.child.id(),
        }
    }

    fn resident_bytes(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default()
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| {
                value
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map_or(0, |kib| kib * 1024)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.began;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request, as bytes, sent over and over on keep-alive connections.
#[derive(Clone)]
struct Scenario {
    name: &'static str,
    request: Vec<u8>,
}

fn request(target: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut head = format!(
        "POST {target} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Reads one response; its status, or an error.
async fn read_response<R: tokio::io::AsyncBufRead + Unpin>(reader: &mut R) -> std::io::Result<u16> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt};
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut length = 0usize;
    loop {
        line.clear();
        reader.read_line(&mut line).await?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await?;
    Ok(status)
}

struct LoadResult {
    errors: usize,
    per_second: f64,
    p50: Duration,
    p99: Duration,
    /// The server's CPU time (all its threads) per answered request.
    server_cpu_per_request: Duration,
}

/// `a`'s server CPU per request against `b`'s: `a ÷ b = ratio`.
fn cpu_ratio(a: &LoadResult, b: &LoadResult) -> String {
    format!(
        "{} ÷ {} = {:.2}×",
        micros(a.server_cpu_per_request),
        micros(b.server_cpu_per_request),
        a.server_cpu_per_request.as_secs_f64() / b.server_cpu_per_request.as_secs_f64().max(1e-12)
    )
}

/// What one stretch of load measured.
#[derive(Default)]
struct Measured {
    latencies: Vec<Duration>,
    errors: usize,
    elapsed: Duration,
    server_cpu: Duration,
}

impl Measured {
    fn add(&mut self, mut other: Measured) {
        self.latencies.append(&mut other.latencies);
        self.errors += other.errors;
        self.elapsed += other.elapsed;
        self.server_cpu += other.server_cpu;
    }

    fn result(self) -> LoadResult {
        let requests = self.latencies.len();
        let timing = if self.latencies.is_empty() {
            Timing {
                median: Duration::ZERO,
                p99: Duration::ZERO,
            }
        } else {
            timing(self.latencies)
        };
        LoadResult {
            errors: self.errors,
            per_second: requests as f64 / self.elapsed.as_secs_f64().max(1e-9),
            p50: timing.median,
            p99: timing.p99,
            server_cpu_per_request: self.server_cpu / requests.max(1) as u32,
        }
    }
}

/// A runtime for the load generator: one thread, like wrk's event loop, so the load
/// generator takes as little of the machine as it can.
fn load_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the load generator")
}

/// Where the load goes: the server's address, and its process, whose CPU time is read.
#[derive(Clone, Copy)]
struct Target {
    address: SocketAddr,
    pid: u32,
}

impl Target {
    /// CPU time the server's threads have used so far: the sum of their run times in
    /// `/proc/PID/task/*/schedstat` (nanoseconds, unlike the clock ticks of `stat`).
    fn server_cpu(&self) -> Duration {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", self.pid));
        let nanos: u64 = tasks
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
            .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
            .sum();
        Duration::from_nanos(nanos)
    }
}

/// `connections` keep-alive clients send `scenario` for `duration` after a warm-up.
fn load(target: Target, scenario: &Scenario, connections: usize, duration: Duration) -> LoadResult {
    load_runtime()
        .block_on(stretch(
            target,
            scenario,
            connections,
            duration / 4,
            duration,
        ))
        .result()
}

/// The same load with two scenarios taking turns: six alternating stretches of
/// `duration / 6` each, so that a noisy neighbour that comes and goes during the run
/// weighs on both sides alike and their ratio stays fair.
fn load_in_turns(
    target: Target,
    first: &Scenario,
    second: &Scenario,
    connections: usize,
    duration: Duration,
) -> (LoadResult, LoadResult) {
    const TURNS: u32 = 6;
    let runtime = load_runtime();
    let (mut a, mut b) = (Measured::default(), Measured::default());
    let turn = duration / TURNS;
    let warm_up = (duration / 4).min(Duration::from_millis(100));
    runtime.block_on(async {
        for _ in 0..TURNS {
            a.add(stretch(target, first, connections, warm_up, turn).await);
            b.add(stretch(target, second, connections, warm_up, turn).await);
        }
    });
    (a.result(), b.result())
}

/// `connections` clients on fresh keep-alive connections send `scenario` one request
/// after another; what they see during `duration`, after `warm_up`, is measured, with the
/// server's CPU time over the same window.
async fn stretch(
    target: Target,
    scenario: &Scenario,
    connections: usize,
    warm_up: Duration,
    duration: Duration,
) -> Measured {
    use tokio::io::AsyncWriteExt;
    let address = target.address;
    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let stop = stop.clone();
            let measuring = measuring.clone();
            let request = scenario.request.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0usize;
                let connect = || async {
                    let stream = tokio::net::TcpStream::connect(address).await?;
                    stream.set_nodelay(true)?;
                    std::io::Result::Ok(tokio::io::BufReader::new(stream))
                };
                let mut connection = connect().await.ok();
                while !stop.load(Ordering::Relaxed) {
                    let Some(stream) = connection.as_mut() else {
                        errors += 1;
                        connection = connect().await.ok();
                        continue;
                    };
                    let began = Instant::now();
                    let result = match stream.get_mut().write_all(&request).await {
                        Ok(()) => read_response(stream).await,
                        Err(error) => Err(error),
                    };
                    let elapsed = began.elapsed();
                    let counted = measuring.load(Ordering::Relaxed);
                    match result {
                        Ok(200) if counted => latencies.push(elapsed),
                        Ok(200) => {}
                        Ok(_) if counted => errors += 1,
                        Ok(_) => {}
                        Err(_) => {
                            if counted {
                                errors += 1;
                            }
                            connection = connect().await.ok();
                        }
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    tokio::time::sleep(warm_up).await;
    measuring.store(true, Ordering::Relaxed);
    let cpu_before = target.server_cpu();
    let began = Instant::now();
    tokio::time::sleep(duration).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = began.elapsed();
    let server_cpu = target.server_cpu().saturating_sub(cpu_before);
    stop.store(true, Ordering::Relaxed);
    let mut measured = Measured {
        elapsed,
        server_cpu,
        ..Measured::default()
    };
    for worker in workers {
        let (mut latencies, errors) = worker.await.expect("a load worker");
        measured.latencies.append(&mut latencies);
        measured.errors += errors;
    }
    measured
}

fn millis(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1e3)
}

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(repository().join("tests/fixtures").join(path)).expect("a fixture")
}

fn klix_tenant(name: &str, module: &str, keys: &Path) -> String {
    format!(
        r#"
[tenants.{name}]
module = "{module}"
[tenants.{name}.klix]
provider_key = {provider:?}
currency = "SEK"
country = "SE"
[tenants.{name}.klix.api]
url = "http://127.0.0.1:9"
merchant_id = "bench"
api_key = {{ file = {api_key:?} }}
signing_key = {{ file = {signing:?} }}
signing_key_id = "bench"
"#,
        provider = keys
            .join("test_provider_certificate.pem")
            .display()
            .to_string(),
        api_key = keys
            .join("test_merchant_public_key.pem")
            .display()
            .to_string(),
        signing = keys
            .join("test_merchant_private_key.pem")
            .display()
            .to_string(),
    )
}

fn end_to_end(out: &mut String) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let keys = repository().join("tests/fixtures/klix");
    let burner = guests::build(
        &repository(),
        &repository().join("tests/modules"),
        "wasm32-unknown-unknown",
        &["infinite-loop"],
    )
    .remove(0)
    .1;
    let wasip2 = wasip2_example("us-shop");
    let mut config = format!(
        "listen = \"127.0.0.1:0\"\nstate_dir = {:?}\n[decision_log]\nenabled = false\n",
        dir.path().join("state").display().to_string()
    );
    for (name, module) in [("wasm", "example:us-shop"), ("native", "native:us-shop")] {
        config.push_str(&format!(
            "[tenants.{name}]\nmodule = \"{module}\"\n[tenants.{name}.kco]\nunauthenticated = true\n[tenants.{name}.messenger]\nunauthenticated = true\n"
        ));
    }
    for (name, module) in [("wasip2", wasip2), ("contract-0-1", contract_0_1_example())] {
        config.push_str(&format!(
            "[tenants.{name}]\nmodule = {:?}\n[tenants.{name}.kco]\nunauthenticated = true\n",
            module.display().to_string()
        ));
    }
    config.push_str(&klix_tenant("wasm-sek", "example:catalog-shop", &keys));
    config.push_str(&klix_tenant("native-sek", "native:catalog-shop", &keys));
    config.push_str(&format!(
        "[tenants.burner]\nmodule = {:?}\nlimits = {{ fuel = 1000000000000, deadline_ms = 200 }}\n[tenants.burner.kco]\nunauthenticated = true\n",
        burner.display().to_string()
    ));
    let config_path = dir.path().join("rulegate.toml");
    std::fs::write(&config_path, config)?;
    let server = Served::start(&config_path, dir.path())?;

    // Klix gen 2: a signed JSON body.
    let provider = SigningKey::<sha2::Sha256>::new(rsa::RsaPrivateKey::from_pkcs8_pem(
        &std::fs::read_to_string(keys.join("test_provider_private_key.pem"))?,
    )?);
    let mut klix_body: serde_json::Value =
        serde_json::from_slice(&fixture("klix/shipping_cost_request_payload.json"))?;
    klix_body["items"] = serde_json::json!([
        { "reference": "KAFFE-500", "quantity": 2.000 },
        { "reference": "KOPP-VIT", "quantity": 1.000 },
    ]);
    klix_body.as_object_mut().unwrap().remove("order_items");
    klix_body["shipping_method_id"] = "ombud".into();
    klix_body["address"] = serde_json::json!({"city": "Stockholm", "address": "Drottninggatan 1", "postal_code": "111 51"});
    let klix_body = klix_body.to_string().into_bytes();
    let signature =
        base64::engine::general_purpose::STANDARD.encode(provider.sign(&klix_body).to_bytes());

    let kco = fixture("kco/address_update_request.json");
    let messenger = fixture("messenger/checkout_update_webhook.json");
    let scenarios = |kind: &str| -> Vec<Scenario> {
        let sek = if kind == "wasm" {
            "wasm-sek"
        } else {
            "native-sek"
        };
        vec![
            Scenario {
                name: "KCO address_update",
                request: request(&format!("/{kind}/kco/address_update"), &[], &kco),
            },
            Scenario {
                name: "Klix shipping_cost",
                request: request(
                    &format!("/{sek}/klix/shipping_cost"),
                    &[("X-Klix-Signature", &signature)],
                    &klix_body,
                ),
            },
            Scenario {
                name: "Messenger checkout_update",
                request: request(&format!("/{kind}/messenger"), &[], &messenger),
            },
        ]
    };
    let duration = if quick() {
        Duration::from_millis(800)
    } else {
        Duration::from_secs(3)
    };
    writeln!(out, "\n## End to end: the real server on loopback\n")?;
    writeln!(
        out,
        "The load generator (one thread, one task per keep-alive connection) sends one \
         callback after another on each connection, from the same machine, so it shares \
         the cores with the server; the server runs with the decision log off. `wasm` \
         tenants run the example modules as the SDK builds them, `native` tenants the \
         same rules linked natively, in the same server process. The two take turns: six stretches each, \
         alternating, {:.1} s per side and row in all (each stretch after a short \
         warm-up), so that load from elsewhere on the machine weighs on both alike. \
         Server CPU is the server process's CPU time (all threads) per answered callback \
         over the same windows: unlike throughput, it does not depend on how much of the \
         machine the load generator takes.\n",
        duration.as_secs_f64()
    )?;
    writeln!(
        out,
        "| callback | connections | wasm req/s | native req/s | wasm ÷ native | wasm p50 | wasm p99 | native p50 | native p99 | server CPU wasm ÷ native | errors |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|")?;
    let wasm_scenarios = scenarios("wasm");
    let native_scenarios = scenarios("native");
    for (wasm, native) in wasm_scenarios.iter().zip(&native_scenarios) {
        for connections in [1, 16, 64] {
            let (w, n) = load_in_turns(server.target(), wasm, native, connections, duration);
            writeln!(
                out,
                "| {} | {connections} | {:.0} | {:.0} | {:.0} % | {} | {} | {} | {} | {} | {} |",
                wasm.name,
                w.per_second,
                n.per_second,
                100.0 * w.per_second / n.per_second.max(1.0),
                millis(w.p50),
                millis(w.p99),
                millis(n.p50),
                millis(n.p99),
                cpu_ratio(&w, &n),
                w.errors + n.errors,
            )?;
        }
    }

    // Other builds of the same rules, side by side with the SDK's.
    let comparisons = [
        (
            "The US shop's rules as the SDK builds them (a core module for \
             wasm32-unknown-unknown, made a one-module component at load and called directly) \
             against the same crate built as a wasm32-wasip2 component (three core modules, \
             WASI imports, calls on fibers)",
            ["core module", "wasip2"],
            "wasip2",
        ),
        (
            "The US shop's rules as the SDK builds them (contract 0.2.0: shipping and tax in \
             one `quote` call) against the same rules as the SDK of contract 0.1.0 built them \
             (two calls)",
            ["0.2.0", "0.1.0"],
            "contract-0-1",
        ),
    ];
    for (title, [ours, theirs], tenant) in comparisons {
        writeln!(
            out,
            "\n{title}, KCO address_update, in the same alternating stretches:\n"
        )?;
        writeln!(
            out,
            "| connections | {ours} req/s | {theirs} req/s | {ours} p99 | {theirs} p99 | server CPU {ours} ÷ {theirs} | errors |"
        )?;
        writeln!(out, "|---|---|---|---|---|---|---|")?;
        let other = Scenario {
            name: tenant,
            request: request(&format!("/{tenant}/kco/address_update"), &[], &kco),
        };
        for connections in [16, 64] {
            let (mine, theirs) = load_in_turns(
                server.target(),
                &wasm_scenarios[0],
                &other,
                connections,
                duration,
            );
            writeln!(
                out,
                "| {connections} | {:.0} | {:.0} | {} | {} | {} | {} |",
                mine.per_second,
                theirs.per_second,
                millis(mine.p99),
                millis(theirs.p99),
                cpu_ratio(&mine, &theirs),
                mine.errors + theirs.errors,
            )?;
        }
    }

    // Isolation: the wasm tenant's Messenger latency alone, then while 4 clients keep
    // the burner tenant's module at its 200 ms deadline.
    let probe = &wasm_scenarios[2];
    let burn = Scenario {
        name: "burner",
        request: request(
            "/burner/kco/validation",
            &[],
            &fixture("kco/validation_request.json"),
        ),
    };
    writeln!(out, "\n## Isolation\n")?;
    writeln!(
        out,
        "A healthy tenant's Messenger checkout_update latency, alone and while 4 clients keep \
         another tenant's module (an infinite loop) at its 200 ms deadline on every call.\n"
    )?;
    writeln!(
        out,
        "| connections | alone p50 | alone p99 | beside the burner p50 | beside the burner p99 | p50 ratio | p99 ratio | errors |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|---|")?;
    for connections in [1, 16] {
        let alone = load(server.target(), probe, connections, duration);
        let stop = Arc::new(AtomicBool::new(false));
        let burning = {
            let stop = stop.clone();
            let burn = burn.clone();
            let target = server.target();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    load(target, &burn, 4, Duration::from_millis(400));
                }
            })
        };
        std::thread::sleep(Duration::from_millis(300));
        let beside = load(server.target(), probe, connections, duration);
        stop.store(true, Ordering::Relaxed);
        burning.join().expect("the burner");
        writeln!(
            out,
            "| {connections} | {} | {} | {} | {} | {:.2}× | {:.2}× | {} |",
            millis(alone.p50),
            millis(alone.p99),
            millis(beside.p50),
            millis(beside.p99),
            beside.p50.as_secs_f64() / alone.p50.as_secs_f64().max(1e-9),
            beside.p99.as_secs_f64() / alone.p99.as_secs_f64().max(1e-9),
            alone.errors + beside.errors,
        )?;
    }
    drop(server);
    Ok(())
}

// ---------------------------------------------------------------------------------
// Scale

/// `component` with a custom section appended: another module (another hash), the
/// same rules.
fn variant(component: &[u8], index: usize) -> Vec<u8> {
    fn leb128(mut value: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
    }
    let name = b"rulegate-bench";
    let data = format!("tenant-{index}");
    let mut payload = Vec::new();
    leb128(name.len(), &mut payload);
    payload.extend_from_slice(name);
    payload.extend_from_slice(data.as_bytes());
    let mut bytes = component.to_vec();
    bytes.push(0);
    leb128(payload.len(), &mut bytes);
    bytes.extend_from_slice(&payload);
    bytes
}

fn scale(out: &mut String) -> anyhow::Result<()> {
    let tenants = if quick() { 100 } else { 1_000 };
    let dir = tempfile::tempdir()?;
    let modules = dir.path().join("modules");
    std::fs::create_dir_all(&modules)?;
    let component = rulegate::examples::find("us-shop").unwrap().wasm;
    let write_config = |count: usize, state: &str| -> anyhow::Result<PathBuf> {
        let mut config = format!(
            "listen = \"127.0.0.1:0\"\nstate_dir = {:?}\n",
            dir.path().join(state).display().to_string()
        );
        for index in 0..count {
            let path = modules.join(format!("t{index}.wasm"));
            if !path.exists() {
                std::fs::write(&path, variant(component, index))?;
            }
            config.push_str(&format!(
                "[tenants.t{index}]\nmodule = {:?}\n[tenants.t{index}.kco]\nunauthenticated = true\n",
                path.display().to_string()
            ));
        }
        let path = dir.path().join(format!("{state}.toml"));
        std::fs::write(&path, config)?;
        Ok(path)
    };
    let many = write_config(tenants, "many")?;
    let one = write_config(1, "one")?;
    let compiling = Served::start(&many, dir.path())?;
    let compile_time = compiling.ready_after;
    drop(compiling);
    let cached = Served::start(&many, dir.path())?;
    let cache_time = cached.ready_after;
    std::thread::sleep(Duration::from_millis(500));
    let rss_many = cached.resident_bytes();
    drop(cached);
    // The single tenant's own first start compiles its module; the second, measured,
    // loads it from the cache like the 1,000 above, so neither counts a compiler's
    // leftovers.
    drop(Served::start(&one, dir.path())?);
    let single = Served::start(&one, dir.path())?;
    std::thread::sleep(Duration::from_millis(500));
    let rss_one = single.resident_bytes();
    let one_time = single.ready_after;
    drop(single);
    writeln!(out, "\n## Scale: {tenants} tenants\n")?;
    writeln!(
        out,
        "Each tenant has its own module (the US shop with a distinct custom section, so a \
         distinct hash and artifact).\n"
    )?;
    writeln!(out, "| | time to listening | ratio |\n|---|---|---|")?;
    writeln!(
        out,
        "| first start: compile {tenants} modules | {:.2} s | 1 |",
        compile_time.as_secs_f64()
    )?;
    writeln!(
        out,
        "| restart from the precompiled cache | {:.2} s | {:.3} (target < 2 s for 1,000) |",
        cache_time.as_secs_f64(),
        cache_time.as_secs_f64() / compile_time.as_secs_f64()
    )?;
    writeln!(
        out,
        "| one tenant, from the cache | {:.2} s | |",
        one_time.as_secs_f64()
    )?;
    let per_tenant = rss_many.saturating_sub(rss_one) as f64 / (tenants - 1) as f64;
    writeln!(
        out,
        "\nResident memory: {:.1} MiB with {tenants} idle tenants, {:.1} MiB with one: \
         {:.0} KiB per idle tenant.",
        rss_many as f64 / (1 << 20) as f64,
        rss_one as f64 / (1 << 20) as f64,
        per_tenant / 1024.0
    )?;
    Ok(())
}

/// Sends one whole HTTP/1.1 request (which asks for `Connection: close`) to `address`:
/// the response's status and body.
fn exchange(address: SocketAddr, request: &[u8]) -> anyhow::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.write_all(request)?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// One KCO address_update for `tenant` on `address`: the status.
fn kco_address_update(address: SocketAddr, tenant: &str, body: &[u8]) -> anyhow::Result<u16> {
    let target = format!("/{tenant}/kco/x/address_update?kustom_order_id=bench");
    Ok(exchange(address, &request(&target, &[("Connection", "close")], body))?.0)
}

/// 100 tenants, each with its own build of the TypeScript US shop (a distinct custom
/// section: a distinct hash and artifact). Compiling 100 copies of a JavaScript engine
/// takes minutes and writes the same artifact 100 times, so two are compiled, shown to
/// be byte-identical, and the other 98 cache entries are copies of them.
fn scale_javascript(out: &mut String) -> anyhow::Result<()> {
    const TENANTS: usize = 100;
    let component = typescript_us_shop()?;
    let dir = tempfile::tempdir()?;
    let modules = dir.path().join("modules");
    let cache_dir = dir.path().join("state/cache");
    std::fs::create_dir_all(&modules)?;
    let variants: Vec<Vec<u8>> = (0..TENANTS).map(|i| variant(&component, i)).collect();
    for bytes in &variants[..2] {
        let engine = Engine::new(
            EngineSettings::default(),
            Some(rulegate::engine::ArtifactCache::open(&cache_dir)?),
        )?;
        engine.load(bytes)?;
    }
    let mut compiled: Vec<PathBuf> = std::fs::read_dir(&cache_dir)?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<std::io::Result<_>>()?;
    compiled.sort();
    anyhow::ensure!(
        compiled.len() == 2,
        "two artifacts expected, found {compiled:?}"
    );
    let artifact = std::fs::read(&compiled[0])?;
    anyhow::ensure!(
        artifact == std::fs::read(&compiled[1])?,
        "two builds differing only in a custom section compiled to different artifacts"
    );
    let name = compiled[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let engine_suffix = name
        .split_once('-')
        .map(|(_, rest)| rest.to_string())
        .unwrap();
    let mut config = format!(
        "listen = \"127.0.0.1:0\"\nstate_dir = {:?}\n",
        dir.path().join("state").display().to_string()
    );
    for (index, bytes) in variants.iter().enumerate() {
        let path = modules.join(format!("t{index}.wasm"));
        std::fs::write(&path, bytes)?;
        let cached = cache_dir.join(format!(
            "{}-{engine_suffix}",
            rulegate::engine::ModuleHash::of(bytes).hex()
        ));
        if !cached.exists() {
            std::fs::write(&cached, &artifact)?;
        }
        config.push_str(&format!(
            "[tenants.t{index}]\nmodule = {:?}\n[tenants.t{index}.kco]\nunauthenticated = true\n",
            path.display().to_string()
        ));
    }
    let config_path = dir.path().join("javascript.toml");
    std::fs::write(&config_path, config)?;
    let served = Served::start(&config_path, dir.path())?;
    std::thread::sleep(Duration::from_millis(500));
    let idle = served.resident_bytes();
    let body = fixture("kco/address_update_request.json");
    let mut answered = 0;
    for _ in 0..3 {
        for index in 0..TENANTS {
            if kco_address_update(served.address, &format!("t{index}"), &body)? == 200 {
                answered += 1;
            }
        }
    }
    let serving = served.resident_bytes();
    let ready = served.ready_after;
    drop(served);
    let mib = |bytes: u64| bytes as f64 / (1 << 20) as f64;
    writeln!(out, "\n## Scale: {TENANTS} JavaScript tenants\n")?;
    writeln!(
        out,
        "Each tenant has its own build of the TypeScript US shop (a distinct custom section: \
         a distinct hash and artifact); artifacts are mapped from the cache. Two builds \
         were compiled and their artifacts found byte-identical; the other cache entries \
         are copies.\n\n\
         | artifact on disk, per tenant | restart from the cache, to listening | resident, all idle | resident, all serving (3 KCO address_update each) | answered 200 |\n\
         |---|---|---|---|---|\n\
         | {:.1} MB | {:.2} s | {:.0} MiB | {:.0} MiB ({:.1} MiB per tenant over idle) | {answered} of {} |",
        artifact.len() as f64 / 1e6,
        ready.as_secs_f64(),
        mib(idle),
        mib(serving),
        mib(serving.saturating_sub(idle)) / TENANTS as f64,
        3 * TENANTS,
    )?;
    Ok(())
}

/// The fleet phase's admin token.
const FLEET_TOKEN: &str = "bench-fleet-token";

/// One admin request (`Connection: close`): the status and the body.
fn admin_call(
    served: &Served,
    method: &str,
    target: &str,
    body: &[u8],
) -> anyhow::Result<(u16, String)> {
    let address = served
        .admin
        .ok_or_else(|| anyhow::anyhow!("no admin API"))?;
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\
         Authorization: Bearer {FLEET_TOKEN}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    exchange(address, &request)
}

/// The version `served` serves for tenant `shop`.
fn serving(served: &Served) -> anyhow::Result<String> {
    let (_, body) = admin_call(served, "GET", "/v1/tenants/shop", b"")?;
    let status: serde_json::Value = serde_json::from_str(&body)?;
    Ok(status["active"]["version"]
        .as_str()
        .unwrap_or("")
        .to_string())
}

/// A fleet host's configuration: tenant `shop` (the US shop over KCO), the admin API,
/// and the store (`None`: the state directory).
fn fleet_config(dir: &Path, name: &str, store: Option<(u64, bool)>) -> anyhow::Result<PathBuf> {
    let mut config = format!(
        "listen = \"127.0.0.1:0\"\nstate_dir = {:?}\n[decision_log]\nenabled = false\n\
         [admin]\nlisten = \"127.0.0.1:0\"\ntoken = {{ env = \"BENCH_FLEET_TOKEN\" }}\n\
         [tenants.shop]\nmodule = \"example:us-shop\"\n[tenants.shop.kco]\nunauthenticated = true\n",
        dir.join(format!("state-{name}")).display().to_string()
    );
    if let Some((poll_ms, notifications)) = store {
        config.push_str(&format!(
            "[store]\nkind = \"postgres\"\nurl = {{ env = \"RULEGATE_DATABASE_URL\" }}\n\
             poll_interval_ms = {poll_ms}\nnotifications = {notifications}\nhost_id = \"{name}\"\n"
        ));
    }
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, config)?;
    Ok(path)
}

/// Times `activations` activations on the first host until each other host serves
/// them: from the moment the activation's answer (after its commit) arrives.
fn propagation(
    hosts: &[Served],
    versions: &[String; 2],
    activations: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut samples = Vec::new();
    for i in 0..activations {
        let version = &versions[(i + 1) % 2];
        let body = serde_json::to_vec(&serde_json::json!({ "version": version }))?;
        let (status, answer) = admin_call(&hosts[0], "POST", "/v1/tenants/shop/activate", &body)?;
        anyhow::ensure!(status == 200, "activation {i}: {status} {answer}");
        let committed = Instant::now();
        let reached: Vec<anyhow::Result<Duration>> = std::thread::scope(|scope| {
            let waits: Vec<_> = hosts[1..]
                .iter()
                .map(|host| {
                    scope.spawn(move || {
                        while committed.elapsed() < Duration::from_secs(30) {
                            if serving(host)? == *version {
                                return Ok(committed.elapsed());
                            }
                            std::thread::sleep(Duration::from_millis(1));
                        }
                        anyhow::bail!("activation {i} did not reach a host in 30 s")
                    })
                })
                .collect();
            waits
                .into_iter()
                .map(|wait| wait.join().expect("a waiter"))
                .collect()
        });
        for sample in reached {
            samples.push(sample?);
        }
    }
    Ok(samples)
}

fn fleet(out: &mut String) -> anyhow::Result<()> {
    let activations = if quick() { 20 } else { 100 };
    let dir = tempfile::tempdir()?;
    let cluster = postgres::Postgres::start();
    let url = cluster.url(&cluster.database("fleet"));
    let env = [
        ("RULEGATE_DATABASE_URL", url.as_str()),
        ("BENCH_FLEET_TOKEN", FLEET_TOKEN),
    ];
    let eu_shop = rulegate::examples::find("eu-shop").unwrap().wasm;
    let mut rows = Vec::new();
    for (label, poll_ms, notifications) in [
        ("with notifications (poll 2 s)", 2_000, true),
        ("polling only, every 500 ms", 500, false),
    ] {
        let database = format!("fleet_{}", if notifications { "notify" } else { "poll" });
        let url = cluster.url(&cluster.database(&database));
        let env = [
            ("RULEGATE_DATABASE_URL", url.as_str()),
            ("BENCH_FLEET_TOKEN", FLEET_TOKEN),
        ];
        let hosts = ["a", "b", "c"]
            .into_iter()
            .map(|name| {
                let config = fleet_config(
                    dir.path(),
                    &format!("{database}-{name}"),
                    Some((poll_ms, notifications)),
                )?;
                Served::start_with(&config, dir.path(), &env)
            })
            .collect::<anyhow::Result<Vec<Served>>>()?;
        let original = serving(&hosts[0])?;
        let (status, body) = admin_call(&hosts[0], "POST", "/v1/tenants/shop/versions", eu_shop)?;
        anyhow::ensure!(status == 200, "upload: {status} {body}");
        let uploaded: serde_json::Value = serde_json::from_str(&body)?;
        let other = uploaded["active"]["version"]
            .as_str()
            .unwrap_or("")
            .to_string();
        // Every host compiles both versions once before the timed activations.
        for host in &hosts[1..] {
            while serving(host)? != other {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let samples = propagation(&hosts, &[original, other], activations)?;
        let max = samples.iter().max().copied().unwrap_or_default();
        let timing = timing(samples.clone());
        rows.push((label, poll_ms, samples.len(), timing, max));
    }
    writeln!(out, "\n## Fleet: three hosts, one PostgreSQL\n")?;
    writeln!(
        out,
        "Three `rulegate serve` hosts and one PostgreSQL {} on this machine. An activation on \
         host A ({activations} in all, alternating two versions every host has compiled); \
         the time from its answer (after the commit) until host B and host C each serve it, \
         read through their admin APIs.\n",
        command_output(&cluster_binary(&cluster, "postgres"), &["--version"])
            .trim_start_matches("postgres (PostgreSQL) ")
    )?;
    writeln!(
        out,
        "| propagation | samples | p50 | p99 | max | target (p99) |\n|---|---|---|---|---|---|"
    )?;
    for (label, poll_ms, count, timing, max) in &rows {
        let target = if label.starts_with("with") {
            "≤ 1 s".to_string()
        } else {
            format!("≤ {} ms (poll + 0.5 s)", poll_ms + 500)
        };
        writeln!(
            out,
            "| {label} | {count} | {} | {} | {} | {target} |",
            millis(timing.median),
            millis(timing.p99),
            millis(*max)
        )?;
    }

    // Callbacks with the shared store against the state directory, in turns.
    let pg_config = fleet_config(dir.path(), "load-postgres", Some((2_000, true)))?;
    let file_config = fleet_config(dir.path(), "load-files", None)?;
    let shared = Served::start_with(&pg_config, dir.path(), &env)?;
    let alone = Served::start_with(&file_config, dir.path(), &env)?;
    let scenario = Scenario {
        name: "KCO address_update",
        request: request(
            "/shop/kco/address_update",
            &[],
            &fixture("kco/address_update_request.json"),
        ),
    };
    let duration = if quick() {
        Duration::from_secs(3)
    } else {
        Duration::from_secs(12)
    };
    let connections = 16;
    let runtime = load_runtime();
    let (mut on_store, mut on_files) = (Measured::default(), Measured::default());
    let turn = duration / 6;
    let warm_up = Duration::from_millis(100);
    runtime.block_on(async {
        for _ in 0..6 {
            on_files.add(stretch(alone.target(), &scenario, connections, warm_up, turn).await);
            on_store.add(stretch(shared.target(), &scenario, connections, warm_up, turn).await);
        }
    });
    let (on_store, on_files) = (on_store.result(), on_files.result());
    writeln!(
        out,
        "\n{} at {connections} connections, one host with `store = postgres` (following the store, \
         heartbeat every 2 s) against one with the state directory, in six alternating \
         stretches:\n",
        scenario.name
    )?;
    writeln!(
        out,
        "| store | req/s | p50 | p99 | server CPU / request | errors |\n|---|---|---|---|---|---|"
    )?;
    for (name, result) in [
        ("state directory (baseline)", &on_files),
        ("postgres", &on_store),
    ] {
        writeln!(
            out,
            "| {name} | {:.0} | {} | {} | {} | {} |",
            result.per_second,
            millis(result.p50),
            millis(result.p99),
            micros(result.server_cpu_per_request),
            result.errors
        )?;
    }
    writeln!(
        out,
        "\nRatio postgres ÷ state directory: throughput {:.3}, server CPU per request {:.3}.",
        on_store.per_second / on_files.per_second.max(1e-9),
        on_store.server_cpu_per_request.as_secs_f64()
            / on_files.server_cpu_per_request.as_secs_f64().max(1e-12)
    )?;
    Ok(())
}

/// The path of one of the cluster's server binaries.
fn cluster_binary(cluster: &postgres::Postgres, name: &str) -> String {
    cluster.bin_dir().join(name).display().to_string()
}
