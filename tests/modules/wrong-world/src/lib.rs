//! A well-formed component of another world: it greets instead of deciding.

wit_bindgen::generate!({
    inline: "
        package test:greeter@1.0.0;
        world greeter {
            export greet: func(name: string) -> string;
        }
    ",
});

struct Greeter;

impl Guest for Greeter {
    fn greet(name: String) -> String {
        format!("hello, {name}")
    }
}

export!(Greeter);
