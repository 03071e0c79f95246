//! [`RmsNorm`]: root-mean-square normalisation with a learned scale, as in HF `LlamaRMSNorm`.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::Initializer;
use burn::tensor::{DType, Device, Tensor};

use super::{fused, fused_grad};

/// Configuration of an [`RmsNorm`], built with [`init`](RmsNormConfig::init).
#[derive(Config, Debug)]
pub struct RmsNormConfig {
    /// Width of the normalised (last) axis.
    pub d_model: usize,
    /// Added to the mean square before the square root; must be > 0 (checked by
    /// [`LlamaConfig::validate`](super::LlamaConfig::validate)).
    #[config(default = 1e-6)]
    pub epsilon: f64,
}

impl RmsNormConfig {
    /// Builds the layer on `device`, its scale initialised to one.
    pub fn init(&self, device: &Device) -> RmsNorm {
        RmsNorm {
            weight: Initializer::Ones.init([self.d_model], device),
            epsilon: self.epsilon,
        }
    }
}

/// `y = x / sqrt(mean(x²) + ε) · weight` over the last axis, computed in `f32`.
///
/// Unlike burn-nn's `RmsNorm` its parameter is called `weight`, so the module path matches the
/// Hugging Face name (`model.layers.0.input_layernorm.weight`).
#[derive(Module, Debug)]
pub struct RmsNorm {
    /// The learned scale, of shape `[d_model]`.
    pub weight: Param<Tensor<1>>,
    /// The epsilon added to the mean square.
    pub epsilon: f64,
}

impl RmsNorm {
    /// Normalises `input` over its last axis.
    ///
    /// # Shapes
    ///
    /// - input: `[..., d_model]`
    /// - output: `[..., d_model]`
    pub fn forward<const D: usize>(&self, input: Tensor<D>) -> Tensor<D> {
        if fused::applies(&input) {
            return fused::rms_norm(input, &self.weight.val(), self.epsilon);
        }
        let input = match fused_grad::rms_norm(input, self.weight.val(), self.epsilon) {
            Ok(output) => return output,
            Err((input, _)) => input,
        };
        let dtype = input.dtype();
        let input = input.cast(DType::F32);
        let inv_rms = input
            .clone()
            .square()
            .mean_dim(D - 1)
            .add_scalar(self.epsilon)
            .sqrt()
            .recip();
        (input * inv_rms).cast(dtype) * self.weight.val().unsqueeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{TensorData, Tolerance};

    #[test]
    fn normalises_by_root_mean_square() {
        let device = Device::flex();
        let mut norm = RmsNormConfig::new(2).with_epsilon(0.0).init(&device);
        norm.weight = Param::from_data([1.0f32, 2.0], &device);
        let x = Tensor::<2>::from_data([[3.0f32, 4.0], [1.0, -1.0]], &device);
        // rms([3, 4]) = sqrt(12.5); rms([1, -1]) = 1
        let r = 12.5f32.sqrt();
        norm.forward(x).into_data().assert_approx_eq::<f32>(
            &TensorData::from([[3.0 / r, 8.0 / r], [1.0, -2.0]]),
            Tolerance::default(),
        );
    }
}
