//! Time in a reactor: one clock read per turn, and the timeouts of its
//! connections in milliseconds.
//!
//! A connection stores the times it last heard from its peer, last saw a
//! message and started waiting for something (a Pong, the end of the
//! closing handshake) as 32-bit milliseconds since the reactor started,
//! compared by wrapping difference: correct for spans under 49 days, and
//! no timer here waits that long without its time being renewed.

use std::time::{Duration, Instant};

use crate::config::WebSocketConfig;

/// Milliseconds since the reactor started, wrapping.
pub(super) type Millis = u32;

/// Milliseconds from `then` to `now`.
pub(super) fn elapsed(now: Millis, then: Millis) -> u32 {
    now.wrapping_sub(then)
}

/// One reading of the reactor's clock: the instant, and the same in the
/// milliseconds its timers count.
#[derive(Clone, Copy, Debug)]
pub(super) struct Now {
    pub(super) at: Instant,
    pub(super) millis: Millis,
}

/// The reactor's clock: read once per turn.
#[derive(Debug)]
pub(super) struct Clock {
    epoch: Instant,
}

impl Clock {
    pub(super) fn new() -> Self {
        Clock {
            epoch: Instant::now(),
        }
    }

    /// Now, and in milliseconds since the reactor started (wrapping).
    #[expect(
        clippy::cast_possible_truncation,
        reason = "wrapping at 2^32 ms is the representation (see the module)"
    )]
    pub(super) fn now(&self) -> Now {
        let at = Instant::now();
        Now {
            at,
            millis: at.duration_since(self.epoch).as_millis() as u32,
        }
    }
}

/// The time limits of a reactor's connections, from its
/// [`WebSocketConfig`], in milliseconds.
#[derive(Clone, Copy, Debug)]
pub(super) struct Timeouts {
    /// A Ping after this long with nothing received; `None` is off.
    pub(super) keepalive_interval: Option<u32>,
    /// How long that Ping may go unanswered by any byte.
    pub(super) keepalive_timeout: u32,
    /// A Close (1001) after this long without a message either way.
    pub(super) idle: Option<u32>,
    /// How long the closing handshake and the last writes may take.
    pub(super) close: u32,
}

impl Timeouts {
    pub(super) fn new(config: &WebSocketConfig) -> Self {
        Timeouts {
            keepalive_interval: config.keepalive_interval.map(millis),
            keepalive_timeout: millis(config.keepalive_timeout),
            idle: config.idle_timeout.map(millis),
            close: millis(config.close_timeout),
        }
    }

    /// How often the reactor looks at every connection's timers: a
    /// quarter of the shortest limit, between 10 ms and 1 s. Timers thus
    /// run out up to that much late.
    pub(super) fn tick(&self) -> Duration {
        let shortest = [
            self.keepalive_interval,
            Some(self.keepalive_timeout),
            self.idle,
            Some(self.close),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(u32::MAX);
        Duration::from_millis(u64::from(shortest / 4))
            .clamp(Duration::from_millis(10), Duration::from_secs(1))
    }
}

/// Milliseconds of `d`, at most a week (longer limits wait a week).
fn millis(d: Duration) -> u32 {
    const WEEK: u32 = 7 * 24 * 3600 * 1000;
    u32::try_from(d.as_millis()).map_or(WEEK, |ms| ms.min(WEEK))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_wraps() {
        assert_eq!(elapsed(5, u32::MAX - 4), 10);
        assert_eq!(elapsed(100, 40), 60);
    }

    #[test]
    fn the_tick_is_a_quarter_of_the_shortest_limit_within_bounds() {
        let mut config = WebSocketConfig::default();
        assert_eq!(Timeouts::new(&config).tick(), Duration::from_secs(1));
        config.close_timeout = Duration::from_millis(200);
        assert_eq!(Timeouts::new(&config).tick(), Duration::from_millis(50));
        config.close_timeout = Duration::from_millis(1);
        assert_eq!(Timeouts::new(&config).tick(), Duration::from_millis(10));
        config.idle_timeout = Some(Duration::from_secs(3600 * 24 * 365));
        assert_eq!(Timeouts::new(&config).idle, Some(7 * 24 * 3600 * 1000));
    }
}
