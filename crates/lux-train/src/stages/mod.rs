//! The recipe stages this crate implements, and what stages of any crate use to reach the
//! run's models.
//!
//! | file | stage / concept |
//! |---|---|
//! | `sft.rs` | [`SftStage`] (`type = "sft"`): an adapter trained on the run's dataset |
//! | `systems.rs` | [`System`]: the base model and the model after each training stage |
//! | `answers.rs` | [`answer`]: greedy answers of a system to prompts, for judged evaluations |
//! | `lingualift_align.rs` | [`LinguaLiftAlign`] (`type = "lingualift_align"`): LinguaLIFT stage 1, the aligner with encoder and LLM frozen |
//! | `lingualift_instruct.rs` | [`LinguaLiftInstruct`] (`type = "lingualift_instruct"`): LinguaLIFT stage 2, an adapter behind the frozen aligner |
//! | `aligned.rs` | [`AlignedModel`] and the files tying an adapter to its aligner and an aligner to its encoder |
//! | `training_data.rs` | [`TrainingData`]: the examples a training stage reads; the split of a `[[train]]` table |
//!
//! The `[model]` table reaches stages as a [`ModelSpec`] in the run's resources (see
//! [`model_spec`]); [`base_model`] loads it once per run for every evaluation.

mod aligned;
mod answers;
mod lingualift_align;
mod lingualift_instruct;
mod sft;
mod systems;
mod training_data;

use std::sync::Arc;

use lux_core::stage::StageContext;
use lux_core::{Error, Example, Result};

pub use aligned::{
    ALIGNER_REF_FILE, AlignedModel, ENCODER_SPEC_FILE, load_encoder, read_aligner_ref,
    read_encoder_spec, write_aligner_dir, write_aligner_ref,
};
pub use answers::answer;
pub use lingualift_align::{AlignSettings, AlignerShape, LinguaLiftAlign};
pub use lingualift_instruct::{InstructSettings, LinguaLiftInstruct, UntrainedAligner};
pub use sft::{SftSettings, SftStage};
pub use systems::{
    ADAPTER_SPEC_FILE, System, all_systems, load_aligned_system, load_system, read_adapter_spec,
    systems, write_adapter_spec,
};
pub use training_data::TrainingData;

pub use crate::base_model::LoadedModel;
use crate::base_model::{ModelSpec, shared_model_with};

/// The name of the [`ModelSpec`] in a run's resources.
pub const MODEL_SPEC: &str = "model";

/// The recipe's `[model]`, or an error saying the stage needs one.
pub fn model_spec(ctx: &StageContext) -> Result<Arc<ModelSpec>> {
    ctx.resources.get::<ModelSpec>(MODEL_SPEC).ok_or_else(|| {
        Error::plugin(
            &ctx.name,
            "needs a base model: add a [model] table to the recipe (name = \"smollm2\" or \
             path = \"…\")",
        )
    })
}

/// The base model on the `[model]`'s device, loaded on first use and shared by every stage
/// of the run.
pub fn base_model(ctx: &StageContext) -> Result<Arc<LoadedModel>> {
    if let Some(held) = ctx.resources.get::<Arc<LoadedModel>>(BASE_MODEL) {
        return Ok(Arc::clone(&held));
    }
    let spec = model_spec(ctx)?;
    let loaded = shared_model_with(
        &spec.resolve(&ctx.base_dir)?,
        &spec.device()?,
        spec.load_options(),
    )?;
    // Held by the run's resources, so every evaluation reuses it while the run lasts; a local
    // LLM client naming the same file on the same device shares it (see `shared_model`).
    let held = ctx.resources.get_or_try_insert(BASE_MODEL, || Ok(loaded))?;
    Ok(Arc::clone(&held))
}

/// The name of the base model in a run's resources.
const BASE_MODEL: &str = "base_model";

/// Reads the examples of a dataset artifact (`mix/train`).
pub fn read_dataset(ctx: &StageContext, key: &str) -> Result<Vec<Example>> {
    lux_core::fs::read_jsonl(&ctx.input(key)?.path)
}
