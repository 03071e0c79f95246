//! [`TrainStage`]: a `[[train]]` table of a recipe.

use std::fmt::Debug;

use async_trait::async_trait;

use crate::Result;
use crate::stage::{StageContext, StageOutput};

/// A training stage: SFT with an adapter, LinguaLIFT's alignment stage, or one of your own.
///
/// A recipe names it in a `[[train]]` table by `type`, next to its settings:
///
/// ```toml
/// [[train]]
/// type = "sft"
/// learning_rate = 3e-4
/// adapter = { type = "lora", r = 16, lora_alpha = 32.0 }
/// ```
///
/// Contract:
/// - everything the stage needs comes from its settings and the [`StageContext`]: the
///   datasets and adapters earlier stages left (`ctx.inputs`), the `[model]` and loaded
///   models (`ctx.resources`), the seed; it writes only under `ctx.dir`;
/// - deterministic for the same settings, inputs and seed, so the run can reuse a finished
///   stage whose settings and inputs did not change;
/// - an interrupted stage resumes from its newest checkpoint in `ctx.dir` when run again
///   (the run calls it again with the same settings);
/// - what later stages use (an adapter directory) is returned as an artifact.
#[typetag::serde(tag = "type")]
#[async_trait]
pub trait TrainStage: Send + Sync + Debug {
    /// Trains.
    async fn train(&self, ctx: &StageContext) -> Result<StageOutput>;

    /// Checks the settings before any stage of the run starts, so that a typo is found at
    /// once, not after an hour of data generation. `ctx.dir` may not exist yet.
    fn prepare(&mut self, ctx: &StageContext) -> Result<()> {
        let _ = ctx;
        Ok(())
    }

    /// The stage's default name (its directory and report section); a recipe may give
    /// another with `name = "..."`.
    fn name(&self) -> String {
        self.typetag_name().to_string()
    }
}
