//! Shipping answers; tax traps on every cart. A `quote` of both fails as a whole, and
//! the host must still answer shipping: each decision again on its own.

use rulegate_sdk::prelude::*;

pub struct TaxTraps;

impl Rules for TaxTraps {
    fn shipping_options(_cart: &Cart) -> Result<Vec<ShippingOption>, RuleError> {
        Ok(vec![
            ShippingOption::new("flat", "Flat rate", Price::including_tax(490), 2500).preselected(),
        ])
    }
    fn tax(cart: &Cart) -> Result<TaxDecision, RuleError> {
        let rates: Vec<u32> = Vec::new();
        Ok(TaxDecision::uniform(cart, rates[cart.lines.len()]))
    }
}

rulegate_sdk::export!(TaxTraps);
