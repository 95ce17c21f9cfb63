//! The encrypted envelope: one line of JSON holding the cipher, how to get the key, the nonce
//! and the ciphertext (with its GCM tag). The same format serves whole files (state snapshots,
//! backups, plan files) and single journal lines.
//!
//! ```json
//! {"mesh_encrypted":1,"cipher":"AES-256-GCM","key":{"kdf":"argon2id","m_kib":65536,"t":3,"p":1,
//!  "salt":"..."},"nonce":"...","data":"..."}
//! ```
//!
//! Everything but the nonce and the ciphertext is authenticated as associated data, so a
//! file whose key description was edited does not decrypt either.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::{Deserialize, Serialize};

/// How an envelope starts: what tells an encrypted file from a plain one.
pub(crate) const MAGIC: &[u8] = b"{\"mesh_encrypted\":";

/// The only format version.
pub(crate) const VERSION: u32 = 1;

/// The only cipher.
pub(crate) const CIPHER: &str = "AES-256-GCM";

/// How the data key of an envelope is obtained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum KeyRef {
    /// Derived from a passphrase with Argon2id.
    Passphrase {
        /// Always `argon2id`.
        kdf: String,
        /// Memory cost in KiB.
        m_kib: u32,
        /// Iterations.
        t: u32,
        /// Parallelism.
        p: u32,
        /// The salt, base64.
        salt: String,
    },
    /// A random data key, wrapped by a key-encryption key (a Key Vault key).
    Wrapped {
        /// The key-encryption key's identifier (a Key Vault key URL with its version).
        kek: String,
        /// The wrap algorithm, e.g. `RSA-OAEP-256`.
        alg: String,
        /// The wrapped data key, base64.
        wrapped: String,
    },
}

/// An encrypted payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Envelope {
    pub mesh_encrypted: u32,
    pub cipher: String,
    pub key: KeyRef,
    /// 96-bit GCM nonce, base64.
    pub nonce: String,
    /// Ciphertext followed by the 128-bit tag, base64.
    pub data: String,
}

impl Envelope {
    /// The associated data: the version, cipher and key description.
    pub fn aad(&self) -> Vec<u8> {
        let key = serde_json::to_string(&self.key).unwrap_or_default();
        format!(
            "mesh-encrypted/{}/{}/{key}",
            self.mesh_encrypted, self.cipher
        )
        .into_bytes()
    }

    /// One line of JSON, without the newline.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parse an envelope; the error says what is wrong (never echoing content).
    pub fn decode(bytes: &[u8]) -> Result<Envelope, String> {
        let text = trim_ascii(bytes);
        let envelope: Envelope = serde_json::from_slice(text).map_err(|e| {
            format!(
                "the encrypted data is damaged (truncated or edited): {}",
                e.to_string().split(" at line").next().unwrap_or_default()
            )
        })?;
        if envelope.mesh_encrypted != VERSION {
            return Err(format!(
                "encryption format version {} is not supported (this mesh reads version {VERSION})",
                envelope.mesh_encrypted
            ));
        }
        if envelope.cipher != CIPHER {
            return Err(format!("unsupported cipher \"{}\"", envelope.cipher));
        }
        Ok(envelope)
    }

    /// The nonce and ciphertext, decoded.
    pub fn parts(&self) -> Result<([u8; 12], Vec<u8>), String> {
        let damaged = || "the encrypted data is damaged (bad nonce or data)".to_string();
        let nonce = BASE64.decode(&self.nonce).map_err(|_| damaged())?;
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| damaged())?;
        let data = BASE64.decode(&self.data).map_err(|_| damaged())?;
        Ok((nonce, data))
    }
}

/// Whether `bytes` hold an envelope (possibly damaged) rather than plain JSON.
pub(crate) fn is_envelope(bytes: &[u8]) -> bool {
    trim_ascii(bytes).starts_with(MAGIC)
}

fn trim_ascii(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &bytes[start..end]
}
