//! rulegate: the callback server for hosted checkouts whose business rules are
//! WebAssembly components.
//!
//! Layout, one module per concern: [`model`] (the canonical cart and decisions),
//! [`money`] (exact arithmetic), [`engine`] (the wasmtime sandbox; knows no platform),
//! [`examples`] (the example rules, embedded), [`config`] (configuration), [`registry`] (tenants and their modules),
//! [`server`] (HTTP), [`cli`] (the command line).

pub mod cli;
pub mod config;
pub mod engine;
pub mod examples;
pub mod model;
pub mod money;
pub mod registry;
pub mod server;
