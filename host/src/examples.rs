//! The example rules, embedded: each as the WebAssembly module built from
//! `example-rules/` by the build script, and as the same crate linked natively.

use std::sync::Arc;

use crate::engine::{NativeRules, SharedRuleSet};

/// One example ruleset.
#[derive(Debug, Clone, Copy)]
pub struct Example {
    /// Its crate name, e.g. `eu-shop`.
    pub name: &'static str,
    /// What it demonstrates.
    pub summary: &'static str,
    /// The module, built with `cargo build --release --target wasm32-unknown-unknown`.
    pub wasm: &'static [u8],
    native: fn() -> SharedRuleSet,
}

impl Example {
    /// The same rules compiled into the host.
    pub fn native(&self) -> SharedRuleSet {
        (self.native)()
    }
}

/// Every example, in a stable order.
pub const EXAMPLES: &[Example] = &[
    Example {
        name: "eu-shop",
        summary: "EU VAT by destination, B2B reverse charge, weight-based shipping, pickup points",
        wasm: include_bytes!(env!("RULEGATE_WASM_EU_SHOP")),
        native: || Arc::new(NativeRules::<eu_shop::EuShop>::new("eu-shop")),
    },
    Example {
        name: "us-shop",
        summary: "US sales tax as a separate line, flat and express shipping, no PO boxes",
        wasm: include_bytes!(env!("RULEGATE_WASM_US_SHOP")),
        native: || Arc::new(NativeRules::<us_shop::UsShop>::new("us-shop")),
    },
    Example {
        name: "catalog-shop",
        summary: "price list and stock checks, blocked destinations, order limits",
        wasm: include_bytes!(env!("RULEGATE_WASM_CATALOG_SHOP")),
        native: || {
            Arc::new(NativeRules::<catalog_shop::CatalogShop>::new(
                "catalog-shop",
            ))
        },
    },
];

/// The example named `name`.
pub fn find(name: &str) -> Option<&'static Example> {
    EXAMPLES.iter().find(|example| example.name == name)
}
