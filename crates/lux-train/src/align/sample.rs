//! [`AlignedSample`]: an LLM input whose middle is a text seen through the encoder, and
//! [`ChatSlots`], which cuts a chat template around that middle.

use burn::tensor::{Device, Int, Tensor, TensorData};
use lux_core::{ChatMessage, Error, Result};

use super::aligner::AlignMode;
use crate::model::Llama;
use crate::sft::tokenize_chat;
use crate::tokenizer::Tokenizer;

/// One input of the aligned model: `prefix` tokens, then the encoder's states of a text
/// (projected by the [`Aligner`](super::Aligner)), then `suffix` tokens whose last `targets` are what the LLM
/// must produce (none at inference).
#[derive(Debug, Clone)]
pub struct AlignedSample {
    /// LLM tokens before the encoder states (the chat template up to the user's text).
    pub prefix: Vec<u32>,
    /// The encoder's token states of the text, `[tokens, d_encoder]`, on a plain (not
    /// autodiff) device: the encoder is frozen, so they are computed once.
    pub encoded: Tensor<2>,
    /// LLM tokens after the encoder states: in [`AlignMode::Prefix`] the text's own tokens,
    /// then the rest of the prompt (end of the user's turn, the assistant's header), then the
    /// answer when training.
    pub suffix: Vec<u32>,
    /// How many of `suffix`'s last tokens are targets.
    pub targets: usize,
}

impl AlignedSample {
    /// Positions of the whole input.
    pub fn len(&self) -> usize {
        self.prefix.len() + self.encoded.dims()[0] + self.suffix.len()
    }

    /// Whether the input is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A chat template cut around the user's text, so that the text itself can reach the LLM
/// through the encoder while the template's markup stays the LLM's own tokens.
#[derive(Debug, Clone)]
pub struct ChatSlots {
    head: Vec<u32>,
    tail: Vec<u32>,
    mode: AlignMode,
}

/// Stands for the user's text while the template is rendered (a private-use character no
/// template produces).
const SLOT: &str = "\u{E000}";

impl ChatSlots {
    /// Renders `tokenizer`'s chat template around a placeholder user message and keeps the
    /// tokens before it (with BOS, as [`crate::sft::tokenize_examples`] does) and after it
    /// (through the assistant's header).
    pub fn new(tokenizer: &Tokenizer, mode: AlignMode) -> Result<ChatSlots> {
        let prompt = tokenizer.apply_chat_template(&[ChatMessage::user(SLOT)], true)?;
        let (head, tail) = prompt.split_once(SLOT).ok_or_else(|| {
            Error::invalid(
                "chat_template",
                "the rendered prompt does not contain the user's message verbatim; the \
                 encoder's states cannot be placed in it",
            )
        })?;
        Ok(ChatSlots {
            head: tokenizer.encode(head, true)?,
            tail: tokenizer.encode(tail, false)?,
            mode,
        })
    }

    /// A sample for `text` (already encoded: `encoded`), with `answer` as the target when
    /// given. The answer ends with the template's end-of-turn, as in SFT.
    pub fn sample(
        &self,
        tokenizer: &Tokenizer,
        text: &str,
        encoded: Tensor<2>,
        answer: Option<&str>,
    ) -> Result<AlignedSample> {
        let mut suffix = match self.mode {
            AlignMode::Prefix => tokenizer.encode(text, false)?,
            AlignMode::Replace => Vec::new(),
        };
        suffix.extend_from_slice(&self.tail);
        let mut targets = 0;
        if let Some(answer) = answer {
            // The answer's tokens as SFT makes them (the user's text does not change them).
            let chat = tokenize_chat(tokenizer, SLOT, answer)?;
            targets = chat.targets();
            suffix.extend_from_slice(&chat.ids[chat.prompt_len..]);
        }
        Ok(AlignedSample {
            prefix: self.head.clone(),
            encoded,
            suffix,
            targets,
        })
    }
}

/// A padded batch of aligned inputs as LLM input embeddings.
#[derive(Debug, Clone)]
pub struct AlignedBatch {
    /// `[batch, seq, d_model]`.
    pub embeds: Tensor<3>,
    /// `[batch, seq]`: 1 for real positions, 0 for padding.
    pub mask: Tensor<2, Int>,
    /// `[n]` flat positions `b·seq + t` whose logits predict a target token.
    pub positions: Tensor<1, Int>,
    /// `[n]` the target token each position predicts.
    pub labels: Tensor<1, Int>,
    /// `n`.
    pub target_tokens: usize,
    /// Real positions in the batch.
    pub tokens: usize,
}

/// Where padding goes: right for training (causal attention never looks ahead, so it changes
/// nothing), left for generation (every sequence then ends at the last position).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// Pad after the sequence.
    Right,
    /// Pad before the sequence.
    Left,
}

impl AlignedBatch {
    /// Builds the input embeddings of `samples` on `llm`'s device: the LLM's embeddings of
    /// `prefix` and `suffix`, its aligner's projection of `encoded` between them, zero vectors
    /// as padding. A model without an aligner ([`Llama::aligner`]) is an error.
    pub fn new(llm: &Llama, samples: &[&AlignedSample], padding: Padding) -> Result<AlignedBatch> {
        let aligner = llm.aligner.as_ref().ok_or_else(|| {
            Error::invalid(
                "aligner",
                "the model has no aligner attached (AlignerAdapter::attach or ::load)",
            )
        })?;
        let device = llm.model.device();
        let d_model = llm.config().hidden_size;
        if aligner.d_model() != d_model {
            return Err(Error::invalid(
                "aligner",
                format!(
                    "projects to {} dimensions, the LLM's embeddings have {d_model}",
                    aligner.d_model()
                ),
            ));
        }
        let seq = samples.iter().map(|s| s.len()).max().unwrap_or(0);
        if seq == 0 {
            return Err(Error::invalid("samples", "an empty batch"));
        }
        // One aligner call for every encoder state of the batch.
        let mut encoded = Vec::with_capacity(samples.len());
        for (i, s) in samples.iter().enumerate() {
            let vocab = llm.config().vocab_size;
            if let Some(t) = s
                .prefix
                .iter()
                .chain(&s.suffix)
                .find(|&&t| t as usize >= vocab)
            {
                return Err(Error::invalid(
                    format!("samples[{i}]"),
                    format!("token id {t} is not below the vocabulary size {vocab}"),
                ));
            }
            if s.targets > s.suffix.len() {
                return Err(Error::invalid(
                    format!("samples[{i}].targets"),
                    format!(
                        "{} targets but the suffix has {} tokens",
                        s.targets,
                        s.suffix.len()
                    ),
                ));
            }
            let [n, d] = s.encoded.dims();
            if d != aligner.d_encoder() {
                return Err(Error::invalid(
                    format!("samples[{i}].encoded"),
                    format!("has {d} columns, the aligner takes {}", aligner.d_encoder()),
                ));
            }
            if n > 0 {
                encoded.push(s.encoded.clone().to_device(&device));
            }
        }
        let projected = (!encoded.is_empty()).then(|| aligner.forward(Tensor::cat(encoded, 0)));

        let mut rows = Vec::with_capacity(samples.len());
        let (mut mask, mut positions, mut labels) = (Vec::new(), Vec::new(), Vec::new());
        let mut offset = 0;
        let mut tokens = 0;
        for (b, s) in samples.iter().enumerate() {
            let len = s.len();
            tokens += len;
            let pad = seq - len;
            let start = if padding == Padding::Left { pad } else { 0 };
            let mut parts = Vec::with_capacity(4);
            let zeros = |n: usize| Tensor::<2>::zeros([n, d_model], &device);
            if padding == Padding::Left && pad > 0 {
                parts.push(zeros(pad));
            }
            if !s.prefix.is_empty() {
                parts.push(embed(llm, &s.prefix, &device));
            }
            let n = s.encoded.dims()[0];
            if let Some(p) = &projected
                && n > 0
            {
                parts.push(p.clone().narrow(0, offset, n));
                offset += n;
            }
            if !s.suffix.is_empty() {
                parts.push(embed(llm, &s.suffix, &device));
            }
            if padding == Padding::Right && pad > 0 {
                parts.push(zeros(pad));
            }
            rows.push(Tensor::cat(parts, 0).unsqueeze_dim::<3>(0));
            for t in 0..seq {
                mask.push((t >= start && t < start + len) as i64);
            }
            // Suffix token j sits at start + prefix + n + j and is predicted one position
            // earlier.
            let first_target = s.suffix.len() - s.targets;
            for j in first_target..s.suffix.len() {
                let at = start + s.prefix.len() + n + j;
                if at == 0 {
                    continue;
                }
                positions.push((b * seq + at - 1) as i64);
                labels.push(i64::from(s.suffix[j]));
            }
        }
        let n = positions.len();
        Ok(AlignedBatch {
            embeds: Tensor::cat(rows, 0),
            mask: Tensor::from_data(TensorData::new(mask, [samples.len(), seq]), &device),
            positions: Tensor::from_data(TensorData::new(positions, [n]), &device),
            labels: Tensor::from_data(TensorData::new(labels, [n]), &device),
            target_tokens: n,
            tokens,
        })
    }
}

fn embed(llm: &Llama, ids: &[u32], device: &Device) -> Tensor<2> {
    let ids: Vec<i64> = ids.iter().map(|&t| i64::from(t)).collect();
    let n = ids.len();
    let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [1, n]), device);
    llm.embed(ids).squeeze_dim::<2>(0)
}
