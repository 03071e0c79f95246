//! Pooled hidden states of every layer for a batch of texts: the input of CKA.

use burn::tensor::{Device, Int, Tensor, TensorData};
use lux_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::model::Llama;
use crate::tokenizer::Tokenizer;

/// How a text's token states become one vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    /// Mean over the text's tokens (padding excluded).
    Mean,
    /// The last real token: what a causal decoder has read the whole text at.
    LastToken,
}

/// Every layer's pooled representation of `texts`, HF's `output_hidden_states` order
/// (embeddings, then each layer; the last has the final norm): `num_layers + 1` tensors of
/// `[texts.len(), d_model]` on `device`.
///
/// Texts run in right-padded batches of `batch_size` with an attention mask, so a text gets
/// the same vector alone or in a batch; each is cut to `max_tokens` tokens (BOS included).
/// Errors on an empty text list or a text with no token.
pub fn hidden_states(
    model: &Llama,
    tokenizer: &Tokenizer,
    texts: &[&str],
    pooling: Pooling,
    batch_size: usize,
    max_tokens: usize,
) -> Result<Vec<Tensor<2>>> {
    if texts.is_empty() {
        return Err(Error::invalid("texts", "no text to encode"));
    }
    let device = model.model.device();
    let pad = tokenizer.pad_id().unwrap_or(0);
    let mut per_layer: Vec<Vec<Tensor<2>>> = Vec::new();
    for chunk in texts.chunks(batch_size.max(1)) {
        let mut encoded = Vec::with_capacity(chunk.len());
        for (i, text) in chunk.iter().enumerate() {
            let mut ids = tokenizer.encode(text, true)?;
            ids.truncate(max_tokens.max(1));
            if ids.is_empty() {
                return Err(Error::invalid(format!("texts[{i}]"), "encodes to no token"));
            }
            encoded.push(ids);
        }
        let states = pooled_batch(model, &encoded, pad, pooling, &device);
        if per_layer.is_empty() {
            per_layer = vec![Vec::new(); states.len()];
        }
        for (layer, s) in states.into_iter().enumerate() {
            per_layer[layer].push(s);
        }
    }
    Ok(per_layer
        .into_iter()
        .map(|parts| Tensor::cat(parts, 0))
        .collect())
}

/// One right-padded batch through the model, pooled per layer.
fn pooled_batch(
    model: &Llama,
    encoded: &[Vec<u32>],
    pad: u32,
    pooling: Pooling,
    device: &Device,
) -> Vec<Tensor<2>> {
    let b = encoded.len();
    let seq = encoded.iter().map(Vec::len).max().unwrap_or(1);
    let mut ids = Vec::with_capacity(b * seq);
    let mut mask = Vec::with_capacity(b * seq);
    for e in encoded {
        for t in 0..seq {
            ids.push(e.get(t).copied().unwrap_or(pad) as i64);
            mask.push((t < e.len()) as i64);
        }
    }
    let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [b, seq]), device);
    let mask_t = Tensor::<2, Int>::from_data(TensorData::new(mask.clone(), [b, seq]), device);
    let states = model.forward_hidden_states(ids, Some(mask_t));
    let weights: Vec<f32> = match pooling {
        Pooling::Mean => encoded
            .iter()
            .flat_map(|e| {
                (0..seq).map(move |t| {
                    if t < e.len() {
                        1.0 / e.len() as f32
                    } else {
                        0.0
                    }
                })
            })
            .collect(),
        Pooling::LastToken => encoded
            .iter()
            .flat_map(|e| (0..seq).map(move |t| if t + 1 == e.len() { 1.0 } else { 0.0 }))
            .collect(),
    };
    let weights = Tensor::<3>::from_data(TensorData::new(weights, [b, seq, 1]), device);
    states
        .into_iter()
        .map(|s| {
            let d = s.dims()[2];
            (s * weights.clone()).sum_dim(1).reshape([b, d]).detach()
        })
        .collect()
}
