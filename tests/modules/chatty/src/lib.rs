//! Logs far more than the host keeps: `tax` logs 100 messages, every other one 2 KiB
//! long, then answers rate 0 for every line.

use rulegate_sdk::prelude::*;

pub struct Chatty;

impl Rules for Chatty {
    fn shipping_options(_: &Cart) -> Result<Vec<ShippingOption>, RuleError> {
        Ok(Vec::new())
    }
    fn tax(cart: &Cart) -> Result<TaxDecision, RuleError> {
        for index in 0..100 {
            if index % 2 == 0 {
                rulegate_sdk::log::info(&format!("line {index} of 100"));
            } else {
                rulegate_sdk::log::debug(&"é".repeat(1024));
            }
        }
        Ok(TaxDecision::uniform(cart, 0))
    }
}

rulegate_sdk::export!(Chatty);
