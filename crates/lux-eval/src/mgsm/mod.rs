//! MGSM-style math word problems: answer extraction, exact-match scoring, and a bundled set
//! of templated problems in English, Luxembourgish, German and French.
//!
//! - [`AnswerExtractor`] finds the final number of a model's answer ("The answer is 42",
//!   "D'Äntwert ass: **1.234,5**"…) and records how ([`ExtractionMethod`]).
//! - [`Number`] is an exact decimal, so `18`, `18.0` and `18,00` score the same.
//! - [`MgsmProblem`] and [`generate`] make the bundled set (`data/mgsm_mini.jsonl`);
//!   [`MgsmScorer`] turns responses into an accuracy table per language.
//! - [`WordProblems`] (`type = "word_problems"`, a seed source) and [`WordProblem`]
//!   (`type = "word_problem"`, a generator) put templated problems into a recipe's data stage,
//!   with a seed other than the evaluation set's (LinguaLIFT's English-only training data).

mod extract;
mod generator;
mod number;
mod problems;
mod score;
mod source;

pub use extract::{
    AnswerExtractor, AnswerExtractorConfig, DecimalMark, Extraction, ExtractionMethod,
    extract_answer, find_numbers,
};
pub use generator::{DEFAULT_ANSWER_TEMPLATE, WordProblem, render_answer};
pub use number::Number;
pub use problems::{LANGUAGES, MgsmMiniConfig, MgsmProblem, bundled, generate, write_jsonl};
pub use score::{LanguageAccuracy, MgsmItem, MgsmReport, MgsmScorer};
pub use source::WordProblems;
