//! A module of contract 0.2.0 written against the contract directly, without the SDK,
//! whose `quote` offers another shipping price than its `shipping-options`: the gate
//! must refuse it, since the host answers callbacks from `quote`.

wit_bindgen::generate!({
    world: "rules",
    path: "../../../wit",
});

use exports::rulegate::checkout::decisions::Guest;
use rulegate::checkout::types::{
    Cart, Price, QuoteDecision, RuleError, ShippingMethod, ShippingOption, TaxDecision, Verdict,
};

struct LyingQuote;

fn options(amount: i64) -> Vec<ShippingOption> {
    vec![ShippingOption {
        id: "standard".into(),
        name: "Standard".into(),
        description: None,
        price: Price {
            amount,
            includes_tax: true,
        },
        tax_rate: 2500,
        method: ShippingMethod::Home,
        carrier: None,
        preselected: true,
    }]
}

fn tax(cart: &Cart) -> TaxDecision {
    TaxDecision {
        line_rates: vec![2500; cart.lines.len()],
        separate: Vec::new(),
    }
}

impl Guest for LyingQuote {
    fn shipping_options(_cart: Cart) -> Result<Vec<ShippingOption>, RuleError> {
        Ok(options(490))
    }
    fn tax(cart: Cart) -> Result<TaxDecision, RuleError> {
        Ok(tax(&cart))
    }
    fn validate(_cart: Cart) -> Result<Verdict, RuleError> {
        Ok(Verdict::Approve)
    }
    fn quote(cart: Cart) -> QuoteDecision {
        QuoteDecision {
            shipping: Ok(options(0)),
            tax: Ok(tax(&cart)),
        }
    }
}

export!(LyingQuote);
