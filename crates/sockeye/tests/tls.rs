//! `wss://`: sockeye's client and a sockeye server over rustls on loopback,
//! with throwaway certificates made by rcgen.

#![cfg(feature = "tls")]

mod support;

use std::sync::Arc;

use futures_util::StreamExt;
use sockeye::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sockeye::proto::DeflateConfig;
use sockeye::tokio_rustls::TlsAcceptor;
use sockeye::{ClientBuilder, CloseCode, Error, Message, ServerBuilder};
use support::bounded;
use tokio::net::TcpListener;

/// A self-signed certificate for `names` and its key.
fn certificate(names: &[&str]) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    let names: Vec<String> = names.iter().map(|&name| name.to_owned()).collect();
    let made = rcgen::generate_simple_self_signed(names).expect("a certificate");
    let key = PrivatePkcs8KeyDer::from(made.signing_key.serialize_der());
    (made.cert.der().clone(), PrivateKeyDer::Pkcs8(key))
}

/// A TLS echo server for `connections` connections; its port.
async fn tls_echo_server(
    certificate: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
    server: ServerBuilder,
    connections: usize,
) -> u16 {
    let config = sockeye::tls::server_config(vec![certificate], key).expect("a server config");
    let acceptor = TlsAcceptor::from(config);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("an address").port();
    tokio::spawn(async move {
        for _ in 0..connections {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let server = server.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut ws) = server.accept(tls).await else {
                    return;
                };
                while let Some(Ok(message)) = ws.next().await {
                    if ws.send(message).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

#[tokio::test]
async fn wss_echoes_every_kind_of_message() {
    bounded(async {
        let (cert, key) = certificate(&["localhost"]);
        let port = tls_echo_server(cert.clone(), key, ServerBuilder::new(), 1).await;
        let (mut ws, response) = ClientBuilder::new(format!("wss://localhost:{port}/echo"))
            .add_root_certificate(cert)
            .max_message_size(32 << 20)
            .connect()
            .await
            .expect("connect");
        assert_eq!(response.status(), 101);
        assert!(ws.get_ref().is_tls());
        assert_eq!(ws.get_ref().alpn_protocol(), Some(&b"http/1.1"[..]));
        let big: Vec<u8> = (0..16u32 << 20)
            .map(|i| u8::try_from(i % 251).unwrap())
            .collect();
        let messages = [
            Message::text("hello over tls"),
            Message::text(""),
            Message::text("κόσμε 世界 🦀"),
            Message::binary(vec![0u8, 1, 2, 255]),
            Message::binary(Vec::new()),
            Message::binary(big),
        ];
        for message in &messages {
            ws.send(message.clone()).await.expect("send");
            let echo = ws.next().await.expect("an echo").expect("no error");
            assert!(echo == *message, "echo of {} bytes differs", message.len());
        }
        ws.close(CloseCode::NORMAL, "done").await.expect("close");
    })
    .await;
}

#[tokio::test]
async fn wss_with_permessage_deflate() {
    bounded(async {
        let (cert, key) = certificate(&["localhost"]);
        let server = ServerBuilder::new().deflate(Some(DeflateConfig::default()));
        let port = tls_echo_server(cert.clone(), key, server, 1).await;
        let (mut ws, response) = ClientBuilder::new(format!("wss://localhost:{port}/"))
            .add_root_certificate(cert)
            .max_message_size(32 << 20)
            .connect()
            .await
            .expect("connect");
        let agreed = response.headers()["sec-websocket-extensions"]
            .to_str()
            .unwrap();
        assert!(agreed.starts_with("permessage-deflate"), "{agreed}");
        let text = "compressible text over tls. ".repeat(590_000); // just under 16 MiB
        ws.send(Message::text(text.clone())).await.expect("send");
        let echo = ws.next().await.expect("an echo").expect("no error");
        assert!(echo.as_text() == Some(text.as_str()));
        ws.close(CloseCode::NORMAL, "").await.expect("close");
    })
    .await;
}

#[tokio::test]
async fn an_unknown_issuer_is_a_tls_error() {
    bounded(async {
        let (cert, key) = certificate(&["localhost"]);
        let port = tls_echo_server(cert, key, ServerBuilder::new(), 1).await;
        let error = ClientBuilder::new(format!("wss://localhost:{port}/"))
            .connect()
            .await
            .expect_err("a self-signed certificate is not trusted by default");
        match &error {
            Error::Tls(tls) => assert!(
                matches!(**tls, sockeye::rustls::Error::InvalidCertificate(_)),
                "{tls:?}"
            ),
            other => panic!("expected a tls error, got {other:?}"),
        }
        let chain = format!("{:?}", std::error::Error::source(&error));
        assert!(chain.contains("UnknownIssuer"), "{chain}");
    })
    .await;
}

#[tokio::test]
async fn a_certificate_for_another_name_is_a_tls_error() {
    bounded(async {
        let (cert, key) = certificate(&["example.com"]);
        let port = tls_echo_server(cert.clone(), key, ServerBuilder::new(), 1).await;
        let error = ClientBuilder::new(format!("wss://localhost:{port}/"))
            .add_root_certificate(cert)
            .connect()
            .await
            .expect_err("the name does not match");
        assert!(
            matches!(&error, Error::Tls(tls) if matches!(**tls, sockeye::rustls::Error::InvalidCertificate(_))),
            "{error:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_rustls_client_config_is_used_as_given() {
    bounded(async {
        let (cert, key) = certificate(&["localhost"]);
        let port = tls_echo_server(cert.clone(), key, ServerBuilder::new(), 1).await;
        let mut roots = sockeye::rustls::RootCertStore::empty();
        roots.add(cert).unwrap();
        let provider = Arc::new(sockeye::rustls::crypto::ring::default_provider());
        let mut config = sockeye::rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        // An HTTP/2-first ALPN list is narrowed to HTTP/1.1 for the
        // handshake.
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let (mut ws, _) = ClientBuilder::new(format!("wss://localhost:{port}/"))
            .tls_config(Arc::new(config))
            .connect()
            .await
            .expect("connect");
        assert_eq!(ws.get_ref().alpn_protocol(), Some(&b"http/1.1"[..]));
        ws.send(Message::text("custom config")).await.unwrap();
        assert_eq!(
            ws.next().await.unwrap().unwrap(),
            Message::text("custom config")
        );
    })
    .await;
}

#[tokio::test]
async fn wss_to_a_plain_server_fails_without_hanging() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let _ = ServerBuilder::new().accept(tcp).await;
        });
        let error = ClientBuilder::new(format!("wss://127.0.0.1:{port}/"))
            .connect()
            .await
            .expect_err("a plain server cannot speak tls");
        assert!(matches!(error, Error::Tls(_) | Error::Io(_)), "{error:?}");
    })
    .await;
}

#[test]
fn pem_files_load_and_bad_ones_name_the_file() {
    let (cert, key) = certificate(&["localhost"]);
    let dir = std::env::temp_dir().join(format!("sockeye-tls-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    let pem = |label: &str, der: &[u8]| {
        use base64::Engine as _;
        let body = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|chunk| std::str::from_utf8(chunk).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    };
    std::fs::write(&cert_path, pem("CERTIFICATE", &cert)).unwrap();
    std::fs::write(&key_path, pem("PRIVATE KEY", key.secret_der())).unwrap();
    sockeye::tls::server_config_from_pem_files(&cert_path, &key_path).expect("a config");

    // The key file given as the certificate: no certificate in it.
    let error = sockeye::tls::server_config_from_pem_files(&key_path, &key_path).unwrap_err();
    assert!(error.to_string().contains("i/o"), "{error}");
    let why = std::error::Error::source(&error).unwrap().to_string();
    assert!(why.contains("key.pem"), "{why}");
    let missing = dir.join("missing.pem");
    let error = sockeye::tls::server_config_from_pem_files(&missing, &key_path).unwrap_err();
    let why = std::error::Error::source(&error).unwrap().to_string();
    assert!(why.contains("missing.pem"), "{why}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Mutual TLS: a server that asks for a client certificate signed by its
/// own authority lets in a client presenting one, and refuses one without.
#[tokio::test]
async fn a_client_certificate_is_presented_when_asked() {
    bounded(async {
        use sockeye::rustls::server::WebPkiClientVerifier;

        // The clients' authority and a certificate it signed.
        let authority_key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let authority = params.self_signed(&authority_key).unwrap();
        let issuer = rcgen::Issuer::new(params, authority_key);
        let client_key = rcgen::KeyPair::generate().unwrap();
        let client_cert = rcgen::CertificateParams::new(vec!["client".to_owned()])
            .unwrap()
            .signed_by(&client_key, &issuer)
            .unwrap();

        let (server_cert, server_key) = certificate(&["localhost"]);
        let mut roots = sockeye::rustls::RootCertStore::empty();
        roots.add(authority.der().clone()).unwrap();
        let provider = Arc::new(sockeye::rustls::crypto::ring::default_provider());
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                .build()
                .unwrap();
        let config = sockeye::rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![server_cert.clone()], server_key)
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            for _ in 0..2 {
                let (tcp, _) = listener.accept().await.unwrap();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(mut ws) = ServerBuilder::new().accept(tls).await else {
                        return;
                    };
                    while let Some(Ok(message)) = ws.next().await {
                        let _ = ws.send(message).await;
                    }
                });
            }
        });
        let url = format!("wss://localhost:{port}/");

        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(client_key.serialize_der()));
        let (mut ws, _) = ClientBuilder::new(url.as_str())
            .add_root_certificate(server_cert.clone())
            .client_certificate(vec![client_cert.der().clone()], key)
            .connect()
            .await
            .expect("a client with a certificate is let in");
        ws.send(Message::text("mutual")).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("mutual"));

        // TLS 1.3 reports the refusal after the handshake, on first use.
        let refused = async {
            let (mut ws, _) = ClientBuilder::new(url.as_str())
                .add_root_certificate(server_cert)
                .connect()
                .await?;
            ws.send(Message::text("let me in")).await?;
            match ws.next().await {
                Some(Ok(_)) => Ok(()),
                Some(Err(e)) => Err(e),
                None => Err(Error::AbnormalClosure),
            }
        };
        assert!(
            refused.await.is_err(),
            "a client without a certificate got in"
        );
    })
    .await;
}
