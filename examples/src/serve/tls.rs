//! TLS for the login processes: rustls server configuration from
//! `ssl_cert`, `ssl_key` and `ssl_min_protocol`, read while the process
//! can still open files (before it drops its privileges).

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

use super::config::{Config, SslMode};
use super::error::ServeError;

/// The TLS configuration, or `None` when `ssl = no`.
pub fn server_config(config: &Config) -> Result<Option<Arc<ServerConfig>>, ServeError> {
    if config.ssl == SslMode::No {
        return Ok(None);
    }
    let (Some(cert), Some(key)) = (&config.ssl_cert, &config.ssl_key) else {
        return Err(ServeError::Tls(
            "ssl is enabled but ssl_cert or ssl_key is missing".into(),
        ));
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| ServeError::Tls(format!("ssl_cert {}: {e}", cert.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| ServeError::Tls(format!("ssl_cert {}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(ServeError::Tls(format!(
            "ssl_cert {}: no certificate in the file",
            cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| ServeError::Tls(format!("ssl_key {}: {e}", key.display())))?;
    let versions: &[&rustls::SupportedProtocolVersion] = match config.ssl_min_protocol.as_str() {
        "TLSv1.3" => &[&rustls::version::TLS13],
        "TLSv1.2" => &[&rustls::version::TLS13, &rustls::version::TLS12],
        other => {
            return Err(ServeError::Tls(format!(
                "ssl_min_protocol = {other:?}: TLSv1.2 or TLSv1.3"
            )))
        }
    };
    let server =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(versions)
            .map_err(|e| ServeError::Tls(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| ServeError::Tls(e.to_string()))?;
    Ok(Some(Arc::new(server)))
}
