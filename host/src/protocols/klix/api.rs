//! The Klix merchant API, as far as order verification needs it: fetch the order,
//! then approve (`PUT`, the order as a merchant-signed JWS) or reject (`DELETE`, a
//! signed `{"reasonCode"}`). Every call has a timeout and fails with a clear error.

use std::time::Duration;

use super::jws::MerchantKey;
use crate::secret::Secret;

/// Why a merchant API call failed. The answer to Klix is then 502 (it may retry).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Klix merchant API: {0}")]
pub struct ApiError(pub String);

/// A tenant's merchant API client.
#[derive(Debug, Clone)]
pub struct MerchantApi {
    client: reqwest::Client,
    base: String,
    merchant_id: String,
    api_key: Secret,
    signing_key: MerchantKey,
}

impl MerchantApi {
    /// A client for `base` (e.g. `https://api.klix.app`) with `timeout` per call.
    pub fn new(
        base: &str,
        merchant_id: &str,
        api_key: Secret,
        signing_key: MerchantKey,
        timeout: Duration,
    ) -> anyhow::Result<MerchantApi> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(MerchantApi {
            client,
            base: base.trim_end_matches('/').to_string(),
            merchant_id: merchant_id.to_string(),
            api_key,
            signing_key,
        })
    }

    fn order_url(&self, order_id: &str) -> String {
        format!(
            "{}/merchants/{}/orders/{}",
            self.base,
            utf8_percent_encode(&self.merchant_id),
            utf8_percent_encode(order_id)
        )
    }

    /// `GET .../orders/{orderId}`: the order's raw JSON.
    pub async fn order(&self, order_id: &str) -> Result<Vec<u8>, ApiError> {
        let response = self
            .client
            .get(self.order_url(order_id))
            .header("X-KLIX-Api-Key", self.api_key.expose())
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(describe)?;
        read(response, "fetching the order").await
    }

    /// `PUT .../orders/{orderId}` with the order, signed: approve.
    pub async fn approve(&self, order_id: &str, order: &[u8]) -> Result<(), ApiError> {
        self.send(reqwest::Method::PUT, order_id, order, "approving the order")
            .await
    }

    /// `DELETE .../orders/{orderId}` with `{"reasonCode"}`, signed: reject.
    pub async fn reject(&self, order_id: &str, reason_code: &str) -> Result<(), ApiError> {
        let payload = serde_json::json!({ "reasonCode": reason_code }).to_string();
        self.send(
            reqwest::Method::DELETE,
            order_id,
            payload.as_bytes(),
            "rejecting the order",
        )
        .await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        order_id: &str,
        payload: &[u8],
        what: &str,
    ) -> Result<(), ApiError> {
        let response = self
            .client
            .request(method, self.order_url(order_id))
            .header("X-KLIX-Api-Key", self.api_key.expose())
            .header("Content-Type", "application/json")
            .body(self.signing_key.sign(payload))
            .send()
            .await
            .map_err(describe)?;
        read(response, what).await.map(|_| ())
    }
}

/// The largest order the host reads back from the API.
const MAX_RESPONSE_BYTES: usize = 1 << 20;

async fn read(response: reqwest::Response, what: &str) -> Result<Vec<u8>, ApiError> {
    let status = response.status();
    if !status.is_success() {
        return Err(ApiError(format!("{what}: the API answered {status}")));
    }
    if response
        .content_length()
        .is_some_and(|length| length > MAX_RESPONSE_BYTES as u64)
    {
        return Err(ApiError(format!("{what}: the answer is too large")));
    }
    let body = response.bytes().await.map_err(describe)?;
    if body.len() > MAX_RESPONSE_BYTES {
        return Err(ApiError(format!("{what}: the answer is too large")));
    }
    Ok(body.to_vec())
}

/// A transport error without the URL's query or any header (the API key).
fn describe(error: reqwest::Error) -> ApiError {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    ApiError(kind.to_string())
}

/// Percent-encodes a path segment (ids are UUIDs, but the API is not trusted to say so).
fn utf8_percent_encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
