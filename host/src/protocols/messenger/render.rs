//! Decisions to Messenger answers (docs/PROTOCOLS.md §3.3). Each shipping option gets a
//! price list of exactly two lines, `Shipping` and `Tax`, as decimal strings with the
//! currency's decimals ("5.99"; "600" in JPY).
//!
//! The price list is what the option adds to the Buy Button's own price list:
//! - `Shipping` is the option's price without tax;
//! - `Tax` is the option's own tax, plus the goods' tax when payload prices exclude it
//!   (each line at its decided rate, rounded per line), plus each separate tax (US
//!   sales tax) on its lines' totals and, when it includes shipping, on the option's
//!   price. Goods priced with tax included add no tax: it is in their price already.
//!
//! So `Shipping + Tax` of an option is exactly its price with tax whenever the goods add
//! nothing, and every amount is computed in integers, rounding half away from zero.

use serde::Serialize;

use crate::model::money;
use crate::model::{Line, ShippingOption, TaxDecision};

/// One option's answer, in minor units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// The option's id; `payment` events send it back as `shipping_option_id`.
    pub option_id: String,
    /// The name the shopper sees.
    pub option_title: String,
    /// The `Shipping` line.
    pub shipping: i64,
    /// The `Tax` line.
    pub tax: i64,
}

/// A line's total: quantity times unit price, less the discount.
fn line_total(line: &Line) -> i64 {
    line.unit_price.map_or(0, |price| {
        money::extend(price.amount, line.quantity).saturating_sub(line.discount)
    })
}

/// The quote of every option, in the rules' order.
pub fn quotes(lines: &[Line], tax: &TaxDecision, options: &[ShippingOption]) -> Vec<Quote> {
    let totals: Vec<i64> = lines.iter().map(line_total).collect();
    let goods_tax: i64 = lines
        .iter()
        .zip(&totals)
        .zip(&tax.line_rates)
        .filter(|((line, _), _)| line.unit_price.is_some_and(|price| !price.includes_tax))
        .map(|((_, &total), &rate)| money::tax_on(total, rate))
        .fold(0i64, i64::saturating_add);
    options
        .iter()
        .map(|option| {
            let (net, own_tax) = if option.price.includes_tax {
                let included = money::tax_included_in(option.price.amount, option.tax_rate);
                (option.price.amount - included, included)
            } else {
                (
                    option.price.amount,
                    money::tax_on(option.price.amount, option.tax_rate),
                )
            };
            let separate: i64 = tax
                .separate
                .iter()
                .map(|separate| {
                    let lines: i64 = separate
                        .lines
                        .iter()
                        .filter_map(|&index| totals.get(index as usize))
                        .sum();
                    let base = if separate.includes_shipping {
                        lines.saturating_add(net)
                    } else {
                        lines
                    };
                    money::tax_on(base, separate.rate)
                })
                .fold(0i64, i64::saturating_add);
            Quote {
                option_id: option.id.clone(),
                option_title: option.name.clone(),
                shipping: net,
                tax: own_tax.saturating_add(goods_tax).saturating_add(separate),
            }
        })
        .collect()
}

/// The checkout_update answer: `{"shipping": [...]}`, fields in the documented order.
pub fn shipping_body(quotes: &[Quote], exponent: u32) -> String {
    #[derive(Serialize)]
    struct Body<'a> {
        shipping: Vec<OfferedOption<'a>>,
    }
    #[derive(Serialize)]
    struct OfferedOption<'a> {
        option_id: &'a str,
        option_title: &'a str,
        price_list: [PriceLine; 2],
    }
    #[derive(Serialize)]
    struct PriceLine {
        label: &'static str,
        amount: String,
    }
    let body = Body {
        shipping: quotes
            .iter()
            .map(|quote| OfferedOption {
                option_id: &quote.option_id,
                option_title: &quote.option_title,
                price_list: [
                    PriceLine {
                        label: "Shipping",
                        amount: money::format_decimal(quote.shipping, exponent),
                    },
                    PriceLine {
                        label: "Tax",
                        amount: money::format_decimal(quote.tax, exponent),
                    },
                ],
            })
            .collect(),
    };
    serde_json::to_string(&body).unwrap_or_else(|_| r#"{"shipping":[]}"#.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LineKind, Price, SeparateTax, ShippingMethod};

    fn option(id: &str, cents: i64, includes_tax: bool, rate: u32) -> ShippingOption {
        ShippingOption {
            id: id.into(),
            name: format!("Option {id}"),
            description: None,
            price: Price {
                amount: cents,
                includes_tax,
            },
            tax_rate: rate,
            method: ShippingMethod::Home,
            carrier: None,
            preselected: false,
        }
    }

    fn line(cents: i64, quantity: u64, includes_tax: bool) -> Line {
        Line {
            reference: "SKU".into(),
            name: String::new(),
            kind: LineKind::Physical,
            quantity,
            unit_price: Some(Price {
                amount: cents,
                includes_tax,
            }),
            discount: 0,
            tax_rate: None,
            unit_weight_grams: None,
            attributes: Vec::new(),
        }
    }

    fn sales_tax(rate: u32, lines: Vec<u32>, includes_shipping: bool) -> SeparateTax {
        SeparateTax {
            reference: "sales-tax".into(),
            name: "Sales tax".into(),
            rate,
            lines,
            includes_shipping,
        }
    }

    #[test]
    fn no_goods_only_the_option() {
        let tax = TaxDecision {
            line_rates: vec![],
            separate: vec![],
        };
        let quoted = quotes(
            &[],
            &tax,
            &[option("1", 599, false, 0), option("2", 1250, true, 2500)],
        );
        assert_eq!((quoted[0].shipping, quoted[0].tax), (599, 0));
        // 12.50 with 25 % included: 2.50 tax, 10.00 shipping.
        assert_eq!((quoted[1].shipping, quoted[1].tax), (1000, 250));
        let body = shipping_body(&quoted, 2);
        assert!(body.starts_with(r#"{"shipping":[{"option_id":"1","option_title":"Option 1","price_list":[{"label":"Shipping","amount":"5.99"}"#));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&body).unwrap(),
            serde_json::json!({"shipping": [
                {"option_id": "1", "option_title": "Option 1", "price_list": [
                    {"label": "Shipping", "amount": "5.99"}, {"label": "Tax", "amount": "0.00"}]},
                {"option_id": "2", "option_title": "Option 2", "price_list": [
                    {"label": "Shipping", "amount": "10.00"}, {"label": "Tax", "amount": "2.50"}]},
            ]})
        );
    }

    #[test]
    fn sales_tax_on_goods_and_shipping() {
        let lines = [line(2999, 1000, false), line(1000, 2500, false)];
        // Texas-like: 6.25 % on both lines and on shipping.
        let tax = TaxDecision {
            line_rates: vec![0, 0],
            separate: vec![sales_tax(625, vec![0, 1], true)],
        };
        let texas = quotes(&lines, &tax, &[option("std", 599, false, 0)]);
        // (29.99 + 25.00 + 5.99) × 6.25 % = 3.81125 → 3.81.
        assert_eq!((texas[0].shipping, texas[0].tax), (599, 381));
        // California-like: shipping not taxed, second line exempt.
        let tax = TaxDecision {
            line_rates: vec![0, 0],
            separate: vec![sales_tax(725, vec![0], false)],
        };
        let california = quotes(&lines, &tax, &[option("std", 599, false, 0)]);
        // 29.99 × 7.25 % = 2.174275 → 2.17.
        assert_eq!(california[0].tax, 217);
    }

    #[test]
    fn line_rates_add_tax_only_on_net_prices() {
        let tax = TaxDecision {
            line_rates: vec![2000],
            separate: vec![],
        };
        let option = [option("1", 490, true, 2000)];
        let net = quotes(&[line(1000, 3000, false)], &tax, &option);
        // 30.00 × 20 % = 6.00 on the goods, 0.82 in the shipping price.
        assert_eq!((net[0].shipping, net[0].tax), (408, 600 + 82));
        let gross = quotes(&[line(1000, 3000, true)], &tax, &option);
        assert_eq!((gross[0].shipping, gross[0].tax), (408, 82));
    }
}
