/// <reference path="./rulegate-checkout-types.d.ts" />
declare module 'rulegate:checkout/decisions@0.2.0' {
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
  /**
   * `shipping-options` and `tax` on the same cart, in one call: what a callback that
   * changed the cart (KCO address_update, Messenger checkout_update) asks for, with
   * the cart passed into the module once. Each half must be what its own export
   * answers for the cart. A call that fails as a whole (a trap, fuel, memory) is
   * made again as the two decisions on a fresh instance, so one half's failure never
   * costs the other its answer.
   */
  export function quote(cart: Cart): QuoteDecision;
  export type Cart = import('rulegate:checkout/types@0.2.0').Cart;
  export type ShippingOption = import('rulegate:checkout/types@0.2.0').ShippingOption;
  export type TaxDecision = import('rulegate:checkout/types@0.2.0').TaxDecision;
  export type Verdict = import('rulegate:checkout/types@0.2.0').Verdict;
  export type RuleError = import('rulegate:checkout/types@0.2.0').RuleError;
  export type QuoteDecision = import('rulegate:checkout/types@0.2.0').QuoteDecision;
}
