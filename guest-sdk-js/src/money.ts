/**
 * Exact money and tax arithmetic, the same as the Rust SDK's and the host's.
 *
 * Amounts are `bigint`s in minor units, tax rates integers in basis points, quantities
 * `bigint`s in thousandths; nothing here touches floating point. Every division rounds
 * half away from zero (0.5 → 1, -0.5 → -1), the rule the host uses everywhere, so a
 * merchant's unit test computes exactly what the host will send the platform. Results
 * that do not fit the contract's 64-bit amounts saturate.
 */

/** 100 % in basis points. */
export const FULL_RATE = 10_000;

const I64_MAX = (1n << 63n) - 1n;
const I64_MIN = -(1n << 63n);

/** Clamps to the contract's signed 64-bit range. */
export function saturate(value: bigint): bigint {
  return value > I64_MAX ? I64_MAX : value < I64_MIN ? I64_MIN : value;
}

function sign(value: bigint): bigint {
  return value > 0n ? 1n : value < 0n ? -1n : 0n;
}

function abs(value: bigint): bigint {
  return value < 0n ? -value : value;
}

/** Divides and rounds half away from zero. `denominator` must be positive. */
export function divRound(numerator: bigint, denominator: bigint): bigint {
  if (denominator <= 0n) {
    throw new RangeError("divRound: the denominator must be positive");
  }
  const quotient = numerator / denominator;
  const remainder = numerator % denominator;
  return abs(remainder) * 2n >= denominator ? quotient + sign(numerator) : quotient;
}

function rate(value: number): bigint {
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`a tax rate is a whole number of basis points, not ${value}`);
  }
  return BigInt(value);
}

/** The tax contained in a tax-inclusive amount: `gross * rate / (10000 + rate)`, rounded
 * (KCO's `total_tax_amount` rule: 50000 at 1000 bp contains 4545). */
export function taxIncludedIn(gross: bigint, basisPoints: number): bigint {
  const r = rate(basisPoints);
  return saturate(divRound(gross * r, BigInt(FULL_RATE) + r));
}

/** The tax due on a tax-exclusive amount: `net * rate / 10000`, rounded. */
export function taxOn(net: bigint, basisPoints: number): bigint {
  return saturate(divRound(net * rate(basisPoints), BigInt(FULL_RATE)));
}

/** A tax-exclusive amount with its tax added. */
export function addTax(net: bigint, basisPoints: number): bigint {
  return saturate(net + taxOn(net, basisPoints));
}

/** A tax-inclusive amount with its tax taken out. */
export function removeTax(gross: bigint, basisPoints: number): bigint {
  return saturate(gross - taxIncludedIn(gross, basisPoints));
}

/** The price of `quantity` thousandths of a unit at `unitPrice` per whole unit, rounded. */
export function extend(unitPrice: bigint, quantity: bigint): bigint {
  return saturate(divRound(unitPrice * quantity, 1000n));
}

/** `amount` scaled by a rate: `amount * rate / 10000`, rounded. Handy for percentage
 * discounts and thresholds. */
export function percentOf(amount: bigint, basisPoints: number): bigint {
  return taxOn(amount, basisPoints);
}

const EXPONENTS: ReadonlyArray<readonly [number, readonly string[]]> = [
  [0, ["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"]],
  [3, ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"]],
  [4, ["CLF", "UYW"]],
  [2, [
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
  ]],
];

/** The number of decimals of an ISO 4217 currency (its minor-unit exponent), or
 * `undefined` for a code that is not an active ISO 4217 currency. */
export function currencyExponent(code: string): number | undefined {
  return EXPONENTS.find(([, codes]) => codes.includes(code))?.[0];
}

/** Why a decimal string could not be read as an amount. */
export type DecimalErrorKind = "malformed" | "inexact" | "out-of-range" | "unknown-currency";

/** A decimal or amount that could not be read, and why. */
export class DecimalError extends Error {
  constructor(
    readonly kind: DecimalErrorKind,
    text: string,
  ) {
    const why = {
      malformed: "not a decimal number",
      inexact: "more decimals than the currency has",
      "out-of-range": "amount out of range",
      "unknown-currency": "unknown currency",
    }[kind];
    super(`${JSON.stringify(text.slice(0, 40))}: ${why}`);
    this.name = "DecimalError";
  }
}

/** How to treat digits beyond the target precision: refuse them unless they are zeros
 * ("5.990" is 599 cents, "5.991" an error), or round half away from zero. */
export type Excess = "refuse" | "round";

/** Reads a decimal number in major units ("5.99", "-0.5", "100", "1.5e2") as an integer
 * count of `10^-exponent` units, digit by digit. */
export function parseDecimal(text: string, exponent: number, excess: Excess = "refuse"): bigint {
  const match = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!match || (match[2] === "" && (match[3] ?? "") === "")) {
    throw new DecimalError("malformed", text);
  }
  const [, signText, whole, fraction = "", power = "0"] = match;
  if (Math.abs(Number(power)) > 2 ** 31 - 1) {
    throw new DecimalError("malformed", text);
  }
  const digits = whole + fraction;
  // How far the decimal point must move to reach the target precision: digits past it
  // are dropped (and must be zeros, or are rounded).
  const shift = exponent + Number(power) - fraction.length;
  const keep = digits.length + Math.min(shift, 0);
  const kept = keep > 0 ? digits.slice(0, keep) : "";
  const dropped = keep >= 0 ? digits.slice(keep) : digits;
  let value = BigInt(kept === "" ? "0" : kept);
  if (value !== 0n && shift > 0) {
    // Nothing past 10^19 fits 64 bits: stop before a huge power is computed.
    if (kept.replace(/^0+/, "").length + shift > 20) {
      throw new DecimalError("out-of-range", text);
    }
    value *= 10n ** BigInt(shift);
  }
  if (/[1-9]/.test(dropped)) {
    if (excess === "refuse") {
      throw new DecimalError("inexact", text);
    }
    const roundingDigit = keep >= 0 ? Number(dropped[0]) : 0;
    if (roundingDigit >= 5) {
      value += 1n;
    }
  }
  const signed = signText === "-" ? -value : value;
  if (signed !== saturate(signed)) {
    throw new DecimalError("out-of-range", text);
  }
  return signed;
}

/** Writes `units` of `10^-exponent` as a decimal with exactly `exponent` decimals: 599
 * with exponent 2 is "5.99", 100 with exponent 0 is "100", -5 with 2 is "-0.05". */
export function formatDecimal(units: bigint, exponent: number): string {
  const magnitude = abs(units).toString();
  const signText = units < 0n ? "-" : "";
  if (exponent === 0) {
    return signText + magnitude;
  }
  const padded = magnitude.padStart(exponent + 1, "0");
  return `${signText}${padded.slice(0, -exponent)}.${padded.slice(-exponent)}`;
}

/** Like {@link formatDecimal} without trailing zeros in the fraction: 2100 basis points
 * as a fraction (exponent 4) is "0.21", 10000 is "1". */
export function formatDecimalTrimmed(units: bigint, exponent: number): string {
  const full = formatDecimal(units, exponent);
  return full.includes(".") ? full.replace(/0+$/, "").replace(/\.$/, "") : full;
}

function exponentOf(currency: string): number {
  const exponent = currencyExponent(currency);
  if (exponent === undefined) {
    throw new DecimalError("unknown-currency", currency);
  }
  return exponent;
}

/** Reads an amount in major units of `currency` ("5.99" EUR → 599n) exactly. */
export function parseAmount(text: string, currency: string): bigint {
  return parseDecimal(text, exponentOf(currency), "refuse");
}

/** Writes an amount in minor units of `currency` as major units (599n EUR → "5.99"). */
export function formatAmount(minor: bigint, currency: string): string {
  return formatDecimal(minor, exponentOf(currency));
}
