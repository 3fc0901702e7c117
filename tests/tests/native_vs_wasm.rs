//! The example rules compiled to WebAssembly and linked natively decide identically: the
//! sandbox changes nothing about the answer.

use proptest::prelude::*;
use rulegate::engine::SharedRuleSet;
use rulegate::examples::EXAMPLES;
use rulegate_tests::{decide_all, engine, load, strategies};

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn native_and_wasm_decide_the_same(cart in strategies::cart()) {
        static PAIRS: std::sync::OnceLock<Vec<(&str, SharedRuleSet, SharedRuleSet)>> = std::sync::OnceLock::new();
        let pairs = PAIRS.get_or_init(|| {
            let engine = engine();
            EXAMPLES.iter().map(|example| (example.name, load(&engine, example.wasm), example.native())).collect()
        });
        for (name, wasm, native) in pairs {
            prop_assert_eq!(decide_all(&**wasm, &cart), decide_all(&**native, &cart), "{}", name);
        }
    }
}
