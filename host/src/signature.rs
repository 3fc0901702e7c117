//! Who built a module: Ed25519 signatures over a module's version, so an operator can
//! prove which merchant's key released the code a tenant runs.
//!
//! What is signed is the domain-separated message `rulegate module signature v1\n`
//! followed by the module's version (`sha256:<hex>` of its bytes), never the bytes
//! themselves: a signature names exactly one module and cannot be replayed as a
//! signature of anything else. A key is named by its public half,
//! `ed25519:<base64 of the 32 bytes>`, which is also its id in a `.sig` file.
//!
//! The `.sig` file is JSON: `{"format": "rulegate-signature/1", "version":
//! "sha256:…", "signatures": [{"key": "ed25519:…", "signature": "<base64>"}]}`, one
//! entry per signer, so a release that needs two people carries both in one file.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::Context;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SystemRandom;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

/// The prefix of a public key's text form.
pub const KEY_PREFIX: &str = "ed25519:";

/// What every signed message starts with, so no other Ed25519 use of the key can
/// produce a module signature.
const DOMAIN: &[u8] = b"rulegate module signature v1\n";

/// The `format` of a `.sig` file.
pub const FORMAT: &str = "rulegate-signature/1";

/// The PEM label of a private key file (PKCS#8).
const PEM_LABEL: &str = "PRIVATE KEY";

/// A signer's public key, also its id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey([u8; 32]);

/// Why a key, key file or `.sig` file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// Not `ed25519:<base64 of 32 bytes>`.
    #[error("`{0}` is not a public key: expected ed25519:<base64 of 32 bytes>")]
    PublicKey(String),
    /// Not a PEM PKCS#8 Ed25519 private key.
    #[error("not an Ed25519 private key in PEM (PKCS#8): {0}")]
    PrivateKey(String),
    /// Not a `.sig` document of this format.
    #[error("not a rulegate signature file: {0}")]
    Signatures(String),
}

impl FromStr for PublicKey {
    type Err = FormatError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let refuse = || FormatError::PublicKey(text.chars().take(80).collect());
        let encoded = text.strip_prefix(KEY_PREFIX).ok_or_else(refuse)?;
        let bytes = STANDARD.decode(encoded).map_err(|_| refuse())?;
        Ok(PublicKey(bytes.try_into().map_err(|_| refuse())?))
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{KEY_PREFIX}{}", STANDARD.encode(self.0))
    }
}

impl Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The message a signature of `version` covers.
fn message(version: &str) -> Vec<u8> {
    [DOMAIN, version.as_bytes()].concat()
}

/// A private key that signs module versions.
pub struct SigningKey {
    pair: Ed25519KeyPair,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the private half.
        f.debug_struct("SigningKey")
            .field("public", &self.public_key().to_string())
            .finish()
    }
}

impl SigningKey {
    /// A new key from the system's random source, and its PEM (PKCS#8) text.
    pub fn generate() -> anyhow::Result<(SigningKey, String)> {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| anyhow::anyhow!("the system's random source failed"))?;
        let pem =
            pem_rfc7468::encode_string(PEM_LABEL, pem_rfc7468::LineEnding::LF, pkcs8.as_ref())
                .map_err(|error| anyhow::anyhow!("encoding the key: {error}"))?;
        Ok((SigningKey::from_pem(&pem)?, pem))
    }

    /// The key in a PEM file written by [`SigningKey::generate`].
    pub fn from_pem(pem: &str) -> Result<SigningKey, FormatError> {
        let (label, der) = pem_rfc7468::decode_vec(pem.trim().as_bytes())
            .map_err(|error| FormatError::PrivateKey(error.to_string()))?;
        if label != PEM_LABEL {
            return Err(FormatError::PrivateKey(format!(
                "the PEM label is `{label}`, not `{PEM_LABEL}`"
            )));
        }
        let pair = Ed25519KeyPair::from_pkcs8(&der)
            .map_err(|error| FormatError::PrivateKey(error.to_string()))?;
        Ok(SigningKey { pair })
    }

    /// The public half: what a tenant lists in `signers`.
    pub fn public_key(&self) -> PublicKey {
        let bytes: [u8; 32] = self
            .pair
            .public_key()
            .as_ref()
            .try_into()
            .expect("an Ed25519 public key is 32 bytes");
        PublicKey(bytes)
    }

    /// This key's signature of the module whose version is `version`.
    pub fn sign(&self, version: &str) -> Signature {
        Signature {
            key: self.public_key(),
            signature: STANDARD.encode(self.pair.sign(&message(version)).as_ref()),
        }
    }
}

/// One signer's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// Who signed.
    pub key: PublicKey,
    /// The Ed25519 signature of the message, base64.
    pub signature: String,
}

impl Signature {
    /// Whether this is `key`'s valid signature of `version`.
    pub fn verifies(&self, version: &str) -> bool {
        let Ok(signature) = STANDARD.decode(&self.signature) else {
            return false;
        };
        UnparsedPublicKey::new(&ED25519, self.key.0)
            .verify(&message(version), &signature)
            .is_ok()
    }
}

/// A `.sig` file: the version it signs and one signature per signer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signatures {
    /// Always [`FORMAT`].
    pub format: String,
    /// The version signed, `sha256:<hex>`.
    pub version: String,
    /// The signatures, at most one per key.
    pub signatures: Vec<Signature>,
}

impl Signatures {
    /// No signatures yet of `version`.
    pub fn of(version: &str) -> Signatures {
        Signatures {
            format: FORMAT.into(),
            version: version.into(),
            signatures: Vec::new(),
        }
    }

    /// Reads a `.sig` file's bytes.
    pub fn parse(bytes: &[u8]) -> Result<Signatures, FormatError> {
        let signatures: Signatures = serde_json::from_slice(bytes)
            .map_err(|error| FormatError::Signatures(error.to_string()))?;
        if signatures.format != FORMAT {
            return Err(FormatError::Signatures(format!(
                "format `{}`, expected `{FORMAT}`",
                signatures.format.chars().take(40).collect::<String>()
            )));
        }
        Ok(signatures)
    }

    /// Reads the `.sig` file at `path`: `None` when there is none.
    pub fn read(path: &Path) -> anyhow::Result<Option<Signatures>> {
        match std::fs::read(path) {
            Ok(bytes) => Signatures::parse(&bytes)
                .map(Some)
                .with_context(|| format!("reading {}", path.display())),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("signatures serialize");
        bytes.push(b'\n');
        bytes
    }

    /// Adds `signature`, replacing an earlier one by the same key.
    pub fn add(&mut self, signature: Signature) {
        self.signatures.retain(|old| old.key != signature.key);
        self.signatures.push(signature);
    }

    /// Only the signatures that verify for the version: what a store keeps, so a
    /// stored bad signature can never stand in the way of a later good one.
    pub fn verified(mut self) -> Signatures {
        let version = self.version.clone();
        self.signatures
            .retain(|signature| signature.verifies(&version));
        self
    }
}

/// The `.sig` file of a module file: its path with `.sig` appended.
pub fn beside(module: &Path) -> PathBuf {
    let mut path = module.as_os_str().to_owned();
    path.push(".sig");
    PathBuf::from(path)
}

/// A tenant's rule for who must have signed a module: keys it trusts, and how many of
/// them must have signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signers {
    keys: Vec<PublicKey>,
    minimum: usize,
}

/// Why a module's signatures do not satisfy its tenant's [`Signers`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The module came without signatures.
    #[error("no signature: the tenant accepts only modules signed by its signers")]
    NoSignature,
    /// The signatures are of another module (or the module was changed after signing).
    #[error("bad signature: the signatures are of {signed}, not of this module ({module})")]
    OtherModule {
        /// The version the signatures name.
        signed: String,
        /// This module's version.
        module: String,
    },
    /// A listed signer's signature does not verify.
    #[error("bad signature: the signature by {0} does not verify for this module")]
    BadSignature(PublicKey),
    /// Only keys the tenant does not list signed.
    #[error("unknown key: {0} is not one of the tenant's signers")]
    UnknownKey(PublicKey),
    /// Fewer of the tenant's signers signed than it requires.
    #[error(
        "too few signatures: {valid} valid of the {required} required from the tenant's signers"
    )]
    TooFew {
        /// Valid signatures from listed keys.
        valid: usize,
        /// How many the tenant requires.
        required: usize,
    },
}

impl Refusal {
    /// The reason's short name, for a JSON answer and a metric label.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::NoSignature => "no_signature",
            Refusal::OtherModule { .. } | Refusal::BadSignature(_) => "bad_signature",
            Refusal::UnknownKey(_) => "unknown_key",
            Refusal::TooFew { .. } => "too_few_signatures",
        }
    }
}

impl Signers {
    /// `minimum` of `keys` must sign: at least one, at most as many as are listed.
    pub fn new(keys: Vec<PublicKey>, minimum: usize) -> Result<Signers, String> {
        if keys.is_empty() {
            return Err("signers lists no key".into());
        }
        if minimum == 0 || minimum > keys.len() {
            return Err(format!(
                "minimum_signatures is {minimum}; it must be between 1 and the {} signers listed",
                keys.len()
            ));
        }
        Ok(Signers { keys, minimum })
    }

    /// The keys trusted.
    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// How many of them must have signed.
    pub fn minimum(&self) -> usize {
        self.minimum
    }

    /// The listed signers who validly signed `version`, or why they are not enough.
    pub fn check(
        &self,
        version: &str,
        signatures: Option<&Signatures>,
    ) -> Result<Vec<PublicKey>, Refusal> {
        let signatures = signatures
            .filter(|file| !file.signatures.is_empty())
            .ok_or(Refusal::NoSignature)?;
        if signatures.version != version {
            return Err(Refusal::OtherModule {
                signed: signatures.version.chars().take(80).collect(),
                module: version.into(),
            });
        }
        let (mut valid, mut bad, mut unknown) = (Vec::new(), None, None);
        for signature in &signatures.signatures {
            if !self.keys.contains(&signature.key) {
                unknown.get_or_insert_with(|| signature.key.clone());
            } else if signature.verifies(version) {
                if !valid.contains(&signature.key) {
                    valid.push(signature.key.clone());
                }
            } else {
                bad.get_or_insert_with(|| signature.key.clone());
            }
        }
        if valid.len() >= self.minimum {
            return Ok(valid);
        }
        Err(match (bad, unknown) {
            (Some(key), _) => Refusal::BadSignature(key),
            (None, Some(key)) if valid.is_empty() => Refusal::UnknownKey(key),
            _ => Refusal::TooFew {
                valid: valid.len(),
                required: self.minimum,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERSION: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000001";
    const OTHER: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000002";

    fn key() -> SigningKey {
        SigningKey::generate().unwrap().0
    }

    #[test]
    fn a_key_round_trips_through_its_pem_and_its_public_text() {
        let (key, pem) = SigningKey::generate().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let again = SigningKey::from_pem(&pem).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        let text = key.public_key().to_string();
        assert!(text.starts_with(KEY_PREFIX));
        assert_eq!(text.parse::<PublicKey>().unwrap(), key.public_key());
        assert!(!format!("{key:?}").contains(&pem[30..60]));
        for bad in ["", "ed25519:", "ed25519:AAAA", "rsa:AAAA", &text[8..]] {
            assert!(bad.parse::<PublicKey>().is_err(), "{bad}");
        }
        assert!(
            SigningKey::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----")
                .is_err()
        );
    }

    #[test]
    fn signatures_are_checked_against_the_tenants_signers() {
        let (alice, bob, mallory) = (key(), key(), key());
        let one = Signers::new(vec![alice.public_key(), bob.public_key()], 1).unwrap();
        let two = Signers::new(vec![alice.public_key(), bob.public_key()], 2).unwrap();
        let signed = |keys: &[&SigningKey], version: &str| {
            let mut file = Signatures::of(version);
            for key in keys {
                file.add(key.sign(version));
            }
            Signatures::parse(&file.to_bytes()).unwrap()
        };

        assert_eq!(
            one.check(VERSION, Some(&signed(&[&alice], VERSION))),
            Ok(vec![alice.public_key()])
        );
        assert_eq!(one.check(VERSION, None), Err(Refusal::NoSignature));
        assert_eq!(
            one.check(VERSION, Some(&Signatures::of(VERSION))),
            Err(Refusal::NoSignature)
        );
        assert_eq!(
            one.check(VERSION, Some(&signed(&[&mallory], VERSION))),
            Err(Refusal::UnknownKey(mallory.public_key()))
        );
        assert!(matches!(
            one.check(VERSION, Some(&signed(&[&alice], OTHER))),
            Err(Refusal::OtherModule { .. })
        ));
        // A signature of another version, relabelled as this one's.
        let mut relabelled = signed(&[&alice], OTHER);
        relabelled.version = VERSION.into();
        assert_eq!(
            one.check(VERSION, Some(&relabelled)),
            Err(Refusal::BadSignature(alice.public_key()))
        );
        let mut tampered = signed(&[&alice], VERSION);
        tampered.signatures[0].signature = STANDARD.encode([7u8; 64]);
        assert_eq!(
            one.check(VERSION, Some(&tampered)),
            Err(Refusal::BadSignature(alice.public_key()))
        );
        assert_eq!(
            two.check(VERSION, Some(&signed(&[&alice, &mallory], VERSION))),
            Err(Refusal::TooFew {
                valid: 1,
                required: 2
            })
        );
        // The same signer twice is one signature.
        let mut twice = signed(&[&alice], VERSION);
        twice.signatures.push(alice.sign(VERSION));
        assert!(two.check(VERSION, Some(&twice)).is_err());
        let both = two
            .check(VERSION, Some(&signed(&[&bob, &alice], VERSION)))
            .unwrap();
        assert_eq!(both.len(), 2);
    }

    #[test]
    fn a_signature_file_is_strict() {
        let alice = key();
        let mut file = Signatures::of(VERSION);
        file.add(alice.sign(VERSION));
        file.add(alice.sign(VERSION));
        assert_eq!(file.signatures.len(), 1, "one signature per key");
        let text = String::from_utf8(file.to_bytes()).unwrap();
        assert!(Signatures::parse(text.as_bytes()).is_ok());
        for bad in [
            text.replace(FORMAT, "rulegate-signature/9"),
            text.replace("\"version\"", "\"versions\""),
            text.replace(KEY_PREFIX, "rsa:"),
            "[]".into(),
            "".into(),
        ] {
            assert!(Signatures::parse(bad.as_bytes()).is_err(), "{bad}");
        }
        assert!(Signers::new(vec![], 1).is_err());
        assert!(Signers::new(vec![alice.public_key()], 0).is_err());
        assert!(Signers::new(vec![alice.public_key()], 2).is_err());
    }
}
