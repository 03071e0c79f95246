//! LinguaLIFT's two training stages as [`Objective`]s of the one
//! [`Trainer`](crate::training::Trainer): [`AlignObjective`] (stage 1, the aligner trained, the
//! LLM frozen) and [`AlignedInstructObjective`] (stage 2, the LLM's adapter trained, the aligner
//! frozen).

use std::path::Path;

use burn::module::Module;
use burn::tensor::Tensor;
use lux_core::{Error, Result};

use super::aligner::Aligner;
use super::sample::{AlignedBatch, AlignedSample, Padding};
use super::save::save_aligner;
use crate::adapter::Adapter;
use crate::model::Llama;
use crate::sft::cross_entropy_sum;
use crate::training::{BatchLoss, Objective};

/// Stage 1: trains an [`Aligner`] so that the frozen LLM produces each sample's targets from
/// the encoder's view of its text (LinguaLIFT: code-switched text in, its English original
/// out).
///
/// The LLM is taken with [`Module::no_grad`]: gradients flow through its activations to the
/// aligner, but none of its parameters gets a gradient or optimizer state, and it stays
/// bit-identical. Checkpoints hold the aligner as [`save_aligner`] writes it.
#[derive(Debug)]
pub struct AlignObjective {
    llm: Llama,
    llm_eval: Llama,
}

impl AlignObjective {
    /// The objective around `llm` (on the autodiff device the aligner is trained on).
    pub fn new(llm: &Llama) -> AlignObjective {
        AlignObjective {
            llm: llm.clone().no_grad(),
            llm_eval: llm.valid(),
        }
    }
}

impl Objective for AlignObjective {
    type Module = Aligner;
    type Sample = AlignedSample;

    fn name(&self) -> &str {
        "lingualift_align"
    }

    fn targets(&self, sample: &AlignedSample) -> usize {
        sample.targets
    }

    fn loss(&self, aligner: &Aligner, batch: &[&AlignedSample]) -> Result<BatchLoss> {
        batch_loss(&self.llm, aligner, batch)
    }

    fn eval_loss(&self, aligner: &Aligner, batch: &[&AlignedSample]) -> Result<BatchLoss> {
        batch_loss(&self.llm_eval, &aligner.valid(), batch)
    }

    fn save(&self, aligner: &Aligner, dir: &Path) -> Result<()> {
        save_aligner(aligner, dir)
    }
}

/// Stage 2: trains the LLM's trainable parameters (its adapter, attached before) on the
/// samples, read through `aligner`, which is frozen ([`Module::no_grad`]: no gradient, no
/// update). LinguaLIFT trains this stage on English-only instructions: the encoder reads the
/// English question, and the aligner learned in stage 1 lets the same LLM later read other
/// languages. Checkpoints hold the adapter as `adapter` saves it.
#[derive(Debug)]
pub struct AlignedInstructObjective<'a> {
    aligner: Aligner,
    aligner_eval: Aligner,
    adapter: &'a dyn Adapter,
}

impl<'a> AlignedInstructObjective<'a> {
    /// The objective behind `aligner` (on the LLM's autodiff device), saving with `adapter`.
    pub fn new(aligner: &Aligner, adapter: &'a dyn Adapter) -> AlignedInstructObjective<'a> {
        AlignedInstructObjective {
            aligner: aligner.clone().no_grad(),
            aligner_eval: aligner.valid(),
            adapter,
        }
    }
}

impl Objective for AlignedInstructObjective<'_> {
    type Module = Llama;
    type Sample = AlignedSample;

    fn name(&self) -> &str {
        "lingualift_instruct"
    }

    fn targets(&self, sample: &AlignedSample) -> usize {
        sample.targets
    }

    fn loss(&self, llm: &Llama, batch: &[&AlignedSample]) -> Result<BatchLoss> {
        batch_loss(llm, &self.aligner, batch)
    }

    fn eval_loss(&self, llm: &Llama, batch: &[&AlignedSample]) -> Result<BatchLoss> {
        batch_loss(&llm.valid(), &self.aligner_eval, batch)
    }

    fn save(&self, llm: &Llama, dir: &Path) -> Result<()> {
        self.adapter.save(llm, dir)
    }
}

/// Mean token loss of `samples` under `llm` + `aligner`, without keeping a graph.
pub fn aligned_loss(
    llm: &Llama,
    aligner: &Aligner,
    samples: &[AlignedSample],
    batch_size: usize,
) -> Result<f64> {
    let mut sum = 0.0;
    let mut count = 0;
    for chunk in samples.chunks(batch_size.max(1)) {
        let refs: Vec<&AlignedSample> = chunk.iter().collect();
        let loss = batch_loss(llm, aligner, &refs)?;
        if loss.targets == 0 {
            continue;
        }
        sum += loss.sum.detach().into_scalar::<f32>() as f64;
        count += loss.targets;
    }
    if count == 0 {
        return Err(Error::invalid("samples", "no target tokens"));
    }
    Ok(sum / count as f64)
}

/// `Σ −log p(label)` over the batch's targets, the text read through `aligner`.
fn batch_loss(llm: &Llama, aligner: &Aligner, batch: &[&AlignedSample]) -> Result<BatchLoss> {
    let batch = AlignedBatch::new(llm, aligner, batch, Padding::Right)?;
    let logits = llm.forward_selected_embeds(
        batch.embeds.clone(),
        Some(batch.mask.clone()),
        batch.positions.clone(),
    );
    let sum: Tensor<1> = cross_entropy_sum(logits, batch.labels.clone());
    Ok(BatchLoss {
        sum,
        targets: batch.target_tokens,
        tokens: batch.tokens,
    })
}
