//! rulegate: the callback server for hosted checkouts whose business rules are
//! WebAssembly components.
//!
//! Layout, one module per concern: [`model`] (the canonical cart and decisions),
//! [`money`] (exact arithmetic), [`engine`] (the wasmtime sandbox; knows no platform),
//! [`decide`] (one callback's decisions under a deadline and the failure policy),
//! [`protocols`] (one adapter per platform; never touches wasmtime), [`examples`] (the
//! example rules, embedded), [`config`] (configuration), [`registry`] (tenants and their
//! module versions), [`store`] (versions on disk), [`journal`] (recorded events), [`server`] (HTTP), [`cli`] (the command
//! line).

pub mod admin;
pub mod cli;
pub mod compare;
pub mod config;
pub mod decide;
pub mod decision_log;
pub mod engine;
pub mod examples;
pub mod journal;
pub mod metrics;
pub mod model;
pub mod money;
pub mod protocols;
pub mod registry;
pub mod server;
pub mod shadow;
pub mod store;
pub mod watch;
