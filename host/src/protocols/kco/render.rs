//! Decisions to KCO answers. The host does KCO's arithmetic here (docs/PROTOCOLS.md §1.4),
//! so every cart it returns obeys KCO's rules whatever the module decided:
//!
//! - `total_amount = quantity × unit_price − total_discount_amount`;
//! - `total_tax_amount = total_amount − total_amount × 10000 / (10000 + tax_rate)`,
//!   rounded half away from zero (so within 1 of KCO's formula, negative on discounts);
//! - a shipping option's `tax_amount` follows the line rule on its price;
//! - a separate tax (US sales tax) becomes a `sales_tax` line whose amount is the tax:
//!   `unit_price = total_amount` = the tax, `tax_rate` 0 and so, by the line rule,
//!   `total_tax_amount` 0, as production US integrations send it;
//! - `order_amount` is the exact sum of the lines' `total_amount`, and
//!   `order_tax_amount` the sales-tax lines' `total_amount` plus every other line's
//!   `total_tax_amount` (docs/PROTOCOLS.md §1.4).

use serde_json::{Map, Value, json};

use super::wire::{self, CartResponse, CheckoutOrder, DeliveryDetails, OrderLine};
use crate::model::money;
use crate::model::{Rejection, RejectionCode, ShippingMethod, ShippingOption, TaxDecision};
use crate::protocols::Reply;

/// A line's `total_amount` and `total_tax_amount`.
pub fn line_amounts(quantity: i64, unit_price: i64, discount: i64, rate: u32) -> (i64, i64) {
    let total = quantity * unit_price - discount;
    (total, money::tax_included_in(total, rate))
}

/// An option's price with tax included, and the tax in it.
pub fn option_amounts(option: &ShippingOption) -> (i64, i64) {
    let gross = if option.price.includes_tax {
        option.price.amount
    } else {
        money::add_tax(option.price.amount, option.tax_rate)
    };
    (gross, money::tax_included_in(gross, option.tax_rate))
}

/// KCO's name of a shipping method.
pub fn method_name(method: ShippingMethod) -> &'static str {
    match method {
        ShippingMethod::Home => "Home",
        ShippingMethod::PickupStore => "PickUpStore",
        ShippingMethod::PickupPoint => "PickUpPoint",
        ShippingMethod::BoxReg => "BoxReg",
        ShippingMethod::BoxUnreg => "BoxUnreg",
        ShippingMethod::Own => "Own",
        ShippingMethod::Postal => "Postal",
        ShippingMethod::DhlPackstation => "DHLPackstation",
        ShippingMethod::Digital => "Digital",
    }
}

/// Which shipping option becomes the cart's `shipping_fee` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeeLine<'a> {
    /// None: the cart had no shipping fee and the shopper picked nothing.
    Omit,
    /// The shopper picked this option (shipping_option_update); if it is no longer
    /// offered, the preselected (or first) option takes its place.
    Chosen(Option<&'a str>),
    /// The cart already had a shipping fee: re-price it for this option if it is still
    /// offered, else for the preselected (or first) one (address_update, country_change).
    Reprice(Option<&'a str>),
}

/// The cart KCO receives for a shipping callback: every line KCO sent, recomputed with
/// the decided rates (cart line i came from order line `origin[i]`); the fee line for
/// the effective option; one `sales_tax` line per separate tax; the options; the exact
/// sums.
pub fn cart_response(
    order: &CheckoutOrder,
    origin: &[usize],
    tax: &TaxDecision,
    options: &[ShippingOption],
    fee: FeeLine<'_>,
) -> CartResponse {
    let effective = match fee {
        FeeLine::Omit => None,
        FeeLine::Chosen(id) | FeeLine::Reprice(id) => id
            .and_then(|id| options.iter().position(|option| option.id == id))
            .or_else(|| options.iter().position(|option| option.preselected))
            .or((!options.is_empty()).then_some(0)),
    };

    // Goods lines keep their place and every field KCO sent; the host recomputes the
    // rate and the amounts. The cart line i came from order line origin[i].
    let mut cart_index_of = vec![None; order.order_lines.len()];
    for (cart_index, &order_index) in origin.iter().enumerate() {
        cart_index_of[order_index] = Some(cart_index);
    }
    let mut lines = Vec::with_capacity(order.order_lines.len() + 2);
    let mut totals = vec![0i64; origin.len()];
    for (order_index, line) in order.order_lines.iter().enumerate() {
        if line.is_host_owned() {
            continue;
        }
        let cart_index = cart_index_of[order_index];
        let rate = cart_index
            .and_then(|index| tax.line_rates.get(index).copied())
            .unwrap_or(0);
        let discount = line.total_discount_amount.unwrap_or(0);
        let (total, line_tax) = line_amounts(line.quantity, line.unit_price, discount, rate);
        if let Some(cart_index) = cart_index {
            totals[cart_index] = total;
        }
        lines.push(OrderLine {
            tax_rate: Some(rate.into()),
            total_amount: Some(total),
            total_discount_amount: Some(discount),
            total_tax_amount: Some(line_tax),
            ..line.clone()
        });
    }

    let mut fee_total = 0;
    if let Some(index) = effective {
        let option = &options[index];
        let (gross, option_tax) = option_amounts(option);
        fee_total = gross;
        let kept = earlier_line(order, |line| line.kind() == "shipping_fee");
        lines.push(OrderLine {
            kind: Some("shipping_fee".into()),
            reference: Some(option.id.clone()),
            name: option.name.clone(),
            quantity: 1,
            unit_price: gross,
            tax_rate: Some(option.tax_rate.into()),
            total_amount: Some(gross),
            total_discount_amount: Some(0),
            total_tax_amount: Some(option_tax),
            other: kept,
        });
    }

    for separate in &tax.separate {
        let mut base: i64 = separate
            .lines
            .iter()
            .filter_map(|&index| totals.get(index as usize))
            .sum();
        if separate.includes_shipping {
            base += fee_total;
        }
        let amount = money::tax_on(base, separate.rate).max(0);
        let kept = earlier_line(order, |line| {
            line.kind() == "sales_tax" && line.reference.as_deref() == Some(&separate.reference)
        });
        lines.push(OrderLine {
            kind: Some("sales_tax".into()),
            reference: Some(separate.reference.clone()),
            name: separate.name.clone(),
            quantity: 1,
            unit_price: amount,
            tax_rate: Some(0),
            total_amount: Some(amount),
            total_discount_amount: Some(0),
            total_tax_amount: Some(0),
            other: kept,
        });
    }

    let shipping_options = options
        .iter()
        .enumerate()
        .map(|(index, option)| {
            let (price, tax_amount) = option_amounts(option);
            let preselected = match fee {
                FeeLine::Chosen(_) => Some(index) == effective,
                _ => option.preselected,
            };
            wire::ShippingOption {
                id: option.id.clone(),
                name: option.name.clone(),
                description: option.description.clone(),
                price,
                tax_amount,
                tax_rate: option.tax_rate,
                preselected,
                shipping_method: method_name(option.method),
                delivery_details: option.carrier.as_ref().map(|carrier| DeliveryDetails {
                    carrier: Some(carrier.clone()),
                    pickup_location: None,
                }),
            }
        })
        .collect();

    CartResponse {
        order_amount: lines.iter().filter_map(|line| line.total_amount).sum(),
        order_tax_amount: lines.iter().map(order_tax).sum(),
        order_lines: lines,
        purchase_currency: order.purchase_currency.clone(),
        shipping_options,
        merchant_data: order.merchant_data.clone(),
        locale: order.locale.clone(),
        tags: order.tags.clone(),
        attachment: order.attachment.clone(),
        external_payment_methods: order.external_payment_methods.clone(),
    }
}

/// What a line adds to `order_tax_amount`: a sales-tax line is all tax, though by
/// KCO's line rule (rate 0) it carries no `total_tax_amount`; every other line its
/// `total_tax_amount`.
fn order_tax(line: &OrderLine) -> i64 {
    if line.kind() == "sales_tax" {
        line.total_amount.unwrap_or(0)
    } else {
        line.total_tax_amount.unwrap_or(0)
    }
}

/// The extra fields of the first order line matching `which`, so product URLs and
/// merchant data of a re-priced host-owned line survive.
fn earlier_line(order: &CheckoutOrder, which: impl Fn(&OrderLine) -> bool) -> Map<String, Value> {
    order
        .order_lines
        .iter()
        .find(|line| which(line))
        .map(|line| line.other.clone())
        .unwrap_or_default()
}

/// KCO's `error_type` for a rejection.
pub fn error_type(code: RejectionCode) -> &'static str {
    match code {
        RejectionCode::AddressUnsupported => "unsupported_shipping_address",
        RejectionCode::AddressInvalid => "address_error",
        _ => "approval_failed",
    }
}

/// `400 {"error_type", "error_text"}`: the shopper stays in checkout and reads the
/// text. `fallback_text` stands in for an empty message (KCO requires a text).
pub fn rejection(rejection: &Rejection, fallback_text: &str) -> Reply {
    let text = if rejection.message.trim().is_empty() {
        fallback_text
    } else {
        rejection.message.as_str()
    };
    Reply::json(
        400,
        json!({ "error_type": error_type(rejection.code), "error_text": text }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Price;

    #[test]
    fn kco_tax_vector() {
        // docs/PROTOCOLS.md §1.4: 50000 at 1000 bp carries 4545.
        assert_eq!(line_amounts(5, 10_000, 0, 1000), (50_000, 4545));
        // Discount lines carry negative tax.
        assert_eq!(line_amounts(1, -5000, 0, 2500), (-5000, -1000));
        assert_eq!(line_amounts(3, 1000, 500, 2500), (2500, 500));
    }

    #[test]
    fn options_are_quoted_with_tax() {
        let mut option = ShippingOption {
            id: "std".into(),
            name: "Standard".into(),
            description: None,
            price: Price {
                amount: 4000,
                includes_tax: false,
            },
            tax_rate: 2500,
            method: ShippingMethod::Home,
            carrier: None,
            preselected: false,
        };
        assert_eq!(option_amounts(&option), (5000, 1000));
        option.price.includes_tax = true;
        assert_eq!(option_amounts(&option), (4000, 800));
    }
}
