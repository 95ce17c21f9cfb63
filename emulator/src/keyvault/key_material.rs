//! The RSA material behind a Key Vault key (aws-lc-rs): generation, the public modulus and
//! exponent a JsonWebKey shows, and RSA-OAEP wrapping of small values such as data keys.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{
    KeyPair, KeySize, OaepAlgorithm, OaepPrivateDecryptingKey, OaepPublicEncryptingKey,
    PrivateDecryptingKey, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256,
};
use aws_lc_rs::signature::KeyPair as _;

/// A new key pair: the private key (PKCS#8 DER, which stays in the cloud's data) and the
/// public modulus and exponent (big-endian, no leading zeros).
pub(super) struct Generated {
    pub pkcs8: Vec<u8>,
    pub n: Vec<u8>,
    pub e: Vec<u8>,
}

/// The RSA key sizes Key Vault creates.
pub(super) const KEY_SIZES: [u64; 3] = [2048, 3072, 4096];

/// Generate a key of `bits` (one of [`KEY_SIZES`]).
pub(super) fn generate(bits: u64) -> Result<Generated, String> {
    let size = match bits {
        2048 => KeySize::Rsa2048,
        3072 => KeySize::Rsa3072,
        4096 => KeySize::Rsa4096,
        _ => return Err(format!("unsupported RSA key size {bits}")),
    };
    let pair = KeyPair::generate(size).map_err(|_| "RSA key generation failed".to_string())?;
    let pkcs8 = pair
        .as_der()
        .map_err(|_| "cannot encode the RSA key".to_string())?
        .as_ref()
        .to_vec();
    let public: &[u8] = pair.public_key().as_ref();
    let (n, e) = public_components(public).ok_or("cannot read the RSA public key")?;
    Ok(Generated { pkcs8, n, e })
}

/// The wrap algorithms the local cloud's keys accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WrapAlgorithm {
    /// `RSA-OAEP`: OAEP with SHA-1 and MGF1-SHA-1.
    RsaOaep,
    /// `RSA-OAEP-256`: OAEP with SHA-256 and MGF1-SHA-256.
    RsaOaep256,
}

impl WrapAlgorithm {
    /// The algorithm Key Vault names `alg`; `None` for others.
    pub(super) fn parse(alg: &str) -> Option<WrapAlgorithm> {
        match alg {
            "RSA-OAEP" => Some(WrapAlgorithm::RsaOaep),
            "RSA-OAEP-256" => Some(WrapAlgorithm::RsaOaep256),
            _ => None,
        }
    }

    fn oaep(self) -> &'static OaepAlgorithm {
        match self {
            WrapAlgorithm::RsaOaep => &OAEP_SHA1_MGF1SHA1,
            WrapAlgorithm::RsaOaep256 => &OAEP_SHA256_MGF1SHA256,
        }
    }
}

fn private_key(pkcs8: &[u8]) -> Result<PrivateDecryptingKey, String> {
    PrivateDecryptingKey::from_pkcs8(pkcs8).map_err(|_| "the stored key is damaged".to_string())
}

/// Encrypt `plaintext` with the public half of the key.
pub(super) fn wrap(pkcs8: &[u8], alg: WrapAlgorithm, plaintext: &[u8]) -> Result<Vec<u8>, String> {
    let key = OaepPublicEncryptingKey::new(private_key(pkcs8)?.public_key())
        .map_err(|_| "the stored key cannot encrypt".to_string())?;
    let limit = key.max_plaintext_size(alg.oaep());
    if plaintext.is_empty() || plaintext.len() > limit {
        return Err(format!(
            "the value to wrap must be 1 to {limit} bytes for this key and algorithm"
        ));
    }
    let mut out = vec![0u8; key.ciphertext_size()];
    let written = key
        .encrypt(alg.oaep(), plaintext, &mut out, None)
        .map_err(|_| "encryption failed".to_string())?
        .len();
    out.truncate(written);
    Ok(out)
}

/// Decrypt `ciphertext` with the private half; an error when it was not wrapped by this key
/// with this algorithm.
pub(super) fn unwrap(
    pkcs8: &[u8],
    alg: WrapAlgorithm,
    ciphertext: &[u8],
) -> Result<Vec<u8>, String> {
    let key = OaepPrivateDecryptingKey::new(private_key(pkcs8)?)
        .map_err(|_| "the stored key cannot decrypt".to_string())?;
    let mut out = vec![0u8; key.min_output_size()];
    let written = key
        .decrypt(alg.oaep(), ciphertext, &mut out, None)
        .map_err(|_| "the value was not wrapped by this key with this algorithm".to_string())?
        .len();
    out.truncate(written);
    Ok(out)
}

/// `n` and `e` from an RFC 8017 `RSAPublicKey` (DER `SEQUENCE { INTEGER n, INTEGER e }`).
fn public_components(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (tag, body, _) = der_element(der)?;
    if tag != 0x30 {
        return None;
    }
    let (tag_n, n, rest) = der_element(body)?;
    let (tag_e, e, _) = der_element(rest)?;
    if tag_n != 0x02 || tag_e != 0x02 {
        return None;
    }
    Some((unsigned(n), unsigned(e)))
}

/// One DER element: (tag, contents, what follows).
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[count..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// A DER INTEGER's magnitude without the sign padding (JsonWebKey's unsigned big-endian form).
fn unsigned(integer: &[u8]) -> Vec<u8> {
    let start = integer
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(integer.len().saturating_sub(1));
    integer[start..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_wrap_and_unwrap_with_both_algorithms() {
        let key = generate(2048).expect("generate");
        assert_eq!(key.n.len(), 256, "a 2048-bit modulus");
        assert_eq!(key.e, vec![1, 0, 1], "e = 65537");
        let data_key = [7u8; 32];
        for alg in [WrapAlgorithm::RsaOaep, WrapAlgorithm::RsaOaep256] {
            let wrapped = wrap(&key.pkcs8, alg, &data_key).expect("wrap");
            assert_eq!(wrapped.len(), 256);
            assert_eq!(unwrap(&key.pkcs8, alg, &wrapped).expect("unwrap"), data_key);
        }
        let wrapped = wrap(&key.pkcs8, WrapAlgorithm::RsaOaep256, &data_key).expect("wrap");
        assert!(unwrap(&key.pkcs8, WrapAlgorithm::RsaOaep, &wrapped).is_err());
        let other = generate(2048).expect("generate");
        assert!(unwrap(&other.pkcs8, WrapAlgorithm::RsaOaep256, &wrapped).is_err());
        assert!(wrap(&key.pkcs8, WrapAlgorithm::RsaOaep256, &[0u8; 300]).is_err());
        assert!(generate(1024).is_err());
    }

    #[test]
    fn reads_public_components_and_rejects_garbage() {
        // SEQUENCE { INTEGER 0x00c1, INTEGER 0x03 }
        let der = [0x30, 0x07, 0x02, 0x02, 0x00, 0xc1, 0x02, 0x01, 0x03];
        assert_eq!(public_components(&der), Some((vec![0xc1], vec![0x03])));
        assert_eq!(public_components(&der[..5]), None);
        assert_eq!(public_components(&[0x31, 0x00]), None);
    }
}
