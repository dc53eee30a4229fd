//! Redirects on the client (ask 20 of `notes/user-asks.md`, R-CV-01):
//! none followed by default; when enabled, 301, 302, 303, 307 and 308 are
//! followed within the limit, each on a new connection with a fresh key
//! (R-CH-08), never from `wss://` to `ws://`, and credentials do not
//! follow a redirect to another origin.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, Response, StatusCode};
use sockeye::{Accept, ClientBuilder, CloseCode, Error, HandshakeFailure, Rejected, ServerBuilder};
use support::bounded;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// A request as a test server saw it.
#[derive(Clone, Debug)]
struct Seen {
    /// The resource name, `/path?query`.
    path: String,
    headers: HeaderMap,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What a test server answers to a request: `None` accepts, a status and
/// a `Location` (or none) redirects.
type Answer = dyn Fn(&Seen) -> Option<(u16, Option<String>)> + Send + Sync;

/// Handles one connection: records the request and answers it as `answer`
/// says; an accepted connection echoes until closed.
async fn serve<S>(stream: S, answer: Arc<Answer>, seen: UnboundedSender<Seen>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let accepted = ServerBuilder::new()
        .accept_with(stream, move |request| {
            let request = Seen {
                path: request.request().uri().to_string(),
                headers: request.request().headers().clone(),
            };
            let decision = answer(&request);
            let _ = seen.send(request);
            async move {
                match decision {
                    None => Ok(Accept::new()),
                    Some((status, location)) => {
                        let mut redirect = Response::builder().status(status);
                        if let Some(location) = location {
                            redirect = redirect.header("location", location);
                        }
                        Err(redirect.body(Bytes::new()).expect("a response"))
                    }
                }
            }
        })
        .await;
    let Ok(mut ws) = accepted else {
        return;
    };
    while let Some(Ok(message)) = ws.next().await {
        if ws.send(message).await.is_err() {
            return;
        }
    }
}

/// A loopback server answering as `answer` says: its address and the
/// requests it saw, in order.
async fn server<F>(answer: F) -> (SocketAddr, UnboundedReceiver<Seen>)
where
    F: Fn(&Seen) -> Option<(u16, Option<String>)> + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("an address");
    let answer: Arc<Answer> = Arc::new(answer);
    let (requests, seen) = unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(serve(tcp, Arc::clone(&answer), requests.clone()));
        }
    });
    (address, seen)
}

/// Redirects `/start` with `status` to `location`, and accepts the rest.
fn redirect_once(status: u16, location: String) -> impl Fn(&Seen) -> Option<(u16, Option<String>)> {
    move |request| (request.path == "/start").then(|| (status, Some(location.clone())))
}

/// Everything `receiver` holds now.
fn drain(receiver: &mut UnboundedReceiver<Seen>) -> Vec<Seen> {
    std::iter::from_fn(|| receiver.try_recv().ok()).collect()
}

fn handshake_failure(error: &Error) -> &HandshakeFailure {
    match error {
        Error::Handshake(failure) => failure,
        other => panic!("expected a handshake failure, got {other:?}"),
    }
}

#[tokio::test]
async fn r_cv_01_client_does_not_follow_redirects_by_default() {
    bounded(async {
        let (address, mut seen) = server(redirect_once(302, "/next".to_owned())).await;
        let error = ClientBuilder::new(format!("ws://{address}/start"))
            .connect()
            .await
            .expect_err("a redirect is a refusal");
        let HandshakeFailure::Rejected(response) = handshake_failure(&error) else {
            panic!("expected a rejection, got {error:?}");
        };
        assert_eq!(response.status(), StatusCode::FOUND);
        assert_eq!(response.headers()["location"], "/next");
        assert_eq!(
            error.rejection().map(Rejected::status),
            Some(StatusCode::FOUND)
        );
        let requests = drain(&mut seen);
        assert_eq!(requests.len(), 1, "{requests:?}");
    })
    .await;
}

#[tokio::test]
async fn r_cv_01_client_follows_each_redirect_status() {
    bounded(async {
        for status in [301, 302, 303, 307, 308] {
            let (address, mut seen) = server(redirect_once(status, "/next?x=1".to_owned())).await;
            let (mut ws, response) = ClientBuilder::new(format!("ws://{address}/start"))
                .follow_redirects(1)
                .connect()
                .await
                .unwrap_or_else(|e| panic!("{status}: {e:?}"));
            assert_eq!(response.status(), 101);
            ws.close(CloseCode::NORMAL, "").await.expect("close");
            let paths: Vec<String> = drain(&mut seen).into_iter().map(|s| s.path).collect();
            assert_eq!(paths, ["/start", "/next?x=1"], "{status}");
        }
    })
    .await;
}

#[tokio::test]
async fn r_ch_08_client_follows_redirects_within_the_limit_with_fresh_keys() {
    bounded(async {
        let (last, mut last_seen) = server(|_| None).await;
        // One relative redirect, then an absolute http:// one, read as ws://.
        let (first, mut first_seen) = server(move |request| match request.path.as_str() {
            "/start" => Some((301, Some("second".to_owned()))),
            _ => Some((307, Some(format!("http://{last}/last")))),
        })
        .await;
        let (mut ws, _) = ClientBuilder::new(format!("ws://{first}/start"))
            .follow_redirects(2)
            .connect()
            .await
            .expect("two redirects are allowed");
        ws.send(sockeye::Message::text("arrived"))
            .await
            .expect("send");
        let echo = ws.next().await.expect("an echo").expect("no error");
        assert_eq!(echo.as_text(), Some("arrived"));
        ws.close(CloseCode::NORMAL, "").await.expect("close");

        let mut requests = drain(&mut first_seen);
        requests.extend(drain(&mut last_seen));
        let paths: Vec<&str> = requests.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(paths, ["/start", "/second", "/last"]);
        // R-CH-06: each request names its own server.
        assert_eq!(requests[2].header("host"), Some(last.to_string().as_str()));
        let keys: Vec<&str> = requests
            .iter()
            .map(|s| s.header("sec-websocket-key").expect("a key"))
            .collect();
        assert!(
            keys[0] != keys[1] && keys[1] != keys[2] && keys[0] != keys[2],
            "{keys:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn client_refuses_redirects_past_the_limit() {
    bounded(async {
        // Every request is sent one step further.
        let (address, mut seen) = server(|request| {
            let step: u32 = request.path[1..].parse().unwrap_or(0);
            Some((302, Some(format!("/{}", step + 1))))
        })
        .await;
        let error = ClientBuilder::new(format!("ws://{address}/0"))
            .follow_redirects(3)
            .connect()
            .await
            .expect_err("too many redirects");
        let HandshakeFailure::TooManyRedirects(response) = handshake_failure(&error) else {
            panic!("expected too many redirects, got {error:?}");
        };
        assert_eq!(response.headers()["location"], "/4");
        assert_eq!(
            error.rejection().map(Rejected::status),
            Some(StatusCode::FOUND)
        );
        // The first request and three redirects followed; the fourth is not.
        assert_eq!(drain(&mut seen).len(), 4);
    })
    .await;
}

#[tokio::test]
async fn client_refuses_a_redirect_without_a_usable_location() {
    bounded(async {
        for location in [None, Some("ftp://example.com/"), Some("http://")] {
            let (address, mut seen) =
                server(move |_| Some((302, location.map(str::to_owned)))).await;
            let error = ClientBuilder::new(format!("ws://{address}/start"))
                .follow_redirects(5)
                .connect()
                .await
                .expect_err("nowhere to go");
            assert!(
                matches!(
                    handshake_failure(&error),
                    HandshakeFailure::InvalidRedirect(_)
                ),
                "{location:?}: {error:?}"
            );
            assert_eq!(drain(&mut seen).len(), 1);
        }
    })
    .await;
}

#[tokio::test]
async fn client_leaves_other_refusals_alone_when_following_redirects() {
    bounded(async {
        // 300 and 304 name no single new location for the request.
        for status in [300, 304, 401] {
            let (address, _seen) = server(move |_| Some((status, Some("/x".to_owned())))).await;
            let error = ClientBuilder::new(format!("ws://{address}/start"))
                .follow_redirects(5)
                .connect()
                .await
                .expect_err("refused");
            let HandshakeFailure::Rejected(response) = handshake_failure(&error) else {
                panic!("{status}: {error:?}");
            };
            assert_eq!(response.status(), status);
        }
    })
    .await;
}

#[tokio::test]
async fn client_keeps_credentials_on_a_same_origin_redirect() {
    bounded(async {
        let (address, mut seen) = server(redirect_once(302, "/next".to_owned())).await;
        let (mut ws, _) = ClientBuilder::new(format!("ws://{address}/start"))
            .bearer_auth("token")
            .cookie("session", "abc")
            .follow_redirects(1)
            .connect()
            .await
            .expect("connect");
        ws.close(CloseCode::NORMAL, "").await.expect("close");
        let requests = drain(&mut seen);
        assert_eq!(requests.len(), 2);
        for request in &requests {
            assert_eq!(request.header("authorization"), Some("Bearer token"));
            assert_eq!(request.header("cookie"), Some("session=abc"));
        }
    })
    .await;
}

#[tokio::test]
async fn client_drops_credentials_on_a_cross_origin_redirect() {
    bounded(async {
        let (other, mut other_seen) = server(redirect_once(302, "/back".to_owned())).await;
        let (first, mut first_seen) = server(move |request| {
            (request.path == "/start").then(|| (302, Some(format!("ws://{other}/start"))))
        })
        .await;
        let (mut ws, _) = ClientBuilder::new(format!("ws://{first}/start"))
            .basic_auth("alice", "secret")
            .cookie("session", "abc")
            .header("cookie", "theme=dark")
            .header("x-trace", "kept")
            .follow_redirects(2)
            .connect()
            .await
            .expect("connect");
        ws.close(CloseCode::NORMAL, "").await.expect("close");
        let first_request = first_seen.try_recv().expect("the first request");
        assert!(first_request.header("authorization").is_some());
        assert_eq!(
            first_request.header("cookie"),
            Some("theme=dark; session=abc")
        );
        // Another port is another origin, and a same-origin redirect there
        // does not bring the credentials back.
        let requests = drain(&mut other_seen);
        assert_eq!(requests.len(), 2);
        for request in &requests {
            assert_eq!(request.header("authorization"), None, "{request:?}");
            assert_eq!(request.header("cookie"), None, "{request:?}");
            assert_eq!(request.header("x-trace"), Some("kept"));
            assert_eq!(request.header("host"), Some(other.to_string().as_str()));
        }
    })
    .await;
}

#[tokio::test]
async fn client_drops_a_given_host_header_on_a_cross_origin_redirect() {
    bounded(async {
        let (other, mut other_seen) = server(|_| None).await;
        let (first, mut first_seen) =
            server(move |_| Some((308, Some(format!("ws://{other}/"))))).await;
        let (mut ws, _) = ClientBuilder::new(format!("ws://{first}/"))
            .header("host", "virtual.example")
            .follow_redirects(1)
            .connect()
            .await
            .expect("connect");
        ws.close(CloseCode::NORMAL, "").await.expect("close");
        let first_request = first_seen.try_recv().expect("a request");
        assert_eq!(first_request.header("host"), Some("virtual.example"));
        let other_request = other_seen.try_recv().expect("a request");
        assert_eq!(
            other_request.header("host"),
            Some(other.to_string().as_str())
        );
    })
    .await;
}

#[cfg(feature = "tls")]
mod tls {
    use super::*;
    use sockeye::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

    /// A TLS server for `localhost` answering as `answer` says: its
    /// address, its certificate, and the requests it saw.
    async fn tls_server<F>(
        answer: F,
    ) -> (SocketAddr, CertificateDer<'static>, UnboundedReceiver<Seen>)
    where
        F: Fn(&Seen) -> Option<(u16, Option<String>)> + Send + Sync + 'static,
    {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
            .expect("a certificate");
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.signing_key.serialize_der()));
        let cert = made.cert.der().clone();
        let config = sockeye::tls::server_config(vec![cert.clone()], key).expect("a config");
        let acceptor = sockeye::tokio_rustls::TlsAcceptor::from(config);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("an address");
        let answer: Arc<Answer> = Arc::new(answer);
        let (requests, seen) = unbounded_channel();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, answer, requests) =
                    (acceptor.clone(), Arc::clone(&answer), requests.clone());
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        serve(tls, answer, requests).await;
                    }
                });
            }
        });
        (address, cert, seen)
    }

    #[tokio::test]
    async fn client_refuses_a_redirect_from_wss_to_ws() {
        bounded(async {
            let (plain, mut plain_seen) = server(|_| None).await;
            for location in [format!("ws://{plain}/"), format!("http://{plain}/")] {
                let redirect = location.clone();
                let (address, cert, mut seen) =
                    tls_server(move |_| Some((302, Some(redirect.clone())))).await;
                let error = ClientBuilder::new(format!("wss://localhost:{}/", address.port()))
                    .add_root_certificate(cert)
                    .follow_redirects(5)
                    .connect()
                    .await
                    .expect_err("no downgrade");
                let HandshakeFailure::InsecureRedirect(response) = handshake_failure(&error) else {
                    panic!("{location}: {error:?}");
                };
                assert_eq!(response.headers()["location"], location.as_str());
                assert_eq!(drain(&mut seen).len(), 1);
            }
            assert!(
                drain(&mut plain_seen).is_empty(),
                "nothing went out in the clear"
            );
        })
        .await;
    }

    #[tokio::test]
    async fn client_follows_an_https_location_as_wss() {
        bounded(async {
            let (last, last_cert, mut last_seen) = tls_server(|_| None).await;
            let location = format!("https://localhost:{}/next", last.port());
            let (first, first_cert, mut first_seen) =
                tls_server(move |_| Some((301, Some(location.clone())))).await;
            let (mut ws, _) = ClientBuilder::new(format!("wss://localhost:{}/start", first.port()))
                .add_root_certificate(first_cert)
                .add_root_certificate(last_cert)
                .follow_redirects(1)
                .connect()
                .await
                .expect("connect");
            assert!(ws.get_ref().is_tls());
            ws.close(CloseCode::NORMAL, "").await.expect("close");
            let first_paths: Vec<String> =
                drain(&mut first_seen).into_iter().map(|s| s.path).collect();
            assert_eq!(first_paths, ["/start"]);
            let last_paths: Vec<String> =
                drain(&mut last_seen).into_iter().map(|s| s.path).collect();
            assert_eq!(last_paths, ["/next"]);
        })
        .await;
    }
}
