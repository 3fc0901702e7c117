//! The server's answer without HTTP: a platform's callback body, answered by the same
//! adapter call the server makes, on given rules under a tenant's default failure
//! policy. `rulegate run`, `test` and `replay` use it, so what they print is what the
//! server would send.

use std::sync::Arc;

use anyhow::Context;
use serde_json::Value;

use crate::decide::{Decider, Policy};
use crate::engine::{Executor, Limits, SharedRuleSet};
use crate::model::Platform;
use crate::protocols::klix::{self, order::Market};
use crate::protocols::{Answer, ClientError, kco, messenger, now_ms};

/// What a tenant's platform settings would supply to a callback.
#[derive(Debug, Clone, Default)]
pub struct PlatformSettings {
    /// The order id the KCO callback URL would carry.
    pub order_id: Option<String>,
    /// Klix and Messenger: the tenant's currency (default EUR for Klix, USD for
    /// Messenger).
    pub currency: Option<String>,
    /// Klix: the country of addresses without one (default LV).
    pub country: Option<String>,
    /// Messenger: how payloads are read.
    pub payload: messenger::PayloadFormat,
    /// Messenger: payload-cart prices include tax.
    pub prices_include_tax: bool,
}

/// A platform by its lower-case name (`kco`, `klix`, `messenger`), as the command
/// line and fixture files spell it.
pub fn platform(name: &str) -> Result<Platform, String> {
    match name {
        "kco" => Ok(Platform::Kco),
        "klix" => Ok(Platform::Klix),
        "messenger" => Ok(Platform::Messenger),
        other => Err(format!(
            "no platform named {other:?} (kco, klix or messenger)"
        )),
    }
}

/// The lower-case name of a platform.
pub fn platform_name(platform: Platform) -> &'static str {
    match platform {
        Platform::Kco => "kco",
        Platform::Klix => "klix",
        Platform::Messenger => "messenger",
    }
}

/// Answers callbacks as the server would. The decider's deadline and the executor
/// need a runtime, so it owns a small one.
#[derive(Debug)]
pub struct Offline {
    runtime: tokio::runtime::Runtime,
}

impl Offline {
    /// A new one, with its runtime.
    pub fn new() -> anyhow::Result<Offline> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .context("starting the runtime")?;
        Ok(Offline { runtime })
    }

    /// The answer the server would send to `input`, a callback body exactly as
    /// `platform` sends it, with `rules` under `limits` and the default failure policy.
    /// `callback` names the KCO or Klix callback; Messenger's deliveries say it.
    pub fn answer(
        &self,
        platform: Platform,
        callback: Option<&str>,
        input: &[u8],
        settings: &PlatformSettings,
        rules: &SharedRuleSet,
        limits: Limits,
    ) -> anyhow::Result<Answer> {
        let decider = Decider {
            rules: rules.clone(),
            limits,
            policy: Arc::new(Policy::default()),
            executor: Executor::new(1),
            answer_within: kco::ANSWER_WITHIN,
            tenant_lane: None,
            split: None,
        };
        match (platform, callback) {
            (Platform::Kco, Some(callback)) => {
                let callback: kco::Callback = callback
                    .parse()
                    .map_err(|error: ClientError| anyhow::anyhow!(error.message))?;
                let request = kco::Request {
                    callback,
                    order_id: settings.order_id.clone(),
                    content_type: Some("application/json"),
                    body: input,
                    received_at_ms: now_ms(),
                };
                Ok(self.runtime.block_on(kco::answer(
                    &request,
                    &kco::Endpoint::default(),
                    &decider,
                )))
            }
            (Platform::Messenger, None) => {
                let carts = messenger::CartSettings {
                    currency: settings
                        .currency
                        .as_deref()
                        .unwrap_or("USD")
                        .to_ascii_uppercase(),
                    payload: settings.payload,
                    prices_include_tax: settings.prices_include_tax,
                };
                Ok(self.runtime.block_on(messenger::answer_delivery(
                    input,
                    &carts,
                    |_| decider.clone(),
                    now_ms(),
                )))
            }
            (Platform::Messenger, Some(_)) => {
                anyhow::bail!("Messenger takes no callback: the delivery says which event it is")
            }
            (Platform::Klix, Some(callback)) => {
                anyhow::ensure!(
                    callback == klix::Callback::ShippingCost.name(),
                    "Klix runs shipping_cost here (order verification needs the Klix API, and purchase notifications run no rules)"
                );
                let payload = klix_payload(input)?;
                let market = Market {
                    currency: settings
                        .currency
                        .as_deref()
                        .unwrap_or("EUR")
                        .to_ascii_uppercase(),
                    country: settings
                        .country
                        .as_deref()
                        .unwrap_or("LV")
                        .to_ascii_uppercase(),
                };
                let answered = self.runtime.block_on(klix::quote_shipping(
                    &payload,
                    &market,
                    &decider,
                    now_ms(),
                ));
                Ok(answered.unwrap_or_else(|error| {
                    Answer::refused(klix::Callback::ShippingCost.name(), error)
                }))
            }
            (_, None) => anyhow::bail!("KCO and Klix need a callback name"),
        }
    }
}

/// A Klix payload: JSON as is, or the payload of a JWS (not verified: offline answers
/// test rules, not signatures).
fn klix_payload(input: &[u8]) -> anyhow::Result<Value> {
    use base64::Engine as _;
    let text = std::str::from_utf8(input)
        .context("the input is not UTF-8")?
        .trim();
    if text.starts_with('{') {
        return serde_json::from_str(text).context("the input is not JSON");
    }
    let payload = text
        .split('.')
        .nth(1)
        .context("the input is neither JSON nor a compact JWS")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .context("the JWS payload is not base64url")?;
    serde_json::from_slice(&bytes).context("the JWS payload is not JSON")
}
