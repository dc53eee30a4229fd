//! `--insecure` (`sockeye connect -k`, `sockeye proxy -k`): a TLS client
//! configuration that accepts any server certificate. Signatures are still checked (the handshake stays TLS),
//! but nothing ties the key to the server's name or to a trusted root.

use std::sync::Arc;

use sockeye::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use sockeye::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use sockeye::rustls::crypto::{self, CryptoProvider};
use sockeye::rustls::{self, ClientConfig, DigitallySignedStruct, SignatureScheme};

/// Accepts every certificate; checks only the handshake's signatures.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A client configuration that trusts any server, presenting `identity`
/// (a chain and its key) if given; ALPN `http/1.1`, after `h2` with
/// `http2`.
pub(crate) fn client_config(
    identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    http2: bool,
) -> sockeye::Result<Arc<ClientConfig>> {
    let provider = Arc::new(crypto::ring::default_provider());
    let tls = |e: rustls::Error| sockeye::Error::Tls(Box::new(e));
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(tls)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)));
    let mut config = match identity {
        Some((chain, key)) => builder.with_client_auth_cert(chain, key).map_err(tls)?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = if http2 {
        vec![
            sockeye::tls::ALPN_H2.to_vec(),
            sockeye::tls::ALPN_HTTP_1_1.to_vec(),
        ]
    } else {
        vec![sockeye::tls::ALPN_HTTP_1_1.to_vec()]
    };
    Ok(Arc::new(config))
}
