//! # lux-eval
//!
//! Metrics (CKA, exact match, chrF), judges (G-Eval, panels), benchmarks (LUXELLA-style,
//! MGSM-style), reports and plots.
//!
//! - [`cka`]: linear, RBF, unbiased and minibatch CKA on burn tensors, and per-layer CKA
//!   between languages with each Gram computed once.
//! - [`chrf`]: chrF and chrF++ as sacrebleu defines them, per sentence and per corpus.
//! - [`mgsm`]: MGSM-style answer extraction (en/lb/de/fr), exact-match scoring, and a bundled
//!   set of templated word problems in four languages.
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![forbid(unsafe_code)]

pub mod chrf;
pub mod cka;
pub mod mgsm;
