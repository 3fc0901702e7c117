//! A fleet end-to-end: three real hosts on loopback sharing one real PostgreSQL (a new
//! cluster per test, from the machine's packages). Versions uploaded, rolled back or
//! shadowed on one host reach the others; an outage of the database fails no callback;
//! concurrent activations converge; the schema migrates once; bad store settings are
//! clear errors at start.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rulegate::decide::split::in_share;
use rulegate::engine::ModuleHash;
use rulegate::signature::{Signatures, SigningKey};
use rulegate_tests::config::ConfigFile;
use rulegate_tests::http::{self, Response};
use rulegate_tests::merchant::{Behaviour, Merchant};
use rulegate_tests::postgres::Postgres;
use rulegate_tests::server::Server;
use rulegate_tests::{core_module, example_wasm, fixture, module};
use serde_json::{Value, json};

const TOKEN: &str = "fleet-Token-41ab";
const POLL_MS: u64 = 200;

/// The US shop's answer to the Messenger checkout_update fixture.
const US_ANSWER: &str = r#"{"shipping":[{"option_id":"standard","option_title":"Standard","price_list":[{"label":"Shipping","amount":"5.99"},{"label":"Tax","amount":"0.00"}]},{"option_id":"express","option_title":"Express","price_list":[{"label":"Shipping","amount":"14.99"},{"label":"Tax","amount":"0.00"}]}]}"#;
/// The flat-rate test module's answer to it.
const FLAT_ANSWER: &str = r#"{"shipping":[{"option_id":"flat","option_title":"Flat rate","price_list":[{"label":"Shipping","amount":"4.00"},{"label":"Tax","amount":"0.00"}]}]}"#;

/// One host of the fleet: its directory (configuration, state, log) and its process.
struct Host {
    server: Server,
    dir: tempfile::TempDir,
}

/// How hosts are configured.
#[derive(Clone)]
struct Options {
    notifications: bool,
    extra_store: String,
    events_url: Option<String>,
    /// Extra keys of the tenant's table (e.g. its smoke carts).
    extra_tenant: String,
    /// A watched directory for `<tenant>.wasm` deploys.
    watch: Option<PathBuf>,
    /// The tenant's `module`, as TOML.
    module: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            notifications: true,
            extra_store: String::new(),
            events_url: None,
            extra_tenant: String::new(),
            watch: None,
            module: "\"example:us-shop\"".into(),
        }
    }
}

fn host_config(dir: &Path, id: &str, options: &Options) -> PathBuf {
    let config = ConfigFile::new(dir).state_dir().admin(TOKEN);
    let events = match &options.events_url {
        Some(url) => format!(
            "[tenants.shop.events]\nurl = \"{url}\"\nsecret = {}\nfirst_retry_ms = 50\nmax_retry_ms = 200\n",
            config.secret("events-secret", "whsec-fleet")
        ),
        None => String::new(),
    };
    let watch = match &options.watch {
        Some(dir) => format!(
            "[watch]\ndir = {:?}\ninterval_ms = 50\n",
            dir.display().to_string()
        ),
        None => String::new(),
    };
    let config = config.toml(&format!(
        r#"
{watch}
[store]
kind = "postgres"
url = {{ env = "RULEGATE_DATABASE_URL" }}
poll_interval_ms = {POLL_MS}
notifications = {notifications}
host_id = "{id}"
{extra}

[tenants.shop]
module = {module}
{tenant}
[tenants.shop.messenger]
unauthenticated = true
[tenants.shop.kco]
unauthenticated = true
{events}
"#,
        notifications = options.notifications,
        extra = options.extra_store,
        tenant = options.extra_tenant,
        module = options.module,
    ));
    config.write()
}

impl Host {
    fn start(database: &str, id: &str, options: &Options) -> Host {
        let dir = tempfile::tempdir().unwrap();
        let config = host_config(dir.path(), id, options);
        let log = dir.path().join("host.log");
        let server = Server::start_with(
            Some(&config),
            &[
                ("RULEGATE_DATABASE_URL", database),
                ("RULEGATE_LOG", "info"),
            ],
            Some(&log),
        );
        Host { server, dir }
    }

    fn admin(&self, method: &str, target: &str, body: &[u8]) -> Response {
        self.server.admin(TOKEN, method, target, body)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("host.log")).unwrap_or_default()
    }

    fn checkout_update(&self) -> Response {
        checkout_update(self.server.address)
    }

    fn active(&self) -> String {
        let status = self.admin("GET", "/v1/tenants/shop", b"");
        assert_eq!(status.status, 200, "{}", status.text());
        status.json()["active"]["version"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        // A failing test shows what each host logged.
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            eprintln!(
                "--- host log (last lines, newest first):\n{}",
                tail.join("\n")
            );
        }
    }
}

fn checkout_update(address: SocketAddr) -> Response {
    http::post_json(
        address,
        "/shop/messenger",
        &fixture("messenger/checkout_update_webhook.json"),
    )
}

/// Three hosts started together on `url`.
fn fleet(url: &str, options: &Options) -> Vec<Host> {
    let starts: Vec<_> = ["a", "b", "c"]
        .into_iter()
        .map(|id| {
            let (url, options) = (url.to_string(), options.clone());
            std::thread::spawn(move || Host::start(&url, id, &options))
        })
        .collect();
    starts
        .into_iter()
        .map(|start| start.join().unwrap())
        .collect()
}

/// How long until `done` holds (bounded, so a failure is a failure, not a hang).
fn within(limit: Duration, what: &str, mut done: impl FnMut() -> bool) -> Duration {
    let began = Instant::now();
    while began.elapsed() < limit {
        if done() {
            return began.elapsed();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("{what} did not happen within {limit:?}");
}

fn upload(host: &Host, bytes: &[u8]) -> String {
    let uploaded = host.admin("POST", "/v1/tenants/shop/versions", bytes);
    assert_eq!(uploaded.status, 200, "{}", uploaded.text());
    uploaded.json()["active"]["version"]
        .as_str()
        .unwrap()
        .to_string()
}

fn answers(host: &Host, answer: &str) -> bool {
    let response = host.checkout_update();
    response.status == 200 && response.text() == answer
}

#[test]
fn versions_rollbacks_and_shadows_reach_every_host() {
    let postgres = Postgres::start();
    let url = postgres.url(&postgres.database("fleet"));
    let hosts = fleet(&url, &Options::default());

    // Three hosts started together on an empty database: the schema migrated once.
    assert_eq!(
        postgres.sql("fleet", "SELECT array_agg(version) FROM rulegate_schema"),
        "{1,2,3}"
    );
    let applied: Vec<usize> = hosts
        .iter()
        .map(|host| host.log().matches("schema migration applied").count())
        .filter(|&count| count > 0)
        .collect();
    assert_eq!(applied, [3], "every migration, applied by one host");
    for host in &hosts {
        assert_eq!(host.checkout_update().text(), US_ANSWER);
    }
    let original = hosts[0].active();

    // An upload to A reaches B and C (notifications on: well within a poll interval
    // plus a margin).
    let flat = upload(&hosts[0], module("flat-rate"));
    for host in &hosts[1..] {
        within(
            Duration::from_millis(POLL_MS + 2_000),
            "the upload reaching a host",
            || answers(host, FLAT_ANSWER),
        );
        assert_eq!(host.active(), flat);
    }

    // A rollback on C reaches A and B.
    let rolled = hosts[2].admin("POST", "/v1/tenants/shop/rollback", b"");
    assert_eq!(rolled.status, 200, "{}", rolled.text());
    for host in &hosts[..2] {
        within(
            Duration::from_secs(3),
            "the rollback reaching a host",
            || answers(host, US_ANSWER),
        );
        assert_eq!(host.active(), original);
    }

    // A shadow set on B is evaluated on A and C.
    let shadow = hosts[1].admin("POST", "/v1/tenants/shop/shadow", module("flat-rate"));
    assert_eq!(shadow.status, 200, "{}", shadow.text());
    for host in [&hosts[0], &hosts[2]] {
        within(Duration::from_secs(3), "the shadow reaching a host", || {
            host.admin("GET", "/v1/tenants/shop", b"").json()["shadow"]["version"] == json!(flat)
        });
        assert_eq!(host.checkout_update().text(), US_ANSWER);
        within(Duration::from_secs(3), "a shadow evaluation", || {
            host.admin("GET", "/metrics", b"")
                .text()
                .contains(r#"rulegate_shadow_evaluations_total{tenant="shop",result="different"}"#)
        });
    }

    // The history is the store's: every activation, with the host that made it.
    let history = hosts[0].admin("GET", "/v1/tenants/shop", b"").json()["history"].clone();
    let made: Vec<(String, String)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["via"].as_str().unwrap().into(),
                a["host"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    assert_eq!(
        made[1..],
        [
            ("admin".into(), "a".into()),
            ("rollback".into(), "c".into())
        ]
    );

    // The fleet view: three live hosts, none behind, on every host.
    within(
        Duration::from_secs(3),
        "every host reporting the last generation",
        || {
            let view = hosts[2].admin("GET", "/v1/fleet", b"").json();
            view["hosts"]
                .as_array()
                .is_some_and(|hosts| hosts.len() == 3)
                && view["hosts_behind"] == json!(0)
                && view["hosts"].as_array().unwrap().iter().all(|host| {
                    host["live"] == json!(true)
                        && host["tenants"]["shop"]["version"] == json!(original)
                        && host["tenants"]["shop"]["shadow"] == json!(flat)
                })
        },
    );

    // A host started after all this serves the current version and shadow at once.
    let late = Host::start(&url, "d", &Options::default());
    assert_eq!(late.active(), original);
    assert_eq!(late.checkout_update().text(), US_ANSWER);
    let status = late.admin("GET", "/v1/tenants/shop", b"").json();
    assert_eq!(status["shadow"]["version"], json!(flat));

    // Clearing the shadow on the late host ends it everywhere.
    let cleared = late.admin("DELETE", "/v1/tenants/shop/shadow", b"");
    assert_eq!(cleared.status, 200, "{}", cleared.text());
    for host in &hosts {
        within(
            Duration::from_secs(3),
            "the shadow ending on a host",
            || host.admin("GET", "/v1/tenants/shop", b"").json()["shadow"].is_null(),
        );
    }

    // Each decision log line names its host.
    drop(late);
    let line = std::fs::read_to_string(hosts[0].dir.path().join("state/decisions.jsonl"))
        .unwrap_or_default();
    let first: Value = serde_json::from_str(line.lines().next().expect("a decision line")).unwrap();
    assert_eq!(first["host"], json!("a"));
}

#[test]
fn a_host_that_refuses_a_version_keeps_its_last_good_one_and_says_so() {
    let postgres = Postgres::start();
    let url = postgres.url(&postgres.database("fleet"));
    // Host C gates every version on a smoke cart; A and B do not.
    let smoke = tempfile::tempdir().unwrap();
    std::fs::write(
        smoke.path().join("us.json"),
        serde_json::to_vec(&rulegate_tests::cart("USD", "US", 2)).unwrap(),
    )
    .unwrap();
    let strict = Options {
        extra_tenant: format!("smoke = {:?}", smoke.path().display().to_string()),
        ..Options::default()
    };
    let a = Host::start(&url, "a", &Options::default());
    let c = Host::start(&url, "c", &strict);
    let original = a.active();

    // A module that traps on every call passes A's gate, not C's.
    let panics = upload(&a, module("panics"));
    within(Duration::from_secs(5), "the refusal on C", || {
        c.log().contains("cannot be served here")
    });
    assert_eq!(c.active(), original);
    assert_eq!(c.checkout_update().text(), US_ANSWER);
    within(
        Duration::from_secs(3),
        "the fleet view showing C behind",
        || {
            let view = a.admin("GET", "/v1/fleet", b"").json();
            let hosts = view["hosts"].as_array().cloned().unwrap_or_default();
            view["hosts_behind"] == json!(1)
                && hosts.iter().any(|host| {
                    host["host"] == json!("c")
                        && host["behind"] == json!(true)
                        && host["refused"][0]["refused"]["version"] == json!(panics)
                })
        },
    );
    assert!(
        c.admin("GET", "/metrics", b"")
            .text()
            .contains(r#"rulegate_store_refused_version{tenant="shop"} 1"#)
    );
    within(
        Duration::from_secs(3),
        "A's metrics counting C behind",
        || {
            a.admin("GET", "/metrics", b"")
                .text()
                .contains("rulegate_fleet_hosts_behind 1")
        },
    );

    // The next version C can serve ends the refusal.
    upload(&a, module("flat-rate"));
    within(
        Duration::from_secs(5),
        "C installing the next version",
        || answers(&c, FLAT_ANSWER),
    );
    assert!(
        c.admin("GET", "/metrics", b"")
            .text()
            .contains(r#"rulegate_store_refused_version{tenant="shop"} 0"#)
    );
}

#[test]
fn signatures_live_in_the_store_and_every_host_with_signers_enforces_them() {
    let postgres = Postgres::start();
    let database = postgres.database("fleet");
    let url = postgres.url(&database);
    let alice = SigningKey::generate().unwrap().0;
    let signed = |bytes: &[u8]| {
        let version = ModuleHash::of(bytes).to_string();
        let mut file = Signatures::of(&version);
        file.add(alice.sign(&version));
        file
    };
    // The configuration's module, signed beside its file; A and B require alice's
    // signature, C requires none.
    let files = tempfile::tempdir().unwrap();
    let flat = module("flat-rate");
    let path = files.path().join("shop.wasm");
    std::fs::write(&path, flat).unwrap();
    std::fs::write(files.path().join("shop.wasm.sig"), signed(flat).to_bytes()).unwrap();
    let plain = Options {
        module: format!("{:?}", path.display().to_string()),
        ..Options::default()
    };
    let strict = Options {
        extra_tenant: format!("signers = [{:?}]", alice.public_key().to_string()),
        ..plain.clone()
    };
    let a = Host::start(&url, "a", &strict);
    let b = Host::start(&url, "b", &strict);
    assert!(answers(&b, FLAT_ANSWER));

    // Unsigned: refused on A, nothing reaches the store.
    let us = example_wasm("us-shop");
    let refused = a.admin("POST", "/v1/tenants/shop/versions", us);
    assert_eq!(refused.status, 422, "{}", refused.text());
    assert_eq!(refused.json()["reason"], "no_signature");

    // Signed: A activates it, B follows, and the signature is in the store with it.
    let signature = STANDARD.encode(signed(us).to_bytes());
    let uploaded = http::request(
        a.server.admin.unwrap(),
        "POST",
        "/v1/tenants/shop/versions",
        &[
            ("Authorization", &format!("Bearer {TOKEN}")),
            ("Rulegate-Signatures", &signature),
        ],
        us,
    );
    assert_eq!(uploaded.status, 200, "{}", uploaded.text());
    within(
        Duration::from_secs(5),
        "B serving the signed version",
        || answers(&b, US_ANSWER),
    );
    let status = b.admin("GET", "/v1/tenants/shop", b"").json();
    let history = status["history"].as_array().unwrap();
    assert_eq!(
        history.last().unwrap()["signed_by"],
        json!([alice.public_key().to_string()])
    );
    assert_eq!(
        postgres.sql(
            &database,
            &format!(
                "SELECT count(*) FROM rulegate_signatures WHERE version = '{}'",
                ModuleHash::of(us)
            )
        ),
        "1"
    );

    // A host without signers activates an unsigned version: A and B keep serving the
    // signed one and say why.
    let c = Host::start(&url, "c", &plain);
    let unsigned = upload(&c, core_module("flat-rate"));
    for host in [&a, &b] {
        within(
            Duration::from_secs(5),
            "the refusal of the unsigned version",
            || {
                host.admin("GET", "/metrics", b"")
                    .text()
                    .contains(r#"rulegate_store_refused_version{tenant="shop"} 1"#)
            },
        );
        assert_eq!(host.active(), ModuleHash::of(us).to_string());
        assert!(answers(host, US_ANSWER));
    }
    within(
        Duration::from_secs(3),
        "the fleet view naming B's refusal",
        || {
            let view = a.admin("GET", "/v1/fleet", b"").json();
            view["hosts"].as_array().unwrap().iter().any(|host| {
                host["host"] == json!("b")
                    && host["refused"][0]["refused"]["version"] == json!(unsigned)
                    && host["refused"][0]["refused"]["reason"]
                        .as_str()
                        .is_some_and(|reason| reason.contains("no signature"))
            })
        },
    );
}

/// A KCO address_update of checkout `order` on `host`: whether the flat-rate candidate
/// answered it.
fn on_flat_rate(host: &Host, order: &str) -> bool {
    let response = http::post_json(
        host.server.address,
        &format!("/shop/kco/address_update?kustom_order_id={order}"),
        &fixture("kco/address_update_request.json"),
    );
    assert!(response.status < 500, "{}", response.text());
    response.json()["shipping_options"][0]["id"] == json!("flat")
}

#[test]
fn a_canary_counts_every_hosts_callbacks_and_one_hosts_breach_ends_it_everywhere() {
    let postgres = Postgres::start();
    let url = postgres.url(&postgres.database("fleet"));
    let (a, b) = (
        Host::start(&url, "a", &Options::default()),
        Host::start(&url, "b", &Options::default()),
    );
    let canary_of = |host: &Host| host.admin("GET", "/v1/tenants/shop/canary", b"").json();

    // A good canary started on A runs on B too, on the share every host computes alike.
    let started = a.admin(
        "POST",
        "/v1/tenants/shop/canary?percent=50&min_callbacks=10&promote_after_callbacks=20&promote_after_ms=0",
        module("flat-rate"),
    );
    assert_eq!(started.status, 200, "{}", started.text());
    let flat = ModuleHash::of(module("flat-rate")).to_string();
    within(Duration::from_secs(5), "B running the canary", || {
        canary_of(&b)["canary"]["version"] == json!(flat)
    });
    let counted_on = |host: &Host| {
        rulegate_tests::metric(
            &host.admin("GET", "/metrics", b"").text(),
            r#"rulegate_canary_callbacks_total{tenant="shop",side="canary"}"#,
        )
        .unwrap_or(0.0)
    };
    // B answers 12 canary callbacks, short of the 20 promotion needs; A then sees them.
    let mut i = 0;
    while counted_on(&b) < 12.0 {
        let order = format!("order-{i}");
        // The share every host computes alike.
        assert_eq!(
            on_flat_rate(&b, &order),
            in_share("shop", &order, 50),
            "{order}"
        );
        i += 1;
    }
    let on_b = counted_on(&b);
    within(Duration::from_secs(5), "A seeing B's counts", || {
        canary_of(&a)["canary"]["figures"]["canary"]["callbacks"].as_f64() >= Some(on_b)
    });
    // A alone promotes it once its own and B's add up to 20.
    while a.active() != flat {
        assert!(i < 2_000, "not promoted: {}", canary_of(&a));
        on_flat_rate(&a, &format!("order-{i}"));
        i += 1;
    }
    let status = a.admin("GET", "/v1/tenants/shop", b"").json();
    let ended = status["canaries"][0].clone();
    assert_eq!(ended["outcome"], "promoted", "{ended}");
    assert_eq!(ended["host"], "a", "{ended}");
    let on_a = counted_on(&a);
    assert!(on_a < 20.0 && on_b < 20.0, "A counted {on_a}, B {on_b}");
    assert!(
        ended["figures"]["canary"]["callbacks"].as_f64().unwrap() >= 20.0,
        "{ended}"
    );
    within(
        Duration::from_secs(5),
        "B serving the promoted version",
        || b.active() == flat,
    );

    // A canary that traps, breached on B alone, ends on A too.
    let started = a.admin(
        "POST",
        "/v1/tenants/shop/canary?percent=50&min_callbacks=10",
        module("traps-sometimes"),
    );
    assert_eq!(started.status, 200, "{}", started.text());
    within(
        Duration::from_secs(5),
        "B running the second canary",
        || !canary_of(&b)["canary"].is_null(),
    );
    let mut i = 0;
    while !canary_of(&b)["canary"].is_null() {
        assert!(i < 2_000, "not rolled back: {}", canary_of(&b));
        let response = b.checkout_update();
        assert!(response.status < 500);
        on_flat_rate(&b, &format!("second-{i}"));
        i += 1;
    }
    within(
        Duration::from_secs(5),
        "A ending the canary B rolled back",
        || {
            let view = canary_of(&a);
            view["canary"].is_null()
                && view["ended"].as_array().is_some_and(|ended| {
                    ended.last().is_some_and(|e| e["outcome"] == "rolled_back")
                })
        },
    );
    assert_eq!(a.active(), flat);
}

#[test]
fn a_module_file_dropped_on_one_host_is_served_by_all() {
    let postgres = Postgres::start();
    let url = postgres.url(&postgres.database("fleet"));
    let deploy = tempfile::tempdir().unwrap();
    let watching = Options {
        watch: Some(deploy.path().to_path_buf()),
        ..Options::default()
    };
    let a = Host::start(&url, "a", &Options::default());
    let b = Host::start(&url, "b", &watching);
    std::fs::write(deploy.path().join("shop.wasm"), module("flat-rate")).unwrap();
    for host in [&b, &a] {
        within(
            Duration::from_secs(10),
            "the watched file reaching a host",
            || answers(host, FLAT_ANSWER),
        );
    }
    let history = a.admin("GET", "/v1/tenants/shop", b"").json()["history"].clone();
    let last = history.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["via"].clone(), last["host"].clone()),
        (json!("watch"), json!("b"))
    );
}

#[test]
fn without_notifications_polling_alone_converges_within_two_intervals() {
    let postgres = Postgres::start();
    let url = postgres.url(&postgres.database("fleet"));
    let options = Options {
        notifications: false,
        ..Options::default()
    };
    let hosts = fleet(&url, &options);
    upload(&hosts[0], module("flat-rate"));
    for host in &hosts[1..] {
        // Two intervals, plus what installing (compiling) takes on a loaded machine.
        within(
            Duration::from_millis(2 * POLL_MS + 3_000),
            "polling",
            || answers(host, FLAT_ANSWER),
        );
    }
}

#[test]
fn a_hot_swap_loop_on_one_host_fails_no_callback_on_any() {
    let postgres = Postgres::start();
    let url = postgres.url(&postgres.database("fleet"));
    let hosts = fleet(&url, &Options::default());
    let original = hosts[0].active();
    let flat = upload(&hosts[0], module("flat-rate"));
    // Each version's KCO answer, as every host gives it.
    let kco = |address: SocketAddr| {
        http::post_json(
            address,
            "/shop/kco/address_update?kustom_order_id=o-1",
            &fixture("kco/address_update_request.json"),
        )
    };
    for host in &hosts[1..] {
        within(Duration::from_secs(3), "the upload", || {
            answers(host, FLAT_ANSWER)
        });
    }
    let flat_answer = kco(hosts[1].server.address).text();
    let swapped = hosts[0].admin(
        "POST",
        "/v1/tenants/shop/activate",
        &serde_json::to_vec(&json!({ "version": original })).unwrap(),
    );
    assert_eq!(swapped.status, 200);
    for host in &hosts[1..] {
        within(Duration::from_secs(3), "the swap", || {
            answers(host, US_ANSWER)
        });
    }
    let us_answer = kco(hosts[1].server.address).text();
    assert_ne!(flat_answer, us_answer);

    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = hosts
        .iter()
        .map(|host| {
            let (stop, address) = (stop.clone(), host.server.address);
            let (flat_answer, us_answer) = (flat_answer.clone(), us_answer.clone());
            std::thread::spawn(move || {
                let (mut seen, mut wrong) = ([0usize; 2], Vec::new());
                while !stop.load(Ordering::Relaxed) {
                    let response = kco(address);
                    let text = response.text();
                    if response.status == 200 && text == us_answer {
                        seen[0] += 1;
                    } else if response.status == 200 && text == flat_answer {
                        seen[1] += 1;
                    } else {
                        wrong.push(format!("{} {text}", response.status));
                    }
                }
                (seen, wrong)
            })
        })
        .collect();
    for swap in 0..40 {
        let version = if swap % 2 == 0 { &flat } else { &original };
        let body = serde_json::to_vec(&json!({ "version": version })).unwrap();
        let response = hosts[0].admin("POST", "/v1/tenants/shop/activate", &body);
        assert_eq!(response.status, 200, "swap {swap}: {}", response.text());
        std::thread::sleep(Duration::from_millis(25));
    }
    std::thread::sleep(Duration::from_millis(3 * POLL_MS));
    stop.store(true, Ordering::Relaxed);
    for (host, client) in clients.into_iter().enumerate() {
        let (seen, wrong) = client.join().unwrap();
        assert!(
            wrong.is_empty(),
            "host {host}: answers of neither version: {wrong:?}"
        );
        assert!(seen[0] + seen[1] > 0, "host {host} answered nothing");
    }
    // The last swap (39, odd) activated the original; every host converges on it.
    for host in &hosts {
        within(Duration::from_secs(3), "convergence", || {
            host.active() == original
        });
    }
}

#[test]
fn a_database_outage_fails_no_callback_and_hosts_resync_after_it() {
    let postgres = Postgres::start();
    let url = postgres.url(&postgres.database("fleet"));
    let options = Options {
        extra_store: "max_staleness_ms = 1500".into(),
        ..Options::default()
    };
    let hosts = fleet(&url, &options);
    let original = hosts[0].active();
    let flat = upload(&hosts[0], module("flat-rate"));
    for host in &hosts {
        within(Duration::from_secs(3), "the upload", || {
            answers(host, FLAT_ANSWER)
        });
        assert_eq!(http::get(host.server.address, "/readyz").status, 200);
    }

    postgres.stop();
    let began = Instant::now();
    let mut answered = 0;
    while began.elapsed() < Duration::from_secs(3) {
        for host in &hosts {
            let response = host.checkout_update();
            assert_eq!(response.status, 200, "{}", response.text());
            assert_eq!(response.text(), FLAT_ANSWER);
            answered += 1;
        }
    }
    assert!(answered > 30, "{answered} callbacks during the outage");
    // A push is recorded in the host's own journal while the store cannot take it.
    let push = http::post_json(
        hosts[0].server.address,
        "/shop/kco/push?kustom_order_id=o-out",
        b"",
    );
    assert_eq!(push.status, 200, "{}", push.text());
    let journal = hosts[0].dir.path().join("state/events.jsonl");
    within(
        Duration::from_secs(10),
        "the push in the host's journal",
        || std::fs::read_to_string(&journal).is_ok_and(|text| text.contains("o-out")),
    );
    // An admin write is refused with a clear message; nothing changes.
    let refused = hosts[1].admin("POST", "/v1/tenants/shop/rollback", b"");
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert_eq!(refused.json()["error"], json!("storage_failed"));
    let message = refused.json()["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("unavailable") && message.contains("127.0.0.1"),
        "{message}"
    );
    assert_eq!(hosts[1].active(), flat);
    // The fleet view and the metrics show the outage; past max_staleness, /readyz
    // drains the host.
    let view = hosts[2].admin("GET", "/v1/fleet", b"").json();
    assert_eq!(view["store"]["reachable"], json!(false), "{view}");
    assert!(view["store"]["error"].is_string(), "{view}");
    assert_eq!(view["this_host"]["shop"]["version"], json!(flat));
    assert!(
        hosts[2]
            .admin("GET", "/metrics", b"")
            .text()
            .contains("rulegate_store_reachable 0")
    );
    within(Duration::from_secs(5), "readyz failing", || {
        http::get(hosts[0].server.address, "/readyz").status == 503
    });
    assert!(hosts[0].log().contains("the store is unreachable"));

    // The database returns; a version activated by hand in SQL (another path than
    // these hosts) reaches them, and they are ready again.
    postgres.start_again();
    postgres.sql(
        "fleet",
        &format!(
            "BEGIN;
             UPDATE rulegate_tenants SET active = '{original}', generation = generation + 1
               WHERE tenant = 'shop';
             INSERT INTO rulegate_activations (tenant, generation, version, via, host, at_ms)
               SELECT 'shop', generation, '{original}', 'sql', 'operator', 1
               FROM rulegate_tenants WHERE tenant = 'shop';
             SELECT pg_notify('rulegate_tenants', 'shop');
             COMMIT;"
        ),
    );
    for host in &hosts {
        within(Duration::from_secs(15), "resync after the outage", || {
            answers(host, US_ANSWER)
        });
        within(Duration::from_secs(5), "ready again", || {
            http::get(host.server.address, "/readyz").status == 200
        });
    }
    let view = hosts[0].admin("GET", "/v1/fleet", b"").json();
    assert_eq!(view["store"]["reachable"], json!(true), "{view}");
}

#[test]
fn concurrent_activations_on_two_hosts_converge_on_the_store_order() {
    let postgres = Postgres::start();
    let url = postgres.url(&postgres.database("fleet"));
    let hosts = Arc::new(fleet(&url, &Options::default()));
    let original = hosts[0].active();
    let flat = upload(&hosts[0], module("flat-rate"));
    let back = hosts[0].admin(
        "POST",
        "/v1/tenants/shop/activate",
        &serde_json::to_vec(&json!({ "version": original })).unwrap(),
    );
    assert_eq!(back.status, 200);
    for round in 0..10 {
        let racers: Vec<_> = [(0, flat.clone()), (1, original.clone())]
            .into_iter()
            .map(|(host, version)| {
                let hosts = hosts.clone();
                std::thread::spawn(move || {
                    let body = serde_json::to_vec(&json!({ "version": version })).unwrap();
                    hosts[host]
                        .admin("POST", "/v1/tenants/shop/activate", &body)
                        .status
                })
            })
            .collect();
        for racer in racers {
            assert_eq!(racer.join().unwrap(), 200, "round {round}");
        }
        let last = postgres.sql(
            "fleet",
            "SELECT version FROM rulegate_activations WHERE tenant = 'shop'
             ORDER BY generation DESC LIMIT 1",
        );
        assert_eq!(
            postgres.sql("fleet", "SELECT active FROM rulegate_tenants"),
            last
        );
        for host in hosts.iter() {
            within(
                Duration::from_secs(3),
                "convergence on the last activation",
                || host.active() == last,
            );
        }
    }
    // Every activation landed in the history: 1 configured, 2 setup, 20 racing.
    assert_eq!(
        postgres.sql("fleet", "SELECT count(*) FROM rulegate_activations"),
        "23"
    );
}

#[test]
fn events_live_in_the_store_and_are_delivered_once_whoever_received_them() {
    let postgres = Postgres::start();
    let url = postgres.url(&postgres.database("fleet"));
    let merchant = Merchant::start(Behaviour::FailFirst(2));
    let options = Options {
        events_url: Some(format!("http://{}/events", merchant.address)),
        ..Options::default()
    };
    let hosts = fleet(&url, &options);
    for (i, host) in hosts.iter().enumerate() {
        let push = http::post_json(
            host.server.address,
            &format!("/shop/kco/push?kustom_order_id=order-{i}"),
            b"",
        );
        assert_eq!(push.status, 200, "{}", push.text());
    }
    let delivered = || -> Vec<String> {
        merchant
            .deliveries()
            .into_iter()
            .filter(|delivery| delivery.status == Some(200))
            .map(|delivery| delivery.call.headers["rulegate-event-id"].clone())
            .collect()
    };
    within(Duration::from_secs(20), "three deliveries", || {
        delivered().len() >= 3
    });
    // Long enough for every host's worker to look again.
    std::thread::sleep(Duration::from_millis(5 * POLL_MS));
    let mut ids = delivered();
    assert_eq!(ids.len(), 3, "{:?}", merchant.deliveries());
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len(),
        3,
        "an event was delivered twice: {:?}",
        delivered()
    );
    // Any host lists every event, whichever host received it.
    let listed = hosts[1].admin("GET", "/v1/tenants/shop/events", b"").json();
    let events = listed["events"].as_array().unwrap();
    assert_eq!(events.len(), 3, "{listed}");
    assert!(
        events
            .iter()
            .all(|event| event["state"] == json!("delivered")),
        "{listed}"
    );
    assert_eq!(
        postgres.sql("fleet", "SELECT count(DISTINCT host) FROM rulegate_journal"),
        "3"
    );
}

/// `rulegate serve` on a fleet host's configuration with `RULEGATE_DATABASE_URL = url`
/// (unset when `None`): its standard error (it must fail before listening).
fn serve_fails(url: Option<&str>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let config = host_config(dir.path(), "x", &Options::default());
    Server::fails_to_start(&config, &[("RULEGATE_DATABASE_URL", url)])
}

#[test]
fn bad_store_settings_are_clear_errors_at_start_and_write_nothing() {
    let postgres = Postgres::start();
    let database = postgres.database("fleet");

    let error = serve_fails(Some("postgres://rulegate@127.0.0.1:notaport/fleet"));
    assert!(
        error.contains("`store.url` is not a PostgreSQL URL"),
        "{error}"
    );
    assert!(
        !error.contains("notaport/fleet"),
        "the URL is echoed: {error}"
    );

    let wrong = format!(
        "postgres://rulegate:wrong-password@127.0.0.1:{}/fleet",
        postgres.port
    );
    let error = serve_fails(Some(&wrong));
    assert!(
        error.contains(&format!(
            "cannot connect to PostgreSQL at 127.0.0.1:{}",
            postgres.port
        )),
        "{error}"
    );
    assert!(error.contains("password"), "{error}");
    assert!(
        !error.contains("wrong-password"),
        "the password is echoed: {error}"
    );

    let closed = format!("postgres://rulegate:x@127.0.0.1:{}/fleet", free_port());
    let error = serve_fails(Some(&closed));
    assert!(error.contains("check that the server runs"), "{error}");

    // A database of a newer schema version is refused untouched.
    postgres.sql(&database, "CREATE TABLE rulegate_schema (version integer PRIMARY KEY); INSERT INTO rulegate_schema VALUES (99)");
    let error = serve_fails(Some(&postgres.url(&database)));
    assert!(
        error.contains("schema is version 99, newer than this binary's 3"),
        "{error}"
    );
    assert_eq!(
        postgres.sql(&database, "SELECT to_regclass('rulegate_tenants') IS NULL"),
        "t"
    );

    // Without the variable, the error names it.
    assert!(serve_fails(None).contains("RULEGATE_DATABASE_URL"));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
