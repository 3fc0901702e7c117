//! Hostile input, fuzzed: every platform parser and signature verifier gets arbitrary
//! bytes and mutated real payloads. None may panic, and none may answer 5xx: a client's
//! garbage is a 4xx. Bounded (256 cases per property; `RULEGATE_FUZZ_CASES=N` for a
//! longer run), so it runs in CI.

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use rulegate::config::Config;
use rulegate::decide::{Decider, Policy};
use rulegate::engine::{Executor, Limits};
use rulegate::protocols::klix::jws::ProviderKey;
use rulegate::protocols::klix::order::Market;
use rulegate::protocols::messenger::{self, CartSettings, PayloadFormat, Signatures};
use rulegate::protocols::{kco, klix, parse_json};
use rulegate_tests::fixture;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

/// The US shop linked natively: the parsers are under test, not the sandbox.
fn decider() -> Decider {
    Decider {
        rules: rulegate::examples::find("us-shop").unwrap().native(),
        limits: Limits::default(),
        policy: Arc::new(Policy::default()),
        executor: Executor::new(2),
        answer_within: Duration::from_secs(2),
        tenant_lane: None,
        split: None,
    }
}

/// Arbitrary bytes, or a real payload with a few bytes replaced, cut or inserted.
fn mutated(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let arbitrary = proptest::collection::vec(any::<u8>(), 0..2048);
    let edits = proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..8);
    let mutation = (proptest::sample::select(seeds), edits).prop_map(|(mut bytes, edits)| {
        for (at, byte, kind) in edits {
            if bytes.is_empty() {
                bytes.push(byte);
                continue;
            }
            let at = at % bytes.len();
            match kind {
                0 => bytes[at] = byte,
                1 => bytes.truncate(at),
                _ => bytes.insert(at, byte),
            }
        }
        bytes
    });
    prop_oneof![arbitrary, mutation]
}

fn kco_seeds() -> Vec<Vec<u8>> {
    [
        "kco/address_update_request.json",
        "kco/validation_request.json",
        "kco/shipping_option_update_request.json",
        "kco/de_address_update_request.json",
    ]
    .iter()
    .map(|name| fixture(name))
    .collect()
}

fn messenger_seeds() -> Vec<Vec<u8>> {
    let mut seeds = vec![fixture("messenger/checkout_update_webhook.json")];
    for event in [
        "messenger/pre_checkout_messaging_event.json",
        "messenger/payment_webhook_messaging_event.json",
    ] {
        let event: serde_json::Value = serde_json::from_slice(&fixture(event)).unwrap();
        seeds.push(
            serde_json::to_vec(
                &serde_json::json!({"object": "page", "entry": [{"messaging": [event]}]}),
            )
            .unwrap(),
        );
    }
    seeds
}

/// Cases per property.
fn cases() -> u32 {
    std::env::var("RULEGATE_FUZZ_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn kco_never_panics_or_answers_5xx(body in mutated(kco_seeds()), which in 0usize..5) {
        let callback = kco::Callback::ALL[which];
        let request = kco::Request {
            callback,
            order_id: Some("o-1".into()),
            content_type: Some("application/json"),
            body: &body,
            received_at_ms: 0,
        };
        let answer = runtime().block_on(kco::answer(&request, &kco::Endpoint::default(), &decider()));
        prop_assert!(answer.reply.status < 500, "{callback}: {}", answer.reply.status);
    }

    #[test]
    fn messenger_never_panics_or_answers_5xx(body in mutated(messenger_seeds()), lines in any::<bool>()) {
        let carts = CartSettings {
            payload: if lines { PayloadFormat::CartLines } else { PayloadFormat::Opaque },
            ..CartSettings::default()
        };
        let decider = decider();
        let handled = runtime().block_on(messenger::answer_delivery(&body, &carts, |_| decider.clone(), 0));
        prop_assert!(handled.reply.status < 500, "{}", handled.reply.status);
    }

    #[test]
    fn messenger_signatures_refuse_forgeries(
        body in mutated(messenger_seeds()),
        sha256 in proptest::option::of("(sha256=)?[0-9a-fA-Fz]{0,70}"),
        sha1 in proptest::option::of("(sha1=)?[0-9a-f]{0,45}"),
    ) {
        let signatures = Signatures { sha256: sha256.as_deref(), sha1: sha1.as_deref() };
        prop_assert!(messenger::signature::verify(&body, signatures, b"app-secret").is_err());
    }

    #[test]
    fn klix_signatures_refuse_forgeries(
        token in mutated(vec![fixture("klix/order_verification_request.jws")]),
        body in mutated(vec![fixture("klix/purchase_notification_v2_body.json")]),
        header in "[A-Za-z0-9+/=._-]{0,400}",
    ) {
        let pem = String::from_utf8(fixture("klix/provider_public_key.pem")).unwrap();
        let key = ProviderKey::from_pem(&pem).unwrap();
        let genuine = fixture("klix/order_verification_request.jws");
        if token != genuine {
            prop_assert!(key.verify_jws(&token).is_err());
        }
        prop_assert!(key.verify_detached(&body, &header).is_err());
    }

    #[test]
    fn klix_shipping_cost_never_panics_or_answers_5xx(
        body in mutated(vec![fixture("klix/shipping_cost_request_payload.json")]),
    ) {
        if let Ok(payload) = serde_json::from_slice::<serde_json::Value>(&body) {
            let market = Market { currency: "EUR".into(), country: "LV".into() };
            let answer = runtime()
                .block_on(klix::quote_shipping(&payload, &market, &decider(), 0))
                .unwrap_or_else(|error| rulegate::protocols::Answer::refused("shipping_cost", error));
            prop_assert!(answer.reply.status < 500, "{}", answer.reply.status);
        }
    }

    #[test]
    fn configuration_errors_never_panic(text in "[ -~\n]{0,600}") {
        let _ = Config::parse(&text, "fuzz");
    }
}

#[test]
fn deeply_nested_json_is_a_400_not_a_stack_overflow() {
    let mut body = "[".repeat(200_000);
    body.push_str(&"]".repeat(200_000));
    let error = parse_json::<serde_json::Value>(body.as_bytes(), "the body").unwrap_err();
    assert_eq!(error.status, 400);
    let nested_lines = format!("{{\"order_lines\": {body}}}");
    let request = kco::Request {
        callback: kco::Callback::AddressUpdate,
        order_id: None,
        content_type: Some("application/json"),
        body: nested_lines.as_bytes(),
        received_at_ms: 0,
    };
    let answer = runtime().block_on(kco::answer(&request, &kco::Endpoint::default(), &decider()));
    assert_eq!(answer.reply.status, 400);
    let handled = runtime().block_on(messenger::answer_delivery(
        format!("{{\"object\":\"page\",\"entry\":{body}}}").as_bytes(),
        &CartSettings::default(),
        |_| decider(),
        0,
    ));
    assert_eq!(handled.reply.status, 400);
}
