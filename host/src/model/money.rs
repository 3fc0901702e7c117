//! Money arithmetic: exact minor units, basis points and decimal conversion.
//!
//! One implementation serves the host and the guest SDK (`rulegate_sdk::money`), so a
//! merchant's unit test rounds exactly as the host does. The rounding rule, half away
//! from zero, is written and tested there once.

pub use rulegate_sdk::money::*;
