//! Building a Llama-family model (and its tokenizer) from a GGUF file alone.

use std::path::Path;

use burn::tensor::Device;
use lux_core::{Error, Result};

use super::{Llama, LlamaConfig, Projection};
use crate::gguf::{GgufFile, GgufWeights};
use crate::tokenizer::Tokenizer;

impl LlamaConfig {
    /// The config of a GGUF model from its `{arch}.*` metadata, as llama.cpp's converter
    /// wrote it from `config.json`. Embeddings are tied when the file has no `output.weight`.
    pub fn from_gguf(file: &GgufFile) -> Result<LlamaConfig> {
        let arch = file.architecture()?.to_string();
        if arch != "llama" && arch != "qwen2" {
            return Err(Error::invalid(
                "general.architecture",
                format!("`{arch}` is not a Llama-family architecture lux can run (llama, qwen2)"),
            ));
        }
        let m = file.metadata();
        let key = |k: &str| format!("{arch}.{k}");
        let hidden = m.get_usize(&key("embedding_length"))?;
        let heads = m.get_usize(&key("attention.head_count"))?;
        let vocab = match m.get_opt::<usize>(&key("vocab_size"))? {
            Some(v) => v,
            None => m.get_str_array("tokenizer.ggml.tokens")?.len(),
        };
        let head_dim = m
            .get_opt::<usize>(&key("rope.dimension_count"))?
            .unwrap_or(hidden / heads.max(1));
        let config = serde_json::json!({
            "model_type": arch,
            "hidden_size": hidden,
            "intermediate_size": m.get_usize(&key("feed_forward_length"))?,
            "num_hidden_layers": m.get_usize(&key("block_count"))?,
            "num_attention_heads": heads,
            "num_key_value_heads": m.get_opt::<usize>(&key("attention.head_count_kv"))?.unwrap_or(heads),
            "head_dim": head_dim,
            "rms_norm_eps": m.get_f32(&key("attention.layer_norm_rms_epsilon"))?,
            "rope_theta": m.get_opt::<f32>(&key("rope.freq_base"))?.unwrap_or(10_000.0),
            "max_position_embeddings": m.get_opt::<usize>(&key("context_length"))?.unwrap_or(2048),
            "vocab_size": vocab,
            "tie_word_embeddings": file.tensor_info("output.weight").is_none(),
        });
        LlamaConfig::from_json_str(&config.to_string())
    }
}

/// How [`Llama::from_gguf_with`] loads a GGUF model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GgufLoadOptions {
    /// Keep the linear layers' weights in their quantised blocks (`Q8_0`, `Q4_0`, `Q4_1`,
    /// `Q4_K`, `Q6_K`) and multiply with them directly (see
    /// [`QuantizedWeight`](super::QuantizedWeight)). The base is then frozen (LoRA trains on
    /// it; full fine-tuning needs `f32`). Off by default: every weight is dequantised to `f32`
    /// at load.
    pub keep_quantized: bool,
    /// With `keep_quantized`, a tied output head (no `output.weight`) multiplies with the
    /// embedding's blocks instead of its `f32` table, and the embedding lookup decodes its
    /// rows from the same blocks, so the `f32` table is never built: SmolLM2 Q4_1 holds 30 MB
    /// of `Q8_0` blocks instead of a 113 MB table, and a generated token reads a quarter of
    /// the head's bytes. Without it, a tied head multiplies with the `f32` table (exact
    /// activations at every batch size). A model with a separate head keeps its embedding in
    /// blocks either way.
    pub quantized_tied_head: bool,
}

impl Llama {
    /// Loads a GGUF model (weights dequantized to f32, q/k rows restored to HF order) and the
    /// tokenizer rebuilt from its metadata.
    pub fn from_gguf(path: impl AsRef<Path>, device: &Device) -> Result<(Llama, Tokenizer)> {
        Self::from_gguf_with(path, device, GgufLoadOptions::default())
    }

    /// [`from_gguf`](Self::from_gguf) with options: with `keep_quantized`, linear weights stay
    /// in their GGUF blocks.
    pub fn from_gguf_with(
        path: impl AsRef<Path>,
        device: &Device,
        options: GgufLoadOptions,
    ) -> Result<(Llama, Tokenizer)> {
        let file = GgufFile::open(path)?;
        let config = LlamaConfig::from_gguf(&file)?;
        let tokenizer = Tokenizer::from_gguf_metadata(&file.tokenizer_metadata()?)?;
        let mut model = config.init(device)?;
        let mut weights = GgufWeights::new(file)?.keep_quantized(options.keep_quantized);
        let embedding = match options.keep_quantized {
            true => weights.quantized_tensor("token_embd.weight")?,
            false => None,
        };
        let tied = model.lm_head.is_none();
        let head_on_blocks = tied && options.quantized_tied_head;
        if let Some(embedding) = &embedding
            && (!tied || head_on_blocks)
        {
            // Nothing will multiply with the `f32` table: the lookup decodes its rows from the
            // blocks, and the table is never dequantised (loading skips it). A tied `f32` head
            // needs the table, and then the blocks would be extra.
            model.model.keep_embedding_quantized(embedding.clone())?;
        }
        model.load_weights(&mut weights)?;
        if let Some(embedding) = embedding
            && head_on_blocks
        {
            // A tied head multiplies with the embedding matrix; its blocks (one `Arc` with the
            // lookup's) serve as the head's weight (`[vocab, d_model]`, the `[out, in]` layout),
            // so decoding reads them instead of the 4-byte embedding.
            model.lm_head = Some(Projection::from_quantized(embedding, device));
        }
        Ok((model, tokenizer))
    }
}
