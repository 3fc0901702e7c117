//! Operators end-to-end: hot reload under load, the activation gate through the admin
//! API and the watched directory, restarts and crashes, rollback, the admin token and
//! the metrics. The real server on ephemeral ports, real modules built from source.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use rulegate_tests::config::ConfigFile;
use rulegate_tests::http::{self, Response};
use rulegate_tests::server::Server;
use rulegate_tests::{core_module, eventually, example_wasm, fixture, metric, module};
use serde_json::{Value, json};

const TOKEN: &str = "admin-Token-5d1f";

/// The US shop's answer to the Messenger checkout_update fixture.
const US_ANSWER: &str = r#"{"shipping":[{"option_id":"standard","option_title":"Standard","price_list":[{"label":"Shipping","amount":"5.99"},{"label":"Tax","amount":"0.00"}]},{"option_id":"express","option_title":"Express","price_list":[{"label":"Shipping","amount":"14.99"},{"label":"Tax","amount":"0.00"}]}]}"#;
/// The flat-rate test module's answer to it.
const FLAT_ANSWER: &str = r#"{"shipping":[{"option_id":"flat","option_title":"Flat rate","price_list":[{"label":"Shipping","amount":"4.00"},{"label":"Tax","amount":"0.00"}]}]}"#;

/// A deployment: its configuration, state directory and watched directory survive
/// restarts of the server.
struct Deployment {
    dir: tempfile::TempDir,
}

impl Deployment {
    fn new() -> Deployment {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("deploy")).unwrap();
        std::fs::create_dir_all(dir.path().join("smoke")).unwrap();
        std::fs::write(
            dir.path().join("smoke/ca.json"),
            serde_json::to_vec(&rulegate_tests::cart("USD", "US", 3)).unwrap(),
        )
        .unwrap();
        let config = ConfigFile::new(dir.path()).state_dir().admin(TOKEN);
        let (deploy, smoke) = (config.path("deploy"), config.path("smoke"));
        let config = config.toml(&format!(
            r#"
[watch]
dir = {deploy}
interval_ms = 50

[tenants.shop]
module = "example:us-shop"
[tenants.shop.messenger]
unauthenticated = true

[tenants.guarded]
module = "example:us-shop"
smoke = {smoke}
limits = {{ deadline_ms = 300 }}
[tenants.guarded.messenger]
unauthenticated = true
"#
        ));
        config.write();
        Deployment { dir }
    }

    fn start(&self) -> Server {
        Server::start(Some(&self.dir.path().join("rulegate.toml")))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn admin(server: &Server, method: &str, target: &str, body: &[u8]) -> Response {
    server.admin(TOKEN, method, target, body)
}

fn checkout_update(address: SocketAddr, tenant: &str) -> Response {
    http::post_json(
        address,
        &format!("/{tenant}/messenger"),
        &fixture("messenger/checkout_update_webhook.json"),
    )
}

fn active_version(server: &Server, tenant: &str) -> String {
    let status = admin(server, "GET", &format!("/v1/tenants/{tenant}"), b"");
    assert_eq!(status.status, 200, "{}", status.text());
    status.json()["active"]["version"]
        .as_str()
        .unwrap()
        .to_string()
}

fn upload(server: &Server, tenant: &str, bytes: &[u8]) -> Response {
    admin(
        server,
        "POST",
        &format!("/v1/tenants/{tenant}/versions"),
        bytes,
    )
}

fn metrics(server: &Server) -> String {
    let response = admin(server, "GET", "/metrics", b"");
    assert_eq!(response.status, 200);
    response.text()
}

#[test]
fn swapping_versions_under_load_fails_no_request_and_mixes_none() {
    let deployment = Deployment::new();
    let server = deployment.start();
    let original = active_version(&server, "shop");
    let uploaded = upload(&server, "shop", module("flat-rate"));
    assert_eq!(uploaded.status, 200, "{}", uploaded.text());
    let flat = uploaded.json()["active"]["version"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(flat, original);

    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicUsize::new(0));
    let address = server.address;
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            let total = total.clone();
            std::thread::spawn(move || {
                let (mut us, mut flat, mut wrong) = (0usize, 0usize, Vec::new());
                while !stop.load(Ordering::Relaxed) || total.load(Ordering::Relaxed) < 2_000 {
                    let response = checkout_update(address, "shop");
                    total.fetch_add(1, Ordering::Relaxed);
                    match (response.status, response.text().as_str()) {
                        (200, US_ANSWER) => us += 1,
                        (200, FLAT_ANSWER) => flat += 1,
                        (status, body) => wrong.push(format!("{status} {body}")),
                    }
                }
                (us, flat, wrong)
            })
        })
        .collect();
    for swap in 0..100 {
        let version = if swap % 2 == 0 { &original } else { &flat };
        let body = serde_json::to_vec(&json!({ "version": version })).unwrap();
        let response = admin(&server, "POST", "/v1/tenants/shop/activate", &body);
        assert_eq!(response.status, 200, "swap {swap}: {}", response.text());
        assert_eq!(response.json()["active"]["version"], json!(version));
    }
    stop.store(true, Ordering::Relaxed);
    let (mut us, mut flat_seen) = (0, 0);
    for client in clients {
        let (client_us, client_flat, wrong) = client.join().unwrap();
        assert!(wrong.is_empty(), "answers of neither version: {wrong:?}");
        us += client_us;
        flat_seen += client_flat;
    }
    assert!(us + flat_seen >= 2_000, "{us} + {flat_seen} requests");
    assert!(
        us > 0 && flat_seen > 0,
        "{us} US answers, {flat_seen} flat-rate answers"
    );
    // The last swap (99, odd) activated the flat rate.
    assert_eq!(active_version(&server, "shop"), flat);
    assert_eq!(checkout_update(server.address, "shop").text(), FLAT_ANSWER);

    let text = metrics(&server);
    assert_eq!(
        metric(
            &text,
            r#"rulegate_activations_total{tenant="shop",via="admin"}"#
        ),
        Some(101.0)
    );
    let answered = metric(
        &text,
        r#"rulegate_callbacks_total{tenant="shop",platform="messenger",callback="checkout_update",outcome="ok"}"#,
    )
    .unwrap();
    assert_eq!(answered as usize, us + flat_seen + 1);
    assert_eq!(
        metric(
            &text,
            &format!(r#"rulegate_active_module{{tenant="shop",version="{flat}"}}"#)
        ),
        Some(1.0)
    );
    assert!(
        metric(
            &text,
            r#"rulegate_callback_duration_seconds_count{tenant="shop",platform="messenger"}"#
        )
        .is_some_and(|count| count as usize == us + flat_seen + 1)
    );
}

#[test]
fn broken_candidates_are_refused_by_the_admin_api_and_the_watched_directory() {
    let deployment = Deployment::new();
    let server = deployment.start();
    let original = active_version(&server, "shop");
    for (case, tenant, bytes, expected) in [
        (
            "not wasm",
            "shop",
            b"MZ\x90\x00 not a module".as_slice(),
            "not a WebAssembly file",
        ),
        (
            "core module",
            "shop",
            module("core-module"),
            "core WebAssembly module",
        ),
        (
            "wrong world",
            "shop",
            module("wrong-world"),
            "does not implement",
        ),
        (
            "forbidden import",
            "shop",
            module("imports-filesystem"),
            "imports what rules may not use",
        ),
        (
            "hostile: fails the smoke carts",
            "guarded",
            module("infinite-loop"),
            "smoke cart ca.json",
        ),
        (
            "traps on the smoke carts",
            "guarded",
            module("panics"),
            "smoke cart ca.json",
        ),
        (
            "quote answers otherwise than shipping-options",
            "guarded",
            core_module("lying-quote"),
            "the shipping-options half of `quote` differs",
        ),
    ] {
        let before = active_version(&server, tenant);
        let response = upload(&server, tenant, bytes);
        assert_eq!(response.status, 422, "{case}: {}", response.text());
        let message = response.json()["message"].as_str().unwrap().to_string();
        assert!(message.contains(expected), "{case}: {message}");
        assert_eq!(active_version(&server, tenant), before, "{case}");
        assert_eq!(
            checkout_update(server.address, tenant).text(),
            US_ANSWER,
            "{case}"
        );
    }
    // A good module passes the smoke carts.
    let response = upload(&server, "guarded", module("flat-rate"));
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        checkout_update(server.address, "guarded").text(),
        FLAT_ANSWER
    );

    for (target, status) in [
        ("/v1/tenants/nobody/versions", 404),
        ("/v1/tenants/shop/versions", 400),
    ] {
        let response = admin(&server, "POST", target, b"");
        assert_eq!(response.status, status, "{target}: {}", response.text());
    }
    let response = admin(
        &server,
        "POST",
        "/v1/tenants/shop/activate",
        br#"{"version": "sha256:0000000000000000000000000000000000000000000000000000000000000000"}"#,
    );
    assert_eq!(response.status, 404, "{}", response.text());

    // The watched directory: the same gate.
    std::fs::write(deployment.path("deploy/shop.wasm"), module("wrong-world")).unwrap();
    eventually("the refusal of the watched wrong-world module", || {
        metric(
            &metrics(&server),
            r#"rulegate_refused_candidates_total{tenant="shop",via="watch"}"#,
        ) == Some(1.0)
    });
    assert_eq!(active_version(&server, "shop"), original);
    assert_eq!(checkout_update(server.address, "shop").text(), US_ANSWER);
    std::fs::write(deployment.path("deploy/shop.wasm"), module("flat-rate")).unwrap();
    eventually("the activation of the watched flat-rate module", || {
        active_version(&server, "shop") != original
    });
    assert_eq!(checkout_update(server.address, "shop").text(), FLAT_ANSWER);
    let status = admin(&server, "GET", "/v1/tenants/shop", b"").json();
    assert_eq!(status["active"]["via"], "watch");
}

#[test]
fn restarts_serve_the_last_activated_version_even_after_a_crash_mid_upload() {
    let deployment = Deployment::new();
    let server = deployment.start();
    let original = active_version(&server, "shop");
    let response = upload(&server, "shop", module("flat-rate"));
    assert_eq!(response.status, 200, "{}", response.text());
    let flat = active_version(&server, "shop");
    server.kill();

    // After kill -9: the activated version.
    let server = deployment.start();
    assert_eq!(active_version(&server, "shop"), flat);
    assert_eq!(checkout_update(server.address, "shop").text(), FLAT_ANSWER);

    // A crash in the middle of an upload: half the body sent, then kill -9, with a
    // half-written file in the store as a crash during the write would leave.
    let admin_address = server.admin.unwrap();
    let mut stream = std::net::TcpStream::connect(admin_address).unwrap();
    let candidate = example_wasm("catalog-shop");
    let head = format!(
        "POST /v1/tenants/shop/versions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: {}\r\n\r\n",
        candidate.len()
    );
    use std::io::Write;
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&candidate[..candidate.len() / 2]).unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    server.kill();
    drop(stream);
    let partial = deployment.path("state/modules/.tmpcrash1");
    std::fs::write(&partial, &candidate[..candidate.len() / 3]).unwrap();

    let server = deployment.start();
    assert_eq!(active_version(&server, "shop"), flat);
    assert_eq!(checkout_update(server.address, "shop").text(), FLAT_ANSWER);
    assert!(!partial.exists(), "the partial file was not cleaned up");

    // Rollback is to the version active before, and back again.
    let response = admin(&server, "POST", "/v1/tenants/shop/rollback", b"");
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["active"]["version"], json!(original));
    assert_eq!(checkout_update(server.address, "shop").text(), US_ANSWER);
    let response = admin(&server, "POST", "/v1/tenants/shop/rollback", b"");
    assert_eq!(response.json()["active"]["version"], json!(flat));
    let history: Vec<Value> = admin(&server, "GET", "/v1/tenants/shop", b"").json()["history"]
        .as_array()
        .unwrap()
        .clone();
    let vias: Vec<&str> = history.iter().map(|a| a["via"].as_str().unwrap()).collect();
    assert_eq!(vias, ["config", "admin", "rollback", "rollback"]);

    // A tenant that never had another version has nothing to roll back to.
    let response = admin(&server, "POST", "/v1/tenants/guarded/rollback", b"");
    assert_eq!(response.status, 409, "{}", response.text());
}

#[test]
fn the_admin_api_needs_the_token_and_health_needs_none() {
    let deployment = Deployment::new();
    let server = deployment.start();
    assert!(server.admin.unwrap().ip().is_loopback());
    let original = active_version(&server, "shop");
    for authorization in [
        None,
        Some("Bearer admin-Token-5d1e"),
        Some("Bearer admin-Token-5d1f-and-more"),
        Some("Bearer "),
        Some(&format!("Basic {TOKEN}")),
        Some(TOKEN),
    ] {
        for (method, target, body) in [
            ("GET", "/metrics", b"".as_slice()),
            ("GET", "/v1/tenants", b"".as_slice()),
            ("GET", "/v1/tenants/shop", b"".as_slice()),
            ("POST", "/v1/tenants/shop/versions", module("flat-rate")),
            ("POST", "/v1/tenants/shop/rollback", b"".as_slice()),
        ] {
            let response = server.admin_with(method, target, authorization, body);
            assert_eq!(response.status, 401, "{authorization:?} {target}");
            assert!(response.header("www-authenticate").is_some());
            assert!(!response.text().contains(TOKEN));
        }
    }
    assert_eq!(active_version(&server, "shop"), original);
    let admin_address = server.admin.unwrap();
    assert_eq!(http::get(admin_address, "/healthz").status, 200);
    assert_eq!(http::get(admin_address, "/readyz").status, 200);
    assert_eq!(http::get(server.address, "/readyz").status, 200);
    // The admin routes are not on the callback listener.
    assert_eq!(http::get(server.address, "/metrics").status, 404);
    assert_eq!(http::get(server.address, "/v1/tenants").status, 404);

    let tenants = admin(&server, "GET", "/v1/tenants", b"").json();
    let names: Vec<&str> = tenants["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tenant"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["guarded", "shop"]);
    // One host with its own state directory has no fleet to show.
    let fleet = admin(&server, "GET", "/v1/fleet", b"");
    assert_eq!(fleet.status, 409, "{}", fleet.text());
    assert_eq!(fleet.json()["error"], json!("no_fleet"));

    // Metrics count what happened, including failures the policy answered.
    for _ in 0..3 {
        assert_eq!(checkout_update(server.address, "shop").status, 200);
    }
    let bad = http::post_json(server.address, "/shop/messenger", b"{");
    assert_eq!(bad.status, 400);
    let text = metrics(&server);
    assert_eq!(
        metric(
            &text,
            r#"rulegate_callbacks_total{tenant="shop",platform="messenger",callback="checkout_update",outcome="ok"}"#
        ),
        Some(3.0)
    );
    // How slots are reset follows this machine's swap (see SECURITY.md).
    let swap = std::fs::read_to_string("/proc/swaps")
        .map(|swaps| swaps.lines().skip(1).any(|line| !line.trim().is_empty()))
        .unwrap_or(true);
    assert_eq!(
        metric(&text, "rulegate_engine_pagemap_scan"),
        Some(if swap { 0.0 } else { 1.0 })
    );
    assert_eq!(
        metric(
            &text,
            r#"rulegate_callbacks_total{tenant="shop",platform="messenger",callback="webhook",outcome="refused"}"#
        ),
        Some(1.0)
    );
    assert!(text.contains("# TYPE rulegate_callback_fuel histogram"));
    assert!(
        metric(&text, r#"rulegate_callback_fuel_count{tenant="shop"}"#) == Some(3.0),
        "{text}"
    );
}
