//! Klix's JSON to the canonical cart, with exact money conversion.
//!
//! Klix sends decimal numbers in major units, excluding tax, and tax rates as
//! fractions (0.21 = 21 %). Numbers are read from their JSON text, never through a
//! float: amounts to the currency's minor unit and rates to basis points, rounding
//! half away from zero where Klix sends more digits (`18.2238` EUR → 1822 cents);
//! quantities to thousandths exactly (`2.000` → 2000), refusing finer ones.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::model::money::{self, Excess};
use crate::model::{
    Address, Cart, Customer, CustomerKind, Line, LineKind, PickupPoint, Platform, Price, empty_cart,
};
use crate::protocols::decimal::{MappingError, decimal, quantity, rate};

/// The order as the merchant API returns it (`GET .../orders/{orderId}`).
#[derive(Debug, Clone, Deserialize)]
#[allow(missing_docs)]
pub struct Order {
    pub id: String,
    #[serde(default)]
    pub order_id: Option<String>,
    pub currency: String,
    #[serde(default)]
    pub items: Vec<Item>,
    #[serde(default)]
    pub company: Option<Company>,
    #[serde(default)]
    pub shipping: Option<Shipping>,
}

/// One order item.
#[derive(Debug, Clone, Deserialize)]
#[allow(missing_docs)]
pub struct Item {
    #[serde(default)]
    pub order_item_id: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    /// Unit price excluding tax.
    #[serde(default)]
    pub amount: Option<Box<RawValue>>,
    #[serde(default)]
    pub tax_rate: Option<Box<RawValue>>,
    pub quantity: Box<RawValue>,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

/// The buying company (B2B).
#[derive(Debug, Clone, Deserialize)]
#[allow(missing_docs)]
pub struct Company {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub registration_number: Option<String>,
    #[serde(default)]
    pub vat_number: Option<String>,
}

/// Delivery.
#[derive(Debug, Clone, Deserialize)]
#[allow(missing_docs)]
pub struct Shipping {
    #[serde(default)]
    pub method: Option<ShippingMethodRef>,
    #[serde(default)]
    pub address: Option<ShippingAddress>,
    #[serde(default)]
    pub pickup_point: Option<PickupPointWire>,
}

/// The chosen method.
#[derive(Debug, Clone, Deserialize)]
#[allow(missing_docs)]
pub struct ShippingMethodRef {
    pub id: String,
}

/// A delivery address of an order.
#[derive(Debug, Clone, Deserialize)]
#[allow(missing_docs)]
pub struct ShippingAddress {
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub postal_code: Option<String>,
    #[serde(default)]
    pub street: Option<String>,
}

/// A pickup point.
#[derive(Debug, Clone, Deserialize)]
#[allow(missing_docs)]
pub struct PickupPointWire {
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// The shipping-cost request (gen 1 JWS payload or gen 2 JSON body).
#[derive(Debug, Clone, Deserialize)]
#[allow(missing_docs)]
pub struct ShippingCostRequest {
    #[serde(default)]
    pub order_id: Option<String>,
    #[serde(default)]
    pub order_items: Option<Vec<ShippingItem>>,
    /// Accepted as a synonym of `order_items`.
    #[serde(default)]
    pub items: Option<Vec<ShippingItem>>,
    pub shipping_method_id: String,
    pub address: RequestAddress,
    #[serde(default)]
    pub pickup_point: Option<PickupPointWire>,
}

/// An item of a shipping-cost request: a reference and a quantity.
#[derive(Debug, Clone, Deserialize)]
#[allow(missing_docs)]
pub struct ShippingItem {
    pub reference: String,
    pub quantity: Box<RawValue>,
}

/// The address of a shipping-cost request.
#[derive(Debug, Clone, Deserialize)]
#[allow(missing_docs)]
pub struct RequestAddress {
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub postal_code: Option<String>,
}

/// Where a tenant's Klix carts are: Klix carts carry no ISO country (order addresses
/// name the country in words), so the tenant's country stands in.
#[derive(Debug, Clone)]
pub struct Market {
    /// ISO 4217 currency of shipping-cost carts.
    pub currency: String,
    /// ISO 3166 alpha-2 country of addresses without a code.
    pub country: String,
}

fn text(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

fn pickup(point: &Option<PickupPointWire>) -> Option<PickupPoint> {
    let point = point.as_ref()?;
    Some(PickupPoint {
        id: text(&point.external_id)?,
        name: text(&point.name).unwrap_or_default(),
        address: None,
    })
}

fn kind(kind: Option<&str>) -> LineKind {
    match kind {
        Some("DIGITAL_GOODS") => LineKind::Digital,
        Some("SHIPPING" | "SHIPPING_FEE" | "DELIVERY") => LineKind::ShippingFee,
        Some("DISCOUNT") => LineKind::Discount,
        Some("GIFT_CARD") => LineKind::GiftCard,
        Some("SURCHARGE") => LineKind::Surcharge,
        // PHYSICAL_GOODS, and Klix's common UNKNOWN: goods.
        _ => LineKind::Physical,
    }
}

/// An order fetched from the merchant API, as a cart for `validate`.
pub fn order_to_cart(
    order: &Order,
    market: &Market,
    received_at_ms: u64,
) -> Result<Cart, MappingError> {
    let currency = order.currency.trim().to_ascii_uppercase();
    let exponent = money::currency_exponent(&currency).ok_or_else(|| MappingError {
        field: "currency".into(),
        problem: format!("{currency:?} is not an ISO 4217 currency"),
    })?;
    let mut cart = empty_cart(Platform::Klix, currency, received_at_ms);
    cart.order_id = Some(order.id.clone());
    for (index, item) in order.items.iter().enumerate() {
        let field = |name: &str| format!("items[{index}].{name}");
        let unit_price = item
            .amount
            .as_deref()
            .map(|raw| decimal(raw, exponent, Excess::Round, &field("amount")))
            .transpose()?
            .map(|amount| Price {
                amount,
                includes_tax: false,
            });
        cart.lines.push(Line {
            reference: item.order_item_id.clone().unwrap_or_default(),
            name: item.label.clone().unwrap_or_default(),
            kind: kind(item.kind.as_deref()),
            quantity: quantity(&item.quantity, &field("quantity"))?,
            unit_price,
            discount: 0,
            tax_rate: item
                .tax_rate
                .as_deref()
                .map(|raw| rate(raw, &field("tax_rate")))
                .transpose()?,
            unit_weight_grams: None,
            attributes: Vec::new(),
        });
    }
    if let Some(shipping) = &order.shipping {
        cart.selected_shipping_option = shipping.method.as_ref().map(|m| m.id.clone());
        cart.pickup_point = pickup(&shipping.pickup_point);
        cart.shipping_address = shipping.address.as_ref().map(|address| Address {
            country: text(&address.country)
                .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()))
                .map(|c| c.to_ascii_uppercase())
                .unwrap_or_else(|| market.country.clone()),
            region: None,
            postal_code: text(&address.postal_code),
            city: text(&address.city),
            street_lines: text(&address.street).into_iter().collect(),
            organization: None,
        });
    }
    if let Some(company) = &order.company {
        cart.customer = Customer {
            kind: CustomerKind::Organization,
            vat_id: text(&company.vat_number),
            organization_id: text(&company.registration_number),
        };
        if let Some(address) = &mut cart.shipping_address {
            address.organization = text(&company.name);
        }
    }
    Ok(cart)
}

/// A shipping-cost request as a cart for `shipping-options`: references and
/// quantities only (no prices: rules price from their own catalog).
pub fn shipping_request_to_cart(
    request: &ShippingCostRequest,
    market: &Market,
    received_at_ms: u64,
) -> Result<Cart, MappingError> {
    let (name, items) = match (&request.order_items, &request.items) {
        (Some(items), _) => ("order_items", items),
        (None, Some(items)) => ("items", items),
        (None, None) => {
            return Err(MappingError {
                field: "order_items".into(),
                problem: "missing (expected `order_items` or `items`)".into(),
            });
        }
    };
    let mut cart = empty_cart(Platform::Klix, market.currency.clone(), received_at_ms);
    cart.order_id = request.order_id.clone();
    for (index, item) in items.iter().enumerate() {
        cart.lines.push(Line {
            reference: item.reference.clone(),
            name: String::new(),
            kind: LineKind::Physical,
            quantity: quantity(&item.quantity, &format!("{name}[{index}].quantity"))?,
            unit_price: None,
            discount: 0,
            tax_rate: None,
            unit_weight_grams: None,
            attributes: Vec::new(),
        });
    }
    cart.shipping_address = Some(Address {
        country: market.country.clone(),
        region: None,
        postal_code: text(&request.address.postal_code),
        city: text(&request.address.city),
        street_lines: text(&request.address.address).into_iter().collect(),
        organization: None,
    });
    cart.pickup_point = pickup(&request.pickup_point);
    cart.selected_shipping_option = Some(request.shipping_method_id.clone());
    Ok(cart)
}
