//! Failures with details: a code for the caller and a message kept per
//! thread, which `sockeye_ctx_last_error` copies out.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::thread::ThreadId;

use crate::result::sockeye_result;

/// A failed call: its code and, when there is more to say, the details.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: sockeye_result,
    pub(crate) detail: String,
}

impl From<sockeye_result> for Failure {
    fn from(code: sockeye_result) -> Failure {
        Failure {
            code,
            detail: String::new(),
        }
    }
}

/// A failure with details, such as the OS's reason for a bind error.
pub(crate) fn fail(code: sockeye_result, detail: impl Into<String>) -> Failure {
    Failure {
        code,
        detail: detail.into(),
    }
}

/// How many threads' messages a context keeps: threads beyond it push
/// out an older one. A bound, so that a host that calls from ever new
/// threads does not grow the map; 64 is more threads than a host
/// usually calls from.
const MAX_THREADS: usize = 64;

/// The last failure message of each thread that called into a context.
#[derive(Debug, Default)]
pub(crate) struct LastErrors(Mutex<HashMap<ThreadId, String>>);

impl LastErrors {
    /// Records `failure` as the calling thread's last and gives its code.
    pub(crate) fn record(&self, failure: Failure) -> sockeye_result {
        let Failure { code, mut detail } = failure;
        let name = code.describe().to_string_lossy();
        let message = if detail.is_empty() {
            name.into_owned()
        } else {
            detail.insert_str(0, ": ");
            detail.insert_str(0, &name);
            detail
        };
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let me = std::thread::current().id();
        if map.len() >= MAX_THREADS
            && !map.contains_key(&me)
            && let Some(old) = map.keys().next().copied()
        {
            map.remove(&old);
        }
        map.insert(me, message);
        code
    }

    /// The calling thread's last failure message; empty if it had none.
    pub(crate) fn get(&self) -> String {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(&std::thread::current().id())
            .cloned()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_thread_sees_its_own_last_failure() {
        let errors = LastErrors::default();
        assert_eq!(errors.get(), "");
        let code = errors.record(fail(sockeye_result::SOCKEYE_ERR_IO, "address in use"));
        assert_eq!(code, sockeye_result::SOCKEYE_ERR_IO);
        assert!(errors.get().starts_with("SOCKEYE_ERR_IO"));
        assert!(errors.get().ends_with(": address in use"));
        std::thread::scope(|s| {
            s.spawn(|| {
                assert_eq!(errors.get(), "");
                errors.record(sockeye_result::SOCKEYE_ERR_NULL.into());
                assert!(errors.get().starts_with("SOCKEYE_ERR_NULL"));
            });
        });
        assert!(errors.get().starts_with("SOCKEYE_ERR_IO"));
    }
}
