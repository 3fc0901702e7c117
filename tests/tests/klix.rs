//! Klix end-to-end: golden signature vectors, forged signatures, order verification
//! against a fake merchant API on loopback, purchase notifications and shipping cost
//! for both generations, with the real server and the example modules.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use rulegate::protocols::klix::jws::ProviderKey;
use rulegate_tests::cli::rulegate;
use rulegate_tests::config::ConfigFile;
use rulegate_tests::fake_klix::FakeKlix;
use rulegate_tests::fixture;
use rulegate_tests::http::{self, Response};
use rulegate_tests::server::Server;
use serde_json::{Value, json};
use sha2::Sha256;

const ORDER_ID: &str = "1a6a5368-e799-4967-b742-67adc16aec8a";
const KID: &str = "52a49f81-0869-40a6-8dde-96a624e61b54";
const API_KEY: &str = "klix-api-key-for-tests";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/klix")
}

fn text(name: &str) -> String {
    String::from_utf8(fixture(&format!("klix/{name}"))).unwrap()
}

/// Signs as the (test) provider: a compact JWS, or the gen 2 header.
struct TestProvider(SigningKey<Sha256>);

impl TestProvider {
    fn load() -> TestProvider {
        let pem = text("test_provider_private_key.pem");
        TestProvider(SigningKey::new(
            RsaPrivateKey::from_pkcs8_pem(&pem).unwrap(),
        ))
    }

    fn jws_with_header(&self, header: &Value, payload: &[u8]) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let signature = self.0.sign(input.as_bytes()).to_bytes();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    fn jws(&self, payload: &[u8]) -> String {
        self.jws_with_header(&json!({"kid": "MPay", "alg": "RS256"}), payload)
    }

    fn detached(&self, body: &[u8]) -> String {
        STANDARD.encode(self.0.sign(body).to_bytes())
    }
}

/// The table of a Klix tenant whose provider key is the fixture `provider`, whose
/// merchant API is at `api` with the key `api_key` (TOML referencing the secret), and
/// with `extra` keys in its `klix` table.
fn tenant(
    name: &str,
    module: &str,
    provider: &str,
    api: &str,
    api_key: &str,
    extra: &str,
) -> String {
    let dir = fixtures();
    format!(
        r#"
[tenants.{name}]
module = "{module}"
[tenants.{name}.klix]
provider_key = {provider:?}
{extra}
[tenants.{name}.klix.api]
url = "{api}"
merchant_id = "merchant-7"
api_key = {api_key}
signing_key = {{ file = {signing:?} }}
signing_key_id = "{KID}"
timeout_ms = 500
"#,
        provider = dir.join(provider).display().to_string(),
        signing = dir
            .join("test_merchant_private_key.pem")
            .display()
            .to_string(),
    )
}

fn start(dir: &Path, fake: &FakeKlix) -> Server {
    let config = ConfigFile::new(dir);
    let api_key = config.secret("api-key", API_KEY);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let url = fake.url();
    config
        .toml(&tenant(
            "eu",
            "example:eu-shop",
            "provider_public_key.pem",
            &url,
            &api_key,
            "",
        ))
        .toml(&tenant(
            "catalog",
            "example:catalog-shop",
            "provider_public_key.pem",
            &url,
            &api_key,
            "",
        ))
        .toml(&tenant(
            "sek",
            "example:catalog-shop",
            "test_provider_certificate.pem",
            &url,
            &api_key,
            "currency = \"SEK\"\ncountry = \"SE\"",
        ))
        .toml(&tenant(
            "down",
            "example:eu-shop",
            "provider_public_key.pem",
            &closed_url,
            &api_key,
            "",
        ))
        .start()
}

/// The fake API serving the fixture order as `ORDER_ID`, and the server in front of it.
fn start_with_order(dir: &Path) -> (FakeKlix, Server) {
    let fake = FakeKlix::start();
    fake.add_order(
        ORDER_ID,
        &fixture("klix/merchant_api_get_order_response.json"),
    );
    let server = start(dir, &fake);
    (fake, server)
}

fn post(server: &Server, target: &str, body: &[u8], headers: &[(&str, &str)]) -> Response {
    server.post(target, headers, body)
}

/// `signature` verifies `body`, and changing any one byte of the body breaks it.
fn verifies_until_tampered(provider: &ProviderKey, body: &[u8], signature: &str) {
    provider.verify_detached(body, signature).unwrap();
    for index in [0, body.len() / 2, body.len() - 1] {
        let mut tampered = body.to_vec();
        tampered[index] ^= 0x01;
        assert!(
            provider.verify_detached(&tampered, signature).is_err(),
            "byte {index}"
        );
    }
}

#[test]
fn golden_vectors_verify_and_forgeries_do_not() {
    let provider = ProviderKey::from_pem(&text("provider_public_key.pem")).unwrap();
    let jws = fixture("klix/order_verification_request.jws");
    let payload = provider.verify_jws(&jws).unwrap();
    assert_eq!(payload, json!({ "orderId": ORDER_ID }));

    let body = fixture("klix/purchase_notification_v2_body.json");
    let signature = text("purchase_notification_v2_body.x-klix-signature.txt");
    verifies_until_tampered(&provider, &body, &signature);

    let token = String::from_utf8(jws).unwrap();
    let token = token.trim();
    let (header, rest) = token.split_once('.').unwrap();
    let (payload_part, signature_part) = rest.split_once('.').unwrap();
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let forged_payload =
        URL_SAFE_NO_PAD.encode(br#"{"orderId":"00000000-e799-4967-b742-67adc16aec8a"}"#);
    let test_provider = TestProvider::load();
    let forgeries = [
        // alg none, no signature.
        format!("{}.{payload_part}.", b64(&json!({"alg": "none"}))),
        // alg none with the original signature.
        format!(
            "{}.{payload_part}.{signature_part}",
            b64(&json!({"alg": "none", "kid": "MPay"}))
        ),
        // HS256 "signed" with the public key as the secret.
        format!(
            "{}.{payload_part}.{signature_part}",
            b64(&json!({"alg": "HS256"}))
        ),
        format!(
            "{}.{payload_part}.{signature_part}",
            b64(&json!({"alg": "RS512", "kid": "MPay"}))
        ),
        // Tampered header (same alg, another kid) and tampered payload.
        format!(
            "{}.{payload_part}.{signature_part}",
            b64(&json!({"kid": "XPay", "alg": "RS256"}))
        ),
        format!("{header}.{forged_payload}.{signature_part}"),
        // Signed by another key.
        test_provider.jws(br#"{"orderId":"1a6a5368-e799-4967-b742-67adc16aec8a"}"#),
        // Not a JWS.
        format!("{header}.{payload_part}"),
        "garbage".to_string(),
        format!("{header}.{payload_part}.{signature_part}.extra"),
    ];
    for forged in &forgeries {
        assert!(provider.verify_jws(forged.as_bytes()).is_err(), "{forged}");
    }
    let hs = provider
        .verify_jws(
            format!(
                "{}.{payload_part}.{signature_part}",
                b64(&json!({"alg": "HS256"}))
            )
            .as_bytes(),
        )
        .unwrap_err();
    assert!(hs.to_string().contains("only RS256"), "{hs}");
}

/// A 2048-bit key, the size of production keys, goes through the other verifier than
/// the 512-bit public test certificate above: the same answers are required of it.
#[test]
fn production_size_keys_verify_and_forgeries_do_not() {
    let provider = ProviderKey::from_pem(&text("test_provider_certificate.pem")).unwrap();
    let signer = TestProvider::load();
    let body = fixture("klix/shipping_cost_request_payload.json");
    let signature = signer.detached(&body);
    verifies_until_tampered(&provider, &body, &signature);
    let payload = br#"{"orderId":"1a6a5368-e799-4967-b742-67adc16aec8a"}"#;
    assert_eq!(
        provider.verify_jws(signer.jws(payload).as_bytes()).unwrap(),
        json!({ "orderId": ORDER_ID })
    );
    // Signed by the 512-bit key, a truncated signature, and an empty one.
    let golden = fixture("klix/purchase_notification_v2_body.json");
    let golden_signature = text("purchase_notification_v2_body.x-klix-signature.txt");
    assert!(
        provider
            .verify_detached(&golden, &golden_signature)
            .is_err()
    );
    let raw = STANDARD.decode(&signature).unwrap();
    for short in [&raw[..raw.len() - 1], &raw[..0]] {
        let error = provider
            .verify_detached(&body, &STANDARD.encode(short))
            .unwrap_err();
        assert_eq!(error.to_string(), "the signature does not verify");
    }
}

/// A 2047-bit key takes 256 bytes, like a 2048-bit one: the choice of verifier and
/// `ring`'s own size check must agree on which side of 2048 bits it falls.
#[test]
fn keys_of_any_bit_length_verify() {
    let pem = text("test_odd_size_private_key.pem");
    let signer = TestProvider(SigningKey::new(
        RsaPrivateKey::from_pkcs8_pem(&pem).unwrap(),
    ));
    let provider = ProviderKey::from_pem(&text("test_odd_size_public_key.pem")).unwrap();
    let body = fixture("klix/shipping_cost_request_payload.json");
    verifies_until_tampered(&provider, &body, &signer.detached(&body));
}

#[test]
fn order_verification_approves_through_the_api_with_a_signed_order() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, server) = start_with_order(dir.path());
    let order = fixture("klix/merchant_api_get_order_response.json");

    let response = post(
        &server,
        "/eu/klix/order_verification",
        &fixture("klix/order_verification_request.jws"),
        &[],
    );
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["decision"], "approved");

    let calls = fake.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    let path = format!("/merchants/merchant-7/orders/{ORDER_ID}");
    assert_eq!(
        (calls[0].method.as_str(), calls[0].path.as_str()),
        ("GET", path.as_str())
    );
    assert_eq!(calls[0].headers["x-klix-api-key"], API_KEY);
    assert_eq!(
        (calls[1].method.as_str(), calls[1].path.as_str()),
        ("PUT", path.as_str())
    );
    assert_eq!(calls[1].headers["x-klix-api-key"], API_KEY);
    assert_eq!(calls[1].headers["content-type"], "application/json");
    // The approval is the fetched order, signed with the merchant key, kid = certificate id.
    let merchant = ProviderKey::from_pem(&text("test_merchant_public_key.pem")).unwrap();
    let payload = merchant.verify_jws(&calls[1].body).unwrap();
    assert_eq!(payload, serde_json::from_slice::<Value>(&order).unwrap());
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(
                String::from_utf8_lossy(&calls[1].body)
                    .split('.')
                    .next()
                    .unwrap(),
            )
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header, json!({"typ": "JWT", "alg": "RS256", "kid": KID}));
}

#[test]
fn order_verification_rejects_with_a_signed_reason_code() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, server) = start_with_order(dir.path());
    // The catalog shop sells in SEK only: the EUR order is rejected.
    let response = post(
        &server,
        "/catalog/klix/order_verification",
        &fixture("klix/order_verification_request.jws"),
        &[],
    );
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["decision"], "rejected");
    let calls = fake.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].method, "DELETE");
    let merchant = ProviderKey::from_pem(&text("test_merchant_public_key.pem")).unwrap();
    assert_eq!(
        merchant.verify_jws(&calls[1].body).unwrap(),
        json!({"reasonCode": "OTHER"})
    );
}

#[test]
fn bad_signatures_and_a_failing_api_get_the_documented_answers() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, server) = start_with_order(dir.path());
    let jws = fixture("klix/order_verification_request.jws");

    // Signed by another key: 401, the API is never called.
    let forged = TestProvider::load().jws(format!(r#"{{"orderId":"{ORDER_ID}"}}"#).as_bytes());
    let response = post(
        &server,
        "/eu/klix/order_verification",
        forged.as_bytes(),
        &[],
    );
    assert_eq!(response.status, 401);
    assert!(fake.calls().is_empty());

    // An unknown order: the API answers 404, Klix gets 502.
    let unknown = post(
        &server,
        "/sek/klix/order_verification",
        TestProvider::load()
            .jws(br#"{"orderId":"nope"}"#)
            .as_bytes(),
        &[],
    );
    assert_eq!(unknown.status, 502, "{}", unknown.text());
    assert!(unknown.json()["message"].as_str().unwrap().contains("404"));

    // Unreachable API: 502 at once.
    let response = post(&server, "/down/klix/order_verification", &jws, &[]);
    assert_eq!(response.status, 502);
    assert!(
        response.json()["message"]
            .as_str()
            .unwrap()
            .contains("could not connect")
    );

    // A slow API: the call times out (500 ms configured), 502, no hang.
    fake.set_delay(Duration::from_secs(3));
    let began = Instant::now();
    let response = post(&server, "/eu/klix/order_verification", &jws, &[]);
    assert_eq!(response.status, 502);
    assert!(
        response.json()["message"]
            .as_str()
            .unwrap()
            .contains("timed out")
    );
    assert!(
        began.elapsed() < Duration::from_secs(3),
        "waited for the slow API"
    );
    assert!(!response.text().contains(API_KEY));
}

#[test]
fn purchase_notifications_of_both_generations() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeKlix::start();
    let server = start(dir.path(), &fake);
    let body = fixture("klix/purchase_notification_v2_body.json");
    let signature = text("purchase_notification_v2_body.x-klix-signature.txt");
    let headers = [
        ("Content-Type", "application/json"),
        ("X-Klix-Signature", signature.trim()),
    ];
    let response = http::request(
        server.address,
        "PUT",
        "/eu/klix/purchase_notification",
        &headers,
        &body,
    );
    assert_eq!(response.status, 200, "{}", response.text());
    let mut tampered = body.clone();
    tampered[10] ^= 0x01;
    let response = http::request(
        server.address,
        "PUT",
        "/eu/klix/purchase_notification",
        &headers,
        &tampered,
    );
    assert_eq!(response.status, 400);
    let response = http::request(
        server.address,
        "PUT",
        "/eu/klix/purchase_notification",
        &[("Content-Type", "application/json")],
        &body,
    );
    assert_eq!(response.status, 400);
    assert!(
        response.json()["message"]
            .as_str()
            .unwrap()
            .contains("X-Klix-Signature")
    );

    // Gen 1: a JWS of the documented payload.
    let payload = fixture("klix/purchase_notification_jws_payload_approved.json");
    let jws = TestProvider::load().jws(&payload);
    let response = post(
        &server,
        "/sek/klix/purchase_notification",
        jws.as_bytes(),
        &[],
    );
    assert_eq!(response.status, 200);
    let forged = post(
        &server,
        "/eu/klix/purchase_notification",
        jws.as_bytes(),
        &[],
    );
    assert_eq!(forged.status, 400);

    let events: Vec<Value> =
        std::fs::read_to_string(server.workdir.path().join("rulegate-state/events.jsonl"))
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["generation"], 2);
    assert_eq!(
        events[0]["order_id"],
        "d72096a0-58f2-46f0-9a4c-6d2271784530"
    );
    assert_eq!(events[0]["status"], "PAID");
    assert_eq!(events[1]["generation"], 1);
    assert_eq!(events[1]["status"], "PAYMENT_APPROVED");
    // No personal or payment data is recorded.
    let recorded = serde_json::to_string(&events).unwrap();
    for secret in ["john.doe", "731589767", "Doe"] {
        assert!(!recorded.contains(secret), "{secret}");
    }
}

fn shipping_request(method: &str) -> Value {
    let mut request: Value =
        serde_json::from_slice(&fixture("klix/shipping_cost_request_payload.json")).unwrap();
    request["order_items"] = json!([
        { "reference": "KAFFE-500", "quantity": 2.000 },
        { "reference": "KOPP-VIT", "quantity": 1.000 },
    ]);
    request["shipping_method_id"] = json!(method);
    request["address"] =
        json!({"city": "Stockholm", "address": "Drottninggatan 1", "postal_code": "111 51"});
    request
}

#[test]
fn shipping_cost_for_both_generations() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeKlix::start();
    let server = start(dir.path(), &fake);
    let provider = TestProvider::load();
    let expected = json!({"id": "ombud", "amount": 39.20, "currency": "SEK", "taxRate": 0.25});

    // Gen 1: JWS body.
    let body = shipping_request("ombud").to_string();
    let response = post(
        &server,
        "/sek/klix/shipping_cost",
        provider.jws(body.as_bytes()).as_bytes(),
        &[],
    );
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json(), expected);
    // Exact decimals on the wire.
    assert!(
        response.text().contains(r#""amount":39.20"#),
        "{}",
        response.text()
    );

    // Gen 2: JSON body, `items` instead of `order_items`, signed header.
    let mut request = shipping_request("ombud");
    let items = request
        .as_object_mut()
        .unwrap()
        .remove("order_items")
        .unwrap();
    request["items"] = items;
    let body = request.to_string().into_bytes();
    let signature = provider.detached(&body);
    let headers = [
        ("Content-Type", "application/json"),
        ("X-Klix-Signature", signature.as_str()),
    ];
    let response = post(&server, "/sek/klix/shipping_cost", &body, &headers);
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json(), expected);

    // Signed arrays in place of objects: the whole payload, or an item.
    let whole = json!(["order-1", [], "ombud", {"city": "Stockholm"}]).to_string();
    let mut item = shipping_request("ombud");
    item["order_items"][0] = json!(["SKU-1", 2]);
    for (body, says) in [
        (whole, "must be a JSON object"),
        (item.to_string(), "`order_items[0]`"),
    ] {
        for (body, headers) in [
            (provider.jws(body.as_bytes()).into_bytes(), Vec::new()),
            (
                body.clone().into_bytes(),
                vec![
                    ("Content-Type", "application/json".to_string()),
                    ("X-Klix-Signature", provider.detached(body.as_bytes())),
                ],
            ),
        ] {
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(name, value)| (*name, value.as_str()))
                .collect();
            let response = post(&server, "/sek/klix/shipping_cost", &body, &headers);
            assert_eq!(response.status, 400, "{}", response.text());
            assert!(response.text().contains(says), "{}", response.text());
        }
    }

    for callback in ["purchase_notification", "order_verification"] {
        let body = provider.jws(br#"["PAYMENT_APPROVED", "order-1"]"#);
        let response = post(
            &server,
            &format!("/sek/klix/{callback}"),
            body.as_bytes(),
            &[],
        );
        assert_eq!(response.status, 400, "{callback}: {}", response.text());
        assert!(
            response.text().contains("must be a JSON object"),
            "{}",
            response.text()
        );
    }
    assert!(
        fake.calls().is_empty(),
        "an array payload reached the Klix API"
    );
    let events = server.workdir.path().join("rulegate-state/events.jsonl");
    assert_eq!(
        std::fs::read_to_string(events).unwrap_or_default(),
        "",
        "an array payload was recorded"
    );

    // A signed request with a field of the wrong type: 400 naming the field.
    let mut malformed = shipping_request("ombud");
    malformed["order_items"][1]["quantity"] = json!("one");
    let body = malformed.to_string();
    let response = post(
        &server,
        "/sek/klix/shipping_cost",
        provider.jws(body.as_bytes()).as_bytes(),
        &[],
    );
    assert_eq!(response.status, 400, "{}", response.text());
    assert!(
        response.text().contains("`order_items[1].quantity`"),
        "{}",
        response.text()
    );

    // A method the rules do not offer there: 422.
    let body = shipping_request("drone").to_string();
    let response = post(
        &server,
        "/sek/klix/shipping_cost",
        provider.jws(body.as_bytes()).as_bytes(),
        &[],
    );
    assert_eq!(response.status, 422);
    assert_eq!(
        response.json()["reasonCode"],
        "DELIVERY_ADDRESS_NOT_SUPPORTED"
    );
    // The body every client error has, besides Klix's reason code.
    assert_eq!(response.json()["error"], "delivery_not_offered");
    assert!(
        response.json()["message"]
            .as_str()
            .unwrap()
            .contains("\"drone\" does not deliver to this address"),
        "{}",
        response.text()
    );

    // Unsigned JSON and a bad signature: refused.
    let response = post(
        &server,
        "/sek/klix/shipping_cost",
        body.as_bytes(),
        &[("Content-Type", "application/json")],
    );
    assert_eq!(response.status, 401);
    let response = post(
        &server,
        "/sek/klix/shipping_cost",
        body.as_bytes(),
        &[("X-Klix-Signature", "AAAA")],
    );
    assert_eq!(response.status, 401);
    // A quantity finer than Klix's three places: 400 naming it.
    let mut bad = shipping_request("ombud");
    bad["order_items"][0]["quantity"] = json!(1.0005);
    let response = post(
        &server,
        "/sek/klix/shipping_cost",
        provider.jws(bad.to_string().as_bytes()).as_bytes(),
        &[],
    );
    assert_eq!(response.status, 400);
    assert!(
        response.text().contains("order_items[0].quantity"),
        "{}",
        response.text()
    );
}

#[test]
fn connectivity_check_and_routing() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeKlix::start();
    let server = start(dir.path(), &fake);
    for callback in [
        "order_verification",
        "purchase_notification",
        "shipping_cost",
    ] {
        let response = http::request(
            server.address,
            "OPTIONS",
            &format!("/eu/klix/{callback}"),
            &[],
            b"",
        );
        assert_eq!(response.status, 200);
        let allowed = response.header("access-control-allow-methods").unwrap();
        assert!(
            allowed.contains("POST") && allowed.contains("PUT"),
            "{allowed}"
        );
    }
    assert_eq!(
        http::get(server.address, "/eu/klix/shipping_cost").status,
        405
    );
    assert_eq!(
        http::request(server.address, "OPTIONS", "/eu/klix/nope", &[], b"").status,
        404
    );
}

#[test]
fn run_answers_a_shipping_cost_payload_like_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeKlix::start();
    let server = start(dir.path(), &fake);
    let payload = shipping_request("ombud").to_string();
    let input = dir.path().join("shipping-cost.json");
    std::fs::write(&input, &payload).unwrap();
    let input = input.to_str().unwrap();
    let args = [
        "run",
        "--module",
        "example:catalog-shop",
        "--platform",
        "klix",
        "--callback",
        "shipping_cost",
        "--currency",
        "SEK",
        "--country",
        "SE",
        "--input",
        input,
    ];
    let run = rulegate(&args);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let served = post(
        &server,
        "/sek/klix/shipping_cost",
        TestProvider::load().jws(payload.as_bytes()).as_bytes(),
        &[],
    );
    assert!(run.stdout.contains("HTTP 200"), "{}", run.stdout);
    assert!(
        run.stdout.contains(&served.text()),
        "{}\nvs\n{}",
        run.stdout,
        served.text()
    );
    assert!(run.stdout.contains("fuel "), "{}", run.stdout);
    // `--json` keeps the decimals exactly as the server sends them.
    let run = rulegate(&[&args[..], &["--json"]].concat());
    assert!(run.stdout.contains(r#""amount":39.20"#), "{}", run.stdout);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["status"], 200);
}

/// The embedded default configuration's Klix tenant: the EU shop's Baltic shipping
/// answers Klix's documented shipping-cost example, signatures are checked against
/// Klix's public test certificate, and order verification without the merchant API is
/// a clear 503, never a 500.
#[test]
fn the_default_configuration_answers_klixs_documented_example() {
    let server = Server::start(None);
    let documented = fixture("klix/shipping_cost_request_payload.json");
    let json = [("Content-Type", "application/json")];
    let response = post(&server, "/klix-demo/klix/shipping_cost", &documented, &json);
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.text(),
        r#"{"id":"omniva","amount":2.47,"currency":"EUR","taxRate":0.21}"#
    );

    // A signature that is there is checked, also on this demo tenant.
    let forged = TestProvider::load().detached(&documented);
    let signed = [
        ("Content-Type", "application/json"),
        ("X-Klix-Signature", forged.as_str()),
    ];
    let response = post(
        &server,
        "/klix-demo/klix/shipping_cost",
        &documented,
        &signed,
    );
    assert_eq!(response.status, 401, "{}", response.text());

    // A JWS signed by Klix's test key verifies; the merchant API is what is missing.
    let jws = fixture("klix/order_verification_request.jws");
    let response = post(&server, "/klix-demo/klix/order_verification", &jws, &[]);
    assert_eq!(response.status, 503, "{}", response.text());
    assert_eq!(response.json()["error"], "merchant_api_not_configured");
    assert!(
        response.json()["message"]
            .as_str()
            .unwrap()
            .contains("`[tenants.klix-demo.klix.api]`"),
        "{}",
        response.text()
    );
    // A JWS signed by any other key does not.
    let body = shipping_request("omniva").to_string();
    let other = TestProvider::load().jws(body.as_bytes());
    let response = post(
        &server,
        "/klix-demo/klix/shipping_cost",
        other.as_bytes(),
        &[],
    );
    assert_eq!(response.status, 401, "{}", response.text());
}
