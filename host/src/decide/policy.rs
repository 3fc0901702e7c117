//! The failure policy: what the host answers when a module traps, runs out of fuel or
//! time, breaks the contract, or cannot decide. Declared per tenant, with overrides per
//! callback; resolved once at load into one [`Policy`] per callback.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Failure, Resolved};
use crate::model::{
    Price, Rejection, RejectionCode, ShippingMethod, ShippingOption, TaxDecision, Verdict,
};

/// The message a shopper sees when the policy rejects, unless the tenant sets its own.
pub const DEFAULT_MESSAGE: &str =
    "We could not confirm your order right now. Please try again in a moment.";

/// What to do with an order when the validate decision fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnValidateFailure {
    /// Accept the order anyway (availability over control).
    Approve,
    /// Reject it with the policy's message (the default: a broken module never lets an
    /// order through unchecked).
    #[default]
    Reject,
}

/// What to do when the tax decision fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnTaxFailure {
    /// Reject the callback with the policy's message (the default).
    #[default]
    Reject,
    /// Apply `fallback_tax_rate` to every line.
    Fallback,
}

/// What to do when the shipping decision fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnShippingFailure {
    /// Reject the callback with the policy's message (the default).
    #[default]
    Reject,
    /// Offer `fallback_shipping`.
    Fallback,
}

/// A static shipping option offered when the shipping decision fails.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FallbackOption {
    /// Its id.
    pub id: String,
    /// The name the shopper sees.
    pub name: String,
    /// Its price in minor units, tax included.
    pub price: i64,
    /// The tax rate on the price, in basis points.
    #[serde(default)]
    pub tax_rate: u32,
    /// How it is delivered: `home`, `pickup_point`, `pickup_store`, `postal`, ...
    #[serde(default = "home")]
    pub method: FallbackMethod,
    /// An optional description.
    #[serde(default)]
    pub description: Option<String>,
    /// The carrier, if it matters.
    #[serde(default)]
    pub carrier: Option<String>,
}

fn home() -> FallbackMethod {
    FallbackMethod::Home
}

/// The shipping methods of the contract, spelled for configuration files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum FallbackMethod {
    Home,
    PickupStore,
    PickupPoint,
    BoxReg,
    BoxUnreg,
    Own,
    Postal,
    DhlPackstation,
    Digital,
}

impl From<FallbackMethod> for ShippingMethod {
    fn from(method: FallbackMethod) -> ShippingMethod {
        match method {
            FallbackMethod::Home => ShippingMethod::Home,
            FallbackMethod::PickupStore => ShippingMethod::PickupStore,
            FallbackMethod::PickupPoint => ShippingMethod::PickupPoint,
            FallbackMethod::BoxReg => ShippingMethod::BoxReg,
            FallbackMethod::BoxUnreg => ShippingMethod::BoxUnreg,
            FallbackMethod::Own => ShippingMethod::Own,
            FallbackMethod::Postal => ShippingMethod::Postal,
            FallbackMethod::DhlPackstation => ShippingMethod::DhlPackstation,
            FallbackMethod::Digital => ShippingMethod::Digital,
        }
    }
}

impl From<&FallbackOption> for ShippingOption {
    fn from(option: &FallbackOption) -> ShippingOption {
        ShippingOption {
            id: option.id.clone(),
            name: option.name.clone(),
            description: option.description.clone(),
            price: Price {
                amount: option.price,
                includes_tax: true,
            },
            tax_rate: option.tax_rate,
            method: option.method.into(),
            carrier: option.carrier.clone(),
            preselected: false,
        }
    }
}

/// The `on_failure` table of a tenant: the policy for every callback, and overrides
/// for named callbacks (`kco.validation`, `messenger.checkout_update`, ...).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailurePolicy {
    /// Approve or reject an order whose validation failed.
    #[serde(default)]
    pub validate: OnValidateFailure,
    /// Reject, or fall back to `fallback_tax_rate`.
    #[serde(default)]
    pub tax: OnTaxFailure,
    /// Reject, or fall back to `fallback_shipping`.
    #[serde(default)]
    pub shipping: OnShippingFailure,
    /// What the shopper reads when the policy rejects.
    #[serde(default)]
    pub message: Option<String>,
    /// The rate every line gets when `tax = "fallback"`.
    #[serde(default)]
    pub fallback_tax_rate: Option<u32>,
    /// The options offered when `shipping = "fallback"`.
    #[serde(default)]
    pub fallback_shipping: Vec<FallbackOption>,
    /// Overrides per callback, by `<platform>.<callback>`.
    #[serde(default)]
    pub callbacks: BTreeMap<String, PolicyOverride>,
}

/// The keys of [`FailurePolicy`] a callback may override.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct PolicyOverride {
    pub validate: Option<OnValidateFailure>,
    pub tax: Option<OnTaxFailure>,
    pub shipping: Option<OnShippingFailure>,
    pub message: Option<String>,
    pub fallback_tax_rate: Option<u32>,
    pub fallback_shipping: Option<Vec<FallbackOption>>,
}

/// The policy of one callback, resolved and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// For a failed validation.
    pub validate: OnValidateFailure,
    /// For a failed tax decision: the fallback rate, or `None` to reject.
    pub tax_fallback: Option<u32>,
    /// For a failed shipping decision: the fallback options, or `None` to reject.
    pub shipping_fallback: Option<Vec<ShippingOption>>,
    /// The shopper-facing message of a policy rejection.
    pub message: String,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            validate: OnValidateFailure::Reject,
            tax_fallback: None,
            shipping_fallback: None,
            message: DEFAULT_MESSAGE.to_string(),
        }
    }
}

impl FailurePolicy {
    /// The policy of `callback`, with its overrides applied. `key` names the table in
    /// error messages (`tenants.shop.on_failure`).
    pub fn resolve(&self, callback: &str, key: &str) -> anyhow::Result<Policy> {
        let o = self.callbacks.get(callback).cloned().unwrap_or_default();
        let key = if self.callbacks.contains_key(callback) {
            format!("{key}.callbacks.\"{callback}\"")
        } else {
            key.to_string()
        };
        let tax = o.tax.unwrap_or(self.tax);
        let rate = o.fallback_tax_rate.or(self.fallback_tax_rate);
        let tax_fallback = match tax {
            OnTaxFailure::Reject => None,
            OnTaxFailure::Fallback => {
                let rate = rate.ok_or_else(|| {
                    anyhow::anyhow!("`{key}`: `tax = \"fallback\"` needs `fallback_tax_rate`")
                })?;
                anyhow::ensure!(
                    rate <= 10_000,
                    "`{key}.fallback_tax_rate`: {rate} is above 10000 (100 %)"
                );
                Some(rate)
            }
        };
        let shipping = o.shipping.unwrap_or(self.shipping);
        let options = o
            .fallback_shipping
            .as_ref()
            .unwrap_or(&self.fallback_shipping);
        let shipping_fallback = match shipping {
            OnShippingFailure::Reject => None,
            OnShippingFailure::Fallback => {
                anyhow::ensure!(
                    !options.is_empty(),
                    "`{key}`: `shipping = \"fallback\"` needs at least one `fallback_shipping` option"
                );
                for option in options {
                    anyhow::ensure!(
                        !option.id.is_empty() && !option.name.is_empty(),
                        "`{key}.fallback_shipping`: every option needs an id and a name"
                    );
                    anyhow::ensure!(
                        option.price >= 0 && option.tax_rate <= 10_000,
                        "`{key}.fallback_shipping`: option {:?} needs a price of at least 0 and a tax rate of at most 10000",
                        option.id
                    );
                }
                let mut options: Vec<ShippingOption> =
                    options.iter().map(ShippingOption::from).collect();
                options[0].preselected = true;
                Some(options)
            }
        };
        let message = o
            .message
            .or_else(|| self.message.clone())
            .unwrap_or_else(|| DEFAULT_MESSAGE.to_string());
        anyhow::ensure!(
            !message.trim().is_empty(),
            "`{key}.message` must not be empty: the shopper reads it"
        );
        Ok(Policy {
            validate: o.validate.unwrap_or(self.validate),
            tax_fallback,
            shipping_fallback,
            message,
        })
    }

    /// Fails on an override for a callback that does not exist.
    pub fn check_callbacks(&self, known: &[&str], key: &str) -> anyhow::Result<()> {
        for callback in self.callbacks.keys() {
            anyhow::ensure!(
                known.contains(&callback.as_str()),
                "`{key}.callbacks.\"{callback}\"`: no such callback (known: {})",
                known.join(", ")
            );
        }
        Ok(())
    }
}

impl Policy {
    fn rejection(&self) -> Rejection {
        Rejection {
            code: RejectionCode::Other,
            message: self.message.clone(),
        }
    }

    /// The tax answer: the module's, or the fallback rate, or a rejection.
    pub(super) fn resolve_tax(
        &self,
        lines: usize,
        result: Result<Result<TaxDecision, Rejection>, Failure>,
    ) -> Resolved<TaxDecision> {
        match result {
            Ok(answer) => Resolved {
                answer,
                fallback: None,
            },
            Err(failure) => Resolved {
                answer: match self.tax_fallback {
                    Some(rate) => Ok(TaxDecision {
                        line_rates: vec![rate; lines],
                        separate: Vec::new(),
                    }),
                    None => Err(self.rejection()),
                },
                fallback: Some(failure),
            },
        }
    }

    /// The shipping answer: the module's, or the fallback options, or a rejection.
    pub(super) fn resolve_shipping(
        &self,
        result: Result<Result<Vec<ShippingOption>, Rejection>, Failure>,
    ) -> Resolved<Vec<ShippingOption>> {
        match result {
            Ok(answer) => Resolved {
                answer,
                fallback: None,
            },
            Err(failure) => Resolved {
                answer: self
                    .shipping_fallback
                    .clone()
                    .ok_or_else(|| self.rejection()),
                fallback: Some(failure),
            },
        }
    }

    /// The verdict: the module's (address refusals become rejections), or the policy's.
    pub(super) fn resolve_verdict(
        &self,
        result: Result<Result<Verdict, Rejection>, Failure>,
    ) -> Resolved<Verdict> {
        match result {
            Ok(Ok(verdict)) => Resolved {
                answer: Ok(verdict),
                fallback: None,
            },
            Ok(Err(rejection)) => Resolved {
                answer: Ok(Verdict::Reject(rejection)),
                fallback: None,
            },
            Err(failure) => Resolved {
                answer: Ok(match self.validate {
                    OnValidateFailure::Approve => Verdict::Approve,
                    OnValidateFailure::Reject => Verdict::Reject(self.rejection()),
                }),
                fallback: Some(failure),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> FailurePolicy {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn defaults_reject_everything_with_the_default_message() {
        let policy = FailurePolicy::default()
            .resolve("kco.validation", "p")
            .unwrap();
        assert_eq!(policy, Policy::default());
    }

    #[test]
    fn callback_overrides_win() {
        let policy = parse(
            r#"
            validate = "reject"
            message = "Sorry."
            tax = "fallback"
            fallback_tax_rate = 2500
            [callbacks."kco.validation"]
            validate = "approve"
            "#,
        );
        let validation = policy.resolve("kco.validation", "p").unwrap();
        assert_eq!(validation.validate, OnValidateFailure::Approve);
        assert_eq!(validation.tax_fallback, Some(2500));
        assert_eq!(validation.message, "Sorry.");
        let other = policy.resolve("messenger.pre_checkout", "p").unwrap();
        assert_eq!(other.validate, OnValidateFailure::Reject);
    }

    #[test]
    fn fallbacks_need_their_data() {
        let error = parse("tax = \"fallback\"").resolve("x", "tenants.a.on_failure");
        assert!(
            format!("{:#}", error.unwrap_err()).contains("needs `fallback_tax_rate`"),
            "tax"
        );
        let error = parse("shipping = \"fallback\"").resolve("x", "tenants.a.on_failure");
        assert!(format!("{:#}", error.unwrap_err()).contains("fallback_shipping"));
        let policy = parse(
            r#"
            shipping = "fallback"
            fallback_shipping = [{ id = "std", name = "Standard", price = 490, tax_rate = 2500 }]
            "#,
        )
        .resolve("x", "p")
        .unwrap();
        let options = policy.shipping_fallback.unwrap();
        assert_eq!(options[0].price.amount, 490);
        assert!(options[0].preselected);
    }

    #[test]
    fn unknown_callbacks_are_named() {
        let policy = parse("[callbacks.\"kco.nope\"]\nvalidate = \"approve\"");
        let error = policy
            .check_callbacks(&["kco.validation"], "tenants.a.on_failure")
            .unwrap_err();
        assert!(error.to_string().contains("kco.nope"), "{error}");
    }
}
