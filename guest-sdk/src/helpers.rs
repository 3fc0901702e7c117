//! Conveniences on the contract's types: constructors for decisions and the questions
//! rules ask of a cart most often.

use crate::money;
use crate::{
    Address, Cart, Line, LineKind, Price, Rejection, RejectionCode, RuleError, SeparateTax,
    ShippingMethod, ShippingOption, TaxDecision, Verdict,
};

impl Price {
    /// A price that already includes tax (how KCO and Messenger shoppers see prices).
    #[inline]
    pub fn including_tax(amount: i64) -> Self {
        Price {
            amount,
            includes_tax: true,
        }
    }

    /// A price to which tax is added (how Klix and US shops state prices).
    #[inline]
    pub fn excluding_tax(amount: i64) -> Self {
        Price {
            amount,
            includes_tax: false,
        }
    }

    /// The amount including tax at `rate`.
    #[inline]
    pub fn gross(&self, rate: u32) -> i64 {
        if self.includes_tax {
            self.amount
        } else {
            money::add_tax(self.amount, rate)
        }
    }

    /// The amount excluding tax at `rate`.
    #[inline]
    pub fn net(&self, rate: u32) -> i64 {
        if self.includes_tax {
            money::remove_tax(self.amount, rate)
        } else {
            self.amount
        }
    }
}

impl Line {
    /// The line's total after discount, with the tax treatment of its unit price, or
    /// `None` when the platform sent no price.
    #[inline]
    pub fn total(&self) -> Option<Price> {
        let unit = self.unit_price?;
        let amount = money::extend(unit.amount, self.quantity).saturating_sub(self.discount);
        Some(Price {
            amount,
            includes_tax: unit.includes_tax,
        })
    }

    /// The quantity in whole units, rounded up (2.5 kg counts as 3 for per-piece rules).
    #[inline]
    pub fn whole_units(&self) -> u64 {
        self.quantity.div_ceil(1000)
    }

    /// The line's total weight in grams, when the unit weight is known.
    #[inline]
    pub fn weight_grams(&self) -> Option<u64> {
        let unit = self.unit_weight_grams?;
        Some(money::mul_u64_saturating(unit, self.quantity).div_ceil(1000))
    }

    /// The value of the first attribute named `key`.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|attribute| attribute.key == key)
            .map(|attribute| attribute.value.as_str())
    }

    /// Whether the line is merchandise (physical or digital goods, gift cards), as opposed
    /// to discounts, fees and credits.
    #[inline]
    pub fn is_goods(&self) -> bool {
        matches!(
            self.kind,
            LineKind::Physical | LineKind::Digital | LineKind::GiftCard
        )
    }

    /// Whether the line needs shipping.
    #[inline]
    pub fn is_shipped(&self) -> bool {
        self.kind == LineKind::Physical
    }
}

impl Address {
    /// All street lines joined by ", ", for pattern checks such as PO boxes.
    pub fn street(&self) -> String {
        self.street_lines.join(", ")
    }
}

impl Cart {
    /// Where the order goes: the shipping address, or the billing address when the
    /// shopper gave no separate shipping address.
    pub fn destination(&self) -> Option<&Address> {
        self.shipping_address
            .as_ref()
            .or(self.billing_address.as_ref())
    }

    /// The destination's country code, when known.
    pub fn destination_country(&self) -> Option<&str> {
        self.destination().map(|address| address.country.as_str())
    }

    /// The total weight in grams of the lines that ship, counting lines of unknown weight
    /// at `default_unit_grams` per unit.
    pub fn shipped_weight_grams(&self, default_unit_grams: u64) -> u64 {
        self.lines
            .iter()
            .filter(|line| line.is_shipped())
            .map(|line| {
                line.weight_grams().unwrap_or_else(|| {
                    money::mul_u64_saturating(default_unit_grams, line.quantity).div_ceil(1000)
                })
            })
            .fold(0, u64::saturating_add)
    }

    /// Whether any line needs shipping.
    pub fn needs_shipping(&self) -> bool {
        self.lines.iter().any(Line::is_shipped)
    }

    /// The sum of all line totals (goods, discounts, fees) including tax, where each
    /// tax-exclusive line is grossed up at `rate_of(line)` (called only for those).
    /// `None` when a line has no price.
    pub fn total_gross(&self, rate_of: impl Fn(&Line) -> u32) -> Option<i64> {
        self.lines.iter().try_fold(0i64, |sum, line| {
            let total = line.total()?;
            let gross = if total.includes_tax {
                total.amount
            } else {
                money::add_tax(total.amount, rate_of(line))
            };
            Some(sum.saturating_add(gross))
        })
    }
}

impl ShippingOption {
    /// A home-delivery option with no carrier, description or preselection; refine it
    /// with the builder methods.
    pub fn new(id: &str, name: &str, price: Price, tax_rate: u32) -> Self {
        ShippingOption {
            id: id.to_string(),
            name: name.to_string(),
            description: None,
            price,
            tax_rate,
            method: ShippingMethod::Home,
            carrier: None,
            preselected: false,
        }
    }

    /// Sets how the option is delivered.
    pub fn method(mut self, method: ShippingMethod) -> Self {
        self.method = method;
        self
    }

    /// Sets the carrier.
    pub fn carrier(mut self, carrier: &str) -> Self {
        self.carrier = Some(carrier.to_string());
        self
    }

    /// Sets the longer description.
    pub fn description(mut self, description: &str) -> Self {
        self.description = Some(description.to_string());
        self
    }

    /// Marks the option as selected by default.
    pub fn preselected(mut self) -> Self {
        self.preselected = true;
        self
    }
}

impl TaxDecision {
    /// The same rate on every line.
    pub fn uniform(cart: &Cart, rate: u32) -> Self {
        TaxDecision {
            line_rates: vec![rate; cart.lines.len()],
            separate: Vec::new(),
        }
    }

    /// A rate per line, computed by `rate_of`.
    pub fn per_line(cart: &Cart, rate_of: impl Fn(&Line) -> u32) -> Self {
        TaxDecision {
            line_rates: cart.lines.iter().map(rate_of).collect(),
            separate: Vec::new(),
        }
    }

    /// Adds a tax charged as its own line (US sales tax).
    pub fn with_separate(mut self, tax: SeparateTax) -> Self {
        self.separate.push(tax);
        self
    }
}

impl Verdict {
    /// A rejection with a code and a message for the shopper.
    pub fn reject(code: RejectionCode, message: impl Into<String>) -> Self {
        Verdict::Reject(Rejection {
            code,
            message: message.into(),
        })
    }
}

impl RuleError {
    /// The operator-facing "cannot decide" error.
    pub fn cannot_decide(reason: impl Into<String>) -> Self {
        RuleError::CannotDecide(reason.into())
    }
}
