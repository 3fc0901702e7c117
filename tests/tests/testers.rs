//! Testers end-to-end: the decision log the running server writes, and `rulegate
//! replay` of it against the same module and a changed one.

use std::path::Path;
use std::time::Duration;

use rulegate_tests::cli::rulegate;
use rulegate_tests::config::ConfigFile;
use rulegate_tests::http;
use rulegate_tests::server::Server;
use rulegate_tests::{fixture, fixture_json, write_module};
use serde_json::{Value, json};

/// Sends a mix of real callbacks to a server with tenants `us` (US shop) and `eu` (EU
/// shop) and returns the decision log's lines once all are written.
fn serve_and_log(dir: &Path) -> (Vec<Value>, String) {
    let state = dir.join("state");
    let config = ConfigFile::new(dir).state_dir().toml(
        r#"
[tenants.us]
module = "example:us-shop"
[tenants.us.kco]
unauthenticated = true
[tenants.us.messenger]
unauthenticated = true

[tenants.eu]
module = "example:eu-shop"
[tenants.eu.kco]
unauthenticated = true
"#,
    );
    let server = config.start();
    let post = |target: &str, body: &[u8]| {
        let response = http::post_json(server.address, target, body);
        assert!(response.status < 500, "{target}: {}", response.text());
        response
    };
    post(
        "/us/kco/address_update",
        &fixture("kco/address_update_request.json"),
    );
    post(
        "/us/kco/validation",
        &fixture("kco/validation_request.json"),
    );
    post(
        "/us/messenger",
        &fixture("messenger/checkout_update_webhook.json"),
    );
    let pre_checkout = json!({"object": "page", "entry": [{"id": "P", "messaging": [
        fixture_json("messenger/pre_checkout_messaging_event.json")]}]});
    post("/us/messenger", pre_checkout.to_string().as_bytes());
    post(
        "/eu/kco/address_update",
        &fixture("kco/de_address_update_request.json"),
    );
    // Refused before any rule runs: not a decision.
    assert_eq!(post("/us/kco/address_update", b"{").status, 400);

    let path = state.join("decisions.jsonl");
    let mut text = String::new();
    for _ in 0..400 {
        text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.lines().count() >= 5 {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    drop(server);
    let records: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    (records, text)
}

#[test]
fn the_decision_log_replays_cleanly_and_reports_a_changed_module() {
    let dir = tempfile::tempdir().unwrap();
    let (records, text) = serve_and_log(dir.path());
    assert_eq!(records.len(), 5, "{text}");
    let callbacks: Vec<(&str, &str, &str)> = records
        .iter()
        .map(|r| {
            (
                r["tenant"].as_str().unwrap(),
                r["platform"].as_str().unwrap(),
                r["callback"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        callbacks,
        [
            ("us", "kco", "address_update"),
            ("us", "kco", "validation"),
            ("us", "messenger", "checkout_update"),
            ("us", "messenger", "pre_checkout"),
            ("eu", "kco", "address_update"),
        ]
    );
    for record in &records {
        assert!(record["module"].as_str().unwrap().starts_with("sha256:"));
        assert!(record["time_ms"].as_u64().unwrap() > 0);
        assert!(record["fuel"].as_u64().unwrap() > 0, "{record}");
        assert!(record["peak_memory_bytes"].as_u64().unwrap() > 0);
        assert!(record["latency_us"].as_u64().unwrap() > 0);
        assert_eq!(record["status"], 200);
        assert_eq!(record["outcome"], "ok");
        assert_eq!(record["redacted"], json!(["street_lines", "organization"]));
    }
    assert_eq!(
        records[0]["decisions"][0][0], "tax",
        "decisions in the order they ran"
    );
    assert_eq!(records[1]["decisions"][0][0], "validate");
    assert_eq!(
        records[1]["decisions"][0][1]["answer"], "Approve",
        "{}",
        records[1]
    );
    // Street lines are personal data: redacted by default.
    let address = &records[2]["input"]["shipping_address"];
    assert_eq!(address["street_lines"], json!(["[redacted]"]));
    assert_eq!(address["region"], "CA");
    for personal in ["Hacker Way", "Edgewater", "Tao Jiang"] {
        assert!(!text.contains(personal), "{personal} was logged");
    }

    let log = dir.path().join("state/decisions.jsonl");
    let log = log.to_str().unwrap();
    // The same module: every record replays the same.
    let run = rulegate(&[
        "replay",
        log,
        "--module",
        "example:us-shop",
        "--tenant",
        "us",
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("4 records: 4 same, 0 different, 0 failed"),
        "{}",
        run.stdout
    );
    let run = rulegate(&[
        "replay",
        log,
        "--module",
        "example:eu-shop",
        "--tenant",
        "eu",
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);

    // A changed module: differences, readable, and exit 1.
    let flat = write_module(dir.path(), "flat-rate");
    let flat = flat.trim_matches('"');
    let run = rulegate(&["replay", log, "--module", flat, "--tenant", "us"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("4 records: 2 same, 2 different, 0 failed"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains(r#"us messenger.checkout_update · shipping-options"#),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(r#"[0].id: "standard" → "flat""#),
        "{}",
        run.stdout
    );
    let run = rulegate(&["replay", log, "--module", flat, "--json"]);
    assert_eq!(run.code, 1);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["records"], 5);
    assert_eq!(
        report["same"].as_u64().unwrap()
            + report["different"].as_u64().unwrap()
            + report["failed"].as_u64().unwrap(),
        5
    );
    assert!(report["candidate_fuel"].as_u64().unwrap() > 0);

    // A module that cannot decide these carts: failed, exit 1.
    let run = rulegate(&[
        "replay",
        log,
        "--module",
        "example:us-shop",
        "--tenant",
        "eu",
    ]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("1 records: 0 same, 0 different, 1 failed"),
        "{}",
        run.stdout
    );

    // Not a log: a load error, exit 2.
    let run = rulegate(&[
        "replay",
        dir.path().join("rulegate.toml").to_str().unwrap(),
        "--module",
        "example:us-shop",
    ]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stderr.contains("not a decision log record"),
        "{}",
        run.stderr
    );
}

fn examples_dir(example: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../example-rules")
        .join(example)
        .join("fixtures")
        .display()
        .to_string()
}

#[test]
fn rulegate_test_passes_the_example_fixtures_and_fails_readably() {
    for example in ["us-shop", "eu-shop", "catalog-shop"] {
        let module = format!("example:{example}");
        let run = rulegate(&["test", &examples_dir(example), "--module", &module]);
        assert_eq!(run.code, 0, "{example}: {}{}", run.stdout, run.stderr);
        assert!(run.stdout.contains(" passed, 0 failed"), "{}", run.stdout);
    }

    // A deliberately wrong expectation and a fuel ceiling set too low.
    let dir = tempfile::tempdir().unwrap();
    let texas: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(&examples_dir("us-shop")).join("messenger-payload-cart-texas.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let mut wrong = texas.clone();
    wrong["expect"]["body"]["shipping"][0]["price_list"][1]["amount"] = json!("4.13");
    std::fs::write(dir.path().join("a-wrong.json"), wrong.to_string()).unwrap();
    let mut greedy = texas.clone();
    greedy["max_fuel"] = json!(1000);
    std::fs::write(dir.path().join("b-greedy.json"), greedy.to_string()).unwrap();
    std::fs::write(dir.path().join("c-right.json"), texas.to_string()).unwrap();
    let fixtures = dir.path().to_str().unwrap();
    let junit = dir.path().join("junit.xml");
    let run = rulegate(&[
        "test",
        fixtures,
        "--module",
        "example:us-shop",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains(r#"body.shipping[0].price_list[1].amount: "4.13" → "4.12""#),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("is above the ceiling of 1000"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("3 fixtures: 1 passed, 2 failed"),
        "{}",
        run.stdout
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains(r#"tests="3" failures="2""#), "{xml}");
    assert!(xml.contains(r#"<testcase classname="#), "{xml}");
    assert_eq!(xml.matches("<failure ").count(), 2, "{xml}");

    let run = rulegate(&["test", fixtures, "--module", "example:us-shop", "--json"]);
    assert_eq!(run.code, 1);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["failed"], 2);
    assert_eq!(report["fixtures"][2]["passed"], true);
    assert!(report["fixtures"][2]["fuel"].as_u64().unwrap() > 1000);

    // --bless accepts the current answers; then everything passes.
    let run = rulegate(&["test", fixtures, "--module", "example:us-shop", "--bless"]);
    assert_eq!(run.code, 1, "the blessing run still reports the failures");
    std::fs::remove_file(dir.path().join("b-greedy.json")).unwrap();
    let run = rulegate(&["test", fixtures, "--module", "example:us-shop"]);
    assert_eq!(run.code, 0, "{}", run.stdout);

    // Usage and load errors: exit 2.
    std::fs::write(
        dir.path().join("d-broken.json"),
        r#"{"expect": {}, "inputs": 1}"#,
    )
    .unwrap();
    let run = rulegate(&["test", fixtures, "--module", "example:us-shop"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stderr.contains("d-broken.json"), "{}", run.stderr);
    let run = rulegate(&["test", fixtures]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--module"), "{}", run.stderr);
}

const US_ANSWER: &str = r#"{"shipping":[{"option_id":"standard","option_title":"Standard","price_list":[{"label":"Shipping","amount":"5.99"},{"label":"Tax","amount":"0.00"}]},{"option_id":"express","option_title":"Express","price_list":[{"label":"Shipping","amount":"14.99"},{"label":"Tax","amount":"0.00"}]}]}"#;
const FLAT_ANSWER: &str = r#"{"shipping":[{"option_id":"flat","option_title":"Flat rate","price_list":[{"label":"Shipping","amount":"4.00"},{"label":"Tax","amount":"0.00"}]}]}"#;
const TOKEN: &str = "shadow-admin-token";

fn shadow_counts(server: &Server) -> [u64; 4] {
    let metrics = admin(server, "GET", "/metrics", b"").text();
    ["same", "different", "failed", "skipped"].map(|result| {
        let series =
            format!(r#"rulegate_shadow_evaluations_total{{tenant="shop",result="{result}"}} "#);
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(&series))
            .map_or(0, |value| value.parse().unwrap())
    })
}

fn admin(server: &Server, method: &str, target: &str, body: &[u8]) -> http::Response {
    server.admin(TOKEN, method, target, body)
}

#[test]
fn shadow_candidates_never_change_an_answer_and_their_differences_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let server = ConfigFile::new(dir.path())
        .state_dir()
        .admin(TOKEN)
        .toml(
            r#"
[tenants.shop]
module = "example:us-shop"
[tenants.shop.messenger]
unauthenticated = true
"#,
        )
        .start();
    let delivery = fixture("messenger/checkout_update_webhook.json");
    let ask = || http::post_json(server.address, "/shop/messenger", &delivery).text();
    let wait_for = |what: &str, done: &dyn Fn([u64; 4]) -> bool| {
        for _ in 0..400 {
            if done(shadow_counts(&server)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("{what}: {:?}", shadow_counts(&server));
    };

    // A candidate that answers differently.
    let response = admin(
        &server,
        "POST",
        "/v1/tenants/shop/shadow",
        rulegate_tests::module("flat-rate"),
    );
    assert_eq!(response.status, 200, "{}", response.text());
    let flat = response.json()["shadow"]["version"]
        .as_str()
        .unwrap()
        .to_string();
    let status = admin(&server, "GET", "/v1/tenants/shop", b"").json();
    assert_eq!(status["shadow"]["version"], json!(flat));
    assert_ne!(status["active"]["version"], json!(flat));
    for _ in 0..30 {
        assert_eq!(ask(), US_ANSWER);
    }
    wait_for("30 evaluations", &|[same, different, failed, skipped]| {
        same + different + failed + skipped == 30
    });
    let [same, different, failed, skipped] = shadow_counts(&server);
    assert_eq!((same, failed), (0, 0));
    assert!(
        different > 0 && different + skipped == 30,
        "{different} {skipped}"
    );

    // A candidate that burns its whole budget on every call: answers unchanged.
    let response = admin(
        &server,
        "POST",
        "/v1/tenants/shop/shadow",
        rulegate_tests::module("infinite-loop"),
    );
    assert_eq!(response.status, 200, "{}", response.text());
    for _ in 0..5 {
        assert_eq!(ask(), US_ANSWER);
    }
    wait_for("5 more evaluations", &|[
        same,
        different,
        failed,
        skipped,
    ]| {
        same + different + failed + skipped == 35
    });
    assert_eq!(shadow_counts(&server)[0], 0);
    assert!(shadow_counts(&server)[2] > 0, "no failure counted");

    // The same module as a candidate: no differences.
    let response = admin(
        &server,
        "POST",
        "/v1/tenants/shop/shadow",
        rulegate_tests::example_wasm("us-shop"),
    );
    assert_eq!(response.status, 200);
    for _ in 0..5 {
        assert_eq!(ask(), US_ANSWER);
    }
    wait_for("5 same", &|[same, _, _, skipped]| {
        same + skipped >= 5 && same > 0
    });

    // Promote the differing candidate by version: now it answers.
    let body = serde_json::to_vec(&json!({ "version": flat })).unwrap();
    let response = admin(&server, "POST", "/v1/tenants/shop/shadow", &body);
    assert_eq!(response.status, 200, "{}", response.text());
    let response = admin(&server, "POST", "/v1/tenants/shop/shadow/promote", b"");
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["active"]["version"], json!(flat));
    assert_eq!(ask(), FLAT_ANSWER);
    let status = admin(&server, "GET", "/v1/tenants/shop", b"").json();
    assert_eq!(status["shadow"], Value::Null);
    let response = admin(&server, "POST", "/v1/tenants/shop/shadow/promote", b"");
    assert_eq!(response.status, 409);
    let response = admin(
        &server,
        "POST",
        "/v1/tenants/shop/shadow",
        b"\0asm\x0d\0\x01\0",
    );
    assert_eq!(response.status, 422, "{}", response.text());

    // The decision log holds the shadow evaluations, marked; replay skips them.
    let log = dir.path().join("state/decisions.jsonl");
    let mut records: Vec<Value> = Vec::new();
    for _ in 0..400 {
        records = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        if records.iter().filter(|r| r["shadow_of"].is_null()).count() >= 41 {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let live = records.iter().filter(|r| r["shadow_of"].is_null()).count();
    assert_eq!(live, 41);
    let shadow: Vec<&Value> = records
        .iter()
        .filter(|r| r["shadow_of"].is_string())
        .collect();
    assert!(!shadow.is_empty());
    assert!(
        shadow
            .iter()
            .any(|r| r["outcome"] == "different" && r["module"] == json!(flat))
    );
    drop(server);
    let run = rulegate(&[
        "replay",
        log.to_str().unwrap(),
        "--module",
        "example:us-shop",
    ]);
    assert!(run.stdout.contains("41 records:"), "{}", run.stdout);
}

#[test]
fn replay_compares_two_modules_on_a_directory_of_payloads() {
    let dir = tempfile::tempdir().unwrap();
    let payloads = dir.path().join("payloads");
    std::fs::create_dir(&payloads).unwrap();
    for name in ["address_update_request.json", "country_change_request.json"] {
        std::fs::write(payloads.join(name), fixture(&format!("kco/{name}"))).unwrap();
    }
    let payloads = payloads.to_str().unwrap();
    let args = |module: &str| {
        vec![
            "replay".to_string(),
            payloads.to_string(),
            "--module".into(),
            module.to_string(),
            "--baseline".into(),
            "example:us-shop".into(),
            "--platform".into(),
            "kco".into(),
            "--callback".into(),
            "address_update".into(),
        ]
    };
    let run_with = |module: &str| {
        let args = args(module);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        rulegate(&args)
    };
    let run = run_with("example:us-shop");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("2 records: 2 same, 0 different, 0 failed"),
        "{}",
        run.stdout
    );
    let flat = write_module(dir.path(), "flat-rate");
    let run = run_with(flat.trim_matches('"'));
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("2 records: 0 same, 2 different, 0 failed"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains(r#"body.shipping_options[0].id: "standard" → "flat""#),
        "{}",
        run.stdout
    );
    // Without a baseline: a usage error.
    let run = rulegate(&["replay", payloads, "--module", "example:us-shop"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--baseline"), "{}", run.stderr);
}

#[test]
fn a_tenant_names_its_shadow_and_its_limits_in_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let config = ConfigFile::new(dir.path()).state_dir().admin(TOKEN);
    let flat = config.module("flat-rate");
    let config_path = config
        .toml(&format!(
            r#"
[tenants.shop]
module = "example:us-shop"
shadow = {flat}
limits = {{ fuel = 1000 }}
[tenants.shop.messenger]
unauthenticated = true
"#
        ))
        .write();

    // `rulegate test` with the tenant's limits: 1,000 fuel is not enough.
    let run = rulegate(&[
        "test",
        &examples_dir("us-shop"),
        "--config",
        config_path.to_str().unwrap(),
        "--tenant",
        "shop",
    ]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("fuel"), "{}", run.stdout);

    let config = std::fs::read_to_string(&config_path)
        .unwrap()
        .replace("limits = { fuel = 1000 }\n", "");
    std::fs::write(&config_path, config).unwrap();
    let server = Server::start(Some(&config_path));
    let status = admin(&server, "GET", "/v1/tenants/shop", b"").json();
    assert!(
        status["shadow"]["version"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    let delivery = fixture("messenger/checkout_update_webhook.json");
    let response = http::post_json(server.address, "/shop/messenger", &delivery);
    assert_eq!(response.text(), US_ANSWER);
    for _ in 0..400 {
        if shadow_counts(&server)[1] + shadow_counts(&server)[3] == 1 {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("no shadow evaluation counted: {:?}", shadow_counts(&server));
}
