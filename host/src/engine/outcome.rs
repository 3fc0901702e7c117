//! A decision's outcome of any kind: what callers that ask for decisions by kind (the
//! decider, the gate, shadow evaluation, the command line) get back from a session.

use super::EngineError;
use crate::model::{Decided, DecisionKind, ShippingOption, TaxDecision, Verdict};

/// One decision's outcome: the module's answer (or its declared refusal), or why the
/// engine has none. The variant is the decision's kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `tax`.
    Tax(Result<Decided<TaxDecision>, EngineError>),
    /// `shipping-options`.
    Shipping(Result<Decided<Vec<ShippingOption>>, EngineError>),
    /// `validate`.
    Validate(Result<Decided<Verdict>, EngineError>),
}

impl Outcome {
    /// Which decision this is the outcome of.
    pub fn kind(&self) -> DecisionKind {
        match self {
            Outcome::Tax(_) => DecisionKind::Tax,
            Outcome::Shipping(_) => DecisionKind::Shipping,
            Outcome::Validate(_) => DecisionKind::Validate,
        }
    }

    /// Why the engine has no answer, when it has none.
    pub fn error(&self) -> Option<&EngineError> {
        match self {
            Outcome::Tax(result) => result.as_ref().err(),
            Outcome::Shipping(result) => result.as_ref().err(),
            Outcome::Validate(result) => result.as_ref().err(),
        }
    }
}
