//! rulegate: the callback server for hosted checkouts whose business rules are
//! WebAssembly components.
//!
//! The modules form a stack; each uses only those listed before it:
//!
//! | floor | modules | what |
//! |---|---|---|
//! | model | [`model`] | the canonical cart and decisions (the contract's generated types), money |
//! | leaves | [`secret`], [`strict`], [`durable`], [`signature`] | secrets by reference, compared in constant time; documents whose objects must be objects; files that survive a crash whole; who signed a module |
//! | engine | [`engine`], [`examples`] | the wasmtime sandbox, which knows no platform; the example rules |
//! | decide | [`decide`] | one callback's decisions under a deadline, and the failure policy |
//! | protocols | [`protocols`] | one HTTP-free adapter per platform, which never touches wasmtime |
//! | records | [`records`] | the decision log, recorded events, comparing decisions |
//! | tenants | [`tenants`] | tenants, where their modules come from, the gate, the store seam and the state directory |
//! | fleet | [`fleet`] | the store a fleet of hosts shares in PostgreSQL, and how hosts follow it |
//! | operations | [`metrics`], [`shadow`], [`canary`], [`watch`], [`delivery`] | metrics, shadow evaluation, canaries on the request path, the watched directory, delivering events to merchants |
//! | server | [`server`] | HTTP: routes, per-platform handlers, the admin API, listeners |
//! | offline | [`offline`] | the server's answer without HTTP (`run`, `test`, `replay`) |
//! | config | [`config`] | the configuration file, put together from each floor's table |
//! | cli | [`cli`] | the command line, one file per subcommand |

pub mod durable;
pub mod model;
pub mod secret;
pub mod signature;
pub mod strict;

pub mod engine;
pub mod examples;

pub mod decide;

pub mod protocols;

pub mod records;

pub mod tenants;

pub mod fleet;

pub mod canary;
pub mod delivery;
pub mod metrics;
pub mod shadow;
pub mod watch;

pub mod server;

pub mod offline;

pub mod config;

pub mod cli;
