//! KCO's money rules (docs/PROTOCOLS.md §1.4) hold for every cart the host returns, whatever
//! the cart and whatever the module decided: generated carts (quantities, discounts,
//! discount lines, earlier fee and tax lines, rates 0..10000) and generated decisions.

use proptest::collection::vec;
use proptest::prelude::*;
use rulegate::model::{Price, SeparateTax, ShippingMethod, ShippingOption, TaxDecision};
use rulegate::protocols::kco::{self, FeeLine, Lines, wire::CheckoutOrder};
use serde_json::{Value, json};

const KINDS: &[&str] = &[
    "physical",
    "physical",
    "physical",
    "digital",
    "discount",
    "shipping_fee",
    "sales_tax",
    "gift_card",
    "surcharge",
    "store_credit",
];

fn order_line() -> impl Strategy<Value = Value> {
    (
        proptest::sample::select(KINDS),
        0i64..50,
        0i64..2_000_000,
        0u32..=100,
        0i64..=10_000,
        "[A-Z]{2,6}-[0-9]{1,3}",
    )
        .prop_map(
            |(kind, quantity, price, discount_percent, rate, reference)| {
                let negative = matches!(kind, "discount" | "store_credit");
                let (quantity, unit_price) = if negative {
                    (1, -(price / 10))
                } else {
                    (quantity, price)
                };
                let discount = if negative {
                    0
                } else {
                    quantity * unit_price * i64::from(discount_percent) / 400
                };
                json!({
                    "type": kind,
                    "reference": reference,
                    "name": format!("{kind} {reference}"),
                    "quantity": quantity,
                    "unit_price": unit_price,
                    "tax_rate": rate,
                    "total_amount": 12345,
                    "total_discount_amount": discount,
                    "total_tax_amount": 678,
                    "merchant_data": format!("md-{reference}"),
                    "product_identifiers": { "brand": "B" },
                })
            },
        )
}

fn order() -> impl Strategy<Value = Value> {
    (vec(order_line(), 0..25), proptest::option::of("[a-z]{1,6}")).prop_map(|(lines, selected)| {
        let mut order = json!({
            "order_amount": 1,
            "order_tax_amount": 2,
            "purchase_currency": "EUR",
            "order_lines": lines,
            "merchant_data": "opaque",
        });
        if let Some(id) = selected {
            order["selected_shipping_option"] = json!({ "id": id });
        }
        order
    })
}

fn option() -> impl Strategy<Value = ShippingOption> {
    ("[a-z]{1,6}", 0i64..500_000, any::<bool>(), 0u32..=10_000).prop_map(
        |(id, amount, includes_tax, tax_rate)| ShippingOption {
            name: format!("Option {id}"),
            id,
            description: None,
            price: Price {
                amount,
                includes_tax,
            },
            tax_rate,
            method: ShippingMethod::Home,
            carrier: None,
            preselected: false,
        },
    )
}

/// Decisions that obey the contract (the engine refuses any that do not): one rate per
/// cart line, separate taxes over valid line indexes, unique option ids, at most one
/// preselected.
fn decisions(lines: usize) -> impl Strategy<Value = (TaxDecision, Vec<ShippingOption>)> {
    let separate = (0u32..=10_000, vec(any::<bool>(), lines), any::<bool>()).prop_map(
        |(rate, picks, includes_shipping)| SeparateTax {
            reference: "sales-tax".into(),
            name: "Sales tax".into(),
            rate,
            lines: picks
                .iter()
                .enumerate()
                .filter(|(_, picked)| **picked)
                .map(|(index, _)| index as u32)
                .collect(),
            includes_shipping,
        },
    );
    (
        vec(0u32..=10_000, lines),
        proptest::option::of(separate),
        vec(option(), 0..5),
        proptest::option::of(0usize..5),
    )
        .prop_map(|(line_rates, separate, mut options, preselected)| {
            options.sort_by(|a, b| a.id.cmp(&b.id));
            options.dedup_by(|a, b| a.id == b.id);
            if let Some(index) = preselected.filter(|&i| i < options.len()) {
                options[index].preselected = true;
            }
            let tax = TaxDecision {
                line_rates,
                separate: separate.into_iter().collect(),
            };
            (tax, options)
        })
}

fn case() -> impl Strategy<Value = (Value, TaxDecision, Vec<ShippingOption>, u8)> {
    order().prop_flat_map(|order| {
        let parsed: CheckoutOrder = serde_json::from_value(order.clone()).unwrap();
        let lines = kco::to_cart(&parsed, Lines::Decidable, None, 0)
            .cart
            .lines
            .len();
        (Just(order), decisions(lines), 0u8..3)
            .prop_map(|(order, (tax, options), fee)| (order, tax, options, fee))
    })
}

/// `tax` is within 1 of `total × rate / (10000 + rate)`, exactly, in integers.
fn within_one(total: i64, tax: i64, rate: i64) -> bool {
    let exact = i128::from(total) * i128::from(rate);
    let scaled = i128::from(tax) * i128::from(10_000 + rate);
    (scaled - exact).abs() <= i128::from(10_000 + rate)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_returned_cart_obeys_kcos_money_rules((order, tax, options, fee) in case()) {
        let parsed: CheckoutOrder = serde_json::from_value(order.clone()).unwrap();
        kco::check(&parsed).unwrap();
        let mapped = kco::to_cart(&parsed, Lines::Decidable, None, 0);
        let selected = parsed.selected_shipping_option.as_ref().map(|o| o.id.as_str());
        let fee = match fee {
            0 => FeeLine::Omit,
            1 => FeeLine::Chosen(selected),
            _ => FeeLine::Reprice(selected),
        };
        let response = kco::cart_response(&parsed, &mapped.origin, &tax, &options, fee);
        let body = serde_json::to_value(&response).unwrap();
        let lines = body["order_lines"].as_array().unwrap();

        let mut sum = 0i64;
        let mut tax_sum = 0i64;
        for line in lines {
            let quantity = line["quantity"].as_i64().unwrap();
            let unit_price = line["unit_price"].as_i64().unwrap();
            let discount = line["total_discount_amount"].as_i64().unwrap();
            let total = line["total_amount"].as_i64().unwrap();
            let line_tax = line["total_tax_amount"].as_i64().unwrap();
            let rate = line["tax_rate"].as_i64().unwrap();
            prop_assert!((0..=10_000).contains(&rate));
            prop_assert_eq!(total, quantity * unit_price - discount);
            // KCO's line rule holds for every line, sales tax included.
            prop_assert!(within_one(total, line_tax, rate), "{}", line);
            if line["type"] == "sales_tax" {
                // The line's amount is the tax; at rate 0 it carries no tax amount.
                prop_assert_eq!(rate, 0);
                prop_assert_eq!(line_tax, 0);
                prop_assert!(total >= 0);
                tax_sum += total;
            } else {
                tax_sum += line_tax;
            }
            sum += total;
        }
        prop_assert_eq!(body["order_amount"].as_i64().unwrap(), sum);
        prop_assert_eq!(body["order_tax_amount"].as_i64().unwrap(), tax_sum);

        for option in body["shipping_options"].as_array().unwrap() {
            let price = option["price"].as_i64().unwrap();
            let rate = option["tax_rate"].as_i64().unwrap();
            prop_assert!(price >= 0);
            prop_assert!(within_one(price, option["tax_amount"].as_i64().unwrap(), rate));
        }
        let preselected = body["shipping_options"].as_array().unwrap().iter().filter(|o| o["preselected"] == true).count();
        prop_assert!(preselected <= 1);

        // At most one fee line; one exactly when an option applies.
        let fees: Vec<&Value> = lines.iter().filter(|l| l["type"] == "shipping_fee").collect();
        let wants_fee = match fee {
            FeeLine::Omit => false,
            FeeLine::Chosen(_) => true,
            FeeLine::Reprice(_) => true,
        } && !options.is_empty();
        prop_assert_eq!(fees.len(), usize::from(wants_fee));
        if let (Some(fee_line), FeeLine::Chosen(Some(id))) = (fees.first(), fee)
            && options.iter().any(|o| o.id == id)
        {
            prop_assert_eq!(fee_line["reference"].as_str(), Some(id));
        }

        // Every line the host does not own comes back, in order, with what KCO sent.
        let sent: Vec<&Value> = order["order_lines"].as_array().unwrap().iter()
            .filter(|l| l["type"] != "shipping_fee" && l["type"] != "sales_tax").collect();
        let returned: Vec<&Value> = lines.iter()
            .filter(|l| l["type"] != "shipping_fee" && l["type"] != "sales_tax").collect();
        prop_assert_eq!(sent.len(), returned.len());
        for (sent, returned) in sent.iter().zip(&returned) {
            for key in ["type", "reference", "name", "quantity", "unit_price", "total_discount_amount", "merchant_data", "product_identifiers"] {
                prop_assert_eq!(&sent[key], &returned[key], "{}", key);
            }
        }
        prop_assert_eq!(&body["merchant_data"], "opaque");
    }
}
