//! The sender's HTTP client: rustls with the `ring` provider, Mozilla's roots (webpki), and the
//! bureau's own CA from `notify.ca_file` beside them. Nothing here sends anything.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

use super::NotifyConfig;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("notify.ca_file {path}: cannot read it")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("notify.ca_file {path}: {why}")]
    Pem { path: PathBuf, why: String },
}

/// The certificates of `path` (PEM, one or more `CERTIFICATE` blocks); an unreadable file, one
/// that is not PEM or one without a certificate is an error naming the file.
pub fn bureau_roots(path: &Path) -> Result<Vec<Certificate<'static>>, TlsError> {
    let pem = std::fs::read(path).map_err(|source| TlsError::Read { path: path.into(), source })?;
    let bad = |why: String| TlsError::Pem { path: path.into(), why };
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        // a key beside the certificates is not ours to use, nor an error
        if let PemItem::Certificate(c) = item.map_err(|e| bad(format!("not a PEM file: {e}")))? {
            certs.push(c);
        }
    }
    if certs.is_empty() {
        return Err(bad("no certificate in it (expected `-----BEGIN CERTIFICATE-----` blocks)".into()));
    }
    // a certificate rustls cannot parse would be dropped silently by the root store: say so here
    for (i, c) in certs.iter().enumerate() {
        if c.der().len() < 64 || c.der()[0] != 0x30 {
            return Err(bad(format!("certificate {} is not a DER certificate", i + 1)));
        }
    }
    Ok(certs)
}

/// The roots every `https://` receiver is checked against: Mozilla's, plus `ca_file`'s.
fn roots(cfg: &NotifyConfig) -> Result<RootCerts, TlsError> {
    if cfg.ca_file.is_empty() {
        return Ok(RootCerts::WebPki);
    }
    let mozilla = webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().map(|der| Certificate::from_der(der.as_ref()));
    let bureau = bureau_roots(Path::new(&cfg.ca_file))?;
    Ok(RootCerts::new_with_certs(&mozilla.chain(bureau).collect::<Vec<_>>()))
}

/// The HTTP client of the sender: TLS as above, the configured timeout, answers of every status
/// read as answers (not errors), redirects never followed (a redirected POST would arrive as a
/// GET without its body).
pub fn agent(cfg: &NotifyConfig) -> Result<ureq::Agent, TlsError> {
    let tls = TlsConfig::builder().root_certs(roots(cfg)?).build();
    Ok(ureq::Agent::config_builder()
        .tls_config(tls)
        .timeout_global(Some(Duration::from_secs(cfg.timeout_s)))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into())
}
