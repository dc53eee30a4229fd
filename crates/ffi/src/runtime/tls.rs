//! TLS for listeners: a rustls acceptor from PEM files, with sockeye's
//! configuration (the `ring` provider, TLS 1.2 and 1.3, ALPN
//! `http/1.1`).

use sockeye::tokio_rustls::TlsAcceptor;

use super::driver::describe;
use super::failure::{Failure, fail};
use crate::result::sockeye_result;

/// An acceptor for the certificate chain (leaf first) in `cert_pem_path`
/// and the private key in `key_pem_path`. `SOCKEYE_ERR_IO` when a file
/// cannot be read or holds no certificate or key, `SOCKEYE_ERR_TLS` when
/// the key does not suit the certificate.
pub(crate) fn acceptor(cert_pem_path: &str, key_pem_path: &str) -> Result<TlsAcceptor, Failure> {
    match sockeye::tls::server_config_from_pem_files(cert_pem_path, key_pem_path) {
        Ok(config) => Ok(TlsAcceptor::from(config)),
        Err(e) => {
            let code = if e.is_io() {
                sockeye_result::SOCKEYE_ERR_IO
            } else {
                sockeye_result::SOCKEYE_ERR_TLS
            };
            Err(fail(code, describe(&e)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_are_io_errors_that_name_the_file() {
        let Err(failure) = acceptor("/nonexistent/cert.pem", "/nonexistent/key.pem") else {
            panic!("missing files were accepted");
        };
        assert_eq!(failure.code, sockeye_result::SOCKEYE_ERR_IO);
        assert!(
            failure.detail.contains("/nonexistent/cert.pem"),
            "{}",
            failure.detail
        );
    }
}
