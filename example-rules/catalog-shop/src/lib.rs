//! Rules of a Swedish shop that checks every order against the price list and stock
//! compiled into the module.
//!
//! - Validation: every product is known, at its current price, and in stock in the
//!   quantity ordered; the destination is served (Nordic countries, no remote islands);
//!   the order value is within limits. Messages to the shopper in Swedish or English.
//! - Tax: Swedish VAT (25 %, 12 % food, 6 % books) inside the EU, none on exports.
//! - Shipping: PostNord to a pickup point or home, evening home delivery in cities,
//!   free above a threshold; weights and prices come from the catalog when the
//!   platform does not send them.

use rulegate_sdk::prelude::*;

/// A product in the price list.
#[derive(Debug, Clone, Copy)]
pub struct Product {
    /// The SKU the platforms send as the line reference.
    pub sku: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Price per unit in öre, including VAT.
    pub price: i64,
    /// VAT class.
    pub vat: VatClass,
    /// Units in stock.
    pub stock: u64,
    /// Weight of one unit in grams.
    pub grams: u64,
}

/// Swedish VAT classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VatClass {
    Standard,
    Food,
    Books,
}

impl VatClass {
    fn rate(self) -> u32 {
        match self {
            VatClass::Standard => 2500,
            VatClass::Food => 1200,
            VatClass::Books => 600,
        }
    }
}

/// The price list and stock, as of the module's build.
pub const CATALOG: &[Product] = &[
    Product {
        sku: "KAFFE-500",
        name: "Kaffe mellanrost 500 g",
        price: 8_900,
        vat: VatClass::Food,
        stock: 240,
        grams: 520,
    },
    Product {
        sku: "TE-EARL",
        name: "Earl Grey 100 g",
        price: 6_500,
        vat: VatClass::Food,
        stock: 80,
        grams: 120,
    },
    Product {
        sku: "KOPP-VIT",
        name: "Kaffekopp vit",
        price: 14_900,
        vat: VatClass::Standard,
        stock: 36,
        grams: 350,
    },
    Product {
        sku: "KANNA-1L",
        name: "Presskanna 1 l",
        price: 39_900,
        vat: VatClass::Standard,
        stock: 12,
        grams: 900,
    },
    Product {
        sku: "KVARN-EL",
        name: "Elektrisk kaffekvarn",
        price: 129_000,
        vat: VatClass::Standard,
        stock: 4,
        grams: 2_300,
    },
    Product {
        sku: "BOK-KAFFE",
        name: "Boken om kaffe",
        price: 29_900,
        vat: VatClass::Books,
        stock: 15,
        grams: 800,
    },
    Product {
        sku: "FILTER-100",
        name: "Kaffefilter 100 st",
        price: 3_900,
        vat: VatClass::Standard,
        stock: 500,
        grams: 150,
    },
    Product {
        sku: "ESPRESSO-M",
        name: "Espressomaskin",
        price: 899_000,
        vat: VatClass::Standard,
        stock: 2,
        grams: 11_000,
    },
    Product {
        sku: "KOPP-RÖD",
        name: "Kaffekopp röd",
        price: 14_900,
        vat: VatClass::Standard,
        stock: 0,
        grams: 350,
    },
];

/// Countries the shop delivers to.
const SERVED: &[&str] = &["SE", "NO", "DK", "FI"];
/// Swedish postal areas the carrier does not serve for this shop (Gotland).
const BLOCKED_POSTAL_PREFIXES: &[&str] = &["62"];
/// Cities with evening home delivery.
const EVENING_CITIES: &[&str] = &["stockholm", "göteborg", "malmö", "uppsala"];

const MIN_ORDER_ORE: i64 = 10_000;
const MAX_ORDER_ORE: i64 = 2_500_000;
const MAX_UNITS_PER_LINE: u64 = 10;
const FREE_SHIPPING_FROM_ORE: i64 = 49_900;

/// The catalog entry for a SKU.
pub fn product(sku: &str) -> Option<&'static Product> {
    CATALOG.iter().find(|product| product.sku == sku)
}

fn swedish(cart: &Cart) -> bool {
    cart.locale
        .as_deref()
        .is_none_or(|locale| locale.starts_with("sv"))
}

/// Picks the Swedish or the English text.
fn say(cart: &Cart, sv: String, en: String) -> String {
    if swedish(cart) { sv } else { en }
}

fn kronor(ore: i64) -> String {
    money::format_decimal(ore, 2)
}

/// Inside the EU Swedish VAT applies (the shop is below the one-stop-shop threshold);
/// Norway is an export.
fn charges_vat(cart: &Cart) -> bool {
    cart.destination_country() != Some("NO")
}

/// The order value including VAT, with catalog prices for lines the platform sent
/// without a price.
fn order_value(cart: &Cart) -> i64 {
    cart.lines
        .iter()
        .map(|line| match line.total() {
            Some(total) if total.includes_tax => total.amount,
            Some(total) => money::add_tax(total.amount, line_rate(line)),
            None => product(&line.reference).map_or(0, |p| money::extend(p.price, line.quantity)),
        })
        .sum()
}

fn line_rate(line: &Line) -> u32 {
    match line.kind {
        LineKind::Physical | LineKind::Digital => product(&line.reference)
            .map_or(VatClass::Standard, |p| p.vat)
            .rate(),
        _ => line
            .tax_rate
            .unwrap_or(VatClass::Standard.rate())
            .min(VatClass::Standard.rate()),
    }
}

fn shipped_grams(cart: &Cart) -> u64 {
    cart.lines
        .iter()
        .filter(|line| line.is_shipped())
        .map(|line| {
            line.weight_grams().unwrap_or_else(|| {
                let grams = product(&line.reference).map_or(1_000, |p| p.grams);
                money::mul_u64_saturating(grams, line.quantity).div_ceil(1000)
            })
        })
        .sum()
}

fn destination_problem(cart: &Cart) -> Option<Rejection> {
    let address = cart.destination()?;
    if !SERVED.contains(&address.country.as_str()) {
        return Some(Rejection {
            code: RejectionCode::AddressUnsupported,
            message: say(
                cart,
                "Vi levererar tyvärr bara till Sverige, Norge, Danmark och Finland.".into(),
                "Sorry, we only deliver to Sweden, Norway, Denmark and Finland.".into(),
            ),
        });
    }
    let postal = address
        .postal_code
        .as_deref()
        .unwrap_or("")
        .replace(' ', "");
    if address.country == "SE"
        && BLOCKED_POSTAL_PREFIXES
            .iter()
            .any(|prefix| postal.starts_with(prefix))
    {
        return Some(Rejection {
            code: RejectionCode::AddressUnsupported,
            message: say(
                cart,
                "Vi kan tyvärr inte leverera till det här postnumret.".into(),
                "Sorry, we cannot deliver to this postal code.".into(),
            ),
        });
    }
    None
}

/// The first problem with a line against the catalog.
fn line_problem(cart: &Cart, line: &Line) -> Option<Rejection> {
    if !matches!(line.kind, LineKind::Physical | LineKind::Digital) {
        return None;
    }
    let reject = |code, sv: String, en: String| {
        Some(Rejection {
            code,
            message: say(cart, sv, en),
        })
    };
    let Some(product) = product(&line.reference) else {
        let name = if line.name.is_empty() {
            &line.reference
        } else {
            &line.name
        };
        return reject(
            RejectionCode::NotAvailable,
            format!("{name} finns inte längre i sortimentet."),
            format!("{name} is no longer sold."),
        );
    };
    if let Some(price) = line.unit_price {
        let gross = price.gross(product.vat.rate());
        if gross != product.price {
            let (name, now) = (product.name, kronor(product.price));
            return reject(
                RejectionCode::PriceChanged,
                format!("Priset på {name} har ändrats till {now} kr. Kontrollera din varukorg."),
                format!("The price of {name} has changed to SEK {now}. Please review your cart."),
            );
        }
    }
    if !line.quantity.is_multiple_of(1000) {
        return reject(
            RejectionCode::Other,
            format!("{} säljs bara i hela förpackningar.", product.name),
            format!("{} is sold in whole units only.", product.name),
        );
    }
    let units = line.quantity / 1000;
    if product.stock == 0 {
        return reject(
            RejectionCode::NotAvailable,
            format!("{} är slutsåld.", product.name),
            format!("{} is sold out.", product.name),
        );
    }
    if units > product.stock {
        return reject(
            RejectionCode::NotAvailable,
            format!(
                "Det finns bara {} st {} i lager.",
                product.stock, product.name
            ),
            format!("Only {} of {} left in stock.", product.stock, product.name),
        );
    }
    if units > MAX_UNITS_PER_LINE {
        return reject(
            RejectionCode::OrderLimit,
            format!(
                "Högst {MAX_UNITS_PER_LINE} st {} per beställning.",
                product.name
            ),
            format!(
                "At most {MAX_UNITS_PER_LINE} of {} per order.",
                product.name
            ),
        );
    }
    None
}

fn value_problem(cart: &Cart) -> Option<Rejection> {
    let value = order_value(cart);
    let (code, sv, en) = if value < MIN_ORDER_ORE {
        let min = kronor(MIN_ORDER_ORE);
        (
            RejectionCode::OrderLimit,
            format!("Minsta ordervärde är {min} kr."),
            format!("The minimum order is SEK {min}."),
        )
    } else if value > MAX_ORDER_ORE {
        let max = kronor(MAX_ORDER_ORE);
        (
            RejectionCode::OrderLimit,
            format!("Största ordervärde är {max} kr."),
            format!("The maximum order is SEK {max}."),
        )
    } else {
        return None;
    };
    Some(Rejection {
        code,
        message: say(cart, sv, en),
    })
}

pub struct CatalogShop;

impl Rules for CatalogShop {
    fn tax(cart: &Cart) -> Result<TaxDecision, RuleError> {
        require_kronor(cart)?;
        if !charges_vat(cart) {
            return Ok(TaxDecision::uniform(cart, 0));
        }
        Ok(TaxDecision::per_line(cart, line_rate))
    }

    fn shipping_options(cart: &Cart) -> Result<Vec<ShippingOption>, RuleError> {
        require_kronor(cart)?;
        if let Some(problem) = destination_problem(cart) {
            return Err(RuleError::AddressUnsupported(problem.message));
        }
        if !cart.needs_shipping() {
            return Ok(Vec::new());
        }
        let vat = if charges_vat(cart) {
            VatClass::Standard.rate()
        } else {
            0
        };
        let free = order_value(cart) >= FREE_SHIPPING_FROM_ORE;
        let heavy = shipped_grams(cart) > 20_000;
        let price = |ore: i64| Price::including_tax(if free { 0 } else { ore });
        let mut options = Vec::new();
        if !heavy {
            options.push(
                ShippingOption::new(
                    "ombud",
                    &say(cart, "Hämta hos ombud".into(), "Pickup point".into()),
                    price(4_900),
                    vat,
                )
                .method(ShippingMethod::PickupPoint)
                .carrier("PostNord")
                .preselected(),
            );
        }
        options.push(
            ShippingOption::new(
                "hem",
                &say(cart, "Hemleverans".into(), "Home delivery".into()),
                price(7_900),
                vat,
            )
            .carrier("PostNord"),
        );
        let city = cart
            .destination()
            .and_then(|a| a.city.as_deref())
            .unwrap_or("")
            .to_lowercase();
        if EVENING_CITIES.contains(&city.as_str()) {
            options.push(
                ShippingOption::new(
                    "kvall",
                    &say(cart, "Kvällsleverans".into(), "Evening delivery".into()),
                    Price::including_tax(9_900),
                    vat,
                )
                .description(&say(
                    cart,
                    "17–22 samma dag".into(),
                    "5–10 pm the same day".into(),
                ))
                .carrier("Budbee"),
            );
        }
        Ok(options)
    }

    fn validate(cart: &Cart) -> Result<Verdict, RuleError> {
        if cart.currency != "SEK" {
            return Ok(Verdict::reject(
                RejectionCode::Other,
                say(
                    cart,
                    "Vi tar bara betalt i svenska kronor.".into(),
                    "We only accept payment in Swedish kronor.".into(),
                ),
            ));
        }
        let problem = destination_problem(cart)
            .or_else(|| cart.lines.iter().find_map(|line| line_problem(cart, line)))
            .or_else(|| value_problem(cart));
        Ok(problem.map_or(Verdict::Approve, Verdict::Reject))
    }
}

fn require_kronor(cart: &Cart) -> Result<(), RuleError> {
    if cart.currency == "SEK" {
        Ok(())
    } else {
        Err(RuleError::cannot_decide(format!(
            "prices are in SEK, cart is in {}",
            cart.currency
        )))
    }
}

rulegate_sdk::export!(CatalogShop);

#[cfg(test)]
mod tests {
    use super::*;
    use rulegate_sdk::testing::{CartBuilder, address, line};

    fn item(sku: &str, units: u64) -> Line {
        let p = product(sku).unwrap();
        line(sku, units, Price::including_tax(p.price))
            .name(p.name)
            .build()
    }

    fn sweden() -> CartBuilder {
        CartBuilder::new("SEK")
            .locale("sv-SE")
            .shipping_address(address("SE").postal_code("114 55").city("Stockholm"))
    }

    fn rejection(cart: &Cart) -> Rejection {
        match CatalogShop::validate(cart).unwrap() {
            Verdict::Reject(rejection) => rejection,
            Verdict::Approve => panic!("approved"),
        }
    }

    #[test]
    fn approves_a_correct_order() {
        let cart = sweden()
            .line(item("KAFFE-500", 2))
            .line(item("KOPP-VIT", 2))
            .build();
        assert_eq!(CatalogShop::validate(&cart).unwrap(), Verdict::Approve);
    }

    #[test]
    fn rejects_changed_prices_in_the_shoppers_language() {
        let stale = line("KAFFE-500", 1, Price::including_tax(7_900)).name("Kaffe");
        let r = rejection(
            &sweden()
                .line(stale.clone())
                .line(item("KANNA-1L", 1))
                .build(),
        );
        assert_eq!(r.code, RejectionCode::PriceChanged);
        assert_eq!(
            r.message,
            "Priset på Kaffe mellanrost 500 g har ändrats till 89.00 kr. Kontrollera din varukorg."
        );
        let english = sweden()
            .locale("en-GB")
            .line(stale)
            .line(item("KANNA-1L", 1))
            .build();
        assert!(
            rejection(&english)
                .message
                .starts_with("The price of Kaffe mellanrost 500 g has changed to SEK 89.00")
        );
    }

    #[test]
    fn rejects_unknown_sold_out_and_short_stock() {
        let unknown = line("NOPE", 1, Price::including_tax(10_000)).name("Mystery mug");
        assert_eq!(
            rejection(&sweden().line(unknown).build()).code,
            RejectionCode::NotAvailable
        );
        let r = rejection(&sweden().line(item("KOPP-RÖD", 1)).build());
        assert_eq!(
            (r.code, r.message.as_str()),
            (RejectionCode::NotAvailable, "Kaffekopp röd är slutsåld.")
        );
        let r = rejection(&sweden().line(item("KVARN-EL", 5)).build());
        assert_eq!(
            r.message,
            "Det finns bara 4 st Elektrisk kaffekvarn i lager."
        );
    }

    #[test]
    fn rejects_blocked_destinations() {
        let r = rejection(
            &CartBuilder::new("SEK")
                .ship_to("DE")
                .line(item("KANNA-1L", 1))
                .build(),
        );
        assert_eq!(r.code, RejectionCode::AddressUnsupported);
        let gotland = CartBuilder::new("SEK")
            .shipping_address(address("SE").postal_code("621 41"))
            .line(item("KANNA-1L", 1));
        assert_eq!(
            rejection(&gotland.build()).code,
            RejectionCode::AddressUnsupported
        );
    }

    #[test]
    fn enforces_order_limits() {
        let r = rejection(&sweden().line(item("FILTER-100", 1)).build());
        assert_eq!(
            (r.code, r.message.as_str()),
            (RejectionCode::OrderLimit, "Minsta ordervärde är 100.00 kr.")
        );
        let r = rejection(&sweden().line(item("KAFFE-500", 11)).build());
        assert_eq!(r.code, RejectionCode::OrderLimit);
        let r = rejection(
            &sweden()
                .line(item("ESPRESSO-M", 2))
                .line(item("KVARN-EL", 4))
                .line(item("KANNA-1L", 10))
                .build(),
        );
        assert_eq!(r.code, RejectionCode::OrderLimit);
    }

    #[test]
    fn tax_by_vat_class_and_export() {
        let cart = sweden()
            .line(item("KAFFE-500", 1))
            .line(item("BOK-KAFFE", 1))
            .line(item("KOPP-VIT", 1))
            .build();
        assert_eq!(
            CatalogShop::tax(&cart).unwrap().line_rates,
            vec![1200, 600, 2500]
        );
        let cart = CartBuilder::new("SEK")
            .ship_to("NO")
            .line(item("KOPP-VIT", 1))
            .build();
        assert_eq!(CatalogShop::tax(&cart).unwrap().line_rates, vec![0]);
    }

    #[test]
    fn shipping_uses_catalog_prices_when_the_platform_sends_none() {
        // A Klix shipping-cost request: references and quantities only.
        let unpriced = line("KANNA-1L", 2, Price::including_tax(0)).without_price();
        let cart = sweden().platform(Platform::Klix).line(unpriced).build();
        let options = CatalogShop::shipping_options(&cart).unwrap();
        let ids: Vec<&str> = options.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(ids, ["ombud", "hem", "kvall"]);
        // 2 × 399 kr ≥ 499 kr: free, except evening delivery.
        assert_eq!(options[0].price.amount, 0);
        assert_eq!(options[2].price.amount, 9_900);
    }
}
