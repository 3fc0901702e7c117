// Misbehaves on purpose, by the cart's order id, so one build covers every way a
// JavaScript module can fail: `throw` (a plain Error), `cannot` (the contract's
// cannot-decide), `loop` (runs forever), `allocate` (grows without bound), `recurse`
// (without end), `shape` (an answer of the wrong shape). Two more show the component boundary: `echo` answers
// cannot-decide with what the first line looks like to a rule, `huge` offers a price
// beyond 2^53. Any other cart gets one flat option.
import { type Rules, approve, cannotDecide, excludingTax, shippingOption, uniformTax } from "@rulegate/sdk";

function deep(n: number): number {
  return n === 0 ? 0 : deep(n - 1) + 1;
}

export const decisions: Rules = {
  shippingOptions(cart) {
    switch (cart.orderId) {
      case "throw":
        throw new Error("a bug in the rules");
      case "cannot":
        throw cannotDecide("no rates for this cart");
      case "loop":
        for (;;) {
          // Never returns.
        }
      case "allocate": {
        const hoard: string[][] = [];
        for (;;) {
          hoard.push(new Array(1 << 16).fill("x".repeat(64)));
        }
      }
      case "echo": {
        const line = cart.lines[0];
        throw cannotDecide(
          `${typeof line?.quantity} ${line?.unitPrice?.amount} ${line?.unitWeightGrams} ${cart.billingAddress === undefined}`,
        );
      }
      case "huge":
        return [shippingOption("huge", "Huge", excludingTax(2n ** 60n), 0)];
      case "recurse":
        return [shippingOption(`deep-${deep(1e7)}`, "Deep", excludingTax(0n), 0)];
      case "shape":
        return [{ id: 7, name: null }] as never;
      default:
        return [shippingOption("flat", "Flat rate", excludingTax(400n), 0)];
    }
  },
  tax: (cart) => uniformTax(cart, 0),
  validate: () => approve(),
};
