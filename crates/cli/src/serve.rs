//! `sockeye serve`: the echo server.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use sockeye::proto::DeflateConfig;
use sockeye::{CloseCode, ServerBuilder};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::describe;

/// Options of `sockeye serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Address to listen on.
    #[arg(default_value = "127.0.0.1:9001")]
    addr: SocketAddr,
    /// The largest message accepted, in bytes.
    #[arg(long, default_value_t = 16 << 20)]
    max_message_size: usize,
    /// The largest frame accepted, in bytes.
    #[arg(long, default_value_t = 16 << 20)]
    max_frame_size: usize,
    /// Do not accept permessage-deflate compression.
    #[arg(long)]
    no_deflate: bool,
}

/// How long open connections get to finish their closing handshake after a
/// shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

pub(crate) async fn run(args: Args) -> ExitCode {
    let listener = match TcpListener::bind(args.addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("sockeye: cannot listen on {}: {}", args.addr, describe(&e));
            return ExitCode::FAILURE;
        }
    };
    let local = listener.local_addr().map_or(args.addr, |a| a);
    let signal = shutdown_signal();
    tokio::pin!(signal);
    tracing::info!("echo server listening on ws://{local}");
    let server = ServerBuilder::new()
        .max_message_size(args.max_message_size)
        .max_frame_size(args.max_frame_size)
        .deflate((!args.no_deflate).then(DeflateConfig::default))
        .close_timeout(SHUTDOWN_GRACE);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    let server = server.clone();
                    let stop = stop_rx.clone();
                    connections.spawn(serve_connection(server, tcp, peer, stop));
                }
                // Out of file descriptors and the like: keep serving the rest.
                Err(e) => {
                    tracing::warn!(error = %describe(&e), "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = &mut signal => break,
        }
    }
    tracing::info!(open = connections.len(), "shutting down");
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE * 2, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            "closing connections that did not finish"
        );
        connections.shutdown().await;
    }
    ExitCode::SUCCESS
}

async fn serve_connection(
    server: ServerBuilder,
    tcp: TcpStream,
    peer: SocketAddr,
    mut stop: watch::Receiver<bool>,
) {
    let _ = tcp.set_nodelay(true);
    let mut ws = match server.accept(tcp).await {
        Ok(ws) => ws,
        Err(e) => {
            tracing::debug!(%peer, error = %describe(&e), "handshake failed");
            return;
        }
    };
    tracing::debug!(%peer, "connection open");
    loop {
        tokio::select! {
            message = ws.next() => match message {
                Some(Ok(message)) => {
                    // Queued now, written with the replies to the same read.
                    if let Err(e) = ws.feed(message).await {
                        tracing::debug!(%peer, error = %describe(&e), "echo failed");
                        break;
                    }
                }
                Some(Err(e)) => {
                    tracing::debug!(%peer, error = %describe(&e), "connection failed");
                    break;
                }
                None => {
                    let frame = ws.close_frame();
                    tracing::debug!(%peer, code = ?frame.map(|f| f.code), "connection closed");
                    break;
                }
            },
            _ = stop.changed() => {
                if let Err(e) = ws.close(CloseCode::GOING_AWAY, "server shutting down").await {
                    tracing::debug!(%peer, error = %describe(&e), "close on shutdown failed");
                }
                break;
            }
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM. The handlers are installed when this is
/// called, not when the future is first polled, so no signal is missed.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let streams = signal(SignalKind::terminate())
            .and_then(|term| Ok((term, signal(SignalKind::interrupt())?)));
        async move {
            match streams {
                Ok((mut term, mut interrupt)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = interrupt.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
