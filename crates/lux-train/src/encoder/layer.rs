//! [`EncoderLayer`]: one post-LayerNorm transformer block with bidirectional self-attention
//! (HF `BertLayer`), and [`PaddingMask`], the key mask shared by every layer.

use burn::module::Module;
use burn::nn::{LayerNorm, LayerNormConfig};
use burn::tensor::activation::{gelu, gelu_approximate, softmax};
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Device, Int, Tensor};
use lux_core::Result;

use super::config::{BertConfig, HiddenAct};
use super::embeddings::load_layer_norm;
use crate::model::{Projection, ProjectionConfig, WeightSource, load_projection};

/// One encoder block: `x = LN(x + Attn(x))`, then `x = LN(x + W₂·act(W₁·x))`.
///
/// The linear layers are [`Projection`]s, so LoRA adapters attach to them as to the decoder's.
#[derive(Module, Debug)]
pub struct EncoderLayer {
    /// `attention.self.query`.
    pub query: Projection,
    /// `attention.self.key`.
    pub key: Projection,
    /// `attention.self.value`.
    pub value: Projection,
    /// `attention.output.dense`.
    pub attention_output: Projection,
    /// `attention.output.LayerNorm`.
    pub attention_norm: LayerNorm,
    /// `intermediate.dense`, `hidden → intermediate_size`.
    pub intermediate: Projection,
    /// `output.dense`, `intermediate_size → hidden`.
    pub output: Projection,
    /// `output.LayerNorm`.
    pub output_norm: LayerNorm,
    /// Number of attention heads.
    pub n_heads: usize,
    /// Whether the feed-forward activation is the tanh GELU (else the exact, erf one).
    pub gelu_tanh: bool,
}

impl EncoderLayer {
    /// Builds the block on `device` (lazily initialised).
    pub(crate) fn new(config: &BertConfig, device: &Device) -> Self {
        let d = config.hidden_size;
        let linear = |i, o| ProjectionConfig::new(i, o).with_bias(true).init(device);
        let norm = || {
            LayerNormConfig::new(d)
                .with_epsilon(config.layer_norm_eps)
                .init(device)
        };
        Self {
            query: linear(d, d),
            key: linear(d, d),
            value: linear(d, d),
            attention_output: linear(d, d),
            attention_norm: norm(),
            intermediate: linear(d, config.intermediate_size),
            output: linear(config.intermediate_size, d),
            output_norm: norm(),
            n_heads: config.num_attention_heads,
            gelu_tanh: config.hidden_act == HiddenAct::GeluTanh,
        }
    }

    /// Applies the block; padding keys (per `mask`) are never attended to.
    ///
    /// # Shapes
    ///
    /// - input: `[batch, seq, hidden]`
    /// - output: `[batch, seq, hidden]`
    pub fn forward(&self, input: Tensor<3>, mask: &PaddingMask) -> Tensor<3> {
        let [b, s, d] = input.dims();
        let h = self.n_heads;
        let split = |x: Tensor<3>| x.reshape([b, s, h, d / h]).swap_dims(1, 2);
        let q = split(self.query.forward(input.clone()));
        let k = split(self.key.forward(input.clone()));
        let v = split(self.value.forward(input.clone()));
        let context = mask.attend(q, k, v).swap_dims(1, 2).reshape([b, s, d]);
        let hidden = self
            .attention_norm
            .forward(input + self.attention_output.forward(context));
        let inner = self.intermediate.forward(hidden.clone());
        let inner = if self.gelu_tanh {
            gelu_approximate(inner)
        } else {
            gelu(inner)
        };
        self.output_norm
            .forward(hidden + self.output.forward(inner))
    }

    /// Loads `{prefix}.attention.*`, `{prefix}.intermediate.dense` and `{prefix}.output.*`.
    pub(crate) fn load_weights(
        &mut self,
        prefix: &str,
        source: &mut dyn WeightSource,
    ) -> Result<()> {
        for (projection, name) in [
            (&mut self.query, "attention.self.query"),
            (&mut self.key, "attention.self.key"),
            (&mut self.value, "attention.self.value"),
            (&mut self.attention_output, "attention.output.dense"),
            (&mut self.intermediate, "intermediate.dense"),
            (&mut self.output, "output.dense"),
        ] {
            load_projection(projection, &format!("{prefix}.{name}"), source)?;
        }
        load_layer_norm(
            &mut self.attention_norm,
            &format!("{prefix}.attention.output.LayerNorm"),
            source,
        )?;
        load_layer_norm(
            &mut self.output_norm,
            &format!("{prefix}.output.LayerNorm"),
            source,
        )
    }
}

/// The key-padding mask of one forward pass, built once and shared by every layer.
///
/// Two kernels compute `softmax(Q·Kᵀ/√d + mask)·V`, as in the decoder's attention: burn's
/// fused `attention` op on a plain `flex` device, and matmuls + softmax (differentiable) on
/// autodiff and other devices.
#[derive(Debug, Clone)]
pub struct PaddingMask {
    /// Fused kernel: `[batch, 1, 1 or seq, seq]`, `true` = padding key; `None` = no padding.
    masked: Option<Tensor<4, Bool>>,
    /// Decomposed kernel: additive bias `[batch, 1, 1, seq]` (0 or `f32::MIN`).
    bias: Option<Tensor<4>>,
    fused: bool,
}

impl PaddingMask {
    /// Builds the mask from an attention mask (`[batch, seq]`, 1 = real token, 0 = padding).
    pub fn new(attention_mask: Option<&Tensor<2, Int>>, device: &Device) -> Self {
        let fused = !device.is_autodiff() && *device == Device::flex();
        let Some(mask) = attention_mask else {
            return Self {
                masked: None,
                bias: None,
                fused,
            };
        };
        let [b, s] = mask.dims();
        let padding = mask.clone().equal_elem(0).reshape([b, 1, 1, s]);
        if fused {
            Self {
                masked: Some(padding.expand([b, 1, s, s])),
                bias: None,
                fused,
            }
        } else {
            let bias = Tensor::<4>::zeros([b, 1, 1, s], device).mask_fill(padding, f32::MIN);
            Self {
                masked: None,
                bias: Some(bias),
                fused,
            }
        }
    }

    /// `softmax(Q·Kᵀ/√d + mask)·V` over `[batch, heads, seq, head_dim]` tensors.
    pub fn attend(&self, query: Tensor<4>, key: Tensor<4>, value: Tensor<4>) -> Tensor<4> {
        if self.fused {
            let options = AttentionModuleOptions {
                scale: None,
                softcap: None,
                is_causal: false,
            };
            return attention(query, key, value, self.masked.clone(), None, options);
        }
        let d = query.dims()[3];
        let scores = query
            .matmul(key.swap_dims(2, 3))
            .mul_scalar(1.0 / (d as f64).sqrt());
        let scores = match &self.bias {
            Some(bias) => scores + bias.clone(),
            None => scores,
        };
        softmax(scores, 3).matmul(value)
    }
}
