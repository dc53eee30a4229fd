//! sockeye-ffi: sockeye's C API, built as `libsockeye` (`.so`, `.a`),
//! `sockeye.h` and `sockeye.pc` by `cargo cinstall` (see `scripts/c-api`).
//!
//! Rust programs use `sockeye` and `sockeye-proto` directly; this crate
//! is for C, C++ and anything with a C FFI. Its exports can still be called
//! from Rust, which is how its unit tests drive them:
//!
//! ```
//! use sockeye_ffi::{sockeye_result, sockeye_result_str};
//!
//! let name = unsafe { std::ffi::CStr::from_ptr(sockeye_result_str(1)) };
//! assert!(name.to_str().unwrap().starts_with("SOCKEYE_ERR_NULL"));
//! assert_eq!(sockeye_result::SOCKEYE_OK as i32, 0);
//! ```
//!
//! # Module map
//!
//! | file | owns |
//! |---|---|
//! | `result.rs` | [`sockeye_result`], the code every fallible call returns, and [`sockeye_result_str`] |
//! | `boundary.rs` | the panic guard around every export and the checked reading of pointer arguments |
//! | `registry.rs` | the live handles, so a second free is refused instead of corrupting memory |
//! | `version.rs` | [`sockeye_version`] |
//! | `config.rs` | [`sockeye_config`]: limits, timeouts and switches for both layers |
//! | `message_kind.rs` | [`SOCKEYE_TEXT`] and [`SOCKEYE_BINARY`], the kinds of message sent |
//! | `sansio/` | the sans-I/O layer: [`sockeye_conn`] and every `sockeye_conn_*` function |
//! | `runtime/` | the batteries-included layer: [`sockeye_ctx`] with its runtime threads, listeners, clients, the event queue ([`sockeye_event_poll`]), sending and closing by id from any thread (its files in its `mod.rs`) |
//!
//! # The contract
//!
//! Stated once in the header's preamble and per function in its comment:
//! handles are freed once by their `_free`; every pointer is checked for
//! NULL; outputs are written only on `SOCKEYE_OK`; a panic never crosses
//! the boundary; bytes passed in are copied before the call returns.

mod boundary;
mod config;
mod message_kind;
mod registry;
mod result;
mod runtime;
mod sansio;
mod version;

pub use config::*;
pub use message_kind::{SOCKEYE_BINARY, SOCKEYE_TEXT};
pub use result::{sockeye_result, sockeye_result_str};
pub use runtime::*;
pub use sansio::*;
pub use version::sockeye_version;
