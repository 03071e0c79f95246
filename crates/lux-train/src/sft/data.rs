//! [`SftSample`]: an instruction example as token ids with the positions the loss covers.

use burn::tensor::{Device, Int, Tensor, TensorData};
use lux_core::{ChatMessage, Example, Result};

use crate::model::PositionIds;
use crate::tokenizer::Tokenizer;

/// One tokenised example: the chat-formatted conversation and which tokens are targets.
#[derive(Debug, Clone, PartialEq)]
pub struct SftSample {
    /// Token ids of the whole conversation (prompt, answer, end-of-turn).
    pub ids: Vec<u32>,
    /// Index of the first target token: the loss covers `ids[prompt_len..]`.
    pub prompt_len: usize,
}

impl SftSample {
    /// Number of target tokens.
    pub fn targets(&self) -> usize {
        self.ids.len() - self.prompt_len
    }
}

/// The user's turn of an example as SFT trains it: the instruction, and the input after a
/// blank line. Evaluations that let a system answer held-out examples ask it this, so the
/// question is the one the tuning taught.
pub fn user_turn(example: &Example) -> String {
    match &example.input {
        Some(input) => format!("{}\n\n{input}", example.instruction),
        None => example.instruction.clone(),
    }
}

/// Formats examples with the model's chat template (user: instruction, and the input after a
/// blank line; assistant: output) and tokenises them.
///
/// The prompt (up to the assistant's turn) and the rest are tokenised separately and
/// concatenated, so the boundary between what the model is given and what it must produce is
/// exact, whatever the tokenizer would merge across it. With `completion_only` the targets are
/// the answer and its end-of-turn tokens; otherwise every token after the first.
/// Conversations longer than `max_len` are cut at the end (their targets shrink); an example
/// left with no target is dropped and counted in the second value.
pub fn tokenize_examples(
    tokenizer: &Tokenizer,
    examples: &[Example],
    max_len: usize,
    completion_only: bool,
) -> Result<(Vec<SftSample>, usize)> {
    let mut samples = Vec::with_capacity(examples.len());
    let mut dropped = 0;
    for e in examples {
        let user = user_turn(e);
        let SftSample {
            mut ids,
            prompt_len,
        } = tokenize_chat(tokenizer, &user, &e.output)?;
        ids.truncate(max_len);
        let prompt_len = if completion_only { prompt_len } else { 1 };
        if ids.len() <= prompt_len {
            dropped += 1;
            continue;
        }
        samples.push(SftSample { ids, prompt_len });
    }
    Ok((samples, dropped))
}

/// One user turn and the assistant's answer, chat-formatted and tokenised, the answer (and its
/// end-of-turn tokens) as the targets.
///
/// The prompt (up to the assistant's turn, with BOS) and the rest are tokenised separately and
/// concatenated, so the boundary between what the model is given and what it must produce is
/// exact, whatever the tokenizer would merge across it. No truncation.
pub fn tokenize_chat(tokenizer: &Tokenizer, user: &str, answer: &str) -> Result<SftSample> {
    let prompt = tokenizer.apply_chat_template(&[ChatMessage::user(user)], true)?;
    let full = tokenizer.apply_chat_template(
        &[ChatMessage::user(user), ChatMessage::assistant(answer)],
        false,
    )?;
    let rest = full.strip_prefix(prompt.as_str()).ok_or_else(|| {
        lux_core::Error::invalid(
            "chat_template",
            "the rendered conversation does not start with the rendered prompt; \
             completion-only targets cannot be located",
        )
    })?;
    let mut ids = tokenizer.encode(&prompt, true)?;
    let prompt_len = ids.len();
    ids.extend(tokenizer.encode(rest, false)?);
    Ok(SftSample { ids, prompt_len })
}

/// A micro-batch on a device, with its target positions and labels: one example per row,
/// right-padded ([`new`](Self::new)), or several per row ([`packed`](Self::packed)).
#[derive(Debug, Clone)]
pub struct SftBatch {
    /// `[batch, seq]` token ids, right-padded.
    pub ids: Tensor<2, Int>,
    /// `[batch, seq]`: 1 for tokens, 0 for padding.
    pub mask: Tensor<2, Int>,
    /// `[n]` flat positions `b·seq + t` whose logits predict a target token.
    pub positions: Tensor<1, Int>,
    /// `[n]` the target token at each position (the token at `t + 1`).
    pub labels: Tensor<1, Int>,
    /// `n`.
    pub target_tokens: usize,
    /// Non-padding tokens in the batch.
    pub tokens: usize,
    /// For a packed batch, the position of each token in its example (restarting at 0 with
    /// each), which also delimits the examples; `None`: one example per row.
    pub position_ids: Option<PositionIds>,
}

impl SftBatch {
    /// Pads `samples` to their longest length with `pad_id`.
    pub fn new(samples: &[&SftSample], pad_id: u32, device: &Device) -> SftBatch {
        let seq = samples.iter().map(|s| s.ids.len()).max().unwrap_or(1);
        let mut ids = Vec::with_capacity(samples.len() * seq);
        let mut mask = Vec::with_capacity(samples.len() * seq);
        let mut positions = Vec::new();
        let mut labels = Vec::new();
        let mut tokens = 0;
        for (b, s) in samples.iter().enumerate() {
            tokens += s.ids.len();
            for t in 0..seq {
                let real = t < s.ids.len();
                ids.push(if real { s.ids[t] } else { pad_id } as i64);
                mask.push(real as i64);
                // The logits at t predict token t + 1.
                if t + 1 < s.ids.len() && t + 1 >= s.prompt_len {
                    positions.push((b * seq + t) as i64);
                    labels.push(s.ids[t + 1] as i64);
                }
            }
        }
        let n = positions.len();
        SftBatch {
            ids: Tensor::from_data(TensorData::new(ids, [samples.len(), seq]), device),
            mask: Tensor::from_data(TensorData::new(mask, [samples.len(), seq]), device),
            positions: Tensor::from_data(TensorData::new(positions, [n]), device),
            labels: Tensor::from_data(TensorData::new(labels, [n]), device),
            target_tokens: n,
            tokens,
            position_ids: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_targets_are_the_completion_shifted_by_one() {
        let a = SftSample {
            ids: vec![1, 2, 3, 4, 5],
            prompt_len: 3,
        };
        let b = SftSample {
            ids: vec![6, 7, 8],
            prompt_len: 2,
        };
        let batch = SftBatch::new(&[&a, &b], 0, &Device::flex());
        let v = |t: Tensor<1, Int>| {
            t.into_data()
                .convert::<i64>()
                .try_into_vec::<i64>()
                .unwrap()
        };
        // a: positions 2, 3 predict 4, 5; b: position 1 (flat 5 + 1) predicts 8.
        assert_eq!(v(batch.positions), [2, 3, 6]);
        assert_eq!(v(batch.labels), [4, 5, 8]);
        assert_eq!(batch.target_tokens, a.targets() + b.targets());
        assert_eq!(batch.tokens, 8);
        let ids = batch
            .ids
            .into_data()
            .convert::<i64>()
            .try_into_vec::<i64>()
            .unwrap();
        assert_eq!(ids, [1, 2, 3, 4, 5, 6, 7, 8, 0, 0]);
    }
}
