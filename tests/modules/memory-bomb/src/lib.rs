//! Every decision allocates and touches memory until allocation fails.

use rulegate_sdk::prelude::*;

fn explode() -> ! {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![0xA5; 1 << 20]);
        std::hint::black_box(&hoard);
    }
}

pub struct MemoryBomb;

impl Rules for MemoryBomb {
    fn shipping_options(_: &Cart) -> Result<Vec<ShippingOption>, RuleError> {
        explode()
    }
    fn tax(_: &Cart) -> Result<TaxDecision, RuleError> {
        explode()
    }
    fn validate(_: &Cart) -> Result<Verdict, RuleError> {
        explode()
    }
}

rulegate_sdk::export!(MemoryBomb);
