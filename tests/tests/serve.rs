//! `rulegate serve` with no configuration: the embedded default serves the examples.

use rulegate_tests::config::ConfigFile;
use rulegate_tests::http;
use rulegate_tests::server::Server;

#[test]
fn serves_health_with_the_embedded_default_configuration() {
    let server = Server::start(None);
    let response = http::get(server.address, "/healthz");
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "ok\n");
    assert_eq!(http::get(server.address, "/no-such-route").status, 404);
}

#[test]
fn a_configuration_with_a_refused_module_does_not_start() {
    for (name, reason) in [
        ("core-module", "without the contract's types"),
        ("wrong-world", "does not implement"),
        ("imports-filesystem", "wasi:filesystem"),
        ("imports-clock", "wasi:clocks"),
        ("imports-sockets", "wasi:sockets"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let config = ConfigFile::new(dir.path()).state_dir();
        let module = config.module(name);
        let config = config
            .toml(&format!("[tenants.shop]\nmodule = {module}\n"))
            .write();
        let output = std::process::Command::new(rulegate_tests::server::binary())
            .args(["serve", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{name}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("loading tenant shop"), "{name}: {stderr}");
        assert!(stderr.contains(reason), "{name}: {stderr}");
    }
}

#[test]
fn a_log_written_to_a_file_is_plain_text() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("rulegate.log");
    let server = Server::start_with(None, &[("RULEGATE_LOG", "info")], Some(&log));
    let body = rulegate_tests::fixture("kco/address_update_request.json");
    let response = http::post_json(server.address, "/us-demo/kco/address_update", &body);
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        server.terminate(std::time::Duration::from_secs(20)),
        Some(0)
    );
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("callback answered"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "terminal escape codes in a redirected log: {log:?}"
    );
}

/// Every log line of a callback carries its span: tenant, platform, callback and the
/// module version, so the lines of one request can be followed.
#[test]
fn each_callback_logs_inside_its_span() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("rulegate.log");
    let server = Server::start_with(
        None,
        &[("RULEGATE_LOG", "info"), ("RULEGATE_LOG_JSON", "true")],
        Some(&log),
    );
    let kco = rulegate_tests::fixture("kco/address_update_request.json");
    let response = http::post_json(server.address, "/us-demo/kco/address_update", &kco);
    assert_eq!(response.status, 200, "{}", response.text());
    // The demo tenant reads Buy Button payloads as carts.
    let mut delivery = rulegate_tests::fixture_json("messenger/checkout_update_webhook.json");
    delivery["entry"][0]["messaging"][0]["checkout_update"]["payload"] =
        r#"{"lines": [{"reference": "TEE-M", "name": "T-shirt", "quantity": 1, "unit_price": "29.99"}]}"#
            .into();
    let delivery = serde_json::to_vec(&delivery).unwrap();
    let response = http::post_json(server.address, "/us-demo/messenger", &delivery);
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        server.terminate(std::time::Duration::from_secs(20)),
        Some(0)
    );
    let log = std::fs::read_to_string(&log).unwrap();
    let answered: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["fields"]["message"] == "callback answered")
        .collect();
    assert_eq!(answered.len(), 2, "{log}");
    for (line, platform, callback) in [
        (&answered[0], "kco", "address_update"),
        (&answered[1], "messenger", "checkout_update"),
    ] {
        let span = &line["span"];
        assert_eq!(span["name"], "callback", "{line}");
        assert_eq!(span["tenant"], "us-demo", "{line}");
        assert_eq!(span["platform"], platform, "{line}");
        assert_eq!(span["callback"], callback, "{line}");
        assert!(
            span["module"].as_str().unwrap().starts_with("sha256:"),
            "{line}"
        );
    }
}
