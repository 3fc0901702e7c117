//! Every decision recurses without bound.

use rulegate_sdk::prelude::*;

#[inline(never)]
#[allow(unconditional_recursion)]
fn descend(depth: u64, trail: &mut [u64; 16]) -> u64 {
    trail[(depth % 16) as usize] = depth;
    let mut local = [depth; 16];
    std::hint::black_box(&mut local);
    descend(depth + 1, trail) + local[3]
}

fn dive() -> u32 {
    let mut trail = [0u64; 16];
    descend(0, &mut trail) as u32
}

pub struct DeepRecursion;

impl Rules for DeepRecursion {
    fn shipping_options(_: &Cart) -> Result<Vec<ShippingOption>, RuleError> {
        Err(RuleError::CannotDecide(dive().to_string()))
    }
    fn tax(cart: &Cart) -> Result<TaxDecision, RuleError> {
        Ok(TaxDecision::uniform(cart, dive()))
    }
    fn validate(_: &Cart) -> Result<Verdict, RuleError> {
        Err(RuleError::CannotDecide(dive().to_string()))
    }
}

rulegate_sdk::export!(DeepRecursion);
