//! # lux-eval
//!
//! Metrics (CKA, exact match, chrF), judges (G-Eval, panels), benchmarks (LUXELLA-style,
//! MGSM-style), reports and plots.
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![forbid(unsafe_code)]
