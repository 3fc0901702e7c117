//! Signed modules end-to-end: a tenant that lists signers runs only modules enough of
//! them signed, through every entry point (the configuration at start, admin upload,
//! activation of a stored version, rollback, shadow set and promotion, the watched
//! directory), and says why it refused; signatures are stored with the version, shown
//! in the history and survive a restart. The real server, real modules, real keys.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rulegate::engine::ModuleHash;
use rulegate::signature::{Signatures, SigningKey};
use rulegate_tests::config::ConfigFile;
use rulegate_tests::http::{self, Response};
use rulegate_tests::server::Server;
use rulegate_tests::{core_module, eventually, example_wasm, fixture, module};
use serde_json::Value;

const TOKEN: &str = "admin-Token-51gn";

/// The flat-rate test module's answer to the Messenger checkout_update fixture.
const FLAT_ANSWER: &str = r#"{"shipping":[{"option_id":"flat","option_title":"Flat rate","price_list":[{"label":"Shipping","amount":"4.00"},{"label":"Tax","amount":"0.00"}]}]}"#;

struct Keys {
    alice: SigningKey,
    bob: SigningKey,
    mallory: SigningKey,
}

impl Keys {
    fn new() -> Keys {
        let key = || SigningKey::generate().unwrap().0;
        Keys {
            alice: key(),
            bob: key(),
            mallory: key(),
        }
    }
}

fn version(bytes: &[u8]) -> String {
    ModuleHash::of(bytes).to_string()
}

/// The `.sig` file of `bytes` signed by `keys`.
fn signed(bytes: &[u8], keys: &[&SigningKey]) -> Signatures {
    let version = version(bytes);
    let mut file = Signatures::of(&version);
    for key in keys {
        file.add(key.sign(&version));
    }
    file
}

/// The `Rulegate-Signatures` header's value of a `.sig` file.
fn header(file: &Signatures) -> String {
    STANDARD.encode(file.to_bytes())
}

/// Writes `bytes` to `dir/name` and, when `signatures` are given, `dir/name.sig`;
/// returns the module's path as a TOML string.
fn write_signed(dir: &Path, name: &str, bytes: &[u8], signatures: Option<&Signatures>) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    if let Some(signatures) = signatures {
        std::fs::write(dir.join(format!("{name}.sig")), signatures.to_bytes()).unwrap();
    }
    format!("{:?}", path.display().to_string())
}

fn admin(
    server: &Server,
    method: &str,
    target: &str,
    signatures: Option<&str>,
    body: &[u8],
) -> Response {
    let address = server.admin.unwrap();
    let authorization = format!("Bearer {TOKEN}");
    let mut headers = vec![
        ("Content-Type", "application/wasm"),
        ("Authorization", authorization.as_str()),
    ];
    if let Some(value) = signatures {
        headers.push(("Rulegate-Signatures", value));
    }
    http::request(address, method, target, &headers, body)
}

fn status(server: &Server, tenant: &str) -> Value {
    let response = admin(server, "GET", &format!("/v1/tenants/{tenant}"), None, b"");
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()
}

fn active(server: &Server, tenant: &str) -> String {
    status(server, tenant)["active"]["version"]
        .as_str()
        .unwrap()
        .to_string()
}

fn checkout_update(server: &Server, tenant: &str) -> String {
    server
        .post_json(
            &format!("/{tenant}/messenger"),
            &fixture("messenger/checkout_update_webhook.json"),
        )
        .text()
}

fn metric(server: &Server, series: &str) -> Option<f64> {
    rulegate_tests::metric(&admin(server, "GET", "/metrics", None, b"").text(), series)
}

/// Asserts a 422 refusal naming `reason`, and that it changed nothing.
fn refused(server: &Server, tenant: &str, response: Response, reason: &str, case: &str) {
    let before = active(server, tenant);
    assert_eq!(response.status, 422, "{case}: {}", response.text());
    let body = response.json();
    assert_eq!(body["error"], "signature_refused", "{case}: {body}");
    assert_eq!(body["reason"], reason, "{case}: {body}");
    assert_eq!(active(server, tenant), before, "{case}");
}

/// A deployment whose tenants `solo` (one of alice and bob must sign) and `pair` (both
/// must) serve the modules their configuration names, signed beside them (flat-rate,
/// and slow-answer, which answers as flat-rate), and `open`, which lists no signers.
fn deployment(dir: &Path, keys: &Keys) -> ConfigFile {
    std::fs::create_dir_all(dir.join("deploy")).unwrap();
    let flat = module("flat-rate");
    let solo = write_signed(dir, "solo.wasm", flat, Some(&signed(flat, &[&keys.alice])));
    let slow = core_module("slow-answer");
    let pair = write_signed(
        dir,
        "pair.wasm",
        slow,
        Some(&signed(slow, &[&keys.alice, &keys.bob])),
    );
    let signers = format!(
        "[{:?}, {:?}]",
        keys.alice.public_key().to_string(),
        keys.bob.public_key().to_string()
    );
    let config = ConfigFile::new(dir).state_dir().admin(TOKEN);
    let deploy = config.path("deploy");
    config.toml(&format!(
        r#"
[watch]
dir = {deploy}
interval_ms = 50

[tenants.solo]
module = {solo}
signers = {signers}
[tenants.solo.messenger]
unauthenticated = true

[tenants.pair]
module = {pair}
signers = {signers}
minimum_signatures = 2
[tenants.pair.messenger]
unauthenticated = true

[tenants.open]
module = "example:us-shop"
[tenants.open.messenger]
unauthenticated = true
"#
    ))
}

#[test]
fn a_tenant_with_signers_runs_only_what_they_signed_through_every_entry_point() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::new();
    let config = deployment(dir.path(), &keys);
    let server = config.start();
    let alice = keys.alice.public_key().to_string();
    let bob = keys.bob.public_key().to_string();

    // The configuration's module, signed beside its file.
    let solo = status(&server, "solo");
    assert_eq!(solo["active"]["version"], version(module("flat-rate")));
    assert_eq!(solo["active"]["signed_by"], serde_json::json!([alice]));
    assert_eq!(solo["history"][0]["signed_by"], serde_json::json!([alice]));
    assert_eq!(solo["signers"]["minimum_signatures"], 1);
    assert_eq!(solo["signers"]["keys"], serde_json::json!([alice, bob]));
    assert_eq!(checkout_update(&server, "solo"), FLAT_ANSWER);
    let open = status(&server, "open");
    assert!(open["active"].get("signed_by").is_none(), "{open}");
    assert!(open["signers"].is_null(), "{open}");

    // Admin upload: each refusal with its reason, nothing changed.
    let us = example_wasm("us-shop");
    let upload = |tenant: &str, bytes: &[u8], signatures: Option<&str>| {
        admin(
            &server,
            "POST",
            &format!("/v1/tenants/{tenant}/versions"),
            signatures,
            bytes,
        )
    };
    let mut tampered = signed(us, &[&keys.alice]);
    tampered.signatures[0].signature = STANDARD.encode([9u8; 64]);
    for (case, tenant, bytes, signatures, reason) in [
        ("unsigned", "solo", us, None, "no_signature"),
        (
            "signed by an unknown key",
            "solo",
            us,
            Some(signed(us, &[&keys.mallory])),
            "unknown_key",
        ),
        (
            "tampered module (signatures of another module)",
            "solo",
            core_module("flat-rate"),
            Some(signed(us, &[&keys.alice])),
            "bad_signature",
        ),
        (
            "tampered signature",
            "solo",
            us,
            Some(tampered),
            "bad_signature",
        ),
        (
            "one of two required signatures",
            "pair",
            us,
            Some(signed(us, &[&keys.alice, &keys.mallory])),
            "too_few_signatures",
        ),
    ] {
        let value = signatures.as_ref().map(header);
        let response = upload(tenant, bytes, value.as_deref());
        refused(&server, tenant, response, reason, case);
        assert_eq!(checkout_update(&server, tenant), FLAT_ANSWER, "{case}");
    }
    for (case, value) in [("not base64", "%%%"), ("base64 of no .sig file", "W10=")] {
        let response = upload("solo", us, Some(value));
        assert_eq!(response.status, 400, "{case}: {}", response.text());
        assert!(
            response.json()["message"]
                .as_str()
                .unwrap()
                .contains("rulegate-signatures header"),
            "{case}: {}",
            response.text()
        );
    }
    assert_eq!(
        metric(
            &server,
            r#"rulegate_unsigned_candidates_total{tenant="solo",via="admin",reason="bad_signature"}"#
        ),
        Some(2.0)
    );

    // Properly signed, it activates; the history says who signed.
    let response = upload("solo", us, Some(&header(&signed(us, &[&keys.alice]))));
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(active(&server, "solo"), version(us));
    let response = upload(
        "pair",
        us,
        Some(&header(&signed(us, &[&keys.bob, &keys.alice]))),
    );
    assert_eq!(response.status, 200, "{}", response.text());
    let pair = status(&server, "pair");
    let last = pair["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["version"], version(us));
    let mut signers: Vec<String> = serde_json::from_value(last["signed_by"].clone()).unwrap();
    signers.sort();
    let mut both = vec![alice.clone(), bob.clone()];
    both.sort();
    assert_eq!(signers, both);

    // A version stored without signatures (through a tenant that needs none) is
    // refused by activation until its signatures come with the request.
    let core = core_module("flat-rate");
    assert_eq!(upload("open", core, None).status, 200);
    let activate = |signatures: Option<&str>| {
        admin(
            &server,
            "POST",
            "/v1/tenants/solo/activate",
            signatures,
            format!(r#"{{"version": "{}"}}"#, version(core)).as_bytes(),
        )
    };
    refused(
        &server,
        "solo",
        activate(None),
        "no_signature",
        "activate unsigned",
    );
    let response = activate(Some(&header(&signed(core, &[&keys.bob]))));
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.json()["active"]["signed_by"],
        serde_json::json!([bob])
    );
    // Rollback goes back through the gate, and the stored signatures pass it.
    let response = admin(&server, "POST", "/v1/tenants/solo/rollback", None, b"");
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(active(&server, "solo"), version(us));

    // Shadow candidates: bytes or a stored version, the same rule; then promotion.
    let slow = module("slow-answer");
    assert_eq!(upload("open", slow, None).status, 200);
    let shadow = |body: &[u8], signatures: Option<&str>| {
        admin(&server, "POST", "/v1/tenants/solo/shadow", signatures, body)
    };
    refused(
        &server,
        "solo",
        shadow(slow, None),
        "no_signature",
        "shadow bytes",
    );
    let by_version = format!(r#"{{"version": "{}"}}"#, version(slow));
    refused(
        &server,
        "solo",
        shadow(
            by_version.as_bytes(),
            Some(&header(&signed(slow, &[&keys.mallory]))),
        ),
        "unknown_key",
        "shadow version",
    );
    assert!(status(&server, "solo")["shadow"].is_null());
    let response = shadow(
        by_version.as_bytes(),
        Some(&header(&signed(slow, &[&keys.alice]))),
    );
    assert_eq!(response.status, 200, "{}", response.text());
    let response = admin(
        &server,
        "POST",
        "/v1/tenants/solo/shadow/promote",
        None,
        b"",
    );
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(active(&server, "solo"), version(slow));

    // Canary candidates: the same rule.
    let chatty_component = module("chatty");
    let canary = |signatures: Option<&str>| {
        admin(
            &server,
            "POST",
            "/v1/tenants/solo/canary?percent=10",
            signatures,
            chatty_component,
        )
    };
    refused(
        &server,
        "solo",
        canary(None),
        "no_signature",
        "canary unsigned",
    );
    let response = canary(Some(&header(&signed(chatty_component, &[&keys.mallory]))));
    refused(
        &server,
        "solo",
        response,
        "unknown_key",
        "canary by an unknown key",
    );
    let response = canary(Some(&header(&signed(chatty_component, &[&keys.bob]))));
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.json()["canary"]["signed_by"],
        serde_json::json!([bob])
    );
    assert_eq!(
        admin(&server, "DELETE", "/v1/tenants/solo/canary", None, b"").status,
        200
    );

    // The watched directory: a module without its .sig is refused; the .sig copied
    // after it activates it.
    let chatty = core_module("chatty");
    std::fs::write(dir.path().join("deploy/solo.wasm"), chatty).unwrap();
    let series =
        r#"rulegate_unsigned_candidates_total{tenant="solo",via="watch",reason="no_signature"}"#;
    eventually("the watched unsigned module's refusal", || {
        metric(&server, series) == Some(1.0)
    });
    assert_eq!(active(&server, "solo"), version(slow));
    std::fs::write(
        dir.path().join("deploy/solo.wasm.sig"),
        signed(chatty, &[&keys.alice]).to_bytes(),
    )
    .unwrap();
    eventually("the watched module's activation once signed", || {
        active(&server, "solo") == version(chatty)
    });
    let solo = status(&server, "solo");
    assert_eq!(solo["active"]["via"], "watch");
    assert_eq!(solo["active"]["signed_by"], serde_json::json!([alice]));

    // A restart restores the active version through the stored signatures.
    drop(server);
    std::fs::remove_file(dir.path().join("deploy/solo.wasm")).unwrap();
    let server = config.start();
    assert_eq!(active(&server, "solo"), version(chatty));
    assert_eq!(active(&server, "pair"), version(us));
}

#[test]
fn a_server_refuses_to_start_on_a_module_or_signers_table_that_does_not_hold() {
    let keys = Keys::new();
    let flat = module("flat-rate");
    let alice = format!("{:?}", keys.alice.public_key().to_string());
    for (case, signatures, table, expected) in [
        (
            "unsigned",
            None,
            format!("signers = [{alice}]"),
            "no signature",
        ),
        (
            "signed by another key",
            Some(signed(flat, &[&keys.mallory])),
            format!("signers = [{alice}]"),
            "unknown key",
        ),
        (
            "not a key",
            Some(signed(flat, &[&keys.alice])),
            r#"signers = ["ed25519:AAAA"]"#.to_string(),
            "signers[0]",
        ),
        (
            "a minimum the signers cannot meet",
            Some(signed(flat, &[&keys.alice])),
            format!("signers = [{alice}]\nminimum_signatures = 2"),
            "minimum_signatures is 2",
        ),
        (
            "a minimum without signers",
            Some(signed(flat, &[&keys.alice])),
            "minimum_signatures = 1".to_string(),
            "needs `tenants.shop.signers`",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = write_signed(dir.path(), "shop.wasm", flat, signatures.as_ref());
        let config = ConfigFile::new(dir.path()).state_dir().toml(&format!(
            "[tenants.shop]\nmodule = {path}\n{table}\n[tenants.shop.messenger]\nunauthenticated = true\n"
        ));
        let error = Server::fails_to_start(&config.write(), &[]);
        assert!(error.contains(expected), "{case}: {error}");
        assert!(error.contains("tenant shop"), "{case}: {error}");
    }
    // Natively linked rules cannot be signed, so a tenant with signers refuses them.
    let dir = tempfile::tempdir().unwrap();
    let config = ConfigFile::new(dir.path()).toml(&format!(
        "[tenants.shop]\nmodule = \"native:us-shop\"\nsigners = [{alice}]\n[tenants.shop.messenger]\nunauthenticated = true\n"
    ));
    let error = Server::fails_to_start(&config.write(), &[]);
    assert!(
        error.contains("natively linked rules carry no signature"),
        "{error}"
    );
}
