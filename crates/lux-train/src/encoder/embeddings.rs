//! [`EncoderEmbeddings`]: word + absolute position + token-type embeddings, then LayerNorm
//! (HF `BertEmbeddings` / `XLMRobertaEmbeddings`).

use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig};
use burn::tensor::{Device, Int, Tensor};
use lux_core::Result;

use super::config::{BertConfig, EncoderFamily};
use crate::model::{WeightSource, load_param};

/// The input layer of an [`Encoder`](super::Encoder); module paths follow HF's
/// `embeddings.*` names.
#[derive(Module, Debug)]
pub struct EncoderEmbeddings {
    /// `embeddings.word_embeddings`, `[vocab_size, hidden]`.
    pub word_embeddings: Embedding,
    /// `embeddings.position_embeddings`, `[max_position_embeddings, hidden]`.
    pub position_embeddings: Embedding,
    /// `embeddings.token_type_embeddings`, `[type_vocab_size, hidden]`.
    pub token_type_embeddings: Embedding,
    /// `embeddings.LayerNorm`.
    pub layer_norm: LayerNorm,
    /// RoBERTa-style positions (counted from `pad_token_id + 1`, padding at `pad_token_id`).
    roberta_positions: bool,
    /// The padding token id (RoBERTa's position offset).
    pad_token_id: usize,
}

impl EncoderEmbeddings {
    /// Builds the layer on `device` (lazily initialised).
    pub(crate) fn new(config: &BertConfig, device: &Device) -> Self {
        let d = config.hidden_size;
        Self {
            word_embeddings: EmbeddingConfig::new(config.vocab_size, d).init(device),
            position_embeddings: EmbeddingConfig::new(config.max_position_embeddings, d)
                .init(device),
            token_type_embeddings: EmbeddingConfig::new(config.type_vocab_size, d).init(device),
            layer_norm: LayerNormConfig::new(d)
                .with_epsilon(config.layer_norm_eps)
                .init(device),
            roberta_positions: config.family == EncoderFamily::Roberta,
            pad_token_id: config.pad_token_id,
        }
    }

    /// Position ids of `input_ids` (`[batch, seq]`), as transformers computes them: `0..seq`
    /// for BERT; for RoBERTa `create_position_ids_from_input_ids`: the running count of
    /// non-padding tokens plus `pad_token_id`, and `pad_token_id` on padding tokens.
    pub fn position_ids(&self, input_ids: &Tensor<2, Int>) -> Tensor<2, Int> {
        if self.roberta_positions {
            let real = input_ids
                .clone()
                .not_equal_elem(self.pad_token_id as i64)
                .int();
            self.positions_from_real(real)
        } else {
            self.sequential_positions(input_ids.dims(), &input_ids.device())
        }
    }

    /// Position ids for inputs given as embeddings, where the padding is known only from the
    /// attention mask (`[batch, seq]`, 1 = real token): as [`position_ids`](Self::position_ids)
    /// with "real" read from the mask. Without a mask every token is real.
    pub fn position_ids_from_mask(
        &self,
        dims: [usize; 2],
        attention_mask: Option<&Tensor<2, Int>>,
        device: &Device,
    ) -> Tensor<2, Int> {
        match (self.roberta_positions, attention_mask) {
            (true, Some(mask)) => self.positions_from_real(mask.clone().not_equal_elem(0).int()),
            (true, None) => self
                .sequential_positions(dims, device)
                .add_scalar(self.pad_token_id as i64 + 1),
            (false, _) => self.sequential_positions(dims, device),
        }
    }

    fn positions_from_real(&self, real: Tensor<2, Int>) -> Tensor<2, Int> {
        (real.clone().cumsum(1) * real).add_scalar(self.pad_token_id as i64)
    }

    fn sequential_positions(&self, [batch, seq]: [usize; 2], device: &Device) -> Tensor<2, Int> {
        Tensor::<1, Int>::arange(0..seq as i64, device)
            .reshape([1, seq])
            .expand([batch, seq])
    }

    /// `LayerNorm(words + positions + token_types)`.
    ///
    /// # Shapes
    ///
    /// - words: `[batch, seq, hidden]` (rows of the word-embedding matrix, or any input
    ///   embeddings)
    /// - position_ids, token_type_ids: `[batch, seq]`
    /// - output: `[batch, seq, hidden]`
    pub fn forward(
        &self,
        words: Tensor<3>,
        position_ids: Tensor<2, Int>,
        token_type_ids: Tensor<2, Int>,
    ) -> Tensor<3> {
        let summed = words
            + self.position_embeddings.forward(position_ids)
            + self.token_type_embeddings.forward(token_type_ids);
        self.layer_norm.forward(summed)
    }

    /// Loads `{prefix}.{word,position,token_type}_embeddings.weight` and
    /// `{prefix}.LayerNorm.{weight,bias}`.
    pub(crate) fn load_weights(
        &mut self,
        prefix: &str,
        source: &mut dyn WeightSource,
    ) -> Result<()> {
        for (table, name) in [
            (&mut self.word_embeddings, "word_embeddings"),
            (&mut self.position_embeddings, "position_embeddings"),
            (&mut self.token_type_embeddings, "token_type_embeddings"),
        ] {
            let shape = table.weight.lazy_shape().dims::<2>();
            load_param(
                &mut table.weight,
                &format!("{prefix}.{name}.weight"),
                shape,
                false,
                source,
            )?;
        }
        load_layer_norm(&mut self.layer_norm, &format!("{prefix}.LayerNorm"), source)
    }
}

/// Loads `{prefix}.weight` and `{prefix}.bias` into a LayerNorm.
pub(crate) fn load_layer_norm(
    norm: &mut LayerNorm,
    prefix: &str,
    source: &mut dyn WeightSource,
) -> Result<()> {
    let shape = norm.gamma.lazy_shape().dims::<1>();
    load_param(
        &mut norm.gamma,
        &format!("{prefix}.weight"),
        shape,
        false,
        source,
    )?;
    if let Some(beta) = &mut norm.beta {
        load_param(beta, &format!("{prefix}.bias"), shape, false, source)?;
    }
    Ok(())
}
