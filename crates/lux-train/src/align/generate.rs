//! [`generate_aligned`]: generation from inputs whose middle is seen through the encoder.

use lux_core::{Error, Result};

use super::sample::{AlignedBatch, AlignedSample, Padding};
use crate::generate::{Generated, SamplingConfig, decode};
use crate::model::Llama;
use crate::tokenizer::Tokenizer;

/// Generates a continuation of each sample (its `targets` are ignored: the whole sample is the
/// prompt), as LinguaLIFT answers: the encoder has read the question, the model's aligner
/// ([`Llama::aligner`]) projected it, the LLM writes the answer.
///
/// The prompts are left-padded and run into the KV cache as vectors in one pass; decoding then
/// goes on with token ids exactly as [`crate::generate::generate`] does (same sampling, stop
/// tokens, stop strings and log-probs).
pub fn generate_aligned(
    llm: &Llama,
    tokenizer: &Tokenizer,
    samples: &[AlignedSample],
    config: &SamplingConfig,
) -> Result<Vec<Generated>> {
    run(
        llm,
        Some(tokenizer),
        tokenizer.eos_id(),
        tokenizer.pad_id(),
        samples,
        config,
    )
}

/// [`generate_aligned`] without a tokenizer: token ids only, `eos` as the end-of-sequence
/// token (as [`crate::generate::generate_ids`]).
pub fn generate_aligned_ids(
    llm: &Llama,
    samples: &[AlignedSample],
    config: &SamplingConfig,
    eos: Option<u32>,
) -> Result<Vec<Generated>> {
    if !config.stop.is_empty() {
        return Err(Error::invalid(
            "stop",
            "stop strings are matched on decoded text and need a tokenizer",
        ));
    }
    run(llm, None, eos, None, samples, config)
}

fn run(
    llm: &Llama,
    tokenizer: Option<&Tokenizer>,
    eos: Option<u32>,
    pad: Option<u32>,
    samples: &[AlignedSample],
    config: &SamplingConfig,
) -> Result<Vec<Generated>> {
    if let Some(i) = samples.iter().position(AlignedSample::is_empty) {
        return Err(Error::invalid(
            format!("samples[{i}]"),
            "the prompt is empty",
        ));
    }
    let prompts: Vec<AlignedSample> = samples
        .iter()
        .map(|s| {
            let mut s = s.clone();
            let keep = s.suffix.len().saturating_sub(s.targets);
            s.suffix.truncate(keep);
            s.targets = 0;
            s
        })
        .collect();
    let lens: Vec<usize> = prompts.iter().map(AlignedSample::len).collect();
    decode(llm, tokenizer, eos, pad, &lens, config, |cache| {
        let refs: Vec<&AlignedSample> = prompts.iter().collect();
        let batch = AlignedBatch::new(llm, &refs, Padding::Left)?;
        Ok(llm.forward_step_last_embeds(batch.embeds, Some(batch.mask), cache))
    })
}
