//! Private keys kept in local files instead of state (`private_key_file`,
//! `issuer_private_key_file`).
//!
//! mesh never overwrites a key file: losing a root key is not undoable. A new root refuses a
//! path that exists, and destroying a root removes its file only while the file still holds
//! that root's key (a replacement's new key at the same path stays).

use std::io::{ErrorKind, Write};
use std::path::Path;

use mesh_engine::provider::ProviderError;
use rcgen::KeyPair;

use crate::keys::load_key;

/// Write a new key file readable by its owner only. Fails if the file exists.
pub(crate) fn write_new(path: &Path, key_pem: &str, attribute: &str) -> Result<(), ProviderError> {
    let shown = path.display();
    let failed = |e: std::io::Error| {
        ProviderError::at_attribute(format!("could not write {shown}: {e}"), attribute)
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(failed)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            return Err(ProviderError::at_attribute(
                format!(
                    "{attribute}: {shown} already exists; mesh does not overwrite private keys: \
                     move it away or name another file"
                ),
                attribute,
            ))
        }
        Err(e) => return Err(failed(e)),
    };
    // The mode given at creation is filtered by the umask; set it outright as well.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(failed)?;
    }
    file.write_all(key_pem.as_bytes()).map_err(failed)?;
    file.sync_all().map_err(failed)
}

/// Read the key in `path`, which must belong to a certificate with `public_key`.
pub(crate) fn read(
    path: &Path,
    public_key: &[u8],
    attribute: &str,
) -> Result<KeyPair, ProviderError> {
    let shown = path.display();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(ProviderError::at_attribute(
                format!(
                    "{attribute}: {shown} does not exist, and the issuer's private key in it is \
                     needed to sign; restore the file (or replace the issuer with `mesh apply \
                     --replace=<its address>`)"
                ),
                attribute,
            ))
        }
        Err(e) => {
            return Err(ProviderError::at_attribute(
                format!("{attribute}: could not read {shown}: {e}"),
                attribute,
            ))
        }
    };
    let key = load_key(&text).map_err(|why| {
        ProviderError::at_attribute(format!("{attribute}: {shown} {why}"), attribute)
    })?;
    if key.public_key_raw() != public_key {
        return Err(ProviderError::at_attribute(
            format!("{attribute}: {shown} holds a key that is not the issuer certificate's"),
            attribute,
        ));
    }
    Ok(key)
}

/// Remove `path` if it holds the key of `public_key`; leave anything else alone.
pub(crate) fn remove_if_holds(path: &Path, public_key: &[u8]) -> Result<(), ProviderError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(ProviderError::new(format!(
                "could not read {}: {e}",
                path.display()
            )))
        }
    };
    let holds_it = load_key(&text).is_ok_and(|key| key.public_key_raw() == public_key);
    if !holds_it {
        return Ok(());
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ProviderError::new(format!(
            "could not remove {}: {e}",
            path.display()
        ))),
    }
}
