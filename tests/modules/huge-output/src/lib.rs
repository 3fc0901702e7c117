//! Answers far more than the contract allows: 20,000 shipping options, a tax decision
//! with four million rates, and a 4 MiB rejection message. The host must refuse each
//! as a contract violation without trusting its size.

use rulegate_sdk::prelude::*;

pub struct HugeOutput;

impl Rules for HugeOutput {
    fn shipping_options(_: &Cart) -> Result<Vec<ShippingOption>, RuleError> {
        let option = ShippingOption::new("o", "x", Price::including_tax(0), 0);
        Ok(vec![option; 20_000])
    }
    fn tax(_: &Cart) -> Result<TaxDecision, RuleError> {
        Ok(TaxDecision {
            line_rates: vec![0; 4 << 20],
            separate: Vec::new(),
        })
    }
    fn validate(_: &Cart) -> Result<Verdict, RuleError> {
        Ok(Verdict::reject(RejectionCode::Other, "!".repeat(4 << 20)))
    }
}

rulegate_sdk::export!(HugeOutput);
