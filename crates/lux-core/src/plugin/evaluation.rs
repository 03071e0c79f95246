//! [`Evaluation`]: an `[[eval]]` table of a recipe.

use std::fmt::Debug;

use async_trait::async_trait;

use crate::Result;
use crate::stage::{StageContext, StageOutput};

/// An evaluation: CKA between languages, held-out loss, a judged benchmark, or one of your
/// own. It compares the *systems* of the run — the base model and the model after each
/// training stage (the adapters in `ctx.inputs`) — and holds its `judges` and `metrics`.
///
/// ```toml
/// [[eval]]
/// type = "heldout_loss"
/// max_examples = 64
/// ```
///
/// Contract: as for [`crate::TrainStage`] — settings and context in, files under `ctx.dir`
/// out, deterministic, figures in [`StageOutput::summary`] and a Markdown section for the
/// run's report.
#[typetag::serde(tag = "type")]
#[async_trait]
pub trait Evaluation: Send + Sync + Debug {
    /// Evaluates.
    async fn evaluate(&self, ctx: &StageContext) -> Result<StageOutput>;

    /// Checks the settings (and prepares judges and metrics) before any stage of the run
    /// starts. `ctx.dir` may not exist yet.
    fn prepare(&mut self, ctx: &StageContext) -> Result<()> {
        let _ = ctx;
        Ok(())
    }

    /// The evaluation's default name (its directory and report section); a recipe may give
    /// another with `name = "..."`.
    fn name(&self) -> String {
        self.typetag_name().to_string()
    }
}
