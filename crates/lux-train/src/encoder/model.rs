//! [`Encoder`]: a BERT / XLM-RoBERTa encoder (HF `BertModel` / `XLMRobertaModel` without the
//! pooler) with sentence embeddings.

use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};
use lux_core::{Error, Result};

use super::config::BertConfig;
use super::embeddings::EncoderEmbeddings;
use super::layer::{EncoderLayer, PaddingMask};
use super::pooling::{l2_normalize, mean_pool};
use crate::model::{SafetensorsWeights, WeightSource, WeightTensor};

/// Name prefixes under which checkpoints store the encoder: none (`BertModel` saved alone,
/// sentence-transformers), `bert.` (`BertFor*` heads), `roberta.` (`XLMRobertaFor*` heads).
const PREFIXES: [&str; 3] = ["", "bert.", "roberta."];

/// A BERT / XLM-R encoder: embeddings, then post-LayerNorm transformer layers.
///
/// Module paths follow HF names (`embeddings.word_embeddings`, `layers.{i}.query`…); the
/// pooler (`pooler.dense`) of BERT checkpoints is not part of the model and is ignored when
/// loading.
#[derive(Module, Debug)]
pub struct Encoder {
    /// Word, position and token-type embeddings with their LayerNorm (HF `embeddings`).
    pub embeddings: EncoderEmbeddings,
    /// The transformer layers (HF `encoder.layer.{i}`).
    pub layers: Vec<EncoderLayer>,
    #[module(skip)]
    config: BertConfig,
}

impl Encoder {
    /// Builds the model for `config` on `device` (lazily initialised). Use
    /// [`BertConfig::init`], which validates the config first.
    pub(crate) fn new(config: BertConfig, device: &Device) -> Self {
        Self {
            embeddings: EncoderEmbeddings::new(&config, device),
            layers: (0..config.num_hidden_layers)
                .map(|_| EncoderLayer::new(&config, device))
                .collect(),
            config,
        }
    }

    /// Loads a Hugging Face model directory: `config.json` and `model.safetensors` (or its
    /// shards), `F32`/`F16`/`BF16` weights cast to `f32`.
    pub fn from_pretrained(dir: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let dir = dir.as_ref();
        let config = BertConfig::from_file(dir.join("config.json"))?;
        let mut model = config.init(device)?;
        model.load_weights(SafetensorsWeights::open_dir(dir)?)?;
        Ok(model)
    }

    /// The config the model was built from.
    pub fn config(&self) -> &BertConfig {
        &self.config
    }

    /// Replaces every parameter with the tensor of the same HF name from `weights`.
    ///
    /// Reads `embeddings.{word,position,token_type}_embeddings.weight`,
    /// `embeddings.LayerNorm.{weight,bias}` and per layer
    /// `encoder.layer.{i}.attention.self.{query,key,value}`, `attention.output.dense`,
    /// `attention.output.LayerNorm`, `intermediate.dense`, `output.dense`, `output.LayerNorm`
    /// (linear weights in HF's `[out, in]` layout). Names may carry a `bert.` or `roberta.`
    /// prefix (decided by the word embedding). A missing tensor or a wrong shape is an error
    /// naming the tensor and both shapes; unused tensors (pooler, heads) are ignored. On error
    /// the model is left partly loaded.
    pub fn load_weights(&mut self, weights: impl WeightSource) -> Result<()> {
        let mut source = PrefixedSource {
            inner: weights,
            prefix: None,
        };
        let source: &mut dyn WeightSource = &mut source;
        self.embeddings.load_weights("embeddings", source)?;
        for (i, layer) in self.layers.iter_mut().enumerate() {
            layer.load_weights(&format!("encoder.layer.{i}"), source)?;
        }
        Ok(())
    }

    /// The word-embedding matrix, `[vocab_size, hidden]`: row `i` is token `i`'s input vector
    /// (what lexicon induction maps between languages).
    pub fn input_embedding_table(&self) -> Tensor<2> {
        self.embeddings.word_embeddings.weight.val()
    }

    /// The word-embedding rows of `input_ids` (before positions, token types and LayerNorm):
    /// what [`forward_embeds`](Self::forward_embeds) takes.
    ///
    /// # Shapes
    ///
    /// - input_ids: `[batch, seq]`
    /// - output: `[batch, seq, hidden]`
    pub fn embed_input_ids(&self, input_ids: Tensor<2, Int>) -> Tensor<3> {
        self.embeddings.word_embeddings.forward(input_ids)
    }

    /// The last hidden state (HF `last_hidden_state`), token type 0 everywhere.
    ///
    /// `attention_mask` (`[batch, seq]`, 1 = token, 0 = padding) keeps padding keys out of
    /// attention; `None` attends to every position. Ids must be below `vocab_size` and
    /// `seq` at most [`BertConfig::max_tokens`] (burn panics on an out-of-range index;
    /// [`embed_token_ids`](Self::embed_token_ids) checks both).
    ///
    /// # Shapes
    ///
    /// - input_ids: `[batch, seq]`
    /// - output: `[batch, seq, hidden]`
    pub fn forward(
        &self,
        input_ids: Tensor<2, Int>,
        attention_mask: Option<Tensor<2, Int>>,
    ) -> Tensor<3> {
        self.forward_with_token_types(input_ids, None, attention_mask)
    }

    /// [`forward`](Self::forward) with token types (segment ids, `[batch, seq]`, below
    /// `type_vocab_size`; `None` = 0).
    pub fn forward_with_token_types(
        &self,
        input_ids: Tensor<2, Int>,
        token_type_ids: Option<Tensor<2, Int>>,
        attention_mask: Option<Tensor<2, Int>>,
    ) -> Tensor<3> {
        let positions = self.embeddings.position_ids(&input_ids);
        let words = self.embed_input_ids(input_ids);
        self.run(words, positions, token_type_ids, attention_mask, None)
    }

    /// Every layer's output, HF `output_hidden_states` order: the embeddings (after their
    /// LayerNorm), then each layer's output; `num_hidden_layers + 1` tensors of
    /// `[batch, seq, hidden]`, the last equal to [`forward`](Self::forward)'s.
    pub fn forward_hidden_states(
        &self,
        input_ids: Tensor<2, Int>,
        attention_mask: Option<Tensor<2, Int>>,
    ) -> Vec<Tensor<3>> {
        let positions = self.embeddings.position_ids(&input_ids);
        let words = self.embed_input_ids(input_ids);
        let mut states = Vec::with_capacity(self.layers.len() + 1);
        self.run(words, positions, None, attention_mask, Some(&mut states));
        states
    }

    /// The last hidden state for inputs given as word embeddings (`[batch, seq, hidden]`,
    /// e.g. [`embed_input_ids`](Self::embed_input_ids) plus an adapter's output). Positions
    /// come from the attention mask (RoBERTa: real tokens counted from `pad_token_id + 1`),
    /// which matches [`forward`](Self::forward) for right-padded batches.
    pub fn forward_embeds(
        &self,
        inputs_embeds: Tensor<3>,
        attention_mask: Option<Tensor<2, Int>>,
    ) -> Tensor<3> {
        let [b, s, _] = inputs_embeds.dims();
        let positions = self.embeddings.position_ids_from_mask(
            [b, s],
            attention_mask.as_ref(),
            &inputs_embeds.device(),
        );
        self.run(inputs_embeds, positions, None, attention_mask, None)
    }

    fn run(
        &self,
        words: Tensor<3>,
        position_ids: Tensor<2, Int>,
        token_type_ids: Option<Tensor<2, Int>>,
        attention_mask: Option<Tensor<2, Int>>,
        mut states: Option<&mut Vec<Tensor<3>>>,
    ) -> Tensor<3> {
        let device = words.device();
        let [b, s, _] = words.dims();
        let token_types = token_type_ids.unwrap_or_else(|| Tensor::zeros([b, s], &device));
        let mask = PaddingMask::new(attention_mask.as_ref(), &device);
        let mut hidden = self.embeddings.forward(words, position_ids, token_types);
        for layer in &self.layers {
            if let Some(states) = states.as_deref_mut() {
                states.push(hidden.clone());
            }
            hidden = layer.forward(hidden, &mask);
        }
        if let Some(states) = states {
            states.push(hidden.clone());
        }
        hidden
    }

    /// Sentence embeddings: the last hidden state mean-pooled over `attention_mask` and
    /// L2-normalised (sentence-transformers' `Pooling(mean)` + `Normalize`; e5's recipe).
    ///
    /// # Shapes
    ///
    /// - input_ids, attention_mask: `[batch, seq]`
    /// - output: `[batch, hidden]`
    pub fn sentence_embeddings(
        &self,
        input_ids: Tensor<2, Int>,
        attention_mask: Tensor<2, Int>,
    ) -> Tensor<2> {
        let hidden = self.forward(input_ids, Some(attention_mask.clone()));
        l2_normalize(mean_pool(hidden, &attention_mask))
    }

    /// Sentence embeddings (`[texts, hidden]`, unit norm) of already-tokenised texts (special
    /// tokens included), run in right-padded batches of `batch_size`: a text gets the same
    /// vector alone or in a batch.
    ///
    /// Errors name the text whose ids are empty, too long for the position table or out of
    /// the vocabulary.
    pub fn embed_token_ids(&self, texts: &[Vec<u32>], batch_size: usize) -> Result<Tensor<2>> {
        if texts.is_empty() {
            return Err(Error::invalid("texts", "no text to encode"));
        }
        let max_tokens = self.config.max_tokens();
        for (i, ids) in texts.iter().enumerate() {
            if ids.is_empty() {
                return Err(Error::invalid(format!("texts[{i}]"), "has no token"));
            }
            if ids.len() > max_tokens {
                return Err(Error::invalid(
                    format!("texts[{i}]"),
                    format!(
                        "{} tokens, the model has positions for {max_tokens}",
                        ids.len()
                    ),
                ));
            }
            if let Some(&bad) = ids
                .iter()
                .find(|&&id| id as usize >= self.config.vocab_size)
            {
                return Err(Error::invalid(
                    format!("texts[{i}]"),
                    format!(
                        "token id {bad} is outside the vocabulary ({})",
                        self.config.vocab_size
                    ),
                ));
            }
        }
        let device = self.embeddings.word_embeddings.weight.val().device();
        let pad = self.config.pad_token_id as i64;
        let mut parts = Vec::new();
        for chunk in texts.chunks(batch_size.max(1)) {
            let (b, seq) = (chunk.len(), chunk.iter().map(Vec::len).max().unwrap_or(1));
            let mut ids = Vec::with_capacity(b * seq);
            let mut mask = Vec::with_capacity(b * seq);
            for text in chunk {
                for t in 0..seq {
                    ids.push(text.get(t).map_or(pad, |&id| i64::from(id)));
                    mask.push(i64::from(t < text.len()));
                }
            }
            let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [b, seq]), &device);
            let mask = Tensor::<2, Int>::from_data(TensorData::new(mask, [b, seq]), &device);
            parts.push(self.sentence_embeddings(ids, mask).detach());
        }
        Ok(Tensor::cat(parts, 0))
    }
}

/// A weight source whose names may all carry one of [`PREFIXES`]; the first tensor found
/// decides which.
struct PrefixedSource<W> {
    inner: W,
    prefix: Option<&'static str>,
}

impl<W: WeightSource> WeightSource for PrefixedSource<W> {
    fn take(&mut self, name: &str) -> Result<Option<WeightTensor>> {
        if let Some(prefix) = self.prefix {
            return self.inner.take(&format!("{prefix}{name}"));
        }
        for prefix in PREFIXES {
            if let Some(found) = self.inner.take(&format!("{prefix}{name}"))? {
                self.prefix = Some(prefix);
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    fn origin(&self) -> String {
        match self.prefix {
            Some("") => self.inner.origin(),
            Some(prefix) => format!("{} (names prefixed \"{prefix}\")", self.inner.origin()),
            None => format!(
                "{} (looked for the prefixes \"\", \"bert.\", \"roberta.\")",
                self.inner.origin()
            ),
        }
    }
}
