//! Implements the rules world, but opens a network connection: it imports wasi:sockets.

use std::io::Write;

use rulegate_sdk::prelude::*;

pub struct ImportsSockets;

impl Rules for ImportsSockets {
    fn shipping_options(cart: &Cart) -> Result<Vec<ShippingOption>, RuleError> {
        let mut stream = std::net::TcpStream::connect("203.0.113.7:80")
            .map_err(|e| RuleError::CannotDecide(e.to_string()))?;
        stream
            .write_all(format!("{} lines\n", cart.lines.len()).as_bytes())
            .map_err(|e| RuleError::CannotDecide(e.to_string()))?;
        Ok(Vec::new())
    }
    fn tax(cart: &Cart) -> Result<TaxDecision, RuleError> {
        Ok(TaxDecision::uniform(cart, 0))
    }
}

rulegate_sdk::export!(ImportsSockets);
