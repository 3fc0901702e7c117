//! Host-side bindings of the `rulegate:checkout` contract, generated from `wit/`: the
//! canonical model's types (re-exported by [`crate::model`]) and the world the engine
//! links. Nothing else in the host restates a WIT type.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "rules",
    additional_derives: [serde::Serialize, serde::Deserialize, PartialEq, Eq],
    // Decisions are awaited: a module yields to the runtime on every deadline-clock tick.
    exports: { default: async },
});
