/**
 * The rulegate SDK for rules written in TypeScript or JavaScript: the contract's types,
 * exact money arithmetic on `bigint`, builders for decisions, and cart accessors.
 * `@rulegate/sdk/testing` builds carts for unit tests.
 *
 * A rules module exports the three decisions as `decisions`:
 *
 * ```ts
 * import { type Rules, shippingOption, excludingTax, uniformTax, approve } from "@rulegate/sdk";
 * export const decisions: Rules = {
 *   shippingOptions: (cart) => [shippingOption("flat", "Flat rate", excludingTax(400n), 0)],
 *   tax: (cart) => uniformTax(cart, 0),
 *   validate: () => approve(),
 * };
 * ```
 *
 * A decision answers the contract's `rule-error` by throwing what {@link addressUnsupported},
 * {@link addressInvalid} or {@link cannotDecide} return; anything else it throws is a trap.
 */

import type { Cart, ShippingOption, TaxDecision, Verdict } from "./contract.js";

export type * from "./contract.js";
export * from "./helpers.js";
export * as log from "./log.js";
export * as money from "./money.js";

/** The three decisions a rules module exports, as `export const decisions`. */
export interface Rules {
  /** The shipping options offered for this cart and destination, in display order. */
  shippingOptions(cart: Cart): ShippingOption[];
  /** The tax rate of every line, and any separate tax lines. */
  tax(cart: Cart): TaxDecision;
  /** Whether to accept the order the shopper is about to place. */
  validate(cart: Cart): Verdict;
}
