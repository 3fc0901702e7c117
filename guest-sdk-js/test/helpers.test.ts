import assert from "node:assert/strict";
import { test } from "node:test";

import {
  RuleFailure,
  addressUnsupported,
  approve,
  cannotDecide,
  destinationCountry,
  excludingTax,
  gross,
  includingTax,
  lineTotal,
  log,
  needsShipping,
  net,
  perLineTax,
  reject,
  shippedWeightGrams,
  shippingOption,
  totalGross,
  uniformTax,
  weightGrams,
  wholeUnits,
  withSeparate,
} from "../src/index.js";
import { CartBuilder, address, line } from "../src/testing.js";

const cart = new CartBuilder("EUR")
  .shipTo("DE")
  .billingAddress(address("FR").city("Paris").street("1 rue de Rivoli"))
  .line(line("BOOK", 2n, includingTax(1999n)).weight(300n))
  .line(line("COFFEE", 1n, excludingTax(1000n)).milliQuantity(2500n).kind("physical"))
  .line(line("EBOOK", 1n, includingTax(500n)).kind("digital"))
  .line(line("VOUCHER", 1n, includingTax(-1000n)).kind("discount"))
  .build();

test("prices gross and net", () => {
  assert.equal(gross(excludingTax(999n), 2100), 1209n);
  assert.equal(net(includingTax(1209n), 2100), 999n);
  assert.equal(gross(includingTax(1209n), 2100), 1209n);
});

test("lines: totals, units and weights", () => {
  const [book, coffee] = cart.lines;
  assert.deepEqual(lineTotal(book!), includingTax(3998n));
  assert.deepEqual(lineTotal(coffee!), excludingTax(2500n));
  assert.equal(wholeUnits(coffee!), 3n);
  assert.equal(weightGrams(book!), 600n);
  assert.equal(weightGrams(coffee!), undefined);
  const withoutPrice = line("X", 1n, includingTax(1n)).withoutPrice().build();
  assert.equal(lineTotal(withoutPrice), undefined);
});

test("the cart: destination, weight, totals", () => {
  assert.equal(destinationCountry(cart), "DE");
  assert.equal(destinationCountry(new CartBuilder("EUR").billingAddress(address("FR")).build()), "FR");
  assert.equal(destinationCountry(new CartBuilder("EUR").build()), undefined);
  // 600 g of books, and 2.5 units of coffee at a default 200 g: the e-book never ships.
  assert.equal(shippedWeightGrams(cart, 200n), 1100n);
  assert.ok(needsShipping(cart));
  // 3998 + 2500 grossed up at 7 % (2675) + 500 - 1000.
  assert.equal(totalGross(cart, () => 700), 3998n + 2675n + 500n - 1000n);
});

test("decisions", () => {
  const option = shippingOption("dhl", "DHL", excludingTax(499n), 1900, {
    carrier: "DHL",
    preselected: true,
  });
  assert.deepEqual(option, {
    id: "dhl",
    name: "DHL",
    price: { amount: 499n, includesTax: false },
    taxRate: 1900,
    method: "home",
    carrier: "DHL",
    preselected: true,
  });
  assert.deepEqual([...uniformTax(cart, 1900).lineRates], [1900, 1900, 1900, 1900]);
  const perLine = perLineTax(cart, (l) => (l.kind === "digital" ? 700 : 1900));
  assert.deepEqual([...perLine.lineRates], [1900, 1900, 700, 1900]);
  const separate = withSeparate(perLine, {
    reference: "sales-tax",
    name: "Sales tax",
    rate: 725,
    lines: Uint32Array.of(0, 1),
    includesShipping: false,
  });
  assert.equal(separate.separate.length, 1);
  assert.equal(perLine.separate.length, 0, "the decision given is left as it was");
  assert.deepEqual(approve(), { tag: "approve" });
  assert.deepEqual(reject("risk", "Call us"), {
    tag: "reject",
    val: { code: "risk", message: "Call us" },
  });
});

test("a rule error is thrown with the contract's payload as an own property", () => {
  const failure = addressUnsupported("No delivery to PO boxes");
  assert.ok(failure instanceof RuleFailure && failure instanceof Error);
  assert.ok(Object.hasOwn(failure, "payload"));
  assert.deepEqual(failure.payload, { tag: "address-unsupported", val: "No delivery to PO boxes" });
  assert.deepEqual(cannotDecide("no rate for XX").payload, { tag: "cannot-decide", val: "no rate for XX" });
});

test("log lines outside a component are captured", () => {
  log.info("deciding");
  log.warn("no weight");
  assert.deepEqual(log.takeCaptured(), [
    ["info", "deciding"],
    ["warn", "no weight"],
  ]);
  assert.deepEqual(log.takeCaptured(), []);
});

test("built carts are independent copies", () => {
  const builder = new CartBuilder("SEK").orderId("o-1").organization("SE556677889901");
  const first = builder.build();
  first.lines.push(line("X", 1n, includingTax(1n)).build());
  assert.equal(builder.build().lines.length, 0);
  assert.deepEqual(first.customer, { kind: "organization", vatId: "SE556677889901" });
  assert.equal(first.orderId, "o-1");
  assert.equal(first.receivedAtMs, 1_767_225_600_000n);
});
