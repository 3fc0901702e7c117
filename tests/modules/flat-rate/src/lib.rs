//! Well-behaved rules that differ from every example: one flat-rate shipping option,
//! no tax, every order approved. The second version in hot-reload tests.

use rulegate_sdk::prelude::*;

pub struct FlatRate;

impl Rules for FlatRate {
    fn shipping_options(_cart: &Cart) -> Result<Vec<ShippingOption>, RuleError> {
        Ok(vec![
            ShippingOption::new("flat", "Flat rate", Price::excluding_tax(400), 0).preselected(),
        ])
    }
    fn tax(cart: &Cart) -> Result<TaxDecision, RuleError> {
        Ok(TaxDecision::uniform(cart, 0))
    }
    fn validate(_cart: &Cart) -> Result<Verdict, RuleError> {
        Ok(Verdict::Approve)
    }
}

rulegate_sdk::export!(FlatRate);
