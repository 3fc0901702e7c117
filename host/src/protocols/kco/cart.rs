//! KCO's checkout order to the canonical cart, after checking it obeys the bounds the
//! host's arithmetic relies on.

use serde_json::Value;

use super::wire::{self, CheckoutOrder, OrderLine};
use crate::model::{
    Address, Attribute, Cart, Customer, CustomerKind, Line, PickupPoint, Platform, Price,
};
use crate::protocols::ClientError;
use crate::protocols::decimal::line_kind;

/// The most order lines a callback may carry.
pub const MAX_LINES: usize = 1000;
pub use crate::model::MAX_AMOUNT;
/// The largest quantity of one line.
pub const MAX_QUANTITY: i64 = 1_000_000_000;

/// Which KCO lines become cart lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// Goods, discounts and fees, but not the lines the host derives from decisions
    /// (`shipping_fee`, `sales_tax`): address_update, country_change,
    /// shipping_option_update.
    Decidable,
    /// Everything except `sales_tax` (which the host computes): validation, where the
    /// module may check the shipping fee the shopper pays.
    Placed,
}

/// The canonical cart of a KCO order, and where each cart line came from.
#[derive(Debug, Clone)]
pub struct Mapped {
    /// The cart the rules see.
    pub cart: Cart,
    /// For each cart line, the index of its KCO order line.
    pub origin: Vec<usize>,
}

/// Checks the order against KCO's bounds; the error names the offending field.
pub fn check(order: &CheckoutOrder) -> Result<(), ClientError> {
    let bad = |message: String| Err(ClientError::bad_request(message));
    let currency = &order.purchase_currency;
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_alphabetic()) {
        return bad(format!(
            "`purchase_currency`: {currency:?} is not an ISO 4217 code"
        ));
    }
    if order.order_lines.len() > MAX_LINES {
        return bad(format!(
            "`order_lines`: {} lines (at most {MAX_LINES})",
            order.order_lines.len()
        ));
    }
    for (index, line) in order.order_lines.iter().enumerate() {
        let field = |name: &str| format!("`order_lines[{index}].{name}`");
        if !(0..=MAX_QUANTITY).contains(&line.quantity) {
            return bad(format!(
                "{}: {} (from 0 to {MAX_QUANTITY})",
                field("quantity"),
                line.quantity
            ));
        }
        if line.unit_price.abs() > MAX_AMOUNT {
            return bad(format!(
                "{}: {} is beyond ±{MAX_AMOUNT}",
                field("unit_price"),
                line.unit_price
            ));
        }
        if let Some(rate) = line.tax_rate
            && !(0..=10_000).contains(&rate)
        {
            return bad(format!(
                "{}: {rate} (basis points, from 0 to 10000)",
                field("tax_rate")
            ));
        }
        let discount = line.total_discount_amount.unwrap_or(0);
        if !(0..=MAX_AMOUNT).contains(&discount) {
            return bad(format!(
                "{}: {discount} (from 0 to {MAX_AMOUNT})",
                field("total_discount_amount")
            ));
        }
        let total = line
            .quantity
            .checked_mul(line.unit_price)
            .and_then(|gross| gross.checked_sub(discount));
        if total.is_none_or(|total| total.abs() > MAX_AMOUNT) {
            return bad(format!(
                "`order_lines[{index}]`: quantity × unit_price − total_discount_amount is beyond ±{MAX_AMOUNT}"
            ));
        }
    }
    Ok(())
}

/// Maps a checked order to the canonical cart.
pub fn to_cart(
    order: &CheckoutOrder,
    lines: Lines,
    order_id: Option<String>,
    received_at_ms: u64,
) -> Mapped {
    let mut origin = Vec::with_capacity(order.order_lines.len());
    let mut cart_lines = Vec::with_capacity(order.order_lines.len());
    for (index, line) in order.order_lines.iter().enumerate() {
        let keep = match lines {
            Lines::Decidable => !line.is_host_owned(),
            Lines::Placed => line.kind() != "sales_tax",
        };
        if keep {
            origin.push(index);
            cart_lines.push(to_line(line));
        }
    }
    let pickup_point = order
        .selected_shipping_option
        .as_ref()
        .and_then(|option| option.delivery_details.as_ref())
        .and_then(|details| details.pickup_location.as_ref())
        .and_then(|location| {
            Some(PickupPoint {
                id: location.id.clone().filter(|id| !id.is_empty())?,
                name: location.name.clone().unwrap_or_default(),
                address: location.address.as_ref().and_then(to_address),
            })
        });
    let customer = order.customer.clone().unwrap_or_default();
    Mapped {
        cart: Cart {
            platform: Platform::Kco,
            order_id: order_id.or_else(|| order.order_id.clone()),
            currency: order.purchase_currency.to_ascii_uppercase(),
            locale: order.locale.clone(),
            lines: cart_lines,
            billing_address: order.billing_address.as_ref().and_then(to_address),
            shipping_address: order.shipping_address.as_ref().and_then(to_address),
            pickup_point,
            selected_shipping_option: order
                .selected_shipping_option
                .as_ref()
                .map(|option| option.id.clone()),
            customer: Customer {
                kind: match customer.kind.as_deref() {
                    Some("organization") => CustomerKind::Organization,
                    _ => CustomerKind::Person,
                },
                vat_id: customer.vat_id.filter(|id| !id.trim().is_empty()),
                organization_id: customer
                    .organization_registration_id
                    .filter(|id| !id.trim().is_empty()),
            },
            merchant_data: order.merchant_data.clone(),
            received_at_ms,
        },
        origin,
    }
}

/// Product identifiers and shipping tags become attributes, under short names.
const IDENTIFIERS: &[(&str, &str)] = &[
    ("category_path", "category"),
    ("brand", "brand"),
    ("global_trade_item_number", "gtin"),
    ("manufacturer_part_number", "mpn"),
    ("color", "color"),
    ("size", "size"),
];

fn to_line(line: &OrderLine) -> Line {
    let mut attributes = Vec::new();
    if let Some(Value::Object(identifiers)) = line.other.get("product_identifiers") {
        for (field, key) in IDENTIFIERS {
            if let Some(Value::String(value)) = identifiers.get(*field) {
                attributes.push(Attribute {
                    key: (*key).to_string(),
                    value: value.clone(),
                });
            }
        }
    }
    let shipping = line.other.get("shipping_attributes");
    if let Some(Value::Array(tags)) = shipping.and_then(|s| s.get("tags")) {
        attributes.extend(tags.iter().filter_map(Value::as_str).map(|tag| Attribute {
            key: "tag".into(),
            value: tag.to_string(),
        }));
    }
    let unit_weight_grams = shipping
        .and_then(|s| s.get("weight"))
        .and_then(Value::as_u64);
    Line {
        reference: line.reference.clone().unwrap_or_default(),
        name: line.name.clone(),
        kind: line_kind(line.kind()),
        quantity: line.quantity as u64 * 1000,
        unit_price: Some(Price {
            amount: line.unit_price,
            includes_tax: true,
        }),
        discount: line.total_discount_amount.unwrap_or(0),
        tax_rate: line.tax_rate.map(|rate| rate as u32),
        unit_weight_grams,
        attributes,
    }
}

fn non_empty(text: &Option<String>) -> Option<String> {
    text.as_deref()
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(str::to_string)
}

/// An address without a country is not an address rules can decide on.
fn to_address(address: &wire::Address) -> Option<Address> {
    let country = non_empty(&address.country)?.to_ascii_uppercase();
    let street = non_empty(&address.street_address).or_else(|| {
        let parts: Vec<String> = [
            &address.street_name,
            &address.street_number,
            &address.house_extension,
        ]
        .into_iter()
        .filter_map(non_empty)
        .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    });
    let care_of = non_empty(&address.care_of).map(|name| format!("c/o {name}"));
    let street_lines = [street, non_empty(&address.street_address2), care_of]
        .into_iter()
        .flatten()
        .collect();
    Some(Address {
        country,
        region: non_empty(&address.region),
        postal_code: non_empty(&address.postal_code),
        city: non_empty(&address.city),
        street_lines,
        organization: non_empty(&address.organization_name),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LineKind;

    fn order(json: &str) -> CheckoutOrder {
        serde_json::from_str(json).unwrap()
    }

    const BASE: &str = r#"{"order_amount":0,"order_tax_amount":0,"purchase_currency":"sek",
        "order_lines":[
          {"type":"physical","reference":"B1","name":"Book","quantity":2,"unit_price":12500,
           "tax_rate":600,"product_identifiers":{"category_path":"Books > Fiction","brand":"X"},
           "shipping_attributes":{"weight":350,"tags":["fragile"]}},
          {"name":"Gift","quantity":1,"unit_price":1000},
          {"type":"shipping_fee","name":"Post","quantity":1,"unit_price":4900},
          {"type":"sales_tax","name":"Tax","quantity":1,"unit_price":100}],
        "shipping_address":{"country":"se","street_name":"Storgatan","street_number":"1",
          "postal_code":"11122","given_name":"Private","email":"a@b.c","care_of":"Anna"},
        "customer":{"type":"organization","vat_id":"SE556737043101"},
        "selected_shipping_option":{"id":"pp","delivery_details":{"pickup_location":
          {"id":"P-9","name":"Kiosk","address":{"country":"SE","city":"Stockholm"}}}}}"#;

    #[test]
    fn maps_lines_addresses_and_buyer() {
        let order = order(BASE);
        check(&order).unwrap();
        let mapped = to_cart(&order, Lines::Decidable, Some("o-1".into()), 7);
        assert_eq!(mapped.origin, vec![0, 1]);
        let cart = &mapped.cart;
        assert_eq!(cart.currency, "SEK");
        assert_eq!(cart.order_id.as_deref(), Some("o-1"));
        assert_eq!(cart.received_at_ms, 7);
        let book = &cart.lines[0];
        assert_eq!(book.quantity, 2000);
        assert_eq!(book.unit_weight_grams, Some(350));
        assert_eq!(book.tax_rate, Some(600));
        let attributes: Vec<(&str, &str)> = book
            .attributes
            .iter()
            .map(|a| (a.key.as_str(), a.value.as_str()))
            .collect();
        assert_eq!(
            attributes,
            [
                ("category", "Books > Fiction"),
                ("brand", "X"),
                ("tag", "fragile")
            ]
        );
        assert_eq!(cart.lines[1].kind, LineKind::Physical);
        let address = cart.shipping_address.as_ref().unwrap();
        assert_eq!(address.country, "SE");
        assert_eq!(address.street_lines, ["Storgatan 1", "c/o Anna"]);
        assert_eq!(cart.customer.kind, CustomerKind::Organization);
        assert_eq!(cart.pickup_point.as_ref().unwrap().id, "P-9");
        assert_eq!(cart.selected_shipping_option.as_deref(), Some("pp"));

        let placed = to_cart(&order, Lines::Placed, None, 7);
        assert_eq!(placed.origin, vec![0, 1, 2]);
        assert_eq!(placed.cart.lines[2].kind, LineKind::ShippingFee);
    }

    #[test]
    fn refuses_out_of_bounds_lines() {
        let cases = [
            (r#""quantity":-1,"unit_price":1"#, "order_lines[0].quantity"),
            (
                r#""quantity":1,"unit_price":1,"tax_rate":10001"#,
                "order_lines[0].tax_rate",
            ),
            (
                r#""quantity":1,"unit_price":1,"total_discount_amount":-5"#,
                "total_discount_amount",
            ),
            (
                r#""quantity":1000000000,"unit_price":9999999999999"#,
                "quantity × unit_price",
            ),
        ];
        for (fields, expected) in cases {
            let json = format!(
                r#"{{"order_amount":0,"order_tax_amount":0,"purchase_currency":"EUR",
                    "order_lines":[{{"name":"x",{fields}}}]}}"#
            );
            let error = check(&order(&json)).unwrap_err();
            assert!(error.message.contains(expected), "{}", error.message);
        }
        let json = r#"{"order_amount":0,"order_tax_amount":0,"purchase_currency":"EURO","order_lines":[]}"#;
        assert!(
            check(&order(json))
                .unwrap_err()
                .message
                .contains("purchase_currency")
        );
    }
}
