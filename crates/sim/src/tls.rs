//! TLS for simulators whose vendor clients speak only HTTPS: a certificate authority generated
//! at start (rcgen, with ring like the rest of the TLS stack), a server certificate it signs for
//! the names the simulator answers to, and the CA's certificate written to a file that a test, a
//! vendor SDK (`verify=`) or a gateway's `ca_file` can trust.
//!
//! A fresh CA per simulator means nothing but that simulator is ever trusted through it: its key
//! lives only in this process's memory and is dropped with the simulator.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A generated CA, the server configuration presenting a certificate it signed, and the CA's
/// certificate on disk. The file (and its folder) is removed when this is dropped.
pub struct SimTls {
    ca_pem: String,
    dir: PathBuf,
    ca_file: PathBuf,
    server_config: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for SimTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimTls")
            .field("ca_file", &self.ca_file)
            .finish_non_exhaustive()
    }
}

fn invalid(what: &str, e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("{what}: {e}"))
}

impl SimTls {
    /// Generates a CA named after `label` and a server certificate it signs for `names`: DNS
    /// names (a leading `*.` is a wildcard for one label) or IP addresses. Writes the CA's
    /// certificate to `ca.pem` in a fresh temporary folder.
    pub fn generate(label: &str, names: &[String]) -> io::Result<SimTls> {
        let ca_key = KeyPair::generate().map_err(|e| invalid("generate the CA key", e))?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())
            .map_err(|e| invalid("CA parameters", e))?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca_params
            .distinguished_name
            .push(DnType::CommonName, format!("orgway {label} simulator CA"));
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params
            .self_signed(&ca_key)
            .map_err(|e| invalid("sign the CA certificate", e))?;
        let issuer = Issuer::new(ca_params, ca_key);

        let key = KeyPair::generate().map_err(|e| invalid("generate the server key", e))?;
        let mut params =
            CertificateParams::new(names.to_vec()).map_err(|e| invalid("server names", e))?;
        params
            .distinguished_name
            .push(DnType::CommonName, format!("orgway {label} simulator"));
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params
            .signed_by(&key, &issuer)
            .map_err(|e| invalid("sign the server certificate", e))?;

        let chain: Vec<CertificateDer<'static>> = vec![cert.der().clone(), ca_cert.der().clone()];
        let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut server_config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid("TLS versions", e))?
            .with_no_client_auth()
            .with_single_cert(chain, private)
            .map_err(|e| invalid("server certificate", e))?;
        // The simulators speak HTTP/1.1 only.
        server_config.alpn_protocols = vec![b"http/1.1".to_vec()];

        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "orgway-sim-{label}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        let ca_file = dir.join("ca.pem");
        let ca_pem = ca_cert.pem();
        std::fs::write(&ca_file, &ca_pem)?;
        Ok(SimTls {
            ca_pem,
            dir,
            ca_file,
            server_config: Arc::new(server_config),
        })
    }

    /// The CA's certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Where the CA's certificate is written (`…/ca.pem`), for as long as this lives.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// The server side: the certificate chain and its key.
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        self.server_config.clone()
    }
}

impl Drop for SimTls {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ca_is_written_and_removed() {
        let tls = SimTls::generate("test", &["*.example.test".into(), "127.0.0.1".into()])
            .expect("generate");
        let path = tls.ca_file().to_path_buf();
        let on_disk = std::fs::read_to_string(&path).unwrap();
        assert_eq!(on_disk, tls.ca_pem());
        assert!(on_disk.starts_with("-----BEGIN CERTIFICATE-----"));
        drop(tls);
        assert!(!path.exists());
    }
}
