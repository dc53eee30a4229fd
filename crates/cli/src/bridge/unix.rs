//! Unix stream socket endpoints: `unix:PATH` and `unix-listen:PATH`.

use std::path::{Path, PathBuf};

use tokio::net::{UnixListener, UnixStream};

use super::Settings;
use super::conn::Conn;

/// Connects to the socket at `path`.
pub(crate) async fn connect(path: &Path, settings: Settings) -> Result<Conn, String> {
    let stream = UnixStream::connect(path)
        .await
        .map_err(|e| format!("cannot connect to unix:{}: {e}", path.display()))?;
    Ok(conn(stream, settings))
}

/// An open Unix stream as an endpoint.
pub(crate) fn conn(stream: UnixStream, settings: Settings) -> Conn {
    let (reader, writer) = stream.into_split();
    Conn::bytes(Box::new(reader), Box::new(writer), settings)
}

/// A listening socket whose file is removed when it is dropped.
#[derive(Debug)]
pub(crate) struct Listener {
    pub(crate) listener: UnixListener,
    path: PathBuf,
}

impl Listener {
    /// Binds `path`. An existing file is an error (never removed: it may be
    /// another server's live socket).
    pub(crate) fn bind(path: &Path) -> Result<Self, String> {
        let listener = UnixListener::bind(path)
            .map_err(|e| format!("cannot listen on unix:{}: {e}", path.display()))?;
        Ok(Listener {
            listener,
            path: path.to_owned(),
        })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
