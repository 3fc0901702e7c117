//! Builds the test modules in `modules/` for wasm32-wasip2, once per test build.

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
];

fn main() {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR"));
    let repository = tests.parent().expect("tests/ sits in the repository");
    let built = build_guests(repository, &tests.join("modules"), MODULES);
    let table: Vec<String> = built
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
