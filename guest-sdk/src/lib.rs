//! Write rulegate rules modules in Rust.
//!
//! A rules module answers three questions for a checkout: which shipping options at what
//! price ([`Rules::shipping_options`]), which tax rates ([`Rules::tax`]) and whether to
//! accept the order ([`Rules::validate`]). Implement [`Rules`] on a type, export it with
//! [`export!`], and build with `cargo build --release --target wasm32-unknown-unknown`
//! (the host makes the core module a component when it loads it):
//!
//! ```
//! use rulegate_sdk::prelude::*;
//!
//! struct FlatRate;
//!
//! impl Rules for FlatRate {
//!     fn shipping_options(_cart: &Cart) -> Result<Vec<ShippingOption>, RuleError> {
//!         Ok(vec![ShippingOption::new("standard", "Standard", Price::including_tax(490), 2500)])
//!     }
//!
//!     fn tax(cart: &Cart) -> Result<TaxDecision, RuleError> {
//!         Ok(TaxDecision::uniform(cart, 2500))
//!     }
//! }
//!
//! rulegate_sdk::export!(FlatRate);
//! ```
//!
//! The same crate compiles natively, so rules are unit-tested with plain `cargo test`;
//! [`testing`] builds carts for those tests.

#[cfg(all(target_family = "wasm", feature = "bump-allocator"))]
mod allocator;
pub mod helpers;
pub mod log;
pub mod money;
pub mod testing;

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "rules",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "__export_rules_world",
        default_bindings_module: "rulegate_sdk::bindings",
        additional_derives: [PartialEq, Eq],
        generate_all,
    });
}

pub use bindings::rulegate::checkout::host::LogLevel;
pub use bindings::rulegate::checkout::types::{
    Address, Attribute, BasisPoints, Cart, Customer, CustomerKind, Line, LineKind, MilliUnits,
    MinorUnits, PickupPoint, Platform, Price, QuoteDecision, Rejection, RejectionCode, RuleError,
    SeparateTax, ShippingMethod, ShippingOption, TaxDecision, Verdict,
};

/// A rules module: the three decisions rulegate asks for.
///
/// Where a callback needs both shipping and tax, the host asks for them in one call of
/// the contract's `quote`, which the SDK answers with [`Rules::shipping_options`] and
/// [`Rules::tax`] on the same cart. Every method is a pure function of the cart. Return `Err` to decline a decision
/// (see [`RuleError`]) rather than panicking: a panic traps the sandbox, and the host then
/// falls back to the tenant's failure policy.
pub trait Rules {
    /// The shipping options for this cart, in display order.
    fn shipping_options(cart: &Cart) -> Result<Vec<ShippingOption>, RuleError>;

    /// The tax rate of every line, in cart order, and any separate tax lines.
    fn tax(cart: &Cart) -> Result<TaxDecision, RuleError>;

    /// Whether to accept the order. Approves everything unless overridden.
    fn validate(cart: &Cart) -> Result<Verdict, RuleError> {
        let _ = cart;
        Ok(Verdict::Approve)
    }
}

impl<T: Rules> bindings::exports::rulegate::checkout::decisions::Guest for T {
    fn shipping_options(cart: Cart) -> Result<Vec<ShippingOption>, RuleError> {
        let decision = <T as Rules>::shipping_options(&cart);
        discard(cart);
        decision
    }

    fn tax(cart: Cart) -> Result<TaxDecision, RuleError> {
        let decision = <T as Rules>::tax(&cart);
        discard(cart);
        decision
    }

    fn validate(cart: Cart) -> Result<Verdict, RuleError> {
        let decision = <T as Rules>::validate(&cart);
        discard(cart);
        decision
    }

    fn quote(cart: Cart) -> QuoteDecision {
        let decision = QuoteDecision {
            shipping: <T as Rules>::shipping_options(&cart),
            tax: <T as Rules>::tax(&cart),
        };
        discard(cart);
        decision
    }
}

/// Lets go of the cart after a decision. With the bump allocator, freeing its hundreds
/// of strings one by one reclaims nothing (the instance is discarded after the
/// callback) and costs fuel, so the cart is simply forgotten.
fn discard(cart: Cart) {
    if cfg!(all(target_family = "wasm", feature = "bump-allocator")) {
        std::mem::forget(cart);
    } else {
        drop(cart);
    }
}

/// Exports a [`Rules`] implementation as the module's decisions.
///
/// Use it once per rules crate. It only emits the WebAssembly exports when compiling for
/// a wasm target, so the same crate also builds natively for tests and for hosts that
/// link rules directly.
#[macro_export]
macro_rules! export {
    ($rules:ident) => {
        #[cfg(target_family = "wasm")]
        $crate::bindings::__export_rules_world!($rules with_types_in $crate::bindings);
    };
}

/// Everything a rules crate usually needs, in one import.
pub mod prelude {
    pub use crate::money;
    pub use crate::{
        Address, Attribute, BasisPoints, Cart, Customer, CustomerKind, Line, LineKind, MilliUnits,
        MinorUnits, PickupPoint, Platform, Price, Rejection, RejectionCode, RuleError, Rules,
        SeparateTax, ShippingMethod, ShippingOption, TaxDecision, Verdict,
    };
}
