//! Messenger end-to-end: the real server on an ephemeral port, the example modules built
//! from source, every fixture delivered as Facebook delivers it (an envelope signed
//! with the app secret), answers and recorded events checked exactly.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use rulegate_tests::cli::rulegate;
use rulegate_tests::config::ConfigFile;
use rulegate_tests::http::{self, Response};
use rulegate_tests::server::Server;
use rulegate_tests::{fixture, fixture_json};
use serde_json::{Value, json};

const APP_SECRET: &str = "fb-app-secret-7c1e";
const VERIFY_TOKEN: &str = "verify-Token-93b2";

/// Facebook gives a webhook 20 s; every answer must come well inside it.
const FACEBOOK_WINDOW: Duration = Duration::from_secs(20);

/// The US shop's answer to the checkout_update fixture (Menlo Park, CA; no goods in the
/// opaque payload; California does not tax shipping), byte for byte.
const CHECKOUT_UPDATE_ANSWER: &str = r#"{"shipping":[{"option_id":"standard","option_title":"Standard","price_list":[{"label":"Shipping","amount":"5.99"},{"label":"Tax","amount":"0.00"}]},{"option_id":"express","option_title":"Express","price_list":[{"label":"Shipping","amount":"14.99"},{"label":"Tax","amount":"0.00"}]}]}"#;

fn start(config: ConfigFile) -> Server {
    let secret = config.secret("app-secret", &format!("{APP_SECRET}\n"));
    let token = config.secret("verify-token", VERIFY_TOKEN);
    config
        .key("max_body_bytes = 16384")
        .toml(&format!(
            r#"
[tenants.shop]
module = "example:us-shop"
[tenants.shop.messenger]
app_secret = {secret}
verify_token = {token}

[tenants.carts]
module = "example:us-shop"
[tenants.carts.messenger]
app_secret = {secret}
payload = "cart-lines"

[tenants.nomessenger]
module = "example:us-shop"
"#
        ))
        .start()
}

/// Request headers, name and value.
type Headers<'a> = Vec<(&'a str, &'a str)>;

fn sha256_header(body: &[u8], secret: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn sha1_header(body: &[u8], secret: &str) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Delivers `body` as Facebook does: both signature headers, JSON.
fn deliver(server: &Server, tenant: &str, body: &[u8]) -> Response {
    let sha256 = sha256_header(body, APP_SECRET);
    let sha1 = sha1_header(body, APP_SECRET);
    send(
        server,
        tenant,
        &[
            ("Content-Type", "application/json"),
            ("X-Hub-Signature-256", &sha256),
            ("X-Hub-Signature", &sha1),
        ],
        body,
    )
}

fn send(server: &Server, tenant: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    http::request(
        server.address,
        "POST",
        &format!("/{tenant}/messenger"),
        headers,
        body,
    )
}

/// Messaging events wrapped in a delivery envelope, one entry per list.
fn envelope(entries: &[Vec<Value>]) -> Vec<u8> {
    let entry: Vec<Value> = entries
        .iter()
        .enumerate()
        .map(|(index, messaging)| {
            json!({"id": format!("PAGE_{index}"), "time": 1473208792799u64, "messaging": messaging})
        })
        .collect();
    serde_json::to_vec(&json!({"object": "page", "entry": entry})).unwrap()
}

fn checkout_update(state: &str, payload: &str) -> Value {
    json!({
        "sender": {"id": "USER_ID"}, "recipient": {"id": "PAGE_ID"}, "timestamp": 1473204787206u64,
        "checkout_update": {
            "payload": payload,
            "shipping_address": {"id": 10105655000959552u64, "country": "US", "city": "Springfield",
                "street1": "1 Main St", "street2": "", "state": state, "postal_code": "62701"}
        }
    })
}

fn events_path(server: &Server) -> PathBuf {
    server.workdir.path().join("rulegate-state/events.jsonl")
}

/// The recorded events, and the file's raw text.
fn recorded(server: &Server) -> (Vec<Value>, String) {
    let text = std::fs::read_to_string(events_path(server)).unwrap_or_default();
    let events = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    (events, text)
}

#[test]
fn every_fixture_is_answered_exactly_and_recorded_without_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(ConfigFile::new(dir.path()));

    // checkout_update: the fixture exactly as published, signed.
    let body = fixture("messenger/checkout_update_webhook.json");
    let began = Instant::now();
    let response = deliver(&server, "shop", &body);
    assert!(began.elapsed() < FACEBOOK_WINDOW);
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(response.text(), CHECKOUT_UPDATE_ANSWER);
    // Only the SHA-1 header (older deliveries): the same answer.
    let sha1 = sha1_header(&body, APP_SECRET);
    let response = send(
        &server,
        "shop",
        &[
            ("Content-Type", "application/json"),
            ("X-Hub-Signature", &sha1),
        ],
        &body,
    );
    assert_eq!(response.text(), CHECKOUT_UPDATE_ANSWER);

    // The address id (above 2^53) survives exactly into the record.
    let (events, text) = recorded(&server);
    assert_eq!(events.len(), 2);
    assert!(text.contains(r#""address_id":10105655000959552"#), "{text}");
    assert_eq!(
        events[0]["address_id"].as_u64(),
        Some(10_105_655_000_959_552)
    );
    assert_eq!(events[0]["event"], "checkout_update");
    assert_eq!(events[0]["page_id"], "PAGE_ID");
    assert_eq!(events[0]["payload"], "DEVELOPER_DEFINED_PAYLOAD");
    assert_eq!(
        events[0]["offered"],
        json!([{"option_id": "standard", "shipping": "5.99", "tax": "0.00"},
               {"option_id": "express", "shipping": "14.99", "tax": "0.00"}])
    );

    // pre_checkout: the fixture (street_1/street_2 spelling) in an envelope.
    let pre_checkout = fixture_json("messenger/pre_checkout_messaging_event.json");
    let response = deliver(&server, "shop", &envelope(&[vec![pre_checkout.clone()]]));
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json(), json!({"success": true}));
    // The same shopper with a PO box: the US shop stops the payment.
    let mut po_box = pre_checkout.clone();
    po_box["pre_checkout"]["requested_user_info"]["shipping_address"]["street_1"] =
        json!("PO Box 12");
    let response = deliver(&server, "shop", &envelope(&[vec![po_box]]));
    assert_eq!(response.json(), json!({"success": false}));

    // payment: 200, recorded with ids and the exact amount, never the credential.
    let mut payments = Vec::new();
    for credential in fixture_json("messenger/payment_credential_types.json")
        .as_array()
        .unwrap()
    {
        let mut payment = fixture_json("messenger/payment_webhook_messaging_event.json");
        payment["payment"]["payment_credential"] = credential.clone();
        payments.push(payment);
    }
    let response = deliver(&server, "shop", &envelope(&[payments]));
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(response.body.is_empty());

    let (events, text) = recorded(&server);
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "checkout_update",
            "checkout_update",
            "pre_checkout",
            "pre_checkout",
            "payment",
            "payment",
            "payment"
        ]
    );
    assert_eq!(events[2]["success"], true);
    assert_eq!(
        events[2]["amount"],
        json!({"currency": "USD", "amount": "2.70"})
    );
    assert_eq!(events[3]["success"], false);
    assert_eq!(events[3]["rejected"]["code"], "AddressUnsupported");
    let payment = &events[4];
    assert_eq!(payment["provider_type"], "stripe");
    assert_eq!(payment["fb_payment_id"], "123456789");
    assert_eq!(
        payment["amount"],
        json!({"currency": "USD", "amount": "29.62"})
    );
    assert_eq!(payment["shipping_option_id"], "123");
    assert_eq!(payment["page_id"], "PAGE_0");
    assert_eq!(events[6]["provider_type"], "token");
    for secret_or_personal in [
        "ch_18tmdBEoNIH3FPJHa60ep123",
        "test_charge_id_12345",
        "__tokenized_card__",
        "tokenized cvv",
        "2019",
        "Peter Chang",
        "peter@anemailprovider.com",
        "+15105551234",
        "Tao Jiang",
        "1 Hacker Way",
        "600 Edgewater Blvd",
        "1739141089378194",
    ] {
        assert!(
            !text.contains(secret_or_personal),
            "{secret_or_personal} was recorded"
        );
    }
}

#[test]
fn payload_carts_get_the_goods_tax_to_the_cent() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(ConfigFile::new(dir.path()));
    let payload = json!({"lines": [{"reference": "TEE-M", "name": "T-shirt", "quantity": 2, "unit_price": "29.99"}]})
        .to_string();
    // Texas taxes goods and shipping at 6.25 %: (59.98 + 5.99) → 4.12, (59.98 + 14.99) → 4.69.
    let response = deliver(
        &server,
        "carts",
        &envelope(&[vec![checkout_update("TX", &payload)]]),
    );
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.text(),
        r#"{"shipping":[{"option_id":"standard","option_title":"Standard","price_list":[{"label":"Shipping","amount":"5.99"},{"label":"Tax","amount":"4.12"}]},{"option_id":"express","option_title":"Express","price_list":[{"label":"Shipping","amount":"14.99"},{"label":"Tax","amount":"4.69"}]}]}"#
    );
    // California taxes goods only: 59.98 × 7.25 % = 4.35.
    let response = deliver(
        &server,
        "carts",
        &envelope(&[vec![checkout_update("CA", &payload)]]),
    );
    let body = response.json();
    assert_eq!(
        body["shipping"][0]["price_list"][1],
        json!({"label": "Tax", "amount": "4.35"})
    );
    // Above the free-shipping threshold.
    let big = json!({"lines": [{"reference": "TEE-M", "quantity": 3, "unit_price": "29.99"}]})
        .to_string();
    let response = deliver(
        &server,
        "carts",
        &envelope(&[vec![checkout_update("CA", &big)]]),
    );
    assert_eq!(
        response.json()["shipping"][0]["price_list"][0],
        json!({"label": "Shipping", "amount": "0.00"})
    );
    // A payload that is not a cart: 400 naming it; nothing recorded.
    let before = recorded(&server).0.len();
    let response = deliver(
        &server,
        "carts",
        &envelope(&[vec![checkout_update("CA", "DEVELOPER_DEFINED_PAYLOAD")]]),
    );
    assert_eq!(response.status, 400);
    assert!(
        response.json()["message"]
            .as_str()
            .unwrap()
            .contains("`entry[0].messaging[0].checkout_update.payload` is not a payload cart"),
        "{}",
        response.text()
    );
    assert_eq!(recorded(&server).0.len(), before);
}

#[test]
fn batched_deliveries_answer_the_first_decision_and_record_every_payment() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(ConfigFile::new(dir.path()));
    let payment = fixture_json("messenger/payment_webhook_messaging_event.json");
    let message = json!({"sender": {"id": "1"}, "recipient": {"id": "2"}, "timestamp": 1, "message": {"mid": "m1", "text": "hi"}});
    let body = envelope(&[
        vec![
            message.clone(),
            payment.clone(),
            checkout_update("AK", "first"),
        ],
        vec![checkout_update("CA", "second"), payment],
    ]);
    let response = deliver(&server, "shop", &body);
    assert_eq!(response.status, 200, "{}", response.text());
    // Alaska: no express; the first checkout_update is the one answered.
    let options = response.json()["shipping"].as_array().unwrap().clone();
    assert_eq!(options.len(), 1);
    assert_eq!(options[0]["option_id"], "standard");
    let (events, _) = recorded(&server);
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e["event"].as_str().unwrap(), e["page_id"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("payment", "PAGE_0"),
            ("checkout_update", "PAGE_0"),
            ("payment", "PAGE_1")
        ]
    );
    assert_eq!(events[1]["payload"], "first");

    // Only other webhook events: acknowledged, nothing run or recorded.
    let response = deliver(&server, "shop", &envelope(&[vec![message]]));
    assert_eq!(response.status, 200);
    assert!(response.body.is_empty());
    assert_eq!(recorded(&server).0.len(), 3);
}

#[test]
fn unsigned_forged_or_tampered_deliveries_get_403_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(ConfigFile::new(dir.path()));
    let body = fixture("messenger/checkout_update_webhook.json");
    let good256 = sha256_header(&body, APP_SECRET);
    let good1 = sha1_header(&body, APP_SECRET);
    let wrong256 = sha256_header(&body, "another-app-secret");
    let wrong1 = sha1_header(&body, "another-app-secret");
    let mut tampered = body.clone();
    let at = tampered.windows(5).position(|w| w == b"94025").unwrap();
    tampered[at] = b'8';
    let json = ("Content-Type", "application/json");
    let cases: Vec<(&str, Headers, &[u8])> = vec![
        ("no signature", vec![json], &body),
        (
            "wrong secret",
            vec![json, ("X-Hub-Signature-256", &wrong256)],
            &body,
        ),
        (
            "wrong secret, sha1",
            vec![json, ("X-Hub-Signature", &wrong1)],
            &body,
        ),
        (
            "a bad sha256 is not rescued by a good sha1",
            vec![
                json,
                ("X-Hub-Signature-256", &wrong256),
                ("X-Hub-Signature", &good1),
            ],
            &body,
        ),
        (
            "tampered body",
            vec![json, ("X-Hub-Signature-256", &good256)],
            &tampered,
        ),
        (
            "tampered body, sha1",
            vec![json, ("X-Hub-Signature", &good1)],
            &tampered,
        ),
        (
            "malformed",
            vec![json, ("X-Hub-Signature-256", "sha256=zz")],
            &body,
        ),
        ("empty", vec![json, ("X-Hub-Signature-256", "")], &body),
        (
            "sha1 digest in the sha256 header",
            vec![json, ("X-Hub-Signature-256", &good1)],
            &body,
        ),
    ];
    for (case, headers, body) in cases {
        let response = send(&server, "shop", &headers, body);
        assert_eq!(response.status, 403, "{case}: {}", response.text());
        assert_eq!(response.json()["error"], "forbidden", "{case}");
    }
    assert!(
        recorded(&server).0.is_empty(),
        "a refused delivery was recorded"
    );
    // The genuine delivery still works.
    let response = deliver(&server, "shop", &body);
    assert_eq!(response.text(), CHECKOUT_UPDATE_ANSWER);
}

#[test]
fn handshake_echoes_the_challenge_only_for_the_verify_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(ConfigFile::new(dir.path()));
    let get = |target: &str| http::get(server.address, target);
    let response = get(&format!(
        "/shop/messenger?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={VERIFY_TOKEN}"
    ));
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "1158201444");
    // Exactly, after URL decoding: nothing trimmed, added or re-encoded.
    let response = get(&format!(
        "/shop/messenger?hub.verify_token={VERIFY_TOKEN}&hub.challenge=a%2Bb%20c%26d&hub.mode=subscribe"
    ));
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"a+b c&d");

    for (case, target, status) in [
        (
            "wrong token",
            "/shop/messenger?hub.mode=subscribe&hub.challenge=1&hub.verify_token=verify-Token-93b3"
                .to_string(),
            403,
        ),
        (
            "token prefix",
            "/shop/messenger?hub.mode=subscribe&hub.challenge=1&hub.verify_token=verify-Token"
                .to_string(),
            403,
        ),
        (
            "no token",
            "/shop/messenger?hub.mode=subscribe&hub.challenge=1".to_string(),
            403,
        ),
        (
            "wrong mode",
            format!(
                "/shop/messenger?hub.mode=unsubscribe&hub.challenge=1&hub.verify_token={VERIFY_TOKEN}"
            ),
            403,
        ),
        (
            "no mode",
            format!("/shop/messenger?hub.challenge=1&hub.verify_token={VERIFY_TOKEN}"),
            403,
        ),
        (
            "tenant without a verify token",
            format!(
                "/carts/messenger?hub.mode=subscribe&hub.challenge=1&hub.verify_token={VERIFY_TOKEN}"
            ),
            403,
        ),
        (
            "no challenge",
            format!("/shop/messenger?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}"),
            400,
        ),
        (
            "tenant without Messenger",
            format!(
                "/nomessenger/messenger?hub.mode=subscribe&hub.challenge=1&hub.verify_token={VERIFY_TOKEN}"
            ),
            404,
        ),
        (
            "unknown tenant",
            format!(
                "/nobody/messenger?hub.mode=subscribe&hub.challenge=1&hub.verify_token={VERIFY_TOKEN}"
            ),
            404,
        ),
    ] {
        let response = get(&target);
        assert_eq!(response.status, status, "{case}: {}", response.text());
        assert!(!response.text().contains("1158201444"), "{case}");
        assert!(response.json()["message"].is_string(), "{case}");
    }
}

#[test]
fn bad_deliveries_get_a_clear_4xx_and_run_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(ConfigFile::new(dir.path()));
    let mut bad_country = checkout_update("CA", "x");
    bad_country["checkout_update"]["shipping_address"]["country"] = json!("USA");
    let mut float_id = checkout_update("CA", "x");
    float_id["checkout_update"]["shipping_address"]["id"] = json!(1.5);
    let mut bad_amount = fixture_json("messenger/pre_checkout_messaging_event.json");
    bad_amount["pre_checkout"]["amount"]["amount"] = json!("2.705");
    let mut bad_currency = fixture_json("messenger/pre_checkout_messaging_event.json");
    bad_currency["pre_checkout"]["amount"]["currency"] = json!("XYZ");
    let payment = fixture_json("messenger/payment_webhook_messaging_event.json");
    for (case, body, expected) in [
        (
            "not JSON",
            b"{\"object\": \"page\", ".to_vec(),
            "not valid JSON",
        ),
        ("empty", Vec::new(), "empty"),
        (
            "another object",
            br#"{"object":"instagram","entry":[]}"#.to_vec(),
            "`object` is \"instagram\"",
        ),
        (
            "entry not a list",
            br#"{"object":"page","entry":{}}"#.to_vec(),
            "`entry`",
        ),
        (
            "bad country, after a payment in the same delivery",
            envelope(&[vec![payment.clone(), bad_country]]),
            "`entry[0].messaging[1].checkout_update.shipping_address.country`",
        ),
        (
            "fractional id",
            envelope(&[vec![float_id]]),
            "entry[0].messaging[0].checkout_update.shipping_address.id",
        ),
        (
            "amount finer than cents",
            envelope(&[vec![bad_amount]]),
            "`entry[0].messaging[0].pre_checkout.amount.amount`",
        ),
        (
            "unknown currency",
            envelope(&[vec![bad_currency]]),
            "\"XYZ\" is not an ISO 4217 currency",
        ),
    ] {
        let response = deliver(&server, "shop", &body);
        assert_eq!(response.status, 400, "{case}: {}", response.text());
        let message = response.json()["message"].as_str().unwrap().to_string();
        assert!(message.contains(expected), "{case}: {message}");
    }
    let body = fixture("messenger/checkout_update_webhook.json");
    let signature = sha256_header(&body, APP_SECRET);
    let response = send(
        &server,
        "shop",
        &[
            ("Content-Type", "text/plain"),
            ("X-Hub-Signature-256", &signature),
        ],
        &body,
    );
    assert_eq!(response.status, 415);
    let response = deliver(&server, "nomessenger", &body);
    assert_eq!(response.status, 404);
    let large = vec![b' '; 20_000];
    let response = deliver(&server, "shop", &large);
    assert_eq!(response.status, 413);
    assert!(
        recorded(&server).0.is_empty(),
        "a refused delivery was recorded"
    );
}

#[test]
fn failing_modules_get_the_failure_policy_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let config = ConfigFile::new(dir.path())
        .failing_tenants(
            &["infinite-loop", "memory-bomb", "panics", "bad-output"],
            "messenger",
            r#"
tax = "fallback"
fallback_tax_rate = 0
shipping = "fallback"
fallback_shipping = [{ id = "fallback-post", name = "Post", price = 650, tax_rate = 0 }]
[tenants.{tenant}.on_failure.callbacks."messenger.pre_checkout"]
validate = "approve"
"#,
        )
        .slow_tenant("messenger", 300, "");
    let server = start(config);
    let update = fixture("messenger/checkout_update_webhook.json");
    let pre_checkout = envelope(&[vec![fixture_json(
        "messenger/pre_checkout_messaging_event.json",
    )]]);
    let json = [("Content-Type", "application/json")];
    for tenant in ["infinite-loop", "memory-bomb", "panics", "bad-output"] {
        let began = Instant::now();
        let response = send(&server, tenant, &json, &update);
        assert!(began.elapsed() < FACEBOOK_WINDOW, "{tenant}");
        assert_eq!(response.status, 200, "{tenant}: {}", response.text());
        assert_eq!(
            response.text(),
            r#"{"shipping":[{"option_id":"fallback-post","option_title":"Post","price_list":[{"label":"Shipping","amount":"6.50"},{"label":"Tax","amount":"0.00"}]}]}"#,
            "{tenant}"
        );
        let response = send(&server, tenant, &json, &pre_checkout);
        assert_eq!(response.json(), json!({"success": true}), "{tenant}");
    }
    // The default policy: no options can be priced, and the payment is stopped.
    let began = Instant::now();
    let response = send(&server, "slow", &json, &update);
    assert!(began.elapsed() < FACEBOOK_WINDOW);
    assert_eq!(response.status, 200);
    assert_eq!(response.json(), json!({"shipping": []}));
    let response = send(&server, "slow", &json, &pre_checkout);
    assert_eq!(response.json(), json!({"success": false}));
    // Healthy tenants are still served.
    let response = deliver(&server, "shop", &update);
    assert_eq!(response.text(), CHECKOUT_UPDATE_ANSWER);
}

#[test]
fn run_prints_exactly_what_the_server_sends() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(ConfigFile::new(dir.path()));
    let input = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/messenger/checkout_update_webhook.json");
    let run = rulegate(&[
        "run",
        "--module",
        "example:us-shop",
        "--platform",
        "messenger",
        "--json",
        "--input",
        input.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let served = deliver(
        &server,
        "shop",
        &fixture("messenger/checkout_update_webhook.json"),
    );
    assert_eq!(report["status"], 200);
    assert_eq!(report["body"], served.json());
    assert!(run.stdout.contains(r#""amount":"5.99""#), "{}", run.stdout);

    // A payload cart on the command line, as the `carts` tenant reads it.
    let payload = json!({"lines": [{"reference": "TEE-M", "quantity": 2, "unit_price": "29.99"}]})
        .to_string();
    let body = envelope(&[vec![checkout_update("TX", &payload)]]);
    let path = dir.path().join("delivery.json");
    std::fs::write(&path, &body).unwrap();
    let run = rulegate(&[
        "run",
        "--module",
        "example:us-shop",
        "--platform",
        "messenger",
        "--payload",
        "cart-lines",
        "--json",
        "--input",
        path.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["body"], deliver(&server, "carts", &body).json());

    // --callback makes no sense for Messenger.
    let run = rulegate(&[
        "run",
        "--module",
        "example:us-shop",
        "--platform",
        "messenger",
        "--callback",
        "checkout_update",
        "--input",
        path.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("takes no callback"), "{}", run.stderr);
}
