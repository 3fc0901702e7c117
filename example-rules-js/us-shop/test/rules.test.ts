// The Rust us-shop's unit tests, for its TypeScript twin.
import assert from "node:assert/strict";
import { test } from "node:test";

import { type Line, RuleFailure, excludingTax } from "@rulegate/sdk";
import { CartBuilder, address, line } from "@rulegate/sdk/testing";

import { decisions, isPoBox } from "../src/rules.js";

const to = (state: string) =>
  new CartBuilder("USD").shippingAddress(
    address("US").region(state).postalCode("90210").street("10 Lombard St"),
  );
const shirt = (units: bigint): Line => line("SHIRT", units, excludingTax(2_000n)).build();

test("sales tax is a separate line", () => {
  const cart = to("CA")
    .line(shirt(1n))
    .line(line("GIFT", 1n, excludingTax(5_000n)).kind("gift-card"))
    .build();
  const decision = decisions.tax(cart);
  assert.deepEqual([...decision.lineRates], [0, 0]);
  const [tax] = decision.separate;
  assert.deepEqual([tax?.rate, [...(tax?.lines ?? [])], tax?.includesShipping], [725, [0], false]);
  assert.equal(tax?.name, "Sales tax (CA 7.25 %)");
});

test("shipping is taxed where the state says so", () => {
  const decision = decisions.tax(to("TX").line(shirt(1n)).build());
  assert.equal(decision.separate[0]?.includesShipping, true);
  assert.equal(decision.separate[0]?.rate, 625);
});

test("no tax line in tax-free states or before an address", () => {
  assert.equal(decisions.tax(to("OR").line(shirt(1n)).build()).separate.length, 0);
  assert.equal(decisions.tax(new CartBuilder("USD").line(shirt(1n)).build()).separate.length, 0);
});

test("digital goods are exempt in some states", () => {
  const ebook = () => line("EBOOK", 1n, excludingTax(999n)).kind("digital");
  const ca = decisions.tax(to("CA").line(ebook()).line(shirt(1n)).build());
  assert.deepEqual([...(ca.separate[0]?.lines ?? [])], [1]);
  const wa = decisions.tax(to("WA").line(ebook()).line(shirt(1n)).build());
  assert.deepEqual([...(wa.separate[0]?.lines ?? [])], [0, 1]);
});

test("flat and express shipping, free above the threshold", () => {
  let options = decisions.shippingOptions(to("CA").line(shirt(1n)).build());
  assert.equal(options.length, 2);
  assert.deepEqual(options[0]?.price, excludingTax(599n));
  assert.deepEqual(options[1]?.price, excludingTax(1499n));
  options = decisions.shippingOptions(to("CA").line(shirt(4n)).build());
  assert.equal(options[0]?.price.amount, 0n);
  assert.equal(decisions.shippingOptions(to("HI").line(shirt(1n)).build()).length, 1);
});

test("Buy Buttons without lines still ship", () => {
  const cart = to("TX").platform("messenger").build();
  assert.equal(decisions.shippingOptions(cart).length, 2);
  const tax = decisions.tax(cart);
  assert.equal(tax.separate[0]?.includesShipping, true);
  assert.equal(tax.separate[0]?.lines.length, 0);
  const digital = to("CA").line(line("EBOOK", 1n, excludingTax(900n)).kind("digital")).build();
  assert.deepEqual(decisions.shippingOptions(digital), []);
});

test("PO boxes are refused", () => {
  for (const street of ["PO Box 123", "P.O. Box 9", "p o box 7", "Post Office Box 55", "POB 12", "Box 12"]) {
    const cart = new CartBuilder("USD")
      .shippingAddress(address("US").region("CA").postalCode("90210").street(street))
      .line(shirt(1n))
      .build();
    assert.throws(
      () => decisions.shippingOptions(cart),
      (error: unknown) => error instanceof RuleFailure && error.payload.tag === "address-unsupported",
      street,
    );
    const verdict = decisions.validate(cart);
    assert.ok(verdict.tag === "reject" && verdict.val.code === "address-unsupported", street);
  }
  for (const street of ["10 Boxwood Lane", "1 Pobrook Road", "Apt 5, 20 Post Office Square"]) {
    assert.equal(isPoBox(address("US").street(street).build()), false, street);
  }
});

test("validation", () => {
  assert.deepEqual(decisions.validate(to("CA").line(shirt(1n)).build()), { tag: "approve" });
  const code = (cart: ReturnType<CartBuilder["build"]>) => {
    const verdict = decisions.validate(cart);
    return verdict.tag === "reject" ? verdict.val.code : "approved";
  };
  assert.equal(code(new CartBuilder("USD").shipTo("CA").line(shirt(1n)).build()), "address-unsupported");
  assert.equal(
    code(new CartBuilder("USD").shippingAddress(address("US").region("CA").postalCode("9021")).line(shirt(1n)).build()),
    "address-invalid",
  );
  assert.equal(code(to("CA").line(line("CAR", 1n, excludingTax(2_000_000n))).build()), "order-limit");
  assert.throws(() => decisions.tax(new CartBuilder("EUR").build()), RuleFailure);
});
