//! Client-side encryption at rest: AES-256-GCM over state snapshots, backups, journal lines and
//! saved plan files, with the key derived from a passphrase (Argon2id, memory-hard) or a random
//! data key wrapped by a Key Vault key.
//!
//! [`Encryption`] holds the key sources: the first encrypts everything written; all of them
//! are tried, in order, to decrypt (so a rotation can read with the old key and write with the
//! new one). Files that are not encrypted are read as they are (so encryption can be turned on
//! for an existing state); an encrypted file read without [`Encryption`], or that no key opens,
//! is an error — never an empty state.

mod envelope;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::{Arc, Mutex};

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

use envelope::{Envelope, KeyRef, CIPHER, VERSION};

use crate::error::StateError;

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Iterations.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl KdfParams {
    /// The defaults: 64 MiB, 3 iterations, 1 lane (RFC 9106's second recommendation, with one
    /// lane for small CI machines).
    pub const DEFAULT: KdfParams = KdfParams {
        m_kib: 64 * 1024,
        t: 3,
        p: 1,
    };
}

/// A key-encryption key kept elsewhere (an Azure Key Vault key): wraps and unwraps data keys.
pub trait KeyWrapper: Send + Sync {
    /// The key's identifier, with its version, recorded in each envelope.
    fn key_id(&self) -> String;
    /// The wrap algorithm recorded in each envelope, e.g. `RSA-OAEP-256`.
    fn algorithm(&self) -> String;
    /// Wrap a 32-byte data key.
    fn wrap(&self, data_key: &[u8]) -> Result<Vec<u8>, String>;
    /// Unwrap a data key wrapped by the key `key_id` (which may be an older version).
    fn unwrap(&self, key_id: &str, wrapped: &[u8]) -> Result<Vec<u8>, String>;
}

/// Where a key comes from.
pub enum KeySource {
    /// A passphrase, stretched with Argon2id and a per-writer random salt.
    Passphrase {
        /// The passphrase (secret).
        passphrase: String,
        /// The KDF's cost for new envelopes.
        params: KdfParams,
    },
    /// Random data keys wrapped by a Key Vault key.
    KeyVault(Arc<dyn KeyWrapper>),
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the passphrase.
        match self {
            KeySource::Passphrase { params, .. } => write!(f, "Passphrase({params:?})"),
            KeySource::KeyVault(k) => write!(f, "KeyVault({})", k.key_id()),
        }
    }
}

/// A data key obtained for one key description.
struct KnownKey {
    source: usize,
    key_ref: KeyRef,
    key: [u8; 32],
}

/// The keys of one state: the first source encrypts, every source decrypts.
pub struct Encryption {
    sources: Vec<KeySource>,
    /// What the sources are, for errors: e.g. "the passphrase in MESH_STATE_PASSPHRASE".
    description: String,
    /// Keys derived or unwrapped so far (derivation is deliberately slow: once per salt).
    known: Mutex<Vec<KnownKey>>,
}

impl std::fmt::Debug for Encryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Encryption({})", self.description)
    }
}

impl Encryption {
    /// Encryption with `sources` (the first one writes); `description` names them in errors
    /// without revealing them.
    pub fn new(
        sources: Vec<KeySource>,
        description: impl Into<String>,
    ) -> Result<Self, StateError> {
        if sources.is_empty() {
            return Err(StateError::Config(
                "encryption needs at least one key".into(),
            ));
        }
        for source in &sources {
            if let KeySource::Passphrase { passphrase, .. } = source {
                if passphrase.chars().count() < 8 {
                    return Err(StateError::Config(
                        "the state passphrase is too short: use at least 8 characters (a long \
                         random phrase is best)"
                            .into(),
                    ));
                }
            }
        }
        Ok(Encryption {
            sources,
            description: description.into(),
            known: Mutex::new(Vec::new()),
        })
    }

    /// Forget the key used for writing, so that the next write derives a new one (a new salt,
    /// or a new wrapped data key): what a key rotation does.
    pub fn renew_write_key(&self) {
        self.lock_known().retain(|k| k.source != 0);
    }

    fn lock_known(&self) -> std::sync::MutexGuard<'_, Vec<KnownKey>> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Encrypt `plaintext` into one envelope line (no newline).
    pub fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, StateError> {
        let (key_ref, key) = self.write_key()?;
        let mut nonce = [0u8; 12];
        random(&mut nonce)?;
        let mut envelope = Envelope {
            mesh_encrypted: VERSION,
            cipher: CIPHER.to_string(),
            key: key_ref,
            nonce: BASE64.encode(nonce),
            data: String::new(),
        };
        let aad = envelope.aad();
        let mut data = plaintext.to_vec();
        cipher(&key)?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&aad[..]),
                &mut data,
            )
            .map_err(|_| StateError::Config("AES-256-GCM encryption failed".into()))?;
        envelope.data = BASE64.encode(&data);
        Ok(envelope.encode())
    }

    /// Decrypt one envelope read from `path`.
    pub fn open(&self, bytes: &[u8], path: &Path) -> Result<Vec<u8>, StateError> {
        let fail = |reason: String| StateError::Decrypt {
            path: path.to_path_buf(),
            reason,
        };
        let envelope = Envelope::decode(bytes).map_err(fail)?;
        let (nonce, data) = envelope.parts().map_err(fail)?;
        let aad = envelope.aad();
        for key in self.keys_for(&envelope.key).map_err(fail)? {
            let mut buffer = data.clone();
            let opened = cipher(&key)?
                .open_in_place(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(&aad[..]),
                    &mut buffer,
                )
                .map(|plain| plain.len());
            if let Ok(len) = opened {
                buffer.truncate(len);
                return Ok(buffer);
            }
        }
        Err(fail(format!(
            "{} does not decrypt it: wrong key, or the file was tampered with",
            self.description
        )))
    }

    /// The key to write with: the one last used by the first source, else a new one.
    fn write_key(&self) -> Result<(KeyRef, [u8; 32]), StateError> {
        if let Some(k) = self.lock_known().iter().find(|k| k.source == 0) {
            return Ok((k.key_ref.clone(), k.key));
        }
        let (key_ref, key) = match &self.sources[0] {
            KeySource::Passphrase { passphrase, params } => {
                let mut salt = [0u8; 16];
                random(&mut salt)?;
                let key = derive(passphrase, &salt, *params).map_err(StateError::Config)?;
                let key_ref = KeyRef::Passphrase {
                    kdf: "argon2id".into(),
                    m_kib: params.m_kib,
                    t: params.t,
                    p: params.p,
                    salt: BASE64.encode(salt),
                };
                (key_ref, key)
            }
            KeySource::KeyVault(wrapper) => {
                let mut key = [0u8; 32];
                random(&mut key)?;
                let wrapped = wrapper.wrap(&key).map_err(|e| {
                    StateError::Config(format!("cannot wrap the state's data key: {e}"))
                })?;
                let key_ref = KeyRef::Wrapped {
                    kek: wrapper.key_id(),
                    alg: wrapper.algorithm(),
                    wrapped: BASE64.encode(wrapped),
                };
                (key_ref, key)
            }
        };
        self.lock_known().push(KnownKey {
            source: 0,
            key_ref: key_ref.clone(),
            key,
        });
        Ok((key_ref, key))
    }

    /// Candidate keys for an envelope's key description, in source order; derived or
    /// unwrapped once and remembered.
    fn keys_for(&self, key_ref: &KeyRef) -> Result<Vec<[u8; 32]>, String> {
        let known: Vec<[u8; 32]> = self
            .lock_known()
            .iter()
            .filter(|k| &k.key_ref == key_ref)
            .map(|k| k.key)
            .collect();
        if !known.is_empty() {
            return Ok(known);
        }
        let mut found = Vec::new();
        let mut problems = Vec::new();
        for (index, source) in self.sources.iter().enumerate() {
            let key = match (source, key_ref) {
                (
                    KeySource::Passphrase { passphrase, .. },
                    KeyRef::Passphrase {
                        kdf,
                        m_kib,
                        t,
                        p,
                        salt,
                    },
                ) => {
                    if kdf != "argon2id" {
                        return Err(format!("unsupported key derivation \"{kdf}\""));
                    }
                    let salt = BASE64
                        .decode(salt)
                        .map_err(|_| "the salt is damaged".to_string())?;
                    let params = KdfParams {
                        m_kib: *m_kib,
                        t: *t,
                        p: *p,
                    };
                    derive(passphrase, &salt, params)?
                }
                (KeySource::KeyVault(wrapper), KeyRef::Wrapped { kek, wrapped, .. }) => {
                    let wrapped = BASE64
                        .decode(wrapped)
                        .map_err(|_| "the wrapped key is damaged".to_string())?;
                    match wrapper.unwrap(kek, &wrapped) {
                        Ok(key) => match <[u8; 32]>::try_from(key.as_slice()) {
                            Ok(key) => key,
                            Err(_) => continue,
                        },
                        Err(e) => {
                            problems.push(e);
                            continue;
                        }
                    }
                }
                _ => continue,
            };
            // Only the first source's keys are reused for writing.
            self.lock_known().push(KnownKey {
                source: index,
                key_ref: key_ref.clone(),
                key,
            });
            found.push(key);
        }
        if found.is_empty() {
            let kind = match key_ref {
                KeyRef::Passphrase { .. } => "a passphrase".to_string(),
                KeyRef::Wrapped { kek, .. } => format!("the Key Vault key {kek}"),
            };
            let mut message = format!(
                "it was encrypted with {kind}, which {} cannot provide",
                self.description
            );
            for p in problems {
                message.push_str(&format!("; {p}"));
            }
            return Err(message);
        }
        Ok(found)
    }
}

/// Stretch a passphrase into a 256-bit key with Argon2id.
fn derive(passphrase: &str, salt: &[u8], params: KdfParams) -> Result<[u8; 32], String> {
    // Refuse absurd costs written into a tampered file rather than exhaust memory.
    if params.m_kib > 4 * 1024 * 1024 || params.t > 64 || params.p > 64 {
        return Err("the key derivation parameters are out of range".into());
    }
    let argon_params = argon2::Params::new(params.m_kib, params.t, params.p, Some(32))
        .map_err(|e| format!("invalid key derivation parameters: {e}"))?;
    let argon = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon_params,
    );
    let mut key = [0u8; 32];
    argon
        .hash_password_into(passphrase.as_bytes(), salt, &mut key)
        .map_err(|e| format!("key derivation failed: {e}"))?;
    Ok(key)
}

fn cipher(key: &[u8; 32]) -> Result<LessSafeKey, StateError> {
    UnboundKey::new(&AES_256_GCM, key)
        .map(LessSafeKey::new)
        .map_err(|_| StateError::Config("cannot set up AES-256-GCM".into()))
}

fn random(buffer: &mut [u8]) -> Result<(), StateError> {
    aws_lc_rs::rand::fill(buffer)
        .map_err(|_| StateError::Config("the system random number generator failed".into()))
}

/// Decode a whole file read from `path`: decrypt an envelope, pass plain content through.
pub fn open_file(
    encryption: Option<&Encryption>,
    bytes: &[u8],
    path: &Path,
) -> Result<Vec<u8>, StateError> {
    if !envelope::is_envelope(bytes) {
        return Ok(bytes.to_vec());
    }
    match encryption {
        Some(e) => e.open(bytes, path),
        None => Err(StateError::Encrypted {
            path: path.to_path_buf(),
        }),
    }
}

/// Encode a whole file: an envelope and a newline with encryption, else `bytes` as they are.
pub fn seal_file(encryption: Option<&Encryption>, bytes: Vec<u8>) -> Result<Vec<u8>, StateError> {
    match encryption {
        Some(e) => {
            let mut sealed = e.seal(&bytes)?;
            sealed.push(b'\n');
            Ok(sealed)
        }
        None => Ok(bytes),
    }
}

/// Decode a journal read from `path`: every complete line decrypted (or passed through when
/// plain), line for line so that line numbers stay those of the file; a torn last line (no
/// newline) is dropped, as replay would ignore it.
pub(crate) fn open_journal(
    encryption: Option<&Encryption>,
    bytes: &[u8],
    path: &Path,
) -> Result<Vec<u8>, StateError> {
    if !bytes.split(|&b| b == b'\n').any(envelope::is_envelope) {
        return Ok(bytes.to_vec());
    }
    let complete = match bytes.iter().rposition(|&b| b == b'\n') {
        Some(end) => &bytes[..end],
        None => &[][..],
    };
    let mut out = Vec::with_capacity(bytes.len());
    for (index, line) in complete.split(|&b| b == b'\n').enumerate() {
        let plain = open_file(encryption, line, path).map_err(|e| match e {
            StateError::Decrypt { reason, .. } => StateError::Journal {
                path: path.to_path_buf(),
                line: index + 1,
                message: format!("cannot decrypt this journal line: {reason}"),
            },
            other => other,
        })?;
        out.extend_from_slice(&plain);
        out.push(b'\n');
    }
    Ok(out)
}
