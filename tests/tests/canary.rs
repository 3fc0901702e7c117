//! Canary releases end-to-end: a candidate answers a sticky share of a tenant's
//! checkouts, its guardrails roll it back by themselves when it misbehaves, a good one
//! promotes itself, and bad requests change nothing. The real server, real modules,
//! KCO's real address_update payloads.

use rulegate::decide::split::in_share;
use rulegate::engine::ModuleHash;
use rulegate_tests::config::ConfigFile;
use rulegate_tests::http::Response;
use rulegate_tests::server::Server;
use rulegate_tests::{eventually, example_wasm, fixture, metric, module};
use serde_json::{Value, json};

const TOKEN: &str = "admin-Token-c4n4";

/// How a KCO address_update was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// The US shop's options (`standard`, `express`).
    Active,
    /// The candidate's one option.
    Canary,
    /// The failure policy's rejection (the default policy rejects).
    Policy,
}

fn start() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let server = ConfigFile::new(dir.path())
        .state_dir()
        .admin(TOKEN)
        .toml(
            r#"
[tenants.shop]
module = "example:us-shop"
[tenants.shop.kco]
unauthenticated = true
"#,
        )
        .start();
    (dir, server)
}

fn admin(server: &Server, method: &str, target: &str, body: &[u8]) -> Response {
    server.admin(TOKEN, method, target, body)
}

fn canary(server: &Server) -> Value {
    let response = admin(server, "GET", "/v1/tenants/shop/canary", b"");
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()
}

fn status(server: &Server) -> Value {
    admin(server, "GET", "/v1/tenants/shop", b"").json()
}

/// One KCO address_update of the checkout `order` (none: no order id), and the side
/// that answered it.
fn address_update(server: &Server, order: Option<&str>) -> (Side, Response) {
    let target = match order {
        Some(order) => format!("/shop/kco/address_update?kustom_order_id={order}"),
        None => "/shop/kco/address_update".to_string(),
    };
    let response = server.post_json(&target, &fixture("kco/address_update_request.json"));
    assert!(response.status < 500, "{order:?}: {}", response.text());
    let body = response.json();
    let side = match (response.status, body["shipping_options"][0]["id"].as_str()) {
        (200, Some("canary")) | (200, Some("flat")) => Side::Canary,
        (200, Some(_)) => Side::Active,
        (400, _) if body["error_text"] == rulegate::decide::DEFAULT_MESSAGE => Side::Policy,
        _ => panic!("{order:?}: an unexpected answer {} {body}", response.status),
    };
    (side, response)
}

/// Whether the traps-sometimes module traps on the checkout `order`.
fn traps(order: &str) -> bool {
    order.bytes().map(u32::from).sum::<u32>() % 5 == 0
}

#[test]
fn a_candidate_that_traps_on_one_checkout_in_five_is_rolled_back_by_its_guardrail() {
    let (_dir, server) = start();
    let active = status(&server)["active"]["version"].clone();
    let started = admin(
        &server,
        "POST",
        "/v1/tenants/shop/canary?percent=20&min_callbacks=20",
        module("traps-sometimes"),
    );
    assert_eq!(started.status, 200, "{}", started.text());
    let candidate = ModuleHash::of(module("traps-sometimes")).to_string();
    assert_eq!(started.json()["canary"]["version"], candidate);
    assert_eq!(started.json()["canary"]["settings"]["percent"], 20);

    let (mut on_canary, mut sent) = (0, 0);
    for i in 0..5_000 {
        let order = format!("order-{i}");
        let running = !canary(&server)["canary"].is_null();
        if !running {
            break;
        }
        let (side, _) = address_update(&server, Some(&order));
        sent += 1;
        let expected = match (in_share("shop", &order, 20), traps(&order)) {
            (false, _) => Side::Active,
            (true, false) => Side::Canary,
            // The candidate trapped: the tenant's failure policy answered.
            (true, true) => Side::Policy,
        };
        // The callback that breached may already have ended the canary for the next.
        if side != Side::Active || expected == Side::Active {
            assert_eq!(side, expected, "{order}");
        }
        if side != Side::Active {
            on_canary += 1;
        }
    }
    let view = canary(&server);
    assert!(
        view["canary"].is_null(),
        "not rolled back after {sent} callbacks: {view}"
    );
    assert!(
        on_canary >= 20,
        "rolled back before its sample: {on_canary}"
    );
    // Routing stopped at once; the rollback reaches the store (and the history) next.
    eventually("the rollback in the history", || {
        !canary(&server)["ended"].as_array().unwrap().is_empty()
    });
    let view = canary(&server);
    let ended = view["ended"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(ended["outcome"], "rolled_back", "{ended}");
    assert_eq!(ended["version"], candidate);
    assert!(
        ended["reason"]
            .as_str()
            .unwrap()
            .starts_with("failure rate"),
        "{ended}"
    );
    assert!(
        ended["figures"]["canary"]["failure_rate"].as_f64().unwrap() > 0.01,
        "{ended}"
    );
    assert_eq!(ended["figures"]["active"]["failure_rate"], 0.0, "{ended}");
    // The history says why; the active version never changed and serves every checkout.
    assert_eq!(status(&server)["canaries"][0]["outcome"], "rolled_back");
    assert_eq!(status(&server)["active"]["version"], active);
    for i in 0..50 {
        assert_eq!(
            address_update(&server, Some(&format!("after-{i}"))).0,
            Side::Active
        );
    }
    let metrics = admin(&server, "GET", "/metrics", b"").text();
    assert_eq!(
        metric(
            &metrics,
            r#"rulegate_canaries_ended_total{tenant="shop",outcome="rolled_back"}"#
        ),
        Some(1.0)
    );
    assert!(
        metric(
            &metrics,
            r#"rulegate_canary_callbacks_total{tenant="shop",side="canary"}"#
        )
        .is_some_and(|count| count >= 20.0)
    );
}

#[test]
fn a_good_candidate_promotes_itself_after_its_sample_and_time() {
    let (_dir, server) = start();
    let flat = ModuleHash::of(module("flat-rate")).to_string();
    let started = admin(
        &server,
        "POST",
        "/v1/tenants/shop/canary?percent=50&min_callbacks=10&promote_after_callbacks=15&promote_after_ms=300",
        module("flat-rate"),
    );
    assert_eq!(started.status, 200, "{}", started.text());
    let mut i = 0;
    while status(&server)["active"]["version"] != json!(flat) {
        assert!(i < 3_000, "not promoted: {}", canary(&server));
        address_update(&server, Some(&format!("order-{i}")));
        i += 1;
    }
    let status = status(&server);
    let last = status["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["via"], "canary");
    assert!(status["canary"].is_null());
    let ended = &status["canaries"][0];
    let age = last["at_ms"].as_u64().unwrap() - ended["started_ms"].as_u64().unwrap();
    assert!(age >= 300, "promoted {age} ms after it started");
    assert_eq!(ended["outcome"], "promoted", "{ended}");
    assert!(ended["figures"]["canary"]["callbacks"].as_u64().unwrap() >= 15);
    // Every checkout meets the promoted version now.
    for i in 0..20 {
        assert_eq!(
            address_update(&server, Some(&format!("after-{i}"))).0,
            Side::Canary
        );
    }
}

#[test]
fn every_callback_of_one_checkout_meets_one_version_and_the_share_holds() {
    let (_dir, server) = start();
    let started = admin(
        &server,
        "POST",
        "/v1/tenants/shop/canary?percent=20&min_callbacks=1000000&promote_after_callbacks=1000000",
        module("flat-rate"),
    );
    assert_eq!(started.status, 200, "{}", started.text());
    let orders = 400;
    let mut on_canary = 0;
    for i in 0..orders {
        let order = format!("checkout-{i:04}");
        let (first, _) = address_update(&server, Some(&order));
        for _ in 0..2 {
            assert_eq!(address_update(&server, Some(&order)).0, first, "{order}");
        }
        let validation = server.post_json(
            &format!("/shop/kco/validation?kustom_order_id={order}"),
            &fixture("kco/validation_request.json"),
        );
        assert_eq!(validation.status, 200, "{order}: {}", validation.text());
        assert_eq!(
            first == Side::Canary,
            in_share("shop", &order, 20),
            "{order}"
        );
        if first == Side::Canary {
            on_canary += 1;
        }
    }
    let share = f64::from(on_canary) / f64::from(orders) * 100.0;
    assert!((share - 20.0).abs() <= 5.0, "{share:.1} % on the canary");
    // Callbacks without an order id stay on the active version.
    for _ in 0..30 {
        assert_eq!(address_update(&server, None).0, Side::Active);
    }
    let figures = &canary(&server)["canary"]["figures"];
    assert_eq!(
        figures["canary"]["callbacks"],
        json!(on_canary * 3 + on_canary)
    );
    // The operator ends it: every checkout meets the active version again.
    let ended = admin(&server, "DELETE", "/v1/tenants/shop/canary", b"");
    assert_eq!(ended.status, 200, "{}", ended.text());
    assert_eq!(canary(&server)["ended"][0]["outcome"], "ended");
    for i in 0..orders {
        let order = format!("checkout-{i:04}");
        if in_share("shop", &order, 20) {
            assert_eq!(address_update(&server, Some(&order)).0, Side::Active);
        }
    }
}

#[test]
fn bad_canary_requests_are_clear_client_errors_and_change_nothing() {
    let (_dir, server) = start();
    let flat = module("flat-rate");
    let us = ModuleHash::of(example_wasm("us-shop")).to_string();
    let stored = {
        // A stored version to name: set as shadow, then cleared.
        let response = admin(&server, "POST", "/v1/tenants/shop/shadow", flat);
        assert_eq!(response.status, 200, "{}", response.text());
        assert_eq!(
            admin(&server, "DELETE", "/v1/tenants/shop/shadow", b"").status,
            200
        );
        ModuleHash::of(flat).to_string()
    };
    let before = status(&server);
    let cases: Vec<(&str, String, Vec<u8>, u16)> = vec![
        ("percent 0", "?percent=0".into(), flat.to_vec(), 400),
        ("percent 101", "?percent=101".into(), flat.to_vec(), 400),
        ("percent 51", String::new(), format!(r#"{{"version": "{stored}", "percent": 51}}"#).into_bytes(), 400),
        ("percent missing", String::new(), format!(r#"{{"version": "{stored}"}}"#).into_bytes(), 400),
        ("percent not a number", "?percent=lots".into(), flat.to_vec(), 400),
        ("an array for the percent", String::new(), format!(r#"{{"version": "{stored}", "percent": [20]}}"#).into_bytes(), 400),
        ("an array for the request", String::new(), br#"[{"version": "sha256:00", "percent": 20}]"#.to_vec(), 400),
        ("an unknown setting", String::new(), format!(r#"{{"version": "{stored}", "percent": 20, "rollout": "fast"}}"#).into_bytes(), 400),
        ("malformed JSON", String::new(), br#"{"version": "#.to_vec(), 400),
        ("no version", String::new(), br#"{"percent": 20}"#.to_vec(), 400),
        ("a rate above 1", String::new(), format!(r#"{{"version": "{stored}", "percent": 20, "max_failure_rate_increase": 2}}"#).into_bytes(), 400),
        ("unknown version", String::new(), br#"{"version": "sha256:0000000000000000000000000000000000000000000000000000000000000000", "percent": 20}"#.to_vec(), 404),
        ("the active version", String::new(), format!(r#"{{"version": "{us}", "percent": 20}}"#).into_bytes(), 409),
        ("not a module", "?percent=20".into(), b"MZ not wasm".to_vec(), 422),
        ("an empty body", "?percent=20".into(), Vec::new(), 400),
    ];
    for (case, query, body, expected) in cases {
        let response = admin(
            &server,
            "POST",
            &format!("/v1/tenants/shop/canary{query}"),
            &body,
        );
        assert_eq!(response.status, expected, "{case}: {}", response.text());
        let error = response.json();
        assert!(
            error["error"].is_string() && error["message"].is_string(),
            "{case}: {error}"
        );
        assert!(canary(&server)["canary"].is_null(), "{case}");
        assert_eq!(status(&server)["active"], before["active"], "{case}");
    }
    assert_eq!(
        admin(
            &server,
            "POST",
            "/v1/tenants/nobody/canary?percent=20",
            flat
        )
        .status,
        404
    );
    let none = admin(&server, "DELETE", "/v1/tenants/shop/canary", b"");
    assert_eq!(none.status, 409, "{}", none.text());
    // One canary at a time.
    let body = format!(r#"{{"version": "{stored}", "percent": 10}}"#);
    assert_eq!(
        admin(&server, "POST", "/v1/tenants/shop/canary", body.as_bytes()).status,
        200
    );
    let second = admin(
        &server,
        "POST",
        "/v1/tenants/shop/canary?percent=10",
        module("traps-sometimes"),
    );
    assert_eq!(second.status, 409, "{}", second.text());
    assert_eq!(canary(&server)["canary"]["version"], json!(stored));
}
