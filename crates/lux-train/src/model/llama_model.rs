//! [`LlamaModel`]: the decoder stack without the output head (HF `LlamaModel`).

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, Initializer};
use burn::tensor::{Device, Int, Tensor, TensorData};
use lux_core::Result;

use super::attention::AttentionMask;
use super::cache::KvCache;
use super::decoder_layer::{DecoderLayer, DecoderLayerConfig};
use super::position_ids::PositionIds;
use super::quantized::QuantizedWeight;
use super::rms_norm::{RmsNorm, RmsNormConfig};
use super::rope::{RotaryEmbedding, RotaryEmbeddingConfig};
use super::weights::{WeightSource, load_param};

/// Configuration of a [`LlamaModel`], built with [`init`](LlamaModelConfig::init). Usually made
/// by [`LlamaConfig::init`](super::LlamaConfig::init).
#[derive(Config, Debug)]
pub struct LlamaModelConfig {
    /// Rows of the embedding matrix.
    pub vocab_size: usize,
    /// Number of decoder layers.
    pub num_layers: usize,
    /// The configuration shared by every decoder layer.
    pub layer: DecoderLayerConfig,
    /// The rotary position embedding.
    pub rotary: RotaryEmbeddingConfig,
    /// Epsilon of the final norm.
    #[config(default = 1e-6)]
    pub rms_norm_eps: f64,
}

impl LlamaModelConfig {
    /// Builds the stack on `device`.
    pub fn init(&self, device: &Device) -> LlamaModel {
        let d_model = self.layer.attention.d_model;
        LlamaModel {
            embed_tokens: EmbeddingConfig::new(self.vocab_size, d_model)
                .with_initializer(Initializer::Normal {
                    mean: 0.0,
                    std: 0.02,
                })
                .init(device),
            layers: (0..self.num_layers)
                .map(|_| self.layer.init(device))
                .collect(),
            norm: RmsNormConfig::new(d_model)
                .with_epsilon(self.rms_norm_eps)
                .init(device),
            rotary: self.rotary.init(),
            embedding_blocks: None,
        }
    }
}

/// Token embedding, decoder layers and final norm; module paths are the HF parameter names
/// without the leading `model.` (`layers.3.self_attn.q_proj.weight`).
#[derive(Module, Debug)]
pub struct LlamaModel {
    /// Token embedding, `[vocab_size, d_model]`.
    pub embed_tokens: Embedding,
    /// The decoder layers, in order.
    pub layers: Vec<DecoderLayer>,
    /// The norm applied to the last layer's output.
    pub norm: RmsNorm,
    /// Rotary frequencies (no parameters).
    #[module(skip)]
    rotary: RotaryEmbedding,
    /// The embedding kept in its GGUF blocks ([`keep_embedding_quantized`]): lookups decode
    /// their rows from it, and `embed_tokens.weight` stays a lazy parameter.
    ///
    /// [`keep_embedding_quantized`]: LlamaModel::keep_embedding_quantized
    #[module(skip)]
    embedding_blocks: Option<QuantizedWeight>,
}

impl LlamaModel {
    /// The final hidden state (after the final norm).
    ///
    /// `attention_mask` follows HF: `1` for real tokens, `0` for padding, which no position
    /// attends to. Positions are `0..seq` whatever the padding, as in HF's `forward`.
    ///
    /// # Shapes
    ///
    /// - input_ids: `[batch, seq]`
    /// - attention_mask: `[batch, seq]`
    /// - output: `[batch, seq, d_model]`
    pub fn forward(
        &self,
        input_ids: Tensor<2, Int>,
        attention_mask: Option<Tensor<2, Int>>,
    ) -> Tensor<3> {
        self.run(input_ids, attention_mask, None, None)
    }

    /// The final hidden state of a packed batch: several examples per row, each with positions
    /// counting from 0 (`position_ids`, which also delimit them) and attending only within
    /// itself, so every example's states are those it has alone (HF's `position_ids` with
    /// padding-free attention).
    ///
    /// # Shapes
    ///
    /// - input_ids: `[batch, seq]`, as `position_ids`
    /// - attention_mask: `[batch, seq]`, `0` = padding
    /// - output: `[batch, seq, d_model]`
    pub fn forward_packed(
        &self,
        input_ids: Tensor<2, Int>,
        attention_mask: Option<Tensor<2, Int>>,
        position_ids: &PositionIds,
    ) -> Tensor<3> {
        assert_eq!(
            input_ids.dims(),
            position_ids.dims(),
            "input ids and position ids of a packed batch differ in shape"
        );
        let embeds = self.embed(input_ids);
        let device = embeds.device();
        let padding = attention_mask.map(|m| m.equal_elem(0));
        let rope = self.rotary.tables_at(position_ids, &device);
        let mask = AttentionMask::packed(position_ids, padding, &device);
        let hidden = self.layers.iter().fold(embeds, |hidden, layer| {
            layer.forward(hidden, &rope, &mask, None)
        });
        self.norm.forward(hidden)
    }

    /// Runs the stack once, optionally extending `cache` and collecting hidden states.
    ///
    /// Collected states follow HF's `output_hidden_states`: the embeddings, the output of
    /// layers `0..L-1`, then the final (normed) hidden state, `L + 1` tensors in all.
    pub(crate) fn run(
        &self,
        input_ids: Tensor<2, Int>,
        attention_mask: Option<Tensor<2, Int>>,
        cache: Option<&mut KvCache>,
        hidden_states: Option<&mut Vec<Tensor<3>>>,
    ) -> Tensor<3> {
        let embeds = self.embed(input_ids);
        self.run_embeds(embeds, attention_mask, cache, hidden_states)
    }

    /// [`run`](Self::run) from input embeddings `[batch, seq, d_model]` instead of token ids:
    /// the seam through which LinguaLIFT's aligner feeds encoder states to the decoder.
    pub(crate) fn run_embeds(
        &self,
        embeds: Tensor<3>,
        attention_mask: Option<Tensor<2, Int>>,
        mut cache: Option<&mut KvCache>,
        mut hidden_states: Option<&mut Vec<Tensor<3>>>,
    ) -> Tensor<3> {
        let device = embeds.device();
        let [batch, seq, _] = embeds.dims();
        let padding = attention_mask.map(|m| m.equal_elem(0));
        let (start, padding) = match cache.as_deref_mut() {
            Some(cache) => {
                let start = cache.len();
                (start, cache.extend_padding(padding, batch, seq, &device))
            }
            None => (0, padding),
        };
        let rope = self.rotary.tables(start, seq, &device);
        let mask = AttentionMask::new(padding, seq, start + seq, &device);

        let mut hidden = embeds;
        for (i, layer) in self.layers.iter().enumerate() {
            if let Some(states) = hidden_states.as_deref_mut() {
                states.push(hidden.clone());
            }
            let layer_cache = cache.as_deref_mut().map(|c| &mut c.layers[i]);
            hidden = layer.forward(hidden, &rope, &mask, layer_cache);
        }
        if let Some(cache) = cache {
            cache.advance(seq);
        }
        let hidden = self.norm.forward(hidden);
        if let Some(states) = hidden_states {
            states.push(hidden.clone());
        }
        hidden
    }

    /// The rows of the embedding for `input_ids`, `[batch, seq]` → `[batch, seq, d_model]`:
    /// from the `f32` table, or decoded from the blocks when the embedding is kept quantised
    /// (the same values; the embedding is then frozen, as a quantised base is).
    ///
    /// # Panics
    ///
    /// With a quantised embedding, on an id outside the vocabulary (as the table lookup
    /// would).
    pub fn embed(&self, input_ids: Tensor<2, Int>) -> Tensor<3> {
        let Some(blocks) = &self.embedding_blocks else {
            return self.embed_tokens.forward(input_ids);
        };
        let [batch, seq] = input_ids.dims();
        let device = input_ids.device();
        let ids: Vec<usize> = input_ids
            .into_data()
            .iter::<i64>()
            .map(|id| usize::try_from(id).unwrap_or(usize::MAX))
            .collect();
        let rows = blocks
            .dequantize_rows(&ids)
            .unwrap_or_else(|e| panic!("embedding lookup: {e}"));
        let d_model = blocks.shape()[1];
        Tensor::from_data(TensorData::new(rows, [batch, seq, d_model]), &device)
    }

    /// Keeps the token embedding in `blocks` (its `[vocab_size, d_model]` matrix as GGUF
    /// blocks): lookups decode their rows, and the `f32` table becomes a lazy parameter that
    /// allocates nothing unless read (a tied `f32` output head reads it; merging or exporting
    /// does). For a model whose head is separate or multiplies with the same blocks, the
    /// embedding then costs its file size instead of 4 bytes a value.
    ///
    /// Errors: `blocks` not of the table's shape.
    pub fn keep_embedding_quantized(&mut self, blocks: QuantizedWeight) -> Result<()> {
        let shape = self.embed_tokens.weight.lazy_shape().dims::<2>();
        if blocks.shape() != shape {
            return Err(lux_core::Error::invalid(
                "token_embd.weight",
                format!(
                    "blocks of shape {:?} cannot serve an embedding of {shape:?}",
                    blocks.shape()
                ),
            ));
        }
        let device = self.embed_tokens.weight.lazy_device();
        self.embed_tokens.weight = blocks.lazy_table_param(self.embed_tokens.weight.id, &device);
        self.embedding_blocks = Some(blocks);
        Ok(())
    }

    /// The embedding's blocks, when it is kept quantised.
    pub fn embedding_blocks(&self) -> Option<&QuantizedWeight> {
        self.embedding_blocks.as_ref()
    }

    /// The device the model's tensors live on (read without allocating a lazy parameter).
    pub fn device(&self) -> Device {
        self.embed_tokens.weight.lazy_device()
    }

    /// The rotary frequencies.
    pub fn rotary(&self) -> &RotaryEmbedding {
        &self.rotary
    }

    /// Loads every tensor under `model.` from HF-layout weights (the embedding only when it is
    /// not kept in blocks: its lazy parameter already stands for them).
    pub(crate) fn load_weights(&mut self, source: &mut dyn WeightSource) -> Result<()> {
        if self.embedding_blocks.is_none() {
            let shape = self.embed_tokens.weight.lazy_shape().dims::<2>();
            load_param(
                &mut self.embed_tokens.weight,
                "model.embed_tokens.weight",
                shape,
                false,
                source,
            )?;
        }
        for (i, layer) in self.layers.iter_mut().enumerate() {
            layer.load_weights(&format!("model.layers.{i}"), source)?;
        }
        let shape = self.norm.weight.lazy_shape().dims::<1>();
        load_param(
            &mut self.norm.weight,
            "model.norm.weight",
            shape,
            false,
            source,
        )
    }
}
