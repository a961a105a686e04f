//! TLS for slotgate with rustls and its ring provider: server configurations built from Redis's
//! `tls-*` settings (certificate, key, CA file or folder, `tls-auth-clients yes|no|optional`,
//! `tls-protocols`, `tls-ciphersuites` by their standard names), client configurations for the
//! links to nodes and for a node's links to its peers, and reloading a certificate without
//! dropping connections (a bad new one keeps the old).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme,
    SupportedProtocolVersion,
};

pub use rustls;

/// `tls-auth-clients`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthClients {
    /// A client must present a certificate signed by the CA.
    Yes,
    No,
    /// A certificate is verified when presented, but not required.
    Optional,
}

impl AuthClients {
    pub fn parse(s: &str) -> Result<AuthClients, String> {
        match s.to_ascii_lowercase().as_str() {
            "yes" => Ok(AuthClients::Yes),
            "no" => Ok(AuthClients::No),
            "optional" => Ok(AuthClients::Optional),
            other => Err(format!("'{other}' is not yes, no or optional")),
        }
    }
}

/// A server's TLS settings, as Redis names them.
#[derive(Debug, Clone)]
pub struct Settings {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub ca_cert_file: Option<PathBuf>,
    /// `tls-ca-cert-dir`: every PEM certificate in the folder is trusted too.
    pub ca_cert_dir: Option<PathBuf>,
    pub auth_clients: AuthClients,
    /// `tls-protocols`, e.g. `"TLSv1.2 TLSv1.3"`; `None` allows both.
    pub protocols: Option<String>,
    /// `tls-ciphersuites` (TLS 1.3 suites, `:`-separated); `None` allows ring's defaults.
    pub ciphersuites: Option<String>,
}

pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate found", path.display()));
    }
    Ok(certs)
}

pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| format!("{}: no usable private key ({e})", path.display()))
}

/// The trusted CAs: every certificate of `file`, and every PEM certificate found in `dir`
/// (OpenSSL's hashed links included; files that hold none are skipped).
fn roots(file: Option<&Path>, dir: Option<&Path>) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    if let Some(path) = file {
        for cert in load_certs(path)? {
            store.add(cert).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    if let Some(dir) = dir {
        let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries.flatten() {
            for cert in load_certs(&entry.path()).unwrap_or_default() {
                let _ = store.add(cert);
            }
        }
        if store.is_empty() {
            return Err(format!("{}: no CA certificate found", dir.display()));
        }
    }
    Ok(store)
}

fn versions(protocols: Option<&str>) -> Result<Vec<&'static SupportedProtocolVersion>, String> {
    let Some(list) = protocols else { return Ok(vec![&rustls::version::TLS13, &rustls::version::TLS12]) };
    let mut out = Vec::new();
    for p in list.split_whitespace() {
        match p.to_ascii_lowercase().as_str() {
            "tlsv1.2" => out.push(&rustls::version::TLS12),
            "tlsv1.3" => out.push(&rustls::version::TLS13),
            // Redis accepts the old names too; rustls does not speak them.
            "tlsv1" | "tlsv1.1" => {
                return Err(format!("tls-protocols: {p} is not supported (only TLSv1.2 and TLSv1.3)"))
            }
            _ => return Err(format!("tls-protocols: unknown protocol '{p}'")),
        }
    }
    if out.is_empty() {
        return Err("tls-protocols: no protocol given".into());
    }
    Ok(out)
}

/// The ring provider, limited to the named TLS 1.3 suites (TLS 1.2 suites stay as ring has them).
fn provider(ciphersuites: Option<&str>) -> Result<CryptoProvider, String> {
    let mut p = ring::default_provider();
    if let Some(names) = ciphersuites {
        let wanted: Vec<&str> = names.split(':').map(str::trim).filter(|n| !n.is_empty()).collect();
        for n in &wanted {
            let known = p.cipher_suites.iter().any(|s| suite_name(s) == Some(*n));
            if !known {
                return Err(format!("tls-ciphersuites: unknown suite '{n}'"));
            }
        }
        p.cipher_suites.retain(|s| match suite_name(s) {
            Some(name) => wanted.contains(&name),
            None => true,
        });
    }
    Ok(p)
}

/// The IANA/OpenSSL name of a TLS 1.3 suite (`None` for TLS 1.2 ones).
fn suite_name(s: &rustls::SupportedCipherSuite) -> Option<&'static str> {
    use rustls::CipherSuite::*;
    match s.suite() {
        TLS13_AES_128_GCM_SHA256 => Some("TLS_AES_128_GCM_SHA256"),
        TLS13_AES_256_GCM_SHA384 => Some("TLS_AES_256_GCM_SHA384"),
        TLS13_CHACHA20_POLY1305_SHA256 => Some("TLS_CHACHA20_POLY1305_SHA256"),
        _ => None,
    }
}

/// A server configuration from the settings; every problem is reported with its file.
pub fn server_config(s: &Settings) -> Result<Arc<ServerConfig>, String> {
    let provider = Arc::new(provider(s.ciphersuites.as_deref())?);
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions(s.protocols.as_deref())?)
        .map_err(|e| format!("tls-protocols: {e}"))?;
    let has_ca = s.ca_cert_file.is_some() || s.ca_cert_dir.is_some();
    let builder = match s.auth_clients {
        AuthClients::No => builder.with_no_client_auth(),
        _ if !has_ca => return Err("tls-auth-clients needs tls-ca-cert-file".into()),
        mode => {
            let roots = roots(s.ca_cert_file.as_deref(), s.ca_cert_dir.as_deref())?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if mode == AuthClients::Optional { verifier.allow_unauthenticated() } else { verifier };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| format!("tls-ca-cert-file: {e}"))?)
        }
    };
    let config = builder
        .with_single_cert(load_certs(&s.cert_file)?, load_key(&s.key_file)?)
        .map_err(|e| format!("tls-cert-file/tls-key-file: {e}"))?;
    Ok(Arc::new(config))
}

/// A server configuration that can be replaced while connections use the old one.
pub struct Reloadable {
    settings: Settings,
    current: ArcSwap<ServerConfig>,
}

impl Reloadable {
    pub fn new(settings: Settings) -> Result<Reloadable, String> {
        let config = server_config(&settings)?;
        Ok(Reloadable { settings, current: ArcSwap::new(config) })
    }

    /// The configuration new handshakes use.
    pub fn config(&self) -> Arc<ServerConfig> {
        self.current.load_full()
    }

    /// Reads the files again; on any error the current configuration stays.
    pub fn reload(&self) -> Result<(), String> {
        let config = server_config(&self.settings)?;
        self.current.store(config);
        Ok(())
    }
}

/// A client configuration verifying servers against `ca`, presenting `cert_key` if given.
pub fn client_config(ca: &Path, cert_key: Option<(&Path, &Path)>) -> Result<Arc<ClientConfig>, String> {
    let builder = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots(Some(ca), None)?);
    let config = match cert_key {
        Some((cert, key)) => {
            builder.with_client_auth_cert(load_certs(cert)?, load_key(key)?).map_err(|e| e.to_string())?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// A client configuration for a server's own links to its peers (replication, cluster bus,
/// MIGRATE), as Redis makes them: the settings' CA, protocols and suites, presenting
/// `identity` (certificate, key). A peer's chain must lead to the CA, but its certificate need
/// not name the address it was dialed at: Redis does not check peer names either, and nodes
/// are dialed at whatever address the cluster announces.
pub fn peer_client_config(s: &Settings, identity: (&Path, &Path)) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(provider(s.ciphersuites.as_deref())?);
    let roots = Arc::new(roots(s.ca_cert_file.as_deref(), s.ca_cert_dir.as_deref())?);
    let chain = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(|e| format!("tls-ca-cert-file: {e}"))?;
    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions(s.protocols.as_deref())?)
        .map_err(|e| format!("tls-protocols: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PeerVerifier(chain)))
        .with_client_auth_cert(load_certs(identity.0)?, load_key(identity.1)?)
        .map_err(|e| format!("{}/{}: {e}", identity.0.display(), identity.1.display()))?;
    Ok(Arc::new(config))
}

/// Verifies a peer's chain, signatures and validity dates with webpki; only a name mismatch
/// (checked last, after the chain) is let through.
#[derive(Debug)]
struct PeerVerifier(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for PeerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The name to verify a node's certificate against: its IP address.
pub fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(host.to_string()).map_err(|e| format!("{host}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_names() {
        assert_eq!(versions(Some("TLSv1.2")).unwrap().len(), 1);
        assert_eq!(versions(Some("TLSv1.2 TLSv1.3")).unwrap().len(), 2);
        assert!(versions(Some("TLSv1.1")).unwrap_err().contains("not supported"));
        assert!(versions(Some("SSLv3")).is_err());
    }

    #[test]
    fn suite_names() {
        let p = provider(Some("TLS_AES_256_GCM_SHA384")).unwrap();
        let tls13: Vec<_> = p.cipher_suites.iter().filter_map(suite_name).collect();
        assert_eq!(tls13, ["TLS_AES_256_GCM_SHA384"]);
        assert!(provider(Some("TLS_NOPE")).unwrap_err().contains("unknown suite"));
    }

    #[test]
    fn missing_files_are_named() {
        let s = Settings {
            cert_file: "/nonexistent/cert.pem".into(),
            key_file: "/nonexistent/key.pem".into(),
            ca_cert_file: None,
            ca_cert_dir: None,
            auth_clients: AuthClients::No,
            protocols: None,
            ciphersuites: None,
        };
        assert!(server_config(&s).unwrap_err().contains("/nonexistent/cert.pem"));
    }
}

/// The subject's common name (CN) of a DER certificate, if it has one. Only used on
/// certificates rustls has already verified; a minimal DER walk (Certificate → tbsCertificate →
/// subject → the attribute 2.5.4.3), so no X.509 crate is needed for one field.
pub fn subject_common_name(der: &[u8]) -> Option<String> {
    let (_, cert, _) = der_item(der)?; // Certificate SEQUENCE
    let (_, mut tbs, _) = der_item(cert)?; // tbsCertificate SEQUENCE
                                           // [0] version (optional), serialNumber, signature, issuer, validity, subject.
    let mut index = 0;
    loop {
        let (tag, body, rest) = der_item(tbs)?;
        if index == 0 && tag == 0xa0 {
            tbs = rest;
            continue;
        }
        if index == 4 {
            // subject: SEQUENCE OF SET OF SEQUENCE { OID, value }
            let mut rdns = body;
            while !rdns.is_empty() {
                let (_, set, next) = der_item(rdns)?;
                let mut atvs = set;
                while !atvs.is_empty() {
                    let (_, atv, more) = der_item(atvs)?;
                    let (oid_tag, oid, value) = der_item(atv)?;
                    if oid_tag == 0x06 && oid == [0x55, 0x04, 0x03] {
                        let (_, text, _) = der_item(value)?;
                        return String::from_utf8(text.to_vec()).ok();
                    }
                    atvs = more;
                }
                rdns = next;
            }
            return None;
        }
        index += 1;
        tbs = rest;
    }
}

/// One DER item: its tag, its contents and what follows it.
fn der_item(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *data.first()?;
    let first = *data.get(1)? as usize;
    let (len, header) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for b in data.get(2..2 + n)? {
            len = (len << 8) | *b as usize;
        }
        (len, 2 + n)
    };
    let body = data.get(header..header.checked_add(len)?)?;
    Some((tag, body, &data[header + len..]))
}

#[cfg(test)]
mod cn_tests {
    use super::*;

    #[test]
    fn truncated_or_junk_input_gives_none() {
        assert_eq!(subject_common_name(&[]), None);
        assert_eq!(subject_common_name(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(subject_common_name(&[0x30, 0x03, 0x30, 0x01]), None);
    }
}
