//! Route-level behaviour on the routers themselves, with no server process: which
//! status and body every refusal gets, method handling, the connectivity check, the
//! admin API's bearer token. Each request goes to the router with
//! `tower::ServiceExt::oneshot`; the end-to-end tests cover the same server over HTTP.

use axum::body::Body;
use axum::http::Request;
use rulegate_tests::config::ConfigFile;
use rulegate_tests::routes::{Answered, Routers, send};

const SECRET: &str = "kco-Secret-route5";
const TOKEN: &str = "admin-Token-route5";

fn routers() -> Routers {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/klix");
    let config = ConfigFile::new(dir.path()).key("max_body_bytes = 4096");
    let secret = config.secret("kco-secret", SECRET);
    let app_secret = config.secret("app-secret", "fb-app-secret");
    let api_key = config.secret("api-key", "klix-api-key");
    let text = config
        .toml(&format!(
            r#"
[tenants.shop]
module = "native:us-shop"
[tenants.shop.kco]
secret = {secret}
[tenants.shop.messenger]
app_secret = {app_secret}
[tenants.shop.klix]
provider_key = {provider:?}
[tenants.shop.klix.api]
url = "http://127.0.0.1:9"
merchant_id = "merchant-7"
api_key = {api_key}
signing_key = {{ file = {signing:?} }}
signing_key_id = "route-test"

[tenants.nothing]
module = "native:eu-shop"

[tenants.open]
module = "native:us-shop"
[tenants.open.kco]
unauthenticated = true
[tenants.open.messenger]
unauthenticated = true
"#,
            provider = fixtures
                .join("provider_public_key.pem")
                .display()
                .to_string(),
            signing = fixtures
                .join("test_merchant_private_key.pem")
                .display()
                .to_string(),
        ))
        .text();
    Routers::new(dir, &text, TOKEN)
}

fn request(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(target);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::from(body.to_vec())).unwrap()
}

const JSON: &[(&str, &str)] = &[("content-type", "application/json")];

/// A client error: its status, the JSON body's `error` code, and a message that
/// contains `says`.
/// An admin request and its refusal: method, target, body, status, error code, and
/// what the message says.
type Refusal = (
    &'static str,
    &'static str,
    &'static [u8],
    u16,
    &'static str,
    &'static str,
);

fn assert_refused(answered: &Answered, status: u16, code: &str, says: &str) {
    assert_eq!(answered.status, status, "{:?}", answered);
    let body = answered.json();
    assert_eq!(body["error"], code, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains(says), "{message:?} should say {says:?}");
}

#[tokio::test]
async fn callback_refusals_name_what_is_wrong() {
    let routers = routers();
    let router = &routers.callbacks;
    let order =
        br#"{"order_amount":0,"order_tax_amount":0,"order_lines":[],"purchase_currency":"USD"}"#;
    let secret = format!("/shop/kco/{SECRET}/address_update");
    for (method, target, headers, body, status, code, says) in [
        (
            "POST",
            "/nobody/kco/address_update",
            JSON,
            &order[..],
            404,
            "not_found",
            "no tenant named \"nobody\"",
        ),
        (
            "POST",
            "/nothing/kco/address_update",
            JSON,
            order,
            404,
            "not_found",
            "does not serve KCO",
        ),
        (
            "POST",
            "/shop/kco/address_updated",
            JSON,
            order,
            404,
            "not_found",
            "known: address_update",
        ),
        (
            "POST",
            "/shop/kco/address_update",
            JSON,
            order,
            401,
            "unauthorized",
            "`token` query parameter",
        ),
        (
            "POST",
            "/shop/kco/wrong/address_update",
            JSON,
            order,
            401,
            "unauthorized",
            "does not match",
        ),
        (
            "POST",
            "/shop/kco/address_update?token=wrong",
            JSON,
            order,
            401,
            "unauthorized",
            "does not match",
        ),
        (
            "POST",
            &secret,
            &[("content-type", "text/plain")],
            order,
            415,
            "unsupported_media_type",
            "application/json",
        ),
        ("POST", &secret, JSON, b"", 400, "bad_request", "empty"),
        (
            "POST",
            &secret,
            JSON,
            b"[1]",
            400,
            "bad_request",
            "must be a JSON object",
        ),
        (
            "POST",
            &secret,
            JSON,
            &[b' '; 5000],
            413,
            "payload_too_large",
            "4096 bytes",
        ),
        (
            "POST",
            "/nothing/messenger",
            JSON,
            b"{}",
            404,
            "not_found",
            "does not serve Messenger",
        ),
        (
            "POST",
            "/shop/messenger",
            JSON,
            b"{}",
            403,
            "forbidden",
            "X-Hub-Signature",
        ),
        (
            "GET",
            "/shop/messenger?hub.mode=subscribe",
            &[],
            b"",
            403,
            "forbidden",
            "no Messenger verify token",
        ),
        (
            "POST",
            "/nothing/klix/shipping_cost",
            JSON,
            b"{}",
            404,
            "not_found",
            "does not serve Klix",
        ),
        (
            "POST",
            "/shop/klix/refund",
            JSON,
            b"{}",
            404,
            "not_found",
            "no Klix callback named",
        ),
        (
            "GET",
            "/shop/klix/shipping_cost",
            &[],
            b"",
            405,
            "method_not_allowed",
            "GET is not accepted",
        ),
        (
            "PUT",
            "/shop/klix/shipping_cost",
            JSON,
            b"{}",
            405,
            "method_not_allowed",
            "PUT is not accepted",
        ),
        (
            "POST",
            "/shop/klix/shipping_cost",
            JSON,
            b"{}",
            401,
            "bad_signature",
            "X-Klix-Signature",
        ),
        (
            "GET",
            "/no/such/route",
            &[],
            b"",
            404,
            "not_found",
            "no such route",
        ),
    ] {
        let answered = send(router, request(method, target, headers, body)).await;
        assert_refused(&answered, status, code, says);
    }
}

#[tokio::test]
async fn klix_connectivity_check_lists_the_methods() {
    let routers = routers();
    for callback in [
        "order_verification",
        "purchase_notification",
        "shipping_cost",
    ] {
        let answered = send(
            &routers.callbacks,
            request("OPTIONS", &format!("/shop/klix/{callback}"), &[], b""),
        )
        .await;
        assert_eq!(answered.status, 200, "{callback}");
        assert_eq!(
            answered.header("access-control-allow-methods"),
            Some("POST, PUT, OPTIONS")
        );
        assert_eq!(answered.header("allow"), Some("POST, PUT, OPTIONS"));
    }
    let refused = send(
        &routers.callbacks,
        request("DELETE", "/shop/klix/shipping_cost", &[], b""),
    )
    .await;
    assert_eq!(refused.header("allow"), Some("POST, PUT, OPTIONS"));
}

#[tokio::test]
async fn a_kco_callback_with_its_secret_is_answered() {
    let routers = routers();
    let body = rulegate_tests::fixture("kco/address_update_request.json");
    for target in [
        format!("/shop/kco/{SECRET}/address_update"),
        format!("/shop/kco/address_update?token={SECRET}&kustom_order_id=o-1"),
    ] {
        let answered = send(&routers.callbacks, request("POST", &target, JSON, &body)).await;
        assert_eq!(answered.status, 200, "{target}: {:?}", answered);
        assert_eq!(answered.header("content-type"), Some("application/json"));
        assert!(answered.json()["order_lines"].is_array());
    }
}

#[tokio::test]
async fn the_admin_api_needs_its_bearer_token() {
    let routers = routers();
    for authorization in [
        None,
        Some("Bearer wrong"),
        Some("Basic abc"),
        Some("Bearer "),
    ] {
        let headers: Vec<(&str, &str)> = authorization
            .map(|value| vec![("authorization", value)])
            .unwrap_or_default();
        let answered = send(&routers.admin, request("GET", "/v1/tenants", &headers, b"")).await;
        assert_refused(&answered, 401, "unauthorized", "");
        assert_eq!(
            answered.header("www-authenticate"),
            Some("Bearer realm=\"rulegate-admin\"")
        );
    }
    let bearer = format!("Bearer {TOKEN}");
    let authorized = [("authorization", bearer.as_str())];
    let tenants = send(
        &routers.admin,
        request("GET", "/v1/tenants", &authorized, b""),
    )
    .await;
    assert_eq!(tenants.status, 200);
    assert_eq!(
        tenants.json()["tenants"][1]["active"]["version"],
        "native:us-shop"
    );
    // Refusals of the admin API: each names what is wrong.
    let refusals: [Refusal; 5] = [
        ("GET", "/v1/tenants/nobody", b"", 404, "not_found", "nobody"),
        (
            "GET",
            "/v1/tenants/nobody/events",
            b"",
            404,
            "not_found",
            "nobody",
        ),
        (
            "POST",
            "/v1/tenants/shop/events/evt_1/resend",
            b"",
            409,
            "no_events_endpoint",
            "[tenants.shop.events]",
        ),
        (
            "POST",
            "/v1/tenants/shop/versions",
            b"",
            400,
            "bad_request",
            "the body is empty",
        ),
        (
            "POST",
            "/v1/tenants/shop/activate",
            b"{\"versio\": 1}",
            400,
            "bad_request",
            "version",
        ),
    ];
    for (method, target, body, status, code, says) in refusals {
        let answered = send(&routers.admin, request(method, target, &authorized, body)).await;
        assert_refused(&answered, status, code, says);
    }
    let metrics = send(&routers.admin, request("GET", "/metrics", &authorized, b"")).await;
    assert_eq!(metrics.status, 200);
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(
        text.contains("rulegate_active_module{tenant=\"shop\",version=\"native:us-shop\"} 1"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|line| line == "rulegate_decision_log_dropped_total 0"),
        "{text}"
    );
    for open in ["/healthz", "/readyz"] {
        assert_eq!(
            send(&routers.admin, request("GET", open, &[], b""))
                .await
                .status,
            200
        );
    }
}

/// serde's derived structs also accept a sequence of their fields: every body the
/// documentation describes as an object must be one, at every depth.
#[tokio::test]
async fn arrays_in_place_of_objects_are_refused_and_change_nothing() {
    let routers = routers();
    let kco = format!("/shop/kco/{SECRET}/address_update");
    let line = r#"["physical","T-1","T-shirt",1,"pcs",1000,0,1000,0,0]"#;
    for (target, body, says) in [
        (
            kco.as_str(),
            r#"[25997, 0, [], "USD", null, "en-US", null, {}]"#.to_string(),
            "must be a JSON object",
        ),
        (
            kco.as_str(),
            format!(
                r#"{{"order_amount":1000,"order_tax_amount":0,"purchase_currency":"USD","order_lines":[{line}]}}"#
            ),
            "`order_lines[0]`",
        ),
        (
            "/open/messenger",
            r#"["page", [{"id": "1", "time": 1, "messaging": []}]]"#.to_string(),
            "must be a JSON object",
        ),
        (
            "/open/messenger",
            r#"{"object": "page", "entry": [["1", 1, []]]}"#.to_string(),
            "`entry[0]`",
        ),
    ] {
        let answered = send(
            &routers.callbacks,
            request("POST", target, JSON, body.as_bytes()),
        )
        .await;
        assert_refused(&answered, 400, "bad_request", says);
        assert!(
            answered.json()["message"]
                .as_str()
                .unwrap()
                .contains("invalid type: sequence"),
            "{target}: {:?}",
            answered
        );
    }

    let bearer = format!("Bearer {TOKEN}");
    let authorized = [("authorization", bearer.as_str())];
    let version = "sha256:".to_string() + &"0".repeat(64);
    let activate = send(
        &routers.admin,
        request(
            "POST",
            "/v1/tenants/shop/activate",
            &authorized,
            format!("[{version:?}]").as_bytes(),
        ),
    )
    .await;
    assert_refused(&activate, 400, "bad_request", "must be a JSON object");
    let shadow = send(
        &routers.admin,
        request(
            "POST",
            "/v1/tenants/shop/shadow",
            &authorized,
            format!("[{version:?}]").as_bytes(),
        ),
    )
    .await;
    assert_eq!(shadow.status, 422, "{:?}", shadow);
    let status = send(
        &routers.admin,
        request("GET", "/v1/tenants/shop", &authorized, b""),
    )
    .await;
    let status = status.json();
    assert_eq!(status["active"]["version"], "native:us-shop", "{status}");
    assert_eq!(status["shadow"], serde_json::Value::Null, "{status}");
    assert_eq!(status["history"].as_array().unwrap().len(), 1, "{status}");
}

/// A method a route does not take: 405 with `Allow` and the JSON body of every refusal.
#[tokio::test]
async fn wrong_methods_get_405_with_allow_and_a_body() {
    let routers = routers();
    for (router, method, target, allow) in [
        (
            &routers.callbacks,
            "GET",
            "/open/kco/address_update",
            "POST",
        ),
        (
            &routers.callbacks,
            "DELETE",
            "/open/kco/secret/validation",
            "POST",
        ),
        (
            &routers.callbacks,
            "PUT",
            "/open/messenger",
            "GET,HEAD,POST",
        ),
        (&routers.callbacks, "POST", "/healthz", "GET,HEAD"),
        (&routers.admin, "PUT", "/healthz", "GET,HEAD"),
    ] {
        let answered = send(router, request(method, target, &[], b"")).await;
        assert_refused(
            &answered,
            405,
            "method_not_allowed",
            &format!("{method} is not accepted on {target}"),
        );
        assert_eq!(answered.header("allow"), Some(allow), "{method} {target}");
        assert_eq!(answered.header("content-type"), Some("application/json"));
    }
}
