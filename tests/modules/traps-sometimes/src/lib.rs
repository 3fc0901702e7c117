//! A candidate that misbehaves on one checkout in five: every decision traps when the
//! sum of the order id's bytes is a multiple of five; otherwise one flat shipping
//! option (`canary`, 5.00), no tax, every order approved. What a canary's guardrails
//! must catch.

use rulegate_sdk::prelude::*;

pub struct TrapsSometimes;

/// Traps on the checkouts whose order id's bytes sum to a multiple of five.
fn trap_on_one_in_five(cart: &Cart) {
    let sum: u32 = cart
        .order_id
        .as_deref()
        .unwrap_or("")
        .bytes()
        .map(u32::from)
        .sum();
    if cart.order_id.is_some() && sum % 5 == 0 {
        panic!("one checkout in five traps");
    }
}

impl Rules for TrapsSometimes {
    fn shipping_options(cart: &Cart) -> Result<Vec<ShippingOption>, RuleError> {
        trap_on_one_in_five(cart);
        Ok(vec![
            ShippingOption::new("canary", "Canary rate", Price::excluding_tax(500), 0)
                .preselected(),
        ])
    }
    fn tax(cart: &Cart) -> Result<TaxDecision, RuleError> {
        trap_on_one_in_five(cart);
        Ok(TaxDecision::uniform(cart, 0))
    }
    fn validate(cart: &Cart) -> Result<Verdict, RuleError> {
        trap_on_one_in_five(cart);
        Ok(Verdict::Approve)
    }
}

rulegate_sdk::export!(TrapsSometimes);
