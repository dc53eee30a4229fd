//! What the peer echo servers share: reading the address argument,
//! listening, and one task per connection.

use std::fmt::Display;
use std::future::Future;
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};

/// Listens on the address given as the first argument, or exits with a
/// usage line naming `name`.
pub async fn listen(name: &str) -> std::io::Result<TcpListener> {
    let Some(Ok(addr)) = std::env::args().nth(1).map(|a| a.parse::<SocketAddr>()) else {
        eprintln!("usage: {name} ADDR   (e.g. 127.0.0.1:9301)");
        std::process::exit(2);
    };
    let listener = TcpListener::bind(addr).await?;
    eprintln!("{name} listening on ws://{addr}");
    Ok(listener)
}

/// Serves every connection on its own task with `echo`, with TCP_NODELAY
/// on, logging what ends a connection with an error.
pub async fn serve<F, Fut, E>(name: &str, echo: F) -> std::io::Result<()>
where
    F: Fn(TcpStream) -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Display,
{
    let listener = listen(name).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let connection = echo(stream);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                eprintln!("connection: {e}");
            }
        });
    }
}
