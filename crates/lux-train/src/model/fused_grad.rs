//! Fused CPU kernels with hand-written backward passes, for training on
//! `Device::flex().autodiff()`.
//!
//! Written with tensor ops, an RMSNorm records eight element-wise ops and SwiGLU's `silu(gate)·up` records four element-wise ops whose
//! forward and backward passes each run on one thread of burn-flex, with a libm `exp` per
//! element (twice: the backward recomputes the sigmoid). Here the forward pass is one parallel
//! pass and the backward pass one more, writing both input gradients at once.
//!
//! The ops are registered in an `Autodiff<Flex>` graph without gradient checkpointing (the kind
//! `Device::flex().autodiff()` builds); [`silu_mul`] hands any other tensor back, and
//! the caller keeps the tensor-op path.

use burn::tensor::{DType, Device, Tensor, TensorData};
use burn_autodiff::Autodiff;
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::checkpoint::strategy::NoCheckpointing;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops, OpsKind};
use burn_flex::{Flex, FlexTensor};
use rayon::prelude::*;

use super::fused::{contiguous, exp, values};

/// Elements handed to one rayon task.
const ELEMENTS_PER_TASK: usize = 1 << 14;

/// `silu(gate) · up` on an autodiff `flex` device, or the inputs handed back where the fused
/// op does not apply.
pub(crate) fn silu_mul<const D: usize>(
    gate: Tensor<D>,
    up: Tensor<D>,
) -> Result<Tensor<D>, (Tensor<D>, Tensor<D>)> {
    let device = gate.device();
    // Device equality ignores the autodiff wrapper, hence the explicit check.
    let eligible = device.is_autodiff()
        && device == Device::flex()
        && gate.dtype() == DType::F32
        && up.dtype() == DType::F32
        && gate.dims() == up.dims();
    if !eligible {
        return Err((gate, up));
    }
    let (g, u) = match (
        gate.clone().try_into_primitive::<Autodiff<Flex>>(),
        up.clone().try_into_primitive::<Autodiff<Flex>>(),
    ) {
        (Ok(g), Ok(u)) => (g, u),
        _ => return Err((gate, up)),
    };
    let shape = gate.shape();
    let gate_values = contiguous(g.primitive().clone());
    let up_values = contiguous(u.primitive().clone());
    let mut out = vec![0f32; shape.num_elements()];
    out.par_chunks_mut(ELEMENTS_PER_TASK)
        .zip(values(&gate_values).par_chunks(ELEMENTS_PER_TASK))
        .zip(values(&up_values).par_chunks(ELEMENTS_PER_TASK))
        .for_each(|((out, gate), up)| {
            for ((y, &g), &u) in out.iter_mut().zip(gate).zip(up) {
                *y = g / (1.0 + exp(-g)) * u;
            }
        });
    let out = FlexTensor::from_data(TensorData::new(out, shape));
    let output = match SiluMulBackward
        .prepare::<NoCheckpointing>([g.node(), u.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish((gate_values, up_values), out),
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    Ok(Tensor::from_primitive::<Autodiff<Flex>>(output))
}

/// The backward of [`silu_mul`], with `s = σ(g)`:
/// `∂/∂g = grad · u · s · (1 + g · (1 − s))`, `∂/∂u = grad · g · s`.
#[derive(Debug)]
struct SiluMulBackward;

impl Backward<Flex, 2> for SiluMulBackward {
    /// The gate and up inputs (shared buffers, not copies).
    type State = (FlexTensor, FlexTensor);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let grad = contiguous(grads.consume::<Flex>(&ops.node));
        let [gate_node, up_node] = ops.parents;
        let (gate, up) = ops.state;
        let shape = gate.layout().shape().clone();
        let n = shape.num_elements();
        // Both gradients in one pass (in the MLP both inputs always need one).
        let mut d_gate = vec![0f32; n];
        let mut d_up = vec![0f32; n];
        let (grad, gate, up) = (values(&grad), values(&gate), values(&up));
        let chunk = ELEMENTS_PER_TASK;
        d_gate
            .par_chunks_mut(chunk)
            .zip(d_up.par_chunks_mut(chunk))
            .zip(grad.par_chunks(chunk))
            .zip(gate.par_chunks(chunk).zip(up.par_chunks(chunk)))
            .for_each(|(((d_gate, d_up), grad), (gate, up))| {
                for k in 0..grad.len() {
                    let (dy, g, u) = (grad[k], gate[k], up[k]);
                    let s = 1.0 / (1.0 + exp(-g));
                    d_gate[k] = dy * u * s * (1.0 + g * (1.0 - s));
                    d_up[k] = dy * g * s;
                }
            });
        if let Some(node) = gate_node {
            let d_gate = FlexTensor::from_data(TensorData::new(d_gate, shape.clone()));
            grads.register::<Flex>(node.id, d_gate);
        }
        if let Some(node) = up_node {
            let d_up = FlexTensor::from_data(TensorData::new(d_up, shape));
            grads.register::<Flex>(node.id, d_up);
        }
    }
}

/// Rows handed to one rayon task by the row-wise kernels.
const ROWS_PER_TASK: usize = 16;

/// `x / sqrt(mean(x²) + ε) · weight` over the last axis on an autodiff `flex` device, or the
/// inputs handed back where the fused op does not apply.
pub(crate) fn rms_norm<const D: usize>(
    input: Tensor<D>,
    weight: Tensor<1>,
    eps: f64,
) -> Result<Tensor<D>, (Tensor<D>, Tensor<1>)> {
    let device = input.device();
    let eligible = device.is_autodiff()
        && device == Device::flex()
        && input.dtype() == DType::F32
        && weight.dtype() == DType::F32
        && input.dims()[D - 1] == weight.dims()[0];
    if !eligible {
        return Err((input, weight));
    }
    let (x, w) = match (
        input.clone().try_into_primitive::<Autodiff<Flex>>(),
        weight.clone().try_into_primitive::<Autodiff<Flex>>(),
    ) {
        (Ok(x), Ok(w)) => (x, w),
        _ => return Err((input, weight)),
    };
    let shape = input.shape();
    let width = weight.dims()[0];
    let x_values = contiguous(x.primitive().clone());
    let w_values = contiguous(w.primitive().clone());
    let (xs, ws) = (values(&x_values), values(&w_values));
    let rows = xs.len() / width;
    let mut inv_rms = vec![0f32; rows];
    let mut out = vec![0f32; xs.len()];
    out.par_chunks_mut(width * ROWS_PER_TASK)
        .zip(inv_rms.par_chunks_mut(ROWS_PER_TASK))
        .zip(xs.par_chunks(width * ROWS_PER_TASK))
        .for_each(|((out, inv), xs)| {
            for ((out, inv), row) in out
                .chunks_exact_mut(width)
                .zip(inv.iter_mut())
                .zip(xs.chunks_exact(width))
            {
                let mean_square = row.iter().map(|x| x * x).sum::<f32>() / width as f32;
                *inv = 1.0 / (mean_square + eps as f32).sqrt();
                for ((y, x), w) in out.iter_mut().zip(row).zip(ws) {
                    *y = x * *inv * w;
                }
            }
        });
    let out = FlexTensor::from_data(TensorData::new(out, shape));
    let output = match RmsNormBackward
        .prepare::<NoCheckpointing>([x.node(), w.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let state = RmsNormState {
                input: x_values,
                weight: w_values,
                inv_rms: inv_rms.into(),
            };
            prep.finish(state, out)
        }
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    Ok(Tensor::from_primitive::<Autodiff<Flex>>(output))
}

/// What [`RmsNormBackward`] needs: the input and weight (shared buffers) and each row's
/// `1 / rms`.
#[derive(Debug, Clone)]
struct RmsNormState {
    input: FlexTensor,
    weight: FlexTensor,
    inv_rms: std::sync::Arc<[f32]>,
}

/// The backward of [`rms_norm`]. Per row, with `r = 1/rms`, `a = dy · w` and width `d`:
/// `∂/∂x = r·a − (r³/d)·x·⟨a, x⟩`; `∂/∂w = Σ_rows dy · x · r`.
#[derive(Debug)]
struct RmsNormBackward;

impl Backward<Flex, 2> for RmsNormBackward {
    type State = RmsNormState;

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let grad = contiguous(grads.consume::<Flex>(&ops.node));
        let [input_node, weight_node] = ops.parents;
        let state = ops.state;
        let (dy, xs, ws) = (values(&grad), values(&state.input), values(&state.weight));
        let width = ws.len();
        let inv_rms = &state.inv_rms;
        if let Some(node) = input_node {
            let mut dx = vec![0f32; xs.len()];
            dx.par_chunks_mut(width * ROWS_PER_TASK)
                .zip(dy.par_chunks(width * ROWS_PER_TASK))
                .zip(xs.par_chunks(width * ROWS_PER_TASK))
                .zip(inv_rms.par_chunks(ROWS_PER_TASK))
                .for_each(|(((dx, dy), xs), inv)| {
                    for (((dx, dy), x), &r) in dx
                        .chunks_exact_mut(width)
                        .zip(dy.chunks_exact(width))
                        .zip(xs.chunks_exact(width))
                        .zip(inv)
                    {
                        let dot: f32 = dy.iter().zip(ws).zip(x).map(|((g, w), x)| g * w * x).sum();
                        let coef = r * r * r / width as f32 * dot;
                        for (((d, g), w), x) in dx.iter_mut().zip(dy).zip(ws).zip(x) {
                            *d = r * g * w - coef * x;
                        }
                    }
                });
            let shape = state.input.layout().shape().clone();
            grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(dx, shape)));
        }
        if let Some(node) = weight_node {
            let dw = dy
                .par_chunks(width * ROWS_PER_TASK)
                .zip(xs.par_chunks(width * ROWS_PER_TASK))
                .zip(inv_rms.par_chunks(ROWS_PER_TASK))
                .fold(
                    || vec![0f32; width],
                    |mut acc, ((dy, xs), inv)| {
                        for ((dy, x), &r) in
                            dy.chunks_exact(width).zip(xs.chunks_exact(width)).zip(inv)
                        {
                            for ((a, g), x) in acc.iter_mut().zip(dy).zip(x) {
                                *a += g * x * r;
                            }
                        }
                        acc
                    },
                )
                .reduce(
                    || vec![0f32; width],
                    |mut a, b| {
                        a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
                        a
                    },
                );
            grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(dw, [width])));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::activation::silu;
    use burn::tensor::{Distribution, Tolerance};

    /// Value and both gradients against the tensor-op formulation.
    #[test]
    fn silu_mul_matches_tensor_ops_with_gradients() {
        let device = Device::flex().autodiff();
        device.seed(12);
        let gate = Tensor::<3>::random([2, 3, 7000], Distribution::Normal(0.0, 3.0), &device);
        let up = Tensor::<3>::random([2, 3, 7000], Distribution::Normal(0.0, 1.0), &device);
        let weights = Tensor::<3>::random([2, 3, 7000], Distribution::Normal(0.0, 1.0), &device);
        let mut results = Vec::new();
        for fused in [true, false] {
            let (g, u) = (
                gate.clone().detach().require_grad(),
                up.clone().detach().require_grad(),
            );
            let y = if fused {
                silu_mul(g.clone(), u.clone()).expect("applies on flex autodiff")
            } else {
                silu(g.clone()) * u.clone()
            };
            let grads = (y.clone() * weights.clone()).sum().backward();
            results.push([
                y.into_data(),
                g.grad(&grads).expect("gate gradient").into_data(),
                u.grad(&grads).expect("up gradient").into_data(),
            ]);
        }
        for (fused, reference) in results[0].iter().zip(&results[1]) {
            fused.assert_approx_eq::<f32>(reference, Tolerance::absolute(1e-5));
        }
    }

    /// Value and both gradients against the tensor-op formulation of `RmsNorm`.
    #[test]
    fn rms_norm_matches_tensor_ops_with_gradients() {
        let device = Device::flex().autodiff();
        device.seed(13);
        let x = Tensor::<3>::random([3, 11, 40], Distribution::Normal(0.5, 2.0), &device);
        let w = Tensor::<1>::random([40], Distribution::Normal(1.0, 0.3), &device);
        let weights = Tensor::<3>::random([3, 11, 40], Distribution::Normal(0.0, 1.0), &device);
        let eps = 1e-5;
        let mut results = Vec::new();
        for fused in [true, false] {
            let (xg, wg) = (
                x.clone().detach().require_grad(),
                w.clone().detach().require_grad(),
            );
            let y = if fused {
                rms_norm(xg.clone(), wg.clone(), eps).expect("applies on flex autodiff")
            } else {
                let inv = xg
                    .clone()
                    .square()
                    .mean_dim(2)
                    .add_scalar(eps)
                    .sqrt()
                    .recip();
                xg.clone() * inv * wg.clone().unsqueeze()
            };
            let grads = (y.clone() * weights.clone()).sum().backward();
            results.push([
                y.into_data(),
                xg.grad(&grads).expect("input gradient").into_data(),
                wg.grad(&grads).expect("weight gradient").into_data(),
            ]);
        }
        for (fused, reference) in results[0].iter().zip(&results[1]) {
            fused.assert_approx_eq::<f32>(reference, Tolerance::absolute(1e-4));
        }
    }

    /// Only the input that requires a gradient gets one.
    #[test]
    fn silu_mul_with_a_constant_input() {
        let device = Device::flex().autodiff();
        let g = Tensor::<2>::from_data([[0.5f32, -1.0, 2.0]], &device).require_grad();
        let u = Tensor::<2>::from_data([[1.0f32, 2.0, 3.0]], &device);
        let y = silu_mul(g.clone(), u.clone()).expect("applies");
        let grads = y.sum().backward();
        assert!(g.grad(&grads).is_some());
        assert!(u.grad(&grads).is_none());
        assert!(
            silu_mul(
                Tensor::<1>::zeros([2], &Device::flex()),
                Tensor::<1>::zeros([2], &Device::flex())
            )
            .is_err()
        );
    }
}
