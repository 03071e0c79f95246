//! [`Projection`]: the linear layer of the decoder, with a seam for low-rank adapters.
//!
//! Every linear layer of the model (`q_proj`, `k_proj`, `v_proj`, `o_proj`, `gate_proj`,
//! `up_proj`, `down_proj`, `lm_head`) is a `Projection`. It computes `x·W + b` and, when a
//! [`LowRank`] pair is attached, adds `scale·(x·A)·B` without ever forming `W + scale·A·B`:
//! the frozen `W` gets no gradient and the adapter's gradients are rank-sized.
//!
//! The adapter itself (its config, which layers it targets, initialisation, PEFT files,
//! merging) lives elsewhere: this file only defines how a pair is applied. Adapter code finds
//! the projections by their Hugging Face names with [`Llama::projections_mut`] and calls
//! [`Projection::set_low_rank`].
//!
//! [`Llama::projections_mut`]: super::Llama::projections_mut

use burn::config::Config;
use burn::module::{Flag, Module, Param};
use burn::nn::Initializer;
use burn::tensor::module::linear;
use burn::tensor::{Device, Tensor};

use super::fused;
use super::quantized::QuantizedWeight;

/// Configuration of a [`Projection`], built with [`init`](ProjectionConfig::init).
#[derive(Config, Debug)]
pub struct ProjectionConfig {
    /// Width of the input features.
    pub d_input: usize,
    /// Width of the output features.
    pub d_output: usize,
    /// Whether the layer adds a bias.
    #[config(default = false)]
    pub bias: bool,
    /// How the weight is initialised (HF Llama: normal with std `initializer_range` = 0.02);
    /// a bias starts at zero.
    #[config(default = "Initializer::Normal { mean: 0.0, std: 0.02 }")]
    pub initializer: Initializer,
}

impl ProjectionConfig {
    /// Builds the layer on `device` (lazily initialised), with no adapter attached.
    pub fn init(&self, device: &Device) -> Projection {
        let weight = self.initializer.init_with(
            [self.d_input, self.d_output],
            Some(self.d_input),
            Some(self.d_output),
            device,
        );
        let bias = self
            .bias
            .then(|| Initializer::Zeros.init([self.d_output], device));
        Projection {
            weight,
            bias,
            low_rank: None,
            quantized: None,
        }
    }
}

/// A linear layer `y = x·W + b`, optionally with a low-rank update `+ scale·(x·A)·B`.
#[derive(Module, Debug)]
pub struct Projection {
    /// Weight of shape `[d_input, d_output]` (burn's layout: the transpose of HF's `[out, in]`).
    pub weight: Param<Tensor<2>>,
    /// Bias of shape `[d_output]`, if the layer has one.
    pub bias: Option<Param<Tensor<1>>>,
    /// The low-rank pair added to the output, if an adapter is attached.
    pub low_rank: Option<LowRank>,
    /// The frozen weight kept in its GGUF blocks, when the model was loaded with
    /// `keep_quantized`: the forward pass multiplies with it, and `weight` is then a lazy
    /// parameter that holds it dequantised only if something reads it (see [`QuantizedWeight`]).
    /// Once `weight` has been read or replaced (an adapter merged into it), the forward pass
    /// uses `weight` instead, so a change to it is never ignored.
    #[module(skip)]
    pub quantized: Option<QuantizedWeight>,
}

/// A low-rank pair `(A, B)` and its scale: the trainable part of a LoRA-style adapter.
///
/// Its contribution to a [`Projection`]'s output is `scale·(x·A)·B`.
#[derive(Module, Debug)]
pub struct LowRank {
    /// Down projection of shape `[d_input, rank]`.
    pub a: Param<Tensor<2>>,
    /// Up projection of shape `[rank, d_output]`.
    pub b: Param<Tensor<2>>,
    /// Factor applied to the pair's output (LoRA's `alpha / rank`).
    pub scale: f64,
    /// Dropout on the pair's input, applied only while training: on an autodiff device and
    /// with `training` set.
    pub dropout: f64,
    /// Whether the pair behaves as during training; [`Module::valid`] clears it (burn's
    /// `Dropout` has the same flag), so evaluation of a model that is being trained is
    /// deterministic.
    pub training: Param<Flag>,
}

impl LowRank {
    /// A pair with no dropout.
    pub fn new(a: Param<Tensor<2>>, b: Param<Tensor<2>>, scale: f64) -> LowRank {
        LowRank {
            a,
            b,
            scale,
            dropout: 0.0,
            training: Param::from_bool(true),
        }
    }

    /// Applies the pair: `scale·(dropout(x)·A)·B`.
    ///
    /// # Shapes
    ///
    /// - input: `[..., d_input]`
    /// - output: `[..., d_output]`
    pub fn forward<const D: usize>(&self, input: Tensor<D>) -> Tensor<D> {
        let input =
            if self.dropout > 0.0 && self.training.is_enabled() && input.device().is_autodiff() {
                let keep = 1.0 - self.dropout;
                let mask = input.random_like(burn::tensor::Distribution::Bernoulli(keep));
                (input * mask).mul_scalar(1.0 / keep)
            } else {
                input
            };
        // The scale multiplies the rank-sized `x·A` (`[rows, r]`), not the `[rows, d_output]`
        // result: the same product, one small pass instead of a full-width one in the forward
        // and again in the backward.
        let down = linear(input, self.a.val(), None).mul_scalar(self.scale);
        linear(down, self.b.val(), None)
    }
}

impl Projection {
    /// Applies the layer (and the low-rank pair, if attached).
    ///
    /// # Shapes
    ///
    /// - input: `[..., d_input]`
    /// - output: `[..., d_output]`
    pub fn forward<const D: usize>(&self, input: Tensor<D>) -> Tensor<D> {
        if D <= 2 {
            return self.forward_2d(input);
        }
        // One `[rows, d_input] @ [d_input, d_output]` product: burn would otherwise run a
        // batched matmul that packs the shared weight once per leading index.
        let mut dims = input.dims();
        let rows = dims[..D - 1].iter().product();
        let output = self.forward_2d(input.reshape([rows, dims[D - 1]]));
        dims[D - 1] = output.dims()[1];
        output.reshape(dims)
    }

    fn forward_2d<const D: usize>(&self, input: Tensor<D>) -> Tensor<D> {
        let bias = self.bias.as_ref().map(|b| b.val());
        // The blocks are the weight while `weight` is untouched; once something has made it
        // `f32` (merged an adapter into it, loaded other values), that tensor is the weight.
        if let Some(quantized) = self
            .quantized
            .as_ref()
            .filter(|_| !self.weight.is_initialized())
        {
            let mut base = quantized.forward(input.clone());
            if let Some(bias) = bias {
                base = base + bias.unsqueeze();
            }
            return match &self.low_rank {
                None => base,
                Some(pair) => base + pair.forward(input),
            };
        }
        if self.low_rank.is_none() && fused::applies(&input) {
            return fused::linear(input, &self.weight.val(), bias.as_ref());
        }
        match &self.low_rank {
            None => linear(input, self.weight.val(), bias),
            Some(pair) => {
                let base = linear(input.clone(), self.weight.val(), bias);
                base + pair.forward(input)
            }
        }
    }

    /// A layer without bias whose weight is `weight`, kept in its blocks (`[d_out, d_in]`,
    /// HF's layout): `weight` is the lazy parameter of [`Projection::quantized`]'s doc.
    pub fn from_quantized(weight: QuantizedWeight, device: &Device) -> Projection {
        let [d_out, d_in] = weight.shape();
        let mut projection = ProjectionConfig::new(d_in, d_out).init(device);
        projection.weight = weight.lazy_param(projection.weight.id, device);
        projection.quantized = Some(weight);
        projection
    }

    /// Width of the input features.
    pub fn d_input(&self) -> usize {
        self.weight.lazy_shape().dims::<2>()[0]
    }

    /// Width of the output features.
    pub fn d_output(&self) -> usize {
        self.weight.lazy_shape().dims::<2>()[1]
    }

    /// Attaches (`Some`) or removes (`None`) a low-rank pair, returning the previous one.
    ///
    /// The caller is responsible for the pair's shapes (`[d_input, r]`, `[r, d_output]`) and
    /// device; a mismatch panics at the next forward, as a wrong-shaped burn `Linear` does.
    pub fn set_low_rank(&mut self, low_rank: Option<LowRank>) -> Option<LowRank> {
        std::mem::replace(&mut self.low_rank, low_rank)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{TensorData, Tolerance};

    #[test]
    fn forward_adds_bias_and_low_rank_pair() {
        let device = Device::flex();
        let mut p = ProjectionConfig::new(2, 3).with_bias(true).init(&device);
        p.weight = Param::from_data([[1.0f32, 0.0, 2.0], [0.0, 1.0, -1.0]], &device);
        p.bias = Some(Param::from_data([0.5f32, 0.0, 0.0], &device));
        let x = Tensor::<2>::from_data([[1.0f32, 2.0]], &device);
        p.forward(x.clone()).into_data().assert_approx_eq::<f32>(
            &TensorData::from([[1.5f32, 2.0, 0.0]]),
            Tolerance::default(),
        );

        let pair = LowRank::new(
            Param::from_data([[1.0f32], [1.0]], &device),
            Param::from_data([[1.0f32, 0.0, -1.0]], &device),
            0.5,
        );
        assert!(p.set_low_rank(Some(pair)).is_none());
        // x·A = 3, ·B = [3, 0, -3], ·0.5 = [1.5, 0, -1.5]
        p.forward(x).into_data().assert_approx_eq::<f32>(
            &TensorData::from([[3.0f32, 2.0, -1.5]]),
            Tolerance::default(),
        );
        assert_eq!((p.d_input(), p.d_output()), (2, 3));
    }
}
