//! sockeye
