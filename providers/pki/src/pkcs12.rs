//! PKCS#12 (RFC 7292) export: a private key and its certificate chain in one password-protected
//! file, as `az keyvault certificate import` and Application Gateway take it.
//!
//! The layout is what OpenSSL 3 writes by default, except that certificates are not encrypted
//! (they are public): the key in a pkcs8ShroudedKeyBag encrypted with PBES2 (PBKDF2 with
//! HMAC-SHA256, AES-256-CBC), the certificates in plain certBags, and an HMAC-SHA256 MAC over
//! the contents keyed by the PKCS#12 key derivation.

use std::num::NonZeroU32;

use aws_lc_rs::cipher::{EncryptionContext, PaddedBlockEncryptingKey, UnboundCipherKey, AES_256};
use aws_lc_rs::{digest, hmac, pbkdf2};
use yasna::models::ObjectIdentifier;
use yasna::{DERWriter, Tag};

/// Iterations of PBKDF2 and of the MAC key derivation (OpenSSL 3's default).
const ITERATIONS: u32 = 2048;
const SALT_LEN: usize = 16;

const OID_DATA: &[u64] = &[1, 2, 840, 113549, 1, 7, 1];
const OID_SHROUDED_KEY_BAG: &[u64] = &[1, 2, 840, 113549, 1, 12, 10, 1, 2];
const OID_CERT_BAG: &[u64] = &[1, 2, 840, 113549, 1, 12, 10, 1, 3];
const OID_X509_CERTIFICATE: &[u64] = &[1, 2, 840, 113549, 1, 9, 22, 1];
const OID_LOCAL_KEY_ID: &[u64] = &[1, 2, 840, 113549, 1, 9, 21];
const OID_PBES2: &[u64] = &[1, 2, 840, 113549, 1, 5, 13];
const OID_PBKDF2: &[u64] = &[1, 2, 840, 113549, 1, 5, 12];
const OID_HMAC_SHA256: &[u64] = &[1, 2, 840, 113549, 2, 9];
const OID_AES256_CBC: &[u64] = &[2, 16, 840, 1, 101, 3, 4, 1, 42];
const OID_SHA256: &[u64] = &[2, 16, 840, 1, 101, 3, 4, 2, 1];

/// The export failed (only the system's random source or cipher setup can fail).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("could not build the PKCS#12 bundle: {0}")]
pub struct Pkcs12Error(&'static str);

/// Bundle `key_pkcs8` (DER) with `chain` (DER certificates, the key's own first) under
/// `password` (empty for none).
pub fn export(key_pkcs8: &[u8], chain: &[Vec<u8>], password: &str) -> Result<Vec<u8>, Pkcs12Error> {
    let key_id = chain
        .first()
        .map(|cert| digest::digest(&digest::SHA256, cert).as_ref().to_vec())
        .unwrap_or_default();
    let shrouded_key = encrypt_key(key_pkcs8, password)?;
    let key_bags = yasna::construct_der(|w| {
        w.write_sequence_of(|w| {
            write_bag(w.next(), OID_SHROUDED_KEY_BAG, &shrouded_key, Some(&key_id));
        })
    });
    let cert_bags = yasna::construct_der(|w| {
        w.write_sequence_of(|w| {
            for (i, cert) in chain.iter().enumerate() {
                let bag = cert_bag(cert);
                let id = (i == 0).then_some(key_id.as_slice());
                write_bag(w.next(), OID_CERT_BAG, &bag, id);
            }
        })
    });
    let auth_safe = yasna::construct_der(|w| {
        w.write_sequence_of(|w| {
            write_data_content_info(w.next(), &cert_bags);
            write_data_content_info(w.next(), &key_bags);
        })
    });
    let mac_salt = random::<SALT_LEN>()?;
    let mac = mac_sha256(&auth_safe, password, &mac_salt);
    Ok(yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_u8(3);
            write_data_content_info(w.next(), &auth_safe);
            w.next().write_sequence(|w| {
                w.next().write_sequence(|w| {
                    write_algorithm(w.next(), OID_SHA256);
                    w.next().write_bytes(&mac);
                });
                w.next().write_bytes(&mac_salt);
                w.next().write_u32(ITERATIONS);
            });
        })
    }))
}

fn oid(components: &[u64]) -> ObjectIdentifier {
    ObjectIdentifier::from_slice(components)
}

/// An AlgorithmIdentifier with NULL parameters.
fn write_algorithm(w: DERWriter, algorithm: &[u64]) {
    w.write_sequence(|w| {
        w.next().write_oid(&oid(algorithm));
        w.next().write_null();
    });
}

/// ContentInfo of type data holding `content`.
fn write_data_content_info(w: DERWriter, content: &[u8]) {
    w.write_sequence(|w| {
        w.next().write_oid(&oid(OID_DATA));
        w.next()
            .write_tagged(Tag::context(0), |w| w.write_bytes(content));
    });
}

/// A SafeBag whose value is the DER `value`, with a localKeyId attribute when given.
fn write_bag(w: DERWriter, bag_type: &[u64], value: &[u8], local_key_id: Option<&[u8]>) {
    w.write_sequence(|w| {
        w.next().write_oid(&oid(bag_type));
        w.next()
            .write_tagged(Tag::context(0), |w| w.write_der(value));
        if let Some(id) = local_key_id {
            w.next().write_set_of(|w| {
                w.next().write_sequence(|w| {
                    w.next().write_oid(&oid(OID_LOCAL_KEY_ID));
                    w.next().write_set_of(|w| w.next().write_bytes(id));
                });
            });
        }
    });
}

fn cert_bag(cert_der: &[u8]) -> Vec<u8> {
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_oid(&oid(OID_X509_CERTIFICATE));
            w.next()
                .write_tagged(Tag::context(0), |w| w.write_bytes(cert_der));
        })
    })
}

fn random<const N: usize>() -> Result<[u8; N], Pkcs12Error> {
    let mut bytes = [0u8; N];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| Pkcs12Error("no random bytes"))?;
    Ok(bytes)
}

fn iterations() -> NonZeroU32 {
    NonZeroU32::new(ITERATIONS).unwrap_or(NonZeroU32::MIN)
}

/// EncryptedPrivateKeyInfo: PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC.
fn encrypt_key(key_pkcs8: &[u8], password: &str) -> Result<Vec<u8>, Pkcs12Error> {
    let salt = random::<SALT_LEN>()?;
    let iv = random::<16>()?;
    let mut aes_key = [0u8; 32];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iterations(),
        &salt,
        password.as_bytes(),
        &mut aes_key,
    );
    let cipher_key =
        UnboundCipherKey::new(&AES_256, &aes_key).map_err(|_| Pkcs12Error("bad AES key"))?;
    let cipher = PaddedBlockEncryptingKey::cbc_pkcs7(cipher_key)
        .map_err(|_| Pkcs12Error("no AES-CBC cipher"))?;
    let mut encrypted = key_pkcs8.to_vec();
    cipher
        .less_safe_encrypt(&mut encrypted, EncryptionContext::Iv128(iv.into()))
        .map_err(|_| Pkcs12Error("AES-CBC encryption failed"))?;
    Ok(yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_sequence(|w| {
                w.next().write_oid(&oid(OID_PBES2));
                w.next().write_sequence(|w| {
                    w.next().write_sequence(|w| {
                        w.next().write_oid(&oid(OID_PBKDF2));
                        w.next().write_sequence(|w| {
                            w.next().write_bytes(&salt);
                            w.next().write_u32(ITERATIONS);
                            write_algorithm(w.next(), OID_HMAC_SHA256);
                        });
                    });
                    w.next().write_sequence(|w| {
                        w.next().write_oid(&oid(OID_AES256_CBC));
                        w.next().write_bytes(&iv);
                    });
                });
            });
            w.next().write_bytes(&encrypted);
        })
    }))
}

/// The MAC of RFC 7292: HMAC-SHA256 keyed by the PKCS#12 key derivation (appendix B.2,
/// ID 3) of the password as a NUL-terminated BMPString.
fn mac_sha256(content: &[u8], password: &str, salt: &[u8]) -> Vec<u8> {
    let key = pkcs12_kdf_sha256(&bmp_password(password), salt, 3, ITERATIONS);
    let key = hmac::Key::new(hmac::HMAC_SHA256, &key);
    hmac::sign(&key, content).as_ref().to_vec()
}

fn bmp_password(password: &str) -> Vec<u8> {
    let mut out: Vec<u8> = password
        .encode_utf16()
        .flat_map(|unit| unit.to_be_bytes())
        .collect();
    out.extend([0, 0]);
    out
}

/// RFC 7292 appendix B.2 with SHA-256 (u = 32, v = 64), for a 32-byte output: one block, so
/// the I-adjustment step between blocks is never needed.
fn pkcs12_kdf_sha256(password: &[u8], salt: &[u8], id: u8, iterations: u32) -> [u8; 32] {
    const V: usize = 64;
    let stretch = |input: &[u8]| -> Vec<u8> {
        if input.is_empty() {
            return Vec::new();
        }
        let len = input.len().div_ceil(V) * V;
        input.iter().copied().cycle().take(len).collect()
    };
    let mut data = vec![id; V];
    data.extend(stretch(salt));
    data.extend(stretch(password));
    let mut hash = digest::digest(&digest::SHA256, &data);
    for _ in 1..iterations {
        hash = digest::digest(&digest::SHA256, hash.as_ref());
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(hash.as_ref());
    out
}
