//! Shared helpers of rulegate's end-to-end tests: the test modules (built from
//! `tests/modules/` once per test build), an engine configured like production, and
//! generators of canonical carts.

pub mod cli;
pub mod config;
pub mod fake_klix;
pub mod http;
pub mod merchant;
pub mod postgres;
pub mod routes;
pub mod server;

use rulegate::engine::{Engine, EngineSettings, Limits, RuleSet, SharedRuleSet};
use rulegate::model::{Address, Cart, Line, LineKind, Platform, Price};

/// Every test module, by crate name, as bytes.
const MODULES: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/modules.rs"));

/// The bytes of the test module `name` (see `tests/modules/README.md`).
pub fn module(name: &str) -> &'static [u8] {
    MODULES
        .iter()
        .find(|(module, _)| *module == name)
        .map(|(_, bytes)| *bytes)
        .unwrap_or_else(|| panic!("no test module named {name:?}"))
}

/// The bytes of the test module `name` built as a core module for
/// wasm32-unknown-unknown (the SDK's build; see `tests/build.rs`).
pub fn core_module(name: &str) -> &'static [u8] {
    module(&format!("{name}.core"))
}

/// The bytes of `tests/fixtures/<path>` (platform payloads, copied from public sources).
pub fn fixture(path: &str) -> Vec<u8> {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(path);
    std::fs::read(&full).unwrap_or_else(|error| panic!("reading {}: {error}", full.display()))
}

/// A fixture parsed as JSON.
pub fn fixture_json(path: &str) -> serde_json::Value {
    serde_json::from_slice(&fixture(path)).expect("a JSON fixture")
}

/// Writes the test module `name` into `dir` and returns its path as a TOML string.
pub fn write_module(dir: &std::path::Path, name: &str) -> String {
    let path = dir.join(format!("{name}.wasm"));
    std::fs::write(&path, module(name)).expect("writing a test module");
    format!("{:?}", path.display().to_string())
}

/// Waits (at most 15 s) until `done` holds: for what the server does on its own (the
/// watched directory, delivery, a fleet's sync).
pub fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..600 {
        if done() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    panic!("{what} did not happen");
}

/// The value of the metric line of Prometheus `text` that starts with `series` (its
/// name and labels).
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(series) && line[series.len()..].starts_with(' '))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

/// The component of the example `name`.
pub fn example_wasm(name: &str) -> &'static [u8] {
    rulegate::examples::find(name)
        .unwrap_or_else(|| panic!("no example named {name:?}"))
        .wasm
}

/// An engine with the production settings and no artifact cache.
pub fn engine() -> Engine {
    Engine::new(EngineSettings::default(), None).expect("creating the engine")
}

/// Loads a module that must be accepted.
pub fn load(engine: &Engine, bytes: &[u8]) -> SharedRuleSet {
    engine.load(bytes).expect("module accepted")
}

/// A cart of `lines` priced lines in `currency` shipping to `country`.
pub fn cart(currency: &str, country: &str, lines: usize) -> Cart {
    let mut cart = rulegate::model::empty_cart(Platform::Kco, currency, 1_767_225_600_000);
    cart.order_id = Some("order-1".into());
    cart.locale = Some("en-US".into());
    cart.lines = (0..lines)
        .map(|index| {
            line(
                &format!("SKU-{index}"),
                1 + index as u64 % 3,
                1_000 + 137 * index as i64,
            )
        })
        .collect();
    cart.shipping_address = Some(address(country));
    cart
}

/// A physical line of whole units at a tax-inclusive unit price, with a weight and no
/// attributes: the line of the 200-line fuel benchmark.
pub fn line(reference: &str, units: u64, unit_price: i64) -> Line {
    Line {
        reference: reference.into(),
        name: format!("Product {reference}"),
        kind: LineKind::Physical,
        quantity: units * 1000,
        unit_price: Some(Price {
            amount: unit_price,
            includes_tax: true,
        }),
        discount: 0,
        tax_rate: None,
        unit_weight_grams: Some(250),
        attributes: Vec::new(),
    }
}

/// An address in `country` with a plausible postal code, street and region.
pub fn address(country: &str) -> Address {
    Address {
        country: country.into(),
        region: (country == "US").then(|| "CA".into()),
        postal_code: Some(if country == "US" { "90210" } else { "10115" }.into()),
        city: Some("Springfield".into()),
        street_lines: vec!["1 Main Street".into()],
        organization: None,
    }
}

/// Limits with fuel as the CPU budget and a generous deadline, as in production.
pub fn limits() -> Limits {
    Limits::default()
}

/// Runs all three decisions of `rules` on `cart` and returns them as JSON values, for
/// comparing implementations.
pub fn decide_all(rules: &dyn RuleSet, cart: &Cart) -> serde_json::Value {
    let mut session = rules.session(&limits());
    let json = |value: Result<serde_json::Value, String>| {
        value.unwrap_or_else(|error| serde_json::json!({ "engine_error": error }))
    };
    serde_json::json!({
        "tax": json(session.tax(cart).map(|d| serde_json::to_value(d).unwrap()).map_err(|e| e.to_string())),
        "shipping": json(session.shipping_options(cart).map(|d| serde_json::to_value(d).unwrap()).map_err(|e| e.to_string())),
        "validate": json(session.validate(cart).map(|d| serde_json::to_value(d).unwrap()).map_err(|e| e.to_string())),
    })
}

/// Generators of canonical carts that exercise the example rules' branches.
pub mod strategies {
    use proptest::collection::vec;
    use proptest::option;
    use proptest::prelude::*;
    use rulegate::model::{
        Address, Attribute, Cart, Customer, CustomerKind, Line, LineKind, PickupPoint, Platform,
        Price,
    };

    fn one_of_str(values: &'static [&'static str]) -> impl Strategy<Value = String> {
        proptest::sample::select(values).prop_map(str::to_string)
    }

    fn line_kind() -> impl Strategy<Value = LineKind> {
        prop_oneof![
            6 => Just(LineKind::Physical),
            1 => Just(LineKind::Digital),
            1 => Just(LineKind::Discount),
            1 => Just(LineKind::ShippingFee),
            1 => Just(LineKind::GiftCard),
            1 => Just(LineKind::StoreCredit),
            1 => Just(LineKind::Surcharge),
            1 => Just(LineKind::Other),
        ]
    }

    /// A line: catalog SKUs and unknown ones, whole and fractional quantities, prices
    /// with and without tax (or none), discounts, weights and categories.
    pub fn line() -> impl Strategy<Value = Line> {
        (
            one_of_str(&[
                "KAFFE-500",
                "KOPP-VIT",
                "KVARN-EL",
                "KOPP-RÖD",
                "BOOK-1",
                "TENT-2",
                "SKU-X",
                "",
            ]),
            line_kind(),
            prop_oneof![(1u64..20).prop_map(|units| units * 1000), 1u64..20_000],
            option::weighted(0.9, (-50_000i64..500_000, any::<bool>())),
            0i64..2_000,
            option::of(proptest::sample::select(
                &[0u32, 600, 1200, 1900, 2500, 10_000][..],
            )),
            option::of(0u64..30_000),
            vec(
                (
                    one_of_str(&["category", "brand", "tag"]),
                    one_of_str(&[
                        "Books > Fiction",
                        "Food",
                        "Outdoor > Tents",
                        "fragile",
                        "Groceries > Tea",
                    ]),
                ),
                0..3,
            ),
        )
            .prop_map(
                |(reference, kind, quantity, price, discount, tax_rate, weight, attributes)| Line {
                    name: if reference.is_empty() {
                        String::new()
                    } else {
                        format!("Product {reference}")
                    },
                    reference,
                    kind,
                    quantity,
                    unit_price: price.map(|(amount, includes_tax)| Price {
                        amount,
                        includes_tax,
                    }),
                    discount,
                    tax_rate,
                    unit_weight_grams: weight,
                    attributes: attributes
                        .into_iter()
                        .map(|(key, value)| Attribute { key, value })
                        .collect(),
                },
            )
    }

    /// An address in one of the countries the examples treat differently.
    pub fn address() -> impl Strategy<Value = Address> {
        (
            one_of_str(&[
                "DE", "FR", "GR", "NL", "IT", "SE", "FI", "NO", "CH", "GB", "US", "JP", "XX",
            ]),
            option::of(one_of_str(&["CA", "TX", "NY", "OR", "AK", "HI", "ZZ"])),
            option::of(one_of_str(&[
                "10115",
                "1011",
                "90210",
                "90210-1234",
                "621 41",
                "114 55",
                "ABC",
            ])),
            option::of(one_of_str(&["Stockholm", "Berlin", "Springfield"])),
            vec(
                one_of_str(&[
                    "1 Main Street",
                    "PO Box 12",
                    "P.O. Box 7",
                    "Apt 5",
                    "Box 9",
                    "Invalidenstr. 1",
                ]),
                0..3,
            ),
        )
            .prop_map(
                |(country, region, postal_code, city, street_lines)| Address {
                    country,
                    region,
                    postal_code,
                    city,
                    street_lines,
                    organization: None,
                },
            )
    }

    /// A whole cart.
    pub fn cart() -> impl Strategy<Value = Cart> {
        (
            proptest::sample::select(&[Platform::Kco, Platform::Klix, Platform::Messenger][..]),
            one_of_str(&["EUR", "USD", "SEK", "JPY"]),
            option::of(one_of_str(&["en-US", "de-DE", "sv-SE", "fr-FR"])),
            vec(line(), 0..12),
            option::of(address()),
            option::weighted(0.8, address()),
            option::of(Just(PickupPoint {
                id: "9111".into(),
                name: "Locker".into(),
                address: None,
            })),
            any::<bool>(),
            option::of(one_of_str(&[
                "FR12345678901",
                "DE123456789",
                "EL123456789",
                "NL123456789B01",
                "X",
            ])),
        )
            .prop_map(
                |(
                    platform,
                    currency,
                    locale,
                    lines,
                    billing_address,
                    shipping_address,
                    pickup_point,
                    organization,
                    vat_id,
                )| Cart {
                    platform,
                    order_id: Some("order".into()),
                    currency,
                    locale,
                    lines,
                    billing_address,
                    shipping_address,
                    pickup_point,
                    selected_shipping_option: None,
                    customer: Customer {
                        kind: if organization {
                            CustomerKind::Organization
                        } else {
                            CustomerKind::Person
                        },
                        vat_id,
                        organization_id: None,
                    },
                    merchant_data: None,
                    received_at_ms: 1_767_225_600_000,
                },
            )
    }
}
