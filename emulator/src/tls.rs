//! HTTPS for the local cloud: a certificate authority kept in a directory (`ca.pem` and
//! `ca-key.pem`, made on first use and reused afterwards, so that clients trust it once), and
//! a server certificate for `localhost`, `127.0.0.1` and `::1` issued by it, kept beside it
//! (`server.pem`, `server-key.pem`) and issued again when it no longer verifies against the
//! CA or nears its end. Keeping it spares every start a key generation, whose first use of the
//! random generator costs tens of milliseconds (the crypto library seeds it from CPU jitter):
//! that seeding runs on a thread of its own ([`seed_random_in_background`]) instead.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::options::EmulatorError;

/// The CA certificate's file name in [`TlsConfig::dir`].
pub const CA_FILE: &str = "ca.pem";
/// The CA private key's file name in [`TlsConfig::dir`] (mode 0600).
pub const CA_KEY_FILE: &str = "ca-key.pem";

/// The CA's subject. Certificates are issued with the CA's name and key alone, so a CA read
/// back from its files is rebuilt from this name and checked against its certificate.
const CA_NAME: &str = "mesh local cloud CA";
/// The names the server certificate is valid for.
const SERVER_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];
/// The server certificate's file name in [`TlsConfig::dir`].
const SERVER_CERT_FILE: &str = "server.pem";
/// The server key's file name in [`TlsConfig::dir`] (mode 0600).
const SERVER_KEY_FILE: &str = "server-key.pem";
/// A stored server certificate that expires within this many days is issued again.
const RENEW_DAYS: u64 = 30;

/// HTTPS settings of a local cloud: where its CA lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// Directory of [`CA_FILE`] and [`CA_KEY_FILE`] (created when missing).
    pub dir: PathBuf,
}

impl TlsConfig {
    /// The CA of a data directory: `<data_dir>/tls`.
    pub fn in_data_dir(data_dir: &Path) -> TlsConfig {
        TlsConfig {
            dir: data_dir.join("tls"),
        }
    }

    /// The CA certificate (PEM): what clients must trust.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join(CA_FILE)
    }

    /// The CA's private key (PEM, readable by its owner only).
    pub fn ca_key_file(&self) -> PathBuf {
        self.dir.join(CA_KEY_FILE)
    }
}

fn tls_error(message: impl Into<String>) -> EmulatorError {
    EmulatorError::Tls {
        message: message.into(),
    }
}

fn io_error(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> EmulatorError {
    let path = path.to_path_buf();
    move |source| EmulatorError::Io { what, path, source }
}

fn days(n: i64) -> time::Duration {
    time::Duration::days(n)
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, CA_NAME);
    name.push(DnType::OrganizationName, "mesh");
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - days(1);
    params.not_after = now + days(3650);
    params
}

/// The CA: its certificate as clients get it and its key.
struct Ca {
    cert: CertificateDer<'static>,
    key: KeyPair,
}

/// Write `contents` to `path` through a temporary file (mode 0600 when `private`).
fn write_file(path: &Path, contents: &str, private: bool) -> Result<(), EmulatorError> {
    use std::io::Write;
    let tmp = path.with_extension("pem.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(&tmp).map_err(io_error("write", &tmp))?;
    file.write_all(contents.as_bytes())
        .map_err(io_error("write", &tmp))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io_error("write", path))
}

fn read_optional(path: &Path) -> Result<Option<String>, EmulatorError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(EmulatorError::Io {
            what: "read",
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The CA in `config.dir`, made there when there is none.
fn load_or_create_ca(config: &TlsConfig) -> Result<Ca, EmulatorError> {
    let (cert_path, key_path) = (config.ca_file(), config.ca_key_file());
    let cert_pem = read_optional(&cert_path)?;
    let key_pem = read_optional(&key_path)?;
    match (cert_pem, key_pem) {
        (Some(cert_pem), Some(key_pem)) => {
            let cert = CertificateDer::from_pem_slice(cert_pem.as_bytes()).map_err(|e| {
                tls_error(format!(
                    "{} is not a PEM certificate ({e}); delete {} to make a new CA",
                    cert_path.display(),
                    config.dir.display()
                ))
            })?;
            // The key's parse error is not shown: it could quote the key.
            let key = KeyPair::from_pem(&key_pem).map_err(|_| {
                tls_error(format!(
                    "{} is not a PEM private key; delete {} to make a new CA",
                    key_path.display(),
                    config.dir.display()
                ))
            })?;
            Ok(Ca { cert, key })
        }
        (Some(_), None) => Err(tls_error(format!(
            "{} has no key beside it ({CA_KEY_FILE}); delete {} to make a new CA (clients must then trust the new one)",
            cert_path.display(),
            config.dir.display()
        ))),
        // Nothing, or a key whose certificate was never written (so never trusted): start over.
        (None, _) => {
            std::fs::create_dir_all(&config.dir)
                .map_err(io_error("create the directory", &config.dir))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(
                    &config.dir,
                    std::fs::Permissions::from_mode(0o700),
                );
            }
            let key = KeyPair::generate().map_err(|e| tls_error(format!("key generation: {e}")))?;
            let cert = ca_params()
                .self_signed(&key)
                .map_err(|e| tls_error(format!("cannot sign the CA certificate: {e}")))?;
            write_file(&key_path, &key.serialize_pem(), true)?;
            write_file(&cert_path, &cert.pem(), false)?;
            Ok(Ca {
                cert: cert.der().clone(),
                key,
            })
        }
    }
}

/// A fresh server certificate and key, issued by `ca`.
fn issue_server_cert(
    ca: &Ca,
) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), EmulatorError> {
    let names: Vec<String> = SERVER_NAMES.iter().map(|s| s.to_string()).collect();
    let mut params =
        CertificateParams::new(names).map_err(|e| tls_error(format!("server certificate: {e}")))?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "localhost");
    name.push(DnType::OrganizationName, "mesh local cloud");
    params.distinguished_name = name;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - days(1);
    params.not_after = now + days(397);
    let key = KeyPair::generate().map_err(|e| tls_error(format!("key generation: {e}")))?;
    let issuer = Issuer::new(ca_params(), &ca.key);
    let cert = params
        .signed_by(&key, &issuer)
        .map_err(|e| tls_error(format!("cannot sign the server certificate: {e}")))?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    Ok((cert.der().clone(), key))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn roots(ca: &CertificateDer<'static>) -> Result<rustls::RootCertStore, rustls::Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone())?;
    Ok(roots)
}

/// What a server needs for HTTPS.
pub(crate) struct ServerTls {
    /// Runs the server side of handshakes.
    pub acceptor: TlsAcceptor,
    /// The CA certificate clients must trust.
    pub ca_file: PathBuf,
}

/// Load (or make) the CA of `config`, reuse its stored server certificate or issue one, and
/// check that a client trusting only the CA accepts it (a CA whose files do not belong
/// together, or that expired, is reported here rather than by every client).
pub(crate) fn server_tls(config: &TlsConfig) -> Result<ServerTls, EmulatorError> {
    let ca = load_or_create_ca(config)?;
    let unusable = |e: &dyn std::fmt::Display| {
        tls_error(format!(
            "the CA in {} cannot be used ({e}); delete the directory to make a new one (clients must then trust the new one)",
            config.dir.display()
        ))
    };
    // A stored server certificate would verify against the CA certificate whatever key sits
    // beside it: check that the key is the certificate's.
    let ca_key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ca.key.serialize_der()));
    rustls::sign::CertifiedKey::from_der(vec![ca.cert.clone()], ca_key, &provider())
        .map_err(|e| unusable(&e))?;
    let roots = roots(&ca.cert).map_err(|e| unusable(&e))?;
    let verifier =
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .map_err(|e| unusable(&e))?;
    let renew_by = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        UnixTime::now().as_secs() + RENEW_DAYS * 86_400,
    ));
    let (cert, key) = match stored_server_cert(config, verifier.as_ref(), renew_by) {
        Some(pair) => pair,
        None => {
            let (cert, key) = issue_server_cert(&ca)?;
            store_server_cert(config, &cert, &key);
            (cert, key)
        }
    };
    for name in SERVER_NAMES {
        let name = ServerName::try_from(name).map_err(|e| unusable(&e))?;
        verifier
            .verify_server_cert(&cert, &[], &name, &[], UnixTime::now())
            .map_err(|e| unusable(&e))?;
    }
    let mut server = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(vec![cert, ca.cert.clone()], key)
        .map_err(|e| tls_error(format!("server certificate: {e}")))?;
    // axum serves HTTP/1.1 only.
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(ServerTls {
        acceptor: TlsAcceptor::from(Arc::new(server)),
        ca_file: config.ca_file(),
    })
}

/// A server certificate stored by an earlier start: `None` unless it and its key belong
/// together, and it verifies against the CA for every name still at `renew_by`.
fn stored_server_cert(
    config: &TlsConfig,
    verifier: &dyn ServerCertVerifier,
    renew_by: UnixTime,
) -> Option<(CertificateDer<'static>, PrivateKeyDer<'static>)> {
    let cert_pem = std::fs::read(config.dir.join(SERVER_CERT_FILE)).ok()?;
    let key_pem = std::fs::read(config.dir.join(SERVER_KEY_FILE)).ok()?;
    let cert = CertificateDer::from_pem_slice(&cert_pem).ok()?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).ok()?;
    rustls::sign::CertifiedKey::from_der(vec![cert.clone()], key.clone_key(), &provider()).ok()?;
    for name in SERVER_NAMES {
        let name = ServerName::try_from(name).ok()?;
        verifier
            .verify_server_cert(&cert, &[], &name, &[], renew_by)
            .ok()?;
    }
    Some((cert, key))
}

/// Keep a new server certificate for the next start. Best effort: without it, the next start
/// issues another one.
fn store_server_cert(config: &TlsConfig, cert: &CertificateDer<'_>, key: &PrivateKeyDer<'_>) {
    let PrivateKeyDer::Pkcs8(pkcs8) = key else {
        return;
    };
    let cert_pem = pem_block("CERTIFICATE", cert.as_ref());
    let key_pem = pem_block("PRIVATE KEY", pkcs8.secret_pkcs8_der());
    // Should only one of the two be written, the pair read next time does not match and is
    // issued again.
    let _ = write_file(&config.dir.join(SERVER_KEY_FILE), &key_pem, true);
    let _ = write_file(&config.dir.join(SERVER_CERT_FILE), &cert_pem, false);
}

/// PEM text of one DER block.
fn pem_block(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in text.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

/// Seed the crypto library's random generator on a thread of its own. Its first use gathers
/// CPU jitter entropy, tens of milliseconds of work; done here, it overlaps the rest of the
/// start-up instead of delaying the first TLS handshake.
pub(crate) fn seed_random_in_background() {
    let _ = std::thread::Builder::new()
        .name("seed-random".into())
        .spawn(|| {
            let mut byte = [0u8; 1];
            let _ = provider().secure_random.fill(&mut byte);
        });
}

/// Whether the server at `addr` completes a TLS handshake for `127.0.0.1` with a certificate
/// issued by the CA in `ca_file` (used by `mesh local status` to tell an HTTPS server).
pub async fn serves_https(addr: SocketAddr, ca_file: &Path) -> bool {
    let Ok(pem) = std::fs::read(ca_file) else {
        return false;
    };
    let Ok(ca) = CertificateDer::from_pem_slice(&pem) else {
        return false;
    };
    let Ok(roots) = roots(&ca) else {
        return false;
    };
    let Ok(builder) = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
    else {
        return false;
    };
    let config = builder.with_root_certificates(roots).with_no_client_auth();
    let connector = TlsConnector::from(Arc::new(config));
    let handshake = async {
        let tcp = tokio::net::TcpStream::connect(addr).await.ok()?;
        let name = ServerName::IpAddress(addr.ip().into());
        connector.connect(name, tcp).await.ok()
    };
    matches!(
        tokio::time::timeout(std::time::Duration::from_secs(2), handshake).await,
        Ok(Some(_))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_cert(dir: &Path) -> Vec<u8> {
        std::fs::read(dir.join(SERVER_CERT_FILE)).expect("a stored server certificate")
    }

    #[test]
    fn the_server_certificate_is_stored_and_reused_while_it_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let config = TlsConfig::in_data_dir(dir.path());
        server_tls(&config).expect("a new CA and server certificate");
        let first = server_cert(&config.dir);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let key = std::fs::metadata(config.dir.join(SERVER_KEY_FILE)).unwrap();
            assert_eq!(key.permissions().mode() & 0o777, 0o600);
        }
        server_tls(&config).expect("the stored material");
        assert_eq!(server_cert(&config.dir), first, "reused, not issued again");

        // A key that is not the certificate's: issued again.
        let other = tempfile::tempdir().unwrap();
        let other_config = TlsConfig::in_data_dir(other.path());
        server_tls(&other_config).unwrap();
        std::fs::copy(
            other_config.dir.join(SERVER_KEY_FILE),
            config.dir.join(SERVER_KEY_FILE),
        )
        .unwrap();
        server_tls(&config).expect("a new server certificate");
        let second = server_cert(&config.dir);
        assert_ne!(second, first);

        // Another CA's certificate (with its key) does not verify against this CA: issued again.
        for file in [SERVER_CERT_FILE, SERVER_KEY_FILE] {
            std::fs::copy(other_config.dir.join(file), config.dir.join(file)).unwrap();
        }
        server_tls(&config).expect("a new server certificate");
        let third = server_cert(&config.dir);
        assert_ne!(third, server_cert(&other_config.dir));
        assert_ne!(third, second);

        // Unreadable files: issued again.
        std::fs::write(config.dir.join(SERVER_CERT_FILE), "not PEM").unwrap();
        server_tls(&config).expect("a new server certificate");
        assert!(String::from_utf8_lossy(&server_cert(&config.dir))
            .starts_with("-----BEGIN CERTIFICATE-----\n"));
    }

    #[test]
    fn a_stored_certificate_near_its_end_is_not_reused() {
        let dir = tempfile::tempdir().unwrap();
        let config = TlsConfig::in_data_dir(dir.path());
        server_tls(&config).unwrap();
        let ca_pem = std::fs::read(config.ca_file()).unwrap();
        let ca = CertificateDer::from_pem_slice(&ca_pem).unwrap();
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots(&ca).unwrap()),
            provider(),
        )
        .build()
        .unwrap();
        let now = UnixTime::now().as_secs();
        let at = |days: u64| {
            UnixTime::since_unix_epoch(std::time::Duration::from_secs(now + days * 86_400))
        };
        assert!(stored_server_cert(&config, verifier.as_ref(), at(RENEW_DAYS)).is_some());
        // Issued for 397 days: a year and a half from now it must be renewed.
        assert!(stored_server_cert(&config, verifier.as_ref(), at(540)).is_none());
    }
}
