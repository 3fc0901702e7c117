//! Allocates and frees millions of small objects in every decision, never holding much
//! at once: it must end on fuel or the deadline, not take the host with it.

use rulegate_sdk::prelude::*;

fn storm() -> ! {
    let mut round: u64 = 0;
    loop {
        let boxes: Vec<Box<[u64; 4]>> = (0..1_000).map(|n| Box::new([n + round; 4])).collect();
        std::hint::black_box(&boxes);
        drop(boxes);
        round += 1;
    }
}

pub struct AllocationStorm;

impl Rules for AllocationStorm {
    fn shipping_options(_: &Cart) -> Result<Vec<ShippingOption>, RuleError> {
        storm()
    }
    fn tax(_: &Cart) -> Result<TaxDecision, RuleError> {
        storm()
    }
    fn validate(_: &Cart) -> Result<Verdict, RuleError> {
        storm()
    }
}

rulegate_sdk::export!(AllocationStorm);
