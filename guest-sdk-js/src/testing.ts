/**
 * Carts for unit tests of rules in Node: call the rules' functions on a built cart
 * directly. To run the built component in the production sandbox, use `rulegate run`.
 *
 * ```ts
 * const cart = new CartBuilder("EUR")
 *   .shipTo("DE")
 *   .line(line("SKU-1", 2n, includingTax(1999n)).weight(300n))
 *   .build();
 * ```
 */

import type { Address, Cart, Line, LineKind, PickupPoint, Platform, Price } from "./contract.js";

/** Builds a {@link Line}. */
export class LineBuilder {
  readonly #line: Line;

  constructor(line: Line) {
    this.#line = line;
  }

  /** Sets the display name. */
  name(name: string): this {
    this.#line.name = name;
    return this;
  }
  /** Sets the kind. */
  kind(kind: LineKind): this {
    this.#line.kind = kind;
    return this;
  }
  /** Sets the quantity in thousandths (2500n: 2.5 kg). */
  milliQuantity(quantity: bigint): this {
    this.#line.quantity = quantity;
    return this;
  }
  /** Sets the discount on the whole line, in minor units. */
  discount(discount: bigint): this {
    this.#line.discount = discount;
    return this;
  }
  /** Sets the tax rate the platform sent (basis points). */
  taxRate(rate: number): this {
    this.#line.taxRate = rate;
    return this;
  }
  /** Sets the unit weight in grams. */
  weight(grams: bigint): this {
    this.#line.unitWeightGrams = grams;
    return this;
  }
  /** Drops the unit price (a platform that sent none). */
  withoutPrice(): this {
    delete this.#line.unitPrice;
    return this;
  }
  /** Adds an attribute. */
  attribute(key: string, value: string): this {
    this.#line.attributes.push({ key, value });
    return this;
  }
  /** The finished line. */
  build(): Line {
    return structuredClone(this.#line);
  }
}

/** A line of `units` whole units at `unitPrice`, kind physical. */
export function line(reference: string, units: bigint, unitPrice: Price): LineBuilder {
  return new LineBuilder({
    reference,
    name: reference,
    kind: "physical",
    quantity: units * 1000n,
    unitPrice,
    discount: 0n,
    attributes: [],
  });
}

/** Builds an {@link Address}. */
export class AddressBuilder {
  readonly #address: Address;

  constructor(country: string) {
    this.#address = { country, streetLines: [] };
  }
  /** Sets the region or state code. */
  region(region: string): this {
    this.#address.region = region;
    return this;
  }
  /** Sets the postal code. */
  postalCode(postalCode: string): this {
    this.#address.postalCode = postalCode;
    return this;
  }
  /** Sets the city. */
  city(city: string): this {
    this.#address.city = city;
    return this;
  }
  /** Adds a street line. */
  street(line: string): this {
    this.#address.streetLines.push(line);
    return this;
  }
  /** Sets the organisation name. */
  organization(name: string): this {
    this.#address.organization = name;
    return this;
  }
  /** The finished address. */
  build(): Address {
    return structuredClone(this.#address);
  }
}

/** An address in `country` with no other fields. */
export function address(country: string): AddressBuilder {
  return new AddressBuilder(country);
}

/** Builds a {@link Cart}: a KCO cart in `currency` with no lines, addresses or customer
 * details, received at a fixed instant (2026-01-01T00:00:00Z), until told otherwise. */
export class CartBuilder {
  readonly #cart: Cart;

  constructor(currency: string) {
    this.#cart = {
      platform: "kco",
      currency,
      lines: [],
      customer: { kind: "person" },
      receivedAtMs: 1_767_225_600_000n,
    };
  }
  /** Sets the platform. */
  platform(platform: Platform): this {
    this.#cart.platform = platform;
    return this;
  }
  /** Sets the platform's order id. */
  orderId(orderId: string): this {
    this.#cart.orderId = orderId;
    return this;
  }
  /** Sets the locale. */
  locale(locale: string): this {
    this.#cart.locale = locale;
    return this;
  }
  /** Adds a line. */
  line(line: Line | LineBuilder): this {
    this.#cart.lines.push(line instanceof LineBuilder ? line.build() : line);
    return this;
  }
  /** Ships to a country with no further address details. */
  shipTo(country: string): this {
    return this.shippingAddress(address(country));
  }
  /** Sets the shipping address. */
  shippingAddress(address: Address | AddressBuilder): this {
    this.#cart.shippingAddress = address instanceof AddressBuilder ? address.build() : address;
    return this;
  }
  /** Sets the billing address. */
  billingAddress(address: Address | AddressBuilder): this {
    this.#cart.billingAddress = address instanceof AddressBuilder ? address.build() : address;
    return this;
  }
  /** Sets the pickup point the shopper chose. */
  pickupPoint(point: PickupPoint): this {
    this.#cart.pickupPoint = point;
    return this;
  }
  /** Sets the shipping option the shopper selected. */
  selectedShippingOption(id: string): this {
    this.#cart.selectedShippingOption = id;
    return this;
  }
  /** Makes the buyer an organisation, with its VAT id when given. */
  organization(vatId?: string): this {
    this.#cart.customer = vatId === undefined ? { kind: "organization" } : { kind: "organization", vatId };
    return this;
  }
  /** Sets the merchant's opaque data. */
  merchantData(data: string): this {
    this.#cart.merchantData = data;
    return this;
  }
  /** Sets when the callback arrived (ms since the epoch). */
  receivedAtMs(ms: bigint): this {
    this.#cart.receivedAtMs = ms;
    return this;
  }
  /** The finished cart. */
  build(): Cart {
    return structuredClone(this.#cart);
  }
}
