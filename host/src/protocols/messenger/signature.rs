//! Delivery signatures (docs/PROTOCOLS.md §3.2): an HMAC of the raw body keyed with the
//! app secret, `X-Hub-Signature-256: sha256=<hex>` and the older
//! `X-Hub-Signature: sha1=<hex>`.
//!
//! The raw bytes are verified, never a re-serialisation. When the SHA-256 header is
//! present it alone decides, so a forged or stripped SHA-256 signature cannot be
//! downgraded to SHA-1. The comparison is constant-time (`Mac::verify_slice`).

use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;

/// The SHA-256 signature header.
pub const SHA256_HEADER: &str = "x-hub-signature-256";
/// The SHA-1 signature header.
pub const SHA1_HEADER: &str = "x-hub-signature";

/// Why a delivery's signature is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// Neither header came.
    #[error("the delivery carries neither X-Hub-Signature-256 nor X-Hub-Signature")]
    Missing,
    /// A header is not `<algorithm>=<hex digest>`.
    #[error("{header} is not `{prefix}=` followed by {digits} hex digits")]
    Malformed {
        /// The header's name.
        header: &'static str,
        /// `sha256` or `sha1`.
        prefix: &'static str,
        /// How many hex digits the digest has.
        digits: usize,
    },
    /// The digest is not the body's.
    #[error("{0} does not match the body and the app secret")]
    Mismatch(&'static str),
}

/// The signature headers of one delivery, as they arrived.
#[derive(Debug, Clone, Copy, Default)]
pub struct Signatures<'a> {
    /// `X-Hub-Signature-256`.
    pub sha256: Option<&'a str>,
    /// `X-Hub-Signature`.
    pub sha1: Option<&'a str>,
}

/// Checks `body` against the delivery's signature with `app_secret`.
pub fn verify(
    body: &[u8],
    signatures: Signatures<'_>,
    app_secret: &[u8],
) -> Result<(), SignatureError> {
    match (signatures.sha256, signatures.sha1) {
        (Some(header), _) => {
            let digest = digest(header, "X-Hub-Signature-256", "sha256", 32)?;
            let mut mac = Hmac::<Sha256>::new_from_slice(app_secret)
                .map_err(|_| SignatureError::Mismatch("X-Hub-Signature-256"))?;
            mac.update(body);
            mac.verify_slice(&digest)
                .map_err(|_| SignatureError::Mismatch("X-Hub-Signature-256"))
        }
        (None, Some(header)) => {
            let digest = digest(header, "X-Hub-Signature", "sha1", 20)?;
            let mut mac = Hmac::<Sha1>::new_from_slice(app_secret)
                .map_err(|_| SignatureError::Mismatch("X-Hub-Signature"))?;
            mac.update(body);
            mac.verify_slice(&digest)
                .map_err(|_| SignatureError::Mismatch("X-Hub-Signature"))
        }
        (None, None) => Err(SignatureError::Missing),
    }
}

/// The digest bytes of `<prefix>=<hex>`; the prefix is matched without regard to case.
fn digest(
    header_value: &str,
    header: &'static str,
    prefix: &'static str,
    bytes: usize,
) -> Result<Vec<u8>, SignatureError> {
    let malformed = SignatureError::Malformed {
        header,
        prefix,
        digits: bytes * 2,
    };
    let value = header_value.trim();
    let (algorithm, hex_digest) = value.split_once('=').ok_or(malformed.clone())?;
    if !algorithm.eq_ignore_ascii_case(prefix) || hex_digest.len() != bytes * 2 {
        return Err(malformed);
    }
    hex::decode(hex_digest).map_err(|_| malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha256_of(body: &[u8], secret: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    fn sha1_of(body: &[u8], secret: &[u8]) -> String {
        let mut mac = Hmac::<Sha1>::new_from_slice(secret).unwrap();
        mac.update(body);
        format!("sha1={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn known_vector() {
        // RFC 2202 test case 2 (HMAC-SHA1) and RFC 4231 test case 2 (HMAC-SHA256).
        let body = b"what do ya want for nothing?";
        let sha1 = "sha1=effcdf6ae5eb2fa2d27416d5f184df9c259a7c79";
        let sha256 = "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        let only = |sha256, sha1| Signatures { sha256, sha1 };
        assert_eq!(verify(body, only(None, Some(sha1)), b"Jefe"), Ok(()));
        assert_eq!(verify(body, only(Some(sha256), None), b"Jefe"), Ok(()));
        assert_eq!(
            verify(&body[1..], only(Some(sha256), None), b"Jefe"),
            Err(SignatureError::Mismatch("X-Hub-Signature-256"))
        );
    }

    #[test]
    fn sha256_decides_when_present() {
        let body = br#"{"object":"page","entry":[]}"#;
        let good1 = sha1_of(body, b"secret");
        let good256 = sha256_of(body, b"secret");
        let bad256 = sha256_of(body, b"other");
        let with = |sha256, sha1| Signatures { sha256, sha1 };
        assert!(verify(body, with(Some(&good256), Some(&good1)), b"secret").is_ok());
        // A bad SHA-256 is not rescued by a good SHA-1.
        assert_eq!(
            verify(body, with(Some(&bad256), Some(&good1)), b"secret"),
            Err(SignatureError::Mismatch("X-Hub-Signature-256"))
        );
        assert_eq!(
            verify(body, with(None, None), b"secret"),
            Err(SignatureError::Missing)
        );
        let upper = good256.replace("sha256=", "SHA256=").to_ascii_uppercase();
        assert!(verify(body, with(Some(&upper), None), b"secret").is_ok());
    }

    #[test]
    fn malformed_headers() {
        let body = b"{}";
        let good = sha256_of(body, b"secret");
        for header in [
            "",
            "sha256",
            "sha256=",
            "sha1=0123",
            &good[..good.len() - 1],
            &format!("{good}0"),
            &good.replace("sha256=", "sha512="),
            &format!("{}zz", &good[..good.len() - 2]),
        ] {
            let error = verify(
                body,
                Signatures {
                    sha256: Some(header),
                    sha1: None,
                },
                b"secret",
            )
            .unwrap_err();
            assert!(
                matches!(error, SignatureError::Malformed { .. }),
                "{header:?}: {error:?}"
            );
        }
    }
}
