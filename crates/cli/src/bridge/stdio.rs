//! The `stdio` endpoint (also `-`): standard input and output.

use std::sync::atomic::{AtomicBool, Ordering};

use super::Settings;
use super::conn::Conn;

/// Whether stdin and stdout were handed out: there is one of each, so one
/// pair can have them.
static TAKEN: AtomicBool = AtomicBool::new(false);

/// Standard input and output as an endpoint, once per process.
pub(crate) fn open(settings: Settings) -> Result<Conn, String> {
    if TAKEN.swap(true, Ordering::AcqRel) {
        return Err("stdio is already in use".to_owned());
    }
    Ok(Conn::bytes(
        Box::new(tokio::io::stdin()),
        Box::new(tokio::io::stdout()),
        settings,
    ))
}
