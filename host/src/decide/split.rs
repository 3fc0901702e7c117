//! Sticky routing of a canary: which checkouts a candidate answers. A checkout is named
//! by its platform order id (KCO, Klix) or, on Messenger, which has none, by the Buy
//! Button's payload; its share is a hash of the tenant and that name, so every callback
//! of one checkout, on every host of a fleet, meets the same version. Callbacks without
//! a name stay on the active version.

use sha2::{Digest, Sha256};

use crate::engine::SharedRuleSet;
use crate::model::Cart;

/// Shares are counted in basis points: a checkout's point is in `0..SHARES`.
const SHARES: u32 = 10_000;

/// A candidate that answers `percent` of a tenant's checkouts.
#[derive(Clone)]
pub struct Split {
    /// The candidate's rules.
    pub rules: SharedRuleSet,
    /// Its share, 1 to 50.
    pub percent: u8,
    /// The tenant, so two tenants' canaries take independent shares.
    pub tenant: String,
}

/// The name of the checkout a cart belongs to, if it has one.
pub fn checkout(cart: &Cart) -> Option<&str> {
    cart.order_id
        .as_deref()
        .or(cart.merchant_data.as_deref())
        .filter(|name| !name.is_empty())
}

/// Whether the checkout `name` of `tenant` falls in a share of `percent`.
pub fn in_share(tenant: &str, name: &str, percent: u8) -> bool {
    let mut hash = Sha256::new();
    hash.update(tenant.as_bytes());
    hash.update([0]);
    hash.update(name.as_bytes());
    let digest = hash.finalize();
    let point = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) % SHARES;
    point < u32::from(percent) * (SHARES / 100)
}

impl Split {
    /// The candidate's rules when `cart`'s checkout falls in its share.
    pub fn rules_for(&self, cart: &Cart) -> Option<&SharedRuleSet> {
        checkout(cart)
            .filter(|name| in_share(&self.tenant, name, self.percent))
            .map(|_| &self.rules)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkout_always_meets_one_side_and_shares_are_near_their_percent() {
        for percent in [1u8, 10, 20, 50] {
            let taken = (0..20_000)
                .filter(|i| in_share("shop", &format!("order-{i}"), percent))
                .count();
            let share = taken as f64 / 20_000.0 * 100.0;
            assert!(
                (share - f64::from(percent)).abs() < 1.0,
                "{percent} %: {share:.2} %"
            );
        }
        for i in 0..100 {
            let name = format!("order-{i}");
            assert_eq!(in_share("shop", &name, 20), in_share("shop", &name, 20));
        }
        // Another tenant's share of the same names is another set.
        let differ = (0..1000)
            .filter(|i| {
                let name = format!("order-{i}");
                in_share("shop", &name, 50) != in_share("other", &name, 50)
            })
            .count();
        assert!(differ > 300, "{differ}");
    }
}
