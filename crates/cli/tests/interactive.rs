//! The interactive mode of `sockeye connect`, driven through a real
//! terminal: a tmux server on a private socket, keys sent with
//! `send-keys`, the screen read with `capture-pane`.

mod support;

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sockeye::Message;
use support::{BIN, OneShot, Serve, TIMEOUT, peer_tool};

/// A tmux server of its own running `sockeye connect`, killed (with its
/// `kill-server`) when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// Runs `sockeye connect URL ARGS...` in a 120×40 terminal; when it
    /// exits, its status is printed and the pane stays.
    fn start(url: &str, args: &[&str], env: &[(&str, &str)]) -> Tmux {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let socket = format!(
            "sockeye-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let mut line = format!("'{BIN}' connect '{url}'");
        for arg in args {
            line.push_str(" '");
            line.push_str(arg);
            line.push('\'');
        }
        line.push_str("; echo \"exit status $?\"; sleep 60");
        let mut command = Command::new(peer_tool("tmux"));
        command
            .args(["-L", &socket, "-f", "/dev/null"])
            .args(["new-session", "-d", "-x", "120", "-y", "40", &line])
            .env_remove("RUST_LOG")
            .env_remove("NO_COLOR")
            .env_remove("TMUX");
        for proxy in ["http", "https", "all", "no"] {
            command
                .env_remove(format!("{proxy}_proxy"))
                .env_remove(format!("{}_PROXY", proxy.to_uppercase()));
        }
        for (name, value) in env {
            command.env(name, value);
        }
        let status = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run tmux");
        assert!(status.success(), "tmux new-session failed");
        Tmux { socket }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let output = Command::new(peer_tool("tmux"))
            .args(["-L", &self.socket])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run tmux");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Types `text` (literally), or presses keys such as `Enter`, `Up`,
    /// `C-d`.
    fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-l", text]);
    }

    fn press(&self, key: &str) {
        self.tmux(&["send-keys", key]);
    }

    /// What the terminal shows, with colours (`-e`) if asked.
    fn screen(&self, escapes: bool) -> String {
        if escapes {
            self.tmux(&["capture-pane", "-p", "-e"])
        } else {
            self.tmux(&["capture-pane", "-p"])
        }
    }

    /// Waits until the screen satisfies `ready`; returns it.
    fn wait_for(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let screen = self.screen(false);
            if ready(&screen) {
                return screen;
            }
            assert!(Instant::now() < deadline, "no {what} on screen:\n{screen}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for an empty prompt on the last line: the editor reads
    /// again (keys typed before that may be dropped as it takes the
    /// terminal back).
    fn wait_for_prompt(&self) {
        self.wait_for("an empty prompt", |screen| {
            screen.lines().rev().find(|l| !l.trim().is_empty()) == Some(">")
        });
    }

    /// Presses Enter, then waits for the next prompt.
    fn enter(&self) {
        self.press("Enter");
        self.wait_for_prompt();
    }

    fn wait_for_text(&self, text: &str) -> String {
        self.wait_for(text, |screen| screen.contains(text))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

/// The number of lines of `screen` that are exactly `line`.
fn count_lines(screen: &str, line: &str) -> usize {
    screen.lines().filter(|l| l.trim_end() == line).count()
}

#[test]
fn typed_lines_are_sent_and_history_recalls_them() {
    let server = Serve::start(&[]);
    let tmux = Tmux::start(&server.url("/"), &[], &[("NO_COLOR", "1")]);
    tmux.wait_for_text("connected");
    tmux.wait_for_prompt();
    tmux.type_text("hello there");
    tmux.enter();
    tmux.wait_for_text("< hello there");
    tmux.type_text("second");
    tmux.enter();
    tmux.wait_for_text("< second");
    // Up twice: the first line again, sent as it was.
    tmux.press("Up");
    tmux.press("Up");
    tmux.enter();
    let screen = tmux.wait_for("the recalled line echoed", |s| {
        count_lines(s, "< hello there") == 2
    });
    assert_eq!(count_lines(&screen, "> hello there"), 2, "{screen}");
    tmux.press("C-d");
    let screen = tmux.wait_for_text("exit status");
    assert!(screen.contains("closing with 1000"), "{screen}");
    assert!(screen.contains("* closed with 1000"), "{screen}");
    assert!(screen.contains("exit status 0"), "{screen}");
}

#[test]
fn a_message_arriving_mid_line_leaves_the_line_being_typed() {
    let (go, go_rx) = mpsc::channel::<()>();
    let server = OneShot::start(move |tcp| async move {
        let mut ws = sockeye::accept(tcp).await.expect("accept");
        tokio::task::spawn_blocking(move || go_rx.recv_timeout(TIMEOUT))
            .await
            .expect("join")
            .expect("the test said go");
        ws.send(Message::text("surprise")).await.expect("send");
        let mut got = Vec::new();
        while let Some(message) = tokio::time::timeout(TIMEOUT, ws.next())
            .await
            .expect("the client went quiet")
        {
            got.push(message.expect("receive"));
        }
        (got, ws.close_frame().map(|f| f.code.as_u16()))
    });
    let tmux = Tmux::start(&server.url("/"), &["--no-color"], &[]);
    tmux.wait_for_text("connected");
    tmux.wait_for_prompt();
    tmux.type_text("half a li");
    tmux.wait_for_text("> half a li");
    go.send(()).expect("the server waits");
    let screen = tmux.wait_for_text("< surprise");
    // The message sits above the prompt, and the typing goes on below it.
    let lines: Vec<&str> = screen.lines().map(str::trim_end).collect();
    let message = lines
        .iter()
        .position(|l| *l == "< surprise")
        .expect("message");
    let prompt = lines
        .iter()
        .position(|l| *l == "> half a li")
        .expect("prompt");
    assert!(message < prompt, "{screen}");
    tmux.type_text("ne");
    tmux.enter();
    tmux.type_text("/close 4000 done here");
    tmux.press("Enter");
    let screen = tmux.wait_for_text("exit status");
    assert!(screen.contains("exit status 3"), "{screen}");
    let (got, code) = server.join();
    assert_eq!(got, [Message::text("half a line")]);
    assert_eq!(code, Some(4000));
}

#[test]
fn slash_commands_ping_binary_help_and_close() {
    let server = Serve::start(&[]);
    let tmux = Tmux::start(&server.url("/"), &[], &[("NO_COLOR", "1")]);
    tmux.wait_for_text("connected");
    tmux.wait_for_prompt();
    tmux.type_text("/help");
    tmux.enter();
    tmux.wait_for_text("/binary HEX");
    tmux.type_text("/ping are you there");
    tmux.enter();
    tmux.wait_for_text("pong after");
    tmux.type_text("/binary 00 ff 7f");
    tmux.enter();
    tmux.wait_for_text("< [binary, 3 bytes] 00ff7f");
    tmux.type_text("/binary xyz");
    tmux.enter();
    tmux.wait_for_text("! /binary: expected hex digits");
    tmux.type_text("//slash");
    tmux.enter();
    tmux.wait_for_text("< /slash");
    tmux.type_text("/close 4001 bye");
    tmux.press("Enter");
    let screen = tmux.wait_for_text("exit status");
    assert!(screen.contains("closed with 4001 \"bye\""), "{screen}");
    assert!(screen.contains("exit status 3"), "{screen}");
}

#[test]
fn quit_leaves_at_once_with_status_0() {
    let server = Serve::start(&[]);
    let tmux = Tmux::start(&server.url("/"), &[], &[("NO_COLOR", "1")]);
    tmux.wait_for_text("connected");
    tmux.wait_for_prompt();
    tmux.type_text("/quit");
    tmux.press("Enter");
    let screen = tmux.wait_for_text("exit status");
    assert!(screen.contains("exit status 0"), "{screen}");
}

#[test]
fn ctrl_c_twice_quits_with_130() {
    let server = Serve::start(&[]);
    let tmux = Tmux::start(&server.url("/"), &[], &[("NO_COLOR", "1")]);
    tmux.wait_for_text("connected");
    tmux.wait_for_prompt();
    tmux.press("C-c");
    tmux.wait_for_text("press Ctrl-C again");
    tmux.press("C-c");
    let screen = tmux.wait_for_text("exit status");
    assert!(screen.contains("exit status 130"), "{screen}");
}

#[test]
fn received_lines_are_coloured_unless_no_color() {
    let server = Serve::start(&[]);
    let tmux = Tmux::start(&server.url("/"), &[], &[]);
    tmux.wait_for_text("connected");
    tmux.wait_for_prompt();
    tmux.type_text("tinted");
    tmux.enter();
    tmux.wait_for_text("< tinted");
    let screen = tmux.screen(true);
    let line = screen
        .lines()
        .find(|l| l.contains("< tinted"))
        .expect("the line");
    assert!(line.contains("\u{1b}["), "no colour: {line:?}");
    drop(tmux);

    for (args, env) in [
        (&["--no-color"][..], &[][..]),
        (&[][..], &[("NO_COLOR", "1")][..]),
    ] {
        let tmux = Tmux::start(&server.url("/"), args, env);
        tmux.wait_for_text("connected");
        tmux.wait_for_prompt();
        tmux.type_text("plain");
        tmux.enter();
        tmux.wait_for_text("< plain");
        let screen = tmux.screen(true);
        let line = screen
            .lines()
            .find(|l| l.contains("< plain"))
            .expect("the line");
        assert!(!line.contains("\u{1b}["), "{args:?} {env:?}: {line:?}");
    }
}

/// With --jsonrpc, typed requests (in full, or as `METHOD PARAMS`) and
/// their answers are shown as JSON-RPC lines, each answer with the
/// method of its request.
#[test]
fn jsonrpc_shows_calls_and_answers_with_their_method() {
    let server = OneShot::start(|tcp| async move {
        let ws = sockeye::accept(tcp).await.expect("accept");
        let mut methods = sockeye_rpc::Methods::<()>::new();
        methods.sync_method("subtract", |_, (a, b): (i64, i64)| {
            Ok::<_, sockeye_rpc::ErrorObject>(a - b)
        });
        let peer = sockeye_rpc::spawn(ws, methods, (), sockeye_rpc::Config::default());
        peer.closed().await
    });
    let tmux = Tmux::start(&server.url("/"), &["--jsonrpc"], &[("NO_COLOR", "1")]);
    tmux.wait_for_text("connected");
    tmux.wait_for_prompt();
    tmux.type_text("subtract [42, 23]");
    tmux.enter();
    tmux.wait_for_text("> call #1 subtract [42,23]");
    tmux.wait_for_text("< result #1 subtract 19 (");
    tmux.type_text(r#"{"jsonrpc":"2.0","method":"nope","id":"x"}"#);
    tmux.enter();
    tmux.wait_for_text(r#"< error #"x" nope -32601 "Method not found" ("#);
    tmux.press("C-d");
    let screen = tmux.wait_for_text("exit status");
    assert!(screen.contains("exit status 0"), "{screen}");
    server.join();
}
