//! The command line as a user runs it: exit codes, messages, `--json`.

use std::path::PathBuf;

use rulegate_tests::cli::rulegate;
use rulegate_tests::{cart, example_wasm, module};
use serde_json::Value;

fn file(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> String {
    let path: PathBuf = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

#[test]
fn check_accepts_an_example_and_lists_its_imports() {
    let dir = tempfile::tempdir().unwrap();
    // The SDK's build: a core module, made a component that imports nothing of WASI.
    let path = file(&dir, "eu.wasm", example_wasm("eu-shop"));
    let run = rulegate(&["check", &path]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("kind     core module"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("wasi:"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("implements rulegate:checkout/rules@0.1.0")
    );
    assert!(run.stdout.contains("result   accepted"));

    // A wasip2 component lists the WASI interfaces its std imports.
    let component = file(&dir, "flat.wasm", module("flat-rate"));
    let run = rulegate(&["check", &component]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("kind     component"));
    assert!(run.stdout.contains("ok        wasi:cli/stdout@"));
    assert!(run.stdout.contains("result   accepted"));

    let run = rulegate(&["check", &path, "--json"]);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["kind"], "core module");
    assert_eq!(report["error"], Value::Null);
    assert!(report["compile_ms"].as_f64().unwrap() > 0.0);
    assert!(
        report["exports"]
            .as_array()
            .unwrap()
            .contains(&Value::from("rulegate:checkout/decisions@0.1.0"))
    );
}

#[test]
fn check_refuses_with_a_reason_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    for (name, reason) in [
        (
            "core-module",
            "core WebAssembly module without the contract's types",
        ),
        (
            "wrong-world",
            "does not implement rulegate:checkout/rules@0.1.0",
        ),
        ("imports-filesystem", "FORBIDDEN wasi:filesystem/preopens@"),
    ] {
        let path = file(&dir, &format!("{name}.wasm"), module(name));
        let run = rulegate(&["check", &path]);
        assert_eq!(run.code, 1, "{name}: {}", run.stdout);
        assert!(run.stdout.contains(reason), "{name}: {}", run.stdout);
        assert!(run.stdout.contains("result   refused"), "{name}");
    }
    let path = file(&dir, "text.wasm", b"definitely not wasm");
    let run = rulegate(&["check", &path]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("not a WebAssembly file"));
}

#[test]
fn check_of_a_missing_file_is_a_usage_error() {
    let run = rulegate(&["check", "/nonexistent/rules.wasm"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("reading /nonexistent/rules.wasm"),
        "{}",
        run.stderr
    );
}

#[test]
fn run_prints_decisions_with_fuel_memory_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let module_path = file(&dir, "us.wasm", example_wasm("us-shop"));
    let cart_path = file(
        &dir,
        "cart.json",
        &serde_json::to_vec(&cart("USD", "US", 3)).unwrap(),
    );

    let run = rulegate(&[
        "run",
        "--module",
        &module_path,
        "--input",
        &cart_path,
        "--json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(report["module"].as_str().unwrap().starts_with("sha256:"));
    let tax = &report["decisions"]["tax"]["decided"];
    assert_eq!(tax["line_rates"], serde_json::json!([0, 0, 0]));
    assert_eq!(tax["separate"][0]["rate"], 725);
    assert_eq!(
        report["decisions"]["shipping-options"]["decided"][0]["id"],
        "standard"
    );
    assert_eq!(report["decisions"]["validate"]["decided"], "Approve");
    assert!(report["usage"]["fuel"].as_u64().unwrap() > 0);
    assert!(report["usage"]["peak_memory_bytes"].as_u64().unwrap() > 0);
    assert!(report["usage"]["elapsed_us"].as_u64().is_some());

    let run = rulegate(&[
        "run",
        "--module",
        "example:us-shop",
        "--input",
        &cart_path,
        "--decision",
        "tax",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("tax: decided"));
    assert!(!run.stdout.contains("shipping-options"));
    assert!(run.stdout.contains("fuel "), "{}", run.stdout);
}

#[test]
fn run_reports_a_declined_decision_and_a_failed_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut po_box = cart("USD", "US", 1);
    po_box.shipping_address.as_mut().unwrap().street_lines = vec!["PO Box 1".into()];
    let cart_path = file(&dir, "cart.json", &serde_json::to_vec(&po_box).unwrap());
    let run = rulegate(&[
        "run",
        "--module",
        "example:us-shop",
        "--input",
        &cart_path,
        "--decision",
        "shipping",
        "--json",
    ]);
    assert_eq!(run.code, 0);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(
        report["decisions"]["shipping-options"]["rule_error"]["AddressUnsupported"].is_string()
    );

    let looping = file(&dir, "loop.wasm", module("infinite-loop"));
    let run = rulegate(&[
        "run",
        "--module",
        &looping,
        "--input",
        &cart_path,
        "--decision",
        "tax",
        "--fuel",
        "1000000",
    ]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("tax: FAILED (fuel)"), "{}", run.stdout);
}

#[test]
fn run_rejects_a_bad_cart_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let cart_path = file(&dir, "cart.json", br#"{"platform": "Kco", "currency": 5}"#);
    let run = rulegate(&["run", "--module", "example:eu-shop", "--input", &cart_path]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("is not a canonical cart"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("line 1"), "{}", run.stderr);

    let run = rulegate(&[
        "run",
        "--module",
        "example:no-such-shop",
        "--input",
        &cart_path,
    ]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("no example named \"no-such-shop\""),
        "{}",
        run.stderr
    );
}

/// A fixture file and a cart are objects: an array laid out in their fields' order is
/// a usage error that says so, and nothing runs.
#[test]
fn arrays_in_place_of_fixtures_and_carts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = dir.path().join("fixtures");
    std::fs::create_dir(&fixtures).unwrap();
    std::fs::write(
        fixtures.join("array.json"),
        r#"["an array", "kco", "address_update", {}, {}, null, {"status": 200}]"#,
    )
    .unwrap();
    let run = rulegate(&[
        "test",
        fixtures.to_str().unwrap(),
        "--module",
        "native:us-shop",
    ]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("invalid type: sequence"),
        "{}",
        run.stderr
    );

    let cart = serde_json::to_value(cart("USD", "US", 1)).unwrap();
    let fields: Vec<Value> = cart.as_object().unwrap().values().cloned().collect();
    let input = file(&dir, "cart.json", &serde_json::to_vec(&fields).unwrap());
    let run = rulegate(&["run", "--module", "native:us-shop", "--input", &input]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("not a canonical cart"),
        "{}",
        run.stderr
    );
}
