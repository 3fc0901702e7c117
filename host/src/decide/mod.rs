//! One callback's decisions, start to finish: run the wanted decisions of the tenant's
//! rules on the executor under a host-side deadline, then apply the tenant's failure
//! policy so every decision ends as an answer a platform adapter can render.
//!
//! Platform-neutral: adapters hand in a canonical cart and get canonical answers back.

mod policy;
pub mod split;

use std::sync::Arc;
use std::time::Duration;

pub use split::Split;

pub use policy::{
    DEFAULT_MESSAGE, FailurePolicy, FallbackOption, OnShippingFailure, OnTaxFailure,
    OnValidateFailure, Policy,
};

use crate::engine::{EngineError, Executor, Limits, LongCalls, Outcome, SharedRuleSet, Usage};
use crate::model::{
    Cart, Decided, DecisionKind, Rejection, RejectionCode, RuleError, ShippingOption, TaxDecision,
    Verdict,
};

/// Why a decision has no answer from the module, so the failure policy answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The sandbox stopped the module or its answer broke the contract.
    #[error("the module {0}")]
    Engine(#[from] EngineError),
    /// The module declined with `cannot-decide`; the reason is for the operator.
    #[error("the module cannot decide: {0}")]
    CannotDecide(String),
    /// The host's deadline for the whole callback passed before the rules answered
    /// (including time spent waiting for a free executor slot).
    #[error("no answer within the callback's {} ms", .0.as_millis())]
    TimedOut(Duration),
    /// The rule call could not run at all.
    #[error("the rule call could not run: {0}")]
    Unavailable(String),
}

impl Failure {
    /// A short stable name for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Engine(error) => error.kind(),
            Failure::CannotDecide(_) => "cannot-decide",
            Failure::TimedOut(_) => "timeout",
            Failure::Unavailable(_) => "unavailable",
        }
    }
}

/// A decision after the failure policy: the value to render, or the rejection the
/// shopper sees. `fallback` says why the policy answered instead of the module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved<T> {
    /// The answer to render.
    pub answer: Result<T, Rejection>,
    /// Set when the module did not answer and the policy did.
    pub fallback: Option<Failure>,
}

/// What one callback asked of the rules, after the failure policy.
#[derive(Debug, Clone)]
pub struct Decisions {
    /// The tax decision, when asked for.
    pub tax: Option<Resolved<TaxDecision>>,
    /// The shipping options, when asked for.
    pub shipping: Option<Resolved<Vec<ShippingOption>>>,
    /// The verdict, when asked for. Always an `Ok` verdict: rejections are verdicts.
    pub verdict: Option<Resolved<Verdict>>,
    /// What the rules used.
    pub usage: Usage,
    /// Which rules answered (`sha256:...` or `native:...`).
    pub module: String,
    /// The cart the rules decided on.
    pub input: Arc<Cart>,
    /// Wall-clock time from asking to the answers, waiting and the policy included.
    pub elapsed: Duration,
}

impl Decisions {
    /// Every failure the policy answered for, with the decision it concerned.
    pub fn fallbacks(&self) -> impl Iterator<Item = (DecisionKind, &Failure)> {
        let tax = self.tax.as_ref().and_then(|r| r.fallback.as_ref());
        let shipping = self.shipping.as_ref().and_then(|r| r.fallback.as_ref());
        let verdict = self.verdict.as_ref().and_then(|r| r.fallback.as_ref());
        [
            (DecisionKind::Tax, tax),
            (DecisionKind::Shipping, shipping),
            (DecisionKind::Validate, verdict),
        ]
        .into_iter()
        .filter_map(|(kind, failure)| failure.map(|failure| (kind, failure)))
    }
}

/// Runs the decisions of callbacks for one tenant: its rules, limits and policy, the
/// shared executor, and how long the platform waits.
#[derive(Clone)]
pub struct Decider {
    /// The rules version this request resolved; it finishes on it.
    pub rules: SharedRuleSet,
    /// The tenant's per-call limits.
    pub limits: Limits,
    /// The failure policy for this callback.
    pub policy: Arc<Policy>,
    /// Where rule calls run.
    pub executor: Executor,
    /// The host-side deadline for all decisions of the callback, waiting included.
    pub answer_within: Duration,
    /// The tenant's long-call lane: a tenant runs at most this semaphore's permits of
    /// long calls at once, so one tenant's slow module cannot take every core.
    pub tenant_lane: Option<Arc<tokio::sync::Semaphore>>,
    /// A canary answering a share of the tenant's checkouts instead of `rules`.
    pub split: Option<Split>,
}

impl std::fmt::Debug for Decider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decider")
            .field("rules", &self.rules.id())
            .field("limits", &self.limits)
            .field("answer_within", &self.answer_within)
            .finish()
    }
}

impl Decider {
    /// Runs `wanted` (in that order, on one session) on `cart` and resolves each
    /// decision through the failure policy. Never fails: a module that does not answer
    /// in time, traps or breaks the contract gets the policy's answer.
    pub async fn decide(&self, cart: Cart, wanted: &[DecisionKind]) -> Decisions {
        let began = std::time::Instant::now();
        let rules = self
            .split
            .as_ref()
            .and_then(|split| split.rules_for(&cart))
            .unwrap_or(&self.rules);
        let module = rules.id().to_string();
        // Shared with the decision log, which keeps the input even when the deadline
        // passes first.
        let input = Arc::new(cart);
        // A call still running after a tick continues on the tenant's lanes, then the
        // process's: one tenant's slow module cannot take every core.
        let long_calls = LongCalls(
            self.tenant_lane
                .iter()
                .cloned()
                .chain([self.executor.long_call_lane()])
                .collect(),
        );
        let run = self.executor.run(run_session(
            rules,
            &self.limits,
            &long_calls,
            &input,
            wanted,
        ));
        let outcomes = match tokio::time::timeout(self.answer_within, run).await {
            Ok(Ok(outcomes)) => Ok(outcomes),
            Ok(Err(error)) => Err(Failure::Unavailable(error.to_string())),
            Err(_) => Err(Failure::TimedOut(self.answer_within)),
        };
        let mut decisions = self.resolve(input, wanted, outcomes, module);
        decisions.elapsed = began.elapsed();
        decisions
    }

    /// Every wanted decision through the failure policy: the module's outcome, or the
    /// failure that stopped the whole session.
    fn resolve(
        &self,
        input: Arc<Cart>,
        wanted: &[DecisionKind],
        outcomes: Result<(Vec<Outcome>, Usage), Failure>,
        module: String,
    ) -> Decisions {
        let lines = input.lines.len();
        let policy = &self.policy;
        let mut decisions = Decisions {
            tax: None,
            shipping: None,
            verdict: None,
            usage: Usage::default(),
            module,
            input,
            elapsed: Duration::ZERO,
        };
        match outcomes {
            Ok((outcomes, usage)) => {
                decisions.usage = usage;
                for outcome in outcomes {
                    match outcome {
                        Outcome::Tax(result) => {
                            decisions.tax = Some(policy.resolve_tax(lines, flatten(result)));
                        }
                        Outcome::Shipping(result) => {
                            decisions.shipping = Some(policy.resolve_shipping(flatten(result)));
                        }
                        Outcome::Validate(result) => {
                            decisions.verdict = Some(policy.resolve_verdict(flatten(result)));
                        }
                    }
                }
            }
            Err(failure) => {
                for kind in wanted {
                    let failed = failure.clone();
                    match kind {
                        DecisionKind::Tax => {
                            decisions.tax = Some(policy.resolve_tax(lines, Err(failed)));
                        }
                        DecisionKind::Shipping => {
                            decisions.shipping = Some(policy.resolve_shipping(Err(failed)));
                        }
                        DecisionKind::Validate => {
                            decisions.verdict = Some(policy.resolve_verdict(Err(failed)));
                        }
                    }
                }
            }
        }
        decisions
    }
}

/// Separates the module's declared refusals from everything else: address problems
/// stay answers (the shopper sees them), `cannot-decide` becomes a failure for the
/// policy.
fn flatten<T>(result: Result<Decided<T>, EngineError>) -> Result<Result<T, Rejection>, Failure> {
    match result {
        Ok(Ok(value)) => Ok(Ok(value)),
        Ok(Err(RuleError::AddressUnsupported(message))) => Ok(Err(Rejection {
            code: RejectionCode::AddressUnsupported,
            message,
        })),
        Ok(Err(RuleError::AddressInvalid(message))) => Ok(Err(Rejection {
            code: RejectionCode::AddressInvalid,
            message,
        })),
        Ok(Err(RuleError::CannotDecide(reason))) => Err(Failure::CannotDecide(reason)),
        Err(error) => Err(Failure::Engine(error)),
    }
}

/// Runs `wanted`, in that order, on one session of `rules`; shipping and tax together
/// as one quote, so a module of contract 0.2.0 gets the cart once.
async fn run_session(
    rules: &SharedRuleSet,
    limits: &Limits,
    long_calls: &LongCalls,
    cart: &Cart,
    wanted: &[DecisionKind],
) -> (Vec<Outcome>, Usage) {
    let mut session = rules.session_async(limits, long_calls);
    let both = wanted.contains(&DecisionKind::Shipping) && wanted.contains(&DecisionKind::Tax);
    let mut quoted = false;
    let mut outcomes = Vec::with_capacity(wanted.len());
    for &kind in wanted {
        if both && matches!(kind, DecisionKind::Shipping | DecisionKind::Tax) {
            // The first of the two asks for both; the second is already answered.
            if !std::mem::replace(&mut quoted, true) {
                outcomes.extend(session.quote(cart).await.outcomes());
            }
            continue;
        }
        outcomes.push(session.decide(kind, cart).await);
    }
    (outcomes, session.usage().clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{AsyncSession, Deciding, RuleSet};
    use crate::model::Platform;

    /// Rules that take `delay` per decision and then decline with `answer`.
    struct Slow {
        delay: Duration,
        usage: Usage,
    }

    impl RuleSet for Slow {
        fn id(&self) -> &str {
            "native:slow"
        }
        fn session_async(&self, _limits: &Limits, _: &LongCalls) -> Box<dyn AsyncSession + '_> {
            Box::new(Slow {
                delay: self.delay,
                usage: Usage::default(),
            })
        }
    }

    impl AsyncSession for Slow {
        fn shipping_options<'a>(
            &'a mut self,
            _cart: &'a Cart,
        ) -> Deciding<'a, Vec<ShippingOption>> {
            Box::pin(async move {
                tokio::time::sleep(self.delay).await;
                Ok(Err(RuleError::AddressUnsupported(
                    "No delivery there.".into(),
                )))
            })
        }
        fn tax<'a>(&'a mut self, _cart: &'a Cart) -> Deciding<'a, TaxDecision> {
            Box::pin(async move {
                tokio::time::sleep(self.delay).await;
                Ok(Err(RuleError::CannotDecide("no rate table".into())))
            })
        }
        fn validate<'a>(&'a mut self, _cart: &'a Cart) -> Deciding<'a, Verdict> {
            Box::pin(async move {
                tokio::time::sleep(self.delay).await;
                Err(EngineError::Trap {
                    message: "unreachable".into(),
                })
            })
        }
        fn usage(&self) -> &Usage {
            &self.usage
        }
    }

    fn cart() -> Cart {
        crate::model::empty_cart(Platform::Kco, "EUR", 0)
    }

    fn decider(delay: Duration, answer_within: Duration, policy: Policy) -> Decider {
        Decider {
            rules: Arc::new(Slow {
                delay,
                usage: Usage::default(),
            }),
            limits: Limits::default(),
            policy: Arc::new(policy),
            executor: Executor::new(1),
            answer_within,
            tenant_lane: None,
            split: None,
        }
    }

    #[tokio::test]
    async fn refusals_stay_answers_and_failures_go_to_the_policy() {
        let policy = Policy {
            tax_fallback: Some(2500),
            ..Policy::default()
        };
        let decider = decider(Duration::ZERO, Duration::from_secs(5), policy);
        let decisions = decider.decide(cart(), &DecisionKind::ALL).await;
        let shipping = decisions.shipping.unwrap();
        assert_eq!(shipping.fallback, None);
        assert_eq!(
            shipping.answer.unwrap_err().code,
            RejectionCode::AddressUnsupported
        );
        let tax = decisions.tax.unwrap();
        assert_eq!(tax.fallback.unwrap().kind(), "cannot-decide");
        assert!(tax.answer.unwrap().separate.is_empty());
        let verdict = decisions.verdict.unwrap();
        assert_eq!(verdict.fallback.unwrap().kind(), "trap");
        assert!(
            matches!(verdict.answer, Ok(Verdict::Reject(ref r)) if r.message == DEFAULT_MESSAGE)
        );
    }

    /// Rules whose quote answers and whose shipping and tax decisions on their own
    /// decline: what a callback gets shows which it asked.
    struct QuoteOnly(Usage);

    impl RuleSet for QuoteOnly {
        fn id(&self) -> &str {
            "native:quote-only"
        }
        fn session_async(&self, _limits: &Limits, _: &LongCalls) -> Box<dyn AsyncSession + '_> {
            Box::new(QuoteOnly(Usage::default()))
        }
    }

    impl AsyncSession for QuoteOnly {
        fn shipping_options<'a>(&'a mut self, _: &'a Cart) -> Deciding<'a, Vec<ShippingOption>> {
            Box::pin(async { Ok(Err(RuleError::CannotDecide("asked alone".into()))) })
        }
        fn tax<'a>(&'a mut self, _: &'a Cart) -> Deciding<'a, TaxDecision> {
            Box::pin(async { Ok(Err(RuleError::CannotDecide("asked alone".into()))) })
        }
        fn validate<'a>(&'a mut self, _: &'a Cart) -> Deciding<'a, Verdict> {
            Box::pin(async { Ok(Ok(Verdict::Approve)) })
        }
        fn quote<'a>(&'a mut self, _: &'a Cart) -> crate::engine::Quoting<'a> {
            Box::pin(async {
                crate::engine::Quoted {
                    shipping: Ok(Ok(Vec::new())),
                    tax: Ok(Ok(TaxDecision {
                        line_rates: Vec::new(),
                        separate: Vec::new(),
                    })),
                }
            })
        }
        fn usage(&self) -> &Usage {
            &self.0
        }
    }

    #[tokio::test]
    async fn shipping_and_tax_together_are_asked_as_one_quote() {
        let mut decider = decider(Duration::ZERO, Duration::from_secs(5), Policy::default());
        decider.rules = Arc::new(QuoteOnly(Usage::default()));
        let decisions = decider.decide(cart(), &DecisionKind::ALL).await;
        assert_eq!(decisions.fallbacks().count(), 0);
        assert_eq!(decisions.shipping.unwrap().answer, Ok(Vec::new()));
        assert!(decisions.tax.unwrap().answer.is_ok());
        assert_eq!(decisions.verdict.unwrap().answer, Ok(Verdict::Approve));
        // Either one alone is its own decision.
        let decisions = decider.decide(cart(), &[DecisionKind::Tax]).await;
        assert_eq!(
            decisions.tax.unwrap().fallback.unwrap().kind(),
            "cannot-decide"
        );
        assert!(decisions.shipping.is_none());
    }

    #[tokio::test]
    async fn the_host_deadline_answers_for_rules_that_never_return() {
        let policy = Policy {
            validate: OnValidateFailure::Approve,
            ..Policy::default()
        };
        let decider = decider(
            Duration::from_millis(500),
            Duration::from_millis(50),
            policy,
        );
        let decisions = decider
            .decide(cart(), &[DecisionKind::Tax, DecisionKind::Validate])
            .await;
        let tax = decisions.tax.unwrap();
        assert!(matches!(tax.fallback, Some(Failure::TimedOut(_))));
        assert_eq!(tax.answer.unwrap_err().message, DEFAULT_MESSAGE);
        let verdict = decisions.verdict.unwrap();
        assert!(matches!(verdict.fallback, Some(Failure::TimedOut(_))));
        assert_eq!(verdict.answer, Ok(Verdict::Approve));
        assert!(decisions.shipping.is_none());
    }
}
