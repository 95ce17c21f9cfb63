//! HTTPS for the local cloud: a certificate authority kept in a directory (`ca.pem` and
//! `ca-key.pem`, made on first use and reused afterwards, so that clients trust it once), and
//! a server certificate for `localhost`, `127.0.0.1` and `::1` issued by it at every start.

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

/// Load (or make) the CA of `config`, issue a server certificate, and check that a client
/// trusting only the CA accepts it (a CA whose files do not belong together, or that expired,
/// is reported here rather than by every client).
pub(crate) fn server_tls(config: &TlsConfig) -> Result<ServerTls, EmulatorError> {
    let ca = load_or_create_ca(config)?;
    let (cert, key) = issue_server_cert(&ca)?;
    let unusable = |e: &dyn std::fmt::Display| {
        tls_error(format!(
            "the CA in {} cannot be used ({e}); delete the directory to make a new one (clients must then trust the new one)",
            config.dir.display()
        ))
    };
    let roots = roots(&ca.cert).map_err(|e| unusable(&e))?;
    let verifier =
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .map_err(|e| unusable(&e))?;
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
