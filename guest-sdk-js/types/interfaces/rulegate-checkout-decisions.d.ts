/// <reference path="./rulegate-checkout-types.d.ts" />
declare module 'rulegate:checkout/decisions@0.1.0' {
  /**
   * The shipping options offered for this cart and destination, in display order.
   * An empty list means no shipping is needed (e.g. digital goods).
   */
  export function shippingOptions(cart: Cart): Array<ShippingOption>;
  /**
   * The tax rate of every line, and any separate tax lines.
   */
  export function tax(cart: Cart): TaxDecision;
  /**
   * Whether to accept the order the shopper is about to place.
   */
  export function validate(cart: Cart): Verdict;
  export type Cart = import('rulegate:checkout/types@0.1.0').Cart;
  export type ShippingOption = import('rulegate:checkout/types@0.1.0').ShippingOption;
  export type TaxDecision = import('rulegate:checkout/types@0.1.0').TaxDecision;
  export type Verdict = import('rulegate:checkout/types@0.1.0').Verdict;
  export type RuleError = import('rulegate:checkout/types@0.1.0').RuleError;
}
