//! Looks for traces of earlier instances: `validate` checks that its zero-initialised
//! static buffer and a freshly grown memory page are still all zero, then fills both
//! with the cart's order id. An instance that ever sees a non-zero byte rejects the order
//! with the bytes it found. `tax` and `shipping-options` answer normally.

use rulegate_sdk::prelude::*;

const SIZE: usize = 64 * 1024;
static mut SCRATCH: [u8; SIZE] = [0; SIZE];

fn leftovers(bytes: &[u8]) -> Option<String> {
    bytes.iter().position(|&b| b != 0).map(|at| {
        let end = (at + 64).min(bytes.len());
        String::from_utf8_lossy(&bytes[at..end]).into_owned()
    })
}

fn fill(bytes: &mut [u8], marker: &[u8]) {
    if marker.is_empty() {
        return;
    }
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = marker[index % marker.len()];
    }
}

pub struct MemoryProbe;

impl Rules for MemoryProbe {
    fn shipping_options(_: &Cart) -> Result<Vec<ShippingOption>, RuleError> {
        Ok(vec![ShippingOption::new(
            "probe",
            "Probe",
            Price::including_tax(0),
            0,
        )])
    }
    fn tax(cart: &Cart) -> Result<TaxDecision, RuleError> {
        Ok(TaxDecision::uniform(cart, 0))
    }
    fn validate(cart: &Cart) -> Result<Verdict, RuleError> {
        let marker = cart.order_id.clone().unwrap_or_default().into_bytes();
        // SAFETY: a single-threaded guest; nothing else references the buffer.
        #[allow(static_mut_refs)]
        let scratch: &mut [u8; SIZE] = unsafe { &mut SCRATCH };
        let grown = grow_one_page();
        let found = leftovers(scratch).or_else(|| leftovers(grown));
        fill(scratch, &marker);
        fill(grown, &marker);
        Ok(match found {
            Some(bytes) => {
                Verdict::reject(RejectionCode::Other, format!("leftover bytes: {bytes}"))
            }
            None => Verdict::Approve,
        })
    }
}

/// A page straight from `memory.grow`, which must arrive zeroed.
fn grow_one_page() -> &'static mut [u8] {
    #[cfg(target_family = "wasm")]
    {
        let page = core::arch::wasm32::memory_grow(0, 1);
        assert!(page != usize::MAX, "memory.grow failed");
        // SAFETY: the page was just added to linear memory and nothing else owns it.
        unsafe { core::slice::from_raw_parts_mut((page * 65536) as *mut u8, 65536) }
    }
    #[cfg(not(target_family = "wasm"))]
    {
        Box::leak(vec![0u8; 65536].into_boxed_slice())
    }
}

rulegate_sdk::export!(MemoryProbe);
