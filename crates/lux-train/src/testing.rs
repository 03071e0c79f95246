//! Tiny random models for tests — of lux, and of stages and plugins of your own — written as
//! real Hugging Face directories, so they load the way a real model does.

use std::path::Path;

use lux_core::rng::SplitMix64;
use lux_core::{Error, IoContext, Result};
use safetensors::tensor::TensorView;

use crate::tokenizer::{GgufTokenizerMetadata, Tokenizer};

/// A ChatML template, as SmolLM2's.
const TEMPLATE: &str = "{% for message in messages %}<|im_start|>{{ message['role'] }}\n\
{{ message['content'] }}<|im_end|>\n{% endfor %}\
{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

/// Writes a tiny random Llama (2 layers, hidden size 32, 4 heads of which 2 key/value heads,
/// tied embeddings) with a byte-level tokenizer (three control tokens, then one token per
/// byte) and a ChatML chat template into `dir`: `config.json`, `model.safetensors`,
/// `tokenizer.json`, `tokenizer_config.json`. Weights are drawn from `seed`.
pub fn write_tiny_llama(dir: &Path, seed: u64) -> Result<()> {
    std::fs::create_dir_all(dir).with_path(dir)?;
    let mut tokens: Vec<String> = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
        .map(String::from)
        .to_vec();
    let mut alphabet: Vec<char> = tokenizers::pre_tokenizers::byte_level::ByteLevel::alphabet()
        .into_iter()
        .collect();
    alphabet.sort_unstable();
    tokens.extend(alphabet.into_iter().map(String::from));
    let mut token_types = vec![3, 3, 3];
    token_types.resize(tokens.len(), 1);
    let vocab = tokens.len();
    let tok = Tokenizer::from_gguf_metadata(&GgufTokenizerMetadata {
        model: "gpt2".into(),
        pre: Some("gpt2".into()),
        tokens,
        token_types,
        ..GgufTokenizerMetadata::default()
    })?;
    let tokenizer_path = dir.join("tokenizer.json");
    tok.inner()
        .save(&tokenizer_path, false)
        .map_err(|e| Error::parse(&tokenizer_path, None, e.to_string()))?;
    let tokenizer_config = serde_json::json!({
        "chat_template": TEMPLATE,
        "eos_token": "<|im_end|>",
        "bos_token": "<|im_start|>",
    });
    lux_core::fs::write_json_atomic(dir.join("tokenizer_config.json"), &tokenizer_config)?;

    let (d, f, layers, heads, kv_heads) = (32usize, 48usize, 2usize, 4usize, 2usize);
    let config = serde_json::json!({
        "hidden_size": d, "intermediate_size": f, "num_hidden_layers": layers,
        "num_attention_heads": heads, "num_key_value_heads": kv_heads, "vocab_size": vocab,
        "tie_word_embeddings": true, "model_type": "llama",
    });
    lux_core::fs::write_json_atomic(dir.join("config.json"), &config)?;

    let kv = kv_heads * d / heads;
    let mut shapes: Vec<(String, Vec<usize>)> = vec![
        ("model.embed_tokens.weight".into(), vec![vocab, d]),
        ("model.norm.weight".into(), vec![d]),
    ];
    for i in 0..layers {
        let p = format!("model.layers.{i}");
        for (n, shape) in [
            ("self_attn.q_proj.weight", vec![d, d]),
            ("self_attn.k_proj.weight", vec![kv, d]),
            ("self_attn.v_proj.weight", vec![kv, d]),
            ("self_attn.o_proj.weight", vec![d, d]),
            ("mlp.gate_proj.weight", vec![f, d]),
            ("mlp.up_proj.weight", vec![f, d]),
            ("mlp.down_proj.weight", vec![d, f]),
            ("input_layernorm.weight", vec![d]),
            ("post_attention_layernorm.weight", vec![d]),
        ] {
            shapes.push((format!("{p}.{n}"), shape));
        }
    }
    let mut rng = SplitMix64::new(seed);
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = shapes
        .into_iter()
        .map(|(name, shape)| {
            let n: usize = shape.iter().product();
            let norm = shape.len() == 1;
            let data: Vec<u8> = (0..n)
                .flat_map(|_| {
                    let x = if norm {
                        1.0
                    } else {
                        (rng.unit() as f32 - 0.5) * 0.6
                    };
                    x.to_le_bytes()
                })
                .collect();
            (name, shape, data)
        })
        .collect();
    let weights_path = dir.join("model.safetensors");
    let views = bytes
        .iter()
        .map(|(name, shape, data)| {
            TensorView::new(safetensors::Dtype::F32, shape.clone(), data)
                .map(|view| (name.clone(), view))
                .map_err(|e| Error::parse(&weights_path, Some(name.clone()), e.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::tensor::serialize_to_file(views, None, &weights_path)
        .map_err(|e| Error::parse(&weights_path, None, e.to_string()))
}
