//! `rulegate check`'s report: what a module is, what it imports and exports, whether it
//! compiles and whether the gate would accept it, each step run if the previous one
//! allows it.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::world::{self, Contract, Exports, Format, ImportCheck, WORLDS};
use super::{Engine, LoadError, ModuleHash};

/// Everything `rulegate check` reports. Each step runs if the previous one allows it.
#[derive(Debug, Serialize)]
pub struct Inspection {
    /// `sha256:<hex>` of the bytes.
    pub hash: String,
    /// Size in bytes.
    pub size: usize,
    /// `component`, `core module` (made a component at load) or `not wasm`.
    pub kind: &'static str,
    /// The component's imports, when it could be compiled (of the component made of a
    /// core module).
    pub imports: Vec<ImportCheck>,
    /// The component's exports, when it could be compiled.
    pub exports: Vec<String>,
    /// Compile time, when it compiled.
    #[serde(serialize_with = "serialize_millis", rename = "compile_ms")]
    pub compile_time: Option<Duration>,
    /// The world the module implements, when it implements one; else the worlds it may.
    pub world: &'static str,
    /// The version of the contract the module implements, when it implements one.
    pub contract: Option<Contract>,
    /// Why the module is refused, or `None` when it is accepted.
    #[serde(serialize_with = "serialize_error")]
    pub error: Option<LoadError>,
}

impl Inspection {
    /// Whether the module would be accepted.
    pub fn accepted(&self) -> bool {
        self.error.is_none()
    }
}

fn serialize_millis<S: serde::Serializer>(
    duration: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match duration {
        Some(duration) => serializer.serialize_f64(duration.as_secs_f64() * 1000.0),
        None => serializer.serialize_none(),
    }
}

fn serialize_error<S: serde::Serializer>(
    error: &Option<LoadError>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match error {
        Some(error) => serializer.serialize_str(&error.to_string()),
        None => serializer.serialize_none(),
    }
}

impl Engine {
    /// Everything `rulegate check` reports about a module, without failing early.
    pub fn inspect(&self, bytes: &[u8]) -> Inspection {
        let mut inspection = Inspection {
            hash: ModuleHash::of(bytes).to_string(),
            size: bytes.len(),
            kind: "component",
            imports: Vec::new(),
            exports: Vec::new(),
            compile_time: None,
            world: WORLDS,
            contract: None,
            error: None,
        };
        match world::format(bytes) {
            Ok(Format::Component) => {}
            Ok(Format::CoreModule) => inspection.kind = "core module",
            Err(error) => {
                inspection.kind = "not wasm";
                inspection.error = Some(error);
                return inspection;
            }
        }
        let began = Instant::now();
        let component = match self.compile(bytes) {
            Ok(component) => component,
            Err(error) => {
                inspection.error = Some(error);
                return inspection;
            }
        };
        inspection.compile_time = Some(began.elapsed());
        inspection.imports = world::imports(self.wasmtime(), &component);
        inspection.exports = world::exports(self.wasmtime(), &component);
        if let Ok(exports) = Exports::find(self.wasmtime(), &component) {
            inspection.contract = Some(exports.contract);
            inspection.world = exports.contract.world();
        }
        inspection.error = self
            .prepare(&component)
            .err()
            .map(|error| world::with_advice(bytes, error));
        inspection
    }
}
