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
//! - [`judge`]: every LLM judge of lux — G-Eval (probability-weighted, sampled or parsed
//!   scores) and `llm_judge` (a JSON score with a reason) — judge panels with
//!   mean/median/trimmed-mean/weighted-majority aggregation, and agreement (Krippendorff's
//!   alpha, Spearman).
//! - [`luxella`]: a LUXELLA-style benchmark: LLM-written questions per category and
//!   difficulty, answered by models, scored 1–5 by a judge.
//! - [`report`]: Markdown + JSON + SVG reports of all of the above.
//! - [`stages`]: the `[[eval]]` stages of recipes (`cka`, `heldout_loss`, `judge_panel`,
//!   `luxella`, `mgsm`, `chrf`), run on the base model and after each training stage.
//!
//! Prompts are [`lux_core::PromptTemplate`]s, built in from this crate's `prompts/` or replaced
//! by a file a recipe names (relative to the recipe: judges read them in
//! [`lux_core::Judge::prepare`]); models' JSON answers are read by [`lux_core::json_answer`].
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![forbid(unsafe_code)]

pub mod chrf;
pub mod cka;
pub mod judge;
pub mod luxella;
pub mod mgsm;
pub mod report;
pub mod stages;
mod text;
