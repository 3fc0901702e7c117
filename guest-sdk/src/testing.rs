//! Build carts for native unit tests of rules.
//!
//! ```
//! use rulegate_sdk::testing::{CartBuilder, line};
//! use rulegate_sdk::Price;
//!
//! let cart = CartBuilder::new("EUR")
//!     .ship_to("DE")
//!     .line(line("SKU-1", 2, Price::including_tax(1999)).weight(300))
//!     .build();
//! assert_eq!(cart.lines[0].quantity, 2000);
//! assert_eq!(cart.destination_country(), Some("DE"));
//! ```
//!
//! Call the `Rules` methods on the built cart directly: `MyRules::tax(&cart)`. To run the
//! compiled component in the production sandbox instead, use `rulegate run`.

use crate::{
    Address, Attribute, Cart, Customer, CustomerKind, Line, LineKind, PickupPoint, Platform, Price,
};

/// A line of `units` whole units at `unit_price`, kind physical; refine with the
/// [`LineBuilder`] methods.
pub fn line(reference: &str, units: u64, unit_price: Price) -> LineBuilder {
    LineBuilder(Line {
        reference: reference.to_string(),
        name: reference.to_string(),
        kind: LineKind::Physical,
        quantity: units.saturating_mul(1000),
        unit_price: Some(unit_price),
        discount: 0,
        tax_rate: None,
        unit_weight_grams: None,
        attributes: Vec::new(),
    })
}

/// An address in `country` with no other fields; refine with the [`AddressBuilder`]
/// methods.
pub fn address(country: &str) -> AddressBuilder {
    AddressBuilder(Address {
        country: country.to_string(),
        region: None,
        postal_code: None,
        city: None,
        street_lines: Vec::new(),
        organization: None,
    })
}

/// Builds a [`Line`].
#[derive(Debug, Clone)]
pub struct LineBuilder(Line);

impl LineBuilder {
    /// Sets the display name.
    pub fn name(mut self, name: &str) -> Self {
        self.0.name = name.to_string();
        self
    }

    /// Sets the kind.
    pub fn kind(mut self, kind: LineKind) -> Self {
        self.0.kind = kind;
        self
    }

    /// Sets an exact quantity in thousandths of a unit.
    pub fn milli_quantity(mut self, quantity: u64) -> Self {
        self.0.quantity = quantity;
        self
    }

    /// Sets the discount on the whole line.
    pub fn discount(mut self, discount: i64) -> Self {
        self.0.discount = discount;
        self
    }

    /// Sets the tax rate the platform reported.
    pub fn tax_rate(mut self, rate: u32) -> Self {
        self.0.tax_rate = Some(rate);
        self
    }

    /// Sets the unit weight in grams.
    pub fn weight(mut self, grams: u64) -> Self {
        self.0.unit_weight_grams = Some(grams);
        self
    }

    /// Removes the unit price, as in a Klix shipping-cost request.
    pub fn without_price(mut self) -> Self {
        self.0.unit_price = None;
        self
    }

    /// Adds an attribute.
    pub fn attribute(mut self, key: &str, value: &str) -> Self {
        self.0.attributes.push(Attribute {
            key: key.to_string(),
            value: value.to_string(),
        });
        self
    }

    /// The finished line.
    pub fn build(self) -> Line {
        self.0
    }
}

impl From<LineBuilder> for Line {
    fn from(builder: LineBuilder) -> Line {
        builder.0
    }
}

/// Builds an [`Address`].
#[derive(Debug, Clone)]
pub struct AddressBuilder(Address);

impl AddressBuilder {
    /// Sets the region or state code.
    pub fn region(mut self, region: &str) -> Self {
        self.0.region = Some(region.to_string());
        self
    }

    /// Sets the postal code.
    pub fn postal_code(mut self, postal_code: &str) -> Self {
        self.0.postal_code = Some(postal_code.to_string());
        self
    }

    /// Sets the city.
    pub fn city(mut self, city: &str) -> Self {
        self.0.city = Some(city.to_string());
        self
    }

    /// Adds a street line.
    pub fn street(mut self, line: &str) -> Self {
        self.0.street_lines.push(line.to_string());
        self
    }

    /// Sets the organisation name.
    pub fn organization(mut self, name: &str) -> Self {
        self.0.organization = Some(name.to_string());
        self
    }

    /// The finished address.
    pub fn build(self) -> Address {
        self.0
    }
}

impl From<AddressBuilder> for Address {
    fn from(builder: AddressBuilder) -> Address {
        builder.0
    }
}

/// Builds a [`Cart`]: a KCO cart in `currency` with no lines, addresses or customer
/// details, received at a fixed instant, until told otherwise.
#[derive(Debug, Clone)]
pub struct CartBuilder(Cart);

impl CartBuilder {
    /// An empty cart in `currency`.
    pub fn new(currency: &str) -> Self {
        CartBuilder(Cart {
            platform: Platform::Kco,
            order_id: None,
            currency: currency.to_string(),
            locale: None,
            lines: Vec::new(),
            billing_address: None,
            shipping_address: None,
            pickup_point: None,
            selected_shipping_option: None,
            customer: Customer {
                kind: CustomerKind::Person,
                vat_id: None,
                organization_id: None,
            },
            merchant_data: None,
            // 2026-01-01T00:00:00Z
            received_at_ms: 1_767_225_600_000,
        })
    }

    /// Sets the platform.
    pub fn platform(mut self, platform: Platform) -> Self {
        self.0.platform = platform;
        self
    }

    /// Sets the locale.
    pub fn locale(mut self, locale: &str) -> Self {
        self.0.locale = Some(locale.to_string());
        self
    }

    /// Adds a line.
    pub fn line(mut self, line: impl Into<Line>) -> Self {
        self.0.lines.push(line.into());
        self
    }

    /// Ships to a country with no further address details.
    pub fn ship_to(self, country: &str) -> Self {
        self.shipping_address(address(country))
    }

    /// Sets the shipping address.
    pub fn shipping_address(mut self, address: impl Into<Address>) -> Self {
        self.0.shipping_address = Some(address.into());
        self
    }

    /// Sets the billing address.
    pub fn billing_address(mut self, address: impl Into<Address>) -> Self {
        self.0.billing_address = Some(address.into());
        self
    }

    /// Sets the pickup point.
    pub fn pickup_point(mut self, id: &str, name: &str) -> Self {
        self.0.pickup_point = Some(PickupPoint {
            id: id.to_string(),
            name: name.to_string(),
            address: None,
        });
        self
    }

    /// Sets the selected shipping option id.
    pub fn selected_shipping(mut self, id: &str) -> Self {
        self.0.selected_shipping_option = Some(id.to_string());
        self
    }

    /// Makes the buyer an organisation with a VAT id.
    pub fn business(mut self, vat_id: &str) -> Self {
        self.0.customer.kind = CustomerKind::Organization;
        self.0.customer.vat_id = Some(vat_id.to_string());
        self
    }

    /// Sets the opaque merchant data.
    pub fn merchant_data(mut self, data: &str) -> Self {
        self.0.merchant_data = Some(data.to_string());
        self
    }

    /// Sets when the callback arrived, in milliseconds since the Unix epoch.
    pub fn received_at_ms(mut self, millis: u64) -> Self {
        self.0.received_at_ms = millis;
        self
    }

    /// The finished cart.
    pub fn build(self) -> Cart {
        self.0
    }
}
