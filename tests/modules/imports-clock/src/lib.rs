//! Implements the rules world, but reads the clock: it imports wasi:clocks. Rules must
//! be pure functions of the cart (the cart carries the time).

use rulegate_sdk::prelude::*;

pub struct ImportsClock;

impl Rules for ImportsClock {
    fn shipping_options(_: &Cart) -> Result<Vec<ShippingOption>, RuleError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| RuleError::CannotDecide(e.to_string()))?;
        let price = if now.as_secs() % 2 == 0 { 500 } else { 0 };
        Ok(vec![ShippingOption::new(
            "clock",
            "Odd seconds ship free",
            Price::including_tax(price as i64),
            0,
        )])
    }
    fn tax(cart: &Cart) -> Result<TaxDecision, RuleError> {
        let started = std::time::Instant::now();
        std::hint::black_box(started.elapsed());
        Ok(TaxDecision::uniform(cart, 0))
    }
}

rulegate_sdk::export!(ImportsClock);
