//! [`LlamaConfig`]: the shape of a Llama-family decoder, read from a Hugging Face `config.json`.

use std::path::Path;

use burn::tensor::Device;
use lux_core::{Error, IoContext, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::attention::AttentionConfig;
use super::decoder_layer::DecoderLayerConfig;
use super::llama::Llama;
use super::llama_model::LlamaModelConfig;
use super::mlp::MlpConfig;
use super::projection::ProjectionConfig;
use super::rope::RotaryEmbeddingConfig;

/// How rotary position frequencies are rescaled for contexts longer than pretraining's
/// (`rope_scaling` in older `config.json` files, `rope_parameters` in newer ones).
///
/// Only the types below are supported; any other `rope_type` (`dynamic`, `yarn`, `longrope`…)
/// is rejected by [`LlamaConfig::from_json_str`] with an error naming it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rope_type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RopeScaling {
    /// Position interpolation: every frequency is divided by `factor`.
    Linear {
        /// The divisor (> 0).
        factor: f64,
    },
    /// Llama 3.1's frequency-dependent scaling: long wavelengths are divided by `factor`,
    /// short ones kept, and the band between is interpolated smoothly.
    Llama3 {
        /// The divisor for long wavelengths (> 0).
        factor: f64,
        /// Wavelengths longer than `original_max_position_embeddings / low_freq_factor` are
        /// scaled fully.
        low_freq_factor: f64,
        /// Wavelengths shorter than `original_max_position_embeddings / high_freq_factor` are
        /// kept (must be > `low_freq_factor`).
        high_freq_factor: f64,
        /// The context length the model was pretrained with.
        original_max_position_embeddings: usize,
    },
}

/// The architecture of a Llama-family decoder (Llama 2/3.x, SmolLM2, Qwen2-like models), as
/// given by the fields of a Hugging Face `config.json`.
///
/// Read it with [`from_file`](Self::from_file) or [`from_json_str`](Self::from_json_str), which
/// accept both the transformers 4 layout (`rope_theta` + `rope_scaling`) and the transformers 5
/// one (`rope_parameters`), fill in HF's defaults and [validate](Self::validate) every field.
/// [`init`](Self::init) builds the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawLlamaConfig")]
pub struct LlamaConfig {
    /// Width of the residual stream (`hidden_size`).
    pub hidden_size: usize,
    /// Width of the SwiGLU MLP's hidden layer (`intermediate_size`).
    pub intermediate_size: usize,
    /// Number of decoder layers (`num_hidden_layers`).
    pub num_hidden_layers: usize,
    /// Number of query heads (`num_attention_heads`).
    pub num_attention_heads: usize,
    /// Number of key/value heads (`num_key_value_heads`; defaults to `num_attention_heads`).
    /// Grouped-query attention when smaller; must divide `num_attention_heads`.
    pub num_key_value_heads: usize,
    /// Width of each head (`head_dim`; defaults to `hidden_size / num_attention_heads`). Even.
    pub head_dim: usize,
    /// Epsilon of every RMSNorm (`rms_norm_eps`, default `1e-6`).
    pub rms_norm_eps: f64,
    /// Base of the rotary frequencies (`rope_theta`, default `10000`).
    pub rope_theta: f64,
    /// Rescaling of the rotary frequencies, if any.
    pub rope_scaling: Option<RopeScaling>,
    /// Vocabulary size: rows of the embedding and outputs of `lm_head` (`vocab_size`).
    pub vocab_size: usize,
    /// Whether `lm_head` reuses the embedding matrix (`tie_word_embeddings`, default `false`).
    pub tie_word_embeddings: bool,
    /// Longest context the model was trained for (`max_position_embeddings`, default 2048).
    /// Informative: longer inputs are not rejected.
    pub max_position_embeddings: usize,
    /// Whether `q_proj`, `k_proj` and `v_proj` have a bias (Llama's `attention_bias`; always
    /// true for `model_type = "qwen2"`).
    pub qkv_bias: bool,
    /// Whether `o_proj` has a bias (Llama's `attention_bias`; false for Qwen2).
    pub o_proj_bias: bool,
    /// Whether the MLP projections have a bias (`mlp_bias`, default `false`).
    pub mlp_bias: bool,
}

/// The fields of a `config.json` as written, before defaults and validation.
#[derive(Debug, Deserialize)]
struct RawLlamaConfig {
    model_type: Option<String>,
    hidden_size: Option<usize>,
    intermediate_size: Option<usize>,
    num_hidden_layers: Option<usize>,
    num_attention_heads: Option<usize>,
    num_key_value_heads: Option<usize>,
    head_dim: Option<usize>,
    rms_norm_eps: Option<f64>,
    rope_theta: Option<f64>,
    rope_scaling: Option<Value>,
    rope_parameters: Option<Value>,
    vocab_size: Option<usize>,
    tie_word_embeddings: Option<bool>,
    max_position_embeddings: Option<usize>,
    hidden_act: Option<String>,
    attention_bias: Option<bool>,
    qkv_bias: Option<bool>,
    o_proj_bias: Option<bool>,
    mlp_bias: Option<bool>,
    use_sliding_window: Option<bool>,
}

impl TryFrom<RawLlamaConfig> for LlamaConfig {
    type Error = Error;

    fn try_from(raw: RawLlamaConfig) -> Result<Self> {
        let required = |value: Option<usize>, key: &str| {
            value.ok_or_else(|| Error::invalid(key, "missing (required)"))
        };
        if let Some(act) = &raw.hidden_act
            && act != "silu"
        {
            return Err(Error::invalid(
                "hidden_act",
                format!("\"{act}\" is not supported (Llama-family models use \"silu\")"),
            ));
        }
        if raw.use_sliding_window == Some(true) {
            return Err(Error::invalid(
                "use_sliding_window",
                "sliding-window attention is not supported",
            ));
        }
        let hidden_size = required(raw.hidden_size, "hidden_size")?;
        let num_attention_heads = required(raw.num_attention_heads, "num_attention_heads")?;
        if num_attention_heads == 0 {
            return Err(Error::invalid("num_attention_heads", "must be > 0"));
        }
        let head_dim = match raw.head_dim {
            Some(d) => d,
            None if hidden_size % num_attention_heads == 0 => hidden_size / num_attention_heads,
            None => {
                return Err(Error::invalid(
                    "head_dim",
                    format!(
                        "missing, and hidden_size {hidden_size} is not divisible by \
                         num_attention_heads {num_attention_heads}"
                    ),
                ));
            }
        };

        let (rope_theta, rope_scaling) = parse_rope(
            raw.rope_theta,
            raw.rope_scaling.as_ref(),
            raw.rope_parameters.as_ref(),
        )?;

        let is_qwen2 = raw.model_type.as_deref() == Some("qwen2");
        let attention_bias = raw.attention_bias.unwrap_or(false);
        let config = LlamaConfig {
            hidden_size,
            intermediate_size: required(raw.intermediate_size, "intermediate_size")?,
            num_hidden_layers: required(raw.num_hidden_layers, "num_hidden_layers")?,
            num_attention_heads,
            num_key_value_heads: raw.num_key_value_heads.unwrap_or(num_attention_heads),
            head_dim,
            rms_norm_eps: raw.rms_norm_eps.unwrap_or(1e-6),
            rope_theta,
            rope_scaling,
            vocab_size: required(raw.vocab_size, "vocab_size")?,
            tie_word_embeddings: raw.tie_word_embeddings.unwrap_or(false),
            max_position_embeddings: raw.max_position_embeddings.unwrap_or(2048),
            qkv_bias: raw.qkv_bias.unwrap_or(attention_bias || is_qwen2),
            o_proj_bias: raw.o_proj_bias.unwrap_or(attention_bias && !is_qwen2),
            mlp_bias: raw.mlp_bias.unwrap_or(false),
        };
        config.validate()?;
        Ok(config)
    }
}

/// Reads the rotary base and scaling from either layout, refusing contradictions by name.
fn parse_rope(
    rope_theta: Option<f64>,
    rope_scaling: Option<&Value>,
    rope_parameters: Option<&Value>,
) -> Result<(f64, Option<RopeScaling>)> {
    let params = match rope_parameters {
        Some(Value::Object(map)) => Some(map),
        Some(Value::Null) | None => None,
        Some(other) => {
            return Err(Error::invalid(
                "rope_parameters",
                format!("expected an object, got {other}"),
            ));
        }
    };
    let theta_in_params = match params.and_then(|p| p.get("rope_theta")) {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_f64().ok_or_else(|| {
            Error::invalid(
                "rope_parameters.rope_theta",
                format!("expected a number, got {v}"),
            )
        })?),
    };
    let theta = match (rope_theta, theta_in_params) {
        (Some(a), Some(b)) if a != b => {
            return Err(Error::invalid(
                "rope_theta",
                format!("{a} contradicts rope_parameters.rope_theta = {b}"),
            ));
        }
        (Some(a), _) => a,
        (None, Some(b)) => b,
        (None, None) => 10_000.0,
    };

    let scaling_from_params = match params {
        Some(p) => parse_rope_scaling(&Value::Object(p.clone()), "rope_parameters")?,
        None => None,
    };
    let scaling_from_legacy = match rope_scaling {
        Some(v) => parse_rope_scaling(v, "rope_scaling")?,
        None => None,
    };
    let scaling = match (scaling_from_legacy, scaling_from_params) {
        (Some(a), Some(b)) if a != b => {
            return Err(Error::invalid(
                "rope_scaling",
                format!("{a:?} contradicts rope_parameters = {b:?}"),
            ));
        }
        (Some(a), _) => Some(a),
        (None, b) => b,
    };
    Ok((theta, scaling))
}

/// Parses one `rope_scaling` / `rope_parameters` object; `None` for the default (no scaling).
fn parse_rope_scaling(value: &Value, key: &str) -> Result<Option<RopeScaling>> {
    let map = match value {
        Value::Null => return Ok(None),
        Value::Object(map) => map,
        other => {
            return Err(Error::invalid(
                key,
                format!("expected an object, got {other}"),
            ));
        }
    };
    let kind = match map.get("rope_type").or_else(|| map.get("type")) {
        None | Some(Value::Null) => "default",
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err(Error::invalid(
                format!("{key}.rope_type"),
                format!("expected a string, got {other}"),
            ));
        }
    };
    let number = |field: &str| -> Result<f64> {
        match map.get(field) {
            Some(v) => v.as_f64().ok_or_else(|| {
                Error::invalid(
                    format!("{key}.{field}"),
                    format!("expected a number, got {v}"),
                )
            }),
            None => Err(Error::invalid(
                format!("{key}.{field}"),
                format!("missing (required by rope_type \"{kind}\")"),
            )),
        }
    };
    match kind {
        "default" => Ok(None),
        "linear" => Ok(Some(RopeScaling::Linear {
            factor: number("factor")?,
        })),
        "llama3" => {
            let factor = number("factor")?;
            let low_freq_factor = number("low_freq_factor")?;
            let high_freq_factor = number("high_freq_factor")?;
            let original = number("original_max_position_embeddings")?;
            if original < 1.0 || original.fract() != 0.0 {
                return Err(Error::invalid(
                    format!("{key}.original_max_position_embeddings"),
                    format!("expected a positive integer, got {original}"),
                ));
            }
            Ok(Some(RopeScaling::Llama3 {
                factor,
                low_freq_factor,
                high_freq_factor,
                original_max_position_embeddings: original as usize,
            }))
        }
        other => Err(Error::invalid(
            format!("{key}.rope_type"),
            format!("\"{other}\" is not supported (supported: default, linear, llama3)"),
        )),
    }
}

impl LlamaConfig {
    /// Reads and validates a Hugging Face `config.json`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).with_path(path)?;
        Self::from_json_str(&text).map_err(|e| match e {
            Error::Invalid { key, message } => {
                Error::parse(path, Some(format!("key \"{key}\"")), message)
            }
            Error::Parse {
                location, message, ..
            } => Error::parse(path, location, message),
            other => other,
        })
    }

    /// Parses and validates the text of a `config.json`. Unknown keys are ignored.
    pub fn from_json_str(text: &str) -> Result<Self> {
        let raw: RawLlamaConfig = serde_json::from_str(text).map_err(|e| {
            Error::parse(
                "config.json",
                Some(format!("{}:{}", e.line(), e.column())),
                e.to_string(),
            )
        })?;
        Self::try_from(raw)
    }

    /// Checks every field, returning an error that names the first offending one.
    pub fn validate(&self) -> Result<()> {
        let positive = [
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("num_key_value_heads", self.num_key_value_heads),
            ("head_dim", self.head_dim),
            ("vocab_size", self.vocab_size),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(Error::invalid(key, "must be > 0"));
            }
        }
        if !self
            .num_attention_heads
            .is_multiple_of(self.num_key_value_heads)
        {
            return Err(Error::invalid(
                "num_key_value_heads",
                format!(
                    "{} does not divide num_attention_heads {}",
                    self.num_key_value_heads, self.num_attention_heads
                ),
            ));
        }
        if !self.head_dim.is_multiple_of(2) {
            return Err(Error::invalid(
                "head_dim",
                format!(
                    "{} is odd; rotary embeddings need an even width",
                    self.head_dim
                ),
            ));
        }
        if !(self.rms_norm_eps > 0.0 && self.rms_norm_eps.is_finite()) {
            return Err(Error::invalid(
                "rms_norm_eps",
                format!("{} must be > 0", self.rms_norm_eps),
            ));
        }
        if !(self.rope_theta > 1.0 && self.rope_theta.is_finite()) {
            return Err(Error::invalid(
                "rope_theta",
                format!("{} must be > 1", self.rope_theta),
            ));
        }
        match &self.rope_scaling {
            None => {}
            Some(RopeScaling::Linear { factor }) if !(*factor > 0.0 && factor.is_finite()) => {
                return Err(Error::invalid(
                    "rope_scaling.factor",
                    format!("{factor} must be > 0"),
                ));
            }
            Some(RopeScaling::Linear { .. }) => {}
            Some(RopeScaling::Llama3 {
                factor,
                low_freq_factor,
                high_freq_factor,
                original_max_position_embeddings,
            }) => {
                if !(*factor > 0.0 && factor.is_finite()) {
                    return Err(Error::invalid(
                        "rope_scaling.factor",
                        format!("{factor} must be > 0"),
                    ));
                }
                if low_freq_factor.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
                    return Err(Error::invalid(
                        "rope_scaling.low_freq_factor",
                        format!("{low_freq_factor} must be > 0"),
                    ));
                }
                if !(high_freq_factor > low_freq_factor && high_freq_factor.is_finite()) {
                    return Err(Error::invalid(
                        "rope_scaling.high_freq_factor",
                        format!("{high_freq_factor} must be > low_freq_factor {low_freq_factor}"),
                    ));
                }
                if *original_max_position_embeddings == 0 {
                    return Err(Error::invalid(
                        "rope_scaling.original_max_position_embeddings",
                        "must be > 0",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Validates the config and builds a [`Llama`] on `device`.
    ///
    /// Parameters are initialised lazily (normal, std 0.02, as HF does; norms to one): loading
    /// weights right after (`Llama::load_weights`) never materialises the random values.
    pub fn init(&self, device: &Device) -> Result<Llama> {
        self.validate()?;
        let attention = AttentionConfig::new(
            self.hidden_size,
            self.num_attention_heads,
            self.num_key_value_heads,
            self.head_dim,
        )
        .with_qkv_bias(self.qkv_bias)
        .with_o_bias(self.o_proj_bias);
        let mlp = MlpConfig::new(self.hidden_size, self.intermediate_size).with_bias(self.mlp_bias);
        let layer = DecoderLayerConfig::new(attention, mlp).with_rms_norm_eps(self.rms_norm_eps);
        let rotary = RotaryEmbeddingConfig::new(self.head_dim)
            .with_theta(self.rope_theta)
            .with_scaling(self.rope_scaling.clone());
        let model = LlamaModelConfig::new(self.vocab_size, self.num_hidden_layers, layer, rotary)
            .with_rms_norm_eps(self.rms_norm_eps)
            .init(device);
        let lm_head = (!self.tie_word_embeddings)
            .then(|| ProjectionConfig::new(self.hidden_size, self.vocab_size).init(device));
        Ok(Llama::new(model, lm_head, self.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMOLLM2: &str = r#"{
      "architectures": ["LlamaForCausalLM"], "bos_token_id": 0, "eos_token_id": 0,
      "hidden_act": "silu", "hidden_size": 576, "initializer_range": 0.041,
      "intermediate_size": 1536, "max_position_embeddings": 8192, "model_type": "llama",
      "num_attention_heads": 9, "num_hidden_layers": 30, "num_key_value_heads": 3,
      "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": null, "rope_theta": 100000,
      "tie_word_embeddings": true, "torch_dtype": "bfloat16", "use_cache": true,
      "vocab_size": 49152
    }"#;

    #[test]
    fn reads_smollm2_config() {
        let c = LlamaConfig::from_json_str(SMOLLM2).unwrap();
        assert_eq!(c.head_dim, 64);
        assert_eq!(c.num_key_value_heads, 3);
        assert_eq!(c.rope_theta, 100_000.0);
        assert!(c.tie_word_embeddings);
        assert_eq!(c.rope_scaling, None);
        assert!(!c.qkv_bias && !c.o_proj_bias && !c.mlp_bias);
    }

    #[test]
    fn reads_llama3_scaling_in_both_layouts() {
        let legacy = r#"{"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1,
            "num_attention_heads": 4, "vocab_size": 10, "rope_theta": 500000.0,
            "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
            "original_max_position_embeddings": 8192, "rope_type": "llama3"}}"#;
        let v5 = r#"{"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1,
            "num_attention_heads": 4, "vocab_size": 10,
            "rope_parameters": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
            "original_max_position_embeddings": 8192, "rope_theta": 500000.0,
            "rope_type": "llama3"}}"#;
        let a = LlamaConfig::from_json_str(legacy).unwrap();
        let b = LlamaConfig::from_json_str(v5).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.rope_theta, 500_000.0);
        assert!(matches!(
            a.rope_scaling,
            Some(RopeScaling::Llama3 {
                original_max_position_embeddings: 8192,
                ..
            })
        ));
        // Serialising and reading back gives the same config.
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(LlamaConfig::from_json_str(&json).unwrap(), a);
        let linear = r#"{"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1,
            "num_attention_heads": 4, "vocab_size": 10, "rope_scaling": {"type": "linear", "factor": 2}}"#;
        assert_eq!(
            LlamaConfig::from_json_str(linear).unwrap().rope_scaling,
            Some(RopeScaling::Linear { factor: 2.0 })
        );
    }

    fn error_of(patch: &str) -> String {
        let mut v: Value = serde_json::from_str(SMOLLM2).unwrap();
        let p: Value = serde_json::from_str(patch).unwrap();
        for (k, val) in p.as_object().unwrap() {
            v[k] = val.clone();
        }
        LlamaConfig::from_json_str(&v.to_string())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn errors_name_the_field() {
        assert!(error_of(r#"{"num_key_value_heads": 4}"#).contains("num_key_value_heads"));
        assert!(error_of(r#"{"hidden_size": 577, "head_dim": null}"#).contains("head_dim"));
        assert!(error_of(r#"{"head_dim": 63}"#).contains("head_dim"));
        assert!(error_of(r#"{"rms_norm_eps": 0.0}"#).contains("rms_norm_eps"));
        assert!(error_of(r#"{"vocab_size": 0}"#).contains("vocab_size"));
        assert!(error_of(r#"{"vocab_size": null}"#).contains("vocab_size"));
        assert!(error_of(r#"{"hidden_act": "gelu"}"#).contains("hidden_act"));
        assert!(error_of(r#"{"use_sliding_window": true}"#).contains("use_sliding_window"));
        let e = error_of(r#"{"rope_scaling": {"rope_type": "yarn", "factor": 4.0}}"#);
        assert!(
            e.contains("rope_scaling.rope_type") && e.contains("yarn"),
            "{e}"
        );
        let e = error_of(r#"{"rope_scaling": {"rope_type": "llama3", "factor": 4.0}}"#);
        assert!(e.contains("low_freq_factor"), "{e}");
        let e = error_of(r#"{"rope_parameters": {"rope_theta": 10.0, "rope_type": "default"}}"#);
        assert!(e.contains("rope_theta") && e.contains("contradicts"), "{e}");
        assert!(error_of(r#"{"hidden_size": "big"}"#).contains("config.json"));
    }

    #[test]
    fn from_file_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, r#"{"hidden_size": 8}"#).unwrap();
        let e = LlamaConfig::from_file(&path).unwrap_err().to_string();
        assert!(e.contains("config.json") && e.contains("missing"), "{e}");
    }

    #[test]
    fn qwen2_has_qkv_bias_only() {
        let mut v: Value = serde_json::from_str(SMOLLM2).unwrap();
        v["model_type"] = "qwen2".into();
        let c = LlamaConfig::from_json_str(&v.to_string()).unwrap();
        assert!(c.qkv_bias && !c.o_proj_bias);
    }
}
