//! A component that exports the contract's interface by name, with the contract's three
//! export names, but `tax` takes a string and returns a number: the engine must refuse
//! it at load, since calls skip the type check.

wit_bindgen::generate!({
    inline: "
        package rulegate:checkout@0.1.0;
        interface decisions {
            shipping-options: func(cart: string) -> string;
            tax: func(cart: string) -> u32;
            validate: func(cart: string) -> bool;
        }
        world rules {
            export decisions;
        }
    ",
});

struct Mistyped;

impl exports::rulegate::checkout::decisions::Guest for Mistyped {
    fn shipping_options(cart: String) -> String {
        cart
    }
    fn tax(cart: String) -> u32 {
        cart.len() as u32
    }
    fn validate(cart: String) -> bool {
        cart.is_empty()
    }
}

export!(Mistyped);
