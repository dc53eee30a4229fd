//! Two opened endpoints joined: a message from one is sent to the other,
//! both ways at once, until either side closes.
//!
//! Each direction reads one message, waits until the other side has taken
//! it, then reads the next: at most one message is in flight each way, so
//! a slow reader slows the writer on the far side instead of filling
//! memory.
//!
//! When one direction ends (a WebSocket Close, the end of a stream, an
//! error), its far side is told the same way (Close 1000, or the failure's
//! code; a FIN; the end of a program's input). The other direction then
//! ends by itself (the peer answers our Close, closes its half of the
//! stream, the program exits), or is cut after `--linger`. A WebSocket's
//! Close ends it both ways, so the direction into it stops at once.

use std::time::Duration;

use super::conn::{Conn, Failure, Sink, Source};

/// How one direction ended.
#[derive(Debug)]
enum End {
    /// The source ended cleanly; the sink was finished.
    Ended,
    /// Reading the source failed; the sink was finished with its code.
    SourceFailed(Failure),
    /// Writing to the sink failed.
    SinkFailed(Failure),
}

/// Moves messages from `source` to `sink` until the source ends or either
/// fails, one message at a time.
async fn pump(source: &mut Source, sink: &mut Sink) -> End {
    loop {
        match source.next().await {
            Some(Ok(message)) => {
                if let Err(e) = sink.send(message).await {
                    return End::SinkFailed(e);
                }
            }
            Some(Err(e)) => {
                sink.finish(Some(&e)).await;
                return End::SourceFailed(e);
            }
            None => {
                sink.finish(None).await;
                return End::Ended;
            }
        }
    }
}

/// Joins `a` and `b` until both directions have ended (the second bounded
/// by `linger`), then reaps the programs of `exec:` endpoints. Returns the
/// first failure, if any, described.
pub(crate) async fn run(mut a: Conn, mut b: Conn, linger: Duration) -> Result<(), String> {
    let a_ends_both_ways = a.source.ends_both_ways();
    let b_ends_both_ways = b.source.ends_both_ways();
    let mut failure = None;
    let (other, other_is_moot) = {
        let forward = pump(&mut a.source, &mut b.sink);
        let backward = pump(&mut b.source, &mut a.sink);
        tokio::pin!(forward, backward);
        // Which finished first, and whether the other is now pointless
        // because the side it writes to has closed both ways.
        let (first, first_source_ends_both_ways, other) = tokio::select! {
            end = &mut forward => (end, a_ends_both_ways, Either::Backward),
            end = &mut backward => (end, b_ends_both_ways, Either::Forward),
        };
        let other_is_moot = first_source_ends_both_ways && !matches!(first, End::SinkFailed(_));
        note(&mut failure, first);
        if !other_is_moot {
            let rest = async {
                match other {
                    Either::Forward => (&mut forward).await,
                    Either::Backward => (&mut backward).await,
                }
            };
            if let Ok(end) = tokio::time::timeout(linger, rest).await {
                note(&mut failure, end);
            } else {
                tracing::debug!("the other direction cut after --linger");
            }
        }
        (other, other_is_moot)
    };
    if other_is_moot {
        // When both are WebSockets, the one we just closed is read until
        // its answer, so that its closing handshake completes too.
        let source = match other {
            Either::Forward => &mut a.source,
            Either::Backward => &mut b.source,
        };
        if source.ends_both_ways() {
            let drain = async { while let Some(Ok(_)) = source.next().await {} };
            let _ = tokio::time::timeout(linger, drain).await;
        }
    }
    // A program still reading gets the end of its input before the wait.
    a.sink.release();
    b.sink.release();
    for program in [a.program.take(), b.program.take()].into_iter().flatten() {
        program.finish(linger).await;
    }
    // Dropping the halves closes what is left: a WebSocket still open
    // queues a Close 1001 (going away).
    drop((a, b));
    failure.map_or(Ok(()), Err)
}

/// The direction still running once the other ended.
#[derive(Clone, Copy)]
enum Either {
    Forward,
    Backward,
}

/// Keeps the first failure's description.
fn note(failure: &mut Option<String>, end: End) {
    let why = match end {
        End::Ended => return,
        End::SourceFailed(e) | End::SinkFailed(e) => e.why,
    };
    tracing::debug!(error = %why, "direction failed");
    failure.get_or_insert(why);
}
