/**
 * Rules of a US online shop: the TypeScript twin of `example-rules/us-shop`, giving the
 * same answers on every cart.
 *
 * - Sales tax by destination state, charged as a separate tax line (prices exclude
 *   tax); gift cards are never taxed, digital goods are exempt in some states, and
 *   some states tax shipping.
 * - Flat-rate standard shipping, free above a threshold, and express shipping to the
 *   contiguous states.
 * - No delivery to PO boxes or outside the US.
 *
 * State base rates only (no local rates), in basis points. Illustrative.
 */

import {
  type Address,
  type Cart,
  type Line,
  type Rules,
  type ShippingOption,
  addressInvalid,
  addressUnsupported,
  approve,
  cannotDecide,
  destination,
  excludingTax,
  isGoods,
  lineTotal,
  money,
  needsShipping,
  net,
  reject,
  RuleFailure,
  shippingOption,
  uniformTax,
  withSeparate,
} from "@rulegate/sdk";

/** State sales tax base rates in basis points. */
const STATE_RATES: ReadonlyMap<string, number> = new Map([
  ["AK", 0], ["AL", 400], ["AR", 650], ["AZ", 560], ["CA", 725], ["CO", 290], ["CT", 635],
  ["DC", 600], ["DE", 0], ["FL", 600], ["GA", 400], ["HI", 400], ["IA", 600], ["ID", 600],
  ["IL", 625], ["IN", 700], ["KS", 650], ["KY", 600], ["LA", 500], ["MA", 625], ["MD", 600],
  ["ME", 550], ["MI", 600], ["MN", 688], ["MO", 423], ["MS", 700], ["MT", 0], ["NC", 475],
  ["ND", 500], ["NE", 550], ["NH", 0], ["NJ", 663], ["NM", 488], ["NV", 685], ["NY", 400],
  ["OH", 575], ["OK", 450], ["OR", 0], ["PA", 600], ["RI", 700], ["SC", 600], ["SD", 420],
  ["TN", 700], ["TX", 625], ["UT", 610], ["VA", 530], ["VT", 600], ["WA", 650], ["WI", 500],
  ["WV", 600], ["WY", 400],
]);

/** States whose sales tax also applies to shipping charges. */
const TAXES_SHIPPING: ReadonlySet<string> = new Set([
  "AR", "CT", "GA", "HI", "KS", "KY", "MI", "MN", "MS", "NE", "NJ", "NM", "NY", "NC", "ND", "OH",
  "PA", "RI", "SC", "SD", "TN", "TX", "VT", "WA", "WI", "WV",
]);

/** States where digital goods are exempt. */
const DIGITAL_EXEMPT: ReadonlySet<string> = new Set(["CA", "FL", "MA", "NV", "NY", "VA"]);

/** States express shipping does not reach. */
const NO_EXPRESS: ReadonlySet<string> = new Set(["AK", "HI"]);

const STANDARD_CENTS = 599n;
const EXPRESS_CENTS = 1_499n;
const FREE_SHIPPING_FROM_CENTS = 7_500n;
const MAX_ORDER_CENTS = 1_000_000n;

const BOX_WORDS: readonly (readonly string[])[] = [
  ["po", "box"],
  ["p", "o", "box"],
  ["pobox"],
  ["post", "office", "box"],
];

/** Whether an address is a PO box ("PO Box 12", "P.O. Box", "Post Office Box", "POB 7"). */
export function isPoBox(address: Address): boolean {
  return address.streetLines.some((line) => {
    const words = line.split(/[^A-Za-z0-9]/).filter((word) => word !== "").map((word) => word.toLowerCase());
    const namesBox = BOX_WORDS.some((pattern) =>
      words.some((_, start) => pattern.every((expected, i) => words[start + i] === expected)),
    );
    const numberedBox =
      (words[0] === "pob" || words[0] === "box") && words[1] !== undefined && /^[0-9]+$/.test(words[1]);
    return namesBox || numberedBox;
  });
}

/** The destination state when there is a deliverable one, `undefined` when the state is
 * not known yet; throws when the address cannot be delivered to. */
function deliverableState(cart: Cart): string | undefined {
  const address = destination(cart);
  if (address === undefined) {
    return undefined;
  }
  if (address.country !== "US") {
    throw addressUnsupported("Sorry, we only ship within the United States.");
  }
  if (isPoBox(address)) {
    throw addressUnsupported("We can't deliver to PO boxes. Please enter a street address.");
  }
  if (address.region === undefined) {
    return undefined;
  }
  if (!STATE_RATES.has(address.region)) {
    throw addressInvalid("Please choose a valid US state.");
  }
  return address.region;
}

function isTaxable(line: Line, state: string): boolean {
  switch (line.kind) {
    case "physical":
    case "discount":
    case "surcharge":
      return true;
    case "digital":
      return !DIGITAL_EXEMPT.has(state);
    default:
      return false;
  }
}

/** The value of the goods (discounts included), for the thresholds. */
function goodsValue(cart: Cart): bigint {
  return cart.lines
    .filter((line) => isGoods(line) || line.kind === "discount")
    .map(lineTotal)
    .reduce((sum: bigint, total) => (total === undefined ? sum : sum + net(total, 0)), 0n);
}

function requireDollars(cart: Cart): void {
  if (cart.currency !== "USD") {
    throw cannotDecide(`prices are in USD, cart is in ${cart.currency}`);
  }
}

export const decisions: Rules = {
  tax(cart) {
    requireDollars(cart);
    const decision = uniformTax(cart, 0);
    const state = deliverableState(cart);
    const rate = state === undefined ? 0 : (STATE_RATES.get(state) ?? 0);
    if (state === undefined || rate === 0) {
      return decision;
    }
    const lines = Uint32Array.from(
      cart.lines.flatMap((line, index) => (isTaxable(line, state) ? [index] : [])),
    );
    return withSeparate(decision, {
      reference: "sales-tax",
      name: `Sales tax (${state} ${money.formatDecimalTrimmed(BigInt(rate), 2)} %)`,
      rate,
      lines,
      includesShipping: TAXES_SHIPPING.has(state),
    });
  },

  shippingOptions(cart) {
    requireDollars(cart);
    if (!needsShipping(cart) && cart.lines.length > 0) {
      return [];
    }
    const state = deliverableState(cart);
    const standard = goodsValue(cart) >= FREE_SHIPPING_FROM_CENTS ? 0n : STANDARD_CENTS;
    const options: ShippingOption[] = [
      shippingOption("standard", "Standard", excludingTax(standard), 0, {
        description: "5-7 business days",
        carrier: "USPS",
        preselected: true,
      }),
    ];
    if (state === undefined || !NO_EXPRESS.has(state)) {
      options.push(
        shippingOption("express", "Express", excludingTax(EXPRESS_CENTS), 0, {
          description: "2 business days",
          carrier: "UPS",
        }),
      );
    }
    return options;
  },

  validate(cart) {
    requireDollars(cart);
    const address = destination(cart);
    if (address === undefined) {
      return reject("address-invalid", "Please enter a shipping address.");
    }
    let state: string | undefined;
    try {
      state = deliverableState(cart);
    } catch (error) {
      if (error instanceof RuleFailure && error.payload.tag === "address-unsupported") {
        return reject("address-unsupported", error.payload.val);
      }
      if (error instanceof RuleFailure && error.payload.tag === "address-invalid") {
        return reject("address-invalid", error.payload.val);
      }
      throw error;
    }
    if (state === undefined) {
      return reject("address-invalid", "Please choose your state.");
    }
    const digits = (address.postalCode ?? "").replaceAll("-", "");
    const zipOk = address.postalCode !== undefined && (digits.length === 5 || digits.length === 9) && /^[0-9]*$/.test(digits);
    if (!zipOk) {
      return reject("address-invalid", "Please enter a valid ZIP code.");
    }
    if (goodsValue(cart) > MAX_ORDER_CENTS) {
      return reject("order-limit", "Orders over $10,000 need a quote. Please contact our sales team.");
    }
    return approve();
  },
};
