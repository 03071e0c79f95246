//! [`Objective`]: what a training run minimises — the one part that differs between SFT and
//! LinguaLIFT's stages.

use std::path::Path;

use burn::module::Module;
use burn::tensor::Tensor;
use lux_core::Result;

/// The summed token loss of a batch and what it covered.
#[derive(Debug, Clone)]
pub struct BatchLoss {
    /// `Σ −log p(label)` over the batch's target tokens (a one-element tensor that keeps the
    /// graph while training).
    pub sum: Tensor<1>,
    /// Number of target tokens the sum covers.
    pub targets: usize,
    /// Input positions of the batch (prompt and target, no padding), for throughput.
    pub tokens: usize,
}

/// The model-specific half of a training run; the [`Trainer`](super::Trainer) owns the other
/// half (batches, accumulation, schedule, clipping, AdamW, evaluation, metrics, checkpoints,
/// resume), so every stage trains the same way.
///
/// The module is what the optimizer updates: its parameters that require a gradient are the
/// trainable ones (LoRA pairs attached to a frozen LLM in SFT, the aligner in LinguaLIFT's
/// stage 1); anything else the loss needs (a frozen LLM, a frozen aligner) lives in the
/// objective.
pub trait Objective {
    /// The module being trained.
    type Module: Module + Clone;
    /// One training example as the loss reads it.
    type Sample;

    /// A name recorded in every checkpoint; a checkpoint written for another objective is
    /// refused on resume.
    fn name(&self) -> &str;

    /// The number of target tokens of `sample` (known before any forward pass, so that
    /// gradient accumulation can divide every micro-batch's loss by the whole step's targets).
    fn targets(&self, sample: &Self::Sample) -> usize;

    /// The summed token loss of `batch` under `module`, with its graph (the trainer divides by
    /// the accumulated batch's targets and calls backward).
    fn loss(&self, module: &Self::Module, batch: &[&Self::Sample]) -> Result<BatchLoss>;

    /// The same in evaluation mode: no dropout, no graph kept. The default runs [`loss`] on
    /// [`Module::valid`]; an objective holding frozen modules overrides it to pair them with
    /// their own evaluation copies.
    ///
    /// [`loss`]: Objective::loss
    fn eval_loss(&self, module: &Self::Module, batch: &[&Self::Sample]) -> Result<BatchLoss> {
        let mut loss = self.loss(&module.valid(), batch)?;
        loss.sum = loss.sum.detach();
        Ok(loss)
    }

    /// Writes what a user loads from a checkpoint (a PEFT adapter, an aligner) into `dir`,
    /// beside the trainer's own files. The default writes nothing.
    fn save(&self, module: &Self::Module, dir: &Path) -> Result<()> {
        let _ = (module, dir);
        Ok(())
    }
}
