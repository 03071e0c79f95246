//! Building a Llama-family model (and its tokenizer) from a GGUF file alone.

use std::path::Path;

use burn::tensor::Device;
use lux_core::{Error, Result};

use super::{Llama, LlamaConfig};
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

impl Llama {
    /// Loads a GGUF model (weights dequantized to f32, q/k rows restored to HF order) and the
    /// tokenizer rebuilt from its metadata.
    pub fn from_gguf(path: impl AsRef<Path>, device: &Device) -> Result<(Llama, Tokenizer)> {
        let file = GgufFile::open(path)?;
        let config = LlamaConfig::from_gguf(&file)?;
        let tokenizer = Tokenizer::from_gguf_metadata(&file.tokenizer_metadata()?)?;
        let mut model = config.init(device)?;
        model.load_weights(GgufWeights::new(file)?)?;
        Ok((model, tokenizer))
    }
}
