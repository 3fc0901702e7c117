//! The sandbox: example modules answer; hostile modules are stopped with the right typed
//! error; refused modules never load; the engine keeps serving after every failure.

use std::time::Duration;

use rulegate::engine::{
    ArtifactCache, Contract, Engine, EngineError, EngineSettings, Limits, LoadError, ModuleHash,
    RuleSet,
};
use rulegate::model::{CustomerKind, RejectionCode, RuleError, ShippingMethod, Verdict};
use rulegate_tests::{cart, core_module, engine, example_wasm, fixture, limits, load, module};

#[test]
fn every_example_loads_and_answers() {
    let engine = engine();

    let eu = load(&engine, example_wasm("eu-shop"));
    let mut session = eu.session(&limits());
    let fr = cart("EUR", "FR", 3);
    assert_eq!(
        session.tax(&fr).unwrap().unwrap().line_rates,
        vec![2000, 2000, 2000]
    );
    let options = session.shipping_options(&fr).unwrap().unwrap();
    assert_eq!(options[0].id, "standard");
    assert_eq!(options[0].tax_rate, 2000);
    assert_eq!(session.validate(&fr).unwrap().unwrap(), Verdict::Approve);
    assert_eq!(
        session.usage().instances,
        1,
        "one instance serves all decisions of a callback"
    );
    assert!(session.usage().fuel > 0);
    assert!(session.usage().peak_memory_bytes > 0);

    let us = load(&engine, example_wasm("us-shop"));
    let mut session = us.session(&limits());
    let ca = cart("USD", "US", 2);
    let tax = session.tax(&ca).unwrap().unwrap();
    assert_eq!(tax.line_rates, vec![0, 0]);
    assert_eq!(
        (tax.separate[0].rate, tax.separate[0].lines.clone()),
        (725, vec![0, 1])
    );
    let mut po_box = ca.clone();
    po_box.shipping_address.as_mut().unwrap().street_lines = vec!["PO Box 42".into()];
    assert!(matches!(
        session.shipping_options(&po_box).unwrap(),
        Err(RuleError::AddressUnsupported(_))
    ));

    let catalog = load(&engine, example_wasm("catalog-shop"));
    let mut session = catalog.session(&limits());
    let unknown = cart("SEK", "SE", 1);
    let Ok(Verdict::Reject(rejection)) = session.validate(&unknown).unwrap() else {
        panic!("approved an unknown product")
    };
    assert_eq!(rejection.code, RejectionCode::NotAvailable);
    let options = session.shipping_options(&unknown).unwrap().unwrap();
    assert_eq!(options[0].method, ShippingMethod::PickupPoint);
}

#[test]
fn b2b_reverse_charge_in_the_sandbox() {
    let engine = engine();
    let eu = load(&engine, example_wasm("eu-shop"));
    let mut b2b = cart("EUR", "NL", 2);
    b2b.customer.kind = CustomerKind::Organization;
    b2b.customer.vat_id = Some("NL123456789B01".into());
    assert_eq!(
        eu.session(&limits()).tax(&b2b).unwrap().unwrap().line_rates,
        vec![0, 0]
    );
}

/// A good call on the example, to show the engine still serves after a failure.
/// A test module as each build the host accepts: the wasm32-wasip2 component (called
/// on the async path) and the SDK's wasm32-unknown-unknown core module (called directly).
fn both_builds(name: &str) -> [(&'static str, &'static [u8]); 2] {
    [
        ("component", module(name)),
        ("core module", core_module(name)),
    ]
}

fn still_serves(engine: &Engine) {
    let eu = load(engine, example_wasm("eu-shop"));
    let tax = eu
        .session(&limits())
        .tax(&cart("EUR", "DE", 2))
        .unwrap()
        .unwrap();
    assert_eq!(tax.line_rates, vec![1900, 1900]);
}

#[test]
fn infinite_loop_stops_on_fuel() {
    for (build, bytes) in both_builds("infinite-loop") {
        let engine = engine();
        let looping = load(&engine, bytes);
        let limits = Limits {
            fuel: Some(5_000_000),
            ..limits()
        };
        let error = looping
            .session(&limits)
            .tax(&cart("EUR", "DE", 1))
            .unwrap_err();
        assert_eq!(
            error,
            EngineError::FuelExhausted { budget: 5_000_000 },
            "{build}"
        );
        still_serves(&engine);
    }
}

#[test]
fn infinite_loop_without_fuel_stops_on_the_deadline() {
    for (build, bytes) in both_builds("infinite-loop") {
        let engine = engine();
        let looping = load(&engine, bytes);
        let limits = Limits {
            fuel: None,
            deadline_ms: 200,
            ..limits()
        };
        let mut session = looping.session(&limits);
        let error = session.shipping_options(&cart("EUR", "DE", 1)).unwrap_err();
        assert_eq!(
            error,
            EngineError::Deadline {
                deadline: Duration::from_millis(200)
            },
            "{build}"
        );
        // The callback's deadline has passed: later decisions fail fast, without running.
        assert!(
            matches!(
                session.validate(&cart("EUR", "DE", 1)),
                Err(EngineError::Deadline { .. })
            ),
            "{build}"
        );
        still_serves(&engine);
    }
}

#[test]
fn memory_bomb_stops_at_the_memory_limit() {
    for (build, bytes) in both_builds("memory-bomb") {
        let engine = engine();
        let bomb = load(&engine, bytes);
        let limits = Limits {
            memory_bytes: 16 << 20,
            ..limits()
        };
        let mut session = bomb.session(&limits);
        let error = session.validate(&cart("EUR", "DE", 1)).unwrap_err();
        assert_eq!(
            error,
            EngineError::MemoryLimit { limit: 16 << 20 },
            "{build}"
        );
        assert!(session.usage().peak_memory_bytes <= 16 << 20);
        assert!(
            session.usage().peak_memory_bytes > 8 << 20,
            "it did grow before being stopped"
        );
        still_serves(&engine);
    }
}

#[test]
fn panic_is_a_trap_and_the_next_decision_gets_a_fresh_instance() {
    for (build, bytes) in both_builds("panics") {
        let engine = engine();
        let panics = load(&engine, bytes);
        let mut session = panics.session(&limits());
        let error = session.tax(&cart("EUR", "DE", 1)).unwrap_err();
        let EngineError::Trap { message } = &error else {
            panic!("{build}: expected a trap, got {error:?}")
        };
        assert!(message.contains("unreachable"), "{build}: {message}");
        assert!(matches!(
            session.shipping_options(&cart("EUR", "DE", 1)),
            Err(EngineError::Trap { .. })
        ));
        // A direct call that happens to meet a clock tick is made again on a fresh
        // instance; those are counted apart.
        let usage = session.usage();
        assert_eq!(usage.instances - usage.reruns, 2, "{build}");
        still_serves(&engine);
    }
}

#[test]
fn unbounded_recursion_is_a_stack_overflow_trap() {
    for (build, bytes) in both_builds("deep-recursion") {
        let engine = engine();
        let deep = load(&engine, bytes);
        let error = deep
            .session(&limits())
            .tax(&cart("EUR", "DE", 1))
            .unwrap_err();
        let EngineError::Trap { message } = &error else {
            panic!("{build}: expected a trap, got {error:?}")
        };
        assert!(message.contains("stack overflow"), "{build}: {message}");
        still_serves(&engine);
    }
}

#[test]
fn output_that_breaks_the_contract_is_refused() {
    let engine = engine();
    let bad = load(&engine, module("bad-output"));
    let mut session = bad.session(&limits());
    let cart = cart("EUR", "DE", 2);
    let EngineError::ContractViolation(tax) = session.tax(&cart).unwrap_err() else {
        panic!()
    };
    assert!(tax.contains("3 line rates for a cart of 2 lines"), "{tax}");
    let EngineError::ContractViolation(shipping) = session.shipping_options(&cart).unwrap_err()
    else {
        panic!()
    };
    assert!(shipping.contains("\"same\" appears twice"), "{shipping}");
    let EngineError::ContractViolation(verdict) = session.validate(&cart).unwrap_err() else {
        panic!()
    };
    assert!(verdict.contains("rejection message is empty"), "{verdict}");
    still_serves(&engine);
}

#[test]
fn huge_output_is_a_contract_violation_bounded_by_the_memory_limit() {
    let engine = engine();
    let huge = load(&engine, module("huge-output"));
    let cart = cart("EUR", "DE", 2);
    let mut session = huge.session(&limits());
    let error = session.shipping_options(&cart).unwrap_err();
    let EngineError::ContractViolation(shipping) = &error else {
        panic!("{error:?}")
    };
    assert!(shipping.contains("20000 shipping options"), "{shipping}");
    let EngineError::ContractViolation(tax) = session.tax(&cart).unwrap_err() else {
        panic!()
    };
    assert!(tax.contains("4194304 line rates"), "{tax}");
    let EngineError::ContractViolation(verdict) = session.validate(&cart).unwrap_err() else {
        panic!()
    };
    assert!(verdict.contains("4194304 bytes long"), "{verdict}");
    // What the host reads back lives in the module's memory first: under a tighter
    // limit the same answers cannot even be built.
    let tight = Limits {
        memory_bytes: 8 << 20,
        ..limits()
    };
    let mut session = huge.session(&tight);
    assert_eq!(
        session.tax(&cart).unwrap_err(),
        EngineError::MemoryLimit { limit: 8 << 20 }
    );
    assert!(session.usage().peak_memory_bytes <= 8 << 20);
    still_serves(&engine);
}

#[test]
fn an_allocation_storm_ends_on_fuel() {
    for (build, bytes) in both_builds("allocation-storm") {
        let engine = engine();
        let storm = load(&engine, bytes);
        let limits = Limits {
            fuel: Some(20_000_000),
            ..limits()
        };
        for decision in 0..3 {
            let mut session = storm.session(&limits);
            let cart = cart("EUR", "DE", 1);
            let error = match decision {
                0 => session.tax(&cart).map(drop),
                1 => session.shipping_options(&cart).map(drop),
                _ => session.validate(&cart).map(drop),
            }
            .unwrap_err();
            assert!(
                matches!(
                    error,
                    EngineError::FuelExhausted { .. } | EngineError::MemoryLimit { .. }
                ),
                "{build}: {error:?}"
            );
        }
        still_serves(&engine);
    }
}

#[test]
fn components_importing_clocks_or_sockets_are_refused() {
    let engine = engine();
    for (name, interface) in [
        ("imports-clock", "wasi:clocks/"),
        ("imports-sockets", "wasi:sockets/"),
    ] {
        let error = engine.load(module(name)).unwrap_err();
        let LoadError::ForbiddenImports { imports, .. } = &error else {
            panic!("{name}: {error}")
        };
        assert!(
            imports.iter().any(|import| import.starts_with(interface)),
            "{name}: {imports:?}"
        );
    }
    still_serves(&engine);
}

#[test]
fn a_core_module_without_the_contracts_types_is_refused() {
    let engine = engine();
    let error = engine.load(module("core-module")).unwrap_err();
    assert!(matches!(error, LoadError::CoreModule), "{error}");
    assert!(error.to_string().contains("without the contract's types"));
    assert!(matches!(
        engine.load(b"(module)").unwrap_err(),
        LoadError::NotWasm
    ));
    still_serves(&engine);
}

/// The SDK's build, a core module for wasm32-unknown-unknown, is made a component at
/// load: its version is still the hash of the bytes given, it answers as the same
/// rules built as a wasip2 component do, with one instance per session.
#[test]
fn a_core_module_built_with_the_sdk_is_made_a_component_at_load() {
    let engine = engine();
    let bytes = core_module("flat-rate");
    let core = load(&engine, bytes);
    assert_eq!(core.id(), ModuleHash::of(bytes).to_string());
    let component = load(&engine, module("flat-rate"));
    assert_ne!(core.id(), component.id());
    let cart = cart("EUR", "DE", 3);
    let mut direct = core.session(&limits());
    let mut fibered = component.session(&limits());
    assert_eq!(
        direct.shipping_options(&cart).unwrap(),
        fibered.shipping_options(&cart).unwrap()
    );
    assert_eq!(direct.tax(&cart).unwrap(), fibered.tax(&cart).unwrap());
    assert_eq!(
        direct.validate(&cart).unwrap(),
        fibered.validate(&cart).unwrap()
    );
    assert_eq!(direct.usage().instances - direct.usage().reruns, 1);
    assert!(direct.usage().fuel > 0);
    assert!(
        direct.usage().fuel <= fibered.usage().fuel,
        "no WASI shim to run: {} vs {}",
        direct.usage().fuel,
        fibered.usage().fuel
    );

    let inspection = engine.inspect(bytes);
    assert_eq!(inspection.kind, "core module");
    assert!(inspection.accepted(), "{:?}", inspection.error);
    assert!(
        inspection
            .imports
            .iter()
            .all(|import| import.name.starts_with("rulegate:checkout/")),
        "{:?}",
        inspection.imports
    );
}

/// A call made directly on the calling thread that is still running after a whole tick
/// of the deadline clock is made again on the async path, on a fresh instance, which
/// gives the module's answer; later sessions of that module start there.
#[test]
fn a_direct_call_that_runs_long_is_answered_on_the_async_path() {
    let engine = engine();
    let slow = load(&engine, core_module("slow-answer"));
    let limits = Limits {
        fuel: None,
        deadline_ms: 10_000,
        ..limits()
    };
    // 20 million rounds: tens of milliseconds, many ticks of the 1 ms clock.
    let mut long = cart("EUR", "DE", 1);
    long.lines[0].quantity = 20_000;
    let mut session = slow.session(&limits);
    let options = session.shipping_options(&long).unwrap().unwrap();
    assert_eq!(options[0].id, "flat");
    assert_eq!(
        (session.usage().instances, session.usage().reruns),
        (2, 1),
        "the direct instance was interrupted and a fresh one answered"
    );
    // The session's later decisions stay on the async path, on that instance.
    assert_eq!(session.validate(&long).unwrap().unwrap(), Verdict::Approve);
    assert_eq!(session.usage().instances, 2);
    // A later session starts on the async path: nothing is thrown away.
    let mut later = slow.session(&limits);
    let options = later.shipping_options(&long).unwrap().unwrap();
    assert_eq!(options[0].id, "flat");
    assert_eq!((later.usage().instances, later.usage().reruns), (1, 0));
}

#[test]
fn a_component_of_another_world_is_refused() {
    let engine = engine();
    let error = engine.load(module("wrong-world")).unwrap_err();
    let LoadError::WrongWorld { reason, .. } = &error else {
        panic!("{error}")
    };
    assert!(
        reason.contains("rulegate:checkout/decisions@0.2.0"),
        "{reason}"
    );
    assert!(reason.contains("exports greet"), "{reason}");
    still_serves(&engine);
}

/// Calls skip the export's type check (`TypedFunc::new_unchecked`), which is sound only
/// while the load refuses every component whose exports have other types.
#[test]
fn a_mistyped_export_is_refused_at_load() {
    let engine = engine();
    let error = engine.load(module("mistyped-export")).unwrap_err();
    let LoadError::WrongWorld { reason, .. } = &error else {
        panic!("{error}")
    };
    assert!(reason.contains("another type"), "{reason}");
    assert!(reason.contains("`shipping-options`"), "{reason}");
    assert!(!engine.inspect(module("mistyped-export")).accepted());
    still_serves(&engine);
}

#[test]
fn a_component_importing_the_filesystem_is_refused() {
    let engine = engine();
    let error = engine.load(module("imports-filesystem")).unwrap_err();
    let LoadError::ForbiddenImports { imports, .. } = &error else {
        panic!("{error}")
    };
    assert!(
        imports
            .iter()
            .any(|name| name.starts_with("wasi:filesystem/")),
        "{imports:?}"
    );
    assert!(
        error
            .to_string()
            .contains("may import only wasi:cli and wasi:io")
    );
    still_serves(&engine);
}

#[test]
fn a_truncated_component_does_not_compile() {
    let engine = engine();
    for bytes in [module("flat-rate"), core_module("flat-rate")] {
        let error = engine.load(&bytes[..bytes.len() / 2]).unwrap_err();
        assert!(matches!(error, LoadError::Compile(_)), "{error}");
    }
}

/// Different merchants' instances reuse the same pool slots: nothing one instance wrote
/// may be visible to the next.
#[test]
fn no_memory_leaks_between_instances() {
    for (build, bytes) in both_builds("memory-probe") {
        let engine = engine();
        let probe = load(&engine, bytes);
        for round in 0..2000 {
            let mut cart = cart("EUR", "DE", 1);
            cart.order_id = Some(format!("secret-of-order-{round}"));
            let verdict = probe.session(&limits()).validate(&cart).unwrap().unwrap();
            assert_eq!(verdict, Verdict::Approve, "{build}, round {round}");
        }
    }
}

/// With a pool of one slot, every probe instance takes the slot another tenant's
/// instance has just used on a large cart (addresses, order ids, memory grown beyond the
/// initial size), whichever way this host resets slots: it must find none of it.
#[test]
fn a_slot_passed_between_tenants_shows_nothing_of_the_last() {
    let settings = EngineSettings {
        max_instances: 1,
        ..EngineSettings::default()
    };
    let engine = Engine::new(settings, None).unwrap();
    let probes = [
        load(&engine, module("memory-probe")),
        load(&engine, core_module("memory-probe")),
    ];
    let others = [
        load(&engine, example_wasm("eu-shop")),
        load(&engine, example_wasm("us-shop")),
        load(&engine, module("flat-rate")),
    ];
    for round in 0..300 {
        let probe = &probes[round % probes.len()];
        let other = &others[round % others.len()];
        let mut big = cart("EUR", "DE", 200);
        big.order_id = Some(format!("another-tenants-order-{round}"));
        let mut session = other.session(&limits());
        let _ = session.shipping_options(&big);
        let _ = session.validate(&big);
        drop(session);
        let mut mine = cart("EUR", "DE", 1);
        mine.order_id = Some(format!("probe-{round}"));
        let verdict = probe.session(&limits()).validate(&mine).unwrap().unwrap();
        assert_eq!(
            verdict,
            Verdict::Approve,
            "round {round}, {} after {}, resetting by {:?}",
            probe.id(),
            other.id(),
            engine.slot_reset()
        );
    }
}

#[test]
fn compiled_artifacts_are_cached_by_content_hash() {
    let directory = tempfile::tempdir().unwrap();
    let cache = || Some(ArtifactCache::open(directory.path()).unwrap());
    let first = Engine::new(EngineSettings::default(), cache()).unwrap();
    let compiled = first.load(example_wasm("us-shop")).unwrap();
    assert!(!compiled.from_cache());
    drop(first);

    // A restart: a new engine loads the artifact instead of compiling.
    let second = Engine::new(EngineSettings::default(), cache()).unwrap();
    let cached = second.load(example_wasm("us-shop")).unwrap();
    assert!(cached.from_cache());
    assert_eq!(cached.hash(), compiled.hash());
    let cart = cart("USD", "US", 3);
    assert_eq!(
        cached.session(&limits()).tax(&cart).unwrap(),
        compiled.session(&limits()).tax(&cart).unwrap()
    );

    // A damaged artifact is discarded and the module recompiled. (Artifacts are mapped:
    // nothing may rewrite one in place while a module loaded from it is alive, so the
    // damage is done after the second engine is gone.)
    let expected = compiled.session(&limits()).tax(&cart).unwrap();
    drop((cached, second));
    for entry in std::fs::read_dir(directory.path()).unwrap() {
        std::fs::write(entry.unwrap().path(), b"garbage").unwrap();
    }
    let third = Engine::new(EngineSettings::default(), cache()).unwrap();
    let recompiled = third.load(example_wasm("us-shop")).unwrap();
    assert!(!recompiled.from_cache());
    assert_eq!(recompiled.session(&limits()).tax(&cart).unwrap(), expected);
}

/// The design target: every example decision on a 200-line cart costs under 100 k fuel.
/// Lines carry a reference, a name, a price, a quantity and a weight; each attribute
/// on a line adds about 270 fuel to every decision (two strings and a list to lower).
#[test]
fn example_rules_stay_under_100k_fuel_on_200_lines() {
    let engine = engine();
    for (example, currency, country) in [
        ("eu-shop", "EUR", "DE"),
        ("us-shop", "USD", "US"),
        ("catalog-shop", "SEK", "SE"),
    ] {
        let rules = load(&engine, example_wasm(example));
        let cart = cart(currency, country, 200);
        for decision in ["tax", "shipping", "validate"] {
            let mut session = rules.session(&limits());
            match decision {
                "tax" => drop(session.tax(&cart).unwrap()),
                "shipping" => drop(session.shipping_options(&cart).unwrap()),
                _ => drop(session.validate(&cart).unwrap()),
            }
            let fuel = session.usage().fuel;
            assert!(fuel < 100_000, "{example} {decision}: {fuel} fuel");
        }
    }
}

#[test]
fn module_logs_are_captured_bounded_and_kept_across_traps() {
    let engine = engine();
    for (build, bytes) in both_builds("chatty") {
        let chatty = load(&engine, bytes);
        let mut session = chatty.session(&limits());
        let tax = session.tax(&cart("EUR", "DE", 2)).unwrap().unwrap();
        assert_eq!(tax.line_rates, vec![0, 0]);
        let usage = session.usage();
        assert_eq!(usage.logs.len(), 64, "{build}");
        assert_eq!(usage.logs_dropped, 36, "{build}");
        assert_eq!(usage.logs[0].message, "line 0 of 100");
        assert!(
            usage.logs[1].message.len() <= 1024 + '…'.len_utf8(),
            "{build}: long messages are truncated"
        );
    }

    // What a module logged before it trapped is kept.
    for (build, bytes) in both_builds("panics") {
        let panics = load(&engine, bytes);
        let mut session = panics.session(&limits());
        assert!(session.shipping_options(&cart("EUR", "DE", 1)).is_err());
        assert_eq!(session.usage().logs.len(), 1, "{build}");
        assert_eq!(
            session.usage().logs[0].message,
            "deciding shipping for 1 lines"
        );
    }
}

/// Shipping and tax in one call of `quote` (contract 0.2.0), each half its own answer:
/// a declined half does not cost the other its answer, and the session makes one call
/// where a module of contract 0.1.0 (the US shop as the 0.1.0 SDK built it, kept in
/// `tests/fixtures/modules/`) needs two, with the same answers.
#[test]
fn a_quote_is_one_call_and_a_module_of_contract_0_1_answers_alike() {
    let engine = engine();
    let older = engine
        .load(&fixture("modules/us-shop-contract-0.1.0.wasm"))
        .expect("a module of contract 0.1.0 is served");
    let current = engine.load(example_wasm("us-shop")).unwrap();
    assert_eq!(older.contract(), Contract::V0_1);
    assert_eq!(current.contract(), Contract::V0_2);

    let mut po_box = cart("USD", "US", 2);
    po_box.shipping_address.as_mut().unwrap().street_lines = vec!["PO Box 42".into()];
    for cart in [cart("USD", "US", 1), cart("USD", "US", 5), po_box.clone()] {
        let mut before = older.session(&limits());
        let mut now = current.session(&limits());
        let (quoted_before, quoted) = (before.quote(&cart), now.quote(&cart));
        assert_eq!(quoted, quoted_before);
        assert_eq!((now.usage().calls, before.usage().calls), (1, 2));
        assert_eq!(now.usage().instances, 1);
        // Each half is what its own export answers.
        assert_eq!(quoted.tax, now.tax(&cart));
        assert_eq!(quoted.shipping, now.shipping_options(&cart));
        assert_eq!(now.validate(&cart), before.validate(&cart));
    }
    let quoted = current.session(&limits()).quote(&cart("USD", "US", 5));
    assert_eq!(quoted.tax.unwrap().unwrap().separate[0].rate, 725);
    assert!(!quoted.shipping.unwrap().unwrap().is_empty());
    let quoted = current.session(&limits()).quote(&po_box);
    assert!(matches!(
        quoted.shipping,
        Ok(Err(RuleError::AddressUnsupported(_)))
    ));
}

/// A quote that fails as a whole (here: `tax` traps) is made again as the two
/// decisions on a fresh instance, so shipping still answers.
#[test]
fn a_quote_that_traps_is_made_again_as_two_decisions() {
    let engine = engine();
    let rules = load(&engine, core_module("tax-traps"));
    let mut session = rules.session(&limits());
    let quoted = session.quote(&cart("EUR", "DE", 2));
    assert!(
        matches!(quoted.tax, Err(EngineError::Trap { .. })),
        "{quoted:?}"
    );
    assert_eq!(quoted.shipping.unwrap().unwrap()[0].id, "flat");
    // The quote, then tax and shipping on their own; each failure a fresh instance.
    assert_eq!(session.usage().calls, 3);
    assert_eq!(session.usage().instances, 3);
    still_serves(&engine);
}
