import assert from "node:assert/strict";
import { test } from "node:test";

import { type Cart, type Rules, type ShippingOption, approve, cannotDecide, excludingTax, shippingOption } from "../src/index.js";
import { exported } from "../src/wire.js";

/** A cart as componentize-qjs's bindings hand it over: 64-bit integers as numbers, an
 * absent option as `null`. */
function wireCart(amount: number): unknown {
  return {
    platform: "kco",
    orderId: null,
    currency: "EUR",
    locale: null,
    lines: [
      {
        reference: "A",
        name: "A",
        kind: "physical",
        quantity: 2000,
        unitPrice: { amount, includesTax: true },
        discount: 0,
        taxRate: 1900,
        unitWeightGrams: null,
        attributes: [],
      },
    ],
    billingAddress: null,
    shippingAddress: { country: "DE", region: null, postalCode: null, city: null, streetLines: [], organization: null },
    pickupPoint: null,
    selectedShippingOption: null,
    customer: { kind: "person", vatId: null, organizationId: null },
    merchantData: null,
    receivedAtMs: 1767225600000,
  };
}

// Frozen, as a rule's constant answer may be.
const OPTIONS = Object.freeze([shippingOption("flat", "Flat", excludingTax(499n), 1900)]) as ShippingOption[];

function exportedWith(shippingOptions: (cart: Cart) => ShippingOption[]) {
  const rules: Rules = {
    shippingOptions,
    tax: (cart) => ({ lineRates: new Uint32Array(cart.lines.length), separate: [] }),
    validate: () => approve(),
  };
  return exported(rules) as unknown as Record<keyof Rules | "quote", (cart: unknown) => unknown>;
}

test("a rule sees the contract's types: bigint for 64-bit integers, undefined for none", () => {
  let seen: Cart | undefined;
  const decisions = exportedWith((cart) => {
    seen = cart;
    return OPTIONS;
  });
  decisions.shippingOptions(wireCart(1999));
  const line = seen?.lines[0];
  assert.equal(line?.quantity, 2000n);
  assert.equal(line?.unitPrice?.amount, 1999n);
  assert.equal(line?.discount, 0n);
  assert.equal(line?.taxRate, 1900, "a 32-bit integer stays a number");
  assert.equal(line?.unitWeightGrams, undefined);
  assert.equal(seen?.receivedAtMs, 1767225600000n);
  assert.equal(seen?.billingAddress, undefined);
  assert.equal(seen?.shippingAddress?.region, undefined);
});

test("an answer goes as numbers and plain arrays, copied from a frozen constant", () => {
  const decisions = exportedWith(() => OPTIONS);
  assert.deepEqual(decisions.shippingOptions(wireCart(1999)), [
    {
      id: "flat",
      name: "Flat",
      price: { amount: 499, includesTax: false },
      taxRate: 1900,
      method: "home",
      preselected: false,
    },
  ]);
  assert.deepEqual(decisions.tax(wireCart(1999)), { lineRates: [0], separate: [] });
  assert.deepEqual(decisions.validate(wireCart(1999)), { tag: "approve" });
});

test("a RuleFailure is thrown as the contract's rule-error; anything else as itself", () => {
  const declining = exportedWith(() => {
    throw cannotDecide("no rates");
  });
  assert.throws(() => declining.shippingOptions(wireCart(1)), (thrown: unknown) => {
    assert.deepEqual(thrown, { tag: "cannot-decide", val: "no rates" });
    return true;
  });
  const bug = new TypeError("a bug");
  const failing = exportedWith(() => {
    throw bug;
  });
  assert.throws(() => failing.shippingOptions(wireCart(1)), (thrown: unknown) => thrown === bug);
});

test("an amount beyond 2^53 is refused both ways, never rounded", () => {
  const decisions = exportedWith(() => OPTIONS);
  const beyond = (thrown: unknown) =>
    (thrown as { tag?: string }).tag === "cannot-decide" && String((thrown as { val?: string }).val).includes("beyond");
  assert.doesNotThrow(() => decisions.shippingOptions(wireCart(Number.MAX_SAFE_INTEGER)));
  assert.throws(() => decisions.shippingOptions(wireCart(2 ** 53)), beyond);
  const huge = exportedWith(() => [shippingOption("huge", "Huge", excludingTax(2n ** 60n), 0)]);
  assert.throws(() => huge.shippingOptions(wireCart(1)), beyond);
});

test("quote answers shipping and tax in one call, each half its own result", () => {
  let carts = 0;
  const decisions = exportedWith((cart) => {
    carts += cart.lines.length;
    return OPTIONS;
  });
  assert.deepEqual(decisions.quote(wireCart(1999)), {
    shipping: { tag: "ok", val: decisions.shippingOptions(wireCart(1999)) },
    tax: { tag: "ok", val: { lineRates: [0], separate: [] } },
  });
  assert.equal(carts, 2);
  const declining = exportedWith(() => {
    throw cannotDecide("no rates");
  });
  assert.deepEqual(declining.quote(wireCart(1)), {
    shipping: { tag: "err", val: { tag: "cannot-decide", val: "no rates" } },
    tax: { tag: "ok", val: { lineRates: [0], separate: [] } },
  });
  // Anything else fails the whole call: the host then asks each decision on its own.
  const bug = new TypeError("a bug");
  const failing = exportedWith(() => {
    throw bug;
  });
  assert.throws(() => failing.quote(wireCart(1)), (thrown: unknown) => thrown === bug);
});
