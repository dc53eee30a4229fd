//! Interactive mode, when stdin and stdout are terminals: a prompt with
//! line editing and history (rustyline), messages received printed above
//! it, and slash commands.

use std::fmt::Write as _;
use std::time::Duration;

use rustyline::error::ReadlineError;
use rustyline::{DefaultEditor, ExternalPrinter};
use sockeye::{ClientStream, CloseCode, CloseFrame, Incoming, Message, WebSocket, WebSocketWriter};
use tokio::sync::mpsc;

use super::exit::Outcome;
use super::jsonrpc::{Direction, Kind, Seen, Tracker};
use super::session::{flush, start_close_with};
use crate::describe;

/// The prompt; what was typed stays after it on screen, so `>` marks what
/// was sent and `<` what was received.
const PROMPT: &str = "> ";

/// How long the editor is given to print the last messages before the
/// session ends: it shows them only between keys, from its own thread.
const LAST_PRINTS: Duration = Duration::from_millis(50);

/// Lines typed ahead of the sender; a person types slowly, a paste may
/// hold many lines.
const TYPED_AHEAD: usize = 64;

/// The commands, for `/help`.
const HELP: &str = "\
/ping [TEXT]              send a Ping; its round-trip time is shown when the Pong comes
/close [CODE [REASON]]     close with CODE (default 1000) and REASON
/binary HEX               send a binary message (hex digits, spaces allowed)
/quit                     close with 1000 and leave at once
/help                     this list
//TEXT                    send /TEXT
Ctrl-D closes with 1000; Ctrl-C twice quits.";

/// What the editor thread reports.
#[derive(Debug)]
enum Typed {
    Line(String),
    /// Ctrl-D on an empty line.
    End,
    /// Ctrl-C.
    Interrupt,
}

/// Whether the session should be interactive: stdin and stdout are
/// terminals.
pub(super) fn wanted() -> bool {
    use std::io::IsTerminal as _;
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// Prints above the prompt.
struct Screen {
    printer: Box<dyn ExternalPrinter + Send>,
    color: bool,
}

impl std::fmt::Debug for Screen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Screen")
            .field("color", &self.color)
            .finish_non_exhaustive()
    }
}

impl Screen {
    fn line(&mut self, marker: &str, color: &str, text: &str) {
        // With its newline: between two prompts the printer writes as it is.
        let line = if self.color {
            format!("\x1b[{color}m{marker}{text}\x1b[0m\n")
        } else {
            format!("{marker}{text}\n")
        };
        let _ = self.printer.print(line);
    }

    /// A message received.
    fn received(&mut self, message: &Message) {
        match message {
            Message::Text(text) => self.line("< ", "32", &printable(text.as_str())),
            Message::Binary(data) => {
                let mut shown = format!("[binary, {} bytes] ", data.len());
                for byte in data {
                    let _ = write!(shown, "{byte:02x}");
                }
                self.line("< ", "32", &shown);
            }
        }
    }

    /// JSON-RPC messages (`--jsonrpc`): sent in cyan, received in
    /// green, not JSON-RPC in red.
    fn traffic(&mut self, seen: &[Seen]) {
        for seen in seen {
            let color = match (&seen.kind, seen.direction) {
                (Kind::Invalid { .. }, _) => "31",
                (_, Direction::Sent) => "36",
                (_, Direction::Received) => "32",
            };
            self.line("", color, &printable(&seen.line()));
        }
    }

    /// Something to know, not a message.
    fn info(&mut self, text: &str) {
        self.line("* ", "33", text);
    }

    /// Something went wrong.
    fn error(&mut self, text: &str) {
        self.line("! ", "31", text);
    }
}

/// Runs an interactive session until the connection ends or the user
/// leaves.
pub(super) async fn run(ws: WebSocket<ClientStream>, color: bool, jsonrpc: bool) -> Outcome {
    let mut editor = match DefaultEditor::new() {
        Ok(editor) => editor,
        Err(e) => return Outcome::Failed(format!("cannot use the terminal: {e}")),
    };
    let printer = match editor.create_external_printer() {
        Ok(printer) => printer,
        Err(e) => return Outcome::Failed(format!("cannot use the terminal: {e}")),
    };
    let mut screen = Screen {
        printer: Box::new(printer),
        color,
    };
    let protocol = ws.protocol().map(ToOwned::to_owned);
    let (mut reader, writer) = ws.split();

    let (typed_tx, mut typed) = mpsc::channel(TYPED_AHEAD);
    let terminal = terminal::Saved::now();
    std::thread::spawn(move || edit(editor, &typed_tx));
    let (outgoing, queue) = mpsc::channel(TYPED_AHEAD);
    tokio::spawn(send_typed(writer.clone(), queue));

    match protocol {
        Some(p) => screen.info(&format!("connected, subprotocol {p}; /help for commands")),
        None => screen.info("connected; /help for commands"),
    }

    // --jsonrpc: messages both ways are read as JSON-RPC.
    let mut rpc = jsonrpc.then(Tracker::default);
    let mut ping_sent = false;
    let mut last_rtt = None;
    let mut interrupted = false;
    let mut input_open = true;

    let outcome = loop {
        tokio::select! {
            item = reader.recv_incoming() => match item {
                Some(Ok(Incoming::Message(message))) => match (&mut rpc, &message) {
                    (Some(rpc), Message::Text(text)) => {
                        let now = tokio::time::Instant::now();
                        screen.traffic(&rpc.read(Direction::Received, text.as_str(), now));
                    }
                    _ => screen.received(&message),
                },
                Some(Ok(Incoming::Pong(_))) if ping_sent => {
                    let rtt = reader.round_trip_time();
                    if rtt != last_rtt {
                        last_rtt = rtt;
                        ping_sent = false;
                        if let Some(rtt) = rtt {
                            screen.info(&format!("pong after {:.3} ms", rtt.as_secs_f64() * 1000.0));
                        }
                    }
                }
                // The server's Pings are answered; they and unasked Pongs
                // are not shown.
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    let why = describe(&e);
                    screen.error(&format!("connection failed: {why}"));
                    break Outcome::Failed(format!("connection failed: {why}"));
                }
                None => {
                    break Outcome::Closed(reader.close_frame());
                }
            },
            line = typed.recv(), if input_open => match line {
                Some(Typed::Line(line)) => {
                    interrupted = false;
                    let command = match (&mut rpc, command(&line)) {
                        (Some(rpc), Command::Send(message)) => sending(rpc, message, &mut screen),
                        (_, command) => command,
                    };
                    if act(command, &mut screen, &writer, &outgoing, &mut ping_sent) {
                        break Outcome::Closed(None);
                    }
                }
                Some(Typed::End) | None => {
                    input_open = false;
                    screen.info("closing with 1000");
                    start_close_with(&writer, CloseCode::NORMAL, String::new());
                }
                Some(Typed::Interrupt) => {
                    if interrupted {
                        break Outcome::Interrupted;
                    }
                    interrupted = true;
                    screen.info("press Ctrl-C again to quit, or Ctrl-D to close");
                }
            },
        }
    };
    // The editor prints what it was given only while it reads: give it a
    // moment to show the last messages, then leave its line.
    tokio::time::sleep(LAST_PRINTS).await;
    drop(screen);
    terminal.restore();
    if let Outcome::Closed(frame) = &outcome {
        let line = printable(&closed_line(frame.as_ref()));
        if color {
            print!("\r\x1b[K\x1b[33m* {line}\x1b[0m\n");
        } else {
            print!("\r\x1b[K* {line}\n");
        }
    } else {
        print!("\r\x1b[K");
    }
    outcome
}

/// Carries out a typed command; `true` to leave at once (`/quit`).
fn act(
    command: Command,
    screen: &mut Screen,
    writer: &WebSocketWriter<ClientStream>,
    outgoing: &mpsc::Sender<Message>,
    ping_sent: &mut bool,
) -> bool {
    match command {
        Command::Send(message) => {
            if outgoing.try_send(message).is_err() {
                screen.error("not sent: too many messages waiting to leave");
            }
        }
        Command::Ping(payload) => match writer.ping(payload) {
            Ok(()) => {
                *ping_sent = true;
                flush(writer);
            }
            Err(e) => screen.error(&format!("/ping: {}", describe(&e))),
        },
        Command::Close(code, reason) => match CloseFrame::new(code, reason.clone()) {
            Ok(_) => {
                screen.info(&format!("closing with {code}"));
                start_close_with(writer, code, reason);
            }
            Err(e) => screen.error(&format!("/close: {e}")),
        },
        Command::Quit => {
            start_close_with(writer, CloseCode::NORMAL, String::new());
            return true;
        }
        Command::Help => {
            for line in HELP.lines() {
                screen.info(line);
            }
        }
        Command::Empty => {}
        Command::Bad(why) => screen.error(&why),
    }
    false
}

/// A typed message with `--jsonrpc`: a `METHOD [PARAMS]` line made a
/// request, shown as JSON-RPC; or why it cannot be sent.
fn sending(rpc: &mut Tracker, message: Message, screen: &mut Screen) -> Command {
    let Message::Text(text) = &message else {
        return Command::Send(message);
    };
    match rpc.expand(text.as_str()) {
        Ok(expanded) => {
            let text = expanded.as_deref().unwrap_or(text.as_str());
            screen.traffic(&rpc.read(Direction::Sent, text, tokio::time::Instant::now()));
            Command::Send(expanded.map_or(message, Message::text))
        }
        Err(why) => Command::Bad(why),
    }
}

/// `text` with its control characters but newlines escaped, so that a
/// peer cannot move the cursor or change the terminal's settings.
fn printable(text: &str) -> String {
    let mut shown = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    shown
}

/// Says how the server closed.
fn closed_line(frame: Option<&CloseFrame>) -> String {
    match frame {
        Some(frame) if frame.reason.is_empty() => format!("closed with {}", frame.code),
        Some(frame) => format!("closed with {} {:?}", frame.code, frame.reason.as_str()),
        None => "closed".to_owned(),
    }
}

/// Reads lines on this thread (rustyline blocks) until Ctrl-D or until
/// nobody listens.
fn edit(mut editor: DefaultEditor, typed: &mpsc::Sender<Typed>) {
    loop {
        let event = match editor.readline(PROMPT) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                Typed::Line(line)
            }
            Err(ReadlineError::Interrupted) => Typed::Interrupt,
            Err(_) => {
                let _ = typed.blocking_send(Typed::End);
                return;
            }
        };
        if typed.blocking_send(event).is_err() {
            return;
        }
    }
}

/// Sends the typed messages in order.
async fn send_typed(mut writer: WebSocketWriter<ClientStream>, mut queue: mpsc::Receiver<Message>) {
    while let Some(message) = queue.recv().await {
        if writer.send(message).await.is_err() {
            return;
        }
    }
}

/// What a typed line asks for.
#[derive(Debug, PartialEq)]
enum Command {
    Send(Message),
    Ping(String),
    Close(CloseCode, String),
    Quit,
    Help,
    Empty,
    Bad(String),
}

/// Reads a typed line: a message, or a slash command.
fn command(line: &str) -> Command {
    if let Some(text) = line.strip_prefix("//") {
        return Command::Send(Message::text(format!("/{text}")));
    }
    let Some(slash) = line.strip_prefix('/') else {
        return Command::Send(Message::text(line.to_owned()));
    };
    let (name, rest) = slash.split_once(' ').unwrap_or((slash, ""));
    match name {
        "ping" => Command::Ping(rest.to_owned()),
        "close" => {
            let rest = rest.trim_start();
            let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
            if code.is_empty() {
                return Command::Close(CloseCode::NORMAL, String::new());
            }
            match code.parse::<u16>() {
                Ok(code) => Command::Close(CloseCode::from(code), reason.to_owned()),
                Err(_) => Command::Bad(format!("/close: {code:?} is not a close code")),
            }
        }
        "binary" => match parse_hex(rest) {
            Some(bytes) => Command::Send(Message::binary(bytes)),
            None => Command::Bad("/binary: expected hex digits, two per byte".to_owned()),
        },
        "quit" => Command::Quit,
        "help" => Command::Help,
        "" if rest.is_empty() => Command::Empty,
        other => Command::Bad(format!("unknown command /{other}; /help lists them")),
    }
}

/// Hex digits (spaces ignored) as bytes.
fn parse_hex(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.len() % 2 != 0 {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

/// The terminal's settings, saved before the editor runs and put back at
/// the end: the editor's thread may still be inside a read, in raw mode,
/// when the session ends.
mod terminal {
    /// The settings of stdin's terminal, if they could be read.
    #[derive(Debug)]
    pub(super) struct Saved(Option<libc::termios>);

    impl Saved {
        pub(super) fn now() -> Saved {
            let mut settings = std::mem::MaybeUninit::<libc::termios>::uninit();
            // SAFETY: `tcgetattr` only writes the struct it is given, which
            // lives for the call; it is read only if the call succeeded.
            let read = unsafe { libc::tcgetattr(libc::STDIN_FILENO, settings.as_mut_ptr()) };
            // SAFETY: a return of 0 means `tcgetattr` filled it in.
            Saved((read == 0).then(|| unsafe { settings.assume_init() }))
        }

        pub(super) fn restore(self) {
            if let Some(settings) = self.0 {
                // SAFETY: `settings` is a valid termios read by `tcgetattr`.
                unsafe {
                    libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &raw const settings);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_lines_become_messages_or_commands() {
        assert_eq!(command("hi"), Command::Send(Message::text("hi")));
        assert_eq!(command("//x"), Command::Send(Message::text("/x")));
        assert_eq!(command("/ping"), Command::Ping(String::new()));
        assert_eq!(command("/ping a b"), Command::Ping("a b".to_owned()));
        assert_eq!(
            command("/close"),
            Command::Close(CloseCode::NORMAL, String::new())
        );
        assert_eq!(
            command("/close 4000 all done"),
            Command::Close(CloseCode::from(4000), "all done".to_owned())
        );
        assert_eq!(
            command("/binary 00 ff10"),
            Command::Send(Message::binary(vec![0, 0xff, 0x10]))
        );
        assert_eq!(command("/quit"), Command::Quit);
        assert_eq!(command("/help"), Command::Help);
        assert!(matches!(command("/binary f"), Command::Bad(_)));
        assert!(matches!(command("/close x"), Command::Bad(_)));
        assert!(matches!(command("/nope"), Command::Bad(_)));
    }

    #[test]
    fn control_characters_from_the_peer_are_escaped() {
        assert_eq!(printable("a\x1b[2Jb\tc\nd"), "a\\u{1b}[2Jb\\tc\nd");
    }
}
