//! Messenger Platform payments (Buy Button): the subscription handshake and the
//! checkout_update, pre_checkout and payment webhook events (docs/PROTOCOLS.md §3).
//!
//! One webhook URL per tenant: `GET` is the handshake ([`handshake`]), `POST` delivers
//! events signed with the app secret ([`answer`]). A delivery may batch several entries
//! and events. The first checkout_update or pre_checkout in it is answered (the HTTP
//! body is its answer); later ones are logged and not answered; every payment is
//! recorded; other events (messages, reads, ...) are ignored.

mod cart;
mod render;
pub mod signature;
pub mod wire;

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

pub use cart::{CartSettings, PayloadFormat, address, to_cart};
pub use render::{Quote, quotes, shipping_body};
pub use signature::{SignatureError, Signatures};

use self::wire::{Amount, Envelope, Event, Id};
use crate::decide::{Decider, Decisions};
use crate::model::money;
use crate::model::{Cart, DecisionKind, Verdict};
use crate::protocols::{Answer, Body, ClientError, Reply, parse_json, require_json};
use crate::secret::{Secret, SecretRef};

/// Facebook gives a webhook 20 s; the host answers within a fraction of that whatever
/// the module does.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// The callback name of a delivery in which no event ran rules (a refusal, payments
/// only, other events).
pub const WEBHOOK: &str = "webhook";

/// A Messenger event that runs rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callback {
    /// Shipping options and tax for an address.
    CheckoutUpdate,
    /// Accept or stop the payment.
    PreCheckout,
}

impl Callback {
    /// The event's field name.
    pub fn name(self) -> &'static str {
        match self {
            Callback::CheckoutUpdate => "checkout_update",
            Callback::PreCheckout => "pre_checkout",
        }
    }

    /// The failure-policy key.
    pub fn policy_key(self) -> &'static str {
        match self {
            Callback::CheckoutUpdate => "messenger.checkout_update",
            Callback::PreCheckout => "messenger.pre_checkout",
        }
    }
}

/// A tenant's `[tenants.<name>.messenger]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The Facebook app secret that signs deliveries.
    #[serde(default)]
    pub app_secret: Option<SecretRef>,
    /// Accept unsigned deliveries. For demos on loopback only.
    #[serde(default)]
    pub unauthenticated: bool,
    /// The verify token entered in the app's webhook settings; without it the
    /// subscription handshake is refused.
    #[serde(default)]
    pub verify_token: Option<SecretRef>,
    /// The currency of the Buy Buttons (checkout_update carries none).
    #[serde(default = "us_dollar")]
    pub currency: String,
    /// `opaque` (default): the payload reaches the rules as merchant data only;
    /// `cart-lines`: the payload is `{"lines": [...]}` and becomes the cart's lines.
    #[serde(default)]
    pub payload: PayloadFormat,
    /// Whether payload-cart prices include tax (US prices do not).
    #[serde(default)]
    pub prices_include_tax: bool,
}

fn us_dollar() -> String {
    "USD".into()
}

/// A tenant's Messenger endpoint, resolved from [`Settings`].
#[derive(Debug, Clone, Default)]
pub struct Endpoint {
    /// The app secret; `None` accepts unsigned deliveries.
    pub app_secret: Option<Secret>,
    /// The handshake's verify token.
    pub verify_token: Option<Secret>,
    /// How events become carts.
    pub carts: CartSettings,
}

impl Settings {
    /// Resolves the secrets and checks the table; `key` names it in errors.
    pub fn resolve(&self, key: &str) -> anyhow::Result<Endpoint> {
        let app_secret = match (&self.app_secret, self.unauthenticated) {
            (Some(secret), false) => Some(secret.resolve(&format!("{key}.app_secret"))?),
            (None, true) => None,
            (Some(_), true) => anyhow::bail!(
                "`{key}`: `app_secret` and `unauthenticated = true` contradict each other"
            ),
            (None, false) => anyhow::bail!(
                "`{key}`: set `app_secret = {{ env = \"...\" }}` (or `{{ file = \"...\" }}`): Facebook signs every delivery with it (`unauthenticated = true` for loopback demos)"
            ),
        };
        let verify_token = self
            .verify_token
            .as_ref()
            .map(|token| token.resolve(&format!("{key}.verify_token")))
            .transpose()?;
        let currency = self.currency.to_ascii_uppercase();
        anyhow::ensure!(
            money::currency_exponent(&currency).is_some(),
            "`{key}.currency`: {:?} is not an ISO 4217 currency",
            self.currency
        );
        Ok(Endpoint {
            app_secret,
            verify_token,
            carts: CartSettings {
                currency,
                payload: self.payload,
                prices_include_tax: self.prices_include_tax,
            },
        })
    }
}

/// The subscription handshake: `hub.challenge` echoed exactly when `hub.mode` is
/// `subscribe` and `hub.verify_token` is the tenant's; 403 otherwise.
pub fn handshake(endpoint: &Endpoint, query: &[(String, String)]) -> Reply {
    let param = |name: &str| {
        query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let result = (|| {
        let expected = endpoint.verify_token.as_ref().ok_or_else(|| {
            ClientError::forbidden("this tenant has no Messenger verify token configured")
        })?;
        if param("hub.mode") != Some("subscribe") {
            return Err(ClientError::forbidden("`hub.mode` must be `subscribe`"));
        }
        match param("hub.verify_token") {
            Some(token) if expected.matches(token) => {}
            _ => {
                return Err(ClientError::forbidden(
                    "`hub.verify_token` does not match the tenant's verify token",
                ));
            }
        }
        param("hub.challenge")
            .map(str::to_string)
            .ok_or_else(|| ClientError::bad_request("`hub.challenge` is missing"))
    })();
    match result {
        Ok(challenge) => Reply {
            status: 200,
            headers: Vec::new(),
            body: Body::Text(challenge),
        },
        Err(error) => error.into(),
    }
}

/// One webhook delivery as it arrived.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The signature headers.
    pub signatures: Signatures<'a>,
    /// The `Content-Type` header.
    pub content_type: Option<&'a str>,
    /// The raw body.
    pub body: &'a [u8],
    /// When it arrived.
    pub received_at_ms: u64,
}

/// Answers one signed delivery. `decider` gives the decider of the event that runs
/// rules (its failure policy is the event's).
pub async fn answer(
    request: &Request<'_>,
    endpoint: &Endpoint,
    decider: impl Fn(Callback) -> Decider,
) -> Answer {
    if let Some(secret) = &endpoint.app_secret
        && let Err(error) =
            signature::verify(request.body, request.signatures, secret.expose().as_bytes())
    {
        return Answer::refused(WEBHOOK, ClientError::forbidden(error.to_string()));
    }
    if let Err(error) = require_json(request.content_type) {
        return Answer::refused(WEBHOOK, error);
    }
    answer_delivery(
        request.body,
        &endpoint.carts,
        decider,
        request.received_at_ms,
    )
    .await
}

/// What one event of a delivery asks, validated before anything runs or is recorded.
enum Step {
    Decide {
        callback: Callback,
        cart: Box<Cart>,
        record: Value,
    },
    Record(Value),
}

/// Answers a delivery whose signature is checked (or not needed: `rulegate run`).
pub async fn answer_delivery(
    body: &[u8],
    carts: &CartSettings,
    decider: impl Fn(Callback) -> Decider,
    received_at_ms: u64,
) -> Answer {
    let envelope: Envelope = match parse_json(body, "the webhook delivery") {
        Ok(envelope) => envelope,
        Err(error) => return Answer::refused(WEBHOOK, error),
    };
    if envelope.object != "page" {
        return Answer::refused(
            WEBHOOK,
            ClientError::bad_request(format!(
                "`object` is {:?}; Messenger deliveries are for `page`",
                envelope.object
            )),
        );
    }
    // Every event is read first: a malformed one refuses the whole delivery before
    // any rule runs or anything is recorded, so Facebook's retry finds nothing done.
    let mut steps = Vec::new();
    let mut unanswered = Vec::new();
    for (e, entry) in envelope.entry.iter().enumerate() {
        for (m, event) in entry.messaging.iter().enumerate() {
            let path = format!("entry[{e}].messaging[{m}]");
            let decides = steps.iter().any(|step| matches!(step, Step::Decide { .. }));
            let step = match step(
                entry.id.as_ref(),
                event,
                carts,
                decides,
                &path,
                received_at_ms,
            ) {
                Ok(step) => step,
                Err(error) => return Answer::refused(WEBHOOK, error),
            };
            match step {
                Some(step) => steps.push(step),
                None if event.checkout_update.is_some() || event.pre_checkout.is_some() => {
                    unanswered.push(path)
                }
                None => {}
            }
        }
    }
    if !unanswered.is_empty() {
        tracing::warn!(
            events = ?unanswered,
            "a Messenger delivery carried more than one checkout_update or pre_checkout; only the first is answered"
        );
    }

    let mut answer = Answer::reply(WEBHOOK, Reply::empty(200));
    for step in steps {
        match step {
            Step::Record(record) => answer.events.push(record),
            Step::Decide {
                callback,
                cart,
                mut record,
            } => {
                let decider = decider(callback);
                let exponent = money::currency_exponent(&cart.currency).unwrap_or(2);
                let (reply, decisions) = match callback {
                    Callback::CheckoutUpdate => {
                        checkout_update(*cart, &decider, exponent, &mut record).await
                    }
                    Callback::PreCheckout => pre_checkout(*cart, &decider, &mut record).await,
                };
                answer.callback = callback.name();
                answer.reply = reply;
                answer.decisions = Some(decisions);
                answer.events.push(record);
            }
        }
    }
    answer
}

/// Validates one event into what it asks. `None`: nothing to do (not a payment event,
/// or a second decision event in the delivery).
fn step(
    page: Option<&Id>,
    event: &Event,
    carts: &CartSettings,
    already_deciding: bool,
    path: &str,
    received_at_ms: u64,
) -> Result<Option<Step>, ClientError> {
    let base = |name: &str| {
        json!({
            "platform": "messenger",
            "event": name,
            "page_id": page,
            "received_at_ms": received_at_ms,
        })
    };
    if let Some(update) = &event.checkout_update {
        if already_deciding {
            return Ok(None);
        }
        let path = format!("{path}.checkout_update");
        let address = update
            .shipping_address
            .as_ref()
            .map(|raw| address(raw, &format!("{path}.shipping_address")))
            .transpose()?;
        let cart = to_cart(
            carts,
            None,
            update.payload.as_deref(),
            address,
            received_at_ms,
            &path,
        )?;
        let mut record = base("checkout_update");
        record["payload"] = json!(update.payload);
        record["address_id"] = json!(update.shipping_address.as_ref().and_then(|a| a.id.clone()));
        return Ok(Some(Step::Decide {
            callback: Callback::CheckoutUpdate,
            cart: Box::new(cart),
            record,
        }));
    }
    if let Some(pre) = &event.pre_checkout {
        if already_deciding {
            return Ok(None);
        }
        let path = format!("{path}.pre_checkout");
        let address = pre
            .requested_user_info
            .as_ref()
            .and_then(|info| info.shipping_address.as_ref())
            .map(|raw| address(raw, &format!("{path}.requested_user_info.shipping_address")))
            .transpose()?;
        let amount = pre
            .amount
            .as_ref()
            .map(|amount| checked_amount(amount, &format!("{path}.amount")))
            .transpose()?;
        let cart = to_cart(
            carts,
            pre.amount.as_ref().map(|amount| amount.currency.as_str()),
            pre.payload.as_deref(),
            address,
            received_at_ms,
            &path,
        )?;
        let mut record = base("pre_checkout");
        record["payload"] = json!(pre.payload);
        record["amount"] = json!(amount);
        return Ok(Some(Step::Decide {
            callback: Callback::PreCheckout,
            cart: Box::new(cart),
            record,
        }));
    }
    if let Some(payment) = &event.payment {
        let path = format!("{path}.payment");
        let amount = payment
            .amount
            .as_ref()
            .map(|amount| checked_amount(amount, &format!("{path}.amount")))
            .transpose()?;
        let credential = payment.payment_credential.as_ref();
        // Ids only: never the card token, CVV token, expiry or charge id.
        let mut record = base("payment");
        record["payload"] = json!(payment.payload);
        record["provider_type"] = json!(credential.and_then(|c| c.provider_type.clone()));
        record["fb_payment_id"] = json!(credential.and_then(|c| c.fb_payment_id.clone()));
        record["amount"] = json!(amount);
        record["shipping_option_id"] = json!(payment.shipping_option_id);
        return Ok(Some(Step::Record(record)));
    }
    Ok(None)
}

/// An amount as `{"currency", "amount"}` with the decimal exactly as Facebook wrote it,
/// after checking it is one in the currency's decimals.
fn checked_amount(amount: &Amount, path: &str) -> Result<Value, ClientError> {
    let currency = amount.currency.to_ascii_uppercase();
    let exponent = money::currency_exponent(&currency).ok_or_else(|| {
        ClientError::bad_request(format!(
            "`{path}.currency`: {:?} is not an ISO 4217 currency",
            amount.currency
        ))
    })?;
    let field = format!("{path}.amount");
    let minor =
        crate::protocols::decimal::decimal(&amount.amount, exponent, money::Excess::Refuse, &field)
            .map_err(|error| ClientError::bad_request(error.to_string()))?;
    Ok(json!({
        "currency": currency,
        "amount": money::format_decimal(minor, exponent),
    }))
}

/// Shipping options and tax: 200 with the options' price lists. A rejection (no
/// delivery to the address, or the failure policy's reject) answers an empty option
/// list: Facebook retries anything but a 200, and has no error shape for this event.
async fn checkout_update(
    cart: Cart,
    decider: &Decider,
    exponent: u32,
    record: &mut Value,
) -> (Reply, Decisions) {
    let decisions = decider
        .decide(cart, &[DecisionKind::Tax, DecisionKind::Shipping])
        .await;
    let tax = decisions.tax.as_ref().map(|resolved| &resolved.answer);
    let options = decisions.shipping.as_ref().map(|resolved| &resolved.answer);
    let quoted = match (tax, options) {
        (Some(Ok(tax)), Some(Ok(options))) => quotes(&decisions.input.lines, tax, options),
        (Some(Err(rejection)), _) | (_, Some(Err(rejection))) => {
            record["rejected"] = json!({ "code": rejection.code, "message": rejection.message });
            Vec::new()
        }
        _ => Vec::new(),
    };
    record["offered"] = quoted
        .iter()
        .map(|quote| {
            json!({
                "option_id": quote.option_id,
                "shipping": money::format_decimal(quote.shipping, exponent),
                "tax": money::format_decimal(quote.tax, exponent),
            })
        })
        .collect();
    let reply = Reply {
        status: 200,
        headers: Vec::new(),
        body: Body::RawJson(shipping_body(&quoted, exponent)),
    };
    (reply, decisions)
}

/// `validate`: `{"success": true}` lets the payment go ahead, `false` stops it.
async fn pre_checkout(cart: Cart, decider: &Decider, record: &mut Value) -> (Reply, Decisions) {
    let decisions = decider.decide(cart, &[DecisionKind::Validate]).await;
    let success = match decisions.verdict.as_ref().map(|resolved| &resolved.answer) {
        Some(Ok(Verdict::Approve)) => true,
        Some(Ok(Verdict::Reject(rejection))) | Some(Err(rejection)) => {
            record["rejected"] = json!({ "code": rejection.code, "message": rejection.message });
            false
        }
        None => false,
    };
    record["success"] = json!(success);
    (Reply::json(200, json!({ "success": success })), decisions)
}
