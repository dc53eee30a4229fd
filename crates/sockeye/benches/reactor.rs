//! The reactor's hot path, one turn: read a burst of small frames, call
//! the handler for each message, write the replies in one write; against
//! the same echo done by a `WebSocket` task per connection.
//!
//! Over one loopback TCP connection per server, each iteration writes N
//! masked 16-byte text frames in one write from a blocking client and
//! reads the N echoes back (N = 1 and 16). The server runs on a tokio
//! current-thread runtime on a thread of its own: `reactor/N` is a
//! `sockeye::reactor::Reactor` whose handler sends each message back,
//! `thread/N` the same handler in a `ReactorThread` (its own thread,
//! blocking in its epoll instance; the runtime only accepts), `task/N` a
//! task looping on `next` and `feed` (the stream writes what is queued
//! before it reads again). Throughput is in messages.
//!
//! Run: `cargo bench -p sockeye --bench reactor` (add `-- --quick` for a
//! fast check). Unix only, like the reactor.
#![allow(
    missing_docs,
    reason = "criterion_group! and criterion_main! generate undocumented items"
)]

#[cfg(unix)]
criterion::criterion_main!(unix::benches);

/// The reactor is Unix only: nothing to measure elsewhere.
#[cfg(not(unix))]
fn main() {}

#[cfg(unix)]
mod unix {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::thread::JoinHandle;

    use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
    use futures_util::{SinkExt, StreamExt};
    use sockeye::reactor::{Conn, Ended, Handler, Reactor, ReactorThread};
    use sockeye::{MessageRef, WebSocketConfig};
    use tokio::sync::oneshot;

    /// Messages per burst.
    const BURSTS: [usize; 2] = [1, 16];

    /// The payload of every frame, both ways.
    const PAYLOAD_LEN: usize = 16;

    /// The client's masking key (any will do; a fixed one keeps the
    /// frames the same from run to run).
    const MASK: [u8; 4] = [0x5e, 0x1a, 0xc3, 0x77];

    /// The RFC 6455 sample nonce, as good as any for a benchmark.
    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    /// Echoes every message.
    struct Echo;

    impl Handler for Echo {
        type Data = ();

        fn on_message(&mut self, conn: &mut Conn<'_, ()>, message: MessageRef<'_>) {
            let _ = conn.send_ref(message);
        }

        fn on_end(&mut self, (): (), _: Ended) {}
    }

    /// Which server side serves the connection.
    #[derive(Clone, Copy, Debug)]
    enum Side {
        /// One reactor, its connections added after the handshake.
        Reactor,
        /// One reactor on a thread of its own.
        Thread,
        /// A task per connection, echoing through its `WebSocket`.
        Task,
    }

    impl Side {
        fn name(self) -> &'static str {
            match self {
                Side::Reactor => "reactor",
                Side::Thread => "thread",
                Side::Task => "task",
            }
        }
    }

    /// An echo server on a thread of its own, and the switch that stops
    /// it.
    struct Server {
        addr: SocketAddr,
        stop: oneshot::Sender<()>,
        thread: JoinHandle<()>,
    }

    impl Server {
        fn start(side: Side) -> Server {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            listener.set_nonblocking(true).unwrap();
            let (stop, stopped) = oneshot::channel::<()>();
            let thread = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    let stopped = async move {
                        let _ = stopped.await;
                    };
                    match side {
                        Side::Reactor => serve_reactor(listener, stopped).await,
                        Side::Thread => serve_thread(listener, stopped).await,
                        Side::Task => serve_tasks(listener, stopped).await,
                    }
                });
            });
            Server { addr, stop, thread }
        }

        /// Stops the server and waits for its thread.
        fn stop(self) {
            let _ = self.stop.send(());
            self.thread.join().unwrap();
        }
    }

    /// A reactor serving what `listener` accepts until `stopped`; it then
    /// closes its connections and returns once they ended.
    async fn serve_reactor(listener: tokio::net::TcpListener, stopped: impl Future<Output = ()>) {
        let (reactor, handle) = Reactor::new(Echo, &WebSocketConfig::default()).unwrap();
        let intake = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let ws = sockeye::accept(tcp).await.unwrap();
                handle.add(ws, ()).unwrap();
            }
        });
        reactor.run(stopped).await;
        intake.abort();
    }

    /// A reactor thread serving what `listener` accepts until `stopped`;
    /// it then closes its connections and the thread ends.
    async fn serve_thread(listener: tokio::net::TcpListener, stopped: impl Future<Output = ()>) {
        let config = WebSocketConfig::default();
        let (reactor, handle) = ReactorThread::spawn(Echo, &config, "bench".to_owned()).unwrap();
        let accepting = async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let ws = sockeye::accept(tcp).await.unwrap();
                handle.add(ws, ()).unwrap();
            }
        };
        tokio::select! {
            () = stopped => {}
            () = accepting => {}
        }
        reactor.stop();
        tokio::task::spawn_blocking(move || reactor.join())
            .await
            .unwrap()
            .unwrap();
    }

    /// A task per connection that `listener` accepts, until `stopped`.
    async fn serve_tasks(listener: tokio::net::TcpListener, stopped: impl Future<Output = ()>) {
        let accepting = async move {
            while let Ok((tcp, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut ws = sockeye::accept(tcp).await?;
                    while let Some(message) = ws.next().await {
                        // Queued: the stream writes it before its next read.
                        ws.feed(message?).await?;
                    }
                    Ok::<_, sockeye::Error>(())
                });
            }
        };
        tokio::select! {
            () = stopped => {}
            () = accepting => {}
        }
    }

    /// Opens a WebSocket to `addr` by hand: a blocking socket with
    /// `TCP_NODELAY`, past the opening handshake.
    fn connect(addr: SocketAddr) -> TcpStream {
        let mut tcp = TcpStream::connect(addr).unwrap();
        tcp.set_nodelay(true).unwrap();
        let request = format!(
            "GET / HTTP/1.1\r\n\
             Host: {addr}\r\n\
             Upgrade: websocket\r\n\
             Connection: Upgrade\r\n\
             Sec-WebSocket-Key: {KEY}\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        );
        tcp.write_all(request.as_bytes()).unwrap();
        // The server says nothing more until it hears from us: whatever
        // arrives before the blank line is the whole response.
        let mut head = Vec::new();
        let mut chunk = [0; 512];
        while !head.ends_with(b"\r\n\r\n") {
            let n = tcp.read(&mut chunk).unwrap();
            assert_ne!(n, 0, "the server closed during the handshake");
            head.extend_from_slice(&chunk[..n]);
        }
        let head = String::from_utf8(head).unwrap();
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        let accept = sockeye::proto::handshake::accept_key(KEY.as_bytes());
        assert!(
            head.to_ascii_lowercase().contains(&format!(
                "sec-websocket-accept: {}",
                accept.to_ascii_lowercase()
            )),
            "{head}"
        );
        tcp
    }

    /// The payload of the `i`th frame of a burst: its number, padded.
    fn payload(i: usize) -> [u8; PAYLOAD_LEN] {
        let text = format!("{i:>PAYLOAD_LEN$}");
        text.as_bytes().try_into().unwrap()
    }

    /// `n` masked client text frames, back to back.
    fn client_burst(n: usize) -> Vec<u8> {
        let len = u8::try_from(PAYLOAD_LEN).unwrap();
        let mut out = Vec::with_capacity(n * (6 + PAYLOAD_LEN));
        for i in 0..n {
            out.extend_from_slice(&[0x81, 0x80 | len]);
            out.extend_from_slice(&MASK);
            out.extend(
                payload(i)
                    .iter()
                    .zip(MASK.iter().cycle())
                    .map(|(b, m)| b ^ m),
            );
        }
        out
    }

    /// The `n` unmasked server frames that echo [`client_burst`]`(n)`.
    fn server_burst(n: usize) -> Vec<u8> {
        let len = u8::try_from(PAYLOAD_LEN).unwrap();
        let mut out = Vec::with_capacity(n * (2 + PAYLOAD_LEN));
        for i in 0..n {
            out.extend_from_slice(&[0x81, len]);
            out.extend_from_slice(&payload(i));
        }
        out
    }

    fn echo(c: &mut Criterion) {
        let mut group = c.benchmark_group("reactor_echo");
        for side in [Side::Reactor, Side::Thread, Side::Task] {
            let server = Server::start(side);
            let mut tcp = connect(server.addr);
            for n in BURSTS {
                let burst = client_burst(n);
                let mut echoes = vec![0; n * (2 + PAYLOAD_LEN)];
                tcp.write_all(&burst).unwrap();
                tcp.read_exact(&mut echoes).unwrap();
                assert_eq!(echoes, server_burst(n), "{} echoed wrong", side.name());
                group.throughput(Throughput::Elements(n as u64));
                group.bench_function(BenchmarkId::new(side.name(), n), |b| {
                    b.iter(|| {
                        tcp.write_all(&burst).unwrap();
                        tcp.read_exact(&mut echoes).unwrap();
                    });
                });
            }
            // The server's end sees ours close, then the server stops.
            drop(tcp);
            server.stop();
        }
        group.finish();
    }

    criterion_group!(benches, echo);
}
