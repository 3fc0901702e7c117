//! The JavaScript SDK (`guest-sdk-js/`) end-to-end: its own unit tests and generated
//! types, then rules written in TypeScript built with its `rulegate-build` into a
//! component, run in the production sandbox: the same answers as the Rust twin, every
//! way a JavaScript module can fail contained like a Rust one, and sources that would
//! need an import refused at build time. Needs Node.js 20+ and npm.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use proptest::prelude::*;
use rulegate::engine::SharedRuleSet;
use rulegate::engine::{Contract, EngineError, Limits, LoadError};
use rulegate::model::Cart;
use rulegate::model::RuleError;
use rulegate_tests::{cart, decide_all, engine, example_wasm, load, module, strategies};

fn sdk() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest-sdk-js")
}

/// The TypeScript twin of the US shop.
fn us_shop() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../example-rules-js/us-shop")
}

fn run(program: &str, args: &[&str]) -> Output {
    run_in(&sdk(), program, args)
}

fn run_in(dir: &Path, program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "running {program}: {error} (the JavaScript SDK's tests need Node.js 20+ and npm)"
            )
        })
}

fn succeeds(program: &str, args: &[&str]) -> String {
    succeeds_in(&sdk(), program, args)
}

fn succeeds_in(dir: &Path, program: &str, args: &[&str]) -> String {
    let output = run_in(dir, program, args);
    assert!(
        output.status.success(),
        "{program} {args:?}: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `npm ci` from the committed lockfile and the SDK compiled, once per test binary.
fn installed() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        succeeds(
            "npm",
            &["ci", "--no-audit", "--no-fund", "--prefer-offline"],
        );
        succeeds("npx", &["tsc", "-p", "."]);
    });
}

/// Builds `test/rules/<name>.ts` with the SDK's build command; its bytes.
fn build(name: &str) -> Vec<u8> {
    installed();
    let out = sdk().join(format!("dist/{name}.wasm"));
    let source = format!("test/rules/{name}.ts");
    succeeds(
        "node",
        &["dist/src/build.js", &source, "-o", out.to_str().unwrap()],
    );
    std::fs::read(&out).unwrap()
}

#[test]
fn the_sdks_unit_tests_pass_and_its_types_are_generated_from_the_contract() {
    installed();
    let report = succeeds("node", &["--test", "dist/test/"]);
    assert!(report.contains("# fail 0"), "{report}");
    // The checked-in declarations are what jco generates from wit/ today.
    let fresh = sdk().join("dist/types-check");
    let _ = std::fs::remove_dir_all(&fresh);
    succeeds(
        "npx",
        &[
            "jco",
            "guest-types",
            "../wit",
            "--world-name",
            "rules",
            "-o",
            "dist/types-check",
        ],
    );
    for file in [
        "rules.d.ts",
        "interfaces/rulegate-checkout-decisions.d.ts",
        "interfaces/rulegate-checkout-host.d.ts",
        "interfaces/rulegate-checkout-types.d.ts",
    ] {
        let committed = std::fs::read_to_string(sdk().join("types").join(file)).unwrap();
        let generated = std::fs::read_to_string(fresh.join(file)).unwrap();
        assert_eq!(
            committed, generated,
            "types/{file} is stale: run `npm run types`"
        );
    }
    // So is the boundary's map of 64-bit fields derived from them.
    succeeds(
        "node",
        &[
            "scripts/wide.mjs",
            "dist/types-check",
            "dist/types-check/wide.ts",
        ],
    );
    let committed = std::fs::read_to_string(sdk().join("src/wide.ts")).unwrap();
    let generated = std::fs::read_to_string(fresh.join("wide.ts")).unwrap();
    assert_eq!(
        committed, generated,
        "src/wide.ts is stale: run `npm run types`"
    );
    let wit = std::fs::read_to_string(sdk().join("../wit/checkout.wit")).unwrap();
    let shipped = std::fs::read_to_string(sdk().join("wit/checkout.wit")).unwrap();
    assert_eq!(
        wit, shipped,
        "wit/checkout.wit is stale: run `npm run types`"
    );
}

#[test]
fn typescript_rules_built_by_the_sdk_answer_as_their_rust_twin() {
    let bytes = build("flat-rate");
    let engine = engine();
    let inspection = engine.inspect(&bytes);
    assert!(inspection.accepted(), "{:?}", inspection.error);
    assert!(
        inspection
            .imports
            .iter()
            .all(|import| import.name.starts_with("rulegate:checkout/")),
        "{:?}",
        inspection.imports
    );
    let typescript = load(&engine, &bytes);
    let rust = load(&engine, module("flat-rate"));
    for (currency, country, lines) in [("EUR", "DE", 1), ("USD", "US", 5), ("SEK", "SE", 12)] {
        let cart = cart(currency, country, lines);
        assert_eq!(
            decide_all(&*typescript, &cart),
            decide_all(&*rust, &cart),
            "{currency} {country} {lines}"
        );
    }
    // The SDK builds the current contract: shipping and tax in one quote call, each
    // half as its own decision answers.
    assert_eq!(inspection.contract, Some(Contract::CURRENT));
    let three = cart("EUR", "DE", 3);
    let mut session = typescript.session(&rulegate_tests::limits());
    let quoted = session.quote(&three);
    assert_eq!(session.usage().calls, 1);
    assert_eq!(quoted.shipping, session.shipping_options(&three));
    assert_eq!(quoted.tax, session.tax(&three));
    assert_eq!(
        quoted,
        rust.session(&rulegate_tests::limits()).quote(&three)
    );
    // The SDK's log reaches the host.
    let mut session = typescript.session(&rulegate_tests::limits());
    session
        .shipping_options(&cart("EUR", "DE", 2))
        .unwrap()
        .unwrap();
    let logs = &session.usage().logs;
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(logs[0].message, "shipping for 2 lines");
}

#[test]
fn every_way_a_javascript_module_fails_is_contained_like_a_rust_one() {
    let bytes = build("hostile");
    let engine = engine();
    let hostile = load(&engine, &bytes);
    let limits = rulegate_tests::limits();
    let decide_within = |order: &str, limits: &Limits| {
        let mut cart = cart("EUR", "DE", 2);
        cart.order_id = Some(order.to_string());
        hostile.session(limits).shipping_options(&cart)
    };
    let decide = |order: &str| decide_within(order, &limits);
    let throw = decide("throw");
    assert!(matches!(throw, Err(EngineError::Trap { .. })), "{throw:?}");
    let cannot = decide("cannot");
    assert!(
        matches!(&cannot, Ok(Err(RuleError::CannotDecide(reason))) if reason == "no rates for this cart"),
        "{cannot:?}"
    );
    let endless = decide("loop");
    assert!(
        matches!(endless, Err(EngineError::FuelExhausted { .. })),
        "{endless:?}"
    );
    // Without a fuel budget, memory is what stops it.
    let unmetered = Limits {
        fuel: None,
        memory_bytes: 32 << 20,
        ..limits
    };
    let hoard = decide_within("allocate", &unmetered);
    assert!(
        matches!(
            hoard,
            Err(EngineError::MemoryLimit { .. } | EngineError::Trap { .. })
        ),
        "{hoard:?}"
    );
    let deep = decide("recurse");
    assert!(
        matches!(&deep, Err(EngineError::Trap { message }) if message.contains("stack overflow")),
        "{deep:?}"
    );
    assert!(decide("shape").is_err(), "a wrong shape is never an answer");
    // Across the boundary a rule sees the contract's types: 64-bit integers as exact
    // `bigint`s, an absent value as `undefined`.
    let declined =
        |cart: &rulegate::model::Cart| match hostile.session(&limits).shipping_options(cart) {
            Ok(Err(RuleError::CannotDecide(reason))) => reason,
            other => panic!("expected cannot-decide, got {other:?}"),
        };
    let mut wide = cart("EUR", "DE", 1);
    wide.order_id = Some("echo".into());
    wide.lines[0].unit_price.as_mut().unwrap().amount = (1 << 53) - 1;
    wide.lines[0].unit_weight_grams = None;
    assert_eq!(declined(&wide), "bigint 9007199254740991 undefined true");
    // Beyond 2^53 a number is no longer exact: refused, never rounded, both ways.
    wide.lines[0].unit_price.as_mut().unwrap().amount = (1 << 53) + 1;
    assert!(declined(&wide).contains("beyond"), "{}", declined(&wide));
    wide.lines[0].unit_price.as_mut().unwrap().amount = -(1 << 60);
    assert!(declined(&wide).contains("beyond"), "{}", declined(&wide));
    let mut huge = cart("EUR", "DE", 1);
    huge.order_id = Some("huge".into());
    assert!(declined(&huge).contains("beyond"), "{}", declined(&huge));
    // And the module still serves the next cart.
    let options = decide("fine").unwrap().unwrap();
    assert_eq!(options[0].id, "flat");
}

#[test]
fn sources_that_would_need_an_import_are_refused_at_build_time() {
    installed();
    let dir = sdk().join("dist/refused");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, source, expected) in [
        (
            "reads-a-file",
            "import { readFileSync } from \"node:fs\";\nexport const decisions = { shippingOptions: () => JSON.parse(readFileSync(\"r.json\", \"utf8\")), tax: () => ({ lineRates: new Uint32Array(), separate: [] }), validate: () => ({ tag: \"approve\" }) };\n",
            "Could not resolve \"node:fs\"",
        ),
        (
            "reads-the-clock",
            "export const decisions = { shippingOptions: () => [], tax: () => ({ lineRates: new Uint32Array(), separate: [] }), validate: () => (Date.now() > 0 ? { tag: \"approve\" } : { tag: \"approve\" }) };\n",
            "Date.now() (bundle line",
        ),
    ] {
        let path = dir.join(format!("{name}.js"));
        std::fs::write(&path, source).unwrap();
        let out = dir.join(format!("{name}.wasm"));
        let output = run(
            "node",
            &[
                "dist/src/build.js",
                path.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
            ],
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert!(!out.exists(), "{name}: no module is written");
    }
}

/// A JavaScript component built with componentize-qjs directly, with the JavaScript
/// engine's WASI imports: refused for them, with how to rebuild it.
#[test]
fn a_javascript_component_built_without_the_sdk_is_refused_with_how_to_rebuild_it() {
    installed();
    let dir = sdk().join("dist/plain");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("rules.js"),
        "export const decisions = { shippingOptions: () => [], tax: (cart) => ({ lineRates: new Uint32Array(cart.lines.length), separate: [] }), validate: () => ({ tag: \"approve\" }) };\n",
    )
    .unwrap();
    let script = "import { componentize } from \"componentize-qjs\";\n\
        import { readFile, writeFile } from \"node:fs/promises\";\n\
        const jsSource = await readFile(\"dist/plain/rules.js\", \"utf8\");\n\
        const { component } = await componentize({ jsSource, witPath: \"wit\", world: \"rules\", sync: true });\n\
        await writeFile(\"dist/plain/rules.wasm\", component);\n";
    std::fs::write(dir.join("build.mjs"), script).unwrap();
    succeeds("node", &["dist/plain/build.mjs"]);
    let bytes = std::fs::read(dir.join("rules.wasm")).unwrap();
    let error = engine().load(&bytes).unwrap_err();
    let LoadError::ForbiddenImports { imports, advice } = &error else {
        panic!("expected forbidden imports, got {error}");
    };
    assert!(
        imports
            .iter()
            .any(|import| import.starts_with("wasi:random/")),
        "{imports:?}"
    );
    assert!(
        advice.is_some_and(|advice| advice.contains("npx rulegate-build")),
        "{error}"
    );
    // `rulegate check` says the same.
    let inspection = engine().inspect(&bytes);
    assert!(
        inspection
            .error
            .unwrap()
            .to_string()
            .contains("rulegate-build")
    );
    // A Rust component with a forbidden import gets no JavaScript advice.
    let error = engine().load(module("imports-clock")).unwrap_err();
    assert!(
        matches!(error, LoadError::ForbiddenImports { advice: None, .. }),
        "{error}"
    );
}

/// The TypeScript US shop built once (its own `npm ci`, unit tests and build), loaded
/// beside the Rust one.
fn us_shops() -> &'static (SharedRuleSet, SharedRuleSet) {
    static SHOPS: OnceLock<(SharedRuleSet, SharedRuleSet)> = OnceLock::new();
    SHOPS.get_or_init(|| {
        installed();
        let dir = us_shop();
        succeeds_in(
            &dir,
            "npm",
            &["ci", "--no-audit", "--no-fund", "--prefer-offline"],
        );
        let report = succeeds_in(&dir, "npm", &["test"]);
        assert!(report.contains("# fail 0"), "{report}");
        succeeds_in(&dir, "npm", &["run", "build"]);
        let engine = engine();
        let typescript = load(&engine, &std::fs::read(dir.join("rules.wasm")).unwrap());
        (typescript, load(&engine, example_wasm("us-shop")))
    })
}

#[test]
fn the_typescript_us_shop_passes_its_fixtures_and_answers_the_shared_carts_as_the_rust_one() {
    us_shops();
    let module = us_shop().join("rules.wasm");
    let fixtures = us_shop().join("fixtures");
    let run = rulegate_tests::cli::rulegate(&[
        "test",
        fixtures.to_str().unwrap(),
        "--module",
        module.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("5 fixtures: 5 passed"),
        "{}",
        run.stdout
    );
    // The Rust example's own carts.
    let (typescript, rust) = us_shops();
    let carts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../example-rules/us-shop/carts");
    for entry in std::fs::read_dir(carts).unwrap() {
        let path = entry.unwrap().path();
        let cart: Cart = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(
            decide_all(&**typescript, &cart),
            decide_all(&**rust, &cart),
            "{}",
            path.display()
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Generated carts (every currency, country and line kind the strategies make):
    /// the twins agree on every decision, errors included.
    #[test]
    fn the_typescript_and_rust_us_shops_decide_the_same(cart in strategies::cart()) {
        let (typescript, rust) = us_shops();
        prop_assert_eq!(decide_all(&**typescript, &cart), decide_all(&**rust, &cart));
    }
}
