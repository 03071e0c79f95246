//! lux facade
pub use lux_core as core;
