//! Rules built as a plain core module (`--target wasm32-unknown-unknown`, the SDK's
//! recommended build) become a component at load. The SDK's bindings embed the
//! contract's types in the module, so nothing else is needed, and the result has one
//! core module and no WASI imports: cheaper to instantiate per callback than a
//! `wasm32-wasip2` build, whose std adds WASI imports, a shim and a fixup module.

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::LoadError;

/// The prefix of the custom sections bindings generators embed a module's world in.
const TYPE_SECTION: &str = "component-type";

/// The contract's package, named in the section of a module built against it (e.g.
/// `component-type:wit-bindgen:0.63.0:rulegate:checkout@0.1.0:rules:encoded world`).
const CONTRACT: &str = "rulegate:checkout@";

/// The component made of `module`, a core module carrying the contract's types. One
/// without them (no SDK bindings, or only another world's, such as a std build's WASI)
/// is not a rules module.
pub(super) fn componentize(module: &[u8]) -> Result<Vec<u8>, LoadError> {
    if !carries_types(module)? {
        return Err(LoadError::CoreModule);
    }
    // The encoder parses untrusted bytes; a panic in it refuses the module like any
    // other malformed input instead of taking the process down.
    let encoded = catch_unwind(AssertUnwindSafe(|| {
        wit_component::ComponentEncoder::default()
            .validate(true)
            .module(module)?
            .encode()
    }));
    match encoded {
        Ok(Ok(component)) => Ok(component),
        Ok(Err(error)) => Err(LoadError::Componentize(format!("{error:#}"))),
        Err(_) => Err(LoadError::Componentize(
            "its embedded contract types are malformed".into(),
        )),
    }
}

/// Whether `module` has a section of the contract's embedded component types; a
/// module that does not parse is refused as malformed, whatever it carries.
fn carries_types(module: &[u8]) -> Result<bool, LoadError> {
    let mut found = false;
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        match payload {
            Ok(wasmparser::Payload::CustomSection(section))
                if section.name().starts_with(TYPE_SECTION)
                    && section.name().contains(CONTRACT) =>
            {
                found = true;
            }
            Ok(_) => {}
            Err(error) => {
                return Err(LoadError::Compile(format!(
                    "a malformed core module: {error}"
                )));
            }
        }
    }
    Ok(found)
}
