//! Where a module comes from: an example embedded in the binary (`example:<name>`), the
//! same example linked natively (`native:<name>`), or a component file.

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use anyhow::Context;

use crate::engine::{Engine, ModuleHash, SharedRuleSet};
use crate::examples::{self, Example};
use crate::signature::{self, Signatures};

/// Where a tenant's rules come from.
#[derive(Debug, Clone)]
pub enum ModuleSource {
    /// An example component embedded in the binary: `example:<name>`.
    Example(&'static Example),
    /// An example linked natively, unsandboxed (benchmarks, tests): `native:<name>`.
    Native(&'static Example),
    /// A component file.
    File(PathBuf),
}

impl FromStr for ModuleSource {
    type Err = anyhow::Error;

    fn from_str(source: &str) -> anyhow::Result<Self> {
        let example = |name: &str| {
            examples::find(name).with_context(|| {
                let known: Vec<&str> = examples::EXAMPLES.iter().map(|e| e.name).collect();
                format!(
                    "there is no example named {name:?} (known: {})",
                    known.join(", ")
                )
            })
        };
        if let Some(name) = source.strip_prefix("example:") {
            Ok(ModuleSource::Example(example(name)?))
        } else if let Some(name) = source.strip_prefix("native:") {
            Ok(ModuleSource::Native(example(name)?))
        } else {
            Ok(ModuleSource::File(PathBuf::from(source)))
        }
    }
}

impl fmt::Display for ModuleSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModuleSource::Example(example) => write!(f, "example:{}", example.name),
            ModuleSource::Native(example) => write!(f, "native:{}", example.name),
            ModuleSource::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// What a source holds: a component's bytes, or rules linked into the host.
#[derive(Debug)]
pub enum Module {
    /// A component.
    Component(Cow<'static, [u8]>),
    /// Natively linked rules (`native:<name>`), which never pass the gate.
    Native(&'static Example),
}

impl Module {
    /// Its version: `sha256:<hex>` of a component, `native:<name>` of native rules.
    pub fn version(&self) -> String {
        match self {
            Module::Component(bytes) => ModuleHash::of(bytes).to_string(),
            Module::Native(example) => format!("native:{}", example.name),
        }
    }
}

impl ModuleSource {
    /// Reads what the source holds.
    pub fn read(&self) -> anyhow::Result<Module> {
        Ok(match self {
            ModuleSource::Native(example) => Module::Native(example),
            ModuleSource::Example(example) => Module::Component(Cow::Borrowed(example.wasm)),
            ModuleSource::File(path) => Module::Component(Cow::Owned(
                std::fs::read(path)
                    .with_context(|| format!("reading module {}", path.display()))?,
            )),
        })
    }

    /// The signatures beside a component file (`<file>.sig`), if there are any; an
    /// embedded example has none.
    pub fn signatures(&self) -> anyhow::Result<Option<Signatures>> {
        match self {
            ModuleSource::File(path) => Signatures::read(&signature::beside(path)),
            ModuleSource::Example(_) | ModuleSource::Native(_) => Ok(None),
        }
    }

    /// Loads the rules through the engine's load-time checks (or links the native
    /// example): what the command line runs.
    pub fn load(&self, engine: &Engine) -> anyhow::Result<SharedRuleSet> {
        match self.read()? {
            Module::Native(example) => Ok(example.native()),
            Module::Component(bytes) => Ok(engine
                .load(&bytes)
                .with_context(|| format!("module {self} refused"))?),
        }
    }
}
