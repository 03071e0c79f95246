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
//! - [`judge`]: the G-Eval judge (probability-weighted, sampled or parsed scores), judge
//!   panels with mean/median/trimmed-mean/weighted-majority aggregation, and agreement
//!   (Krippendorff's alpha, Spearman).
//! - [`luxella`]: a LUXELLA-style benchmark: LLM-written questions per category and
//!   difficulty, answered by models, scored 1–5 by a judge.
//! - [`report`]: Markdown + JSON + SVG reports of all of the above.
//! - [`prompt`]: the `{placeholder}` prompt templates the LLM-backed parts use.
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![forbid(unsafe_code)]

pub mod chrf;
pub mod cka;
pub mod judge;
pub mod luxella;
pub mod mgsm;
pub mod prompt;
pub mod report;
