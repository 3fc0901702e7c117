//! Implements the rules world, but reads a file: it imports wasi:filesystem.

use rulegate_sdk::prelude::*;

pub struct ImportsFilesystem;

impl Rules for ImportsFilesystem {
    fn shipping_options(_: &Cart) -> Result<Vec<ShippingOption>, RuleError> {
        let rates = std::fs::read_to_string("/etc/shipping-rates")
            .map_err(|e| RuleError::CannotDecide(e.to_string()))?;
        Ok(vec![ShippingOption::new(
            "file",
            &rates,
            Price::including_tax(0),
            0,
        )])
    }
    fn tax(cart: &Cart) -> Result<TaxDecision, RuleError> {
        Ok(TaxDecision::uniform(cart, 0))
    }
}

rulegate_sdk::export!(ImportsFilesystem);
