declare module 'rulegate:checkout/types@0.2.0' {
  /**
   * An amount of money in the minor unit of the cart's currency: cents for EUR and
   * USD, öre for SEK, yen for JPY (exponent 0), fils for KWD (exponent 3).
   * Negative amounts appear only on discount-like lines.
   */
  export type MinorUnits = bigint;
  /**
   * A tax rate in basis points: 2500 is 25 %, 725 is 7.25 %, 0 is untaxed.
   * Valid rates are 0 to 10000.
   */
  export type BasisPoints = number;
  /**
   * An exact quantity in thousandths of a unit: 1000 is one piece, 2500 is 2.5 kg.
   * Platforms with whole-unit quantities send multiples of 1000.
   */
  export type MilliUnits = bigint;
  /**
   * The checkout platform a cart came from. Rules rarely need it: the host already
   * speaks each platform's protocol.
   * # Variants
   * 
   * ## `"kco"`
   * 
   * Kustom Checkout, formerly Klarna Checkout v3.
   * ## `"klix"`
   * 
   * Klix by Citadele.
   * ## `"messenger"`
   * 
   * Messenger Platform payments (Buy Button).
   */
  export type Platform = 'kco' | 'klix' | 'messenger';
  /**
   * A price together with whether it includes tax. Platforms differ (KCO and
   * Messenger prices include tax, Klix prices exclude it), so it is never implied.
   */
  export interface Price {
    /**
     * The amount in minor units of the cart currency.
     */
    amount: MinorUnits,
    /**
     * True when `amount` already includes tax; false when tax comes on top.
     */
    includesTax: boolean,
  }
  /**
   * What an order line stands for.
   * # Variants
   * 
   * ## `"physical"`
   * 
   * Goods that are shipped.
   * ## `"digital"`
   * 
   * Goods delivered electronically: nothing to ship.
   * ## `"discount"`
   * 
   * A discount on the order; its unit price is negative.
   * ## `"shipping-fee"`
   * 
   * A shipping fee already in the platform's cart.
   * ## `"gift-card"`
   * 
   * A gift card being bought.
   * ## `"store-credit"`
   * 
   * Store credit applied to the order; its unit price is negative.
   * ## `"surcharge"`
   * 
   * A surcharge, such as a payment or handling fee.
   * ## `"other"`
   * 
   * Any other kind the platform reported.
   */
  export type LineKind = 'physical' | 'digital' | 'discount' | 'shipping-fee' | 'gift-card' | 'store-credit' | 'surcharge' | 'other';
  /**
   * A free-form fact about a line that the platform sent, such as a category path,
   * brand, GTIN or shipping tag.
   */
  export interface Attribute {
    /**
     * The attribute's name, e.g. `category`, `brand`, `gtin`, `tag`.
     */
    key: string,
    /**
     * The attribute's value, as the platform sent it.
     */
    value: string,
  }
  /**
   * One line of the cart.
   */
  export interface Line {
    /**
     * The merchant's reference for the line: a SKU or article number. May be empty
     * when the platform sent none.
     */
    reference: string,
    /**
     * The line's display name. May be empty when the platform sent none (Klix
     * shipping-cost requests carry only references and quantities).
     */
    name: string,
    /**
     * What the line stands for.
     */
    kind: LineKind,
    /**
     * How many units, exactly, in thousandths of a unit.
     */
    quantity: MilliUnits,
    /**
     * The price of one whole unit before discount, or none when the platform did not
     * send prices (Klix shipping-cost requests).
     */
    unitPrice?: Price,
    /**
     * The discount on the whole line (not per unit), as a positive amount, with the
     * same tax treatment as `unit-price`. Zero when there is none.
     */
    discount: MinorUnits,
    /**
     * The tax rate the platform currently has on the line, if it sent one.
     */
    taxRate?: BasisPoints,
    /**
     * The weight of one unit in grams, when known.
     */
    unitWeightGrams?: bigint,
    /**
     * Further facts about the line the platform sent.
     */
    attributes: Array<Attribute>,
  }
  /**
   * A postal address, reduced to what rules decide on. Names, e-mail addresses and
   * phone numbers are deliberately not part of the contract.
   */
  export interface Address {
    /**
     * ISO 3166-1 alpha-2 country code, upper case, e.g. `DE`, `US`.
     */
    country: string,
    /**
     * State, province or region code, e.g. `CA`, when given.
     */
    region?: string,
    /**
     * Postal code as entered, when given.
     */
    postalCode?: string,
    /**
     * City, when given.
     */
    city?: string,
    /**
     * Street lines in order (street and number, apartment, c/o ...). Empty lines are
     * dropped.
     */
    streetLines: Array<string>,
    /**
     * The organisation's name when the address belongs to a company.
     */
    organization?: string,
  }
  /**
   * A parcel locker or pickup location the shopper chose.
   */
  export interface PickupPoint {
    /**
     * The carrier's identifier of the point.
     */
    id: string,
    /**
     * The point's display name.
     */
    name: string,
    /**
     * Where the point is, when the platform sent it.
     */
    address?: Address,
  }
  /**
   * Whether the buyer is a private person or a company.
   * # Variants
   * 
   * ## `"person"`
   * 
   * A consumer (B2C). Also the kind when the platform does not say.
   * ## `"organization"`
   * 
   * A company or other organisation (B2B).
   */
  export type CustomerKind = 'person' | 'organization';
  /**
   * Who is buying, as far as rules need to know.
   */
  export interface Customer {
    /**
     * Person or organisation.
     */
    kind: CustomerKind,
    /**
     * The buyer's VAT identification number as entered, e.g. `SE556737043101`.
     * Not validated by the host.
     */
    vatId?: string,
    /**
     * The organisation's registration number, when given.
     */
    organizationId?: string,
  }
  /**
   * The platform-neutral cart every decision receives.
   */
  export interface Cart {
    /**
     * Where the callback came from.
     */
    platform: Platform,
    /**
     * The platform's order id, when there is one.
     */
    orderId?: string,
    /**
     * ISO 4217 currency code of every amount in the cart, e.g. `EUR`.
     */
    currency: string,
    /**
     * The shopper's locale as a BCP 47 tag, e.g. `sv-SE`, when known. Use it to
     * choose the language of shopper-facing messages.
     */
    locale?: string,
    /**
     * The order lines, in the platform's order. Lines the host computes itself
     * (separate sales-tax lines) are not included.
     */
    lines: Array<Line>,
    /**
     * The billing address, when known.
     */
    billingAddress?: Address,
    /**
     * The delivery address, when known. Rules that need a destination usually
     * fall back to the billing address when this is none.
     */
    shippingAddress?: Address,
    /**
     * The pickup point the shopper chose, when any.
     */
    pickupPoint?: PickupPoint,
    /**
     * The id of the shipping option the shopper selected, when any. It is one of
     * the ids a previous `shipping-options` decision returned.
     */
    selectedShippingOption?: string,
    /**
     * The buyer.
     */
    customer: Customer,
    /**
     * Opaque data the merchant attached to the order: KCO `merchant_data`, the
     * Messenger Buy Button `payload`. The host never interprets it.
     */
    merchantData?: string,
    /**
     * When the callback arrived, in milliseconds since the Unix epoch (UTC). Rules
     * use this instead of a clock, so the same cart always gets the same decision.
     */
    receivedAtMs: bigint,
  }
  /**
   * How a shipping option reaches the shopper.
   * # Variants
   * 
   * ## `"home"`
   * 
   * Delivered to the door.
   * ## `"pickup-store"`
   * 
   * Collected from the merchant's own store.
   * ## `"pickup-point"`
   * 
   * Collected from a carrier's pickup point.
   * ## `"box-reg"`
   * 
   * A parcel locker with registration.
   * ## `"box-unreg"`
   * 
   * A parcel locker without registration.
   * ## `"own"`
   * 
   * The merchant's own delivery.
   * ## `"postal"`
   * 
   * By post.
   * ## `"dhl-packstation"`
   * 
   * A DHL Packstation.
   * ## `"digital"`
   * 
   * Nothing is shipped.
   */
  export type ShippingMethod = 'home' | 'pickup-store' | 'pickup-point' | 'box-reg' | 'box-unreg' | 'own' | 'postal' | 'dhl-packstation' | 'digital';
  /**
   * One way to ship the order, with its price.
   */
  export interface ShippingOption {
    /**
     * A stable identifier; the platform sends it back when the shopper picks it.
     */
    id: string,
    /**
     * The name the shopper sees, e.g. `Standard 2-4 days`.
     */
    name: string,
    /**
     * An optional longer text, e.g. `Delivered by 18:00`.
     */
    description?: string,
    /**
     * The price of the option. Zero means free shipping.
     */
    price: Price,
    /**
     * The tax rate on the shipping price.
     */
    taxRate: BasisPoints,
    /**
     * How it is delivered.
     */
    method: ShippingMethod,
    /**
     * The carrier, e.g. `DHL`, when it matters to the platform or shopper.
     */
    carrier?: string,
    /**
     * Whether the option is selected by default. At most one should be.
     */
    preselected: boolean,
  }
  /**
   * A tax charged on its own order line rather than inside line prices, such as US
   * sales tax. The host computes the amount from the rate, rounding half away from
   * zero, so the platform's arithmetic always holds.
   */
  export interface SeparateTax {
    /**
     * The reference of the tax line, e.g. `sales-tax`.
     */
    reference: string,
    /**
     * The name the shopper sees, e.g. `Sales tax (CA 7.25 %)`.
     */
    name: string,
    /**
     * The rate applied to the taxed lines' totals.
     */
    rate: BasisPoints,
    /**
     * Indexes into `cart.lines` of the lines the tax applies to.
     */
    lines: Uint32Array,
    /**
     * Whether the tax also applies to the price of the selected shipping option.
     */
    includesShipping: boolean,
  }
  /**
   * The tax decision for a cart.
   */
  export interface TaxDecision {
    /**
     * The tax rate of each cart line, in the order of `cart.lines`: exactly one rate
     * per line. Lines taxed only through a separate tax line get rate 0.
     */
    lineRates: Uint32Array,
    /**
     * Taxes that become their own order line (US sales tax). Usually empty.
     */
    separate: Array<SeparateTax>,
  }
  /**
   * Why an order is rejected, in terms every platform can express.
   * # Variants
   * 
   * ## `"price-changed"`
   * 
   * A price in the cart is not the merchant's current price.
   * ## `"not-available"`
   * 
   * A product is unknown, sold out or not available in the requested quantity.
   * ## `"address-unsupported"`
   * 
   * The merchant does not deliver to the address.
   * ## `"address-invalid"`
   * 
   * The address is incomplete or malformed; the shopper should correct it.
   * ## `"order-limit"`
   * 
   * The order is below the minimum or above the maximum order value or quantity.
   * ## `"risk"`
   * 
   * The merchant declines the order for risk reasons.
   * ## `"other"`
   * 
   * Any other reason; the message says which.
   */
  export type RejectionCode = 'price-changed' | 'not-available' | 'address-unsupported' | 'address-invalid' | 'order-limit' | 'risk' | 'other';
  /**
   * A rejection the shopper sees.
   */
  export interface Rejection {
    /**
     * The machine-readable reason, mapped to each platform's own codes.
     */
    code: RejectionCode,
    /**
     * A short message for the shopper, in the cart's locale where possible.
     */
    message: string,
  }
  /**
   * The answer to "do you accept this order?".
   */
  export type Verdict = VerdictApprove | VerdictReject;
  /**
   * Accept the order as it is.
   */
  export interface VerdictApprove {
    tag: 'approve',
  }
  /**
   * Reject it; the shopper stays in checkout and sees the message.
   */
  export interface VerdictReject {
    tag: 'reject',
    val: Rejection,
  }
  /**
   * A decision the module declines to make. The host turns it into the platform's
   * rejection or applies the tenant's failure policy; it is never an error page.
   */
  export type RuleError = RuleErrorAddressUnsupported | RuleErrorAddressInvalid | RuleErrorCannotDecide;
  /**
   * There is no delivery to this address (e.g. a PO box, a blocked country); the
   * message is shown to the shopper.
   */
  export interface RuleErrorAddressUnsupported {
    tag: 'address-unsupported',
    val: string,
  }
  /**
   * The address is incomplete or malformed; the message tells the shopper what to
   * fix.
   */
  export interface RuleErrorAddressInvalid {
    tag: 'address-invalid',
    val: string,
  }
  /**
   * The module cannot decide on this input (missing data, unknown currency ...).
   * The message is for the operator's log, not the shopper; the tenant's failure
   * policy decides the answer.
   */
  export interface RuleErrorCannotDecide {
    tag: 'cannot-decide',
    val: string,
  }
  /**
   * The shipping and tax decisions on one cart, each with its own result, so a module
   * can decline one and answer the other and the host's failure policy still applies
   * to each.
   */
  export interface QuoteDecision {
    /**
     * What `shipping-options` answers for the cart.
     */
    shipping: Result<Array<ShippingOption>, RuleError>,
    /**
     * What `tax` answers for the cart.
     */
    tax: Result<TaxDecision, RuleError>,
  }
  export type Result<T, E> = { tag: 'ok', val: T } | { tag: 'err', val: E };
}
