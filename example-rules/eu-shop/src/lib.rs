//! Rules of an online shop established in Germany that sells across the EU.
//!
//! - VAT by destination country (EU one-stop-shop): the standard rate, or the reduced
//!   rate for books and food (by the line's `category` attribute).
//! - B2B reverse charge: an organisation with a valid-looking VAT id of another EU
//!   country pays no VAT; so do exports outside the EU.
//! - Weight-based shipping by zone, free standard shipping above a threshold, express
//!   delivery at home, and a parcel-locker pickup option.
//! - The Baltic states (LV, LT, EE) ship from a warehouse in Rīga with local carriers:
//!   Omniva and DPD Pickup parcel lockers, Latvijas Pasts in Latvia and DPD courier
//!   home delivery, priced by weight (the ids Klix's widget uses: `omniva`,
//!   `dpd-pickup`, `latvijas-pasts`, `courier`).
//! - Validation: served countries only, and a well-formed German postal code.
//!
//! The rates are illustrative; a real shop keeps them current.

use rulegate_sdk::prelude::*;

/// The country the shop is established in.
const HOME: &str = "DE";
/// Every amount here is in euro cents.
const CURRENCY: &str = "EUR";
/// Weight assumed for a unit the platform sent no weight for.
const DEFAULT_UNIT_GRAMS: u64 = 500;

/// Standard and reduced VAT rates of the EU member states, in basis points.
const VAT: &[(&str, u32, u32)] = &[
    ("AT", 2000, 1000),
    ("BE", 2100, 600),
    ("BG", 2000, 900),
    ("CY", 1900, 500),
    ("CZ", 2100, 1200),
    ("DE", 1900, 700),
    ("DK", 2500, 2500),
    ("EE", 2400, 900),
    ("ES", 2100, 1000),
    ("FI", 2550, 1400),
    ("FR", 2000, 550),
    ("GR", 2400, 1300),
    ("HR", 2500, 500),
    ("HU", 2700, 500),
    ("IE", 2300, 1350),
    ("IT", 2200, 1000),
    ("LT", 2100, 900),
    ("LU", 1700, 800),
    ("LV", 2100, 1200),
    ("MT", 1800, 500),
    ("NL", 2100, 900),
    ("PL", 2300, 800),
    ("PT", 2300, 600),
    ("RO", 2100, 1100),
    ("SE", 2500, 1200),
    ("SI", 2200, 950),
    ("SK", 2300, 1900),
];

/// Countries outside the EU the shop delivers to (exports, no VAT).
const EXPORT_COUNTRIES: &[&str] = &["CH", "GB", "NO"];

/// Shipping zones and their prices (including VAT) by weight band.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Zone {
    Home,
    /// Served from the Rīga warehouse by Baltic carriers.
    Baltic,
    Eu,
    Export,
}

/// The countries the Rīga warehouse serves.
const BALTIC: &[&str] = &["LV", "LT", "EE"];

impl Zone {
    fn of(country: &str) -> Option<Zone> {
        if country == HOME {
            Some(Zone::Home)
        } else if BALTIC.contains(&country) {
            Some(Zone::Baltic)
        } else if vat_rates(country).is_some() {
            Some(Zone::Eu)
        } else if EXPORT_COUNTRIES.contains(&country) {
            Some(Zone::Export)
        } else {
            None
        }
    }

    /// Standard parcel price by weight: up to 1 kg, 5 kg, 31.5 kg, and freight above.
    fn standard_price(self, grams: u64) -> Option<i64> {
        let bands: [Option<i64>; 4] = match self {
            Zone::Home => [Some(490), Some(690), Some(990), Some(3900)],
            Zone::Baltic => [None; 4],
            Zone::Eu => [Some(990), Some(1490), Some(2490), Some(6900)],
            Zone::Export => [Some(1990), Some(2990), Some(4990), None],
        };
        match grams {
            0..=1_000 => bands[0],
            1_001..=5_000 => bands[1],
            5_001..=31_500 => bands[2],
            _ => bands[3],
        }
    }

    /// Order value (including VAT) from which standard shipping is free.
    fn free_shipping_from(self) -> Option<i64> {
        match self {
            Zone::Home => Some(5_000),
            Zone::Baltic | Zone::Eu => Some(10_000),
            Zone::Export => None,
        }
    }
}

/// A Baltic carrier's service: its option id, carrier, how it delivers, the countries
/// it serves, and its price (including VAT) up to each weight in grams; heavier
/// parcels it does not take.
struct BalticService {
    id: &'static str,
    carrier: &'static str,
    method: ShippingMethod,
    countries: &'static [&'static str],
    bands: &'static [(u64, i64)],
    text: Text,
}

const BALTIC_SERVICES: &[BalticService] = &[
    BalticService {
        id: "omniva",
        carrier: "Omniva",
        method: ShippingMethod::PickupPoint,
        countries: BALTIC,
        bands: &[(5_000, 299), (10_000, 399), (30_000, 549)],
        text: Text::Omniva,
    },
    BalticService {
        id: "dpd-pickup",
        carrier: "DPD",
        method: ShippingMethod::PickupPoint,
        countries: BALTIC,
        bands: &[(5_000, 329), (10_000, 429), (20_000, 599)],
        text: Text::DpdPickup,
    },
    BalticService {
        id: "latvijas-pasts",
        carrier: "Latvijas Pasts",
        method: ShippingMethod::Postal,
        countries: &["LV"],
        bands: &[(2_000, 350), (10_000, 550), (30_000, 890)],
        text: Text::LatvijasPasts,
    },
    BalticService {
        id: "courier",
        carrier: "DPD",
        method: ShippingMethod::Home,
        countries: BALTIC,
        bands: &[(10_000, 690), (31_500, 990)],
        text: Text::Courier,
    },
];

impl BalticService {
    /// The price of a parcel of `grams`, if the service takes it.
    fn price(&self, grams: u64) -> Option<i64> {
        self.bands
            .iter()
            .find(|(up_to, _)| grams <= *up_to)
            .map(|(_, price)| *price)
    }
}

/// Countries with parcel lockers the shop's carrier serves.
const LOCKER_COUNTRIES: &[&str] = &["AT", "DE", "NL"];
/// Heaviest parcel a locker takes.
const LOCKER_MAX_GRAMS: u64 = 20_000;

fn vat_rates(country: &str) -> Option<(u32, u32)> {
    VAT.iter()
        .find(|(code, _, _)| *code == country)
        .map(|&(_, standard, reduced)| (standard, reduced))
}

/// The country whose VAT applies and the zone it ships in. Before the shopper has given
/// an address, the shop's home country.
fn destination(cart: &Cart) -> Result<(&str, Zone), RuleError> {
    let country = cart.destination_country().unwrap_or(HOME);
    match Zone::of(country) {
        Some(zone) => Ok((country, zone)),
        None => Err(RuleError::AddressUnsupported(text(cart, Text::NoDelivery))),
    }
}

/// Whether `vat_id` looks like a VAT number of `country`: the country prefix (EL for
/// Greece) followed by 8 to 12 letters and digits.
fn looks_like_vat_id(vat_id: &str, country: &str) -> bool {
    let compact: String = vat_id
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-' && *c != '.')
        .collect();
    let prefix = if country == "GR" { "EL" } else { country };
    let Some(rest) = compact.strip_prefix(prefix) else {
        return false;
    };
    (8..=12).contains(&rest.len())
        && rest.chars().all(|c| c.is_ascii_alphanumeric())
        && rest.chars().any(|c| c.is_ascii_digit())
}

/// Why no VAT is charged, if none is.
fn zero_rated(cart: &Cart, country: &str, zone: Zone) -> bool {
    match zone {
        Zone::Export => true,
        Zone::Home => false,
        Zone::Baltic | Zone::Eu => {
            cart.customer.kind == CustomerKind::Organization
                && cart
                    .customer
                    .vat_id
                    .as_deref()
                    .is_some_and(|vat_id| looks_like_vat_id(vat_id, country))
        }
    }
}

/// Books and food take the reduced rate; the merchant's category path says which.
fn is_reduced(line: &Line) -> bool {
    line.attribute("category").is_some_and(|category| {
        let top = category.split('>').next().unwrap_or("").trim();
        ["books", "food", "groceries"]
            .iter()
            .any(|reduced| top.eq_ignore_ascii_case(reduced))
    })
}

fn line_rate(line: &Line, standard: u32, reduced: u32) -> u32 {
    match line.kind {
        LineKind::Physical if is_reduced(line) => reduced,
        // Discounts keep the rate the platform has on them; everything else is standard.
        LineKind::Discount | LineKind::StoreCredit => {
            line.tax_rate.unwrap_or(standard).min(standard)
        }
        _ => standard,
    }
}

pub struct EuShop;

impl Rules for EuShop {
    fn tax(cart: &Cart) -> Result<TaxDecision, RuleError> {
        require_euro(cart)?;
        let (country, zone) = destination(cart)?;
        if zero_rated(cart, country, zone) {
            return Ok(TaxDecision::uniform(cart, 0));
        }
        let (standard, reduced) = vat_rates(country).unwrap_or((1900, 700));
        Ok(TaxDecision::per_line(cart, |line| {
            line_rate(line, standard, reduced)
        }))
    }

    fn shipping_options(cart: &Cart) -> Result<Vec<ShippingOption>, RuleError> {
        require_euro(cart)?;
        if !cart.needs_shipping() {
            return Ok(Vec::new());
        }
        let (country, zone) = destination(cart)?;
        let zero = zero_rated(cart, country, zone);
        let vat = if zero {
            0
        } else {
            vat_rates(country).map_or(0, |(standard, _)| standard)
        };
        // Consumers pay the same gross price everywhere; zero-rated buyers pay its German net.
        let price = |gross: i64| {
            if zero {
                Price::excluding_tax(money::remove_tax(gross, 1900))
            } else {
                Price::including_tax(gross)
            }
        };
        let grams = cart.shipped_weight_grams(DEFAULT_UNIT_GRAMS);
        let free = zone
            .free_shipping_from()
            .is_some_and(|from| cart.total_gross(|_| vat).unwrap_or(0) >= from);

        let mut options = Vec::new();
        if zone == Zone::Baltic {
            for service in BALTIC_SERVICES {
                let Some(gross) = service
                    .price(grams)
                    .filter(|_| service.countries.contains(&country))
                else {
                    continue;
                };
                // Free above the threshold at a parcel locker; home delivery always costs.
                let locker = service.method == ShippingMethod::PickupPoint;
                let gross = if free && locker { 0 } else { gross };
                let mut option = ShippingOption::new(
                    service.id,
                    text(cart, service.text).as_str(),
                    price(gross),
                    vat,
                )
                .method(service.method)
                .carrier(service.carrier);
                if options.is_empty() {
                    option = option.preselected();
                }
                options.push(option);
            }
        }
        if let Some(gross) = zone.standard_price(grams) {
            let gross = if free { 0 } else { gross };
            options.push(
                ShippingOption::new(
                    "standard",
                    text(cart, Text::Standard).as_str(),
                    price(gross),
                    vat,
                )
                .description(&text(cart, Text::StandardDays))
                .carrier("DHL")
                .preselected(),
            );
        }
        if LOCKER_COUNTRIES.contains(&country) && grams <= LOCKER_MAX_GRAMS {
            let gross = if free { 0 } else { 390 };
            options.push(
                ShippingOption::new(
                    "locker",
                    text(cart, Text::Locker).as_str(),
                    price(gross),
                    vat,
                )
                .method(ShippingMethod::PickupPoint)
                .carrier("DHL"),
            );
        }
        if zone == Zone::Home && grams <= 31_500 {
            options.push(
                ShippingOption::new(
                    "express",
                    text(cart, Text::Express).as_str(),
                    price(1290),
                    vat,
                )
                .description(&text(cart, Text::ExpressDays))
                .carrier("DHL"),
            );
        }
        if options.is_empty() {
            return Err(RuleError::AddressUnsupported(text(cart, Text::TooHeavy)));
        }
        Ok(options)
    }

    fn validate(cart: &Cart) -> Result<Verdict, RuleError> {
        require_euro(cart)?;
        let Some(address) = cart.destination() else {
            return Ok(Verdict::reject(
                RejectionCode::AddressInvalid,
                text(cart, Text::NoAddress),
            ));
        };
        if Zone::of(&address.country).is_none() {
            return Ok(Verdict::reject(
                RejectionCode::AddressUnsupported,
                text(cart, Text::NoDelivery),
            ));
        }
        if address.country == HOME {
            let well_formed = address
                .postal_code
                .as_deref()
                .is_some_and(|code| code.len() == 5 && code.bytes().all(|b| b.is_ascii_digit()));
            if !well_formed {
                return Ok(Verdict::reject(
                    RejectionCode::AddressInvalid,
                    text(cart, Text::PostalCode),
                ));
            }
        }
        if let Err(RuleError::AddressUnsupported(message)) = Self::shipping_options(cart) {
            return Ok(Verdict::reject(RejectionCode::AddressUnsupported, message));
        }
        Ok(Verdict::Approve)
    }
}

fn require_euro(cart: &Cart) -> Result<(), RuleError> {
    if cart.currency == CURRENCY {
        Ok(())
    } else {
        Err(RuleError::cannot_decide(format!(
            "prices are in EUR, cart is in {}",
            cart.currency
        )))
    }
}

/// Shopper-facing texts.
#[derive(Clone, Copy)]
enum Text {
    Standard,
    StandardDays,
    Locker,
    Express,
    ExpressDays,
    Omniva,
    DpdPickup,
    LatvijasPasts,
    Courier,
    NoDelivery,
    NoAddress,
    PostalCode,
    TooHeavy,
}

fn text(cart: &Cart, which: Text) -> String {
    let german = cart
        .locale
        .as_deref()
        .is_some_and(|locale| locale.starts_with("de"));
    let (en, de) = match which {
        Text::Standard => ("Standard delivery", "Standardversand"),
        Text::StandardDays => ("2-4 business days", "2-4 Werktage"),
        Text::Locker => ("Parcel locker", "Packstation"),
        Text::Express => ("Express", "Express"),
        Text::ExpressDays => ("Next business day", "Am nächsten Werktag"),
        Text::Omniva => ("Omniva parcel locker", "Omniva-Paketautomat"),
        Text::DpdPickup => ("DPD Pickup parcel locker", "DPD-Pickup-Paketautomat"),
        Text::LatvijasPasts => ("Latvijas Pasts", "Latvijas Pasts"),
        Text::Courier => ("Courier to your door", "Kurier bis zur Haustür"),
        Text::NoDelivery => (
            "Sorry, we do not deliver to this country.",
            "Leider liefern wir nicht in dieses Land.",
        ),
        Text::NoAddress => (
            "Please enter a delivery address.",
            "Bitte geben Sie eine Lieferadresse an.",
        ),
        Text::PostalCode => (
            "Please enter a five-digit postal code.",
            "Bitte geben Sie eine fünfstellige Postleitzahl an.",
        ),
        Text::TooHeavy => (
            "This order is too heavy to ship to your country.",
            "Diese Bestellung ist zu schwer für den Versand in Ihr Land.",
        ),
    };
    if german { de } else { en }.to_string()
}

rulegate_sdk::export!(EuShop);

#[cfg(test)]
mod tests {
    use super::*;
    use rulegate_sdk::testing::{CartBuilder, address, line};

    fn book(units: u64) -> Line {
        line("BOOK-1", units, Price::including_tax(2000))
            .attribute("category", "Books > Fiction")
            .weight(400)
            .build()
    }

    fn tent() -> Line {
        line("TENT-2", 1, Price::including_tax(19_900))
            .weight(4_200)
            .build()
    }

    #[test]
    fn vat_follows_destination_and_line_kind() {
        let cart = CartBuilder::new("EUR")
            .ship_to("FR")
            .line(book(1))
            .line(tent())
            .build();
        assert_eq!(EuShop::tax(&cart).unwrap().line_rates, vec![550, 2000]);
        let cart = CartBuilder::new("EUR")
            .ship_to("DE")
            .line(book(1))
            .line(tent())
            .build();
        assert_eq!(EuShop::tax(&cart).unwrap().line_rates, vec![700, 1900]);
    }

    #[test]
    fn no_address_yet_uses_home_rates() {
        let cart = CartBuilder::new("EUR").line(tent()).build();
        assert_eq!(EuShop::tax(&cart).unwrap().line_rates, vec![1900]);
    }

    #[test]
    fn reverse_charge_for_valid_looking_foreign_vat_ids_only() {
        let b2b = |vat: &str, country: &str| {
            CartBuilder::new("EUR")
                .ship_to(country)
                .business(vat)
                .line(tent())
                .build()
        };
        assert_eq!(
            EuShop::tax(&b2b("FR12345678901", "FR")).unwrap().line_rates,
            vec![0]
        );
        assert_eq!(
            EuShop::tax(&b2b("EL123456789", "GR")).unwrap().line_rates,
            vec![0]
        );
        // Domestic B2B pays German VAT.
        assert_eq!(
            EuShop::tax(&b2b("DE123456789", "DE")).unwrap().line_rates,
            vec![1900]
        );
        // A VAT id of another country, or a malformed one, does not count.
        assert_eq!(
            EuShop::tax(&b2b("NL123456789B01", "FR"))
                .unwrap()
                .line_rates,
            vec![2000]
        );
        assert_eq!(
            EuShop::tax(&b2b("FR12", "FR")).unwrap().line_rates,
            vec![2000]
        );
    }

    #[test]
    fn exports_are_zero_rated_and_unserved_countries_refused() {
        let cart = CartBuilder::new("EUR").ship_to("NO").line(tent()).build();
        assert_eq!(EuShop::tax(&cart).unwrap().line_rates, vec![0]);
        let cart = CartBuilder::new("EUR").ship_to("US").line(tent()).build();
        assert!(matches!(
            EuShop::tax(&cart),
            Err(RuleError::AddressUnsupported(_))
        ));
    }

    #[test]
    fn shipping_by_weight_with_free_threshold() {
        // One book: 400 g, 20.00 EUR → below the 50 EUR threshold: 4.90.
        let cart = CartBuilder::new("EUR").ship_to("DE").line(book(1)).build();
        let options = EuShop::shipping_options(&cart).unwrap();
        let ids: Vec<&str> = options.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(ids, ["standard", "locker", "express"]);
        assert_eq!(options[0].price, Price::including_tax(490));
        assert_eq!(options[0].tax_rate, 1900);
        assert!(options[0].preselected);
        // Three books: 60.00 EUR → standard and locker free, express still paid.
        let cart = CartBuilder::new("EUR").ship_to("DE").line(book(3)).build();
        let options = EuShop::shipping_options(&cart).unwrap();
        assert_eq!(options[0].price.amount, 0);
        assert_eq!(options[1].price.amount, 0);
        assert_eq!(options[2].price.amount, 1290);
        // A tent to Italy: 4.2 kg, 199 EUR ≥ 100 EUR → free; no locker in Italy.
        let cart = CartBuilder::new("EUR").ship_to("IT").line(tent()).build();
        let options = EuShop::shipping_options(&cart).unwrap();
        assert_eq!(options.len(), 1);
        assert_eq!((options[0].price.amount, options[0].tax_rate), (0, 2200));
    }

    #[test]
    fn heavy_parcels_skip_the_locker() {
        let heavy = line("STOVE", 1, Price::including_tax(1000))
            .weight(25_000)
            .build();
        let cart = CartBuilder::new("EUR").ship_to("DE").line(heavy).build();
        let ids: Vec<String> = EuShop::shipping_options(&cart)
            .unwrap()
            .into_iter()
            .map(|o| o.id)
            .collect();
        assert_eq!(ids, ["standard", "express"]);
    }

    #[test]
    fn zero_rated_shipping_is_the_german_net_price() {
        let cart = CartBuilder::new("EUR").ship_to("CH").line(book(1)).build();
        let options = EuShop::shipping_options(&cart).unwrap();
        assert_eq!(
            options[0].price,
            Price::excluding_tax(money::remove_tax(1990, 1900))
        );
        assert_eq!(options[0].tax_rate, 0);
    }

    #[test]
    fn digital_only_needs_no_shipping() {
        let ebook = line("EBOOK", 1, Price::including_tax(999)).kind(LineKind::Digital);
        let cart = CartBuilder::new("EUR").ship_to("DE").line(ebook).build();
        assert!(EuShop::shipping_options(&cart).unwrap().is_empty());
    }

    #[test]
    fn validation() {
        let good = address("DE").postal_code("10115").street("Invalidenstr. 1");
        let cart = CartBuilder::new("EUR")
            .shipping_address(good)
            .line(tent())
            .build();
        assert_eq!(EuShop::validate(&cart).unwrap(), Verdict::Approve);

        let bad = address("DE").postal_code("1011");
        let cart = CartBuilder::new("EUR")
            .locale("de-DE")
            .shipping_address(bad)
            .line(tent())
            .build();
        let Verdict::Reject(rejection) = EuShop::validate(&cart).unwrap() else {
            panic!("approved")
        };
        assert_eq!(rejection.code, RejectionCode::AddressInvalid);
        assert!(rejection.message.contains("Postleitzahl"));

        let cart = CartBuilder::new("EUR").ship_to("JP").line(tent()).build();
        let Verdict::Reject(rejection) = EuShop::validate(&cart).unwrap() else {
            panic!("approved")
        };
        assert_eq!(rejection.code, RejectionCode::AddressUnsupported);

        let cart = CartBuilder::new("USD").ship_to("DE").line(tent()).build();
        assert!(matches!(
            EuShop::validate(&cart),
            Err(RuleError::CannotDecide(_))
        ));
    }

    /// A cart as Klix's shipping-cost request makes it: references and quantities,
    /// no prices, no weights.
    fn klix_cart(country: &str, units: u64) -> Cart {
        CartBuilder::new("EUR")
            .ship_to(country)
            .line(line("QZT-213", units, Price::excluding_tax(0)).build())
            .build()
    }

    fn ids(options: &[ShippingOption]) -> Vec<&str> {
        options.iter().map(|option| option.id.as_str()).collect()
    }

    #[test]
    fn baltic_orders_ship_with_baltic_carriers_by_weight() {
        let options = EuShop::shipping_options(&klix_cart("LV", 3)).unwrap();
        assert_eq!(
            ids(&options),
            ["omniva", "dpd-pickup", "latvijas-pasts", "courier"]
        );
        assert!(options[0].preselected);
        assert_eq!(options[0].method, ShippingMethod::PickupPoint);
        assert_eq!(options[0].carrier.as_deref(), Some("Omniva"));
        // 3 units at the default 500 g: the first band, with Latvian VAT.
        assert_eq!(options[0].price, Price::including_tax(299));
        assert_eq!(options[0].tax_rate, 2100);
        assert_eq!(options[2].method, ShippingMethod::Postal);

        // Latvijas Pasts delivers in Latvia only; Estonia's VAT is 24 %.
        let options = EuShop::shipping_options(&klix_cart("EE", 1)).unwrap();
        assert_eq!(ids(&options), ["omniva", "dpd-pickup", "courier"]);
        assert_eq!(options[0].tax_rate, 2400);
        let options = EuShop::shipping_options(&klix_cart("LT", 1)).unwrap();
        assert_eq!(options[0].tax_rate, 2100);

        // 30 kg: no DPD locker (20 kg at most); 40 kg: nothing takes it.
        let options = EuShop::shipping_options(&klix_cart("LV", 60)).unwrap();
        assert_eq!(ids(&options), ["omniva", "latvijas-pasts", "courier"]);
        assert_eq!(options[0].price, Price::including_tax(549));
        assert!(matches!(
            EuShop::shipping_options(&klix_cart("LV", 80)),
            Err(RuleError::AddressUnsupported(_))
        ));
    }

    #[test]
    fn baltic_reduced_rates() {
        for (country, reduced) in [("LV", 1200), ("LT", 900), ("EE", 900)] {
            let cart = CartBuilder::new("EUR")
                .ship_to(country)
                .line(book(1))
                .line(tent())
                .build();
            let standard = if country == "EE" { 2400 } else { 2100 };
            assert_eq!(
                EuShop::tax(&cart).unwrap().line_rates,
                vec![reduced, standard]
            );
        }
    }
}
