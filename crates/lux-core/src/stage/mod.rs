//! What the stages after the data stage share: the [`StageContext`] a stage runs in, the
//! [`Resources`] (models, tokenizers, LLM clients) stages share instead of loading twice, and
//! the [`StageOutput`] a stage leaves for the report and for later stages.
//!
//! A recipe runs `[data]` → `[mix]` → each `[[train]]` stage → each `[[eval]]`, one
//! directory per stage under the run directory. Stages talk to each other through files
//! (an adapter directory, a `train.jsonl`), named in [`StageContext::inputs`]: that is what
//! lets a finished stage be reused by a later run and an interrupted one resume.

mod context;
mod output;
mod resources;

pub use context::{Artifact, StageContext};
pub use output::StageOutput;
pub use resources::Resources;
