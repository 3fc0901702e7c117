//! The command line as a user runs it: exit codes, messages, `--json`.

use std::path::PathBuf;

use rulegate_tests::cli::rulegate;
use rulegate_tests::{cart, example_wasm, fixture, module};
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
            .contains("implements rulegate:checkout/rules@0.2.0")
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
            .contains(&Value::from("rulegate:checkout/decisions@0.2.0"))
    );
}

#[test]
fn check_says_which_contract_a_module_implements() {
    let older = fixture("modules/us-shop-contract-0.1.0.wasm");
    let dir = tempfile::tempdir().unwrap();
    let path = file(&dir, "older.wasm", &older);
    let run = rulegate(&["check", &path]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("implements rulegate:checkout/rules@0.1.0"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("contract rulegate:checkout@0.1.0, served as it is"),
        "{}",
        run.stdout
    );
    let run = rulegate(&["check", &path, "--json"]);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["contract"], "rulegate:checkout@0.1.0");
    let current = file(&dir, "us.wasm", example_wasm("us-shop"));
    let run = rulegate(&["check", &current, "--json"]);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["contract"], "rulegate:checkout@0.2.0");
    assert_eq!(report["world"], "rulegate:checkout/rules@0.2.0");
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
            "does not implement rulegate:checkout/rules@0.2.0",
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

/// A merchant's release: a key, a signature beside the module, and the check an
/// operator's tenant would make, offline. Every way a signature can be wrong is refused
/// with its reason and exit code 1.
#[test]
fn keygen_sign_and_check_signers() {
    let dir = tempfile::tempdir().unwrap();
    let key_path = |name: &str| dir.path().join(name).display().to_string();
    let keygen = |name: &str| {
        let run = rulegate(&["keygen", "--out", &key_path(name)]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let public = run.stdout.trim().to_string();
        assert!(public.starts_with("ed25519:"), "{public}");
        public
    };
    let (alice, bob) = (keygen("alice.key"), keygen("bob.key"));
    keygen("mallory.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(key_path("alice.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = rulegate(&["keygen", "--out", &key_path("alice.key")]);
    assert_eq!(again.code, 2, "an existing key is never overwritten");
    assert!(
        again.stderr.contains("never overwritten"),
        "{}",
        again.stderr
    );

    let module = file(&dir, "rules.wasm", example_wasm("us-shop"));
    let check = |signers: &str, minimum: &str| {
        rulegate(&[
            "check",
            &module,
            "--signers",
            signers,
            "--minimum-signatures",
            minimum,
        ])
    };
    let refused = |run: rulegate_tests::cli::Run, reason: &str| {
        assert_eq!(run.code, 1, "{reason}: {}", run.stdout);
        assert!(
            run.stdout.contains(&format!("signers  refused: {reason}")),
            "{reason}: {}",
            run.stdout
        );
    };
    refused(check(&alice, "1"), "no signature");

    let sign = |key: &str| {
        let run = rulegate(&["sign", &module, "--key", &key_path(key)]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    };
    sign("alice.key");
    let run = check(&format!("{alice},{bob}"), "1");
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains(&format!("signed   by {alice}")));
    assert!(run.stdout.contains("signers  accepted"));
    refused(check(&bob, "1"), "unknown key");
    refused(check(&format!("{alice},{bob}"), "2"), "too few signatures");
    sign("bob.key");
    assert_eq!(check(&format!("{alice},{bob}"), "2").code, 0);
    let run = rulegate(&["check", &module, "--json", "--signers", &alice]);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["signatures"]["accepted"], true);
    assert_eq!(
        report["signatures"]["signed_by"][0],
        Value::from(alice.clone())
    );

    // The module changed after signing: its version is not the one signed.
    let sig = format!("{module}.sig");
    let signed = std::fs::read(&sig).unwrap();
    let mut changed = example_wasm("us-shop").to_vec();
    changed.extend_from_slice(&[0, 5, 4, b'e', b'v', b'i', b'l']);
    std::fs::write(&module, &changed).unwrap();
    refused(check(&alice, "1"), "bad signature");
    std::fs::write(&module, example_wasm("us-shop")).unwrap();

    // A signature altered in the file.
    let mut document: Value = serde_json::from_slice(&signed).unwrap();
    let original = document["signatures"][0]["signature"]
        .as_str()
        .unwrap()
        .to_string();
    let flipped = if original.starts_with('A') { "B" } else { "A" };
    document["signatures"][0]["signature"] = Value::from(format!("{flipped}{}", &original[1..]));
    std::fs::write(&sig, serde_json::to_vec(&document).unwrap()).unwrap();
    refused(check(&alice, "1"), "bad signature");
    std::fs::write(&sig, b"{\"not\": \"a signature file\"}").unwrap();
    refused(check(&alice, "1"), "bad signature");

    // A key the tenant does not list does not count, even beside a listed one.
    std::fs::remove_file(&sig).unwrap();
    sign("mallory.key");
    refused(check(&alice, "1"), "unknown key");
    sign("alice.key");
    assert_eq!(check(&alice, "1").code, 0);
    refused(check(&format!("{alice},{bob}"), "2"), "too few signatures");

    // Usage errors: a malformed key, an impossible minimum, a private key that is not one.
    assert_eq!(check("ed25519:nope", "1").code, 2);
    assert_eq!(check(&alice, "2").code, 2);
    let not_a_key = file(&dir, "not.key", b"hello");
    let run = rulegate(&["sign", &module, "--key", &not_a_key]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("not an Ed25519 private key"),
        "{}",
        run.stderr
    );
}
