//! `--reconnect`: connect again after a failure or a close by the server,
//! after a pause that grows exponentially, with full jitter, up to a cap.

use std::time::Duration;

use super::session::Interrupts;

/// The first pause's ceiling: short, as most outages that a reconnect
/// survives (a server restarting, a proxy reloading) are.
const BASE: Duration = Duration::from_millis(500);

/// The largest pause: a server that is down for long is still tried twice
/// a minute, and a crowd of clients never waits long once it is back.
const CAP: Duration = Duration::from_secs(30);

/// How long a connection must have lasted for the pauses to start from
/// [`BASE`] again: a server that accepts and then drops at once does not
/// get hammered.
pub(super) const STEADY: Duration = Duration::from_secs(10);

/// Messages read from stdin while the connection is down, in order; once
/// that many wait, stdin is not read until the connection is back. Enough
/// for a burst during a short outage; each may be up to
/// `--max-message-size`, so the bound keeps memory in check.
pub(super) const QUEUE: usize = 64;

/// The pauses between attempts ("full jitter": a random time up to an
/// exponentially growing ceiling, so that clients cut off together do not
/// come back together).
#[derive(Debug, Default)]
pub(super) struct Backoff {
    /// Attempts since the last steady connection.
    attempts: u32,
}

impl Backoff {
    /// Starts again from the first pause.
    pub(super) fn reset(&mut self) {
        self.attempts = 0;
    }

    /// The next pause, and the attempt it precedes (from 1).
    fn next(&mut self) -> (Duration, u32) {
        let ceiling = BASE.saturating_mul(1 << self.attempts.min(16)).min(CAP);
        self.attempts = self.attempts.saturating_add(1);
        let pause = ceiling.mul_f64(rand::random::<f64>());
        (pause, self.attempts)
    }

    /// Says on stderr why and when the next attempt comes, then waits for
    /// it; `false` if Ctrl-C came first.
    pub(super) async fn pause(&mut self, why: &str, interrupts: &mut Interrupts) -> bool {
        let (pause, attempt) = self.next();
        eprintln!(
            "sockeye: {why}; reconnecting in {:.1} s (attempt {attempt})",
            pause.as_secs_f64()
        );
        tokio::select! {
            () = tokio::time::sleep(pause) => true,
            () = interrupts.next() => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_stay_under_a_growing_ceiling_up_to_the_cap() {
        let mut backoff = Backoff::default();
        for attempt in 1..=40u32 {
            let (pause, n) = backoff.next();
            assert_eq!(n, attempt);
            let ceiling = BASE.saturating_mul(1 << (attempt - 1).min(16)).min(CAP);
            assert!(
                pause <= ceiling,
                "attempt {attempt}: {pause:?} > {ceiling:?}"
            );
        }
        backoff.reset();
        assert_eq!(backoff.next().1, 1);
    }
}
