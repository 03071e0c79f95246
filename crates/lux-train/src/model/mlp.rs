//! [`Mlp`]: the SwiGLU feed-forward block of a Llama decoder layer.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::activation::silu;
use burn::tensor::{Device, Tensor};
use lux_core::Result;

use super::projection::{Projection, ProjectionConfig};
use super::weights::{WeightSource, load_projection};
use super::{fused, fused_grad};

/// Configuration of an [`Mlp`], built with [`init`](MlpConfig::init).
#[derive(Config, Debug)]
pub struct MlpConfig {
    /// Width of the residual stream.
    pub d_model: usize,
    /// Width of the hidden layer (`intermediate_size`).
    pub d_ff: usize,
    /// Whether the three projections have a bias.
    #[config(default = false)]
    pub bias: bool,
}

impl MlpConfig {
    /// Builds the block on `device`.
    pub fn init(&self, device: &Device) -> Mlp {
        let up = ProjectionConfig::new(self.d_model, self.d_ff).with_bias(self.bias);
        Mlp {
            gate_proj: up.init(device),
            up_proj: up.init(device),
            down_proj: ProjectionConfig::new(self.d_ff, self.d_model)
                .with_bias(self.bias)
                .init(device),
        }
    }
}

/// `down_proj(silu(gate_proj(x)) · up_proj(x))` (HF `LlamaMLP`).
#[derive(Module, Debug)]
pub struct Mlp {
    /// Gate projection, `d_model → d_ff`.
    pub gate_proj: Projection,
    /// Up projection, `d_model → d_ff`.
    pub up_proj: Projection,
    /// Down projection, `d_ff → d_model`.
    pub down_proj: Projection,
}

impl Mlp {
    /// Applies the block.
    ///
    /// # Shapes
    ///
    /// - input: `[..., d_model]`
    /// - output: `[..., d_model]`
    pub fn forward<const D: usize>(&self, input: Tensor<D>) -> Tensor<D> {
        let gate = self.gate_proj.forward(input.clone());
        let up = self.up_proj.forward(input);
        let gated = if fused::applies(&gate) {
            fused::silu_mul(gate, up)
        } else {
            match fused_grad::silu_mul(gate, up) {
                Ok(gated) => gated,
                Err((gate, up)) => silu(gate) * up,
            }
        };
        self.down_proj.forward(gated)
    }

    /// Loads `{prefix}.{gate,up,down}_proj.{weight,bias}` from HF-layout tensors.
    pub(crate) fn load_weights(
        &mut self,
        prefix: &str,
        source: &mut dyn WeightSource,
    ) -> Result<()> {
        load_projection(&mut self.gate_proj, &format!("{prefix}.gate_proj"), source)?;
        load_projection(&mut self.up_proj, &format!("{prefix}.up_proj"), source)?;
        load_projection(&mut self.down_proj, &format!("{prefix}.down_proj"), source)
    }
}
