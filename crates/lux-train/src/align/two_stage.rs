//! [`AlignedObjective`]: the loss of both LinguaLIFT stages for the one
//! [`Trainer`](crate::training::Trainer) — stage 1 trains the aligner attached to a frozen LLM
//! ([`AlignerAdapter`](super::AlignerAdapter)), stage 2 a LoRA adapter of the LLM with the
//! aligner frozen; what trains is what the adapters left trainable.

use std::path::Path;

use lux_core::{Error, Result};

use super::sample::{AlignedBatch, AlignedSample, Padding};
use crate::adapter::Adapter;
use crate::model::Llama;
use crate::sft::cross_entropy_sum;
use crate::training::{BatchLoss, Objective};

/// Mean token cross-entropy of each sample's targets, its middle read through the model's
/// aligner; checkpoints hold `adapter` as it saves itself (the aligner in stage 1, the PEFT
/// adapter in stage 2).
#[derive(Debug)]
pub struct AlignedObjective<'a> {
    adapter: &'a dyn Adapter,
    name: &'a str,
}

impl<'a> AlignedObjective<'a> {
    /// The objective of the stage `name` (recorded in checkpoints), saving with `adapter`.
    pub fn new(adapter: &'a dyn Adapter, name: &'a str) -> AlignedObjective<'a> {
        AlignedObjective { adapter, name }
    }
}

impl Objective for AlignedObjective<'_> {
    type Module = Llama;
    type Sample = AlignedSample;

    fn name(&self) -> &str {
        self.name
    }

    fn targets(&self, sample: &AlignedSample) -> usize {
        sample.targets
    }

    fn loss(&self, llm: &Llama, batch: &[&AlignedSample]) -> Result<BatchLoss> {
        batch_loss(llm, batch)
    }

    fn save(&self, llm: &Llama, dir: &Path) -> Result<()> {
        self.adapter.save(llm, dir)
    }
}

/// Mean token loss of `samples` under `llm` (with its aligner), without keeping a graph.
pub fn aligned_loss(llm: &Llama, samples: &[AlignedSample], batch_size: usize) -> Result<f64> {
    let mut sum = 0.0;
    let mut count = 0;
    for chunk in samples.chunks(batch_size.max(1)) {
        let refs: Vec<&AlignedSample> = chunk.iter().collect();
        let loss = batch_loss(llm, &refs)?;
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

/// `Σ −log p(label)` over the batch's targets, the middle read through `llm`'s aligner.
fn batch_loss(llm: &Llama, batch: &[&AlignedSample]) -> Result<BatchLoss> {
    let batch = AlignedBatch::new(llm, batch, Padding::Right)?;
    let logits = llm.forward_selected_embeds(
        batch.embeds.clone(),
        Some(batch.mask.clone()),
        batch.positions.clone(),
    );
    Ok(BatchLoss {
        sum: cross_entropy_sum(logits, batch.labels.clone()),
        targets: batch.target_tokens,
        tokens: batch.tokens,
    })
}
