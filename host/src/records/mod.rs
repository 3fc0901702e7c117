//! What the host writes down: the decision log (one line per callback that ran rules,
//! which `rulegate replay` re-runs), the journal of recorded events (KCO pushes, Klix
//! purchase notifications, Messenger payments, ...), the outbox of the events a
//! merchant receives, and the comparable form of
//! decisions that replay, shadow evaluation and fixture tests compare.

pub mod compare;
pub mod decision_log;
pub mod journal;
pub mod outbox;

pub use decision_log::{DecisionLog, DecisionLogSettings, LoggedDecision, Record, Redact};
pub use journal::{Journal, Recorder};
pub use outbox::{EventStore, FileOutbox};
