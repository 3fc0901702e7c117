//! Builds the test modules in `modules/` once per test build: all as wasm32-wasip2
//! components (whose std imports WASI, so the sandbox's WASI side is tested), and some
//! also as wasm32-unknown-unknown core modules, the SDK's build.

include!("../host/build_guests.rs");

/// Every crate in `modules/`; `rulegate_tests::module` finds them by these names.
const MODULES: &[&str] = &[
    "infinite-loop",
    "memory-bomb",
    "panics",
    "deep-recursion",
    "bad-output",
    "memory-probe",
    "wrong-world",
    "imports-filesystem",
    "core-module",
    "chatty",
    "flat-rate",
    "huge-output",
    "allocation-storm",
    "imports-clock",
    "imports-sockets",
    "mistyped-export",
    "slow-answer",
    "traps-sometimes",
];

/// The modules also built as core modules for wasm32-unknown-unknown, the SDK's build,
/// which the host makes one-module components called directly on the calling thread;
/// `rulegate_tests::core_module` finds them.
const CORE_MODULES: &[&str] = &[
    "infinite-loop",
    "memory-bomb",
    "panics",
    "deep-recursion",
    "memory-probe",
    "chatty",
    "flat-rate",
    "allocation-storm",
    "slow-answer",
    "tax-traps",
    "lying-quote",
];

fn main() {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR"));
    let repository = tests.parent().expect("tests/ sits in the repository");
    let modules = tests.join("modules");
    let components = build_guests(repository, &modules, "wasm32-wasip2", MODULES);
    let cores = build_guests(repository, &modules, "wasm32-unknown-unknown", CORE_MODULES);
    let table: Vec<String> = components
        .into_iter()
        .chain(
            cores
                .into_iter()
                .map(|(name, path)| (format!("{name}.core"), path)),
        )
        .collect::<Vec<_>>()
        .iter()
        .map(|(name, path)| {
            format!(
                "({name:?}, include_bytes!({:?}) as &[u8]),",
                path.display().to_string()
            )
        })
        .collect();
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR is set"));
    std::fs::write(
        out.join("modules.rs"),
        format!("&[\n{}\n]", table.join("\n")),
    )
    .expect("writing modules.rs");
}
