// The flat-rate test rules of tests/modules/flat-rate, in TypeScript: one flat 4.00
// shipping option, no tax, every order approved. The build command's test module.
import { type Rules, approve, excludingTax, log, shippingOption, uniformTax } from "@rulegate/sdk";

export const decisions: Rules = {
  shippingOptions(cart) {
    log.info(`shipping for ${cart.lines.length} lines`);
    return [shippingOption("flat", "Flat rate", excludingTax(400n), 0, { preselected: true })];
  },
  tax: (cart) => uniformTax(cart, 0),
  validate: () => approve(),
};
