//! KCO's JSON, as far as the host reads or writes it (docs/PROTOCOLS.md §1).
//!
//! Fields the host reads or recomputes are typed. Everything else on an order line is
//! kept verbatim in `other` and returned unchanged, so names, references, merchant
//! data, product data and fields KCO adds later survive the round trip.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The body of address_update, country_change and shipping_option_update (KCO's
/// `shipping_service_request`), and of validation (the full checkout order): the
/// second is a superset of the first.
#[derive(Debug, Clone, Deserialize)]
pub struct CheckoutOrder {
    /// Sum of the lines' `total_amount`, as KCO last saw it.
    pub order_amount: i64,
    /// Sum of the lines' `total_tax_amount`, as KCO last saw it.
    pub order_tax_amount: i64,
    /// The cart.
    pub order_lines: Vec<OrderLine>,
    /// ISO 4217 code.
    pub purchase_currency: String,
    /// The checkout order id (validation only).
    #[serde(default)]
    pub order_id: Option<String>,
    /// BCP 47 locale.
    #[serde(default)]
    pub locale: Option<String>,
    /// The billing address.
    #[serde(default)]
    pub billing_address: Option<Address>,
    /// The delivery address.
    #[serde(default)]
    pub shipping_address: Option<Address>,
    /// The shipping option the shopper picked.
    #[serde(default)]
    pub selected_shipping_option: Option<SelectedOption>,
    /// The buyer.
    #[serde(default)]
    pub customer: Option<Customer>,
    /// The merchant's opaque data.
    #[serde(default)]
    pub merchant_data: Option<String>,
    /// Passed back unchanged.
    #[serde(default)]
    pub tags: Option<Value>,
    /// Passed back unchanged.
    #[serde(default)]
    pub attachment: Option<Value>,
    /// Passed back unchanged.
    #[serde(default)]
    pub external_payment_methods: Option<Value>,
}

/// One order line.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct OrderLine {
    /// `physical` (the default when absent), `discount`, `shipping_fee`, `sales_tax`, ...
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The merchant's reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The display name.
    pub name: String,
    /// Whole units.
    pub quantity: i64,
    /// Price of one unit, tax included, discount excluded.
    pub unit_price: i64,
    /// Basis points.
    #[serde(default)]
    pub tax_rate: Option<i64>,
    /// `quantity * unit_price - total_discount_amount` (recomputed by the host).
    #[serde(default)]
    pub total_amount: Option<i64>,
    /// The discount on the whole line, tax included.
    #[serde(default)]
    pub total_discount_amount: Option<i64>,
    /// The tax in `total_amount` (recomputed by the host).
    #[serde(default)]
    pub total_tax_amount: Option<i64>,
    /// Every other field, unchanged.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl OrderLine {
    /// The line's type, `physical` when KCO sent none.
    pub fn kind(&self) -> &str {
        self.kind.as_deref().unwrap_or("physical")
    }

    /// Lines the host owns in shipping callbacks: it derives them from decisions.
    pub fn is_host_owned(&self) -> bool {
        matches!(self.kind(), "shipping_fee" | "sales_tax")
    }
}

/// An address. Only what the contract carries is read; personal fields are ignored.
#[derive(Debug, Clone, Default, Deserialize)]
#[allow(missing_docs)]
pub struct Address {
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub postal_code: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub street_address: Option<String>,
    #[serde(default)]
    pub street_address2: Option<String>,
    #[serde(default)]
    pub street_name: Option<String>,
    #[serde(default)]
    pub street_number: Option<String>,
    #[serde(default)]
    pub house_extension: Option<String>,
    #[serde(default)]
    pub care_of: Option<String>,
    #[serde(default)]
    pub organization_name: Option<String>,
}

/// The option the shopper selected.
#[derive(Debug, Clone, Deserialize)]
pub struct SelectedOption {
    /// The id a previous answer gave it.
    pub id: String,
    /// Carrier details, including a chosen pickup point.
    #[serde(default)]
    pub delivery_details: Option<DeliveryDetails>,
}

/// Carrier details of a shipping option.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct DeliveryDetails {
    /// The carrier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    /// The pickup point the shopper chose.
    #[serde(default, skip_serializing)]
    pub pickup_location: Option<PickupLocation>,
}

/// A pickup point.
#[derive(Debug, Clone, Deserialize)]
#[allow(missing_docs)]
pub struct PickupLocation {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub address: Option<Address>,
}

/// The buyer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Customer {
    /// `person` or `organization`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// VAT id (B2B).
    #[serde(default)]
    pub vat_id: Option<String>,
    /// Company registration number.
    #[serde(default)]
    pub organization_registration_id: Option<String>,
}

/// The cart the host answers address_update, country_change and
/// shipping_option_update with.
#[derive(Debug, Clone, Serialize)]
pub struct CartResponse {
    /// Sum of `order_lines[].total_amount`.
    pub order_amount: i64,
    /// Sum of `order_lines[].total_tax_amount`.
    pub order_tax_amount: i64,
    /// The whole cart.
    pub order_lines: Vec<OrderLine>,
    /// Unchanged.
    pub purchase_currency: String,
    /// The options KCO shows.
    pub shipping_options: Vec<ShippingOption>,
    /// Passed through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merchant_data: Option<String>,
    /// Passed through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Passed through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Value>,
    /// Passed through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment: Option<Value>,
    /// Passed through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_payment_methods: Option<Value>,
}

/// A shipping option as KCO shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ShippingOption {
    /// Sent back as `selected_shipping_option.id`.
    pub id: String,
    /// Shown to the shopper.
    pub name: String,
    /// Shown under the name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Tax included.
    pub price: i64,
    /// The tax in `price`.
    pub tax_amount: i64,
    /// Basis points.
    pub tax_rate: u32,
    /// Selected by default.
    pub preselected: bool,
    /// KCO's method name (`Home`, `PickUpPoint`, ...).
    pub shipping_method: &'static str,
    /// The carrier, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_details: Option<DeliveryDetails>,
}
