//! Klix (Citadele): connectivity check, order verification, purchase notification and
//! shipping cost (docs/PROTOCOLS.md §2), generations 1 (compact JWS bodies) and 2 (JSON
//! bodies with `X-Klix-Signature`).
//!
//! The server answers the connectivity check (`OPTIONS`) and the methods each callback
//! accepts; [`answer`] verifies and answers the rest.

pub mod api;
pub mod jws;
pub mod order;

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use self::api::MerchantApi;
use self::jws::{MerchantKey, ProviderKey};
use self::order::{Market, Order, ShippingCostRequest};
use crate::decide::Decider;
use crate::model::money;
use crate::model::{DecisionKind, RejectionCode, Verdict};
use crate::protocols::{Answer, Body, ClientError, Reply};
use crate::secret::SecretRef;
use crate::strict::{self, Strict};

/// How long the host gives its rules for a Klix callback.
pub const ANSWER_WITHIN: Duration = Duration::from_millis(2_500);

/// The methods a callback URL accepts, for the connectivity check.
pub const ALLOWED_METHODS: &str = "POST, PUT, OPTIONS";

/// A Klix callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callback {
    /// Klix asks whether to accept an order (JWS with the order id).
    OrderVerification,
    /// Klix reports the payment's outcome.
    PurchaseNotification,
    /// Klix asks for the delivery price to an address.
    ShippingCost,
}

impl Callback {
    const ALL: [Callback; 3] = [
        Callback::OrderVerification,
        Callback::PurchaseNotification,
        Callback::ShippingCost,
    ];

    /// The URL segment.
    pub fn name(self) -> &'static str {
        match self {
            Callback::OrderVerification => "order_verification",
            Callback::PurchaseNotification => "purchase_notification",
            Callback::ShippingCost => "shipping_cost",
        }
    }

    /// The failure-policy key.
    pub fn policy_key(self) -> &'static str {
        match self {
            Callback::OrderVerification => "klix.order_verification",
            Callback::PurchaseNotification => "klix.purchase_notification",
            Callback::ShippingCost => "klix.shipping_cost",
        }
    }
}

impl std::str::FromStr for Callback {
    type Err = ClientError;

    fn from_str(name: &str) -> Result<Callback, ClientError> {
        Callback::ALL
            .into_iter()
            .find(|callback| callback.name() == name)
            .ok_or_else(|| {
                ClientError::not_found(format!(
                    "there is no Klix callback named {name:?} (known: order_verification, purchase_notification, shipping_cost)"
                ))
            })
    }
}

/// `provider_key` naming Klix's public test certificate, built into the binary.
pub const TEST_CERTIFICATE: &str = "builtin:klix-test";

/// Klix's public test certificate (RSA-512, Citadele, valid 2018-06-12 to 2028-06-09):
/// what Klix's test environment signs callbacks with.
const TEST_CERTIFICATE_PEM: &str = include_str!("klix-test-certificate.pem");

/// A tenant's `[tenants.<name>.klix]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The Klix provider certificate (or public key), PEM, as downloaded from the
    /// Merchant Console; or `builtin:klix-test`, Klix's public test certificate.
    pub provider_key: PathBuf,
    /// Accept JSON bodies without `X-Klix-Signature`. For demos on loopback only: a
    /// signature that is present is still checked, and so is every JWS.
    #[serde(default)]
    pub unauthenticated: bool,
    /// The currency of shipping-cost carts (Klix does not send one).
    #[serde(default = "euro")]
    pub currency: String,
    /// The country of addresses Klix sends without an ISO code.
    #[serde(default = "latvia")]
    pub country: String,
    /// The merchant API, which order verification needs; without it, order
    /// verification answers 503 naming this table.
    #[serde(default)]
    pub api: Option<ApiSettings>,
}

/// `[tenants.<name>.klix.api]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSettings {
    /// E.g. `https://api.klix.app`.
    pub url: String,
    /// The merchant id in API paths.
    pub merchant_id: String,
    /// The `X-KLIX-Api-Key`.
    pub api_key: SecretRef,
    /// The merchant's RSA private key (PEM) that signs approvals and rejections.
    pub signing_key: SecretRef,
    /// The merchant certificate's id, sent as the JWS `kid`.
    pub signing_key_id: String,
    /// Timeout per API call.
    #[serde(default = "five_seconds")]
    pub timeout_ms: u64,
}

fn euro() -> String {
    "EUR".into()
}
fn latvia() -> String {
    "LV".into()
}
fn five_seconds() -> u64 {
    5_000
}

/// A tenant's Klix endpoint, resolved.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Verifies what Klix sends.
    pub provider: ProviderKey,
    /// Currency and country of carts.
    pub market: Market,
    /// The merchant API, when configured.
    pub api: Option<MerchantApi>,
    /// Whether JSON bodies may come unsigned.
    pub unauthenticated: bool,
    /// The table's key (`tenants.<name>.klix`), for errors that name it.
    pub key: String,
}

impl Settings {
    /// Reads the keys and checks the table; `key` names it in errors.
    pub fn resolve(&self, key: &str) -> anyhow::Result<Endpoint> {
        let pem = if self.provider_key.as_os_str() == TEST_CERTIFICATE {
            TEST_CERTIFICATE_PEM.to_string()
        } else {
            std::fs::read_to_string(&self.provider_key).map_err(|error| {
                anyhow::anyhow!(
                    "`{key}.provider_key`: reading {}: {error}",
                    self.provider_key.display()
                )
            })?
        };
        let provider = ProviderKey::from_pem(&pem)
            .map_err(|error| anyhow::anyhow!("`{key}.provider_key`: {error}"))?;
        anyhow::ensure!(
            money::currency_exponent(&self.currency).is_some(),
            "`{key}.currency`: {:?} is not an ISO 4217 currency",
            self.currency
        );
        anyhow::ensure!(
            self.country.len() == 2 && self.country.bytes().all(|b| b.is_ascii_uppercase()),
            "`{key}.country`: {:?} is not an ISO 3166 alpha-2 code",
            self.country
        );
        Ok(Endpoint {
            provider,
            market: Market {
                currency: self.currency.clone(),
                country: self.country.clone(),
            },
            api: self.api.as_ref().map(|api| api.resolve(key)).transpose()?,
            unauthenticated: self.unauthenticated,
            key: key.to_string(),
        })
    }
}

impl ApiSettings {
    /// Reads the API's secrets and checks the table; `key` names the `klix` table.
    fn resolve(&self, key: &str) -> anyhow::Result<MerchantApi> {
        anyhow::ensure!(
            self.url.starts_with("https://") || self.url.starts_with("http://"),
            "`{key}.api.url`: {:?} is not an http(s) URL",
            self.url
        );
        let signing_pem = self
            .signing_key
            .resolve(&format!("{key}.api.signing_key"))?;
        let signing_key = MerchantKey::from_pem(signing_pem.expose(), &self.signing_key_id)
            .map_err(|error| anyhow::anyhow!("`{key}.api.signing_key`: {error}"))?;
        MerchantApi::new(
            &self.url,
            &self.merchant_id,
            self.api_key.resolve(&format!("{key}.api.api_key"))?,
            signing_key,
            Duration::from_millis(self.timeout_ms),
        )
    }
}

/// One Klix callback as it arrived.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// Which callback.
    pub callback: Callback,
    /// `POST` or `PUT`.
    pub method: &'a str,
    /// The `X-Klix-Signature` header (gen 2).
    pub signature: Option<&'a str>,
    /// The raw body.
    pub body: &'a [u8],
    /// When it arrived.
    pub received_at_ms: u64,
}

/// Answers one Klix callback.
pub async fn answer(request: &Request<'_>, endpoint: &Endpoint, decider: &Decider) -> Answer {
    let result = match request.callback {
        Callback::OrderVerification => order_verification(request, endpoint, decider).await,
        Callback::PurchaseNotification => purchase_notification(request, endpoint),
        Callback::ShippingCost => shipping_cost(request, endpoint, decider).await,
    };
    result.unwrap_or_else(|error| Answer::refused(request.callback.name(), error))
}

/// The signed payload: gen 2 (header over the raw JSON body) or gen 1 (JWS body).
/// `status` is what a bad or missing signature answers.
fn verified(request: &Request<'_>, endpoint: &Endpoint, status: u16) -> Result<Value, ClientError> {
    let refuse = |message: String| ClientError {
        status,
        code: "bad_signature",
        message,
    };
    let payload = match request.signature {
        Some(signature) => {
            endpoint
                .provider
                .verify_detached(request.body, signature)
                .map_err(|error| refuse(format!("X-Klix-Signature: {error}")))?;
            serde_json::from_slice(request.body)
                .map_err(|error| ClientError::bad_request(format!("the body is not JSON: {error}")))
        }
        None if request.body.trim_ascii_start().starts_with(b"{") && endpoint.unauthenticated => {
            serde_json::from_slice(request.body)
                .map_err(|error| ClientError::bad_request(format!("the body is not JSON: {error}")))
        }
        None if request.body.trim_ascii_start().starts_with(b"{") => Err(refuse(
            "a JSON body needs the X-Klix-Signature header".into(),
        )),
        None => endpoint
            .provider
            .verify_jws(request.body)
            .map_err(|error| refuse(error.to_string())),
    }?;
    if !payload.is_object() {
        return Err(ClientError::bad_request(
            "the payload must be a JSON object",
        ));
    }
    Ok(payload)
}

fn field(value: &Value, name: &str) -> Option<String> {
    value.get(name).and_then(Value::as_str).map(str::to_string)
}

/// Klix's reason code for a rejection.
pub fn reason_code(code: RejectionCode) -> &'static str {
    match code {
        RejectionCode::PriceChanged => "PRICE_CHANGED",
        RejectionCode::NotAvailable => "PRODUCT_NOT_AVAILABLE",
        RejectionCode::AddressUnsupported | RejectionCode::AddressInvalid => {
            "DELIVERY_ADDRESS_NOT_SUPPORTED"
        }
        RejectionCode::Risk => "MERCHANT_RISK_TOO_HIGH",
        RejectionCode::OrderLimit | RejectionCode::Other => "OTHER",
    }
}

fn bad_gateway(message: String) -> ClientError {
    ClientError {
        status: 502,
        code: "bad_gateway",
        message,
    }
}

/// Verify, fetch the order, `validate`, deliver the decision to the API; 200 once
/// delivered, 401 on a bad signature, 502 when the API fails.
async fn order_verification(
    request: &Request<'_>,
    endpoint: &Endpoint,
    decider: &Decider,
) -> Result<Answer, ClientError> {
    let payload = verified(request, endpoint, 401)?;
    let order_id = field(&payload, "orderId")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| ClientError::bad_request("the payload has no `orderId`"))?;
    let api = endpoint.api.as_ref().ok_or_else(|| ClientError {
        status: 503,
        code: "merchant_api_not_configured",
        message: format!(
            "order verification fetches the order from the Klix merchant API, and this tenant has no `[{}.api]` table",
            endpoint.key
        ),
    })?;
    let raw = api
        .order(&order_id)
        .await
        .map_err(|error| bad_gateway(error.to_string()))?;
    let order: Order = strict::from_slice(&raw).map_err(|error| {
        bad_gateway(format!(
            "the order from the Klix API is unreadable: {error}"
        ))
    })?;
    let cart = order::order_to_cart(&order, &endpoint.market, request.received_at_ms)
        .map_err(|error| bad_gateway(format!("the order from the Klix API: {error}")))?;
    let decisions = decider.decide(cart, &[DecisionKind::Validate]).await;
    let resolved = decisions.verdict.as_ref();
    let verdict = resolved.and_then(|r| r.answer.as_ref().ok());
    let delivered = match verdict {
        Some(Verdict::Approve) => api
            .approve(&order_id, &raw)
            .await
            .map(|()| json!({ "orderId": order_id, "decision": "approved" })),
        Some(Verdict::Reject(rejection)) => {
            let code = if resolved.is_some_and(|r| r.fallback.is_some()) {
                "MERCHANT_NOT_AVAILABLE"
            } else {
                reason_code(rejection.code)
            };
            api.reject(&order_id, code).await.map(
                |()| json!({ "orderId": order_id, "decision": "rejected", "reasonCode": code }),
            )
        }
        None => Err(api::ApiError("no verdict".into())),
    };
    let (reply, events) = match delivered {
        Ok(summary) => {
            let event = json!({
                "platform": "klix", "event": "order_verification",
                "received_at_ms": request.received_at_ms, "result": summary,
            });
            (Reply::json(200, summary), vec![event])
        }
        Err(error) => (bad_gateway(error.to_string()).into(), Vec::new()),
    };
    Ok(Answer {
        callback: Callback::OrderVerification.name(),
        reply,
        decisions: Some(decisions),
        events,
    })
}

/// Verified and recorded: 200; a missing or bad signature: 400. No rules run.
fn purchase_notification(
    request: &Request<'_>,
    endpoint: &Endpoint,
) -> Result<Answer, ClientError> {
    let payload = verified(request, endpoint, 400)?;
    let generation = if request.signature.is_some() { 2 } else { 1 };
    // Only ids and the status: never the customer or the payment details.
    let event = json!({
        "platform": "klix",
        "event": "purchase_notification",
        "generation": generation,
        "order_id": field(&payload, "orderId").or_else(|| field(&payload, "id")),
        "external_order_id": field(&payload, "externalOrderId").or_else(|| field(&payload, "order_id")),
        "status": field(&payload, "status"),
        "received_at_ms": request.received_at_ms,
    });
    Ok(Answer {
        callback: Callback::PurchaseNotification.name(),
        reply: Reply::empty(200),
        decisions: None,
        events: vec![event],
    })
}

/// The requested method's price before tax, in the widget's shape; 422 when the
/// rules offer no delivery there.
async fn shipping_cost(
    request: &Request<'_>,
    endpoint: &Endpoint,
    decider: &Decider,
) -> Result<Answer, ClientError> {
    let payload = verified(request, endpoint, 401)?;
    quote_shipping(&payload, &endpoint.market, decider, request.received_at_ms).await
}

/// The shipping-cost answer for a verified payload. `rulegate run` calls it directly.
pub async fn quote_shipping(
    payload: &Value,
    market: &Market,
    decider: &Decider,
    received_at_ms: u64,
) -> Result<Answer, ClientError> {
    // Parsed plainly first; again, tracking the path, only for the error message.
    let parsed = match ShippingCostRequest::deserialize(Strict(payload)) {
        Ok(parsed) => Ok(parsed),
        Err(_) => serde_path_to_error::deserialize(Strict(payload)),
    };
    let parsed: ShippingCostRequest = parsed.map_err(|error| {
        ClientError::bad_request(format!(
            "the shipping cost request: `{}`: {}",
            error.path(),
            error.inner()
        ))
    })?;
    let cart = order::shipping_request_to_cart(&parsed, market, received_at_ms)
        .map_err(|error| ClientError::bad_request(format!("the shipping cost request: {error}")))?;
    let exponent = money::currency_exponent(&cart.currency).unwrap_or(2);
    let currency = cart.currency.clone();
    let decisions = decider.decide(cart, &[DecisionKind::Shipping]).await;
    // The body of every client error, and Klix's reason code.
    let unsupported = |message: &str, code: &str| {
        Reply::json(
            422,
            json!({ "error": "delivery_not_offered", "message": message, "reasonCode": code }),
        )
    };
    let reply = match decisions
        .shipping
        .as_ref()
        .map(|r| (&r.answer, r.fallback.is_some()))
    {
        Some((Ok(options), _)) => {
            match options.iter().find(|o| o.id == parsed.shipping_method_id) {
                Some(option) => {
                    let net = if option.price.includes_tax {
                        money::remove_tax(option.price.amount, option.tax_rate)
                    } else {
                        option.price.amount
                    };
                    // Written by hand so the decimals go out exactly as computed.
                    let body = format!(
                        r#"{{"id":{},"amount":{},"currency":{},"taxRate":{}}}"#,
                        Value::from(option.id.as_str()),
                        money::format_decimal(net, exponent),
                        Value::from(currency.as_str()),
                        money::format_decimal_trimmed(i64::from(option.tax_rate), 4),
                    );
                    Reply {
                        status: 200,
                        headers: Vec::new(),
                        body: Body::RawJson(body),
                    }
                }
                None => unsupported(
                    &format!(
                        "shipping method {:?} does not deliver to this address",
                        parsed.shipping_method_id
                    ),
                    "DELIVERY_ADDRESS_NOT_SUPPORTED",
                ),
            }
        }
        Some((Err(rejection), false)) => {
            unsupported(&rejection.message, reason_code(rejection.code))
        }
        Some((Err(rejection), true)) => unsupported(&rejection.message, "MERCHANT_NOT_AVAILABLE"),
        None => unsupported(&decider.policy.message, "MERCHANT_NOT_AVAILABLE"),
    };
    Ok(Answer {
        callback: Callback::ShippingCost.name(),
        reply,
        decisions: Some(decisions),
        events: Vec::new(),
    })
}
