//! Every decision loops forever.

use rulegate_sdk::prelude::*;

fn spin() -> ! {
    let mut counter = 0u64;
    loop {
        counter = std::hint::black_box(counter.wrapping_add(1));
    }
}

pub struct InfiniteLoop;

impl Rules for InfiniteLoop {
    fn shipping_options(_: &Cart) -> Result<Vec<ShippingOption>, RuleError> {
        spin()
    }
    fn tax(_: &Cart) -> Result<TaxDecision, RuleError> {
        spin()
    }
    fn validate(_: &Cart) -> Result<Verdict, RuleError> {
        spin()
    }
}

rulegate_sdk::export!(InfiniteLoop);
