//! End-to-end tests of `sockeye serve --route`, `--echo` and
//! `--broadcast`: one server, several modes chosen by the request path.

mod support;

use std::process::Command;

use futures_util::StreamExt;
use sockeye::{CloseCode, Message};
use support::{Finished, Running, Serve, TIMEOUT, peer_tool, raw_exchange, run};

type Client = sockeye::WebSocket<sockeye::ClientStream>;

async fn connect(url: &str) -> Client {
    tokio::time::timeout(TIMEOUT, sockeye::connect(url))
        .await
        .expect("connect timed out")
        .unwrap_or_else(|e| panic!("connect to {url}: {e:?}"))
}

async fn send(ws: &mut Client, text: &str) {
    ws.send(Message::text(text.to_owned())).await.expect("send");
}

async fn next_text(ws: &mut Client) -> String {
    let message = tokio::time::timeout(TIMEOUT, ws.next())
        .await
        .expect("no message in time")
        .expect("a message")
        .expect("no error");
    message.as_text().expect("a text message").to_owned()
}

async fn close(mut ws: Client) {
    tokio::time::timeout(TIMEOUT, ws.close(CloseCode::NORMAL, ""))
        .await
        .expect("close timed out")
        .expect("close");
}

/// A WebSocket opening handshake for `path`, written by hand.
fn upgrade_request(path: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn routes_give_each_path_its_own_mode() {
    let server = Serve::start(&["--route", "/chat=broadcast", "--route", "/=echo"]);
    let mut first = connect(&server.url("/chat")).await;
    let mut second = connect(&server.url("/chat/room?nick=b")).await;
    let mut echoed = connect(&server.url("/chatroom")).await;

    send(&mut first, "to the room").await;
    assert_eq!(next_text(&mut second).await, "to the room");
    send(&mut echoed, "back to me").await;
    assert_eq!(next_text(&mut echoed).await, "back to me");
    // The sender of a broadcast does not hear itself: its next message is
    // the other member's.
    send(&mut second, "reply").await;
    assert_eq!(next_text(&mut first).await, "reply");

    for ws in [first, second, echoed] {
        close(ws).await;
    }
}

#[tokio::test]
async fn each_broadcast_route_is_a_room_of_its_own() {
    let server = Serve::start(&["--route", "/a=broadcast", "--route", "/b=broadcast"]);
    let mut a1 = connect(&server.url("/a")).await;
    let mut a2 = connect(&server.url("/a")).await;
    let mut b1 = connect(&server.url("/b")).await;
    let mut b2 = connect(&server.url("/b")).await;

    send(&mut b1, "in room b").await;
    assert_eq!(next_text(&mut b2).await, "in room b");
    send(&mut a1, "in room a").await;
    // Had room b's message reached a2, it would have come first.
    assert_eq!(next_text(&mut a2).await, "in room a");

    for ws in [a1, a2, b1, b2] {
        close(ws).await;
    }
}

#[tokio::test]
async fn a_path_no_route_matches_is_answered_404_before_the_handshake() {
    let server = Serve::start(&["--route", "/chat=broadcast"]);
    let answer = raw_exchange(server.addr, &upgrade_request("/elsewhere"));
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer:?}");
    assert!(answer.contains("no route for /elsewhere"), "{answer:?}");
    let answer = raw_exchange(server.addr, &upgrade_request("/chatroom"));
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer:?}");

    let refused = sockeye::connect(&server.url("/")).await;
    assert!(refused.is_err(), "a connection to / was accepted");
    // The route itself still works.
    close(connect(&server.url("/chat")).await).await;
}

#[tokio::test]
async fn the_mode_flag_serves_the_paths_no_route_matches() {
    let server = Serve::start(&["--route", "/chat=echo", "--broadcast"]);
    let mut first = connect(&server.url("/lobby")).await;
    let mut second = connect(&server.url("/other")).await;
    let mut echoed = connect(&server.url("/chat")).await;
    send(&mut first, "heard elsewhere").await;
    assert_eq!(next_text(&mut second).await, "heard elsewhere");
    send(&mut echoed, "echo").await;
    assert_eq!(next_text(&mut echoed).await, "echo");
    for ws in [first, second, echoed] {
        close(ws).await;
    }
}

#[tokio::test]
async fn echo_is_the_default_and_can_be_asked_for() {
    let server = Serve::start(&["--echo"]);
    let mut ws = connect(&server.url("/any/path")).await;
    send(&mut ws, "same").await;
    assert_eq!(next_text(&mut ws).await, "same");
    close(ws).await;
}

fn assert_usage_error(finished: &Finished, needle: &str) {
    assert_eq!(finished.code(), Some(2), "stderr: {:?}", finished.stderr);
    assert!(
        finished.stderr.contains(needle),
        "stderr lacks {needle:?}: {:?}",
        finished.stderr
    );
}

#[test]
fn malformed_routes_are_usage_errors() {
    for (route, reason) in [
        ("/chat", "PATH=MODE"),
        ("chat=echo", "must start with '/'"),
        ("/chat=shout", "unknown mode"),
    ] {
        let finished = run(&["serve", "127.0.0.1:0", "--route", route]);
        assert_usage_error(&finished, reason);
    }
    let finished = run(&[
        "serve",
        "127.0.0.1:0",
        "--route",
        "/a=echo",
        "--route",
        "/a/=broadcast",
    ]);
    assert_usage_error(&finished, "two routes for the path /a");
    let finished = run(&["serve", "127.0.0.1:0", "--route", "/=echo", "--broadcast"]);
    assert_usage_error(&finished, "a route for / already");
    let finished = run(&["serve", "127.0.0.1:0", "--echo", "--broadcast"]);
    assert_usage_error(&finished, "cannot be used with");
}

/// A directory of its own for one test's scripts.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("routes-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the scratch directory");
    dir
}

/// Writes an executable shell script at `dir/name`; returns its path.
fn script(dir: &std::path::Path, name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write the script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path.to_str().expect("a UTF-8 path").to_owned()
}

#[tokio::test]
async fn an_exec_route_runs_its_program_beside_an_echo_route() {
    let dir = scratch("beside");
    let shout = script(
        &dir,
        "shout.sh",
        "echo \"path $PATH_INFO from $REMOTE_ADDR\"\nwhile read -r line; do echo \"$line!\"; done",
    );
    let route = format!("/sh=exec:{shout}");
    let server = Serve::start(&["--route", &route, "--route", "/=echo"]);
    let mut program = connect(&server.url("/sh/more?x=1")).await;
    let mut echoed = connect(&server.url("/elsewhere")).await;
    assert_eq!(
        next_text(&mut program).await,
        "path /sh/more from 127.0.0.1"
    );
    send(&mut program, "hello").await;
    assert_eq!(next_text(&mut program).await, "hello!");
    send(&mut echoed, "hello").await;
    assert_eq!(next_text(&mut echoed).await, "hello");
    close(program).await;
    close(echoed).await;
}

#[tokio::test]
async fn each_exec_route_runs_its_own_command() {
    let dir = scratch("own");
    let one = script(&dir, "one.sh", "echo one; cat");
    let two = script(&dir, "two.sh", "echo two; cat");
    let (one, two) = (
        format!("/one=exec:{one}"),
        format!("/two=exec:{two} --flag"),
    );
    let server = Serve::start(&["--route", &one, "--route", &two]);
    let mut first = connect(&server.url("/one")).await;
    let mut second = connect(&server.url("/two")).await;
    assert_eq!(next_text(&mut first).await, "one");
    assert_eq!(next_text(&mut second).await, "two");
    close(first).await;
    close(second).await;
    let answer = raw_exchange(server.addr, &upgrade_request("/three"));
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
}

#[tokio::test]
async fn max_forks_counts_the_programs_of_every_exec_route_and_exec() {
    let server = Serve::start(&[
        "--route",
        "/a=exec:cat",
        "--exec",
        "cat",
        "--max-forks",
        "1",
        "--header",
        "X-Served-By: test",
    ]);
    let mut running = connect(&server.url("/a")).await;
    send(&mut running, "still here").await;
    assert_eq!(next_text(&mut running).await, "still here");
    // The other route's program would be the second one.
    let answer = raw_exchange(server.addr, &upgrade_request("/b"));
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("x-served-by: test"),
        "{answer}"
    );
    close(running).await;
    // Once the first program is reaped, its place is free again.
    let deadline = std::time::Instant::now() + TIMEOUT;
    let mut second = loop {
        match tokio::time::timeout(TIMEOUT, sockeye::connect(&server.url("/b"))).await {
            Ok(Ok(ws)) => break ws,
            refused => assert!(std::time::Instant::now() < deadline, "{refused:?}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    send(&mut second, "now mine").await;
    assert_eq!(next_text(&mut second).await, "now mine");
    close(second).await;
}

#[test]
fn an_exec_route_whose_program_is_missing_is_a_usage_error() {
    let finished = run(&[
        "serve",
        "127.0.0.1:0",
        "--route",
        "/sh=exec:./no-such-program-here",
    ]);
    assert_usage_error(&finished, "no-such-program-here");
    let finished = run(&["serve", "127.0.0.1:0", "--route", "/=echo", "--exec", "cat"]);
    assert_usage_error(&finished, "--exec serves the paths no route matches");
}

#[test]
fn wscat_talks_to_the_program_of_an_exec_route() {
    let dir = scratch("wscat");
    let greet = script(&dir, "greet.sh", "echo welcome; cat");
    let route = format!("/sh=exec:{greet}");
    let server = Serve::start(&["--route", &route, "--route", "/=echo"]);
    let finished = wscat(&server.url("/sh"), &["ping from wscat"]);
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    assert_eq!(finished.stdout, "welcome\nping from wscat\n");
}

/// Runs wscat against `url`, sending each of `messages` once connected and
/// closing a second later; its stdin stays open meanwhile (wscat quits at
/// the end of its input).
fn wscat(url: &str, messages: &[&str]) -> Finished {
    let mut command = Command::new(peer_tool("wscat"));
    command.args(["--no-color", "-c", url, "-w", "1"]);
    for message in messages {
        command.args(["-x", message]);
    }
    Running::spawn(command).finish()
}

#[test]
fn wscat_is_echoed_on_one_route_and_refused_off_the_routes() {
    let server = Serve::start(&["--route", "/echo=echo", "--route", "/room=broadcast"]);
    let finished = wscat(&server.url("/echo/here"), &["hello", "from wscat"]);
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    assert_eq!(finished.stdout, "hello\nfrom wscat\n");

    let finished = wscat(&server.url("/nowhere"), &["lost"]);
    assert_ne!(finished.code(), Some(0), "{finished:?}");
    assert!(finished.stderr.contains("404"), "{finished:?}");
}

#[tokio::test]
async fn wscat_joins_a_broadcast_route() {
    let server = Serve::start(&["--route", "/room=broadcast", "--echo"]);
    let mut listener = connect(&server.url("/room")).await;
    let url = server.url("/room");
    let finished = tokio::task::spawn_blocking(move || wscat(&url, &["hi from wscat"]))
        .await
        .expect("wscat thread");
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    // A sender does not hear its own broadcast.
    assert_eq!(finished.stdout, "");
    assert_eq!(next_text(&mut listener).await, "hi from wscat");
    close(listener).await;
}

/// Sends a WebSocket opening handshake for `path` with extra header
/// lines and returns the answer's head (the connection stays open after a
/// 101, so it is read up to the blank line only).
fn handshake_head(addr: std::net::SocketAddr, path: &str, extra: &str) -> String {
    use std::io::{Read, Write};
    let mut tcp = std::net::TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(TIMEOUT)).expect("read timeout");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n{extra}\r\n"
    );
    tcp.write_all(request.as_bytes()).expect("write request");
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        match tcp.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            Ok(_) => break,
            Err(e) => panic!("reading the answer failed: {e}; so far {head:?}"),
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

#[test]
fn extra_headers_are_on_the_101_the_refusals_and_the_console() {
    let server = Serve::start(&[
        "--route",
        "/chat=echo",
        "--header",
        "X-Served-By: sockeye",
        "--header",
        "Cache-Control:max-age=60",
    ]);
    let opened = handshake_head(server.addr, "/chat", "").to_ascii_lowercase();
    assert!(opened.starts_with("http/1.1 101"), "{opened}");
    assert!(opened.contains("\r\nx-served-by: sockeye\r\n"), "{opened}");

    let refused = raw_exchange(server.addr, &upgrade_request("/nowhere")).to_ascii_lowercase();
    assert!(refused.starts_with("http/1.1 404"), "{refused}");
    assert!(
        refused.contains("\r\nx-served-by: sockeye\r\n"),
        "{refused}"
    );

    let page = raw_exchange(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .to_ascii_lowercase();
    assert!(page.starts_with("http/1.1 200"), "{page}");
    assert!(page.contains("\r\nx-served-by: sockeye\r\n"), "{page}");
    // A header of the same name replaces the console's own.
    assert!(page.contains("\r\ncache-control: max-age=60\r\n"), "{page}");
    assert!(!page.contains("no-store"), "{page}");
}

#[test]
fn a_malformed_header_is_a_usage_error() {
    let finished = run(&["serve", "127.0.0.1:0", "--header", "no colon here"]);
    assert_usage_error(&finished, "NAME:VALUE");
}

#[test]
fn websocketd_origin_spellings_are_accepted() {
    // A host alone allows it over http and https; the documented
    // spelling, --allow-origin, takes full origins; both take lists.
    let server = Serve::start(&[
        "--origin",
        "example.com,localhost:8080",
        "--allow-origin",
        "https://app.example.org",
    ]);
    for allowed in [
        "http://example.com",
        "https://example.com",
        "http://localhost:8080",
        "https://app.example.org",
    ] {
        let head = handshake_head(server.addr, "/", &format!("Origin: {allowed}\r\n"));
        assert!(head.starts_with("HTTP/1.1 101"), "{allowed}: {head}");
    }
    for refused in [
        "http://evil.example",
        "http://localhost:9090",
        "http://app.example.org",
    ] {
        let head = handshake_head(server.addr, "/", &format!("Origin: {refused}\r\n"));
        assert!(head.starts_with("HTTP/1.1 403"), "{refused}: {head}");
    }
}

#[test]
fn same_origin_lets_in_only_pages_of_this_server() {
    for flag in ["--same-origin", "--sameorigin"] {
        let server = Serve::start(&[flag]);
        let own = format!("Origin: http://{}\r\n", server.addr);
        let head = handshake_head(server.addr, "/", &own);
        assert!(head.starts_with("HTTP/1.1 101"), "{flag}: {head}");
        let head = handshake_head(server.addr, "/", "Origin: http://evil.example\r\n");
        assert!(head.starts_with("HTTP/1.1 403"), "{flag}: {head}");
        // Programs other than browsers send no Origin.
        let head = handshake_head(server.addr, "/", "");
        assert!(head.starts_with("HTTP/1.1 101"), "{flag}: {head}");
    }
}

#[tokio::test]
async fn extra_headers_are_on_refusals_for_a_limit() {
    let server = Serve::start(&["--max-connections", "1", "--header", "X-Served-By:sockeye"]);
    let held = connect(&server.url("/")).await;
    let addr = server.addr;
    let refused = tokio::task::spawn_blocking(move || raw_exchange(addr, &upgrade_request("/")))
        .await
        .expect("request thread")
        .to_ascii_lowercase();
    assert!(refused.starts_with("http/1.1 503"), "{refused}");
    assert!(
        refused.contains("\r\nx-served-by: sockeye\r\n"),
        "{refused}"
    );
    close(held).await;
}

/// A throwaway certificate for `localhost` in PEM files under `dir`; the
/// DER certificate, to trust it.
fn tls_files(dir: &std::path::Path) -> sockeye::pki_types::CertificateDer<'static> {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("cert.pem"), made.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), made.signing_key.serialize_pem()).unwrap();
    made.cert.der().clone()
}

#[tokio::test]
async fn routes_and_headers_over_wss_work_over_http2_and_http1() {
    let dir = std::env::temp_dir().join(format!("sockeye-routes-tls-{}", std::process::id()));
    let cert = tls_files(&dir);
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    let server = Serve::start(&[
        "--tls-cert",
        cert_path.to_str().unwrap(),
        "--tls-key",
        key_path.to_str().unwrap(),
        "--route",
        "/room=broadcast",
        "--route",
        "/echo=echo",
        "--header",
        "X-Served-By:sockeye",
    ]);
    for http2 in [true, false] {
        let open = |path: &str| {
            let url = format!("wss://localhost:{}{path}", server.addr.port());
            let client = sockeye::ClientBuilder::new(url)
                .add_root_certificate(cert.clone())
                .http2(http2);
            async move {
                let (ws, response) = tokio::time::timeout(TIMEOUT, client.connect())
                    .await
                    .expect("connect in time")
                    .expect("connect");
                assert_eq!(ws.get_ref().is_http2(), http2);
                assert_eq!(response.status(), if http2 { 200 } else { 101 });
                assert_eq!(
                    response
                        .headers()
                        .get("x-served-by")
                        .map(http::HeaderValue::as_bytes),
                    Some(&b"sockeye"[..])
                );
                ws
            }
        };
        let mut echoed = open("/echo").await;
        send(&mut echoed, "over tls").await;
        assert_eq!(next_text(&mut echoed).await, "over tls");
        let mut first = open("/room").await;
        let mut second = open("/room").await;
        send(&mut first, "to the room").await;
        assert_eq!(next_text(&mut second).await, "to the room");
        let refused =
            sockeye::ClientBuilder::new(format!("wss://localhost:{}/nowhere", server.addr.port()))
                .add_root_certificate(cert.clone())
                .http2(http2)
                .connect()
                .await;
        assert!(refused.is_err(), "a path without a route was accepted");
        for ws in [echoed, first, second] {
            tokio::time::timeout(TIMEOUT, ws_close(ws))
                .await
                .expect("close in time");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

async fn ws_close(mut ws: Client) {
    ws.close(CloseCode::NORMAL, "").await.expect("close");
}

#[tokio::test]
async fn sigterm_closes_routed_http2_sockets_with_1001_and_exits() {
    let dir = std::env::temp_dir().join(format!("sockeye-routes-h2-term-{}", std::process::id()));
    let cert = tls_files(&dir);
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    let mut server = Serve::start(&[
        "--tls-cert",
        cert_path.to_str().unwrap(),
        "--tls-key",
        key_path.to_str().unwrap(),
        "--route",
        "/a=echo",
        "--route",
        "/b=broadcast",
    ]);
    let url = format!("wss://localhost:{}/a", server.addr.port());
    let (mut ws, _) = tokio::time::timeout(
        TIMEOUT,
        sockeye::ClientBuilder::new(url)
            .add_root_certificate(cert)
            .http2(true)
            .connect(),
    )
    .await
    .expect("connect in time")
    .expect("connect");
    assert!(ws.get_ref().is_http2());
    send(&mut ws, "open").await;
    assert_eq!(next_text(&mut ws).await, "open");
    server.child.signal("TERM");
    let end = tokio::time::timeout(TIMEOUT, ws.next())
        .await
        .expect("closed in time");
    assert!(end.is_none(), "expected the end, got {end:?}");
    assert_eq!(
        ws.close_frame().map(|f| f.code),
        Some(CloseCode::GOING_AWAY)
    );
    let status = server.child.try_wait_for_async(TIMEOUT).await;
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_silent_http2_client_of_a_routed_server_is_dropped() {
    use sockeye::rustls;
    let dir = std::env::temp_dir().join(format!("sockeye-routes-h2-silent-{}", std::process::id()));
    let cert = tls_files(&dir);
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    let server = Serve::start(&[
        "--tls-cert",
        cert_path.to_str().unwrap(),
        "--tls-key",
        key_path.to_str().unwrap(),
        "--route",
        "/a=echo",
        "--handshake-timeout",
        "0.5",
    ]);
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = sockeye::tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let name = sockeye::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = tokio::time::timeout(TIMEOUT, connector.connect(name, tcp))
        .await
        .expect("tls in time")
        .expect("tls");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    // Nothing sent: the server closes once the handshake timeout is over.
    let mut sink = Vec::new();
    let read = tokio::time::timeout(
        TIMEOUT,
        tokio::io::AsyncReadExt::read_to_end(&mut tls, &mut sink),
    )
    .await;
    assert!(read.is_ok(), "the silent connection was kept open");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn exec_routes_forks_and_origins_are_enforced_over_http2() {
    let dir = std::env::temp_dir().join(format!("sockeye-routes-h2-{}", std::process::id()));
    let cert = tls_files(&dir);
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    let server = Serve::start(&[
        "--tls-cert",
        cert_path.to_str().unwrap(),
        "--tls-key",
        key_path.to_str().unwrap(),
        "--route",
        "/sh=exec:cat",
        "--route",
        "/=echo",
        "--max-forks",
        "1",
        "--same-origin",
    ]);
    let client = |path: &str| {
        let url = format!("wss://localhost:{}{path}", server.addr.port());
        sockeye::ClientBuilder::new(url)
            .add_root_certificate(cert.clone())
            .http2(true)
    };
    let connect = |builder: sockeye::ClientBuilder| async move {
        tokio::time::timeout(TIMEOUT, builder.connect())
            .await
            .expect("connect in time")
    };
    let (mut program, _) = connect(client("/sh")).await.expect("connect to /sh");
    assert!(program.get_ref().is_http2());
    send(&mut program, "to cat over h2").await;
    assert_eq!(next_text(&mut program).await, "to cat over h2");
    // A second program would pass --max-forks.
    let refused = connect(client("/sh")).await.expect_err("a second program");
    assert!(format!("{refused:?}").contains("503"), "{refused:?}");
    // Another site's page, under --same-origin.
    let foreign = client("/").header("Origin", "https://elsewhere.example");
    let refused = connect(foreign).await.expect_err("another site's page");
    assert!(format!("{refused:?}").contains("403"), "{refused:?}");
    let port = server.addr.port();
    let own = client("/").header("Origin", format!("https://localhost:{port}"));
    let (mut echoed, _) = connect(own).await.expect("this site's page");
    send(&mut echoed, "same origin").await;
    assert_eq!(next_text(&mut echoed).await, "same origin");
    for ws in [program, echoed] {
        tokio::time::timeout(TIMEOUT, ws_close(ws))
            .await
            .expect("close in time");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn dir_serves_the_paths_no_route_matches() {
    let dir = scratch("dir");
    script(
        &dir,
        "count.sh",
        "echo \"count $SCRIPT_NAME $PATH_INFO\"; cat",
    );
    let server = Serve::start(&[
        "--route",
        "/echo=echo",
        "--dir",
        dir.to_str().expect("a UTF-8 path"),
    ]);
    let mut program = connect(&server.url("/count.sh/more")).await;
    assert_eq!(next_text(&mut program).await, "count /count.sh /more");
    let mut echoed = connect(&server.url("/echo")).await;
    send(&mut echoed, "echo here").await;
    assert_eq!(next_text(&mut echoed).await, "echo here");
    let answer = raw_exchange(server.addr, &upgrade_request("/missing.sh"));
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    close(program).await;
    close(echoed).await;
}
