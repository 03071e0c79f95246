//! [`DecoderLayer`]: one pre-norm Llama block (attention and MLP, each with a residual).

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use lux_core::Result;

use super::attention::{Attention, AttentionConfig, AttentionMask};
use super::cache::LayerKv;
use super::fused;
use super::mlp::{Mlp, MlpConfig};
use super::rms_norm::{RmsNorm, RmsNormConfig};
use super::rope::RopeTables;
use super::weights::{WeightSource, load_param};

/// Configuration of a [`DecoderLayer`], built with [`init`](DecoderLayerConfig::init).
#[derive(Config, Debug)]
pub struct DecoderLayerConfig {
    /// The self-attention block.
    pub attention: AttentionConfig,
    /// The feed-forward block.
    pub mlp: MlpConfig,
    /// Epsilon of both RMSNorms.
    #[config(default = 1e-6)]
    pub rms_norm_eps: f64,
}

impl DecoderLayerConfig {
    /// Builds the layer on `device`.
    pub fn init(&self, device: &Device) -> DecoderLayer {
        let norm = RmsNormConfig::new(self.attention.d_model).with_epsilon(self.rms_norm_eps);
        DecoderLayer {
            self_attn: self.attention.init(device),
            mlp: self.mlp.init(device),
            input_layernorm: norm.init(device),
            post_attention_layernorm: norm.init(device),
        }
    }
}

/// `h = x + attn(norm₁(x)); y = h + mlp(norm₂(h))` (HF `LlamaDecoderLayer`).
#[derive(Module, Debug)]
pub struct DecoderLayer {
    /// Grouped-query self-attention.
    pub self_attn: Attention,
    /// SwiGLU feed-forward block.
    pub mlp: Mlp,
    /// Norm before attention.
    pub input_layernorm: RmsNorm,
    /// Norm before the MLP.
    pub post_attention_layernorm: RmsNorm,
}

impl DecoderLayer {
    /// Applies the layer.
    ///
    /// # Shapes
    ///
    /// - input: `[batch, seq, d_model]`
    /// - output: `[batch, seq, d_model]`
    pub fn forward(
        &self,
        input: Tensor<3>,
        rope: &RopeTables,
        mask: &AttentionMask,
        cache: Option<&mut LayerKv>,
    ) -> Tensor<3> {
        let attended = self.self_attn.forward(
            self.input_layernorm.forward(input.clone()),
            rope,
            mask,
            cache,
        );
        let hidden = residual(input, attended);
        let fed = self
            .mlp
            .forward(self.post_attention_layernorm.forward(hidden.clone()));
        residual(hidden, fed)
    }

    /// Loads `{prefix}.self_attn.*`, `{prefix}.mlp.*` and both norms from HF-layout tensors.
    pub(crate) fn load_weights(
        &mut self,
        prefix: &str,
        source: &mut dyn WeightSource,
    ) -> Result<()> {
        self.self_attn
            .load_weights(&format!("{prefix}.self_attn"), source)?;
        self.mlp.load_weights(&format!("{prefix}.mlp"), source)?;
        let d = self.input_layernorm.weight.lazy_shape().dims::<1>();
        load_param(
            &mut self.input_layernorm.weight,
            &format!("{prefix}.input_layernorm.weight"),
            d,
            false,
            source,
        )?;
        load_param(
            &mut self.post_attention_layernorm.weight,
            &format!("{prefix}.post_attention_layernorm.weight"),
            d,
            false,
            source,
        )
    }
}

/// `stream + update`; on the CPU fast path, written into `update`'s buffer (the stream is often
/// still held, by the caller's list of hidden states).
fn residual(stream: Tensor<3>, update: Tensor<3>) -> Tensor<3> {
    if fused::applies(&update) {
        fused::add(update, stream)
    } else {
        stream + update
    }
}
