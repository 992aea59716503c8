//! [`TlsConfig`]: the certificates a TLS listener serves, loaded from PEM
//! files (or bytes), or a ready `rustls::ServerConfig` for full control.

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The ALPN name of HTTP/1.1: pass it to [`TlsBuilder::alpn`] when the
/// listener serves [`twig::http`](crate::http), so browsers agree on it.
pub const ALPN_HTTP1: &[u8] = b"http/1.1";

/// What a TLS listener ([`Server::listen_tls`](crate::Server::listen_tls))
/// serves: a rustls server configuration, shared by its connections.
///
/// ```no_run
/// let tls = twig::tls::TlsConfig::from_pem_files("cert.pem", "key.pem")?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct TlsConfig {
    pub(crate) server: Arc<ServerConfig>,
}

impl TlsConfig {
    /// One certificate chain and its key, from PEM files; TLS 1.2 and 1.3
    /// on the `ring` provider, no client certificates, no ALPN.
    ///
    /// # Errors
    /// A one-line error naming the file if it cannot be read or holds no
    /// usable certificate or key.
    pub fn from_pem_files(cert: impl AsRef<Path>, key: impl AsRef<Path>) -> io::Result<TlsConfig> {
        TlsConfig::builder().cert_pem_files(cert, key)?.build()
    }

    /// A rustls configuration made elsewhere, used as it is (its versions,
    /// ciphers, ALPN, resolver, session storage).
    pub fn from_server_config(server: impl Into<Arc<ServerConfig>>) -> TlsConfig {
        TlsConfig {
            server: server.into(),
        }
    }

    /// Several certificates (picked by SNI), ALPN: see [`TlsBuilder`].
    pub fn builder() -> TlsBuilder {
        TlsBuilder::default()
    }

    /// The rustls configuration in use.
    pub fn server_config(&self) -> &Arc<ServerConfig> {
        &self.server
    }
}

/// Builds a [`TlsConfig`]: a default certificate, more certificates chosen
/// by the name the client asks for (SNI), and the ALPN protocols.
///
/// ```no_run
/// use twig::tls::{ALPN_HTTP1, TlsConfig};
/// let tls = TlsConfig::builder()
///     .cert_pem_files("default.pem", "default.key")?
///     .sni_pem_files("api.example.com", "api.pem", "api.key")?
///     .alpn(&[ALPN_HTTP1])
///     .build()?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct TlsBuilder {
    default: Option<Arc<CertifiedKey>>,
    by_name: HashMap<String, Arc<CertifiedKey>>,
    alpn: Vec<Vec<u8>>,
}

impl TlsBuilder {
    /// The certificate for clients whose SNI name matches none of
    /// [`sni_pem`](Self::sni_pem)'s (or who send none), from PEM files.
    ///
    /// # Errors
    /// As [`TlsConfig::from_pem_files`].
    pub fn cert_pem_files(self, cert: impl AsRef<Path>, key: impl AsRef<Path>) -> io::Result<Self> {
        let (cert, key) = (read(cert.as_ref())?, read(key.as_ref())?);
        self.cert_pem(&cert, &key)
    }

    /// [`cert_pem_files`](Self::cert_pem_files) from PEM bytes.
    ///
    /// # Errors
    /// No certificate, no key, or a key of an unsupported type.
    pub fn cert_pem(mut self, cert: &[u8], key: &[u8]) -> io::Result<Self> {
        self.default = Some(certified(cert, key)?);
        Ok(self)
    }

    /// The certificate for clients that ask for `name` (SNI), from PEM files.
    ///
    /// # Errors
    /// As [`TlsConfig::from_pem_files`].
    pub fn sni_pem_files(
        self,
        name: &str,
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> io::Result<Self> {
        let (cert, key) = (read(cert.as_ref())?, read(key.as_ref())?);
        self.sni_pem(name, &cert, &key)
    }

    /// [`sni_pem_files`](Self::sni_pem_files) from PEM bytes.
    ///
    /// # Errors
    /// As [`cert_pem`](Self::cert_pem).
    pub fn sni_pem(mut self, name: &str, cert: &[u8], key: &[u8]) -> io::Result<Self> {
        self.by_name
            .insert(name.to_ascii_lowercase(), certified(cert, key)?);
        Ok(self)
    }

    /// The application protocols offered by ALPN, most preferred first
    /// (e.g. [`ALPN_HTTP1`]). A client that offers ALPN but none of these
    /// is refused; one that offers none is served.
    pub fn alpn(mut self, protocols: &[&[u8]]) -> Self {
        self.alpn = protocols.iter().map(|p| p.to_vec()).collect();
        self
    }

    /// The configuration: TLS 1.3 and 1.2 on the `ring` provider.
    ///
    /// # Errors
    /// No certificate was given.
    pub fn build(self) -> io::Result<TlsConfig> {
        if self.default.is_none() && self.by_name.is_empty() {
            return Err(invalid("no certificate given".to_string()));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let versions = [&rustls::version::TLS13, &rustls::version::TLS12];
        let resolver = Resolver {
            default: self.default,
            by_name: self.by_name,
        };
        let mut server = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&versions)
            .map_err(|e| invalid(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(resolver));
        server.alpn_protocols = self.alpn;
        Ok(TlsConfig::from_server_config(server))
    }
}

/// Picks the certificate by SNI name, else the default one (rustls's
/// `ResolvesServerCertUsingSni` has no default, so a client without SNI,
/// such as one connecting by IP address, would be refused).
#[derive(Debug)]
struct Resolver {
    default: Option<Arc<CertifiedKey>>,
    by_name: HashMap<String, Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        hello
            .server_name()
            .and_then(|name| self.by_name.get(&name.to_ascii_lowercase()))
            .or(self.default.as_ref())
            .cloned()
    }
}

/// A chain and its signing key, from PEM.
fn certified(cert: &[u8], key: &[u8]) -> io::Result<Arc<CertifiedKey>> {
    let chain = CertificateDer::pem_slice_iter(cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("certificate PEM: {e}")))?;
    if chain.is_empty() {
        return Err(invalid("no certificate in the PEM".to_string()));
    }
    let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| invalid(format!("key PEM: {e}")))?;
    let signer = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| invalid(format!("private key: {e}")))?;
    Ok(Arc::new(CertifiedKey::new(chain, signer)))
}

fn read(path: &Path) -> io::Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot read {}: {e}", path.display())))
}

fn invalid(why: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("twig TLS: {why}"))
}
