// Keep the linker's core module: skip the step that wraps it into a component.
fn main() {
    println!("cargo:rustc-link-arg=--skip-wit-component");
}
