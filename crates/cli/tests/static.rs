//! End-to-end tests of `sockeye serve --static DIR`: files for plain HTTP
//! requests on the WebSocket port, upgrades still to the routes.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use futures_util::StreamExt;
use sockeye::{CloseCode, Message};
use support::{Running, Serve, TIMEOUT, peer_tool, raw_exchange, run};

/// A directory of files to serve, inside a parent that also holds a
/// secret no request may reach; removed when dropped.
struct Site {
    parent: PathBuf,
    root: PathBuf,
}

impl Site {
    fn new(name: &str, with_index: bool) -> Self {
        let parent =
            std::env::temp_dir().join(format!("sockeye-static-{name}-{}", std::process::id()));
        let root = parent.join("www");
        std::fs::create_dir_all(root.join("sub")).expect("create the site");
        std::fs::write(parent.join("secret.txt"), "the secret\n").expect("write secret");
        std::fs::write(root.join("style.css"), "body { color: teal }\n").expect("write css");
        std::fs::write(root.join("data.bin"), b"0123456789").expect("write data");
        std::fs::write(root.join("sub/index.html"), "<p>the sub index</p>\n").expect("write sub");
        if with_index {
            std::fs::write(root.join("index.html"), "<p>the site index</p>\n").expect("write");
        }
        Site { parent, root }
    }

    fn root(&self) -> &str {
        self.root.to_str().expect("a utf-8 path")
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.parent);
    }
}

/// A GET (or other `method`) of `target` with extra header lines, on a
/// connection closed after the answer; returns the status line, the head
/// and the body.
fn request(addr: std::net::SocketAddr, method: &str, target: &str, extra: &str) -> Answer {
    let text = format!(
        "{method} {target} HTTP/1.1\r\nHost: localhost\r\n{extra}Connection: close\r\n\r\n"
    );
    let answer = raw_exchange(addr, text.as_bytes());
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {answer:?}"));
    Answer {
        status: head.lines().next().unwrap_or_default().to_owned(),
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

#[derive(Debug)]
struct Answer {
    status: String,
    head: String,
    body: String,
}

impl Answer {
    fn assert_status(&self, code: u16) {
        assert!(
            self.status.starts_with(&format!("HTTP/1.1 {code}")),
            "expected {code}: {self:?}"
        );
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (field, value) = line.split_once(':')?;
            field.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

#[test]
fn files_are_served_with_their_content_type_and_index_html() {
    let site = Site::new("types", true);
    let server = Serve::start(&["--static", site.root()]);

    let css = request(server.addr, "GET", "/style.css", "");
    css.assert_status(200);
    assert_eq!(css.header("content-type"), Some("text/css"), "{css:?}");
    assert_eq!(css.body, "body { color: teal }\n");

    let index = request(server.addr, "GET", "/", "");
    index.assert_status(200);
    assert!(
        index
            .header("content-type")
            .unwrap_or("")
            .starts_with("text/html"),
        "{index:?}"
    );
    assert_eq!(index.body, "<p>the site index</p>\n");

    let sub = request(server.addr, "GET", "/sub/", "");
    sub.assert_status(200);
    assert_eq!(sub.body, "<p>the sub index</p>\n");

    let head = request(server.addr, "HEAD", "/style.css", "");
    head.assert_status(200);
    assert_eq!(head.header("content-length"), Some("21"), "{head:?}");
    assert_eq!(head.body, "");

    request(server.addr, "GET", "/missing.txt", "").assert_status(404);
    request(server.addr, "POST", "/style.css", "Content-Length: 0\r\n").assert_status(405);
}

#[test]
fn ranges_and_conditional_requests_are_answered() {
    let site = Site::new("ranges", true);
    let server = Serve::start(&["--static", site.root()]);

    let part = request(server.addr, "GET", "/data.bin", "Range: bytes=2-5\r\n");
    part.assert_status(206);
    assert_eq!(
        part.header("content-range"),
        Some("bytes 2-5/10"),
        "{part:?}"
    );
    assert_eq!(part.body, "2345");

    let whole = request(server.addr, "GET", "/data.bin", "");
    whole.assert_status(200);
    let modified = whole
        .header("last-modified")
        .unwrap_or_else(|| panic!("no last-modified: {whole:?}"))
        .to_owned();
    let unchanged = request(
        server.addr,
        "GET",
        "/data.bin",
        &format!("If-Modified-Since: {modified}\r\n"),
    );
    unchanged.assert_status(304);
    assert_eq!(unchanged.body, "");
}

#[test]
fn no_path_reaches_outside_the_directory() {
    let site = Site::new("traversal", true);
    let server = Serve::start(&["--static", site.root()]);
    assert!(
        Path::new(&site.parent).join("secret.txt").exists(),
        "the secret is there to be found"
    );
    for target in [
        "/../secret.txt",
        "/sub/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/sub/%2e%2e/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/sub/..%2f..%2fsecret.txt",
        "/..%5csecret.txt",
        "/%2e%2e%5csecret.txt",
        "//../secret.txt",
    ] {
        let answer = request(server.addr, "GET", target, "");
        assert!(
            !answer.body.contains("the secret"),
            "{target} reached outside the directory: {answer:?}"
        );
        assert!(
            !answer.status.starts_with("HTTP/1.1 2"),
            "{target} was answered {answer:?}"
        );
    }
}

#[test]
fn the_console_stays_at_the_root_unless_the_directory_has_an_index() {
    let site = Site::new("console", false);
    let server = Serve::start(&["--static", site.root()]);
    let root = request(server.addr, "GET", "/", "");
    root.assert_status(200);
    assert!(
        root.body.contains("new WebSocket("),
        "not the console: {root:?}"
    );
    request(server.addr, "GET", "/style.css", "").assert_status(200);
    request(server.addr, "GET", "/nothing-here", "").assert_status(404);

    let quiet = Serve::start(&["--static", site.root(), "--no-console"]);
    request(quiet.addr, "GET", "/", "").assert_status(404);
}

#[test]
fn a_static_directory_that_cannot_be_read_is_a_usage_error() {
    let missing = std::env::temp_dir().join(format!("sockeye-static-none-{}", std::process::id()));
    let finished = run(&[
        "serve",
        "127.0.0.1:0",
        "--static",
        missing.to_str().expect("utf-8"),
    ]);
    assert_eq!(finished.code(), Some(2), "{finished:?}");
    assert!(
        finished.one_stderr_line().contains("cannot serve --static"),
        "{finished:?}"
    );
}

async fn connect(url: &str) -> sockeye::WebSocket<sockeye::ClientStream> {
    tokio::time::timeout(TIMEOUT, sockeye::connect(url))
        .await
        .expect("connect timed out")
        .unwrap_or_else(|e| panic!("connect to {url}: {e:?}"))
}

async fn next_text(ws: &mut sockeye::WebSocket<sockeye::ClientStream>) -> String {
    let message = tokio::time::timeout(TIMEOUT, ws.next())
        .await
        .expect("no message in time")
        .expect("a message")
        .expect("no error");
    message.as_text().expect("text").to_owned()
}

#[tokio::test]
async fn websocket_requests_still_go_to_their_routes() {
    let site = Site::new("routes", true);
    let server = Serve::start(&[
        "--static",
        site.root(),
        "--route",
        "/chat=broadcast",
        "--route",
        "/echo=echo",
    ]);
    let mut echoed = connect(&server.url("/echo")).await;
    echoed.send(Message::text("back")).await.expect("send");
    assert_eq!(next_text(&mut echoed).await, "back");

    let mut first = connect(&server.url("/chat")).await;
    let mut second = connect(&server.url("/chat")).await;
    first.send(Message::text("to all")).await.expect("send");
    assert_eq!(next_text(&mut second).await, "to all");

    let refused = sockeye::connect(&server.url("/nowhere")).await;
    assert!(refused.is_err(), "a path without a route was accepted");

    // The files are still there on the same port.
    let addr = server.addr;
    let css = tokio::task::spawn_blocking(move || request(addr, "GET", "/style.css", ""))
        .await
        .expect("request thread");
    css.assert_status(200);

    for mut ws in [echoed, first, second] {
        tokio::time::timeout(TIMEOUT, ws.close(CloseCode::NORMAL, ""))
            .await
            .expect("close in time")
            .expect("close");
        assert_eq!(ws.close_frame().map(|f| f.code), Some(CloseCode::NORMAL));
    }
}

#[tokio::test]
async fn exec_serves_upgrades_and_static_serves_plain_gets_on_one_port() {
    let site = Site::new("exec", true);
    let script = site.parent.join("hello.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\necho \"hello $REMOTE_ADDR $PATH_INFO\"\ncat\n",
    )
    .expect("write the script");
    let status = Command::new("chmod")
        .arg("755")
        .arg(&script)
        .status()
        .expect("chmod");
    assert!(status.success());
    let server = Serve::start(&[
        "--static",
        site.root(),
        "--exec",
        script.to_str().expect("a utf-8 path"),
    ]);
    let mut ws = connect(&server.url("/style.css")).await;
    assert_eq!(next_text(&mut ws).await, "hello 127.0.0.1 /style.css");
    ws.send(Message::text("to the program"))
        .await
        .expect("send");
    assert_eq!(next_text(&mut ws).await, "to the program");

    let addr = server.addr;
    let css = tokio::task::spawn_blocking(move || request(addr, "GET", "/style.css", ""))
        .await
        .expect("request thread");
    css.assert_status(200);
    assert_eq!(css.body, "body { color: teal }\n");

    tokio::time::timeout(TIMEOUT, ws.close(CloseCode::NORMAL, ""))
        .await
        .expect("close in time")
        .expect("close");
}

#[test]
fn wscat_is_echoed_by_a_server_with_static_files() {
    let site = Site::new("wscat", true);
    let server = Serve::start(&["--static", site.root()]);
    let mut command = Command::new(peer_tool("wscat"));
    command.args(["--no-color", "-c", &server.url("/"), "-w", "1"]);
    command.args(["-x", "first", "-x", "second"]);
    let finished = Running::spawn(command).finish();
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    assert_eq!(finished.stdout, "first\nsecond\n");
    // And the page is still served.
    request(server.addr, "GET", "/", "").assert_status(200);
}

#[tokio::test]
async fn sigterm_closes_websockets_of_a_static_server_with_1001() {
    let site = Site::new("sigterm", true);
    let mut server = Serve::start(&["--static", site.root()]);
    let mut ws = connect(&server.url("/")).await;
    ws.send(Message::text("open")).await.expect("send");
    assert_eq!(next_text(&mut ws).await, "open");
    server.child.signal("TERM");
    let end = tokio::time::timeout(TIMEOUT, ws.next())
        .await
        .expect("the server closed in time");
    assert!(end.is_none(), "expected the end of the stream, got {end:?}");
    assert_eq!(
        ws.close_frame().map(|f| f.code),
        Some(CloseCode::GOING_AWAY)
    );
    let status = server.child.try_wait_for_async(TIMEOUT).await;
    assert_eq!(status.and_then(|s| s.code()), Some(0));
}

#[test]
fn extra_headers_are_on_files_and_refusals() {
    let site = Site::new("headers", true);
    let server = Serve::start(&[
        "--static",
        site.root(),
        "--route",
        "/chat=echo",
        "--header",
        "X-Served-By: sockeye",
    ]);
    for (method, target) in [("GET", "/style.css"), ("GET", "/missing"), ("POST", "/")] {
        let answer = request(server.addr, method, target, "Content-Length: 0\r\n");
        assert_eq!(
            answer.header("x-served-by"),
            Some("sockeye"),
            "{method} {target}: {answer:?}"
        );
    }
    let refused = request(
        server.addr,
        "GET",
        "/nowhere",
        "Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n",
    );
    // `Connection: close` instead of `Upgrade`: refused as malformed.
    refused.assert_status(400);
    assert_eq!(
        refused.header("x-served-by"),
        Some("sockeye"),
        "{refused:?}"
    );
}

#[test]
fn server_answers_404_for_a_link_to_a_file_outside_the_directory() {
    let site = Site::new("link-file-out", true);
    std::os::unix::fs::symlink(site.parent.join("secret.txt"), site.root.join("leak.txt"))
        .expect("link out");
    let server = Serve::start(&["--static", site.root()]);
    for (method, target) in [
        ("GET", "/leak.txt"),
        ("HEAD", "/leak.txt"),
        ("GET", "/%6Ceak.txt"),
        ("GET", "/./leak.txt"),
        ("GET", "/leak.txt?x=1"),
    ] {
        let answer = request(server.addr, method, target, "");
        answer.assert_status(404);
        assert!(!answer.body.contains("the secret"), "{target}: {answer:?}");
    }
}

#[test]
fn server_answers_404_below_a_link_to_a_directory_outside() {
    let site = Site::new("link-dir-out", true);
    let outside = site.parent.join("outside");
    std::fs::create_dir_all(&outside).expect("create outside");
    std::fs::write(outside.join("private.txt"), "private\n").expect("write private");
    std::fs::write(outside.join("index.html"), "<p>private index</p>\n").expect("write index");
    std::os::unix::fs::symlink(&outside, site.root.join("elsewhere")).expect("link out");
    let server = Serve::start(&["--static", site.root()]);
    for target in [
        "/elsewhere/private.txt",
        "/elsewhere/",
        "/elsewhere",
        "/elsewhere/%70rivate.txt",
    ] {
        let answer = request(server.addr, "GET", target, "");
        answer.assert_status(404);
        assert!(!answer.body.contains("private"), "{target}: {answer:?}");
    }
}

#[test]
fn server_serves_a_link_that_stays_inside_the_directory() {
    let site = Site::new("link-in", true);
    std::os::unix::fs::symlink("style.css", site.root.join("alias.css")).expect("link in");
    std::os::unix::fs::symlink(site.root.join("sub"), site.root.join("again")).expect("link in");
    let server = Serve::start(&["--static", site.root()]);
    let alias = request(server.addr, "GET", "/alias.css", "");
    alias.assert_status(200);
    assert_eq!(alias.body, "body { color: teal }\n");
    let again = request(server.addr, "GET", "/again/", "");
    again.assert_status(200);
    assert_eq!(again.body, "<p>the sub index</p>\n");
}

#[test]
fn server_serves_a_directory_given_through_a_link() {
    let site = Site::new("link-root", true);
    let linked = site.parent.join("linked-www");
    std::os::unix::fs::symlink(&site.root, &linked).expect("link the root");
    let server = Serve::start(&["--static", linked.to_str().expect("a utf-8 path")]);
    let css = request(server.addr, "GET", "/style.css", "");
    css.assert_status(200);
    assert_eq!(css.body, "body { color: teal }\n");
}
