//! The same rules compiled natively into the host: the baseline for benchmarks and the
//! reference the wasm build is tested against. No sandbox, no limits: only for rules
//! the operator trusts (the examples).

use std::marker::PhantomData;
use std::time::Instant;

use rulegate_sdk as sdk;

use super::{
    AsyncSession, Deciding, EngineError, Limits, LogEntry, LongCalls, Quoted, Quoting, RuleSet,
    Session, Usage, contract,
};
use crate::model::{self as m, Cart, Decided, ShippingOption, TaxDecision, Verdict};

/// A [`sdk::Rules`] implementation linked into the host.
pub struct NativeRules<R> {
    id: String,
    rules: PhantomData<fn() -> R>,
}

impl<R: sdk::Rules + 'static> NativeRules<R> {
    /// Native rules known as `native:<name>`.
    pub fn new(name: &str) -> Self {
        NativeRules {
            id: format!("native:{name}"),
            rules: PhantomData,
        }
    }
}

impl<R: sdk::Rules + 'static> RuleSet for NativeRules<R> {
    fn id(&self) -> &str {
        &self.id
    }

    fn session(&self, _limits: &Limits) -> Box<dyn Session + '_> {
        Box::new(NativeSession::<R> {
            usage: Usage::default(),
            rules: PhantomData,
        })
    }

    fn session_async(&self, _limits: &Limits, _: &LongCalls) -> Box<dyn AsyncSession + '_> {
        Box::new(NativeSession::<R> {
            usage: Usage::default(),
            rules: PhantomData,
        })
    }
}

struct NativeSession<R> {
    usage: Usage,
    rules: PhantomData<fn() -> R>,
}

impl<R: sdk::Rules> NativeSession<R> {
    /// Converts the cart, runs the decision, converts back; times it and collects logs.
    fn call<S, T>(
        &mut self,
        cart: &Cart,
        decide: impl FnOnce(&sdk::Cart) -> Result<S, sdk::RuleError>,
    ) -> Decided<T>
    where
        S: Convert<T>,
    {
        self.timed(cart, |cart| convert(decide(cart)))
    }

    /// Runs `decide` on the cart converted once; times it and collects logs.
    fn timed<T>(&mut self, cart: &Cart, decide: impl FnOnce(&sdk::Cart) -> T) -> T {
        let began = Instant::now();
        self.usage.calls += 1;
        let cart: sdk::Cart = cart.clone().convert();
        let decided = decide(&cart);
        for (level, message) in sdk::log::take_captured() {
            self.usage.logs.push(LogEntry {
                level: level.convert(),
                message,
            });
        }
        self.usage.elapsed += began.elapsed();
        decided
    }
}

fn convert<S: Convert<T>, T>(decided: Result<S, sdk::RuleError>) -> Decided<T> {
    decided.map(Convert::convert).map_err(Convert::convert)
}

impl<R: sdk::Rules> Session for NativeSession<R> {
    fn shipping_options(
        &mut self,
        cart: &Cart,
    ) -> Result<Decided<Vec<ShippingOption>>, EngineError> {
        let decided = self.call(cart, R::shipping_options);
        contract::check_shipping(cart, &decided)?;
        Ok(decided)
    }

    fn tax(&mut self, cart: &Cart) -> Result<Decided<TaxDecision>, EngineError> {
        let decided = self.call(cart, R::tax);
        contract::check_tax(cart, &decided)?;
        Ok(decided)
    }

    fn validate(&mut self, cart: &Cart) -> Result<Decided<Verdict>, EngineError> {
        let decided = self.call(cart, R::validate);
        contract::check_verdict(&decided)?;
        Ok(decided)
    }

    /// Both decisions on one conversion of the cart, as a module's `quote` has them.
    fn quote(&mut self, cart: &Cart) -> Quoted {
        let (tax, shipping) = self.timed(cart, |cart| {
            (convert(R::tax(cart)), convert(R::shipping_options(cart)))
        });
        Quoted {
            shipping: contract::check_shipping(cart, &shipping).map(|()| shipping),
            tax: contract::check_tax(cart, &tax).map(|()| tax),
        }
    }

    fn usage(&self) -> &Usage {
        &self.usage
    }
}

/// Native decisions never wait: each is ready when asked for.
impl<R: sdk::Rules> AsyncSession for NativeSession<R> {
    fn shipping_options<'a>(&'a mut self, cart: &'a Cart) -> Deciding<'a, Vec<ShippingOption>> {
        Box::pin(std::future::ready(Session::shipping_options(self, cart)))
    }

    fn tax<'a>(&'a mut self, cart: &'a Cart) -> Deciding<'a, TaxDecision> {
        Box::pin(std::future::ready(Session::tax(self, cart)))
    }

    fn validate<'a>(&'a mut self, cart: &'a Cart) -> Deciding<'a, Verdict> {
        Box::pin(std::future::ready(Session::validate(self, cart)))
    }

    fn quote<'a>(&'a mut self, cart: &'a Cart) -> Quoting<'a> {
        Box::pin(std::future::ready(Session::quote(self, cart)))
    }

    fn usage(&self) -> &Usage {
        &self.usage
    }
}

/// Conversion between the host's and the SDK's copies of the generated contract types.
/// Both are generated from `wit/`; the macros below list each type's fields once, and an
/// exhaustive struct literal or match makes any drift a compile error.
trait Convert<T> {
    fn convert(self) -> T;
}

macro_rules! same {
    ($($ty:ty),*) => {$(
        impl Convert<$ty> for $ty {
            fn convert(self) -> $ty {
                self
            }
        }
    )*};
}
same!(String, bool, u32, u64, i64);

impl<A: Convert<B>, B> Convert<Option<B>> for Option<A> {
    fn convert(self) -> Option<B> {
        self.map(Convert::convert)
    }
}

impl<A: Convert<B>, B> Convert<Vec<B>> for Vec<A> {
    fn convert(self) -> Vec<B> {
        self.into_iter().map(Convert::convert).collect()
    }
}

macro_rules! records {
    ($($name:ident { $($field:ident),* $(,)? })*) => {$(
        impl Convert<sdk::$name> for m::$name {
            fn convert(self) -> sdk::$name {
                sdk::$name { $($field: self.$field.convert()),* }
            }
        }
        impl Convert<m::$name> for sdk::$name {
            fn convert(self) -> m::$name {
                m::$name { $($field: self.$field.convert()),* }
            }
        }
    )*};
}

macro_rules! enums {
    ($($name:ident { $($case:ident),* $(,)? })*) => {$(
        impl Convert<sdk::$name> for m::$name {
            fn convert(self) -> sdk::$name {
                match self { $(m::$name::$case => sdk::$name::$case),* }
            }
        }
        impl Convert<m::$name> for sdk::$name {
            fn convert(self) -> m::$name {
                match self { $(sdk::$name::$case => m::$name::$case),* }
            }
        }
    )*};
}

macro_rules! variants {
    ($($name:ident { $($case:ident $(($payload:ident))?),* $(,)? })*) => {$(
        impl Convert<sdk::$name> for m::$name {
            fn convert(self) -> sdk::$name {
                match self { $(m::$name::$case $(($payload))? => sdk::$name::$case $(($payload.convert()))?),* }
            }
        }
        impl Convert<m::$name> for sdk::$name {
            fn convert(self) -> m::$name {
                match self { $(sdk::$name::$case $(($payload))? => m::$name::$case $(($payload.convert()))?),* }
            }
        }
    )*};
}

records! {
    Price { amount, includes_tax }
    Attribute { key, value }
    Line { reference, name, kind, quantity, unit_price, discount, tax_rate, unit_weight_grams, attributes }
    Address { country, region, postal_code, city, street_lines, organization }
    PickupPoint { id, name, address }
    Customer { kind, vat_id, organization_id }
    Cart {
        platform, order_id, currency, locale, lines, billing_address, shipping_address,
        pickup_point, selected_shipping_option, customer, merchant_data, received_at_ms,
    }
    ShippingOption { id, name, description, price, tax_rate, method, carrier, preselected }
    SeparateTax { reference, name, rate, lines, includes_shipping }
    TaxDecision { line_rates, separate }
    Rejection { code, message }
}

enums! {
    Platform { Kco, Klix, Messenger }
    LineKind { Physical, Digital, Discount, ShippingFee, GiftCard, StoreCredit, Surcharge, Other }
    CustomerKind { Person, Organization }
    ShippingMethod { Home, PickupStore, PickupPoint, BoxReg, BoxUnreg, Own, Postal, DhlPackstation, Digital }
    RejectionCode { PriceChanged, NotAvailable, AddressUnsupported, AddressInvalid, OrderLimit, Risk, Other }
    LogLevel { Debug, Info, Warn, Error }
}

variants! {
    Verdict { Approve, Reject(rejection) }
    RuleError { AddressUnsupported(message), AddressInvalid(message), CannotDecide(reason) }
}
