//! `rulegate serve` with no configuration: the embedded default serves the examples.

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
        ("core-module", "not a component"),
        ("wrong-world", "does not implement"),
        ("imports-filesystem", "wasi:filesystem"),
        ("imports-clock", "wasi:clocks"),
        ("imports-sockets", "wasi:sockets"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let module = dir.path().join(format!("{name}.wasm"));
        std::fs::write(&module, rulegate_tests::module(name)).unwrap();
        let config = dir.path().join("rulegate.toml");
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:0\"\nstate_dir = {:?}\n[tenants.shop]\nmodule = {:?}\n",
                dir.path().join("state").display().to_string(),
                module.display().to_string()
            ),
        )
        .unwrap();
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
