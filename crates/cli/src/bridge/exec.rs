//! The `exec:COMMAND` endpoint: a program's stdin and stdout.

use std::process::Stdio;

use tokio::process::Command;

use super::Settings;
use super::conn::Conn;

/// Starts `sh -c COMMAND` with piped stdin and stdout (stderr stays ours).
/// The end of its stdout ends the direction out of it; finishing it closes
/// its stdin. The pair reaps it (`pair::run`), and a program left running
/// when the pair is dropped is killed.
pub(crate) fn open(command: &str, settings: Settings) -> Result<Conn, String> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(format!("cannot run {command:?}: no pipes"));
    };
    let mut conn = Conn::bytes(Box::new(stdout), Box::new(stdin), settings);
    conn.child = Some(child);
    Ok(conn)
}
