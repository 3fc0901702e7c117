//! What a module is and what it asks for: the checks behind `rulegate check` and the
//! load-time gate.

use std::time::{Duration, Instant};

use serde::Serialize;
use wasmtime::component::Component;

use super::wasm::WORLD;
use super::{Engine, LoadError, ModuleHash};

/// The WASI interfaces a std Rust guest imports even when it does no I/O; the sandbox
/// satisfies them with an empty context.
const ALLOWED_WASI: &[&str] = &[
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
];

/// The contract's own interfaces a module may import.
const ALLOWED_CONTRACT: &[&str] = &["rulegate:checkout/host", "rulegate:checkout/types"];

/// One import of a component and whether the sandbox grants it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportCheck {
    /// The import's full name, e.g. `wasi:cli/stdout@0.2.6`.
    pub name: String,
    /// Whether a rules module may import it.
    pub allowed: bool,
}

/// Everything `rulegate check` reports. Each step runs if the previous one allows it.
#[derive(Debug, Serialize)]
pub struct Inspection {
    /// `sha256:<hex>` of the bytes.
    pub hash: String,
    /// Size in bytes.
    pub size: usize,
    /// `component`, `core module` or `not wasm`.
    pub kind: &'static str,
    /// The component's imports, when it could be compiled.
    pub imports: Vec<ImportCheck>,
    /// The component's exports, when it could be compiled.
    pub exports: Vec<String>,
    /// Compile time, when it compiled.
    #[serde(serialize_with = "serialize_millis", rename = "compile_ms")]
    pub compile_time: Option<Duration>,
    /// The world the module must implement.
    pub world: &'static str,
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

/// Refuses bytes that are not a WebAssembly component before compiling anything.
pub(super) fn check_header(bytes: &[u8]) -> Result<(), LoadError> {
    const MAGIC: &[u8] = b"\0asm";
    const CORE_VERSION: &[u8] = &[1, 0, 0, 0];
    match bytes.get(..8) {
        Some(header) if header.starts_with(MAGIC) && &header[4..] == CORE_VERSION => {
            Err(LoadError::CoreModule)
        }
        Some(header) if header.starts_with(MAGIC) => Ok(()),
        _ => Err(LoadError::NotWasm),
    }
}

/// Whether a module may import `name` (`namespace:package/interface@version`).
fn import_allowed(name: &str) -> bool {
    let interface = name
        .split_once('@')
        .map_or(name, |(interface, _)| interface);
    ALLOWED_WASI.contains(&interface) || ALLOWED_CONTRACT.contains(&interface)
}

/// The component's imports, each marked allowed or not.
pub(super) fn imports(engine: &wasmtime::Engine, component: &Component) -> Vec<ImportCheck> {
    component
        .component_type()
        .imports(engine)
        .map(|(name, _)| ImportCheck {
            name: name.to_string(),
            allowed: import_allowed(name),
        })
        .collect()
}

/// The names of the component's exports.
pub(super) fn exports(engine: &wasmtime::Engine, component: &Component) -> Vec<String> {
    component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect()
}

pub(super) fn inspect(engine: &Engine, bytes: &[u8]) -> Inspection {
    let mut inspection = Inspection {
        hash: ModuleHash::of(bytes).to_string(),
        size: bytes.len(),
        kind: "component",
        imports: Vec::new(),
        exports: Vec::new(),
        compile_time: None,
        world: WORLD,
        error: None,
    };
    if let Err(error) = check_header(bytes) {
        inspection.kind = if matches!(error, LoadError::CoreModule) {
            "core module"
        } else {
            "not wasm"
        };
        inspection.error = Some(error);
        return inspection;
    }
    let began = Instant::now();
    let component = match engine.compile(bytes) {
        Ok(component) => component,
        Err(error) => {
            inspection.error = Some(error);
            return inspection;
        }
    };
    inspection.compile_time = Some(began.elapsed());
    inspection.imports = imports(engine.wasmtime(), &component);
    inspection.exports = exports(engine.wasmtime(), &component);
    inspection.error = engine.prepare(&component).err();
    inspection
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_of_an_empty_std_sandbox_are_allowed() {
        assert!(import_allowed("wasi:cli/environment@0.2.6"));
        assert!(import_allowed("wasi:io/streams@0.2.0"));
        assert!(import_allowed("rulegate:checkout/host@0.1.0"));
        assert!(!import_allowed("wasi:filesystem/preopens@0.2.6"));
        assert!(!import_allowed("wasi:sockets/tcp@0.2.6"));
        assert!(!import_allowed("wasi:clocks/wall-clock@0.2.6"));
        assert!(!import_allowed("wasi:random/random@0.2.6"));
        assert!(!import_allowed("wasi:cli/environmentx@0.2.6"));
    }

    #[test]
    fn headers() {
        assert!(matches!(
            check_header(b"\0asm\x01\0\0\0rest"),
            Err(LoadError::CoreModule)
        ));
        assert!(check_header(b"\0asm\x0d\0\x01\0rest").is_ok());
        assert!(matches!(
            check_header(b"hello world"),
            Err(LoadError::NotWasm)
        ));
        assert!(matches!(check_header(b""), Err(LoadError::NotWasm)));
    }
}
