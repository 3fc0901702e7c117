//! Host-side bindings of the `rulegate:checkout` contract, generated from `wit/`.
//!
//! The generated types are the host's canonical model (re-exported by `crate::model`);
//! nothing else in the host restates a WIT type.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "rules",
    additional_derives: [serde::Serialize, serde::Deserialize, PartialEq, Eq],
    // Decisions are awaited: a module yields to the runtime on every deadline-clock tick.
    exports: { default: async },
});
