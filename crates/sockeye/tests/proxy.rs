//! Client proxies (ask 8 of `notes/user-asks.md`): sockeye's client through
//! an HTTP `CONNECT` proxy (RFC 9110 §9.3.6) and a SOCKS5 proxy (RFC 1928,
//! with RFC 1929 user name and password) written here, `wss://` inside the
//! tunnel, the proxy's failures (R-CH-02), and the environment variables,
//! read through a map so that no test touches the process environment.
//!
//! The target's URLs use the host `target.invalid`, which never resolves:
//! a connection that works proves the client left the name to the proxy.
//! The test proxies send every tunnel to the one target they know.

mod support;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use futures_util::StreamExt;
use sockeye::{
    Accept, ClientBuilder, ClientStream, CloseCode, Error, Message, Proxy, ProxyEnv, ProxyError,
    ServerBuilder, Timeout, WebSocket,
};
use support::{Head, RawPeer, bounded};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// The host name of the target in every proxied URL.
const TARGET: &str = "target.invalid";

// ---- the target: a sockeye echo server ----

/// Accepts one WebSocket on `stream`, reporting its `Host`, and echoes.
async fn serve<S>(stream: S, hosts: UnboundedSender<String>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let accepted = ServerBuilder::new()
        .accept_with(stream, |request| {
            let host = request.request().headers().get("host");
            let host = host.and_then(|v| v.to_str().ok()).unwrap_or_default();
            let _ = hosts.send(host.to_owned());
            async { Ok(Accept::new()) }
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

/// A plain echo server on loopback: its address and the `Host` of each
/// request it accepts.
async fn plain_target() -> (SocketAddr, UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("an address");
    let (hosts, seen) = unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(serve(tcp, hosts.clone()));
        }
    });
    (address, seen)
}

/// A TLS echo server on loopback with a throwaway certificate for
/// [`TARGET`]: its address, the certificate to trust, and the hosts seen.
#[cfg(feature = "tls")]
async fn tls_target() -> (
    SocketAddr,
    sockeye::pki_types::CertificateDer<'static>,
    UnboundedReceiver<String>,
) {
    use sockeye::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

    let made = rcgen::generate_simple_self_signed(vec![TARGET.to_owned()]).expect("a certificate");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.signing_key.serialize_der()));
    let cert = made.cert.der().clone();
    let config = sockeye::tls::server_config(vec![cert.clone()], key).expect("a server config");
    let acceptor = sockeye::tokio_rustls::TlsAcceptor::from(config);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("an address");
    let (hosts, seen) = unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, hosts) = (acceptor.clone(), hosts.clone());
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    serve(tls, hosts).await;
                }
            });
        }
    });
    (address, cert, seen)
}

/// Sends a message, reads its echo, and closes.
async fn echo_once(mut ws: WebSocket<ClientStream>) {
    ws.send(Message::text("through the tunnel"))
        .await
        .expect("send");
    let echo = ws.next().await.expect("an echo").expect("no error");
    assert_eq!(echo.as_text(), Some("through the tunnel"));
    ws.close(CloseCode::NORMAL, "").await.expect("close");
}

fn target_url(scheme: &str, target: SocketAddr) -> String {
    format!("{scheme}://{TARGET}:{}/chat", target.port())
}

// ---- an HTTP CONNECT proxy ----

/// How the test HTTP proxy behaves.
#[derive(Clone, Copy, Debug)]
struct HttpProxy {
    /// Where every tunnel leads.
    upstream: SocketAddr,
    /// `user:password` it requires, answering 407 without them.
    credentials: Option<&'static str>,
}

/// Starts an HTTP proxy on loopback: its address and each request head.
async fn http_proxy(config: HttpProxy) -> (SocketAddr, UnboundedReceiver<Head>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("an address");
    let (heads, seen) = unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(http_tunnel(tcp, config, heads.clone()));
        }
    });
    (address, seen)
}

async fn http_tunnel(tcp: TcpStream, config: HttpProxy, heads: UnboundedSender<Head>) {
    let mut peer = RawPeer::server(tcp);
    let head = peer.read_head().await;
    assert!(
        peer.buffered().is_empty(),
        "the client sent bytes before the tunnel was open"
    );
    let _ = heads.send(head.clone());
    if let Some(credentials) = config.credentials {
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(credentials)
        );
        if head.get("proxy-authorization") != Some(expected.as_str()) {
            peer.write(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n\
                  Proxy-Authenticate: Basic realm=\"sockeye tests\"\r\n\
                  Content-Length: 6\r\n\r\ndenied",
            )
            .await;
            return;
        }
    }
    let Ok(mut upstream) = TcpStream::connect(config.upstream).await else {
        peer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            .await;
        return;
    };
    peer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await;
    let mut client = peer.into_inner();
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

// ---- a SOCKS5 proxy ----

/// How the test SOCKS5 proxy behaves.
#[derive(Clone, Copy, Debug)]
struct SocksProxy {
    /// Where every tunnel leads.
    upstream: SocketAddr,
    /// The user name and password it requires (RFC 1929).
    credentials: Option<(&'static str, &'static str)>,
    /// The reply code to the request (RFC 1928 §6): 0 succeeds.
    reply: u8,
}

/// What a SOCKS5 client sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct SocksRequest {
    /// The authentication methods offered (RFC 1928 §3).
    methods: Vec<u8>,
    /// The user name and password given (RFC 1929 §2).
    login: Option<(String, String)>,
    /// The address asked for (RFC 1928 §4), `None` if it got no further.
    target: Option<SocksTarget>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum SocksTarget {
    /// Address type 3: a name for the proxy to resolve.
    Name(String, u16),
    /// Address types 1 and 4.
    Ip(SocketAddr),
}

/// Starts a SOCKS5 proxy on loopback: its address and each request.
async fn socks_proxy(config: SocksProxy) -> (SocketAddr, UnboundedReceiver<SocksRequest>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("an address");
    let (requests, seen) = unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let requests = requests.clone();
            tokio::spawn(async move {
                let mut request = SocksRequest::default();
                let open = socks_negotiate(&mut tcp, config, &mut request).await;
                let _ = requests.send(request);
                if matches!(open, Ok(true))
                    && let Ok(mut upstream) = TcpStream::connect(config.upstream).await
                {
                    let _ = tokio::io::copy_bidirectional(&mut tcp, &mut upstream).await;
                }
            });
        }
    });
    (address, seen)
}

/// Runs the proxy's side of RFC 1928 (and RFC 1929); `true` when the
/// tunnel is open.
async fn socks_negotiate(
    tcp: &mut TcpStream,
    config: SocksProxy,
    seen: &mut SocksRequest,
) -> io::Result<bool> {
    // §3: VER, NMETHODS, METHODS.
    let [version, count] = read_array(tcp).await?;
    assert_eq!(version, 5, "not socks5");
    seen.methods = read_vec(tcp, count.into()).await?;
    let method = match config.credentials {
        Some(_) if seen.methods.contains(&2) => 2,
        None if seen.methods.contains(&0) => 0,
        _ => 0xff,
    };
    tcp.write_all(&[5, method]).await?;
    if method == 0xff {
        return Ok(false);
    }
    if method == 2 {
        // RFC 1929 §2: VER, ULEN, UNAME, PLEN, PASSWD.
        let [version, user_len] = read_array(tcp).await?;
        assert_eq!(version, 1, "rfc 1929 version");
        let user = String::from_utf8(read_vec(tcp, user_len.into()).await?).expect("utf-8");
        let [password_len] = read_array(tcp).await?;
        let password = String::from_utf8(read_vec(tcp, password_len.into()).await?).expect("utf-8");
        let accepted = config.credentials == Some((user.as_str(), password.as_str()));
        seen.login = Some((user, password));
        tcp.write_all(&[1, u8::from(!accepted)]).await?;
        if !accepted {
            return Ok(false);
        }
    }
    // §4: VER, CMD, RSV, ATYP, DST.ADDR, DST.PORT.
    let [version, command, reserved, address_type] = read_array(tcp).await?;
    assert_eq!((version, command, reserved), (5, 1, 0), "a socks5 CONNECT");
    let target = match address_type {
        1 => {
            let ip: [u8; 4] = read_array(tcp).await?;
            let port = u16::from_be_bytes(read_array(tcp).await?);
            SocksTarget::Ip(SocketAddr::from((ip, port)))
        }
        3 => {
            let [len] = read_array(tcp).await?;
            let name = String::from_utf8(read_vec(tcp, len.into()).await?).expect("utf-8");
            SocksTarget::Name(name, u16::from_be_bytes(read_array(tcp).await?))
        }
        4 => {
            let ip: [u8; 16] = read_array(tcp).await?;
            let port = u16::from_be_bytes(read_array(tcp).await?);
            SocksTarget::Ip(SocketAddr::from((ip, port)))
        }
        other => panic!("unknown address type {other}"),
    };
    seen.target = Some(target);
    // §6: VER, REP, RSV, ATYP, BND.ADDR, BND.PORT (0.0.0.0:0).
    tcp.write_all(&[5, config.reply, 0, 1, 0, 0, 0, 0, 0, 0])
        .await?;
    Ok(config.reply == 0)
}

async fn read_array<const N: usize>(tcp: &mut TcpStream) -> io::Result<[u8; N]> {
    let mut bytes = [0; N];
    tcp.read_exact(&mut bytes).await?;
    Ok(bytes)
}

async fn read_vec(tcp: &mut TcpStream, len: usize) -> io::Result<Vec<u8>> {
    let mut bytes = vec![0; len];
    tcp.read_exact(&mut bytes).await?;
    Ok(bytes)
}

/// A proxy that accepts connections and never answers; its address.
async fn silent_proxy() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("an address");
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut sink = Vec::new();
                let _ = tcp.read_to_end(&mut sink).await;
            });
        }
    });
    address
}

/// The proxy failure inside `error`.
fn proxy_error(error: &Error) -> &ProxyError {
    match error {
        Error::Proxy(proxy) => proxy,
        other => panic!("expected a proxy error, got {other:?}"),
    }
}

// ---- HTTP CONNECT ----

#[tokio::test]
async fn client_tunnels_through_an_http_proxy() {
    bounded(async {
        let (target, mut hosts) = plain_target().await;
        let (proxy, mut heads) = http_proxy(HttpProxy {
            upstream: target,
            credentials: None,
        })
        .await;
        let (ws, response) = ClientBuilder::new(target_url("ws", target))
            .proxy(&format!("http://{proxy}"))
            .connect()
            .await
            .expect("connect through the proxy");
        assert_eq!(response.status(), 101);
        echo_once(ws).await;
        // RFC 9110 §9.3.6: the authority form, and Host repeats it.
        let authority = format!("{TARGET}:{}", target.port());
        let head = heads.recv().await.expect("a CONNECT");
        assert_eq!(head.start, format!("CONNECT {authority} HTTP/1.1"));
        assert_eq!(head.get("host"), Some(authority.as_str()));
        assert_eq!(head.get("proxy-authorization"), None);
        // R-CH-06: the server sees the URL's host, not the proxy's.
        assert_eq!(hosts.recv().await.as_deref(), Some(authority.as_str()));
    })
    .await;
}

#[tokio::test]
async fn client_sends_basic_credentials_to_an_http_proxy() {
    bounded(async {
        let (target, _hosts) = plain_target().await;
        let (proxy, mut heads) = http_proxy(HttpProxy {
            upstream: target,
            credentials: Some("alice:p@ss:word"),
        })
        .await;
        // Credentials are percent-decoded from the URL.
        let (ws, _) = ClientBuilder::new(target_url("ws", target))
            .proxy(&format!("http://alice:p%40ss%3Aword@{proxy}/"))
            .connect()
            .await
            .expect("connect through the proxy");
        echo_once(ws).await;
        let head = heads.recv().await.expect("a CONNECT");
        assert_eq!(
            head.get("proxy-authorization"),
            Some("Basic YWxpY2U6cEBzczp3b3Jk")
        );
    })
    .await;
}

#[tokio::test]
async fn r_ch_02_client_fails_with_the_status_when_the_proxy_answers_407() {
    bounded(async {
        let (target, mut hosts) = plain_target().await;
        let (proxy, _heads) = http_proxy(HttpProxy {
            upstream: target,
            credentials: Some("alice:secret"),
        })
        .await;
        for url in [
            format!("http://{proxy}"),
            format!("http://alice:wrong@{proxy}"),
        ] {
            let error = ClientBuilder::new(target_url("ws", target))
                .proxy(&url)
                .connect()
                .await
                .expect_err("the proxy refuses");
            let ProxyError::Rejected(response) = proxy_error(&error) else {
                panic!("expected a rejection, got {error:?}");
            };
            assert_eq!(response.status(), 407);
            assert_eq!(
                response.headers()["proxy-authenticate"],
                "Basic realm=\"sockeye tests\""
            );
            assert_eq!(&response.body()[..], b"denied");
            assert!(error.is_proxy());
            // What a program prints: this level, then the cause.
            assert_eq!(error.to_string(), "proxy failed");
            let cause = std::error::Error::source(&error).expect("a cause");
            assert_eq!(
                cause.to_string(),
                "the proxy answered 407 Proxy Authentication Required"
            );
            assert_eq!(
                io::Error::from(error).kind(),
                io::ErrorKind::ConnectionRefused
            );
        }
        assert!(hosts.try_recv().is_err(), "nothing reached the target");
    })
    .await;
}

#[tokio::test]
async fn r_ch_02_client_fails_when_the_proxy_cannot_reach_the_target() {
    bounded(async {
        // A port that was free a moment ago: the proxy answers 502.
        let closed = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        let (proxy, _heads) = http_proxy(HttpProxy {
            upstream: closed,
            credentials: None,
        })
        .await;
        let error = ClientBuilder::new(target_url("ws", closed))
            .proxy(&format!("http://{proxy}"))
            .connect()
            .await
            .expect_err("no target");
        let ProxyError::Rejected(response) = proxy_error(&error) else {
            panic!("expected a rejection, got {error:?}");
        };
        assert_eq!(response.status(), 502);
    })
    .await;
}

#[tokio::test]
async fn r_ch_02_client_fails_when_the_proxy_is_unreachable() {
    bounded(async {
        let closed = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        for scheme in ["http", "socks5h"] {
            let error = ClientBuilder::new("ws://target.invalid/")
                .proxy(&format!("{scheme}://{closed}"))
                .connect()
                .await
                .expect_err("no proxy there");
            let ProxyError::Io(io) = proxy_error(&error) else {
                panic!("expected an i/o error, got {error:?}");
            };
            assert_eq!(io.kind(), io::ErrorKind::ConnectionRefused);
        }
    })
    .await;
}

#[tokio::test]
async fn client_fails_when_the_proxy_answers_something_else_than_http() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut peer = RawPeer::server(tcp);
            let _ = peer.read_head().await;
            peer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n").await;
        });
        let error = ClientBuilder::new("ws://target.invalid/")
            .proxy(&format!("http://{proxy}"))
            .connect()
            .await
            .expect_err("not a proxy");
        assert!(
            matches!(proxy_error(&error), ProxyError::InvalidResponse(_)),
            "{error:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn client_times_out_on_a_proxy_that_never_answers() {
    bounded(async {
        let proxy = silent_proxy().await;
        for scheme in ["http", "socks5"] {
            let error = ClientBuilder::new("ws://target.invalid/")
                .proxy(&format!("{scheme}://{proxy}"))
                .connect_timeout(Duration::from_millis(200))
                .connect()
                .await
                .expect_err("the proxy is silent");
            assert!(
                matches!(error, Error::Timeout(Timeout::Connect)),
                "{scheme}: {error:?}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn client_refuses_unsupported_proxy_urls_before_any_io() {
    bounded(async {
        for url in [
            "https://127.0.0.1:1",
            "socks4://127.0.0.1:1",
            "ftp://127.0.0.1:1",
            "http://",
            "socks5://user@127.0.0.1:1",
        ] {
            // Port 1 on loopback: any attempt to connect would fail
            // differently.
            let error = ClientBuilder::new("ws://127.0.0.1:1/")
                .proxy(url)
                .connect()
                .await
                .expect_err("refused");
            assert!(
                matches!(proxy_error(&error), ProxyError::InvalidUrl(_)),
                "{url}: {error:?}"
            );
            assert!(Proxy::parse(url).is_err(), "{url}");
        }
        let error = Proxy::parse("https://proxy.example").unwrap_err();
        assert_eq!(
            std::error::Error::source(&error).unwrap().to_string(),
            "invalid proxy url: https:// proxies (tls to the proxy) are not supported; \
             use http:// or socks5://"
        );
    })
    .await;
}

#[test]
fn proxies_never_show_their_password() {
    let proxy = Proxy::parse("http://alice:hunter2@proxy.example:3128").unwrap();
    assert_eq!(proxy.to_string(), "http://alice@proxy.example:3128");
    assert!(!format!("{proxy:?}").contains("hunter2"));
    let builder = ClientBuilder::new("ws://example.com/").proxy("socks5://bob:hunter2@h:1");
    assert!(!format!("{builder:?}").contains("hunter2"));
}

// ---- SOCKS5 ----

#[tokio::test]
async fn client_tunnels_through_socks5_leaving_the_name_to_the_proxy() {
    bounded(async {
        let (target, mut hosts) = plain_target().await;
        let (proxy, mut requests) = socks_proxy(SocksProxy {
            upstream: target,
            credentials: None,
            reply: 0,
        })
        .await;
        // Both schemes send the name (address type 3).
        for scheme in ["socks5", "socks5h"] {
            let (ws, _) = ClientBuilder::new(target_url("ws", target))
                .proxy(&format!("{scheme}://{proxy}"))
                .connect()
                .await
                .expect("connect through the proxy");
            echo_once(ws).await;
            let request = requests.recv().await.expect("a request");
            assert_eq!(
                request,
                SocksRequest {
                    methods: vec![0],
                    login: None,
                    target: Some(SocksTarget::Name(TARGET.to_owned(), target.port())),
                },
                "{scheme}"
            );
            let host = hosts.recv().await;
            assert_eq!(host, Some(format!("{TARGET}:{}", target.port())));
        }
    })
    .await;
}

#[tokio::test]
async fn client_sends_an_ip_address_to_socks5_as_one() {
    bounded(async {
        let (target, _hosts) = plain_target().await;
        let (proxy, mut requests) = socks_proxy(SocksProxy {
            upstream: target,
            credentials: None,
            reply: 0,
        })
        .await;
        let (ws, _) = ClientBuilder::new(format!("ws://{target}/"))
            .proxy(&format!("socks5://{proxy}"))
            .connect()
            .await
            .expect("connect through the proxy");
        echo_once(ws).await;
        let request = requests.recv().await.expect("a request");
        assert_eq!(request.target, Some(SocksTarget::Ip(target)));
    })
    .await;
}

#[tokio::test]
async fn client_authenticates_to_socks5_with_user_and_password() {
    bounded(async {
        let (target, _hosts) = plain_target().await;
        let (proxy, mut requests) = socks_proxy(SocksProxy {
            upstream: target,
            credentials: Some(("alice", "p@ss")),
            reply: 0,
        })
        .await;
        let (ws, _) = ClientBuilder::new(target_url("ws", target))
            .proxy(&format!("socks5h://alice:p%40ss@{proxy}"))
            .connect()
            .await
            .expect("connect through the proxy");
        echo_once(ws).await;
        let request = requests.recv().await.expect("a request");
        // RFC 1928 §3: "no authentication" and RFC 1929 both offered.
        assert_eq!(request.methods, vec![0, 2]);
        assert_eq!(request.login, Some(("alice".to_owned(), "p@ss".to_owned())));
        assert!(request.target.is_some());
    })
    .await;
}

#[tokio::test]
async fn r_ch_02_client_fails_when_socks5_refuses_the_credentials() {
    bounded(async {
        let (target, mut hosts) = plain_target().await;
        let (proxy, _requests) = socks_proxy(SocksProxy {
            upstream: target,
            credentials: Some(("alice", "secret")),
            reply: 0,
        })
        .await;
        let cases = [
            (format!("socks5://alice:wrong@{proxy}"), "refused the user"),
            (format!("socks5://{proxy}"), "none of the authentication"),
        ];
        for (url, why) in cases {
            let error = ClientBuilder::new(target_url("ws", target))
                .proxy(&url)
                .connect()
                .await
                .expect_err("refused");
            let ProxyError::Socks(reason) = proxy_error(&error) else {
                panic!("expected a socks error, got {error:?}");
            };
            assert!(reason.contains(why), "{url}: {reason}");
        }
        assert!(hosts.try_recv().is_err(), "nothing reached the target");
    })
    .await;
}

#[tokio::test]
async fn r_ch_02_client_fails_on_a_socks5_failure_reply() {
    bounded(async {
        let (target, _hosts) = plain_target().await;
        let (proxy, _requests) = socks_proxy(SocksProxy {
            upstream: target,
            credentials: None,
            reply: 5, // connection refused
        })
        .await;
        let error = ClientBuilder::new(target_url("ws", target))
            .proxy(&format!("socks5h://{proxy}"))
            .connect()
            .await
            .expect_err("refused");
        assert_eq!(
            proxy_error(&error).to_string(),
            "socks5 proxy: connection refused (reply 5)"
        );
    })
    .await;
}

// ---- wss:// inside the tunnel ----

#[cfg(feature = "tls")]
#[tokio::test]
async fn r_ch_03_client_runs_tls_inside_the_tunnel() {
    bounded(async {
        let (target, cert, mut hosts) = tls_target().await;
        let (http, mut heads) = http_proxy(HttpProxy {
            upstream: target,
            credentials: None,
        })
        .await;
        let (socks, mut requests) = socks_proxy(SocksProxy {
            upstream: target,
            credentials: None,
            reply: 0,
        })
        .await;
        for proxy in [format!("http://{http}"), format!("socks5h://{socks}")] {
            // The certificate names the target, so TLS checked the server
            // at the end of the tunnel (with SNI), not the proxy.
            let (ws, _) = ClientBuilder::new(target_url("wss", target))
                .add_root_certificate(cert.clone())
                .proxy(&proxy)
                .connect()
                .await
                .expect("connect through the proxy");
            assert!(ws.get_ref().is_tls());
            echo_once(ws).await;
            let host = hosts.recv().await;
            assert_eq!(host, Some(format!("{TARGET}:{}", target.port())));
        }
        let head = heads.recv().await.expect("a CONNECT");
        assert_eq!(
            head.start,
            format!("CONNECT {TARGET}:{} HTTP/1.1", target.port())
        );
        let request = requests.recv().await.expect("a socks request");
        assert_eq!(
            request.target,
            Some(SocksTarget::Name(TARGET.to_owned(), target.port()))
        );
    })
    .await;
}

// ---- the environment ----

/// A `ProxyEnv` over these variables, not the process's.
fn env(vars: &[(&str, &str)]) -> ProxyEnv {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|&(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    ProxyEnv::from_lookup(move |name| vars.get(name).cloned())
}

/// The proxy `env` picks for `url`, as a URL.
fn chosen(env: &ProxyEnv, url: &str) -> Option<String> {
    env.proxy_for(url)
        .expect("a valid choice")
        .map(ToString::to_string)
}

// Its cases include wss:// URLs, which need the `tls` feature.
#[cfg(feature = "tls")]
#[test]
fn env_picks_the_proxy_by_scheme() {
    let vars = env(&[
        ("HTTP_PROXY", "http://plain-proxy:3128"),
        ("HTTPS_PROXY", "socks5h://tls-proxy"),
    ]);
    assert_eq!(
        chosen(&vars, "ws://example.com/").as_deref(),
        Some("http://plain-proxy:3128")
    );
    assert_eq!(
        chosen(&vars, "wss://example.com/").as_deref(),
        Some("socks5h://tls-proxy:1080")
    );
    // ALL_PROXY fills in for either.
    let vars = env(&[
        ("HTTPS_PROXY", "http://tls-proxy:8080"),
        ("ALL_PROXY", "socks5://any-proxy:1081"),
    ]);
    assert_eq!(
        chosen(&vars, "ws://example.com/").as_deref(),
        Some("socks5://any-proxy:1081")
    );
    assert_eq!(
        chosen(&vars, "wss://example.com/").as_deref(),
        Some("http://tls-proxy:8080")
    );
    // Nothing set: direct.
    assert_eq!(chosen(&env(&[]), "wss://example.com/"), None);
}

// Its cases include wss:// URLs, which need the `tls` feature.
#[cfg(feature = "tls")]
#[test]
fn env_reads_lowercase_first_and_skips_empty_values() {
    let vars = env(&[
        ("https_proxy", "http://lower:1"),
        ("HTTPS_PROXY", "http://upper:2"),
        ("http_proxy", ""),
        ("HTTP_PROXY", "upper-no-scheme:3"),
        ("all_proxy", "  "),
        ("ALL_PROXY", "http://all:4"),
    ]);
    assert_eq!(chosen(&vars, "wss://h/").as_deref(), Some("http://lower:1"));
    // A value without a scheme is an HTTP proxy.
    assert_eq!(
        chosen(&vars, "ws://h/").as_deref(),
        Some("http://upper-no-scheme:3")
    );
}

#[test]
fn env_ignores_uppercase_http_proxy_under_cgi() {
    // httpoxy: under CGI, a request's `Proxy:` header becomes HTTP_PROXY.
    let cgi = env(&[
        ("REQUEST_METHOD", "GET"),
        ("HTTP_PROXY", "http://attacker:80"),
        ("ALL_PROXY", "http://configured:3128"),
    ]);
    assert_eq!(
        chosen(&cgi, "ws://h/").as_deref(),
        Some("http://configured:3128")
    );
    let cgi = env(&[
        ("REQUEST_METHOD", "GET"),
        ("http_proxy", "http://configured:3128"),
    ]);
    assert_eq!(
        chosen(&cgi, "ws://h/").as_deref(),
        Some("http://configured:3128")
    );
}

// Its cases include wss:// URLs, which need the `tls` feature.
#[cfg(feature = "tls")]
#[test]
fn env_no_proxy_lists_hosts_reached_directly() {
    let vars = env(&[
        ("ALL_PROXY", "http://proxy:3128"),
        (
            "NO_PROXY",
            "localhost, .internal.example,Example.COM 10.0.0.0/8 ::1 only-8080.example:8080",
        ),
    ]);
    let direct = [
        "ws://localhost/",
        "wss://internal.example/",
        "wss://ws.internal.example:9000/",
        "ws://example.com/",
        "ws://api.example.com/",
        "ws://10.1.2.3:9001/",
        "ws://[::1]:9001/",
        "ws://only-8080.example:8080/",
    ];
    for url in direct {
        assert_eq!(chosen(&vars, url), None, "{url}");
    }
    let proxied = [
        "ws://127.0.0.1/",
        "ws://badexample.com/",
        "ws://11.0.0.1/",
        "ws://[::2]/",
        "ws://only-8080.example/",
        "wss://only-8080.example:8443/",
    ];
    for url in proxied {
        assert_eq!(
            chosen(&vars, url).as_deref(),
            Some("http://proxy:3128"),
            "{url}"
        );
    }
    let everything = env(&[("ALL_PROXY", "http://proxy:3128"), ("no_proxy", "*")]);
    assert_eq!(chosen(&everything, "wss://example.com/"), None);
}

// Its cases include wss:// URLs, which need the `tls` feature.
#[cfg(feature = "tls")]
#[test]
fn env_reports_an_invalid_proxy_url_only_where_it_applies() {
    let vars = env(&[
        ("HTTPS_PROXY", "https://tls-to-the-proxy:443"),
        ("NO_PROXY", "direct.example"),
    ]);
    let error = vars.proxy_for("wss://example.com/").unwrap_err();
    match proxy_error(&error) {
        ProxyError::InvalidEnv { variable, .. } => assert_eq!(*variable, "HTTPS_PROXY"),
        other => panic!("{other:?}"),
    }
    assert_eq!(chosen(&vars, "wss://direct.example/"), None);
    assert_eq!(chosen(&vars, "ws://example.com/"), None);
    assert!(matches!(
        vars.proxy_for("http://example.com/"),
        Err(Error::InvalidUrl(_))
    ));
}

#[tokio::test]
async fn client_uses_the_proxy_its_environment_names() {
    bounded(async {
        let (target, mut hosts) = plain_target().await;
        let (proxy, mut requests) = socks_proxy(SocksProxy {
            upstream: target,
            credentials: None,
            reply: 0,
        })
        .await;
        let vars = env(&[("ALL_PROXY", &format!("socks5h://{proxy}"))]);
        let (ws, _) = ClientBuilder::new(target_url("ws", target))
            .proxy_env(vars)
            .connect()
            .await
            .expect("connect through the proxy");
        echo_once(ws).await;
        assert!(requests.recv().await.is_some());
        assert!(hosts.recv().await.is_some());
    })
    .await;
}

#[tokio::test]
async fn client_goes_directly_to_hosts_in_no_proxy() {
    bounded(async {
        let (target, mut hosts) = plain_target().await;
        let (proxy, mut heads) = http_proxy(HttpProxy {
            upstream: target,
            credentials: None,
        })
        .await;
        let vars = env(&[
            ("HTTP_PROXY", &format!("http://{proxy}")),
            ("NO_PROXY", "127.0.0.1"),
        ]);
        let (ws, _) = ClientBuilder::new(format!("ws://{target}/"))
            .proxy_env(vars)
            .connect()
            .await
            .expect("connect directly");
        echo_once(ws).await;
        assert_eq!(hosts.recv().await, Some(target.to_string()));
        assert!(heads.try_recv().is_err(), "the proxy saw nothing");
    })
    .await;
}

#[tokio::test]
async fn client_chooses_the_environment_proxy_again_after_a_redirect() {
    bounded(async {
        let (target, mut hosts) = plain_target().await;
        let (proxy, mut heads) = http_proxy(HttpProxy {
            upstream: target,
            credentials: None,
        })
        .await;
        // A server reached directly (NO_PROXY) that redirects to a host
        // only the proxy can reach.
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let redirecting = listener.local_addr().expect("an address");
        let location = target_url("ws", target);
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accept");
            let refused = ServerBuilder::new()
                .accept_with(tcp, |_| async move {
                    Err(http::Response::builder()
                        .status(307)
                        .header("location", location)
                        .body(bytes::Bytes::new())
                        .expect("a response"))
                })
                .await;
            assert!(refused.is_err());
        });
        let vars = env(&[
            ("http_proxy", &format!("http://{proxy}")),
            ("no_proxy", "127.0.0.1"),
        ]);
        let (ws, _) = ClientBuilder::new(format!("ws://{redirecting}/"))
            .proxy_env(vars)
            .follow_redirects(1)
            .connect()
            .await
            .expect("connect through the proxy after the redirect");
        echo_once(ws).await;
        let head = heads.recv().await.expect("one CONNECT, for the second hop");
        assert_eq!(
            head.start,
            format!("CONNECT {TARGET}:{} HTTP/1.1", target.port())
        );
        assert!(heads.try_recv().is_err());
        assert!(hosts.recv().await.is_some());
    })
    .await;
}

#[test]
fn proxy_types_are_send_and_sync() {
    fn check<T: Send + Sync + 'static>() {}
    check::<Proxy>();
    check::<ProxyEnv>();
    check::<ProxyError>();
}
