//! Events reach the merchant: the real server on loopback delivers KCO pushes and
//! Messenger payments to a fake merchant endpoint, signed, at least once, through
//! failures, a dead endpoint and a `kill -9`.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use hmac::{Hmac, Mac};
use rulegate_tests::config::ConfigFile;
use rulegate_tests::merchant::{Behaviour, Merchant};
use rulegate_tests::server::Server;
use rulegate_tests::{eventually, fixture_json};
use serde_json::{Value, json};

const TOKEN: &str = "admin-Token-events";
const SECRET: &str = "events-Secret-7e1d";

/// A shop over KCO and Messenger whose events go to `url`, retried quickly.
fn config(dir: &std::path::Path, url: &str, timeout_ms: u64) -> ConfigFile {
    let config = ConfigFile::new(dir).state_dir().admin(TOKEN);
    let secret = config.secret("events-secret", SECRET);
    config.toml(&format!(
        r#"
[tenants.shop]
module = "native:us-shop"
[tenants.shop.kco]
unauthenticated = true
[tenants.shop.messenger]
unauthenticated = true
[tenants.shop.events]
url = "{url}"
secret = {secret}
first_retry_ms = 50
max_retry_ms = 200
timeout_ms = {timeout_ms}
"#
    ))
}

fn push(server: &Server, order: &str) -> u16 {
    server
        .post(&format!("/shop/kco/push?kustom_order_id={order}"), &[], b"")
        .status
}

/// A Messenger delivery of the payment fixture.
fn payment(server: &Server) -> u16 {
    let event = fixture_json("messenger/payment_webhook_messaging_event.json");
    let body =
        json!({"object": "page", "entry": [{"id": "PAGE", "time": 1, "messaging": [event]}]});
    server
        .post_json("/shop/messenger", &serde_json::to_vec(&body).unwrap())
        .status
}

fn events(server: &Server) -> Vec<Value> {
    let response = server.admin(TOKEN, "GET", "/v1/tenants/shop/events", b"");
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()["events"].as_array().unwrap().clone()
}

fn metric(server: &Server, series: &str) -> Option<f64> {
    rulegate_tests::metric(&server.admin(TOKEN, "GET", "/metrics", b"").text(), series)
}

/// Checks a delivery's `Rulegate-Signature` as a merchant would.
fn signature_verifies(headers: &BTreeMap<String, String>, body: &[u8]) -> bool {
    let Some(header) = headers.get("rulegate-signature") else {
        return false;
    };
    let mut timestamp = None;
    let mut signature = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => timestamp = Some(value.to_string()),
            Some(("v1", value)) => signature = Some(value.to_string()),
            _ => {}
        }
    }
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return false;
    };
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes()) == signature
}

#[test]
fn a_failing_endpoint_gets_each_event_accepted_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let merchant = Merchant::start(Behaviour::FailFirst(3));
    let server = config(dir.path(), &merchant.url(), 5_000).start();
    assert_eq!(push(&server, "o-1"), 200);
    // KCO sends a push again until the order is acknowledged: the same event.
    assert_eq!(push(&server, "o-1"), 200);
    assert_eq!(payment(&server), 200);

    eventually("both events delivered", || {
        let events = events(&server);
        events.len() == 2 && events.iter().all(|event| event["state"] == "delivered")
    });
    let deliveries = merchant.deliveries();
    let mut accepted: BTreeMap<String, usize> = BTreeMap::new();
    for delivery in &deliveries {
        let body: Value = serde_json::from_slice(&delivery.call.body).unwrap();
        let id = delivery.call.headers["rulegate-event-id"].clone();
        assert_eq!(body["id"], id.as_str());
        assert_eq!(body["tenant"], "shop");
        assert_eq!(delivery.call.method, "POST");
        assert_eq!(delivery.call.path, "/hooks/rulegate");
        assert_eq!(delivery.call.headers["content-type"], "application/json");
        assert!(signature_verifies(
            &delivery.call.headers,
            &delivery.call.body
        ));
        if delivery.status == Some(200) {
            *accepted.entry(id).or_default() += 1;
        }
    }
    assert_eq!(deliveries.len(), 5, "3 refused, then one per event");
    assert_eq!(accepted.len(), 2);
    assert!(accepted.values().all(|&times| times == 1), "{accepted:?}");

    let events = events(&server);
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(
        kinds.contains(&"kco.push") && kinds.contains(&"messenger.payment"),
        "{kinds:?}"
    );
    let attempts: u64 = events.iter().map(|e| e["attempts"].as_u64().unwrap()).sum();
    assert_eq!(attempts, 5);
    // Ids and amounts only: no card token, name, e-mail or phone number.
    let payment = events
        .iter()
        .find(|e| e["type"] == "messenger.payment")
        .unwrap();
    let text = payment.to_string();
    for personal in ["tok_", "@", "Peter", "+1"] {
        assert!(!text.contains(personal), "{personal} in {text}");
    }
    assert_eq!(
        metric(
            &server,
            r#"rulegate_event_deliveries_total{tenant="shop",result="retried"}"#
        ),
        Some(3.0)
    );
    assert_eq!(
        metric(
            &server,
            r#"rulegate_event_deliveries_total{tenant="shop",result="delivered"}"#
        ),
        Some(2.0)
    );
    assert_eq!(
        metric(&server, r#"rulegate_events_pending{tenant="shop"}"#),
        Some(0.0)
    );

    // Sent again on request: the same id, delivered once more.
    let id = events[0]["id"].as_str().unwrap();
    let resent = server.admin(
        TOKEN,
        "POST",
        &format!("/v1/tenants/shop/events/{id}/resend"),
        b"",
    );
    assert_eq!(resent.status, 200, "{}", resent.text());
    eventually("the event sent again", || merchant.deliveries().len() == 6);
    assert_eq!(
        merchant.deliveries()[5].call.headers["rulegate-event-id"],
        id
    );
    let unknown = server.admin(
        TOKEN,
        "POST",
        "/v1/tenants/shop/events/evt_nope/resend",
        b"",
    );
    assert_eq!(unknown.status, 404, "{}", unknown.text());
}

#[test]
fn a_merchant_that_never_answers_slows_no_callback() {
    let dir = tempfile::tempdir().unwrap();
    let merchant = Merchant::start(Behaviour::Hang);
    // Each attempt may wait a minute for the endpoint.
    let server = config(dir.path(), &merchant.url(), 60_000).start();
    for order in 0..10 {
        // Were a callback waiting on the delivery, it would never be answered.
        assert_eq!(push(&server, &format!("o-{order}")), 200);
    }
    let kco = rulegate_tests::fixture("kco/address_update_request.json");
    assert_eq!(
        server.post_json("/shop/kco/address_update", &kco).status,
        200
    );
    eventually("a delivery attempt", || !merchant.deliveries().is_empty());
    assert_eq!(push(&server, "o-after"), 200);
    let events = events(&server);
    assert_eq!(events.len(), 11);
    assert!(events.iter().all(|event| event["state"] == "pending"));
}

#[test]
fn an_event_survives_kill_9_before_its_delivery() {
    let dir = tempfile::tempdir().unwrap();
    // An endpoint that is down: nothing listens on the port yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address: SocketAddr = port.local_addr().unwrap();
    drop(port);
    let config = config(
        dir.path(),
        &format!("http://{address}/hooks/rulegate"),
        5_000,
    );
    let server = config.start();
    assert_eq!(push(&server, "o-kill"), 200);
    server.kill();

    let merchant = Merchant::bind(address, Behaviour::FailFirst(0));
    let server = config.start();
    eventually("the event delivered after the restart", || {
        merchant
            .deliveries()
            .iter()
            .any(|delivery| delivery.status == Some(200))
    });
    let body: Value = serde_json::from_slice(&merchant.deliveries()[0].call.body).unwrap();
    assert_eq!(body["type"], "kco.push");
    assert_eq!(body["data"]["order_id"], "o-kill");
    eventually("the delivery state saved", || {
        events(&server)[0]["state"] == "delivered"
    });
}
