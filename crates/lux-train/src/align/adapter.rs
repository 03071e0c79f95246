//! [`AlignerAdapter`]: LinguaLIFT's alignment layer as an [`Adapter`] — an input adapter
//! attached in front of a frozen LLM.

use std::path::Path;

use burn::module::Module;
use lux_core::{Error, Result, rng};
use serde::{Deserialize, Serialize};

use super::aligner::{AlignMode, Aligner, AlignerConfig};
use super::save::{load_aligner, save_aligner};
use crate::adapter::Adapter;
use crate::model::Llama;

/// The alignment layer (`type = "aligner"`): [`attach`](Adapter::attach) freezes the LLM and
/// puts a fresh [`Aligner`] from `d_encoder` to the model's width in
/// [`Llama::aligner`], so the model reads encoder states through it (stage 1 of LinguaLIFT
/// trains exactly that); [`save`](Adapter::save) writes it as safetensors in
/// `torch.nn.Sequential` layout ([`save_aligner`]). It does not merge: it maps another
/// model's states, it is not a change of the LLM's weights.
///
/// A LoRA adapter attached afterwards freezes the aligner with the rest of the model (stage 2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlignerAdapter {
    /// Width of the encoder's states (384 for multilingual-e5-small).
    pub d_encoder: usize,
    /// Width of the MLP's hidden layer; `0` makes the aligner a single linear map. Default 1024
    /// (LLaVA-1.5's projector).
    #[serde(default = "default_hidden")]
    pub hidden: usize,
    /// Where the projected states go. Default `replace` (LinguaLIFT, LangBridge).
    #[serde(default = "default_mode")]
    pub mode: AlignMode,
}

fn default_hidden() -> usize {
    1024
}
fn default_mode() -> AlignMode {
    AlignMode::Replace
}

impl AlignerAdapter {
    /// An aligner from `d_encoder`-wide states with the default shape.
    pub fn new(d_encoder: usize) -> AlignerAdapter {
        AlignerAdapter {
            d_encoder,
            hidden: default_hidden(),
            mode: default_mode(),
        }
    }
}

#[typetag::serde(name = "aligner")]
impl Adapter for AlignerAdapter {
    fn attach(&self, model: Llama, seed: u64) -> Result<(Llama, Vec<String>)> {
        if model.aligner.is_some() {
            return Err(Error::invalid(
                "aligner",
                "the model already has an aligner attached",
            ));
        }
        let device = model.model.device();
        // Initial weights depend on the seed only: burn draws them lazily, on first use, so
        // they are drawn here, while the seed holds (two builds of one run otherwise started
        // stage 1 at held-out losses 5.23 and 3.29).
        device.seed(rng::hash(seed, "aligner/init"));
        let aligner = AlignerConfig::new(self.d_encoder, model.config().hidden_size)
            .with_hidden(self.hidden)
            .with_mode(self.mode)
            .init(&device)?;
        materialize(&aligner);
        let mut model = model.no_grad();
        model.aligner = Some(aligner);
        Ok((model, vec!["aligner".to_string()]))
    }

    fn save(&self, model: &Llama, dir: &Path) -> Result<()> {
        let aligner = model
            .aligner
            .as_ref()
            .ok_or_else(|| Error::invalid("aligner", "the model has no aligner to save"))?;
        save_aligner(aligner, dir)
    }

    fn load(&self, model: Llama, dir: &Path) -> Result<Llama> {
        let device = model.model.device();
        let aligner = load_aligner(dir, &device)?;
        if (aligner.d_encoder(), aligner.mode) != (self.d_encoder, self.mode) {
            return Err(Error::parse(
                dir,
                None,
                format!(
                    "the aligner here reads {}-wide states in mode {:?}; the adapter's settings \
                     say {} and {:?}",
                    aligner.d_encoder(),
                    aligner.mode,
                    self.d_encoder,
                    self.mode
                ),
            ));
        }
        let mut model = model.no_grad();
        model.aligner = Some(aligner);
        Ok(model)
    }
}

/// Draws an aligner's lazily initialised parameters now.
fn materialize(aligner: &Aligner) {
    for layer in std::iter::once(&aligner.first).chain(aligner.second.as_ref()) {
        let _ = layer.weight.val();
        if let Some(bias) = &layer.bias {
            let _ = bias.val();
        }
    }
}
