//! Messenger events to the canonical cart.
//!
//! Messenger sends no items and, in checkout_update, no currency (docs/PROTOCOLS.md §3.3):
//! the currency is the tenant's, and the Buy Button's `payload` reaches the rules as
//! merchant data. A tenant with `payload = "cart-lines"` puts the goods in the payload
//! as JSON; the host then reads them into cart lines, so tax on the goods can be
//! decided and computed like on any other platform.

use serde::Deserialize;

use super::wire::{PayloadCart, ShippingAddress};
use crate::model::money::{self, Excess};
use crate::model::{
    Address, Attribute, Cart, Line, LineKind, MAX_AMOUNT, Platform, Price, empty_cart,
};
use crate::protocols::ClientError;
use crate::protocols::decimal::{decimal, line_kind, quantity};
use crate::strict::Strict;

/// How a tenant's Buy Button payloads are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PayloadFormat {
    /// The payload is the merchant's own string, handed to the rules untouched; the cart
    /// has no lines.
    #[default]
    Opaque,
    /// The payload is a JSON object whose `lines` become the cart's lines (and still
    /// reaches the rules whole as merchant data).
    CartLines,
}

/// What turns a Messenger event into a cart: the tenant's currency and payload format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartSettings {
    /// The currency of checkout_update carts (Messenger sends none).
    pub currency: String,
    /// How payloads are read.
    pub payload: PayloadFormat,
    /// Whether payload prices include tax.
    pub prices_include_tax: bool,
}

impl Default for CartSettings {
    fn default() -> Self {
        CartSettings {
            currency: "USD".into(),
            payload: PayloadFormat::Opaque,
            prices_include_tax: false,
        }
    }
}

/// A Messenger address in the contract's form; `path` names it in errors.
pub fn address(raw: &ShippingAddress, path: &str) -> Result<Address, ClientError> {
    let country = raw.country.as_deref().map(str::trim).unwrap_or("");
    if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(ClientError::bad_request(format!(
            "`{path}.country`: {country:?} is not an ISO 3166-1 alpha-2 country code"
        )));
    }
    let present = |value: &Option<String>| {
        value
            .as_deref()
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(str::to_string)
    };
    Ok(Address {
        country: country.to_ascii_uppercase(),
        region: present(&raw.state),
        postal_code: present(&raw.postal_code),
        city: present(&raw.city),
        street_lines: [&raw.street1, &raw.street2]
            .into_iter()
            .filter_map(present)
            .collect(),
        organization: None,
    })
}

/// The cart of one event: `currency` when the event names one (pre_checkout's
/// amount), else the tenant's; lines from the payload when the tenant reads payload
/// carts.
pub fn to_cart(
    settings: &CartSettings,
    currency: Option<&str>,
    payload: Option<&str>,
    shipping_address: Option<Address>,
    received_at_ms: u64,
    path: &str,
) -> Result<Cart, ClientError> {
    let currency = currency.unwrap_or(&settings.currency).to_ascii_uppercase();
    let exponent = money::currency_exponent(&currency).ok_or_else(|| {
        ClientError::bad_request(format!(
            "`{path}`: {currency:?} is not an ISO 4217 currency"
        ))
    })?;
    let mut cart = empty_cart(Platform::Messenger, currency, received_at_ms);
    if settings.payload == PayloadFormat::CartLines {
        let parsed = payload_cart(payload.unwrap_or(""), path)?;
        cart.locale = parsed.locale.clone();
        cart.lines = payload_lines(&parsed, exponent, settings.prices_include_tax, path)?;
    }
    cart.merchant_data = payload.map(str::to_string);
    cart.shipping_address = shipping_address;
    Ok(cart)
}

fn payload_cart(payload: &str, path: &str) -> Result<PayloadCart, ClientError> {
    // Parsed plainly first; again, tracking the path, only for the error message.
    if let Ok(parsed) =
        PayloadCart::deserialize(Strict(&mut serde_json::Deserializer::from_str(payload)))
    {
        return Ok(parsed);
    }
    let mut deserializer = serde_json::Deserializer::from_str(payload);
    serde_path_to_error::deserialize(Strict(&mut deserializer)).map_err(|error| {
        let field = error.path().to_string();
        let inner = error.into_inner();
        let at = if field == "." {
            String::new()
        } else {
            format!(" at `{field}`")
        };
        ClientError::bad_request(format!(
            "`{path}.payload` is not a payload cart (this tenant reads Buy Button payloads as {{\"lines\": [...]}}){at}: {inner}"
        ))
    })
}

fn payload_lines(
    cart: &PayloadCart,
    exponent: u32,
    prices_include_tax: bool,
    path: &str,
) -> Result<Vec<Line>, ClientError> {
    let bad = |error: crate::protocols::decimal::MappingError| {
        ClientError::bad_request(format!("`{path}.payload`: {error}"))
    };
    cart.lines
        .iter()
        .enumerate()
        .map(|(index, line)| {
            let field = |name: &str| format!("lines[{index}].{name}");
            let quantity = match &line.quantity {
                Some(raw) => quantity(raw, &field("quantity")).map_err(bad)?,
                None => 1_000,
            };
            let unit_price = decimal(
                &line.unit_price,
                exponent,
                Excess::Refuse,
                &field("unit_price"),
            )
            .map_err(bad)?;
            let discount = match &line.discount {
                Some(raw) => {
                    decimal(raw, exponent, Excess::Refuse, &field("discount")).map_err(bad)?
                }
                None => 0,
            };
            let total = money::extend(unit_price, quantity);
            if total.abs() > MAX_AMOUNT || discount.abs() > MAX_AMOUNT {
                return Err(ClientError::bad_request(format!(
                    "`{path}.payload`: `lines[{index}]`: amounts above {MAX_AMOUNT} minor units"
                )));
            }
            if discount < 0 {
                return Err(ClientError::bad_request(format!(
                    "`{path}.payload`: `lines[{index}].discount` must not be negative"
                )));
            }
            Ok(Line {
                reference: line.reference.clone(),
                name: line.name.clone(),
                kind: line.kind.as_deref().map_or(LineKind::Physical, line_kind),
                quantity,
                unit_price: Some(Price {
                    amount: unit_price,
                    includes_tax: prices_include_tax,
                }),
                discount,
                tax_rate: None,
                unit_weight_grams: line.unit_weight_grams,
                attributes: line
                    .attributes
                    .iter()
                    .map(|(key, value)| Attribute {
                        key: key.clone(),
                        value: value.clone(),
                    })
                    .collect(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_settings() -> CartSettings {
        CartSettings {
            payload: PayloadFormat::CartLines,
            ..CartSettings::default()
        }
    }

    #[test]
    fn opaque_payloads_reach_the_rules_untouched() {
        let cart = to_cart(
            &CartSettings::default(),
            None,
            Some("DEVELOPER_DEFINED_PAYLOAD"),
            None,
            7,
            "e",
        )
        .unwrap();
        assert_eq!(cart.currency, "USD");
        assert!(cart.lines.is_empty());
        assert_eq!(
            cart.merchant_data.as_deref(),
            Some("DEVELOPER_DEFINED_PAYLOAD")
        );
        assert_eq!(cart.platform, Platform::Messenger);
    }

    #[test]
    fn payload_carts_become_lines_exactly() {
        let payload = r#"{"lines":[{"reference":"TEE-M","name":"T-shirt","quantity":2,"unit_price":"29.99","discount":"5.00","attributes":{"category":"apparel"}},{"reference":"EBOOK","kind":"digital","unit_price":4.1,"quantity":"1.5"}],"order_ref":"A-17"}"#;
        let cart = to_cart(&lines_settings(), Some("usd"), Some(payload), None, 0, "e").unwrap();
        assert_eq!(cart.currency, "USD");
        assert_eq!(cart.lines.len(), 2);
        let tee = &cart.lines[0];
        assert_eq!(tee.quantity, 2000);
        assert_eq!(
            tee.unit_price,
            Some(Price {
                amount: 2999,
                includes_tax: false
            })
        );
        assert_eq!(tee.discount, 500);
        assert_eq!(tee.kind, LineKind::Physical);
        assert_eq!(tee.attributes[0].key, "category");
        let ebook = &cart.lines[1];
        assert_eq!(ebook.kind, LineKind::Digital);
        assert_eq!(ebook.quantity, 1500);
        assert_eq!(ebook.unit_price.unwrap().amount, 410);
        assert_eq!(cart.merchant_data.as_deref(), Some(payload));
    }

    #[test]
    fn bad_payload_carts_name_the_problem() {
        for (payload, expected) in [
            ("DEVELOPER_DEFINED_PAYLOAD", "is not a payload cart"),
            (r#"{"lines":[{"reference":"A"}]}"#, "unit_price"),
            (
                r#"{"lines":[{"reference":"A","unit_price":"1.999"}]}"#,
                "lines[0].unit_price",
            ),
            (
                r#"{"lines":[{"reference":"A","unit_price":"1","qty":2}]}"#,
                "unknown field `qty`",
            ),
            (
                r#"{"lines":[{"reference":"A","unit_price":"1","discount":"-1"}]}"#,
                "must not be negative",
            ),
            (
                r#"{"lines":[{"reference":"A","unit_price":"99999999999999"}]}"#,
                "amounts above",
            ),
        ] {
            let error =
                to_cart(&lines_settings(), None, Some(payload), None, 0, "entry[0]").unwrap_err();
            assert_eq!(error.status, 400);
            assert!(
                error.message.contains(expected),
                "{payload}: {}",
                error.message
            );
        }
    }

    #[test]
    fn addresses_keep_what_rules_need() {
        let raw: ShippingAddress = serde_json::from_str(
            r#"{"id": 10105655000959552, "country": "us", "city": "MENLO PARK", "street_1": "1 Hacker Way", "street_2": "", "state": "CA", "postal_code": "94025", "name": "Tao Jiang"}"#,
        )
        .unwrap();
        assert_eq!(
            raw.id,
            Some(super::super::wire::Id::Number(10_105_655_000_959_552))
        );
        let address = address(&raw, "a").unwrap();
        assert_eq!(address.country, "US");
        assert_eq!(address.street_lines, vec!["1 Hacker Way".to_string()]);
        assert_eq!(address.region.as_deref(), Some("CA"));
        let raw: ShippingAddress = serde_json::from_str(r#"{"country": "USA"}"#).unwrap();
        assert!(
            super::address(&raw, "a")
                .unwrap_err()
                .message
                .contains("`a.country`")
        );
    }
}
