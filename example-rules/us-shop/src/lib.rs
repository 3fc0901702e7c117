//! Rules of a US online shop.
//!
//! - Sales tax by destination state, charged as a separate tax line (prices exclude
//!   tax); gift cards are never taxed, digital goods are exempt in some states, and
//!   some states tax shipping.
//! - Flat-rate standard shipping, free above a threshold, and express shipping to the
//!   contiguous states.
//! - No delivery to PO boxes or outside the US.
//!
//! State base rates only (no local rates); rates with more precision than a basis point
//! are rounded to the nearest basis point, the contract's precision. Illustrative.

use rulegate_sdk::prelude::*;

/// State sales tax base rates in basis points.
const STATE_RATES: &[(&str, u32)] = &[
    ("AK", 0),
    ("AL", 400),
    ("AR", 650),
    ("AZ", 560),
    ("CA", 725),
    ("CO", 290),
    ("CT", 635),
    ("DC", 600),
    ("DE", 0),
    ("FL", 600),
    ("GA", 400),
    ("HI", 400),
    ("IA", 600),
    ("ID", 600),
    ("IL", 625),
    ("IN", 700),
    ("KS", 650),
    ("KY", 600),
    ("LA", 500),
    ("MA", 625),
    ("MD", 600),
    ("ME", 550),
    ("MI", 600),
    ("MN", 688),
    ("MO", 423),
    ("MS", 700),
    ("MT", 0),
    ("NC", 475),
    ("ND", 500),
    ("NE", 550),
    ("NH", 0),
    ("NJ", 663),
    ("NM", 488),
    ("NV", 685),
    ("NY", 400),
    ("OH", 575),
    ("OK", 450),
    ("OR", 0),
    ("PA", 600),
    ("RI", 700),
    ("SC", 600),
    ("SD", 420),
    ("TN", 700),
    ("TX", 625),
    ("UT", 610),
    ("VA", 530),
    ("VT", 600),
    ("WA", 650),
    ("WI", 500),
    ("WV", 600),
    ("WY", 400),
];

/// States that tax shipping charges.
const TAXES_SHIPPING: &[&str] = &[
    "AR", "CT", "GA", "HI", "KS", "KY", "MI", "MN", "MS", "NE", "NJ", "NM", "NY", "NC", "ND", "OH",
    "PA", "RI", "SC", "SD", "TN", "TX", "VT", "WA", "WI", "WV",
];

/// States that do not tax digital goods.
const DIGITAL_EXEMPT: &[&str] = &["CA", "FL", "MA", "NV", "NY", "VA"];

/// States express delivery does not reach.
const NO_EXPRESS: &[&str] = &["AK", "HI"];

const STANDARD_CENTS: i64 = 599;
const EXPRESS_CENTS: i64 = 1_499;
/// Order value (goods after discounts, before tax) from which standard shipping is free.
const FREE_SHIPPING_FROM_CENTS: i64 = 7_500;
/// Orders above this value are reviewed by hand instead.
const MAX_ORDER_CENTS: i64 = 1_000_000;

fn state_rate(state: &str) -> Option<u32> {
    STATE_RATES
        .iter()
        .find(|(code, _)| *code == state)
        .map(|&(_, rate)| rate)
}

/// Whether the street lines name a post-office box ("PO Box 12", "P.O. Box", "Post
/// Office Box", "POB 7", "Box 12"), ignoring case, dots and spacing.
pub fn is_po_box(address: &Address) -> bool {
    const BOX_WORDS: &[&[&str]] = &[
        &["po", "box"],
        &["p", "o", "box"],
        &["pobox"],
        &["post", "office", "box"],
    ];
    address.street_lines.iter().any(|line| {
        let words: Vec<&str> = line
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|word| !word.is_empty())
            .collect();
        let names_box = BOX_WORDS.iter().any(|pattern| {
            words.windows(pattern.len()).any(|window| {
                window
                    .iter()
                    .zip(pattern.iter())
                    .all(|(word, expected)| word.eq_ignore_ascii_case(expected))
            })
        });
        let numbered_box = words.first().is_some_and(|word| {
            word.eq_ignore_ascii_case("pob") || word.eq_ignore_ascii_case("box")
        }) && words
            .get(1)
            .is_some_and(|number| number.bytes().all(|b| b.is_ascii_digit()));
        names_box || numbered_box
    })
}

/// The destination state, after checking the address is one the shop delivers to.
fn deliverable_state(cart: &Cart) -> Result<Option<&str>, RuleError> {
    let Some(address) = cart.destination() else {
        return Ok(None);
    };
    if address.country != "US" {
        return Err(RuleError::AddressUnsupported(
            "Sorry, we only ship within the United States.".into(),
        ));
    }
    if is_po_box(address) {
        return Err(RuleError::AddressUnsupported(
            "We can't deliver to PO boxes. Please enter a street address.".into(),
        ));
    }
    match address.region.as_deref() {
        Some(state) if state_rate(state).is_some() => Ok(Some(state)),
        Some(_) => Err(RuleError::AddressInvalid(
            "Please choose a valid US state.".into(),
        )),
        None => Ok(None),
    }
}

fn is_taxable(line: &Line, state: &str) -> bool {
    match line.kind {
        LineKind::Physical | LineKind::Discount | LineKind::Surcharge => true,
        LineKind::Digital => !DIGITAL_EXEMPT.contains(&state),
        _ => false,
    }
}

/// Goods value after discounts, before tax.
fn goods_value(cart: &Cart) -> i64 {
    cart.lines
        .iter()
        .filter(|line| line.is_goods() || line.kind == LineKind::Discount)
        .filter_map(|line| line.total().map(|total| total.net(0)))
        .sum()
}

pub struct UsShop;

impl Rules for UsShop {
    fn tax(cart: &Cart) -> Result<TaxDecision, RuleError> {
        require_dollars(cart)?;
        let decision = TaxDecision::uniform(cart, 0);
        let Some(state) = deliverable_state(cart)? else {
            // No state yet: tax is computed once the shopper enters one.
            return Ok(decision);
        };
        let rate = state_rate(state).unwrap_or(0);
        if rate == 0 {
            return Ok(decision);
        }
        let lines = (0..cart.lines.len() as u32)
            .filter(|&index| is_taxable(&cart.lines[index as usize], state))
            .collect();
        Ok(decision.with_separate(SeparateTax {
            reference: "sales-tax".into(),
            name: format!(
                "Sales tax ({state} {} %)",
                money::format_decimal_trimmed(rate as i64, 2)
            ),
            rate,
            lines,
            includes_shipping: TAXES_SHIPPING.contains(&state),
        }))
    }

    fn shipping_options(cart: &Cart) -> Result<Vec<ShippingOption>, RuleError> {
        require_dollars(cart)?;
        // A cart without lines is a Messenger Buy Button whose payload the host does
        // not read: this shop's buttons all sell goods that are shipped.
        if !cart.needs_shipping() && !cart.lines.is_empty() {
            return Ok(Vec::new());
        }
        let state = deliverable_state(cart)?;
        let standard = if goods_value(cart) >= FREE_SHIPPING_FROM_CENTS {
            0
        } else {
            STANDARD_CENTS
        };
        let mut options = vec![
            ShippingOption::new("standard", "Standard", Price::excluding_tax(standard), 0)
                .description("5-7 business days")
                .carrier("USPS")
                .preselected(),
        ];
        if !state.is_some_and(|state| NO_EXPRESS.contains(&state)) {
            options.push(
                ShippingOption::new("express", "Express", Price::excluding_tax(EXPRESS_CENTS), 0)
                    .description("2 business days")
                    .carrier("UPS"),
            );
        }
        Ok(options)
    }

    fn validate(cart: &Cart) -> Result<Verdict, RuleError> {
        require_dollars(cart)?;
        let Some(address) = cart.destination() else {
            return Ok(Verdict::reject(
                RejectionCode::AddressInvalid,
                "Please enter a shipping address.",
            ));
        };
        match deliverable_state(cart) {
            Err(RuleError::AddressUnsupported(message)) => {
                return Ok(Verdict::reject(RejectionCode::AddressUnsupported, message));
            }
            Err(RuleError::AddressInvalid(message)) => {
                return Ok(Verdict::reject(RejectionCode::AddressInvalid, message));
            }
            Err(other) => return Err(other),
            Ok(None) => {
                return Ok(Verdict::reject(
                    RejectionCode::AddressInvalid,
                    "Please choose your state.",
                ));
            }
            Ok(Some(_)) => {}
        }
        let zip_ok = address.postal_code.as_deref().is_some_and(|zip| {
            let digits: Vec<u8> = zip.bytes().filter(|b| *b != b'-').collect();
            (digits.len() == 5 || digits.len() == 9) && digits.iter().all(u8::is_ascii_digit)
        });
        if !zip_ok {
            return Ok(Verdict::reject(
                RejectionCode::AddressInvalid,
                "Please enter a valid ZIP code.",
            ));
        }
        if goods_value(cart) > MAX_ORDER_CENTS {
            return Ok(Verdict::reject(
                RejectionCode::OrderLimit,
                "Orders over $10,000 need a quote. Please contact our sales team.",
            ));
        }
        Ok(Verdict::Approve)
    }
}

fn require_dollars(cart: &Cart) -> Result<(), RuleError> {
    if cart.currency == "USD" {
        Ok(())
    } else {
        Err(RuleError::cannot_decide(format!(
            "prices are in USD, cart is in {}",
            cart.currency
        )))
    }
}

rulegate_sdk::export!(UsShop);

#[cfg(test)]
mod tests {
    use super::*;
    use rulegate_sdk::testing::{CartBuilder, address, line};

    fn to(state: &str) -> CartBuilder {
        CartBuilder::new("USD").shipping_address(
            address("US")
                .region(state)
                .postal_code("90210")
                .street("10 Lombard St"),
        )
    }

    fn shirt(units: u64) -> Line {
        line("SHIRT", units, Price::excluding_tax(2_000)).build()
    }

    #[test]
    fn sales_tax_is_a_separate_line() {
        let cart = to("CA")
            .line(shirt(1))
            .line(line("GIFT", 1, Price::excluding_tax(5_000)).kind(LineKind::GiftCard))
            .build();
        let decision = UsShop::tax(&cart).unwrap();
        assert_eq!(decision.line_rates, vec![0, 0]);
        assert_eq!(decision.separate.len(), 1);
        let tax = &decision.separate[0];
        assert_eq!(
            (tax.rate, tax.lines.clone(), tax.includes_shipping),
            (725, vec![0], false)
        );
        assert_eq!(tax.name, "Sales tax (CA 7.25 %)");
    }

    #[test]
    fn shipping_is_taxed_where_the_state_says_so() {
        let decision = UsShop::tax(&to("TX").line(shirt(1)).build()).unwrap();
        assert!(decision.separate[0].includes_shipping);
        assert_eq!(decision.separate[0].rate, 625);
    }

    #[test]
    fn no_tax_line_in_tax_free_states_or_before_an_address() {
        assert!(
            UsShop::tax(&to("OR").line(shirt(1)).build())
                .unwrap()
                .separate
                .is_empty()
        );
        let cart = CartBuilder::new("USD").line(shirt(1)).build();
        assert!(UsShop::tax(&cart).unwrap().separate.is_empty());
    }

    #[test]
    fn digital_goods_exempt_in_some_states() {
        let ebook = line("EBOOK", 1, Price::excluding_tax(999)).kind(LineKind::Digital);
        let ca = UsShop::tax(&to("CA").line(ebook.clone()).line(shirt(1)).build()).unwrap();
        assert_eq!(ca.separate[0].lines, vec![1]);
        let wa = UsShop::tax(&to("WA").line(ebook).line(shirt(1)).build()).unwrap();
        assert_eq!(wa.separate[0].lines, vec![0, 1]);
    }

    #[test]
    fn flat_and_express_shipping_free_above_threshold() {
        let options = UsShop::shipping_options(&to("CA").line(shirt(1)).build()).unwrap();
        assert_eq!(options.len(), 2);
        assert_eq!(options[0].price, Price::excluding_tax(599));
        assert_eq!(options[1].price, Price::excluding_tax(1499));
        let options = UsShop::shipping_options(&to("CA").line(shirt(4)).build()).unwrap();
        assert_eq!(options[0].price.amount, 0);
        let options = UsShop::shipping_options(&to("HI").line(shirt(1)).build()).unwrap();
        assert_eq!(options.len(), 1);
    }

    #[test]
    fn buy_buttons_without_lines_still_ship() {
        let cart = to("TX").platform(Platform::Messenger).build();
        let options = UsShop::shipping_options(&cart).unwrap();
        assert_eq!(options.len(), 2);
        assert_eq!(options[0].price, Price::excluding_tax(599));
        // Texas taxes shipping: the sales tax covers it even without goods lines.
        let tax = UsShop::tax(&cart).unwrap();
        assert!(tax.separate[0].includes_shipping);
        assert!(tax.separate[0].lines.is_empty());
        let digital = to("CA")
            .line(line("EBOOK", 1, Price::excluding_tax(900)).kind(LineKind::Digital))
            .build();
        assert!(UsShop::shipping_options(&digital).unwrap().is_empty());
    }

    #[test]
    fn po_boxes_are_refused() {
        for street in [
            "PO Box 123",
            "P.O. Box 9",
            "p o box 7",
            "Post Office Box 55",
            "POB 12",
            "Box 12",
        ] {
            let cart = CartBuilder::new("USD")
                .shipping_address(
                    address("US")
                        .region("CA")
                        .postal_code("90210")
                        .street(street),
                )
                .line(shirt(1))
                .build();
            assert!(
                matches!(
                    UsShop::shipping_options(&cart),
                    Err(RuleError::AddressUnsupported(_))
                ),
                "{street}"
            );
            let Verdict::Reject(rejection) = UsShop::validate(&cart).unwrap() else {
                panic!("{street}")
            };
            assert_eq!(rejection.code, RejectionCode::AddressUnsupported);
        }
        for street in [
            "10 Boxwood Lane",
            "1 Pobrook Road",
            "Apt 5, 20 Post Office Square",
        ] {
            let a = address("US").street(street).build();
            assert_eq!(
                is_po_box(&a),
                street.contains("Post Office Box"),
                "{street}"
            );
        }
    }

    #[test]
    fn validation() {
        assert_eq!(
            UsShop::validate(&to("CA").line(shirt(1)).build()).unwrap(),
            Verdict::Approve
        );
        let cart = CartBuilder::new("USD").ship_to("CA").line(shirt(1)).build();
        let Verdict::Reject(r) = UsShop::validate(&cart).unwrap() else {
            panic!()
        };
        assert_eq!(r.code, RejectionCode::AddressUnsupported);
        let cart = CartBuilder::new("USD")
            .shipping_address(address("US").region("CA").postal_code("9021"))
            .line(shirt(1))
            .build();
        let Verdict::Reject(r) = UsShop::validate(&cart).unwrap() else {
            panic!()
        };
        assert_eq!(r.code, RejectionCode::AddressInvalid);
        let cart = to("CA")
            .line(line("CAR", 1, Price::excluding_tax(2_000_000)))
            .build();
        let Verdict::Reject(r) = UsShop::validate(&cart).unwrap() else {
            panic!()
        };
        assert_eq!(r.code, RejectionCode::OrderLimit);
    }
}
