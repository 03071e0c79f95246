//! [`SftTrainer`]: supervised fine-tuning of an adapted [`Llama`] — the [`SftObjective`] run by
//! the one [`Trainer`], with the adapter saved in every checkpoint and at the end.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::Tensor;
use lux_core::{Error, Result};

use super::cross_entropy::cross_entropy_sum;
use super::data::{SftBatch, SftSample};
use super::packing::BatchLayout;
use crate::adapter::Adapter;
use crate::model::Llama;
use crate::training::{BatchLoss, Objective, TrainReport, Trainer, TrainingArgs};

/// The SFT loss: mean token cross-entropy on each example's targets (the assistant's answer
/// with completion-only loss), micro-batches laid out as `layout` says (right-padded with
/// `pad_id`, or packed). Checkpoints hold the adapter as `adapter` saves it (for LoRA a PEFT
/// directory), so any `checkpoint-N/` loads in PEFT.
#[derive(Debug)]
pub struct SftObjective<'a> {
    /// The adapter attached to the model, which saves it.
    pub adapter: &'a dyn Adapter,
    /// Pads micro-batches.
    pub pad_id: u32,
    /// Padded or packed rows; the loss is the same either way.
    pub layout: BatchLayout,
}

impl Objective for SftObjective<'_> {
    type Module = Llama;
    type Sample = SftSample;

    fn name(&self) -> &str {
        "sft"
    }

    fn targets(&self, sample: &SftSample) -> usize {
        sample.targets()
    }

    fn loss(&self, model: &Llama, batch: &[&SftSample]) -> Result<BatchLoss> {
        let device = model.model.device();
        let batch = SftBatch::with_layout(batch, self.pad_id, self.layout, &device)?;
        Ok(BatchLoss {
            sum: token_loss_sum(model, &batch),
            targets: batch.target_tokens,
            tokens: batch.tokens,
        })
    }

    fn save(&self, model: &Llama, dir: &Path) -> Result<()> {
        self.adapter.save(model, dir)
    }
}

/// Runs SFT of an adapted [`Llama`] into `output_dir`: what [`Trainer`] writes
/// (`metrics.jsonl`, `loss.svg`, `train_report.json`, `checkpoint-N/` every `save_steps`, each
/// with the adapter) and the final adapter in `adapter/`.
#[derive(Debug)]
pub struct SftTrainer {
    trainer: Trainer,
    adapter: Box<dyn Adapter>,
    layout: BatchLayout,
}

impl SftTrainer {
    /// A trainer; `adapter` is the adapter the model was given ([`Adapter::attach`]): it
    /// saves the checkpoints and the final adapter, and loads them on resume. A
    /// [`LoraConfig`](crate::lora::LoraConfig) is one.
    pub fn new(
        args: TrainingArgs,
        adapter: impl Adapter + 'static,
        output_dir: impl Into<PathBuf>,
    ) -> Result<Self> {
        Self::with_adapter(args, Box::new(adapter), output_dir)
    }

    /// [`new`](Self::new) with an adapter chosen at run time (from a recipe).
    pub fn with_adapter(
        args: TrainingArgs,
        adapter: Box<dyn Adapter>,
        output_dir: impl Into<PathBuf>,
    ) -> Result<Self> {
        Ok(SftTrainer {
            trainer: Trainer::new(args, output_dir)?,
            adapter,
            layout: BatchLayout::Padded,
        })
    }

    /// The same trainer with micro-batches laid out as `layout` says (default padded); with
    /// [`BatchLayout::Packed`] a step costs what its real tokens cost, for the same loss.
    pub fn with_layout(mut self, layout: BatchLayout) -> Self {
        self.layout = layout;
        self
    }

    /// The settings.
    pub fn args(&self) -> &TrainingArgs {
        self.trainer.args()
    }

    /// Where the final adapter is written: `adapter/` in the output directory.
    pub fn adapter_dir(&self) -> PathBuf {
        self.trainer.output_dir().join("adapter")
    }

    /// Number of optimizer steps a run over `n` training samples takes.
    pub fn total_steps(&self, n: usize) -> usize {
        self.args().total_steps(n)
    }

    /// Trains `model` (on an autodiff device, the adapter attached) on `train`, evaluating on
    /// `validation`; `pad_id` pads micro-batches. See [`Trainer::train`].
    pub fn train(
        &self,
        model: Llama,
        train: &[SftSample],
        validation: &[SftSample],
        pad_id: u32,
    ) -> Result<(Llama, TrainReport)> {
        let objective = self.objective(pad_id);
        let (model, report) = self.trainer.train(&objective, model, train, validation)?;
        self.adapter.save(&model, &self.adapter_dir())?;
        Ok((model, report))
    }

    /// Continues the run saved in `checkpoint` on `base`, the model *without* adapters: the
    /// adapter is loaded from the checkpoint, then [`Trainer::resume`] restores the rest, so
    /// the steps after the checkpoint are those of an uninterrupted run.
    pub fn resume(
        &self,
        base: Llama,
        checkpoint: &Path,
        train: &[SftSample],
        validation: &[SftSample],
        pad_id: u32,
    ) -> Result<(Llama, TrainReport)> {
        Trainer::verify(checkpoint)?;
        let model = self.adapter.load(base, checkpoint)?;
        let objective = self.objective(pad_id);
        let (model, report) = self
            .trainer
            .resume(&objective, model, checkpoint, train, validation)?;
        self.adapter.save(&model, &self.adapter_dir())?;
        Ok((model, report))
    }

    /// Attaches the adapter to `base` and trains, or continues from the newest sound checkpoint
    /// of the output directory ([`Trainer::train_adapter`]); the adapter is saved in
    /// `adapter/` either way. What the `sft` stage runs.
    pub fn train_adapter(
        &self,
        base: Llama,
        train: &[SftSample],
        validation: &[SftSample],
        pad_id: u32,
    ) -> Result<(Llama, TrainReport)> {
        let objective = self.objective(pad_id);
        let (model, report) =
            self.trainer
                .train_adapter(&objective, &*self.adapter, base, train, validation)?;
        self.adapter.save(&model, &self.adapter_dir())?;
        Ok((model, report))
    }

    /// The newest complete `checkpoint-N/` of the output directory, if any.
    pub fn latest_checkpoint(&self) -> Option<PathBuf> {
        self.trainer.latest_checkpoint()
    }

    fn objective(&self, pad_id: u32) -> SftObjective<'_> {
        SftObjective {
            adapter: &*self.adapter,
            pad_id,
            layout: self.layout,
        }
    }
}

/// `Σ −log p(label)` over the batch's target positions (a scalar tensor).
fn token_loss_sum(model: &Llama, batch: &SftBatch) -> Tensor<1> {
    let (ids, mask, positions) = (
        batch.ids.clone(),
        Some(batch.mask.clone()),
        batch.positions.clone(),
    );
    let logits = match &batch.position_ids {
        Some(position_ids) => model.forward_selected_packed(ids, mask, position_ids, positions),
        None => model.forward_selected(ids, mask, positions),
    };
    cross_entropy_sum(logits, batch.labels.clone())
}

/// Mean token loss (nats per target token) over `samples`, in evaluation mode
/// ([`Module::valid`]: no LoRA dropout, no gradient kept).
pub fn mean_token_loss(
    model: &Llama,
    samples: &[SftSample],
    batch_size: usize,
    pad_id: u32,
) -> Result<f64> {
    let model = &model.valid();
    let device = model.model.device();
    let mut sum = 0.0;
    let mut count = 0usize;
    for chunk in samples.chunks(batch_size.max(1)) {
        let refs: Vec<&SftSample> = chunk.iter().collect();
        let batch = SftBatch::new(&refs, pad_id, &device);
        if batch.target_tokens == 0 {
            continue;
        }
        sum += token_loss_sum(model, &batch).detach().into_scalar::<f32>() as f64;
        count += batch.target_tokens;
    }
    if count == 0 {
        return Err(Error::invalid("validation", "no target tokens"));
    }
    Ok(sum / count as f64)
}
