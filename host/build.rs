//! Builds the example rules as core modules for wasm32-unknown-unknown, as the SDK
//! recommends (the host makes each a one-module component at load), so the binary
//! embeds them: `rulegate serve` then runs the example tenants with no files at all.

include!("build_guests.rs");

fn main() {
    let host = Path::new(env!("CARGO_MANIFEST_DIR"));
    let repository = host.parent().expect("host/ sits in the repository");
    let examples = ["eu-shop", "us-shop", "catalog-shop"];
    for (name, artifact) in build_guests(
        repository,
        &repository.join("example-rules"),
        "wasm32-unknown-unknown",
        &examples,
    ) {
        // Published as RULEGATE_WASM_EU_SHOP and so on, for `include_bytes!`.
        let variable = format!("RULEGATE_WASM_{}", name.to_uppercase().replace('-', "_"));
        println!("cargo:rustc-env={variable}={}", artifact.display());
    }
}
