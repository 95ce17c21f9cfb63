//! Key algorithms, key generation and loading keys from PEM.

use mesh_engine::provider::ProviderError;
use rcgen::{KeyPair, RsaKeySize, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PKCS_RSA_SHA256};

/// The key types a certificate of this provider may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// RSA, 2048 bits.
    Rsa2048,
    /// RSA, 3072 bits.
    Rsa3072,
    /// RSA, 4096 bits (what Istio's Makefile generates).
    Rsa4096,
    /// ECDSA on NIST P-256.
    EcdsaP256,
    /// ECDSA on NIST P-384.
    EcdsaP384,
}

impl KeyAlgorithm {
    /// Every algorithm, in the order the docs list them.
    pub const ALL: [KeyAlgorithm; 5] = [
        KeyAlgorithm::Rsa2048,
        KeyAlgorithm::Rsa3072,
        KeyAlgorithm::Rsa4096,
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::EcdsaP384,
    ];

    /// The names users write, in the order of [`KeyAlgorithm::ALL`].
    pub const NAMES: [&'static str; 5] = [
        "RSA_2048",
        "RSA_3072",
        "RSA_4096",
        "ECDSA_P256",
        "ECDSA_P384",
    ];

    /// The name users write (`RSA_4096`, `ECDSA_P256`...).
    pub fn name(self) -> &'static str {
        match self {
            KeyAlgorithm::Rsa2048 => "RSA_2048",
            KeyAlgorithm::Rsa3072 => "RSA_3072",
            KeyAlgorithm::Rsa4096 => "RSA_4096",
            KeyAlgorithm::EcdsaP256 => "ECDSA_P256",
            KeyAlgorithm::EcdsaP384 => "ECDSA_P384",
        }
    }

    /// The algorithm of a name, if it is one.
    pub fn parse(name: &str) -> Option<KeyAlgorithm> {
        KeyAlgorithm::ALL.into_iter().find(|a| a.name() == name)
    }

    /// True for RSA keys, which may also encipher keys (the keyEncipherment usage).
    pub fn is_rsa(self) -> bool {
        matches!(
            self,
            KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096
        )
    }

    /// Generate a fresh key. RSA keys are slow to make (seconds for 4096 bits): call this
    /// off the async runtime.
    pub(crate) fn generate(self) -> Result<KeyPair, ProviderError> {
        let generated = match self {
            KeyAlgorithm::Rsa2048 => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048),
            KeyAlgorithm::Rsa3072 => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_3072),
            KeyAlgorithm::Rsa4096 => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_4096),
            KeyAlgorithm::EcdsaP256 => KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256),
            KeyAlgorithm::EcdsaP384 => KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384),
        };
        generated.map_err(|e| {
            ProviderError::new(format!("could not generate a {} key: {e}", self.name()))
        })
    }
}

/// Load a private key from PEM (PKCS#8, PKCS#1 or SEC1). The message of the error never
/// quotes the text, which is secret.
pub(crate) fn load_key(pem_text: &str) -> Result<KeyPair, String> {
    KeyPair::from_pem(pem_text).map_err(|_| {
        "is not a PEM private key (expected a PKCS#8 \"PRIVATE KEY\", \"RSA PRIVATE KEY\" or \
         \"EC PRIVATE KEY\" block)"
            .to_string()
    })
}
