//! What a rules module must be: a component of one of the contract's worlds (as given,
//! or made of a core module at load) that imports only what the sandbox grants and
//! exports the contract's decisions. These are the load-time checks of the activation gate
//! and of `rulegate check`.

use std::marker::PhantomData;

use wasmtime::component::{Component, ComponentExportIndex};

use super::LoadError;
use crate::model::{Decided, QuoteDecision, ShippingOption, TaxDecision, Verdict};

/// The world of the contract's current version, which the SDKs build.
pub const WORLD: &str = Contract::CURRENT.world();

/// A version of the contract a module implements. The host serves every one of them:
/// a module built against an older version keeps working unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Contract {
    /// `rulegate:checkout@0.1.0`: `shipping-options`, `tax` and `validate`.
    #[serde(rename = "rulegate:checkout@0.1.0")]
    V0_1,
    /// `rulegate:checkout@0.2.0`: adds `quote`, shipping and tax in one call.
    #[serde(rename = "rulegate:checkout@0.2.0")]
    V0_2,
}

impl Contract {
    /// The version the SDKs build.
    pub const CURRENT: Contract = Contract::V0_2;

    /// Every version, newest first: the order a module's exports are looked up in.
    const ALL: [Contract; 2] = [Contract::V0_2, Contract::V0_1];

    /// The contract's package, e.g. `rulegate:checkout@0.2.0`.
    pub const fn package(self) -> &'static str {
        match self {
            Contract::V0_1 => "rulegate:checkout@0.1.0",
            Contract::V0_2 => "rulegate:checkout@0.2.0",
        }
    }

    /// The world a module of this version implements.
    pub const fn world(self) -> &'static str {
        match self {
            Contract::V0_1 => "rulegate:checkout/rules@0.1.0",
            Contract::V0_2 => "rulegate:checkout/rules@0.2.0",
        }
    }

    /// The interface of the world's exports.
    const fn decisions(self) -> &'static str {
        match self {
            Contract::V0_1 => "rulegate:checkout/decisions@0.1.0",
            Contract::V0_2 => "rulegate:checkout/decisions@0.2.0",
        }
    }
}

impl std::fmt::Display for Contract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.package())
    }
}

/// The worlds a module may implement, for refusals.
pub const WORLDS: &str = "rulegate:checkout/rules@0.2.0 (or @0.1.0)";

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
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImportCheck {
    /// The import's full name, e.g. `wasi:cli/stdout@0.2.6`.
    pub name: String,
    /// Whether a rules module may import it.
    pub allowed: bool,
}

/// What a module's bytes hold, read from the header before compiling anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    /// A component.
    Component,
    /// A core module, made a component at load (see `componentize`).
    CoreModule,
}

/// The bytes' format; refuses bytes that are not WebAssembly.
pub(super) fn format(bytes: &[u8]) -> Result<Format, LoadError> {
    const MAGIC: &[u8] = b"\0asm";
    const CORE_VERSION: &[u8] = &[1, 0, 0, 0];
    match bytes.get(..8) {
        Some(header) if header.starts_with(MAGIC) && &header[4..] == CORE_VERSION => {
            Ok(Format::CoreModule)
        }
        Some(header) if header.starts_with(MAGIC) => Ok(Format::Component),
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

/// Whether a component with `imports` can be instantiated and called directly on the
/// calling thread: the contract's host functions are synchronous; the WASI ones a
/// wasip2 std links (`wasi:io`) are async, so such a component needs the async path.
pub(super) fn callable_directly(imports: &[ImportCheck]) -> bool {
    imports
        .iter()
        .all(|import| import.name.starts_with("rulegate:checkout/"))
}

/// Refuses a component that imports anything the sandbox does not grant; else its
/// imports.
pub(super) fn check_imports(
    engine: &wasmtime::Engine,
    component: &Component,
) -> Result<Vec<ImportCheck>, LoadError> {
    let imports = imports(engine, component);
    let forbidden: Vec<String> = imports
        .iter()
        .filter(|import| !import.allowed)
        .map(|import| import.name.clone())
        .collect();
    if forbidden.is_empty() {
        Ok(imports)
    } else {
        Err(LoadError::ForbiddenImports {
            imports: forbidden,
            advice: None,
        })
    }
}

/// The advice for a JavaScript component that imports WASI: componentize-qjs or
/// ComponentizeJS without the SDK's build keeps the JavaScript engine's clock,
/// randomness, standard streams and files.
const JAVASCRIPT_ADVICE: &str = "this JavaScript component was built with the JavaScript engine's WASI imports: \
     rebuild it with the SDK's `npx rulegate-build <rules.ts> -o <rules.wasm>` (@rulegate/sdk), \
     which replaces them with stubs";

/// `error`, with how to rebuild the module when it says which toolchain built it.
pub(super) fn with_advice(bytes: &[u8], error: LoadError) -> LoadError {
    match error {
        LoadError::ForbiddenImports { imports, .. } if built_from_javascript(bytes) => {
            LoadError::ForbiddenImports {
                imports,
                advice: Some(JAVASCRIPT_ADVICE),
            }
        }
        other => other,
    }
}

/// Whether the component was built from JavaScript: its producers section says so
/// (ComponentizeJS), or a core module inside it is componentize-qjs's QuickJS runtime.
fn built_from_javascript(bytes: &[u8]) -> bool {
    produced_from_javascript(bytes) || names_a_core_module(bytes, QUICKJS_RUNTIME)
}

/// Whether the component's own producers section names JavaScript or ComponentizeJS.
fn produced_from_javascript(bytes: &[u8]) -> bool {
    let Ok(Some(producers)) = wasm_metadata::Producers::from_wasm(bytes) else {
        return false;
    };
    let names = |field: &str, name: &str| {
        producers
            .get(field)
            .is_some_and(|values| values.get(name).is_some())
    };
    names("language", "JavaScript") || names("processed-by", "ComponentizeJS")
}

/// The name componentize-qjs gives the QuickJS runtime's core module.
const QUICKJS_RUNTIME: &str = "componentize_qjs_runtime";

/// Whether a component-name section anywhere in `bytes` names a core module starting
/// with `prefix`.
fn names_a_core_module(bytes: &[u8], prefix: &str) -> bool {
    use wasmparser::{ComponentName, KnownCustom, Payload};
    wasmparser::Parser::new(0)
        .parse_all(bytes)
        .map_while(Result::ok)
        .any(|payload| {
            let Payload::CustomSection(section) = payload else {
                return false;
            };
            let KnownCustom::ComponentName(names) = section.as_known() else {
                return false;
            };
            names.into_iter().map_while(Result::ok).any(|names| {
                let ComponentName::CoreModules(modules) = names else {
                    return false;
                };
                modules
                    .into_iter()
                    .map_while(Result::ok)
                    .any(|module| module.name.starts_with(prefix))
            })
        })
}

/// The names of the component's exports.
pub(super) fn exports(engine: &wasmtime::Engine, component: &Component) -> Vec<String> {
    component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect()
}

/// The refusal of a component that is not of the world, saying why.
pub(super) fn wrong_world(reason: impl std::fmt::Display) -> LoadError {
    LoadError::WrongWorld {
        world: WORLDS,
        reason: reason.to_string(),
    }
}

/// One export of the contract, whose results are lifted as `R`: the type ties the
/// index to the Rust type of its answer, so a call cannot pair them wrongly.
pub(super) struct Export<R> {
    pub(super) index: ComponentExportIndex,
    answer: PhantomData<fn() -> R>,
}

impl<R> Clone for Export<R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R> Copy for Export<R> {}

/// Where the contract's exports are in a module, and which version of the contract it
/// implements, found once at load (a component that lacks one is of another world).
/// Their types are checked once at load too (`Engine::prepare`), so a call needs no
/// check of its own.
#[derive(Clone, Copy)]
pub(super) struct Exports {
    pub(super) contract: Contract,
    pub(super) shipping_options: Export<Decided<Vec<ShippingOption>>>,
    pub(super) tax: Export<Decided<TaxDecision>>,
    pub(super) validate: Export<Decided<Verdict>>,
    /// `quote`, from contract 0.2.0 on.
    pub(super) quote: Option<Export<QuoteDecision>>,
}

impl Exports {
    /// Finds the contract's exports in `component`, of the newest version it exports,
    /// or refuses it saying which one is missing and what it exports instead.
    pub(super) fn find(
        engine: &wasmtime::Engine,
        component: &Component,
    ) -> Result<Self, LoadError> {
        let missing = |reason: String| {
            let exported = exports(engine, component);
            let exported = if exported.is_empty() {
                "nothing".to_string()
            } else {
                exported.join(", ")
            };
            wrong_world(format!("{reason} (the component exports {exported})"))
        };
        let found = Contract::ALL.into_iter().find_map(|contract| {
            component
                .get_export_index(None, contract.decisions())
                .map(|interface| (contract, interface))
        });
        let Some((contract, interface)) = found else {
            return Err(missing(format!(
                "no exported instance `{}`",
                Contract::CURRENT.decisions()
            )));
        };
        let index = |name: &str| {
            component
                .get_export_index(Some(&interface), name)
                .ok_or_else(|| {
                    missing(format!("`{}` has no export `{name}`", contract.decisions()))
                })
        };
        Ok(Exports {
            contract,
            shipping_options: Export::at(index("shipping-options")?),
            tax: Export::at(index("tax")?),
            validate: Export::at(index("validate")?),
            quote: match contract {
                Contract::V0_1 => None,
                Contract::V0_2 => Some(Export::at(index("quote")?)),
            },
        })
    }
}

impl<R> Export<R> {
    fn at(index: ComponentExportIndex) -> Self {
        Export {
            index,
            answer: PhantomData,
        }
    }
}

/// The refusal of an export whose type is not the contract's.
pub(super) fn mistyped(contract: Contract, name: &str, error: impl std::fmt::Display) -> LoadError {
    wrong_world(format!(
        "`{}` exports `{name}` with another type than the contract's: {error}",
        contract.decisions()
    ))
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
        assert_eq!(format(b"\0asm\x01\0\0\0rest").unwrap(), Format::CoreModule);
        assert_eq!(format(b"\0asm\x0d\0\x01\0rest").unwrap(), Format::Component);
        assert!(matches!(format(b"hello world"), Err(LoadError::NotWasm)));
        assert!(matches!(format(b""), Err(LoadError::NotWasm)));
    }

    #[test]
    fn only_a_module_that_imports_only_the_contract_is_called_directly() {
        let import = |name: &str| ImportCheck {
            name: name.into(),
            allowed: true,
        };
        assert!(callable_directly(&[]));
        assert!(callable_directly(&[import("rulegate:checkout/host@0.1.0")]));
        assert!(!callable_directly(&[
            import("rulegate:checkout/host@0.1.0"),
            import("wasi:io/streams@0.2.6"),
        ]));
    }
}
