//! The times a connection's timers run from, dated by the caller's clock.
//!
//! The layer reads no clock. Feeding bytes and passing messages only raise
//! flags; the next call that brings the time (`sockeye_conn_next_deadline`
//! or `sockeye_conn_on_timeout`) dates them "now". A caller that asks for
//! the next deadline after each turn of its loop thus dates every event
//! within one turn of when it happened.

use std::time::Duration;

/// The timeouts of one connection, in milliseconds, from its config.
#[derive(Clone, Copy, Debug)]
pub(super) struct Timeouts {
    /// How long the opening handshake may take.
    pub(super) handshake: u64,
    /// How long the closing handshake, and writing out the last bytes, may
    /// take.
    pub(super) close: u64,
    /// A Ping after this long with nothing received; `None` is off.
    pub(super) keepalive_interval: Option<u64>,
    /// How long the Ping may go unanswered (by anything) before the
    /// connection fails.
    pub(super) keepalive_timeout: u64,
    /// A Close (1001) after this long without a message either way.
    pub(super) idle: Option<u64>,
}

/// Milliseconds of a duration, saturating.
pub(super) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// When things last happened, in the caller's milliseconds.
#[derive(Debug, Default)]
pub(super) struct Clock {
    /// When the connection was first given the time: the handshake timer
    /// runs from here.
    pub(super) started: Option<u64>,
    /// When bytes last arrived.
    pub(super) last_received: u64,
    /// When a message last went either way.
    pub(super) last_message: u64,
    /// When the keepalive Ping went out, while it waits for an answer.
    pub(super) ping_sent: Option<u64>,
    /// Since when the connection has been ending (our Close sent, or final
    /// bytes waiting to be written).
    pub(super) ending_since: Option<u64>,
    /// Bytes arrived since the time was last given.
    pub(super) received: bool,
    /// A message went either way since the time was last given.
    pub(super) messaged: bool,
}

impl Clock {
    /// Dates what happened since the last call `now`. `ending` says whether
    /// the connection is ending now, which starts or stops the close timer.
    pub(super) fn tick(&mut self, now: u64, ending: bool) {
        if self.started.is_none() {
            self.started = Some(now);
            self.last_received = now;
            self.last_message = now;
        }
        if std::mem::take(&mut self.received) {
            self.last_received = now;
            self.ping_sent = None;
        }
        if std::mem::take(&mut self.messaged) {
            self.last_message = now;
        }
        match (ending, self.ending_since) {
            (true, None) => self.ending_since = Some(now),
            (false, Some(_)) => self.ending_since = None,
            _ => {}
        }
    }
}

/// `start + span`, saturating, so a huge timeout means "never" rather than
/// wrapping into the past.
pub(super) fn after(start: u64, span: u64) -> u64 {
    start.saturating_add(span)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_dated_by_the_next_tick() {
        let mut clock = Clock::default();
        clock.tick(100, false);
        assert_eq!(clock.started, Some(100));
        clock.received = true;
        clock.ping_sent = Some(50);
        clock.tick(250, true);
        assert_eq!(clock.last_received, 250);
        assert_eq!(clock.ping_sent, None);
        assert_eq!(clock.last_message, 100);
        assert_eq!(clock.ending_since, Some(250));
        clock.tick(300, true);
        assert_eq!(clock.ending_since, Some(250));
        assert_eq!(after(u64::MAX - 1, 10), u64::MAX);
        assert_eq!(millis(Duration::from_secs(2)), 2000);
    }
}
