//! Every decision panics.

use rulegate_sdk::prelude::*;

pub struct Panics;

impl Rules for Panics {
    fn shipping_options(cart: &Cart) -> Result<Vec<ShippingOption>, RuleError> {
        rulegate_sdk::log::info(&format!("deciding shipping for {} lines", cart.lines.len()));
        panic!("no shipping for {} lines", cart.lines.len())
    }
    fn tax(cart: &Cart) -> Result<TaxDecision, RuleError> {
        let rates: Vec<u32> = Vec::new();
        Ok(TaxDecision::uniform(cart, rates[cart.lines.len() + 7]))
    }
    fn validate(cart: &Cart) -> Result<Verdict, RuleError> {
        let verdict: Option<Verdict> = cart.lines.iter().map(|_| Verdict::Approve).nth(1_000);
        Ok(verdict.expect("a verdict"))
    }
}

rulegate_sdk::export!(Panics);
