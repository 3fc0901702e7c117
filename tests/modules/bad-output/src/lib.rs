//! Answers that break the contract: one line rate too many and a rate above 100 %;
//! two shipping options with the same id; a rejection without a message.

use rulegate_sdk::prelude::*;

pub struct BadOutput;

impl Rules for BadOutput {
    fn shipping_options(_: &Cart) -> Result<Vec<ShippingOption>, RuleError> {
        let option = ShippingOption::new("same", "Same", Price::including_tax(100), 2500);
        Ok(vec![option.clone(), option])
    }
    fn tax(cart: &Cart) -> Result<TaxDecision, RuleError> {
        Ok(TaxDecision {
            line_rates: vec![20_000; cart.lines.len() + 1],
            separate: Vec::new(),
        })
    }
    fn validate(_: &Cart) -> Result<Verdict, RuleError> {
        Ok(Verdict::reject(RejectionCode::Other, ""))
    }
}

rulegate_sdk::export!(BadOutput);
