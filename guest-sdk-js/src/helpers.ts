/**
 * Conveniences on the contract's types: constructors for decisions and the questions
 * rules ask of a cart most often. The same as the Rust SDK's, in the same arithmetic.
 */

import type {
  Address,
  Cart,
  Line,
  Price,
  RejectionCode,
  RuleError,
  SeparateTax,
  ShippingMethod,
  ShippingOption,
  TaxDecision,
  Verdict,
} from "./contract.js";
import { addTax, extend, removeTax, saturate } from "./money.js";

/** A price that already includes tax (how KCO and Messenger shoppers see prices). */
export function includingTax(amount: bigint): Price {
  return { amount, includesTax: true };
}

/** A price to which tax is added (how Klix and US shops state prices). */
export function excludingTax(amount: bigint): Price {
  return { amount, includesTax: false };
}

/** The amount including tax at `rate` (basis points). */
export function gross(price: Price, rate: number): bigint {
  return price.includesTax ? price.amount : addTax(price.amount, rate);
}

/** The amount excluding tax at `rate` (basis points). */
export function net(price: Price, rate: number): bigint {
  return price.includesTax ? removeTax(price.amount, rate) : price.amount;
}

/** The line's total after discount, with the tax treatment of its unit price, or
 * `undefined` when the platform sent no price. */
export function lineTotal(line: Line): Price | undefined {
  const unit = line.unitPrice;
  if (unit === undefined) {
    return undefined;
  }
  return {
    amount: saturate(extend(unit.amount, line.quantity) - line.discount),
    includesTax: unit.includesTax,
  };
}

function divCeil(value: bigint, by: bigint): bigint {
  return (value + by - 1n) / by;
}

/** The quantity in whole units, rounded up (2.5 kg counts as 3 for per-piece rules). */
export function wholeUnits(line: Line): bigint {
  return divCeil(line.quantity, 1000n);
}

/** The line's total weight in grams, when the unit weight is known. */
export function weightGrams(line: Line): bigint | undefined {
  return line.unitWeightGrams === undefined
    ? undefined
    : divCeil(line.unitWeightGrams * line.quantity, 1000n);
}

/** The value of the first attribute named `key`. */
export function attribute(line: Line, key: string): string | undefined {
  return line.attributes.find((attribute) => attribute.key === key)?.value;
}

/** Whether the line is merchandise (physical or digital goods, gift cards), as opposed
 * to discounts, fees and credits. */
export function isGoods(line: Line): boolean {
  return line.kind === "physical" || line.kind === "digital" || line.kind === "gift-card";
}

/** Whether the line needs shipping. */
export function isShipped(line: Line): boolean {
  return line.kind === "physical";
}

/** All street lines joined by ", ", for pattern checks such as PO boxes. */
export function street(address: Address): string {
  return address.streetLines.join(", ");
}

/** Where the order goes: the shipping address, or the billing address when the shopper
 * gave no separate shipping address. */
export function destination(cart: Cart): Address | undefined {
  return cart.shippingAddress ?? cart.billingAddress;
}

/** The destination's country code, when known. */
export function destinationCountry(cart: Cart): string | undefined {
  return destination(cart)?.country;
}

/** The total weight in grams of the lines that ship, counting lines of unknown weight
 * at `defaultUnitGrams` per unit. */
export function shippedWeightGrams(cart: Cart, defaultUnitGrams: bigint): bigint {
  return cart.lines
    .filter(isShipped)
    .map((line) => weightGrams(line) ?? divCeil(defaultUnitGrams * line.quantity, 1000n))
    .reduce((sum, grams) => sum + grams, 0n);
}

/** Whether any line needs shipping. */
export function needsShipping(cart: Cart): boolean {
  return cart.lines.some(isShipped);
}

/** The sum of all line totals (goods, discounts, fees) including tax, where each
 * tax-exclusive line is grossed up at `rateOf(line)` (called only for those);
 * `undefined` when a line has no price. */
export function totalGross(cart: Cart, rateOf: (line: Line) => number): bigint | undefined {
  let sum = 0n;
  for (const line of cart.lines) {
    const total = lineTotal(line);
    if (total === undefined) {
      return undefined;
    }
    sum += total.includesTax ? total.amount : addTax(total.amount, rateOf(line));
  }
  return saturate(sum);
}

/** What a shipping option may say beyond its id, name, price and rate. */
export interface ShippingDetails {
  /** How it is delivered (default `home`). */
  method?: ShippingMethod;
  /** The carrier. */
  carrier?: string;
  /** A longer text, e.g. `Delivered by 18:00`. */
  description?: string;
  /** Whether it is selected by default. */
  preselected?: boolean;
}

/** A shipping option: home delivery with no carrier, description or preselection
 * unless `details` say otherwise. */
export function shippingOption(
  id: string,
  name: string,
  price: Price,
  taxRate: number,
  details: ShippingDetails = {},
): ShippingOption {
  const option: ShippingOption = {
    id,
    name,
    price,
    taxRate,
    method: details.method ?? "home",
    preselected: details.preselected ?? false,
  };
  if (details.carrier !== undefined) {
    option.carrier = details.carrier;
  }
  if (details.description !== undefined) {
    option.description = details.description;
  }
  return option;
}

/** The same tax rate on every line. */
export function uniformTax(cart: Cart, rate: number): TaxDecision {
  return { lineRates: Uint32Array.from(cart.lines, () => rate), separate: [] };
}

/** A tax rate per line, computed by `rateOf`. */
export function perLineTax(cart: Cart, rateOf: (line: Line) => number): TaxDecision {
  return { lineRates: Uint32Array.from(cart.lines, rateOf), separate: [] };
}

/** `decision` with a tax charged as its own line (US sales tax). */
export function withSeparate(decision: TaxDecision, tax: SeparateTax): TaxDecision {
  return { lineRates: decision.lineRates, separate: [...decision.separate, tax] };
}

/** Accept the order. */
export function approve(): Verdict {
  return { tag: "approve" };
}

/** Reject the order with a code and a message for the shopper. */
export function reject(code: RejectionCode, message: string): Verdict {
  return { tag: "reject", val: { code, message } };
}

/** What a decision throws to answer with the contract's `rule-error`: the payload is
 * what the host receives. Anything else thrown is a trap, which the tenant's failure
 * policy answers. */
export class RuleFailure extends Error {
  readonly payload: RuleError;

  constructor(payload: RuleError) {
    super(`${payload.tag}: ${payload.val}`);
    this.name = "RuleFailure";
    // An own property: the component's boundary (`wire.ts`) throws it as the error value.
    this.payload = payload;
  }
}

/** There is no delivery to this address (the shopper sees the message). */
export function addressUnsupported(message: string): RuleFailure {
  return new RuleFailure({ tag: "address-unsupported", val: message });
}

/** The address is incomplete or malformed (the message says what to fix). */
export function addressInvalid(message: string): RuleFailure {
  return new RuleFailure({ tag: "address-invalid", val: message });
}

/** The module cannot decide on this input; the reason is for the operator's log. */
export function cannotDecide(reason: string): RuleFailure {
  return new RuleFailure({ tag: "cannot-decide", val: reason });
}
