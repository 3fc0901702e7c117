//! Klix's signatures (docs/PROTOCOLS.md §2):
//!
//! - gen 1: compact JWS, RS256 only. `none`, HS*, every other algorithm, a bad
//!   signature, and a tampered header or payload are refused.
//! - gen 2: `X-Klix-Signature`, base64 of RSA-SHA256 (PKCS#1 v1.5) over the raw body.
//!
//! Keys of any RSA size (Klix's public test certificate is 512-bit) up to 8192 bits,
//! from an X.509 certificate, a `PUBLIC KEY` or an `RSA PUBLIC KEY` PEM. Keys of 2048
//! bits and more (every production key) are checked with `ring`, whose verification
//! is several times faster than the RustCrypto `rsa` crate's: on a Klix callback,
//! that check was most of the server's work. Smaller keys, which `ring` refuses, use
//! `rsa`, which also signs what the host sends to the merchant API.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rsa::RsaPrivateKey;
use rsa::RsaPublicKey;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::traits::PublicKeyParts;
use serde_json::Value;
use sha2::Sha256;
use x509_cert::Certificate;
use x509_cert::der::{DecodePem, Encode};

/// The largest key accepted, in bits.
const MAX_KEY_BITS: usize = 8192;

/// The smallest key `ring` verifies with, in bits. Like `ring`, the check counts the
/// modulus in whole bytes, so a 2047-bit key is on this side too.
const RING_MIN_KEY_BITS: usize = 2048;

/// Why a signature was refused. The message is safe to send back: it says what is
/// wrong, never anything about the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SignatureError(pub String);

fn refuse(message: impl Into<String>) -> SignatureError {
    SignatureError(message.into())
}

/// The provider's public key, which verifies what Klix sends.
#[derive(Debug, Clone)]
pub struct ProviderKey(KeyCheck);

/// RSA-SHA256 (PKCS#1 v1.5) verification with one key.
#[derive(Debug, Clone)]
enum KeyCheck {
    /// Keys of [`RING_MIN_KEY_BITS`] and more: the modulus and exponent, big-endian.
    Ring(ring::signature::RsaPublicKeyComponents<Vec<u8>>),
    /// Smaller keys.
    RustCrypto(VerifyingKey<Sha256>),
}

impl ProviderKey {
    /// Reads an X.509 certificate, a `PUBLIC KEY` or an `RSA PUBLIC KEY` in PEM.
    pub fn from_pem(pem: &str) -> anyhow::Result<ProviderKey> {
        let key = if pem.contains("BEGIN CERTIFICATE") {
            let certificate = Certificate::from_pem(pem.as_bytes())
                .map_err(|error| anyhow::anyhow!("not a readable X.509 certificate: {error}"))?;
            let spki = certificate
                .tbs_certificate
                .subject_public_key_info
                .to_der()
                .map_err(|error| anyhow::anyhow!("the certificate's key: {error}"))?;
            RsaPublicKey::from_public_key_der(&spki)
                .map_err(|error| anyhow::anyhow!("the certificate's key is not RSA: {error}"))?
        } else if pem.contains("BEGIN RSA PUBLIC KEY") {
            RsaPublicKey::from_pkcs1_pem(pem)
                .map_err(|error| anyhow::anyhow!("not a readable RSA public key: {error}"))?
        } else {
            RsaPublicKey::from_public_key_pem(pem)
                .map_err(|error| anyhow::anyhow!("not a readable public key: {error}"))?
        };
        anyhow::ensure!(
            key.size() * 8 <= MAX_KEY_BITS,
            "the key has {} bits (at most {MAX_KEY_BITS})",
            key.size() * 8
        );
        let verifier = if key.size() * 8 >= RING_MIN_KEY_BITS {
            KeyCheck::Ring(ring::signature::RsaPublicKeyComponents {
                n: key.n().to_bytes_be(),
                e: key.e().to_bytes_be(),
            })
        } else {
            KeyCheck::RustCrypto(VerifyingKey::new(key))
        };
        Ok(ProviderKey(verifier))
    }

    /// Verifies a compact JWS and returns its payload as JSON.
    pub fn verify_jws(&self, token: &[u8]) -> Result<Value, SignatureError> {
        let token = std::str::from_utf8(token)
            .map_err(|_| refuse("the body is not a compact JWS (not UTF-8)"))?
            .trim();
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(refuse(
                "the body is not a compact JWS (header.payload.signature)",
            ));
        };
        let header_json: Value = decode_json(header, "header")?;
        match header_json.get("alg").and_then(Value::as_str) {
            Some("RS256") => {}
            Some(alg) => {
                return Err(refuse(format!(
                    "JWS algorithm {alg:?} is not accepted (only RS256)"
                )));
            }
            None => return Err(refuse("the JWS header has no algorithm")),
        }
        if header_json.get("crit").is_some() {
            return Err(refuse("the JWS header has critical extensions"));
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| refuse("the JWS signature is not base64url"))?;
        let signing_input = &token[..header.len() + 1 + payload.len()];
        self.verify(signing_input.as_bytes(), &signature)?;
        decode_json(payload, "payload")
    }

    /// Verifies `X-Klix-Signature` (standard base64) over the raw body.
    pub fn verify_detached(&self, body: &[u8], header: &str) -> Result<(), SignatureError> {
        let signature = STANDARD
            .decode(header.trim())
            .map_err(|_| refuse("X-Klix-Signature is not base64"))?;
        self.verify(body, &signature)
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        let verified = match &self.0 {
            KeyCheck::Ring(key) => key
                .verify(
                    &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                    message,
                    signature,
                )
                .is_ok(),
            KeyCheck::RustCrypto(key) => Signature::try_from(signature)
                .is_ok_and(|signature| key.verify(message, &signature).is_ok()),
        };
        if verified {
            Ok(())
        } else {
            Err(refuse("the signature does not verify"))
        }
    }
}

fn decode_json(part: &str, what: &str) -> Result<Value, SignatureError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| refuse(format!("the JWS {what} is not base64url")))?;
    serde_json::from_slice(&bytes).map_err(|_| refuse(format!("the JWS {what} is not JSON")))
}

/// The merchant's private key, which signs what the host sends to the Klix API.
#[derive(Clone)]
pub struct MerchantKey {
    key: SigningKey<Sha256>,
    /// The same key for `ring`, when its size is one `ring` signs with (2048 to 4096
    /// bits): a signature there takes a fraction of the CPU time, which is time the
    /// callback's thread serves no one else. PKCS#1 v1.5 signatures are deterministic,
    /// so both give the same bytes.
    fast: Option<Arc<ring::signature::RsaKeyPair>>,
    key_id: String,
}

impl std::fmt::Debug for MerchantKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MerchantKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl MerchantKey {
    /// Reads a `PRIVATE KEY` (PKCS#8) or `RSA PRIVATE KEY` (PKCS#1) PEM; `key_id` is the
    /// merchant certificate's id, sent as the JWS `kid`.
    pub fn from_pem(pem: &str, key_id: &str) -> anyhow::Result<MerchantKey> {
        let key = if pem.contains("BEGIN RSA PRIVATE KEY") {
            RsaPrivateKey::from_pkcs1_pem(pem).ok()
        } else {
            RsaPrivateKey::from_pkcs8_pem(pem).ok()
        }
        .ok_or_else(|| anyhow::anyhow!("not a readable RSA private key (PKCS#8 or PKCS#1 PEM)"))?;
        let fast = key
            .to_pkcs8_der()
            .ok()
            .and_then(|der| ring::signature::RsaKeyPair::from_pkcs8(der.as_bytes()).ok())
            .map(Arc::new);
        Ok(MerchantKey {
            key: SigningKey::new(key),
            fast,
            key_id: key_id.to_string(),
        })
    }

    /// An RSA-SHA256 (PKCS#1 v1.5) signature of `message`.
    fn signature(&self, message: &[u8]) -> Vec<u8> {
        if let Some(key) = &self.fast {
            let mut signature = vec![0; key.public().modulus_len()];
            let signed = key.sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                message,
                &mut signature,
            );
            if signed.is_ok() {
                return signature;
            }
        }
        self.key.sign(message).to_vec()
    }

    /// A compact JWS (RS256, `typ` JWT, `kid`) over `payload`.
    pub fn sign(&self, payload: &[u8]) -> String {
        let header = serde_json::json!({ "typ": "JWT", "alg": "RS256", "kid": self.key_id });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let signature = self.signature(signing_input.as_bytes());
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/klix");

    fn merchant_key() -> MerchantKey {
        let pem = std::fs::read_to_string(format!("{FIXTURES}/test_merchant_private_key.pem"))
            .expect("the test merchant key");
        MerchantKey::from_pem(&pem, "kid").unwrap()
    }

    #[test]
    fn both_signers_give_the_same_signature() {
        let key = merchant_key();
        assert!(key.fast.is_some(), "a 2048-bit key is signed with ring");
        let message = b"eyJhbGciOiJSUzI1NiJ9.eyJvcmRlcklkIjoiMSJ9";
        let fast = key.signature(message);
        assert_eq!(fast, key.key.sign(message).to_vec());
        let public = std::fs::read_to_string(format!("{FIXTURES}/test_merchant_public_key.pem"))
            .expect("the test merchant public key");
        let provider = ProviderKey::from_pem(&public).unwrap();
        provider.verify(message, &fast).unwrap();
        assert!(provider.verify(b"another message", &fast).is_err());
    }
}
