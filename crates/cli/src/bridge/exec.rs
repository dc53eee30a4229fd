//! The `exec:COMMAND` endpoint: a program's stdin and stdout.
//!
//! Each program runs in a process group of its own, so that stopping it
//! also stops what it started (`sh -c` forks the command; a pipeline has
//! several processes).

use std::process::Stdio;

use tokio::process::Command;

use super::Settings;
use super::conn::Conn;
use super::program::Program;

/// Starts `sh -c COMMAND` in a new process group, with piped stdin and
/// stdout (stderr stays ours). The end of its stdout ends the direction
/// out of it; finishing it closes its stdin. The pair reaps it
/// ([`Program::finish`]).
pub(crate) fn open(command: &str, settings: Settings) -> Result<Conn, String> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    let (stdin, stdout) = (child.stdin.take(), child.stdout.take());
    // From here on, dropping `program` stops the group.
    let program = Program::new(child);
    let (Some(stdin), Some(stdout)) = (stdin, stdout) else {
        return Err(format!("cannot run {command:?}: no pipes"));
    };
    let mut conn = Conn::bytes(Box::new(stdout), Box::new(stdin), settings);
    conn.program = Some(program);
    Ok(conn)
}
