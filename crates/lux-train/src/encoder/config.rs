//! [`BertConfig`]: the shape of a BERT or XLM-RoBERTa encoder, read from a Hugging Face
//! `config.json`.

use std::path::Path;

use burn::tensor::Device;
use lux_core::{Error, IoContext, Result};
use serde::{Deserialize, Serialize};

use super::model::Encoder;

/// Which encoder family a checkpoint belongs to. The two differ (for inference) only in how
/// position ids are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EncoderFamily {
    /// BERT (`model_type = "bert"`): position `t` of every row is `t`, padding or not.
    Bert,
    /// RoBERTa / XLM-RoBERTa (`model_type = "roberta"`, `"xlm-roberta"`, `"camembert"`):
    /// positions count the non-padding tokens from `pad_token_id + 1`, and every padding token
    /// sits at position `pad_token_id` (transformers' `create_position_ids_from_input_ids`).
    Roberta,
}

/// The feed-forward activation (`hidden_act`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HiddenAct {
    /// `gelu`: the exact GELU, `x·Φ(x)` with the error function (BERT, XLM-R, e5).
    Gelu,
    /// `gelu_new` / `gelu_pytorch_tanh`: the tanh approximation.
    GeluTanh,
}

/// The architecture of a BERT / XLM-RoBERTa encoder, as given by the fields of a Hugging Face
/// `config.json`.
///
/// Read it with [`from_file`](Self::from_file) or [`from_json_str`](Self::from_json_str), which
/// fill in transformers' defaults and [validate](Self::validate) every field;
/// [`init`](Self::init) builds the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BertConfig {
    /// How positions are counted (from `model_type`).
    pub family: EncoderFamily,
    /// Rows of the word-embedding matrix (`vocab_size`).
    pub vocab_size: usize,
    /// Width of the residual stream (`hidden_size`).
    pub hidden_size: usize,
    /// Number of transformer layers (`num_hidden_layers`).
    pub num_hidden_layers: usize,
    /// Number of attention heads (`num_attention_heads`); divides `hidden_size`.
    pub num_attention_heads: usize,
    /// Width of the feed-forward hidden layer (`intermediate_size`).
    pub intermediate_size: usize,
    /// The feed-forward activation (`hidden_act`, default `gelu`).
    pub hidden_act: HiddenAct,
    /// Rows of the position-embedding matrix (`max_position_embeddings`, default 512). For the
    /// RoBERTa family the first `pad_token_id + 1` rows are never used by real tokens, so the
    /// longest input is `max_position_embeddings - pad_token_id - 1` tokens.
    pub max_position_embeddings: usize,
    /// Rows of the token-type (segment) embedding (`type_vocab_size`, default 2).
    pub type_vocab_size: usize,
    /// Epsilon of every LayerNorm (`layer_norm_eps`, default `1e-12`).
    pub layer_norm_eps: f64,
    /// The padding token (`pad_token_id`; default 0 for BERT, 1 for RoBERTa).
    pub pad_token_id: usize,
}

/// The fields of a `config.json` as written, before defaults and validation.
#[derive(Debug, Deserialize)]
struct RawBertConfig {
    model_type: Option<String>,
    vocab_size: Option<usize>,
    hidden_size: Option<usize>,
    num_hidden_layers: Option<usize>,
    num_attention_heads: Option<usize>,
    intermediate_size: Option<usize>,
    hidden_act: Option<String>,
    max_position_embeddings: Option<usize>,
    type_vocab_size: Option<usize>,
    layer_norm_eps: Option<f64>,
    pad_token_id: Option<usize>,
    position_embedding_type: Option<String>,
}

impl BertConfig {
    /// Reads and validates a Hugging Face `config.json`; errors name the file and the key.
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
        let raw: RawBertConfig = serde_json::from_str(text).map_err(|e| {
            Error::parse(
                "config.json",
                Some(format!("{}:{}", e.line(), e.column())),
                e.to_string(),
            )
        })?;
        let required = |value: Option<usize>, key: &str| {
            value.ok_or_else(|| Error::invalid(key, "missing (required)"))
        };
        let family = match raw.model_type.as_deref() {
            None | Some("bert") => EncoderFamily::Bert,
            Some("roberta" | "xlm-roberta" | "camembert") => EncoderFamily::Roberta,
            Some(other) => {
                return Err(Error::invalid(
                    "model_type",
                    format!("\"{other}\" is not supported (bert, roberta, xlm-roberta, camembert)"),
                ));
            }
        };
        let hidden_act = match raw.hidden_act.as_deref() {
            None | Some("gelu") => HiddenAct::Gelu,
            Some("gelu_new" | "gelu_pytorch_tanh") => HiddenAct::GeluTanh,
            Some(other) => {
                return Err(Error::invalid(
                    "hidden_act",
                    format!("\"{other}\" is not supported (gelu, gelu_new, gelu_pytorch_tanh)"),
                ));
            }
        };
        if let Some(kind) = raw.position_embedding_type.as_deref()
            && kind != "absolute"
        {
            return Err(Error::invalid(
                "position_embedding_type",
                format!("\"{kind}\" is not supported (only absolute positions)"),
            ));
        }
        let config = BertConfig {
            family,
            vocab_size: required(raw.vocab_size, "vocab_size")?,
            hidden_size: required(raw.hidden_size, "hidden_size")?,
            num_hidden_layers: required(raw.num_hidden_layers, "num_hidden_layers")?,
            num_attention_heads: required(raw.num_attention_heads, "num_attention_heads")?,
            intermediate_size: required(raw.intermediate_size, "intermediate_size")?,
            hidden_act,
            max_position_embeddings: raw.max_position_embeddings.unwrap_or(512),
            type_vocab_size: raw.type_vocab_size.unwrap_or(2),
            layer_norm_eps: raw.layer_norm_eps.unwrap_or(1e-12),
            pad_token_id: raw.pad_token_id.unwrap_or(match family {
                EncoderFamily::Bert => 0,
                EncoderFamily::Roberta => 1,
            }),
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks that the fields can build a working model; errors name the key.
    pub fn validate(&self) -> Result<()> {
        let positive = [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("intermediate_size", self.intermediate_size),
            ("max_position_embeddings", self.max_position_embeddings),
            ("type_vocab_size", self.type_vocab_size),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(Error::invalid(key, "must be > 0"));
            }
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err(Error::invalid(
                "num_attention_heads",
                format!(
                    "{} does not divide hidden_size {}",
                    self.num_attention_heads, self.hidden_size
                ),
            ));
        }
        // Written so that NaN is rejected too.
        if self.layer_norm_eps.is_nan() || self.layer_norm_eps <= 0.0 {
            return Err(Error::invalid("layer_norm_eps", "must be > 0"));
        }
        if self.family == EncoderFamily::Roberta
            && self.pad_token_id + 1 >= self.max_position_embeddings
        {
            return Err(Error::invalid(
                "max_position_embeddings",
                format!(
                    "{} leaves no position after the padding offset pad_token_id + 1 = {}",
                    self.max_position_embeddings,
                    self.pad_token_id + 1
                ),
            ));
        }
        Ok(())
    }

    /// Width of each attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// The longest input, in tokens (special tokens included), that has a position embedding.
    pub fn max_tokens(&self) -> usize {
        match self.family {
            EncoderFamily::Bert => self.max_position_embeddings,
            EncoderFamily::Roberta => self.max_position_embeddings - self.pad_token_id - 1,
        }
    }

    /// Builds the model on `device`, its parameters lazily initialised (load weights next).
    pub fn init(&self, device: &Device) -> Result<Encoder> {
        self.validate()?;
        Ok(Encoder::new(self.clone(), device))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_xlmr_defaults_and_rejects_bad_fields() {
        let c = BertConfig::from_json_str(
            r#"{"model_type":"xlm-roberta","vocab_size":10,"hidden_size":8,
                "num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":16,
                "max_position_embeddings":12,"type_vocab_size":1}"#,
        )
        .unwrap();
        assert_eq!(c.family, EncoderFamily::Roberta);
        assert_eq!(c.pad_token_id, 1);
        assert_eq!(c.max_tokens(), 10);
        assert_eq!(c.head_dim(), 4);

        let err = BertConfig::from_json_str(r#"{"vocab_size":10}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("hidden_size"), "{err}");
        let err = BertConfig::from_json_str(
            r#"{"vocab_size":10,"hidden_size":9,"num_hidden_layers":1,
                "num_attention_heads":2,"intermediate_size":4}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("num_attention_heads"), "{err}");
        let err = BertConfig::from_json_str(
            r#"{"vocab_size":10,"hidden_size":8,"num_hidden_layers":1,"hidden_act":"relu",
                "num_attention_heads":2,"intermediate_size":4}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("hidden_act") && err.contains("relu"), "{err}");
    }
}
