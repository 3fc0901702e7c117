//! Kustom Checkout (formerly Klarna Checkout v3): address_update, country_change,
//! shipping_option_update, validation and push (docs/PROTOCOLS.md §1).
//!
//! The server checks the callback's secret ([`Endpoint::authenticate`]) and reads the
//! order id from the query string ([`Endpoint::order_id`]); [`answer`] does the rest.

mod cart;
mod render;
pub mod wire;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

pub use cart::{Lines, MAX_AMOUNT, MAX_LINES, Mapped, check, to_cart};
pub use render::{FeeLine, cart_response, error_type, line_amounts, method_name, option_amounts};

use crate::decide::Decider;
use crate::model::{DecisionKind, Verdict};
use crate::protocols::{Answer, Body, ClientError, Reply, parse_json, require_json};
use crate::secret::{Secret, SecretRef};

/// KCO waits 3 s for validation and then approves on its own; the host answers every
/// callback well inside that window, whatever the module does.
pub const ANSWER_WITHIN: Duration = Duration::from_millis(2_500);

/// The query parameters that carry the order id unless a tenant names others.
pub const DEFAULT_ORDER_ID_PARAMS: &[&str] = &[
    "kustom_order_id",
    "klarna_order_id",
    "kco_order_id",
    "order_id",
];

/// A KCO callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Callback {
    /// The shopper entered or changed an address.
    AddressUpdate,
    /// The shopper changed the billing country.
    CountryChange,
    /// The shopper picked a shipping option in KCO's selector.
    ShippingOptionUpdate,
    /// The shopper pressed buy.
    Validation,
    /// The order was placed (no rules run).
    Push,
}

impl Callback {
    /// Every callback, in URL spelling.
    pub const ALL: [Callback; 5] = [
        Callback::AddressUpdate,
        Callback::CountryChange,
        Callback::ShippingOptionUpdate,
        Callback::Validation,
        Callback::Push,
    ];

    /// The URL segment (`address_update`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Callback::AddressUpdate => "address_update",
            Callback::CountryChange => "country_change",
            Callback::ShippingOptionUpdate => "shipping_option_update",
            Callback::Validation => "validation",
            Callback::Push => "push",
        }
    }

    /// The failure-policy key (`kco.address_update`, ...).
    pub fn policy_key(self) -> &'static str {
        match self {
            Callback::AddressUpdate => "kco.address_update",
            Callback::CountryChange => "kco.country_change",
            Callback::ShippingOptionUpdate => "kco.shipping_option_update",
            Callback::Validation => "kco.validation",
            Callback::Push => "kco.push",
        }
    }

    /// The decisions the callback asks of the rules.
    pub fn decisions(self) -> &'static [DecisionKind] {
        match self {
            Callback::AddressUpdate | Callback::CountryChange | Callback::ShippingOptionUpdate => {
                &[DecisionKind::Tax, DecisionKind::Shipping]
            }
            Callback::Validation => &[DecisionKind::Validate],
            Callback::Push => &[],
        }
    }
}

impl fmt::Display for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Callback {
    type Err = ClientError;

    fn from_str(name: &str) -> Result<Callback, ClientError> {
        Callback::ALL
            .into_iter()
            .find(|callback| callback.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = Callback::ALL.iter().map(|c| c.name()).collect();
                ClientError::not_found(format!(
                    "there is no KCO callback named {name:?} (known: {})",
                    known.join(", ")
                ))
            })
    }
}

/// A tenant's `[tenants.<name>.kco]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The shared secret in the callback URLs the merchant registers with KCO.
    #[serde(default)]
    pub secret: Option<SecretRef>,
    /// Accept callbacks without a secret. For demos on loopback only: anyone who can
    /// reach the URL could then ask for shipping and tax or pass validation.
    #[serde(default)]
    pub unauthenticated: bool,
    /// Further query parameter names that carry the order id.
    #[serde(default)]
    pub order_id_params: Vec<String>,
    /// Where validation sends a rejected shopper (303) instead of showing the message.
    #[serde(default)]
    pub reject_redirect: Option<String>,
}

/// A tenant's KCO endpoint, resolved from [`Settings`].
#[derive(Debug, Clone, Default)]
pub struct Endpoint {
    /// The secret callbacks must present; `None` accepts any caller.
    pub secret: Option<Secret>,
    /// Query parameters that carry the order id, in the order they are tried.
    pub order_id_params: Vec<String>,
    /// The page a rejected validation redirects to.
    pub reject_redirect: Option<String>,
}

impl Settings {
    /// Resolves the secret and checks the table; `key` names it in errors.
    pub fn resolve(&self, key: &str) -> anyhow::Result<Endpoint> {
        let secret = match (&self.secret, self.unauthenticated) {
            (Some(secret), false) => Some(secret.resolve(&format!("{key}.secret"))?),
            (None, true) => None,
            (Some(_), true) => anyhow::bail!(
                "`{key}`: `secret` and `unauthenticated = true` contradict each other"
            ),
            (None, false) => anyhow::bail!(
                "`{key}`: set `secret = {{ env = \"...\" }}` (or `{{ file = \"...\" }}`); KCO does not sign callbacks, so the secret in the URL is what authenticates them (`unauthenticated = true` for loopback demos)"
            ),
        };
        if let Some(url) = &self.reject_redirect {
            anyhow::ensure!(
                url.starts_with("https://") || url.starts_with("http://"),
                "`{key}.reject_redirect`: {url:?} is not an absolute http(s) URL"
            );
        }
        let mut order_id_params = self.order_id_params.clone();
        order_id_params.extend(DEFAULT_ORDER_ID_PARAMS.iter().map(|name| name.to_string()));
        Ok(Endpoint {
            secret,
            order_id_params,
            reject_redirect: self.reject_redirect.clone(),
        })
    }
}

impl Endpoint {
    /// Checks the presented secret (path segment, else `token` query parameter).
    pub fn authenticate(&self, presented: Option<&str>) -> Result<(), ClientError> {
        let Some(expected) = &self.secret else {
            return Ok(());
        };
        match presented {
            Some(presented) if expected.matches(presented) => Ok(()),
            Some(_) => Err(ClientError::unauthorized(
                "the callback secret does not match",
            )),
            None => Err(ClientError::unauthorized(
                "this callback needs the tenant's secret, as a path segment (/{tenant}/kco/{secret}/{callback}) or the `token` query parameter",
            )),
        }
    }

    /// The order id from the query string.
    pub fn order_id(&self, query: &[(String, String)]) -> Option<String> {
        self.order_id_params.iter().find_map(|name| {
            query
                .iter()
                .find(|(key, value)| key == name && !value.is_empty())
                .map(|(_, value)| value.clone())
        })
    }
}

/// One callback as it arrived, authenticated.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// Which callback.
    pub callback: Callback,
    /// From the query string.
    pub order_id: Option<String>,
    /// The `Content-Type` header.
    pub content_type: Option<&'a str>,
    /// The raw body.
    pub body: &'a [u8],
    /// When it arrived (ms since the epoch).
    pub received_at_ms: u64,
}

/// Answers one authenticated KCO callback.
pub async fn answer(request: &Request<'_>, endpoint: &Endpoint, decider: &Decider) -> Answer {
    match request.callback {
        Callback::Push => push(request),
        Callback::Validation => match parse(request) {
            Ok(order) => validation(request, order, endpoint, decider).await,
            Err(error) => Answer::refused(request.callback.name(), error),
        },
        callback => match parse(request) {
            Ok(order) => shipping_service(callback, request, order, decider).await,
            Err(error) => Answer::refused(callback.name(), error),
        },
    }
}

fn parse(request: &Request<'_>) -> Result<wire::CheckoutOrder, ClientError> {
    require_json(request.content_type)?;
    let what = match request.callback {
        Callback::Validation => "the checkout order",
        _ => "the shipping_service_request",
    };
    let order: wire::CheckoutOrder = parse_json(request.body, what)?;
    check(&order)?;
    Ok(order)
}

/// address_update, country_change, shipping_option_update: tax and shipping, rendered
/// into the whole cart.
async fn shipping_service(
    callback: Callback,
    request: &Request<'_>,
    order: wire::CheckoutOrder,
    decider: &Decider,
) -> Answer {
    let mapped = to_cart(
        &order,
        Lines::Decidable,
        request.order_id.clone(),
        request.received_at_ms,
    );
    let decisions = decider.decide(mapped.cart, callback.decisions()).await;
    let message = decider.policy.message.as_str();
    let tax = decisions.tax.as_ref().map(|resolved| &resolved.answer);
    let options = decisions.shipping.as_ref().map(|resolved| &resolved.answer);
    let reply = match (tax, options) {
        (Some(Err(rejection)), _) | (_, Some(Err(rejection))) => {
            render::rejection(rejection, message)
        }
        (Some(Ok(tax)), Some(Ok(options))) => {
            let selected = order
                .selected_shipping_option
                .as_ref()
                .map(|option| option.id.as_str());
            let fee = if callback == Callback::ShippingOptionUpdate {
                FeeLine::Chosen(selected)
            } else if order.order_lines.iter().any(|l| l.kind() == "shipping_fee") {
                FeeLine::Reprice(selected)
            } else {
                FeeLine::Omit
            };
            let cart = cart_response(&order, &mapped.origin, tax, options, fee);
            // Serialised once, straight to the body.
            match serde_json::to_string(&cart) {
                Ok(body) => Reply {
                    status: 200,
                    headers: Vec::new(),
                    body: Body::RawJson(body),
                },
                Err(_) => unreachable_reply(),
            }
        }
        _ => unreachable_reply(),
    };
    Answer {
        callback: callback.name(),
        reply,
        decisions: Some(decisions),
        events: Vec::new(),
    }
}

/// validation: 200 on approve; 400 `error_type`/`error_text` (or 303 to the tenant's
/// page) on reject.
async fn validation(
    request: &Request<'_>,
    order: wire::CheckoutOrder,
    endpoint: &Endpoint,
    decider: &Decider,
) -> Answer {
    let mapped = to_cart(
        &order,
        Lines::Placed,
        request.order_id.clone(),
        request.received_at_ms,
    );
    let decisions = decider.decide(mapped.cart, &[DecisionKind::Validate]).await;
    let reply = match decisions.verdict.as_ref().map(|resolved| &resolved.answer) {
        Some(Ok(Verdict::Approve)) => Reply::empty(200),
        Some(Ok(Verdict::Reject(rejection))) => match &endpoint.reject_redirect {
            Some(page) => Reply::see_other(page),
            None => render::rejection(rejection, &decider.policy.message),
        },
        _ => unreachable_reply(),
    };
    Answer {
        callback: Callback::Validation.name(),
        reply,
        decisions: Some(decisions),
        events: Vec::new(),
    }
}

/// push: acknowledged and recorded; no rules run.
fn push(request: &Request<'_>) -> Answer {
    let Some(order_id) = &request.order_id else {
        return Answer::refused(
            Callback::Push.name(),
            ClientError::bad_request(
                "a push needs the order id in the query string (e.g. ?kustom_order_id=...)",
            ),
        );
    };
    Answer {
        callback: Callback::Push.name(),
        reply: Reply::empty(200),
        decisions: None,
        events: vec![json!({
            "platform": "kco",
            "event": "push",
            "order_id": order_id,
            "received_at_ms": request.received_at_ms,
        })],
    }
}

/// The decider always answers what was asked; this covers a programming error without
/// a panic on the request path: the policy's rejection, never a 500.
fn unreachable_reply() -> Reply {
    tracing::error!("a KCO decision was missing from the decider's answer");
    Reply::json(
        400,
        json!({ "error_type": "approval_failed", "error_text": crate::decide::DEFAULT_MESSAGE }),
    )
}
