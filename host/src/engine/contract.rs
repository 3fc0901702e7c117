//! The contract's rules on module output, beyond what the types already say. A module
//! that breaks them gets `EngineError::ContractViolation`, and the failure policy
//! answers instead: the host never forwards a malformed decision to a platform.

use std::collections::HashSet;
use std::fmt;

use super::EngineError;
pub use crate::model::MAX_AMOUNT;
use crate::model::{Cart, Decided, RuleError, ShippingOption, TaxDecision, Verdict};

/// The highest valid tax rate: 100 %.
pub const MAX_RATE: u32 = 10_000;
/// Shipping options per decision.
pub const MAX_SHIPPING_OPTIONS: usize = 50;
/// Separate tax lines per decision.
pub const MAX_SEPARATE_TAXES: usize = 16;
/// Bytes in an identifier or reference.
pub const MAX_ID_BYTES: usize = 128;
/// Bytes in a name or shopper-facing message.
pub const MAX_TEXT_BYTES: usize = 1024;

fn violation(message: String) -> EngineError {
    EngineError::ContractViolation(message)
}

// `what` names the checked value only in the error: callers pass `format_args!`, so
// nothing is formatted on the success path.
fn check_text(
    what: impl fmt::Display,
    text: &str,
    max: usize,
    required: bool,
) -> Result<(), EngineError> {
    if required && text.trim().is_empty() {
        return Err(violation(format!("{what} is empty")));
    }
    if text.len() > max {
        return Err(violation(format!(
            "{what} is {} bytes long (at most {max})",
            text.len()
        )));
    }
    Ok(())
}

fn check_rate(what: impl fmt::Display, rate: u32) -> Result<(), EngineError> {
    if rate > MAX_RATE {
        return Err(violation(format!(
            "{what} is {rate} basis points (at most {MAX_RATE})"
        )));
    }
    Ok(())
}

fn check_rule_error(error: &RuleError) -> Result<(), EngineError> {
    match error {
        RuleError::AddressUnsupported(message) | RuleError::AddressInvalid(message) => check_text(
            "the shopper message of a rule error",
            message,
            MAX_TEXT_BYTES,
            false,
        ),
        RuleError::CannotDecide(reason) => {
            check_text("the reason of cannot-decide", reason, MAX_TEXT_BYTES, false)
        }
    }
}

/// Shipping options: at most 50, unique non-empty ids, names, prices between 0 and the
/// maximum amount, valid rates, at most one preselected.
pub fn check_shipping(
    _cart: &Cart,
    decided: &Decided<Vec<ShippingOption>>,
) -> Result<(), EngineError> {
    let options = match decided {
        Ok(options) => options,
        Err(error) => return check_rule_error(error),
    };
    if options.len() > MAX_SHIPPING_OPTIONS {
        return Err(violation(format!(
            "{} shipping options (at most {MAX_SHIPPING_OPTIONS})",
            options.len()
        )));
    }
    let mut ids = HashSet::new();
    for option in options {
        let id = &option.id;
        check_text("a shipping option id", &option.id, MAX_ID_BYTES, true)?;
        if !ids.insert(option.id.as_str()) {
            return Err(violation(format!(
                "shipping option id {:?} appears twice",
                option.id
            )));
        }
        check_text(
            format_args!("shipping option {id:?}: name"),
            &option.name,
            MAX_TEXT_BYTES,
            true,
        )?;
        check_text(
            format_args!("shipping option {id:?}: description"),
            option.description.as_deref().unwrap_or(""),
            MAX_TEXT_BYTES,
            false,
        )?;
        check_text(
            format_args!("shipping option {id:?}: carrier"),
            option.carrier.as_deref().unwrap_or(""),
            MAX_ID_BYTES,
            false,
        )?;
        check_rate(
            format_args!("shipping option {id:?}: tax rate"),
            option.tax_rate,
        )?;
        if !(0..=MAX_AMOUNT).contains(&option.price.amount) {
            return Err(violation(format!(
                "shipping option {id:?}: price is {} (from 0 to {MAX_AMOUNT})",
                option.price.amount
            )));
        }
    }
    let preselected = options.iter().filter(|option| option.preselected).count();
    if preselected > 1 {
        return Err(violation(format!(
            "{preselected} shipping options are preselected (at most one)"
        )));
    }
    Ok(())
}

/// Tax: exactly one valid rate per cart line; separate taxes with a reference, a name, a
/// valid rate and distinct line indexes inside the cart.
pub fn check_tax(cart: &Cart, decided: &Decided<TaxDecision>) -> Result<(), EngineError> {
    let decision = match decided {
        Ok(decision) => decision,
        Err(error) => return check_rule_error(error),
    };
    if decision.line_rates.len() != cart.lines.len() {
        return Err(violation(format!(
            "{} line rates for a cart of {} lines (exactly one per line)",
            decision.line_rates.len(),
            cart.lines.len()
        )));
    }
    for (index, rate) in decision.line_rates.iter().enumerate() {
        check_rate(format_args!("the rate of line {index}"), *rate)?;
    }
    if decision.separate.len() > MAX_SEPARATE_TAXES {
        return Err(violation(format!(
            "{} separate taxes (at most {MAX_SEPARATE_TAXES})",
            decision.separate.len()
        )));
    }
    for tax in &decision.separate {
        check_text(
            "a separate tax reference",
            &tax.reference,
            MAX_ID_BYTES,
            true,
        )?;
        check_text("a separate tax name", &tax.name, MAX_TEXT_BYTES, true)?;
        check_rate(format_args!("separate tax {:?}", tax.reference), tax.rate)?;
        let mut seen = HashSet::new();
        for &index in &tax.lines {
            if index as usize >= cart.lines.len() {
                return Err(violation(format!(
                    "separate tax {:?} names line {index}, but the cart has {} lines",
                    tax.reference,
                    cart.lines.len()
                )));
            }
            if !seen.insert(index) {
                return Err(violation(format!(
                    "separate tax {:?} names line {index} twice",
                    tax.reference
                )));
            }
        }
    }
    Ok(())
}

/// Validation: a rejection carries a non-empty message of bounded length.
pub fn check_verdict(decided: &Decided<Verdict>) -> Result<(), EngineError> {
    match decided {
        Ok(Verdict::Approve) => Ok(()),
        Ok(Verdict::Reject(rejection)) => check_text(
            "a rejection message",
            &rejection.message,
            MAX_TEXT_BYTES,
            true,
        ),
        Err(error) => check_rule_error(error),
    }
}
