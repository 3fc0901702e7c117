//! The canonical cart and decisions every platform adapter maps to and from, and the
//! money arithmetic on them: the bottom of the host's stack.
//!
//! These are the contract's types exactly as `wit/checkout.wit` defines them (generated
//! once, in [`bindings`], never restated). Their JSON form (serde, field names in
//! snake_case, enum variants in UpperCamelCase) is what `rulegate run --input` reads and
//! the decision log writes.

pub(crate) mod bindings;
pub mod money;

pub use bindings::rulegate::checkout::host::LogLevel;
pub use bindings::rulegate::checkout::types::{
    Address, Attribute, BasisPoints, Cart, Customer, CustomerKind, Line, LineKind, MilliUnits,
    MinorUnits, PickupPoint, Platform, Price, QuoteDecision, Rejection, RejectionCode, RuleError,
    SeparateTax, ShippingMethod, ShippingOption, TaxDecision, Verdict,
};

/// The largest amount anywhere in a cart or a decision, in minor units (10^13: a
/// hundred billion euro). Platform amounts above it are refused as input; module
/// answers above it break the contract.
pub const MAX_AMOUNT: i64 = 10_000_000_000_000;

/// A cart with no lines, addresses or buyer details (a person): where adapters start
/// before filling in what their callback carries.
pub fn empty_cart(platform: Platform, currency: impl Into<String>, received_at_ms: u64) -> Cart {
    Cart {
        platform,
        order_id: None,
        currency: currency.into(),
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
        received_at_ms,
    }
}

/// A module's answer to one decision: the decision, or its declared refusal.
pub type Decided<T> = Result<T, RuleError>;

/// The three decisions a rules module exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    /// `shipping-options`: which options at what price.
    Shipping,
    /// `tax`: the rate of every line and separate tax lines.
    Tax,
    /// `validate`: accept or reject the order.
    Validate,
}

impl DecisionKind {
    /// All decisions, in the order the host asks them when it needs several.
    pub const ALL: [DecisionKind; 3] = [
        DecisionKind::Tax,
        DecisionKind::Shipping,
        DecisionKind::Validate,
    ];

    /// The name of the export in the contract.
    pub fn export_name(self) -> &'static str {
        match self {
            DecisionKind::Shipping => "shipping-options",
            DecisionKind::Tax => "tax",
            DecisionKind::Validate => "validate",
        }
    }

    /// The decision whose export is named `name`.
    pub fn from_export_name(name: &str) -> Option<DecisionKind> {
        DecisionKind::ALL
            .into_iter()
            .find(|kind| kind.export_name() == name)
    }
}

impl std::fmt::Display for DecisionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.export_name())
    }
}
