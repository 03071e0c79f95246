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
    let vocab = write_byte_tokenizer(dir, &["<|endoftext|>", "<|im_start|>", "<|im_end|>"])?;
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
        .map_err(|e| Error::parse_source(&weights_path, None, e))
}

/// Writes a tiny random BERT encoder (2 layers, hidden size 16, 4 heads, 128 positions) with a
/// byte-level tokenizer (one token per byte, after three unused control tokens) into `dir`:
/// `config.json`, `model.safetensors`, `tokenizer.json` — what `lux_train::encoder::TextEncoder`
/// loads for an `encoder = { path = "…" }`, so LinguaLIFT's stages run in tests without
/// multilingual-e5-small. Weights are drawn from `seed`.
pub fn write_tiny_encoder(dir: &Path, seed: u64) -> Result<()> {
    std::fs::create_dir_all(dir).with_path(dir)?;
    let vocab = write_byte_tokenizer(dir, &["[PAD]", "[CLS]", "[SEP]"])?;

    let (d, f, layers, positions) = (16usize, 24usize, 2usize, 128usize);
    let config = serde_json::json!({
        "model_type": "bert", "hidden_size": d, "intermediate_size": f,
        "num_hidden_layers": layers, "num_attention_heads": 4, "vocab_size": vocab,
        "max_position_embeddings": positions, "type_vocab_size": 2, "pad_token_id": 0,
        "hidden_act": "gelu", "layer_norm_eps": 1e-12,
    });
    lux_core::fs::write_json_atomic(dir.join("config.json"), &config)?;
    let mut shapes: Vec<(String, Vec<usize>)> = vec![
        ("embeddings.word_embeddings.weight".into(), vec![vocab, d]),
        (
            "embeddings.position_embeddings.weight".into(),
            vec![positions, d],
        ),
        ("embeddings.token_type_embeddings.weight".into(), vec![2, d]),
        ("embeddings.LayerNorm.weight".into(), vec![d]),
        ("embeddings.LayerNorm.bias".into(), vec![d]),
    ];
    for i in 0..layers {
        let p = format!("encoder.layer.{i}");
        for (n, out, inp) in [
            ("attention.self.query", d, d),
            ("attention.self.key", d, d),
            ("attention.self.value", d, d),
            ("attention.output.dense", d, d),
            ("intermediate.dense", f, d),
            ("output.dense", d, f),
        ] {
            shapes.push((format!("{p}.{n}.weight"), vec![out, inp]));
            shapes.push((format!("{p}.{n}.bias"), vec![out]));
        }
        for n in ["attention.output.LayerNorm", "output.LayerNorm"] {
            shapes.push((format!("{p}.{n}.weight"), vec![d]));
            shapes.push((format!("{p}.{n}.bias"), vec![d]));
        }
    }
    write_random_safetensors(&dir.join("model.safetensors"), shapes, seed, |name| {
        if name.contains("LayerNorm.weight") {
            Some(1.0)
        } else if name.ends_with(".bias") {
            Some(0.0)
        } else {
            None
        }
    })
}

/// Writes F32 tensors of `shapes` drawn uniformly from ±0.3 with `seed`; `fixed` gives a
/// constant for the tensors that should have one (norm weights, biases).
fn write_random_safetensors(
    path: &Path,
    shapes: Vec<(String, Vec<usize>)>,
    seed: u64,
    fixed: impl Fn(&str) -> Option<f32>,
) -> Result<()> {
    let mut rng = SplitMix64::new(seed);
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = shapes
        .into_iter()
        .map(|(name, shape)| {
            let n: usize = shape.iter().product();
            let constant = fixed(&name);
            let data: Vec<u8> = (0..n)
                .flat_map(|_| {
                    constant
                        .unwrap_or_else(|| (rng.unit() as f32 - 0.5) * 0.6)
                        .to_le_bytes()
                })
                .collect();
            (name, shape, data)
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(name, shape, data)| {
            TensorView::new(safetensors::Dtype::F32, shape.clone(), data)
                .map(|view| (name.clone(), view))
                .map_err(|e| Error::parse(path, Some(name.clone()), e.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::tensor::serialize_to_file(views, None, path)
        .map_err(|e| Error::parse_source(path, None, e))
}

/// Writes `tokenizer.json`: the `control` tokens, then one token per byte (byte-level, no
/// merges), so any text tokenises. Returns the vocabulary size.
fn write_byte_tokenizer(dir: &Path, control: &[&str]) -> Result<usize> {
    let mut tokens: Vec<String> = control.iter().map(|t| t.to_string()).collect();
    let mut alphabet: Vec<char> = tokenizers::pre_tokenizers::byte_level::ByteLevel::alphabet()
        .into_iter()
        .collect();
    alphabet.sort_unstable();
    tokens.extend(alphabet.into_iter().map(String::from));
    let mut token_types = vec![3; control.len()];
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
    Ok(vocab)
}
