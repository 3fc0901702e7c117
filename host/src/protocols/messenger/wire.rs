//! The Messenger Platform's webhook JSON (docs/PROTOCOLS.md §3), as far as the host reads
//! it. Unknown fields are ignored; ids are kept exactly as sent (the shipping address
//! id is a number above 2^53, so it is never read as a float).

use std::collections::BTreeMap;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A webhook delivery: `{"object": "page", "entry": [...]}`.
#[derive(Debug, Deserialize)]
pub struct Envelope {
    /// Always `page` for Messenger.
    pub object: String,
    /// One entry per page, each with its events.
    #[serde(default)]
    pub entry: Vec<Entry>,
}

/// The events of one page.
#[derive(Debug, Deserialize)]
pub struct Entry {
    /// The page id.
    #[serde(default)]
    pub id: Option<Id>,
    /// The events; other webhook fields (`changes`, `standby`) are not Messenger
    /// payments and are ignored.
    #[serde(default)]
    pub messaging: Vec<Event>,
}

/// One messaging event. Exactly one of the payment fields is set on a payment event;
/// messages, postbacks, reads and the rest carry none.
#[derive(Debug, Deserialize)]
pub struct Event {
    /// The shopper asks for shipping options and tax for an address.
    #[serde(default)]
    pub checkout_update: Option<CheckoutUpdate>,
    /// The shopper confirmed; the merchant accepts or stops the payment.
    #[serde(default)]
    pub pre_checkout: Option<PreCheckout>,
    /// The payment went through.
    #[serde(default)]
    pub payment: Option<Payment>,
}

/// `checkout_update`.
#[derive(Debug, Deserialize)]
pub struct CheckoutUpdate {
    /// The merchant's string from the Buy Button.
    #[serde(default)]
    pub payload: Option<String>,
    /// Where to ship.
    #[serde(default)]
    pub shipping_address: Option<ShippingAddress>,
}

/// `pre_checkout`.
#[derive(Debug, Deserialize)]
pub struct PreCheckout {
    /// The merchant's string from the Buy Button.
    #[serde(default)]
    pub payload: Option<String>,
    /// What the shopper entered.
    #[serde(default)]
    pub requested_user_info: Option<UserInfo>,
    /// What will be charged.
    #[serde(default)]
    pub amount: Option<Amount>,
}

/// `payment`. The credential is read only for its provider and Facebook's payment
/// id: card tokens, CVV tokens and charge ids are never deserialised, so they cannot
/// reach a log or a record.
#[derive(Debug, Deserialize)]
pub struct Payment {
    /// The merchant's string from the Buy Button.
    #[serde(default)]
    pub payload: Option<String>,
    /// Which payment.
    #[serde(default)]
    pub payment_credential: Option<CredentialIds>,
    /// What was charged.
    #[serde(default)]
    pub amount: Option<Amount>,
    /// The `option_id` the shopper chose from the checkout_update answer.
    #[serde(default)]
    pub shipping_option_id: Option<String>,
}

/// The non-secret part of a `payment_credential`.
#[derive(Debug, Deserialize)]
pub struct CredentialIds {
    /// `stripe`, `paypal` or `token`.
    #[serde(default)]
    pub provider_type: Option<String>,
    /// Facebook's id of the payment.
    #[serde(default)]
    pub fb_payment_id: Option<Id>,
}

/// `requested_user_info`. Names, e-mail addresses and phone numbers are not read: the
/// contract does not carry them.
#[derive(Debug, Deserialize)]
pub struct UserInfo {
    /// The delivery address.
    #[serde(default)]
    pub shipping_address: Option<ShippingAddress>,
}

/// A shipping address: `street1`/`street2` in checkout_update, `street_1`/`street_2`
/// in the pre_checkout and payment examples; both are read.
#[derive(Debug, Deserialize)]
pub struct ShippingAddress {
    /// Facebook's id of the saved address (checkout_update).
    #[serde(default)]
    pub id: Option<Id>,
    /// ISO 3166-1 alpha-2.
    #[serde(default)]
    pub country: Option<String>,
    /// City.
    #[serde(default)]
    pub city: Option<String>,
    /// First street line.
    #[serde(default, alias = "street_1")]
    pub street1: Option<String>,
    /// Second street line.
    #[serde(default, alias = "street_2")]
    pub street2: Option<String>,
    /// State or region.
    #[serde(default)]
    pub state: Option<String>,
    /// Postal code.
    #[serde(default)]
    pub postal_code: Option<String>,
}

/// `{"currency": "USD", "amount": "29.62"}`.
#[derive(Debug, Deserialize)]
pub struct Amount {
    /// ISO 4217.
    pub currency: String,
    /// A decimal string (a JSON number is accepted too), kept as written.
    pub amount: Box<RawValue>,
}

/// An id as Facebook sent it: a JSON string, or an integer kept exactly (never a
/// float). Serialises back in the same form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Id {
    /// Sent as a JSON integer.
    Number(u64),
    /// Sent as a JSON string.
    Text(String),
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Id, D::Error> {
        struct IdVisitor;
        impl Visitor<'_> for IdVisitor {
            type Value = Id;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an id: a string or a non-negative integer")
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Id, E> {
                Ok(Id::Number(value))
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Id, E> {
                Ok(Id::Text(value.to_string()))
            }
        }
        deserializer.deserialize_any(IdVisitor)
    }
}

/// A Messenger payload cart (`payload = "cart-lines"`): the goods of a Buy Button,
/// which Messenger itself never sends. Other keys are the merchant's own; the rules
/// see the whole payload as merchant data.
#[derive(Debug, Deserialize)]
pub struct PayloadCart {
    /// The goods.
    pub lines: Vec<PayloadLine>,
    /// The shopper's locale (BCP 47), when the merchant knows it.
    #[serde(default)]
    pub locale: Option<String>,
}

/// One line of a payload cart. Amounts are decimal strings (or numbers) in major units
/// of the tenant's currency.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayloadLine {
    /// SKU.
    pub reference: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// `physical` (default), `digital`, `discount`, `gift_card`, `surcharge`, ...
    #[serde(default)]
    pub kind: Option<String>,
    /// Units, exact to thousandths (default 1).
    #[serde(default)]
    pub quantity: Option<Box<RawValue>>,
    /// The price of one unit.
    pub unit_price: Box<RawValue>,
    /// The discount on the whole line.
    #[serde(default)]
    pub discount: Option<Box<RawValue>>,
    /// Weight of one unit in grams.
    #[serde(default)]
    pub unit_weight_grams: Option<u64>,
    /// Further facts for the rules (`category`, `tag`, ...).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}
