// The Rust SDK's money vectors: both SDKs and the host compute the same cents.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  DecimalError,
  addTax,
  currencyExponent,
  divRound,
  extend,
  formatAmount,
  formatDecimalTrimmed,
  parseAmount,
  parseDecimal,
  percentOf,
  removeTax,
  taxIncludedIn,
  taxOn,
} from "../src/money.js";

const I64_MAX = (1n << 63n) - 1n;
const I64_MIN = -(1n << 63n);

test("rounding is half away from zero", () => {
  assert.equal(divRound(5n, 10n), 1n);
  assert.equal(divRound(4n, 10n), 0n);
  assert.equal(divRound(-5n, 10n), -1n);
  assert.equal(divRound(-4n, 10n), 0n);
  assert.equal(divRound(15n, 10n), 2n);
  assert.equal(divRound(-15n, 10n), -2n);
  assert.equal(divRound(0n, 7n), 0n);
  assert.throws(() => divRound(1n, 0n), RangeError);
});

test("the tax contained in a line total follows KCO's rule", () => {
  assert.equal(taxIncludedIn(50_000n, 1000), 4545n);
  assert.equal(taxIncludedIn(-50_000n, 1000), -4545n);
  assert.equal(taxIncludedIn(10_000n, 2500), 2000n);
  assert.equal(taxIncludedIn(12_500n, 2500), 2500n);
  assert.equal(taxIncludedIn(10_000n, 0), 0n);
  assert.equal(taxIncludedIn(10_001n, 10_000), 5001n);
  for (const total of [-99_999, -1, 0, 1, 7, 199, 50_000, 123_457, 9_999_999]) {
    for (const rate of [0, 1, 600, 700, 1000, 1200, 2000, 2100, 2500, 9999, 10_000]) {
      const exact = total - (total * 10000) / (10000 + rate);
      const ours = Number(taxIncludedIn(BigInt(total), rate));
      assert.ok(Math.abs(ours - exact) <= 1, `${total} at ${rate}: ${ours} vs ${exact}`);
    }
  }
  assert.throws(() => taxOn(100n, 7.25), RangeError, "a rate is whole basis points");
});

test("net and gross", () => {
  assert.equal(taxOn(10_000n, 2500), 2500n);
  assert.equal(addTax(999n, 2100), 1209n);
  assert.equal(removeTax(1209n, 2100), 999n);
  assert.equal(taxOn(-999n, 2100), -210n);
  assert.equal(percentOf(12_345n, 1000), 1235n);
});

test("extending by exact quantities, saturating", () => {
  assert.equal(extend(1999n, 3000n), 5997n);
  assert.equal(extend(1000n, 2500n), 2500n);
  assert.equal(extend(999n, 333n), 333n);
  assert.equal(extend(-500n, 1000n), -500n);
  assert.equal(extend(I64_MAX, 2000n), I64_MAX);
  assert.equal(extend(I64_MAX, 1500n), I64_MAX);
  assert.equal(extend(3n, (1n << 64n) - 1n), 55_340_232_221_128_655n);
});

test("currency exponents", () => {
  assert.equal(currencyExponent("EUR"), 2);
  assert.equal(currencyExponent("JPY"), 0);
  assert.equal(currencyExponent("KWD"), 3);
  assert.equal(currencyExponent("CLF"), 4);
  assert.equal(currencyExponent("eur"), undefined);
  assert.equal(currencyExponent("XXX"), undefined);
});

test("amounts are read exactly", () => {
  assert.equal(parseAmount("5.99", "EUR"), 599n);
  assert.equal(parseAmount("5.9", "EUR"), 590n);
  assert.equal(parseAmount("5", "EUR"), 500n);
  assert.equal(parseAmount("-12.34", "EUR"), -1234n);
  assert.equal(parseAmount("1000.0", "JPY"), 1000n);
  assert.equal(parseAmount("0.001", "KWD"), 1n);
  assert.equal(parseAmount("0.1", "EUR") + parseAmount("0.2", "EUR"), parseAmount("0.3", "EUR"));
  const kind = (run: () => unknown) => {
    try {
      run();
    } catch (error) {
      assert.ok(error instanceof DecimalError);
      return error.kind;
    }
    return "no error";
  };
  assert.equal(kind(() => parseAmount("5.991", "EUR")), "inexact");
  assert.equal(kind(() => parseAmount("1.5", "JPY")), "inexact");
  assert.equal(kind(() => parseAmount("1", "ABC")), "unknown-currency");
  for (const bad of ["", "-", ".", "1.2.3", "1,5", "abc", " 1", "1 ", "0x10", "1e", "--1", "1e+"]) {
    assert.equal(kind(() => parseDecimal(bad, 2)), "malformed", JSON.stringify(bad));
  }
  assert.equal(kind(() => parseDecimal("99999999999999999999", 2)), "out-of-range");
  assert.equal(kind(() => parseDecimal("1e30", 2)), "out-of-range");
  assert.equal(kind(() => parseDecimal("1e999999999", 2)), "out-of-range");
  assert.equal(kind(() => parseDecimal("5e-5", 2)), "inexact");
});

test("scientific notation and rounding", () => {
  assert.equal(parseDecimal("1.5e2", 2), 15_000n);
  assert.equal(parseDecimal("15E-1", 2), 150n);
  assert.equal(parseDecimal("1e-2", 2), 1n);
  assert.equal(parseDecimal("18.2238", 2, "round"), 1822n);
  assert.equal(parseDecimal("105.0038", 2, "round"), 10_500n);
  assert.equal(parseDecimal("0.005", 2, "round"), 1n);
  assert.equal(parseDecimal("-0.005", 2, "round"), -1n);
  assert.equal(parseDecimal("0.0049", 2, "round"), 0n);
  assert.equal(parseDecimal("5e-5", 2, "round"), 0n);
  assert.equal(parseDecimal("5e-3", 2, "round"), 1n);
  assert.equal(parseDecimal("0e999999999", 2), 0n);
  assert.equal(parseDecimal("-92233720368547758.08", 2), I64_MIN);
  assert.equal(parseDecimal(".5", 2), 50n);
  assert.equal(parseDecimal("5.", 2), 500n);
  assert.equal(parseDecimal("0.21", 4), 2100n);
  assert.equal(parseDecimal("0.0725", 4), 725n);
});

test("amounts are written in major units", () => {
  assert.equal(formatAmount(599n, "EUR"), "5.99");
  assert.equal(formatAmount(5n, "EUR"), "0.05");
  assert.equal(formatAmount(-5n, "USD"), "-0.05");
  assert.equal(formatAmount(0n, "USD"), "0.00");
  assert.equal(formatAmount(1000n, "JPY"), "1000");
  assert.equal(formatAmount(1234n, "KWD"), "1.234");
  assert.equal(formatAmount(I64_MIN, "EUR"), "-92233720368547758.08");
  assert.equal(formatDecimalTrimmed(2100n, 4), "0.21");
  assert.equal(formatDecimalTrimmed(10_000n, 4), "1");
});
