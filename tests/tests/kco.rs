//! KCO end-to-end: the real server on an ephemeral port, the example modules built from
//! source, the fixtures sent as KCO sends them, answers checked field by field.

use std::path::Path;
use std::time::{Duration, Instant};

use rulegate_tests::cli::rulegate;
use rulegate_tests::config::ConfigFile;
use rulegate_tests::http::{self, Response};
use rulegate_tests::server::Server;
use rulegate_tests::{fixture, fixture_json};
use serde_json::{Value, json};

/// KCO approves an order on its own when validation does not answer within 3 s: the
/// protocol's bound, which every answer must meet.
const KCO_WINDOW: Duration = Duration::from_secs(3);

const SECRET: &str = "kco-Secret-0f9a";

/// A configuration with the example tenants, a tenant behind a secret, and one tenant
/// per hostile module with fallback policies.
fn start(config: ConfigFile) -> Server {
    let secret = config.secret("kco-secret", &format!("{SECRET}\n"));
    config
        .key("max_body_bytes = 16384")
        .toml(&format!(
            r#"
[tenants.us]
module = "example:us-shop"
[tenants.us.kco]
unauthenticated = true

[tenants.eu]
module = "example:eu-shop"
[tenants.eu.kco]
secret = {secret}
order_id_params = ["shop_order"]

[tenants.catalog]
module = "example:catalog-shop"
[tenants.catalog.kco]
unauthenticated = true
reject_redirect = "https://shop.example/order-declined"

[tenants.nokco]
module = "example:us-shop"
"#
        ))
        .start()
}

fn post(server: &Server, target: &str, body: &[u8]) -> Response {
    server.post_json(target, body)
}

/// KCO's per-line tax rule: `total_tax_amount` within 1 of
/// `total_amount - total_amount * 10000 / (10000 + tax_rate)` (docs/PROTOCOLS.md §1.4).
fn within_one(total: i64, tax: i64, rate: i64) -> bool {
    let exact = i128::from(total) * i128::from(rate);
    let scaled = i128::from(tax) * i128::from(10_000 + rate);
    (scaled - exact).abs() <= i128::from(10_000 + rate)
}

/// The fields KCO sent on a line that the host must return unchanged.
fn kept_fields(line: &Value) -> serde_json::Map<String, Value> {
    let mut kept = line.as_object().unwrap().clone();
    for recomputed in [
        "tax_rate",
        "total_amount",
        "total_tax_amount",
        "total_discount_amount",
    ] {
        kept.remove(recomputed);
    }
    kept
}

fn assert_line_kept(sent: &Value, answered: &Value) {
    let answered_fields = answered.as_object().unwrap();
    for (key, value) in kept_fields(sent) {
        assert_eq!(
            answered_fields.get(&key),
            Some(&value),
            "field {key} of {sent}"
        );
    }
}

fn amounts(line: &Value) -> (i64, i64, i64) {
    (
        line["tax_rate"].as_i64().unwrap(),
        line["total_amount"].as_i64().unwrap(),
        line["total_tax_amount"].as_i64().unwrap(),
    )
}

#[test]
fn sdk_fixtures_get_whole_consistent_carts() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(ConfigFile::new(dir.path()));
    for callback in ["address_update", "country_change", "shipping_option_update"] {
        let request = fixture_json(&format!("kco/{callback}_request.json"));
        let expected_shape = fixture_json(&format!("kco/{callback}_response.json"));
        let response = post(
            &server,
            &format!("/us/kco/{callback}?kustom_order_id=f3392f8b"),
            &fixture(&format!("kco/{callback}_request.json")),
        );
        assert_eq!(response.status, 200, "{callback}: {}", response.text());
        assert_eq!(
            response.header("content-type"),
            Some("application/json"),
            "{callback}"
        );
        let body = response.json();
        // Every field of KCO's documented response is there.
        for key in expected_shape.as_object().unwrap().keys() {
            assert!(body.get(key).is_some(), "{callback}: {key} missing");
        }
        assert_eq!(body["purchase_currency"], "USD");
        let lines = body["order_lines"].as_array().unwrap();
        // The T-shirt: every field kept, US sales tax moves tax off the line.
        assert_line_kept(&request["order_lines"][0], &lines[0]);
        assert_eq!(amounts(&lines[0]), (0, 50_000, 0), "{callback}");
        // California 7.25 % of 50000 as a sales_tax line whose amount is the tax: rate
        // 0, so by KCO's line rule no total_tax_amount.
        let sales_tax = lines.iter().find(|l| l["type"] == "sales_tax").unwrap();
        assert_eq!(sales_tax["reference"], "sales-tax");
        assert_eq!(sales_tax["name"], "Sales tax (CA 7.25 %)");
        assert_eq!(amounts(sales_tax), (0, 3625, 0));
        assert_eq!(sales_tax["unit_price"], 3625);
        assert_eq!(sales_tax["quantity"], 1);
        // The fee line: only where the shopper picked an option.
        let fee: Vec<&Value> = lines
            .iter()
            .filter(|l| l["type"] == "shipping_fee")
            .collect();
        if callback == "shipping_option_update" {
            // "express_priority" is no longer offered: the preselected option takes
            // its place, free above $99.
            assert_eq!(fee.len(), 1);
            assert_eq!(fee[0]["reference"], "standard");
            assert_eq!(amounts(fee[0]), (0, 0, 0));
        } else {
            assert!(fee.is_empty(), "{callback}");
        }
        assert_eq!(body["order_amount"], 53_625, "{callback}");
        // The sales tax, the only tax of a US cart.
        assert_eq!(body["order_tax_amount"], 3_625, "{callback}");
        for line in lines {
            let (rate, total, tax) = amounts(line);
            assert!(within_one(total, tax, rate), "{callback}: {line}");
        }
        let options = body["shipping_options"].as_array().unwrap();
        let ids: Vec<&str> = options.iter().map(|o| o["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["standard", "express"]);
        assert_eq!(options[0]["preselected"], true);
        assert_eq!(options[0]["shipping_method"], "Home");
        assert_eq!(options[0]["delivery_details"]["carrier"], "USPS");
        assert_eq!(options[1]["price"], 1499);
        assert_eq!(options[1]["tax_amount"], 0);
    }
}

#[test]
fn validation_fixture_approves_and_rejections_follow_the_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(ConfigFile::new(dir.path()));
    let order = fixture("kco/validation_request.json");
    let approved = post(
        &server,
        "/us/kco/validation?kustom_order_id=f3392f8b",
        &order,
    );
    assert_eq!(approved.status, 200);
    assert!(approved.body.is_empty());

    // A ZIP code the US shop refuses: 400 address_error with its message.
    let mut bad_zip = fixture_json("kco/validation_request.json");
    bad_zip["shipping_address"]["postal_code"] = json!("9021");
    let rejected = post(
        &server,
        "/us/kco/validation",
        bad_zip.to_string().as_bytes(),
    );
    assert_eq!(rejected.status, 400);
    assert_eq!(
        rejected.json(),
        json!({"error_type": "address_error", "error_text": "Please enter a valid ZIP code."})
    );
    // Same shape as the reject a production WooCommerce plugin sends.
    let shape = fixture_json("kco/validation_reject_400_krokedil.json");
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&rejected.json()), keys(&shape));

    // A PO box: unsupported_shipping_address.
    let mut po_box = fixture_json("kco/validation_request.json");
    po_box["shipping_address"]["street_address"] = json!("PO Box 1234");
    let rejected = post(&server, "/us/kco/validation", po_box.to_string().as_bytes());
    assert_eq!(rejected.status, 400);
    assert_eq!(
        rejected.json()["error_type"],
        "unsupported_shipping_address"
    );

    // A tenant with a rejection page redirects instead (the catalog shop sells in SEK).
    let redirected = post(&server, "/catalog/kco/validation", &order);
    assert_eq!(redirected.status, 303);
    assert_eq!(
        redirected.header("location"),
        Some("https://shop.example/order-declined")
    );
}

#[test]
fn eu_cart_is_recomputed_with_the_destination_rates_and_keeps_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(ConfigFile::new(dir.path()));
    let sent = fixture_json("kco/de_address_update_request.json");
    let response = post(
        &server,
        &format!("/eu/kco/{SECRET}/address_update?shop_order=A-1"),
        &fixture("kco/de_address_update_request.json"),
    );
    assert_eq!(response.status, 200, "{}", response.text());
    let body = response.json();
    let lines = body["order_lines"].as_array().unwrap();
    assert_eq!(lines.len(), 4);
    for index in 0..3 {
        assert_line_kept(&sent["order_lines"][index], &lines[index]);
    }
    // Books 7 %, everything else 19 % in Germany; tax = total × rate / (10000 + rate).
    assert_eq!(amounts(&lines[0]), (700, 3000, 196));
    assert_eq!(amounts(&lines[1]), (1900, 17_910, 2860));
    assert_eq!(lines[1]["total_discount_amount"], 1990);
    assert_eq!(amounts(&lines[2]), (1900, -500, -80));
    // The earlier shipping fee is re-priced for the selected option (free above the
    // threshold) and keeps the merchant's data.
    assert_eq!(lines[3]["type"], "shipping_fee");
    assert_eq!(lines[3]["reference"], "standard");
    assert_eq!(lines[3]["merchant_data"], "fee-data");
    assert_eq!(amounts(&lines[3]), (1900, 0, 0));
    assert_eq!(body["order_amount"], 3000 + 17_910 - 500);
    assert_eq!(body["order_tax_amount"], 196 + 2860 - 80);
    assert_eq!(body["merchant_data"], "cart-42");
    assert_eq!(body["locale"], "de-DE");
    assert_eq!(body["tags"], json!(["returning"]));
    let express = &body["shipping_options"][2];
    assert_eq!(
        (express["price"].as_i64(), express["tax_amount"].as_i64()),
        (Some(1290), Some(206))
    );
}

#[test]
fn the_secret_is_checked_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(ConfigFile::new(dir.path()));
    let body = fixture("kco/de_address_update_request.json");
    let ok_path = post(&server, &format!("/eu/kco/{SECRET}/address_update"), &body);
    assert_eq!(ok_path.status, 200);
    let ok_query = post(
        &server,
        &format!("/eu/kco/address_update?token={SECRET}"),
        &body,
    );
    assert_eq!(ok_query.status, 200);
    for target in [
        "/eu/kco/address_update".to_string(),
        "/eu/kco/wrong/address_update".to_string(),
        format!("/eu/kco/{}/address_update", &SECRET[..SECRET.len() - 1]),
        format!("/eu/kco/{SECRET}x/address_update"),
        "/eu/kco/address_update?token=kco-secret-0f9a".to_string(),
    ] {
        // Even a malformed body gets 401 first: nothing is parsed or run.
        for body in [&body[..], b"{not json"] {
            let response = post(&server, &target, body);
            assert_eq!(response.status, 401, "{target}");
            assert_eq!(response.json()["error"], "unauthorized");
            assert!(!response.text().contains(SECRET));
        }
    }
    let push = http::request(
        server.address,
        "POST",
        "/eu/kco/push?kustom_order_id=x",
        &[],
        b"",
    );
    assert_eq!(push.status, 401);
}

#[test]
fn push_is_acknowledged_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(ConfigFile::new(dir.path()));
    let response = http::request(
        server.address,
        "POST",
        "/us/kco/push?klarna_order_id=order-77",
        &[],
        b"",
    );
    assert_eq!(response.status, 200);
    let events = server.workdir.path().join("rulegate-state/events.jsonl");
    let recorded: Vec<Value> = std::fs::read_to_string(&events)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0]["event"], "push");
    assert_eq!(recorded[0]["platform"], "kco");
    assert_eq!(recorded[0]["order_id"], "order-77");
    let missing_id = http::request(server.address, "POST", "/us/kco/push", &[], b"");
    assert_eq!(missing_id.status, 400);
    assert!(
        missing_id.json()["message"]
            .as_str()
            .unwrap()
            .contains("order id")
    );
}

#[test]
fn bad_input_gets_a_clear_4xx_and_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(ConfigFile::new(dir.path()));
    let valid = fixture_json("kco/address_update_request.json");
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut value = valid.clone();
        edit(&mut value);
        value.to_string().into_bytes()
    };
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (b"{\"order_amount\": 1,".to_vec(), 400, "not valid JSON"),
        (b"[1, 2]".to_vec(), 400, "must be a JSON object"),
        (b"".to_vec(), 400, "empty"),
        (
            with(&|v| v["order_lines"][0]["quantity"] = json!("5")),
            400,
            "`order_lines[0].quantity`: invalid type: string",
        ),
        (
            with(&|v| v["order_lines"][0]["quantity"] = json!(1.5)),
            400,
            "`order_lines[0].quantity`",
        ),
        (
            with(&|v| {
                v.as_object_mut().unwrap().remove("purchase_currency");
            }),
            400,
            "missing field `purchase_currency`",
        ),
        (
            with(&|v| {
                v["order_lines"][0].as_object_mut().unwrap().remove("name");
            }),
            400,
            "missing field `name`",
        ),
        (
            with(&|v| v["order_lines"][0]["tax_rate"] = json!(10001)),
            400,
            "`order_lines[0].tax_rate`",
        ),
        (
            with(&|v| v["order_lines"][0]["quantity"] = json!(-2)),
            400,
            "`order_lines[0].quantity`",
        ),
        (
            with(&|v| v["order_lines"][0]["unit_price"] = json!(i64::MAX)),
            400,
            "unit_price",
        ),
        (
            with(&|v| v["purchase_currency"] = json!("US")),
            400,
            "purchase_currency",
        ),
        (
            vec![b' '; 20_000],
            413,
            "larger than the limit of 16384 bytes",
        ),
    ];
    for (body, status, message) in cases {
        let response = post(&server, "/us/kco/address_update", &body);
        assert_eq!(response.status, status, "{message}: {}", response.text());
        let answer = response.json();
        assert!(
            answer["message"].as_str().unwrap().contains(message),
            "expected {message:?} in {answer}"
        );
    }
    // Wrong content type.
    let response = http::request(
        server.address,
        "POST",
        "/us/kco/address_update",
        &[("Content-Type", "text/plain")],
        &fixture("kco/address_update_request.json"),
    );
    assert_eq!(response.status, 415);
    assert!(
        response.json()["message"]
            .as_str()
            .unwrap()
            .contains("application/json")
    );
    // Unknown tenant, platform not configured, unknown callback.
    for (target, needle) in [
        ("/nobody/kco/address_update", "no tenant named \"nobody\""),
        ("/nokco/kco/address_update", "does not serve KCO"),
        (
            "/us/kco/address_updat",
            "no KCO callback named \"address_updat\"",
        ),
    ] {
        let response = post(&server, target, &fixture("kco/address_update_request.json"));
        assert_eq!(response.status, 404, "{target}");
        assert!(
            response.json()["message"]
                .as_str()
                .unwrap()
                .contains(needle),
            "{target}"
        );
    }
    // Wrong method.
    assert_eq!(
        http::get(server.address, "/us/kco/address_update").status,
        405
    );
    // Nothing was recorded, and the server still answers.
    assert!(
        !server
            .workdir
            .path()
            .join("rulegate-state/events.jsonl")
            .exists()
            || std::fs::read_to_string(server.workdir.path().join("rulegate-state/events.jsonl"))
                .unwrap()
                .is_empty()
    );
    let ok = post(
        &server,
        "/us/kco/address_update",
        &fixture("kco/address_update_request.json"),
    );
    assert_eq!(ok.status, 200);
}

/// The misbehaving test modules, each a tenant of its own.
const HOSTILE: &[&str] = &[
    "infinite-loop",
    "memory-bomb",
    "panics",
    "deep-recursion",
    "bad-output",
    "huge-output",
    "allocation-storm",
];

/// One tenant per hostile module, with fallbacks for tax and shipping and a rejecting
/// validation, plus one with the defaults (reject everything) that approves
/// validation by override.
fn hostile_tenants(config: ConfigFile) -> ConfigFile {
    config
        .failing_tenants(
            HOSTILE,
            "kco",
            r#"
tax = "fallback"
fallback_tax_rate = 2500
shipping = "fallback"
fallback_shipping = [{ id = "fallback-post", name = "Post", price = 590, tax_rate = 2500 }]
validate = "reject"
message = "Please try again in a minute."
"#,
        )
        .slow_tenant(
            "kco",
            300,
            r#"
[tenants.slow.on_failure.callbacks."kco.validation"]
validate = "approve"
"#,
        )
}

#[test]
fn failing_modules_get_the_configured_answer_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(hostile_tenants(ConfigFile::new(dir.path())));
    let shipping_body = fixture("kco/de_address_update_request.json");
    let validation_body = fixture("kco/validation_request.json");
    for &tenant in HOSTILE {
        for callback in ["address_update", "country_change", "shipping_option_update"] {
            let began = Instant::now();
            let response = post(
                &server,
                &format!("/{tenant}/kco/{callback}"),
                &shipping_body,
            );
            assert!(began.elapsed() < KCO_WINDOW, "{tenant} {callback}");
            assert_eq!(
                response.status,
                200,
                "{tenant} {callback}: {}",
                response.text()
            );
            let body = response.json();
            let options = body["shipping_options"].as_array().unwrap();
            assert_eq!(options.len(), 1, "{tenant} {callback}");
            assert_eq!(options[0]["id"], "fallback-post");
            assert_eq!(options[0]["price"], 590);
            assert_eq!(options[0]["tax_amount"], 118);
            let lines = body["order_lines"].as_array().unwrap();
            for line in lines.iter().filter(|l| l["type"] != "sales_tax") {
                assert_eq!(line["tax_rate"], 2500, "{tenant} {callback}");
            }
            let fee = lines.iter().find(|l| l["type"] == "shipping_fee").unwrap();
            assert_eq!(fee["reference"], "fallback-post");
            let sum: i64 = lines
                .iter()
                .map(|l| l["total_amount"].as_i64().unwrap())
                .sum();
            assert_eq!(body["order_amount"], sum);
        }
        let began = Instant::now();
        let response = post(
            &server,
            &format!("/{tenant}/kco/validation"),
            &validation_body,
        );
        assert!(began.elapsed() < KCO_WINDOW, "{tenant} validation");
        assert_eq!(response.status, 400, "{tenant}");
        assert_eq!(
            response.json(),
            json!({"error_type": "approval_failed", "error_text": "Please try again in a minute."})
        );
    }
    // Stopped by the wall-clock deadline (fuel is effectively unlimited): the default
    // policy rejects shipping callbacks, the override approves validation.
    let began = Instant::now();
    let response = post(&server, "/slow/kco/address_update", &shipping_body);
    assert!(began.elapsed() < KCO_WINDOW);
    assert_eq!(response.status, 400);
    assert_eq!(response.json()["error_type"], "approval_failed");
    assert_eq!(
        response.json()["error_text"],
        "We could not confirm your order right now. Please try again in a moment."
    );
    let began = Instant::now();
    let response = post(&server, "/slow/kco/validation", &validation_body);
    assert!(began.elapsed() < KCO_WINDOW);
    assert_eq!(response.status, 200);
    // The host is still serving the healthy tenants.
    let ok = post(
        &server,
        "/us/kco/address_update",
        &fixture("kco/address_update_request.json"),
    );
    assert_eq!(ok.status, 200);
}

#[test]
fn run_prints_exactly_what_the_server_sends() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(ConfigFile::new(dir.path()));
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/kco");
    for (callback, fixture_name) in [
        (
            "shipping_option_update",
            "shipping_option_update_request.json",
        ),
        ("address_update", "address_update_request.json"),
        ("validation", "validation_request.json"),
    ] {
        let input = fixtures.join(fixture_name);
        let input = input.to_str().unwrap();
        let run = rulegate(&[
            "run",
            "--module",
            "example:us-shop",
            "--platform",
            "kco",
            "--callback",
            callback,
            "--json",
            "--input",
            input,
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let report: Value = serde_json::from_str(&run.stdout).unwrap();
        let served = post(
            &server,
            &format!("/us/kco/{callback}"),
            &std::fs::read(input).unwrap(),
        );
        assert_eq!(report["status"], served.status);
        let served_body = if served.body.is_empty() {
            Value::Null
        } else {
            served.json()
        };
        assert_eq!(report["body"], served_body, "{callback}");
        assert!(report["usage"]["fuel"].as_u64().unwrap() > 0);
        assert!(report["module"].as_str().unwrap().starts_with("sha256:"));
    }
    let fixture_path = |name: &str| fixtures.join(name).display().to_string();
    // Human form: the status line, the body, and what it cost.
    let run = rulegate(&[
        "run",
        "--module",
        "example:us-shop",
        "--platform",
        "kco",
        "--callback",
        "address_update",
        "--input",
        &fixture_path("address_update_request.json"),
    ]);
    assert!(run.stdout.contains("HTTP 200"), "{}", run.stdout);
    assert!(
        run.stdout.contains("\"order_amount\":53625"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("fuel "), "{}", run.stdout);
    // A failing module: the policy's answer, the failure named, exit 1.
    let module = dir.path().join("panics.wasm");
    std::fs::write(&module, rulegate_tests::module("panics")).unwrap();
    let run = rulegate(&[
        "run",
        "--platform",
        "kco",
        "--callback",
        "validation",
        "--module",
        module.to_str().unwrap(),
        "--input",
        &fixture_path("validation_request.json"),
    ]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("HTTP 400"), "{}", run.stdout);
    assert!(
        run.stdout.contains("failure policy answered \"validate\""),
        "{}",
        run.stdout
    );
    // An unknown callback is a usage error.
    let run = rulegate(&[
        "run",
        "--module",
        "example:us-shop",
        "--platform",
        "kco",
        "--callback",
        "nope",
        "--input",
        &fixture_path("validation_request.json"),
    ]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no KCO callback named \"nope\""));
}
