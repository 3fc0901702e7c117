//! A core WebAssembly module, not a component.

#[unsafe(no_mangle)]
pub extern "C" fn validate(total: i64) -> i32 {
    (total < 1_000_000) as i32
}
