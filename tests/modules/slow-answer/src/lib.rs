//! Well-behaved but slow: every decision first spins for a number of rounds set by the
//! cart (a million per unit of the first line's quantity), then answers as `flat-rate`
//! does. A call that runs past the deadline clock's first ticks, with a real answer.

use rulegate_sdk::prelude::*;

pub struct SlowAnswer;

/// Spins for `quantity` million rounds the optimiser cannot remove.
fn spin(cart: &Cart) {
    let rounds = cart.lines.first().map_or(0, |line| line.whole_units()) * 1_000_000;
    let mut state = 0u64;
    for round in 0..rounds {
        state = core::hint::black_box(state.wrapping_mul(6364136223846793005).wrapping_add(round));
    }
    core::hint::black_box(state);
}

impl Rules for SlowAnswer {
    fn shipping_options(cart: &Cart) -> Result<Vec<ShippingOption>, RuleError> {
        spin(cart);
        Ok(vec![
            ShippingOption::new("flat", "Flat rate", Price::excluding_tax(400), 0).preselected(),
        ])
    }
    fn tax(cart: &Cart) -> Result<TaxDecision, RuleError> {
        spin(cart);
        Ok(TaxDecision::uniform(cart, 0))
    }
    fn validate(cart: &Cart) -> Result<Verdict, RuleError> {
        spin(cart);
        Ok(Verdict::Approve)
    }
}

rulegate_sdk::export!(SlowAnswer);
