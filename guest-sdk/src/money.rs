//! Exact money and tax arithmetic, shared by rules modules and the rulegate host.
//!
//! Amounts are integers in minor units, tax rates integers in basis points, quantities
//! integers in thousandths; nothing here touches floating point. Every division rounds
//! half away from zero (0.5 → 1, -0.5 → -1), the rule the host uses everywhere, so a
//! merchant's unit test computes exactly what the host will send the platform.
//! Intermediate products are computed in 128 bits; results that do not fit an `i64`
//! saturate.

use std::fmt;

/// 100 % in basis points.
pub const FULL_RATE: u32 = 10_000;

/// Divides and rounds half away from zero. `denominator` must be positive.
pub fn div_round(numerator: i128, denominator: i128) -> i128 {
    debug_assert!(denominator > 0, "denominator must be positive");
    let quotient = numerator / denominator;
    let remainder = numerator % denominator;
    if remainder.abs() * 2 >= denominator {
        quotient + numerator.signum()
    } else {
        quotient
    }
}

/// `a * b` when it fits in an `i64`. WebAssembly has no multiply-with-overflow, so
/// `checked_mul` becomes a 128-bit library call; when the operands' magnitudes are small
/// enough that the product cannot overflow (always, for real amounts, rates and
/// quantities) a plain multiplication is used instead.
#[inline]
pub fn mul_i64(a: i64, b: i64) -> Option<i64> {
    if a.unsigned_abs().leading_zeros() + b.unsigned_abs().leading_zeros() >= 65 {
        Some(a * b)
    } else {
        a.checked_mul(b)
    }
}

/// `a * b` for unsigned quantities, saturating, with the same fast path as [`mul_i64`].
#[inline]
pub fn mul_u64_saturating(a: u64, b: u64) -> u64 {
    if a.leading_zeros() + b.leading_zeros() >= 64 {
        a * b
    } else {
        a.saturating_mul(b)
    }
}

/// `a * b / denominator`, rounded half away from zero, saturating. Computed in 64 bits
/// when the product fits (always, for real amounts and rates): 128-bit arithmetic is a
/// slow library call in WebAssembly.
#[inline]
fn mul_div_round(a: i64, b: i64, denominator: i64) -> i64 {
    match mul_i64(a, b) {
        Some(product) => {
            let quotient = product / denominator;
            let remainder = product % denominator;
            if remainder.unsigned_abs() >= denominator.unsigned_abs() - remainder.unsigned_abs() {
                quotient + product.signum()
            } else {
                quotient
            }
        }
        None => saturate(div_round(a as i128 * b as i128, denominator as i128)),
    }
}

fn saturate(value: i128) -> i64 {
    value.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// The tax contained in a tax-inclusive amount: `gross * rate / (10000 + rate)`, rounded.
///
/// This is KCO's `total_tax_amount` rule: 50000 at 1000 bp contains 4545.
#[inline]
pub fn tax_included_in(gross: i64, rate: u32) -> i64 {
    mul_div_round(gross, rate as i64, FULL_RATE as i64 + rate as i64)
}

/// The tax due on a tax-exclusive amount: `net * rate / 10000`, rounded.
#[inline]
pub fn tax_on(net: i64, rate: u32) -> i64 {
    mul_div_round(net, rate as i64, FULL_RATE as i64)
}

/// A tax-exclusive amount with its tax added.
#[inline]
pub fn add_tax(net: i64, rate: u32) -> i64 {
    net.saturating_add(tax_on(net, rate))
}

/// A tax-inclusive amount with its tax taken out.
#[inline]
pub fn remove_tax(gross: i64, rate: u32) -> i64 {
    gross.saturating_sub(tax_included_in(gross, rate))
}

/// The price of `quantity` thousandths of a unit at `unit_price` per whole unit, rounded.
#[inline]
pub fn extend(unit_price: i64, quantity: u64) -> i64 {
    if quantity.is_multiple_of(1000)
        && let Ok(units) = i64::try_from(quantity / 1000)
    {
        return mul_i64(unit_price, units).unwrap_or(if (unit_price < 0) == (units < 0) {
            i64::MAX
        } else {
            i64::MIN
        });
    }
    match i64::try_from(quantity) {
        Ok(quantity) => mul_div_round(unit_price, quantity, 1000),
        Err(_) => saturate(div_round(unit_price as i128 * quantity as i128, 1000)),
    }
}

/// `amount` scaled by a rate: `amount * rate / 10000`, rounded. Handy for percentage
/// discounts and thresholds.
pub fn percent_of(amount: i64, rate: u32) -> i64 {
    tax_on(amount, rate)
}

/// The number of decimals of an ISO 4217 currency (its minor-unit exponent), or `None`
/// for a code that is not an active ISO 4217 currency.
pub fn currency_exponent(code: &str) -> Option<u32> {
    const ZERO: &[&str] = &[
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
        "VUV", "XAF", "XOF", "XPF",
    ];
    const THREE: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
    const FOUR: &[&str] = &["CLF", "UYW"];
    const TWO: &[&str] = &[
        "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
        "BGN", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF",
        "CHE", "CHF", "CHW", "CNY", "COP", "COU", "CRC", "CUC", "CUP", "CVE", "CZK", "DKK", "DOP",
        "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GTQ",
        "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR",
        "KPW", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK",
        "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO",
        "NOK", "NPR", "NZD", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "QAR", "RON", "RSD", "RUB",
        "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SLL", "SOS", "SRD", "SSP", "STN",
        "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "USD",
        "USN", "UYU", "UZS", "VED", "VES", "WST", "XCD", "XCG", "YER", "ZAR", "ZMW", "ZWG", "ZWL",
    ];
    [(ZERO, 0), (TWO, 2), (THREE, 3), (FOUR, 4)]
        .into_iter()
        .find(|(codes, _)| codes.contains(&code))
        .map(|(_, exponent)| exponent)
}

/// Why a decimal string could not be read as an amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalError {
    /// Not a decimal number: empty, stray characters, more than one point ...
    Malformed,
    /// More decimals than the target precision, and they are not all zero.
    Inexact,
    /// Too large for a 64-bit amount.
    OutOfRange,
}

impl fmt::Display for DecimalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DecimalError::Malformed => "not a decimal number",
            DecimalError::Inexact => "more decimals than the currency has",
            DecimalError::OutOfRange => "amount out of range",
        })
    }
}

impl std::error::Error for DecimalError {}

/// How to treat digits beyond the target precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Excess {
    /// Refuse them unless they are zeros: "5.990" is 599 cents, "5.991" is an error.
    Refuse,
    /// Round half away from zero: "18.2238" is 1822 cents, "0.005" is 1.
    Round,
}

/// Reads a decimal number in major units ("5.99", "-0.5", "100", "1.5e2") as an integer
/// count of `10^-exponent` units, digit by digit.
pub fn parse_decimal(text: &str, exponent: u32, excess: Excess) -> Result<i64, DecimalError> {
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, scientific) = match unsigned.find(['e', 'E']) {
        Some(at) => {
            let power: i32 = unsigned[at + 1..]
                .parse()
                .map_err(|_| DecimalError::Malformed)?;
            (&unsigned[..at], power)
        }
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return Err(DecimalError::Malformed);
    }
    // All significant digits, and how far the decimal point must move to reach the
    // target precision: digits past it are dropped (and must be zeros, or are rounded).
    let digits = whole.bytes().chain(fraction.bytes()).map(|b| b - b'0');
    let shift = exponent as i64 + scientific as i64 - fraction.len() as i64;
    let keep = whole.len() as i64 + fraction.len() as i64 + shift.min(0);
    let mut value: i128 = 0;
    let mut rounding_digit = 0u8;
    let mut dropped_nonzero = false;
    for (index, digit) in digits.enumerate() {
        let index = index as i64;
        if index < keep {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(digit as i128))
                .filter(|v| *v <= i64::MAX as i128 + 1)
                .ok_or(DecimalError::OutOfRange)?;
        } else {
            if index == keep {
                rounding_digit = digit;
            }
            dropped_nonzero |= digit != 0;
        }
    }
    if value != 0 {
        for _ in 0..shift.max(0) {
            value *= 10;
            if value > i64::MAX as i128 + 1 {
                return Err(DecimalError::OutOfRange);
            }
        }
    }
    if dropped_nonzero {
        match excess {
            Excess::Refuse => return Err(DecimalError::Inexact),
            Excess::Round if rounding_digit >= 5 => value += 1,
            Excess::Round => {}
        }
    }
    let value = if negative { -value } else { value };
    i64::try_from(value).map_err(|_| DecimalError::OutOfRange)
}

/// Writes `units` of `10^-exponent` as a decimal with exactly `exponent` decimals:
/// 599 with exponent 2 is "5.99", 100 with exponent 0 is "100", -5 with 2 is "-0.05".
pub fn format_decimal(units: i64, exponent: u32) -> String {
    let magnitude = units.unsigned_abs().to_string();
    let sign = if units < 0 { "-" } else { "" };
    if exponent == 0 {
        return format!("{sign}{magnitude}");
    }
    let width = exponent as usize + 1;
    let padded = format!("{magnitude:0>width$}");
    let (whole, fraction) = padded.split_at(padded.len() - exponent as usize);
    format!("{sign}{whole}.{fraction}")
}

/// Writes a decimal like [`format_decimal`] but without trailing zeros in the fraction:
/// 2100 basis points as a fraction (exponent 4) is "0.21", 10000 is "1".
pub fn format_decimal_trimmed(units: i64, exponent: u32) -> String {
    let full = format_decimal(units, exponent);
    if full.contains('.') {
        full.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        full
    }
}

/// Reads an amount in major units of `currency` ("5.99" EUR → 599) exactly.
pub fn parse_amount(text: &str, currency: &str) -> Result<i64, AmountError> {
    let exponent = currency_exponent(currency).ok_or(AmountError::UnknownCurrency)?;
    parse_decimal(text, exponent, Excess::Refuse).map_err(AmountError::Decimal)
}

/// Writes an amount in minor units of `currency` as major units (599 EUR → "5.99").
pub fn format_amount(minor: i64, currency: &str) -> Result<String, AmountError> {
    let exponent = currency_exponent(currency).ok_or(AmountError::UnknownCurrency)?;
    Ok(format_decimal(minor, exponent))
}

/// Why an amount in major units could not be converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmountError {
    /// The currency code is not an active ISO 4217 code.
    UnknownCurrency,
    /// The number itself is unusable.
    Decimal(DecimalError),
}

impl fmt::Display for AmountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AmountError::UnknownCurrency => f.write_str("unknown currency"),
            AmountError::Decimal(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for AmountError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(div_round(5, 10), 1);
        assert_eq!(div_round(4, 10), 0);
        assert_eq!(div_round(-5, 10), -1);
        assert_eq!(div_round(-4, 10), 0);
        assert_eq!(div_round(15, 10), 2);
        assert_eq!(div_round(-15, 10), -2);
        assert_eq!(div_round(0, 7), 0);
    }

    /// The vectors of the KCO money rules: tax contained in a line total.
    #[test]
    fn kco_tax_vectors() {
        // docs/PROTOCOLS.md §1.4: 50000 at 1000 bp → 4545 (5000 is rejected by KCO).
        assert_eq!(tax_included_in(50_000, 1000), 4545);
        // Discount lines carry negative tax.
        assert_eq!(tax_included_in(-50_000, 1000), -4545);
        assert_eq!(tax_included_in(10_000, 2500), 2000);
        assert_eq!(tax_included_in(12_500, 2500), 2500);
        assert_eq!(tax_included_in(10_000, 0), 0);
        assert_eq!(tax_included_in(0, 2500), 0);
        // 100 % rate: half of a gross amount is tax.
        assert_eq!(tax_included_in(10_001, 10_000), 5001);
    }

    /// KCO accepts a line when its tax is within 1 of `total - total * 10000 / (10000 + rate)`.
    #[test]
    fn tax_included_is_within_one_of_the_kco_formula() {
        for total in [-99_999i64, -1, 0, 1, 7, 199, 50_000, 123_457, 9_999_999] {
            for rate in [
                0u32, 1, 600, 700, 1000, 1200, 2000, 2100, 2500, 9999, 10_000,
            ] {
                let exact = total as f64 - total as f64 * 10000.0 / (10000.0 + rate as f64);
                let ours = tax_included_in(total, rate) as f64;
                assert!(
                    (ours - exact).abs() <= 1.0,
                    "{total} at {rate}: {ours} vs {exact}"
                );
            }
        }
    }

    #[test]
    fn net_and_gross() {
        assert_eq!(tax_on(10_000, 2500), 2500);
        assert_eq!(add_tax(999, 2100), 1209); // 209.79 → 210
        assert_eq!(remove_tax(1209, 2100), 999);
        assert_eq!(tax_on(-999, 2100), -210);
        assert_eq!(percent_of(12_345, 1000), 1235);
    }

    #[test]
    fn overflow_checks_without_wide_multiplication() {
        for (a, b) in [
            (0i64, i64::MIN),
            (i64::MAX, 1),
            (i64::MAX, -1),
            (-i64::MAX, -1),
            (3_037_000_499, 3_037_000_499),
            (3_037_000_500, 3_037_000_500),
            (i64::MIN, -1),
            (1 << 31, 1 << 31),
            (-(1 << 32), 1 << 30),
            (-7, 9),
        ] {
            assert_eq!(mul_i64(a, b), a.checked_mul(b), "{a} * {b}");
        }
        assert_eq!(mul_i64(i64::MIN, 1), Some(i64::MIN));
        for (a, b) in [
            (0u64, u64::MAX),
            (u64::MAX, 1),
            (u64::MAX, 2),
            (4_294_967_296, 4_294_967_295),
            (4_294_967_296, 4_294_967_296),
            (1 << 63, 1),
            (1 << 63, 2),
        ] {
            assert_eq!(mul_u64_saturating(a, b), a.saturating_mul(b), "{a} * {b}");
        }
    }

    #[test]
    fn the_fast_path_rounds_like_the_wide_one() {
        for a in [
            -1_000_001i64,
            -15,
            -5,
            -1,
            0,
            1,
            5,
            15,
            999,
            12_345,
            1_000_001,
            i64::MAX / 10_000,
        ] {
            for b in [0i64, 1, 7, 725, 1000, 2100, 10_000] {
                for d in [1i64, 2, 3, 10, 1000, 10_000, 11_000, 12_500] {
                    let wide = saturate(div_round(a as i128 * b as i128, d as i128));
                    assert_eq!(mul_div_round(a, b, d), wide, "{a} * {b} / {d}");
                }
            }
        }
        assert_eq!(mul_div_round(i64::MAX, 3, 2), i64::MAX);
        assert_eq!(mul_div_round(i64::MIN, 3, 2), i64::MIN);
        assert_eq!(mul_div_round(i64::MAX, 10_000, 20_000), i64::MAX / 2 + 1);
    }

    #[test]
    fn extend_by_exact_quantity() {
        assert_eq!(extend(1999, 3000), 5997);
        assert_eq!(extend(1000, 2500), 2500);
        // 0.333 kg at 9.99 per kg = 3.32667 → 3.33
        assert_eq!(extend(999, 333), 333);
        assert_eq!(extend(-500, 1000), -500);
        assert_eq!(extend(-999, 333), -333);
        assert_eq!(extend(i64::MAX, 2000), i64::MAX);
        assert_eq!(extend(i64::MAX, 1500), i64::MAX);
        assert_eq!(extend(3, u64::MAX), 55_340_232_221_128_655);
    }

    #[test]
    fn exponents() {
        assert_eq!(currency_exponent("EUR"), Some(2));
        assert_eq!(currency_exponent("USD"), Some(2));
        assert_eq!(currency_exponent("SEK"), Some(2));
        assert_eq!(currency_exponent("JPY"), Some(0));
        assert_eq!(currency_exponent("KWD"), Some(3));
        assert_eq!(currency_exponent("CLF"), Some(4));
        assert_eq!(currency_exponent("eur"), None);
        assert_eq!(currency_exponent("XXX"), None);
    }

    #[test]
    fn parse_amounts_exactly() {
        assert_eq!(parse_amount("5.99", "EUR"), Ok(599));
        assert_eq!(parse_amount("5.9", "EUR"), Ok(590));
        assert_eq!(parse_amount("5", "EUR"), Ok(500));
        assert_eq!(parse_amount("0.10", "USD"), Ok(10));
        assert_eq!(parse_amount("-12.34", "EUR"), Ok(-1234));
        assert_eq!(parse_amount("1000", "JPY"), Ok(1000));
        assert_eq!(parse_amount("1000.0", "JPY"), Ok(1000));
        assert_eq!(parse_amount("1.234", "KWD"), Ok(1234));
        assert_eq!(parse_amount("0.001", "KWD"), Ok(1));
        assert_eq!(parse_amount("105", "EUR"), Ok(10_500));
        // A float would say 0.1 + 0.2 != 0.3; digits never do.
        assert_eq!(
            parse_amount("0.1", "EUR").unwrap() + parse_amount("0.2", "EUR").unwrap(),
            parse_amount("0.3", "EUR").unwrap()
        );
        assert_eq!(
            parse_amount("5.991", "EUR"),
            Err(AmountError::Decimal(DecimalError::Inexact))
        );
        assert_eq!(
            parse_amount("1.5", "JPY"),
            Err(AmountError::Decimal(DecimalError::Inexact))
        );
        assert_eq!(parse_amount("1", "ABC"), Err(AmountError::UnknownCurrency));
    }

    #[test]
    fn parse_rejects_garbage() {
        for bad in [
            "", "-", ".", "1.2.3", "1,5", "abc", " 1", "1 ", "0x10", "1e", "--1", "1e+",
        ] {
            assert_eq!(
                parse_decimal(bad, 2, Excess::Refuse),
                Err(DecimalError::Malformed),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse_decimal("99999999999999999999", 2, Excess::Refuse),
            Err(DecimalError::OutOfRange)
        );
        assert_eq!(
            parse_decimal("1e30", 2, Excess::Refuse),
            Err(DecimalError::OutOfRange)
        );
    }

    #[test]
    fn parse_scientific_and_rounding() {
        assert_eq!(parse_decimal("1.5e2", 2, Excess::Refuse), Ok(15_000));
        assert_eq!(parse_decimal("15E-1", 2, Excess::Refuse), Ok(150));
        assert_eq!(parse_decimal("1e-2", 2, Excess::Refuse), Ok(1));
        assert_eq!(parse_decimal("18.2238", 2, Excess::Round), Ok(1822));
        assert_eq!(parse_decimal("105.0038", 2, Excess::Round), Ok(10_500));
        assert_eq!(parse_decimal("0.005", 2, Excess::Round), Ok(1));
        assert_eq!(parse_decimal("-0.005", 2, Excess::Round), Ok(-1));
        assert_eq!(parse_decimal("0.0049", 2, Excess::Round), Ok(0));
        assert_eq!(parse_decimal("5e-5", 2, Excess::Round), Ok(0));
        assert_eq!(parse_decimal("5e-3", 2, Excess::Round), Ok(1));
        assert_eq!(
            parse_decimal("5e-5", 2, Excess::Refuse),
            Err(DecimalError::Inexact)
        );
        assert_eq!(parse_decimal("0e999999999", 2, Excess::Refuse), Ok(0));
        assert_eq!(
            parse_decimal("1e999999999", 2, Excess::Refuse),
            Err(DecimalError::OutOfRange)
        );
        assert_eq!(
            parse_decimal("-92233720368547758.08", 2, Excess::Refuse),
            Ok(i64::MIN)
        );
        assert_eq!(parse_decimal(".5", 2, Excess::Refuse), Ok(50));
        assert_eq!(parse_decimal("5.", 2, Excess::Refuse), Ok(500));
        // Tax rates as fractions, in basis points.
        assert_eq!(parse_decimal("0.21", 4, Excess::Refuse), Ok(2100));
        assert_eq!(parse_decimal("0.055", 4, Excess::Refuse), Ok(550));
        assert_eq!(parse_decimal("0.0725", 4, Excess::Refuse), Ok(725));
    }

    #[test]
    fn format_amounts() {
        assert_eq!(format_amount(599, "EUR").unwrap(), "5.99");
        assert_eq!(format_amount(5, "EUR").unwrap(), "0.05");
        assert_eq!(format_amount(-5, "USD").unwrap(), "-0.05");
        assert_eq!(format_amount(0, "USD").unwrap(), "0.00");
        assert_eq!(format_amount(1000, "JPY").unwrap(), "1000");
        assert_eq!(format_amount(1234, "KWD").unwrap(), "1.234");
        assert_eq!(
            format_amount(i64::MIN, "EUR").unwrap(),
            "-92233720368547758.08"
        );
        assert_eq!(format_decimal_trimmed(2100, 4), "0.21");
        assert_eq!(format_decimal_trimmed(10_000, 4), "1");
        assert_eq!(format_decimal_trimmed(0, 4), "0");
        assert_eq!(format_decimal_trimmed(550, 4), "0.055");
    }

    #[test]
    fn format_then_parse_round_trips() {
        for exponent in [0u32, 2, 3, 4] {
            for units in [
                0i64,
                1,
                -1,
                9,
                10,
                99,
                100,
                599,
                -12_345,
                1_000_000_007,
                i64::MAX,
                i64::MIN + 1,
            ] {
                let text = format_decimal(units, exponent);
                assert_eq!(
                    parse_decimal(&text, exponent, Excess::Refuse),
                    Ok(units),
                    "{text}"
                );
            }
        }
    }
}
