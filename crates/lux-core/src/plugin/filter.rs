//! [`Filter`]: keep or drop an example, with a reason.

use std::fmt::Debug;
use std::path::PathBuf;

use crate::{Example, Lang, Result, Verdict};

/// What filters may need before the first example: the languages of the run, where relative
/// paths (blocklists, models) are resolved.
#[derive(Debug, Clone)]
pub struct FilterContext {
    /// The native language.
    pub native: Lang,
    /// The instruction languages.
    pub instruction_langs: Vec<Lang>,
    /// Directory that relative paths are resolved against.
    pub base_dir: PathBuf,
    /// The recipe's seed.
    pub seed: u64,
}

/// Keeps or drops an [`Example`] with a recorded reason.
///
/// Filters run in recipe order over the generated stream in seed order; a filter only sees
/// examples every earlier filter kept. Stateful filters (dedup) keep their state in `self`:
/// the pipeline calls [`Filter::prepare`] before each pass, which must reset that state, so a
/// re-run over the same stream gives the same verdicts.
#[typetag::serde(tag = "type")]
pub trait Filter: Send + Sync + Debug {
    /// Decides about one example.
    fn check(&mut self, example: &Example) -> Result<Verdict>;

    /// Called once before a pass over the stream: load models, reset state.
    fn prepare(&mut self, ctx: &FilterContext) -> Result<()> {
        let _ = ctx;
        Ok(())
    }

    /// A name for `dropped.jsonl` and the statistics; defaults to the type name.
    fn name(&self) -> String {
        self.typetag_name().to_string()
    }
}
