//! Reliability and security end-to-end: graceful shutdown, slow and oversized
//! requests, secrets kept out of logs, and tenants isolated from a module that burns
//! its deadline on every call.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rulegate_tests::config::ConfigFile;
use rulegate_tests::fixture;
use rulegate_tests::http;
use rulegate_tests::server::Server;

const KCO_SECRET: &str = "kco-Secret-b7e1";
const APP_SECRET: &str = "fb-Secret-41c9";
const ADMIN_TOKEN: &str = "admin-Token-e2d0";

/// A deployment with a healthy US tenant behind secrets, a tenant whose module loops
/// until its deadline, an admin API, and short HTTP limits.
fn config(dir: &Path) -> std::path::PathBuf {
    let config = ConfigFile::new(dir)
        .state_dir()
        .key("max_body_bytes = 65536")
        .toml(
            r#"
[http]
header_timeout_ms = 300
request_timeout_ms = 3000
shutdown_grace_ms = 5000
max_headers = 32
max_header_bytes = 8192
"#,
        )
        .admin(ADMIN_TOKEN);
    let kco = config.secret("kco-secret", KCO_SECRET);
    let app = config.secret("app-secret", APP_SECRET);
    config
        .toml(&format!(
            r#"
[tenants.shop]
module = "example:us-shop"
[tenants.shop.kco]
secret = {kco}
[tenants.shop.messenger]
app_secret = {app}
"#
        ))
        .slow_tenant(
            "kco",
            800,
            r#"
[tenants.slow.on_failure.callbacks."kco.validation"]
validate = "approve"
"#,
        )
        .write()
}

#[test]
fn sigterm_finishes_in_flight_requests_flushes_the_log_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Some(&config(dir.path())));
    let address = server.address;
    // A validation that takes the slow tenant's whole 800 ms deadline.
    let in_flight = std::thread::spawn(move || {
        http::post_json(
            address,
            "/slow/kco/validation",
            &fixture("kco/validation_request.json"),
        )
    });
    std::thread::sleep(Duration::from_millis(300));
    let code = server.terminate(Duration::from_secs(20));
    assert_eq!(code, Some(0), "rulegate did not exit 0 after SIGTERM");
    let response = in_flight.join().unwrap();
    assert_eq!(
        response.status,
        200,
        "the in-flight request was not finished: {}",
        response.text()
    );
    assert!(
        TcpStream::connect(address).is_err(),
        "still accepting after shutdown"
    );
    let log = std::fs::read_to_string(dir.path().join("state/decisions.jsonl")).unwrap();
    assert!(
        log.lines().any(|line| line.contains(r#""tenant":"slow""#)
            && line.contains(r#""callback":"validation""#)),
        "the in-flight decision was not flushed: {log}"
    );
}

#[test]
fn slow_oversized_and_trickling_requests_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Some(&config(dir.path())));

    // Slow loris: headers never finish; the connection is closed after the header
    // deadline (300 ms), long before this read gives up.
    let mut loris = TcpStream::connect(server.address).unwrap();
    loris
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    loris
        .write_all(b"POST /shop/kco/address_update HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let mut buffer = Vec::new();
    let closed = loris.read_to_end(&mut buffer);
    assert!(
        closed.is_ok(),
        "the server kept a header-less connection open: {closed:?}"
    );

    // Too many headers, or too many header bytes: 431.
    let many: Vec<(String, String)> = (0..40).map(|n| (format!("X-H{n}"), "v".into())).collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let response = http::request(server.address, "GET", "/healthz", &many, b"");
    assert_eq!(response.status, 431);
    assert_eq!(response.json()["error"], "request_header_fields_too_large");
    assert!(
        response.json()["message"]
            .as_str()
            .unwrap()
            .contains("at most 32")
    );
    let long = "v".repeat(9000);
    let response = http::request(server.address, "GET", "/healthz", &[("X-Long", &long)], b"");
    assert_eq!(response.status, 431);
    assert!(
        response.json()["message"]
            .as_str()
            .unwrap()
            .contains("at most 8192")
    );

    // What hyper cannot parse it refuses itself; the refusal carries the JSON body too.
    for (case, bytes) in [
        ("a malformed request line", &b"GARBAGE\r\n\r\n"[..]),
        (
            "a header line without a colon",
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
        ),
    ] {
        let mut raw = TcpStream::connect(server.address).unwrap();
        raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        raw.write_all(bytes).unwrap();
        let mut answer = String::new();
        let _ = raw.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 400"), "{case}: {answer}");
        assert!(
            answer.contains("content-type: application/json"),
            "{case}: {answer}"
        );
        let body: serde_json::Value =
            serde_json::from_str(answer.split_once("\r\n\r\n").unwrap().1).unwrap();
        assert_eq!(body["error"], "bad_request", "{case}: {answer}");
        assert!(body["message"].as_str().unwrap().contains("malformed"));
    }
    assert_eq!(
        http::request(server.address, "GET", "/healthz", &[], b"").status,
        200
    );

    // A body that trickles: 408 at the request deadline.
    let mut trickle = TcpStream::connect(server.address).unwrap();
    trickle
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    trickle
        .write_all(
            b"POST /slow/kco/address_update HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"order",
        )
        .unwrap();
    let mut answer = String::new();
    let _ = trickle.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""error":"request_timeout""#), "{answer}");

    // A body over the limit: 413, and the server keeps serving.
    let big = vec![b' '; 70_000];
    let response = http::post_json(server.address, "/slow/kco/address_update", &big);
    assert_eq!(response.status, 413);
    assert_eq!(http::get(server.address, "/healthz").status, 200);
}

#[test]
fn secrets_never_reach_a_log_line_or_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("rulegate.log");
    let server = Server::start_with(
        Some(&config(dir.path())),
        &[("RULEGATE_LOG", "debug")],
        Some(&log),
    );
    let body = fixture("kco/address_update_request.json");
    let mut texts = Vec::new();
    for target in [
        format!("/shop/kco/{KCO_SECRET}/address_update"),
        "/shop/kco/wrong-secret/address_update".to_string(),
        format!("/shop/kco/address_update?token={KCO_SECRET}x"),
    ] {
        texts.push(http::post_json(server.address, &target, &body).text());
    }
    let delivery = fixture("messenger/checkout_update_webhook.json");
    texts.push(
        http::request(
            server.address,
            "POST",
            "/shop/messenger",
            &[
                ("Content-Type", "application/json"),
                ("X-Hub-Signature-256", "sha256=00"),
            ],
            &delivery,
        )
        .text(),
    );
    let admin = server.admin.unwrap();
    for authorization in [
        format!("Bearer {ADMIN_TOKEN}"),
        format!("Bearer {ADMIN_TOKEN}x"),
    ] {
        texts.push(
            http::request(
                admin,
                "GET",
                "/v1/tenants",
                &[("Authorization", &authorization)],
                b"",
            )
            .text(),
        );
    }
    assert_eq!(server.terminate(Duration::from_secs(20)), Some(0));
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains("callback refused"),
        "the log is not at debug level: {log}"
    );
    for secret in [KCO_SECRET, APP_SECRET, ADMIN_TOKEN] {
        assert!(!log.contains(secret), "{secret} is in the log");
        for text in &texts {
            assert!(!text.contains(secret), "{secret} is in an answer: {text}");
        }
    }
}

#[test]
fn a_tenant_burning_its_deadline_does_not_stop_another_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Some(&config(dir.path())));
    let address = server.address;
    let stop = Arc::new(AtomicBool::new(false));
    let burners: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let body = fixture("kco/validation_request.json");
                let mut answered = 0;
                while !stop.load(Ordering::Relaxed) {
                    let response = http::post_json(address, "/slow/kco/validation", &body);
                    assert_eq!(response.status, 200, "{}", response.text());
                    answered += 1;
                }
                answered
            })
        })
        .collect();
    let body = fixture("kco/address_update_request.json");
    let target = format!("/shop/kco/{KCO_SECRET}/address_update");
    let expected = http::post_json(address, &target, &body).text();
    for _ in 0..50 {
        let response = http::post_json(address, &target, &body);
        assert_eq!(response.status, 200);
        assert_eq!(response.text(), expected);
    }
    stop.store(true, Ordering::Relaxed);
    for burner in burners {
        assert!(burner.join().unwrap() > 0);
    }
}
