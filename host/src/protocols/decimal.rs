//! Exact numbers from platform JSON: decimals read from their JSON text (a number or a
//! numeric string), never through a float, plus the line-kind names platforms share.

use serde_json::value::RawValue;

use crate::model::LineKind;
use crate::model::money::{self, Excess};

/// Why platform JSON could not be mapped: which field, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}`: {problem}")]
pub struct MappingError {
    /// The field's path.
    pub field: String,
    /// What is wrong with it.
    pub problem: String,
}

/// A decimal as the platform wrote it: a JSON number or a numeric string.
fn decimal_text(raw: &RawValue) -> &str {
    raw.get().trim().trim_matches('"')
}

/// A decimal at `exponent` places.
pub fn decimal(
    raw: &RawValue,
    exponent: u32,
    excess: Excess,
    field: &str,
) -> Result<i64, MappingError> {
    money::parse_decimal(decimal_text(raw), exponent, excess).map_err(|error| MappingError {
        field: field.to_string(),
        problem: format!("{:?} is not a decimal number: {error}", raw.get()),
    })
}

/// A quantity in thousandths, exactly.
pub fn quantity(raw: &RawValue, field: &str) -> Result<u64, MappingError> {
    let milli = money::parse_decimal(decimal_text(raw), 3, Excess::Refuse).map_err(|error| {
        MappingError {
            field: field.to_string(),
            problem: match error {
                money::DecimalError::Inexact => format!(
                    "the quantity {} has more than three decimals (quantities are exact to a thousandth)",
                    raw.get()
                ),
                money::DecimalError::OutOfRange => {
                    format!("the quantity {} is out of range", raw.get())
                }
                money::DecimalError::Malformed => {
                    format!("the quantity {:?} is not a decimal number", raw.get())
                }
            },
        }
    })?;
    u64::try_from(milli).map_err(|_| MappingError {
        field: field.to_string(),
        problem: "a quantity must not be negative".into(),
    })
}

/// A tax rate fraction (0.21) in basis points (2100).
pub fn rate(raw: &RawValue, field: &str) -> Result<u32, MappingError> {
    let bp = decimal(raw, 4, Excess::Round, field)?;
    u32::try_from(bp)
        .ok()
        .filter(|bp| *bp <= 10_000)
        .ok_or_else(|| MappingError {
            field: field.to_string(),
            problem: format!("{} is not a tax rate between 0 and 1", raw.get()),
        })
}

/// A line kind in the snake_case spelling KCO uses (and Messenger payload carts
/// borrow); unknown kinds are `other`.
pub fn line_kind(kind: &str) -> LineKind {
    match kind {
        "physical" => LineKind::Physical,
        "digital" => LineKind::Digital,
        "discount" => LineKind::Discount,
        "shipping_fee" => LineKind::ShippingFee,
        "gift_card" => LineKind::GiftCard,
        "store_credit" => LineKind::StoreCredit,
        "surcharge" => LineKind::Surcharge,
        _ => LineKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_string()).unwrap()
    }

    #[test]
    fn decimals_convert_exactly() {
        assert_eq!(quantity(&raw("2.000"), "q"), Ok(2000));
        assert_eq!(quantity(&raw("\"1.5\""), "q"), Ok(1500));
        let error = quantity(&raw("1.0001"), "q").unwrap_err().to_string();
        assert!(
            error.contains("the quantity 1.0001 has more than three decimals"),
            "{error}"
        );
        assert!(!error.contains("currency"), "{error}");
        assert!(quantity(&raw("-1"), "q").is_err());
        assert_eq!(rate(&raw("0.21"), "r"), Ok(2100));
        assert_eq!(rate(&raw("0.0725"), "r"), Ok(725));
        assert!(rate(&raw("1.5"), "r").is_err());
        assert_eq!(decimal(&raw("18.2238"), 2, Excess::Round, "a"), Ok(1822));
        assert_eq!(decimal(&raw("86.785"), 2, Excess::Round, "a"), Ok(8679));
        assert_eq!(decimal(&raw("105"), 2, Excess::Round, "a"), Ok(10500));
        assert!(decimal(&raw("\"abc\""), 2, Excess::Round, "a").is_err());
    }
}
