//! [`HandshakeRate`]: a token bucket bounding how fast new sessions open.

use std::sync::{Mutex, PoisonError};
use std::time::Instant;

/// Allows `rate` new sessions a second on average, with bursts of up to
/// `rate` at once.
#[derive(Debug)]
pub(crate) struct HandshakeRate {
    /// Sessions a second; 0: no bound.
    rate: u32,
    /// The tokens left, and when they were counted.
    bucket: Mutex<(f64, Instant)>,
}

impl HandshakeRate {
    pub(crate) fn new(rate: u32) -> Self {
        HandshakeRate {
            rate,
            bucket: Mutex::new((f64::from(rate), Instant::now())),
        }
    }

    /// Takes a token if one is left: whether a new session may open now.
    pub(crate) fn admit(&self) -> bool {
        if self.rate == 0 {
            return true;
        }
        let rate = f64::from(self.rate);
        let mut bucket = self.bucket.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let refilled = bucket.0 + now.duration_since(bucket.1).as_secs_f64() * rate;
        let tokens = refilled.min(rate);
        if tokens < 1.0 {
            *bucket = (tokens, now);
            return false;
        }
        *bucket = (tokens - 1.0, now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A burst of `rate` passes, the next is refused, and tokens come
    /// back with time.
    #[test]
    fn bursts_up_to_the_rate_then_refill() {
        let limit = HandshakeRate::new(3);
        assert!((0..3).all(|_| limit.admit()));
        assert!(!limit.admit());
        std::thread::sleep(std::time::Duration::from_millis(400));
        assert!(limit.admit());
        assert!(HandshakeRate::new(0).admit());
    }
}
