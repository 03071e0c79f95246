//! [`Aligner`]: LinguaLIFT's language-alignment layer, from encoder states to LLM embeddings.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::gelu;
use burn::tensor::{Device, Tensor};
use lux_core::{Error, Result};

/// How the encoder's view of the text reaches the LLM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlignMode {
    /// The projected encoder states stand *in place of* the text's own token embeddings: the
    /// LLM reads the text only through the encoder (LangBridge, LinguaLIFT).
    Replace,
    /// The projected states come *ahead of* the LLM's own embeddings of the same text
    /// (MindMerger's augmentation): the LLM sees both.
    Prefix,
}

/// Settings of an [`Aligner`].
#[derive(Config, Debug)]
pub struct AlignerConfig {
    /// Width of the encoder's hidden states (384 for multilingual-e5-small).
    pub d_encoder: usize,
    /// Width of the LLM's input embeddings (576 for SmolLM2-135M).
    pub d_model: usize,
    /// Width of the hidden layer of the two-layer MLP (LLaVA-1.5's projector); `0` makes the
    /// aligner a single linear map.
    #[config(default = 1024)]
    pub hidden: usize,
    /// Where the projected states go.
    #[config(default = "AlignMode::Replace")]
    pub mode: AlignMode,
}

impl AlignerConfig {
    /// Builds the aligner on `device` (burn's default Kaiming-uniform initialisation).
    pub fn init(&self, device: &Device) -> Result<Aligner> {
        if self.d_encoder == 0 || self.d_model == 0 {
            return Err(Error::invalid(
                "aligner",
                format!(
                    "d_encoder ({}) and d_model ({}) must be positive",
                    self.d_encoder, self.d_model
                ),
            ));
        }
        let (first, second) = if self.hidden == 0 {
            (
                LinearConfig::new(self.d_encoder, self.d_model).init(device),
                None,
            )
        } else {
            (
                LinearConfig::new(self.d_encoder, self.hidden).init(device),
                Some(LinearConfig::new(self.hidden, self.d_model).init(device)),
            )
        };
        Ok(Aligner {
            first,
            second,
            mode: self.mode,
        })
    }
}

/// Projects encoder token states `[.., d_encoder]` into the LLM's embedding space
/// `[.., d_model]`: `W₂·gelu(W₁x + b₁) + b₂`, or `W₁x + b₁` without a hidden layer.
///
/// Training decides what is frozen: stage 1 of LinguaLIFT trains only this module (the LLM
/// is frozen), stage 2 freezes it ([`Module::no_grad`]) and tunes the LLM.
#[derive(Module, Debug)]
pub struct Aligner {
    /// The first linear layer (the only one when there is no hidden layer).
    pub first: Linear,
    /// The second linear layer of the MLP.
    pub second: Option<Linear>,
    /// Where the projected states go.
    #[module(skip)]
    pub mode: AlignMode,
}

impl Aligner {
    /// Projects `states`.
    ///
    /// # Shapes
    ///
    /// - states: `[..., d_encoder]`
    /// - output: `[..., d_model]`
    pub fn forward<const D: usize>(&self, states: Tensor<D>) -> Tensor<D> {
        let x = self.first.forward(states);
        match &self.second {
            Some(second) => second.forward(gelu(x)),
            None => x,
        }
    }

    /// Width of the encoder states it takes.
    pub fn d_encoder(&self) -> usize {
        self.first.weight.lazy_shape().dims::<2>()[0]
    }

    /// Width of the vectors it produces.
    pub fn d_model(&self) -> usize {
        let last = self.second.as_ref().unwrap_or(&self.first);
        last.weight.lazy_shape().dims::<2>()[1]
    }
}
