//! [`Attention`]: grouped-query self-attention with rotary positions, a causal mask and an
//! optional key-padding mask.
//!
//! Key/value heads are never repeated in memory. Inference on the plain `flex` device without a
//! KV cache (hidden states, scoring, prefill-free forwards) goes through
//! [`fused::causal_attention`](super::fused), which applies the rotary embedding and attends per
//! (sequence, key/value head) in one parallel pass. Otherwise two kernels compute
//! `softmax(Q·Kᵀ/√d + mask)·V`:
//!
//! - **fused** (plain `flex` device, inference): burn's `attention` op, which on `flex` handles
//!   grouped-query heads, the causal mask and a `[batch, 1, q, k]` boolean mask natively;
//! - **decomposed** (autodiff devices, whose `attention` falls back to a version without
//!   grouped-query support, and other backends): the query heads that share a key/value head
//!   are folded into the sequence axis (`[b, kv_heads, group·q, d]`, a free reshape), so two
//!   batched matmuls cover the group; the mask is one additive bias built per forward pass.
//!
//! The kernel follows the device of the query tensor at each call, not only the device the
//! mask was built on: token ids created on a plain `flex` device and fed to a model on an
//! autodiff device (or moved there with `to_device`) must not reach burn's fused op with
//! autodiff tensors, whose fallback has no grouped-query support and fails on the batch dims.
//!
//! Query positions whose keys are all masked (left padding) give unspecified, finite values.
//!
//! A packed batch ([`AttentionMask::packed`]: several examples per row, positions restarting
//! at 0 with each) is attended block-diagonally: a query sees the keys of its own example up
//! to itself and nothing else. The fused CPU kernels run per example (a [`Span`]), so they
//! never compute the scores between two examples; the decomposed kernel masks them.

use std::sync::Arc;

use burn::config::Config;
use burn::module::Module;
use burn::tensor::activation::softmax;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Device, Tensor, TensorData};
use lux_core::Result;

use super::cache::LayerKv;
use super::fused::{self, Heads};
use super::fused_grad;
use super::position_ids::{PositionIds, Span};
use super::projection::{Projection, ProjectionConfig};
use super::rope::RopeTables;
use super::weights::{WeightSource, load_projection};

/// Configuration of an [`Attention`] block, built with [`init`](AttentionConfig::init).
#[derive(Config, Debug)]
pub struct AttentionConfig {
    /// Width of the residual stream.
    pub d_model: usize,
    /// Number of query heads.
    pub n_heads: usize,
    /// Number of key/value heads; divides `n_heads` (checked by
    /// [`LlamaConfig::validate`](super::LlamaConfig::validate)).
    pub n_kv_heads: usize,
    /// Width of each head (even).
    pub head_dim: usize,
    /// Whether `q_proj`, `k_proj` and `v_proj` have a bias.
    #[config(default = false)]
    pub qkv_bias: bool,
    /// Whether `o_proj` has a bias.
    #[config(default = false)]
    pub o_bias: bool,
}

impl AttentionConfig {
    /// Builds the block on `device`.
    pub fn init(&self, device: &Device) -> Attention {
        let q = self.n_heads * self.head_dim;
        let kv = self.n_kv_heads * self.head_dim;
        Attention {
            q_proj: ProjectionConfig::new(self.d_model, q)
                .with_bias(self.qkv_bias)
                .init(device),
            k_proj: ProjectionConfig::new(self.d_model, kv)
                .with_bias(self.qkv_bias)
                .init(device),
            v_proj: ProjectionConfig::new(self.d_model, kv)
                .with_bias(self.qkv_bias)
                .init(device),
            o_proj: ProjectionConfig::new(q, self.d_model)
                .with_bias(self.o_bias)
                .init(device),
            n_heads: self.n_heads,
            n_kv_heads: self.n_kv_heads,
            head_dim: self.head_dim,
        }
    }
}

/// Grouped-query self-attention (HF `LlamaAttention`): projections named as in HF checkpoints.
#[derive(Module, Debug)]
pub struct Attention {
    /// Query projection, `d_model → n_heads·head_dim`.
    pub q_proj: Projection,
    /// Key projection, `d_model → n_kv_heads·head_dim`.
    pub k_proj: Projection,
    /// Value projection, `d_model → n_kv_heads·head_dim`.
    pub v_proj: Projection,
    /// Output projection, `n_heads·head_dim → d_model`.
    pub o_proj: Projection,
    /// Number of query heads.
    pub n_heads: usize,
    /// Number of key/value heads.
    pub n_kv_heads: usize,
    /// Width of each head.
    pub head_dim: usize,
}

impl Attention {
    /// Attends each position to itself and the positions before it (and, with a cache, to
    /// the cached keys and values, which are extended with this call's).
    ///
    /// # Shapes
    ///
    /// - input: `[batch, seq, d_model]`
    /// - output: `[batch, seq, d_model]`
    ///
    /// `rope` must cover the `seq` positions of this call, `mask` must have been built for
    /// `seq` queries and `cached + seq` keys.
    pub fn forward(
        &self,
        input: Tensor<3>,
        rope: &RopeTables,
        mask: &AttentionMask,
        cache: Option<&mut LayerKv>,
    ) -> Tensor<3> {
        let [b, s, _] = input.dims();
        let (h, kvh, d) = (self.n_heads, self.n_kv_heads, self.head_dim);
        let q = self.q_proj.forward(input.clone());
        let k = self.k_proj.forward(input.clone());
        let v = self.v_proj.forward(input);
        // Without a cache, the fused CPU kernels: inference on plain `flex`, training on
        // autodiff `flex`; either hands the projections back when it does not apply.
        let [q, k, v] = if cache.is_none() && mask.seq_q == s && mask.seq_kv == s {
            let heads = Heads {
                query: h,
                key_value: kvh,
                dim: d,
            };
            let padding = mask.host_padding.clone();
            let spans = mask.spans(b, s);
            if mask.kernel == AttentionKernel::Fused && fused::applies(&q) {
                let context = fused::causal_attention(
                    [q, k, v],
                    heads,
                    &rope.host(),
                    padding.as_deref(),
                    &spans,
                );
                return self.o_proj.forward(context);
            }
            match fused_grad::causal_attention([q, k, v], heads, &rope.host(), padding, spans) {
                Ok(context) => return self.o_proj.forward(context),
                Err(projections) => projections,
            }
        } else {
            [q, k, v]
        };
        let q = rope.apply(q.reshape([b, s, h, d]).swap_dims(1, 2));
        let k = rope.apply(k.reshape([b, s, kvh, d]).swap_dims(1, 2));
        let v = v.reshape([b, s, kvh, d]).swap_dims(1, 2);
        let (k, v) = match cache {
            Some(cache) => cache.append(k, v),
            None => (k, v),
        };
        let context = mask.attend(q, k, v);
        self.o_proj
            .forward(context.swap_dims(1, 2).reshape([b, s, h * d]))
    }

    /// Loads `{prefix}.{q,k,v,o}_proj.{weight,bias}` from HF-layout tensors.
    pub(crate) fn load_weights(
        &mut self,
        prefix: &str,
        source: &mut dyn WeightSource,
    ) -> Result<()> {
        load_projection(&mut self.q_proj, &format!("{prefix}.q_proj"), source)?;
        load_projection(&mut self.k_proj, &format!("{prefix}.k_proj"), source)?;
        load_projection(&mut self.v_proj, &format!("{prefix}.v_proj"), source)?;
        load_projection(&mut self.o_proj, &format!("{prefix}.o_proj"), source)
    }
}

/// Which implementation computes `softmax(Q·Kᵀ/√d + mask)·V`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AttentionKernel {
    /// burn's `attention` op on a plain `flex` device.
    Fused,
    /// Matmuls + softmax with grouped heads folded into the query axis; differentiable.
    Decomposed,
}

impl AttentionKernel {
    /// The kernel to use for tensors on `device`.
    pub(crate) fn for_device(device: &Device) -> Self {
        if !device.is_autodiff() && *device == Device::flex() {
            Self::Fused
        } else {
            Self::Decomposed
        }
    }
}

/// The causal mask and key-padding mask of one forward pass, built once and shared by every
/// layer.
#[derive(Debug, Clone)]
pub struct AttentionMask {
    kernel: AttentionKernel,
    /// Fused kernel: `[batch, 1, q, k]`, `true` = masked (causal and padding); `None` = causal
    /// only, left to the kernel.
    masked: Option<Tensor<4, Bool>>,
    /// Decomposed kernel: additive bias `[batch or 1, 1, 1, q, k]` (0 or `f32::MIN`).
    bias: Option<Tensor<5>>,
    /// The key-padding flags on the host, `[batch · k]`, for the fused CPU kernels (which build
    /// the causal part themselves).
    host_padding: Option<Arc<[bool]>>,
    /// A packed batch's examples, which the fused CPU kernels attend one by one; `None`: each
    /// row is one sequence.
    spans: Option<Arc<[Span]>>,
    seq_q: usize,
    seq_kv: usize,
}

impl AttentionMask {
    /// Builds the mask for `seq_q` new queries at the end of `seq_kv` keys, with an optional
    /// key-padding mask (`[batch, seq_kv]`, `true` = padding, never attended to).
    pub fn new(
        padding: Option<Tensor<2, Bool>>,
        seq_q: usize,
        seq_kv: usize,
        device: &Device,
    ) -> Self {
        Self::with_kernel(
            AttentionKernel::for_device(device),
            padding,
            seq_q,
            seq_kv,
            device,
        )
    }

    pub(crate) fn with_kernel(
        kernel: AttentionKernel,
        padding: Option<Tensor<2, Bool>>,
        seq_q: usize,
        seq_kv: usize,
        device: &Device,
    ) -> Self {
        let future = || {
            // `true` above the diagonal that ends at the last key: key j > query i + offset.
            Tensor::<2, Bool>::tril_mask([seq_q, seq_kv], (seq_kv - seq_q) as i64, device)
                .reshape([1, 1, seq_q, seq_kv])
        };
        // Only the CPU kernels read it: a GPU device is spared the device-to-host copy.
        // (Device equality ignores the autodiff wrapper: both `flex` devices match.)
        let host_padding = padding
            .as_ref()
            .filter(|_| *device == Device::flex())
            .and_then(|pad| pad.clone().into_data().try_to_vec::<bool>().ok())
            .map(Arc::from);
        let masked = padding.map(|pad| {
            let [b, _] = pad.dims();
            let pad = pad.reshape([b, 1, 1, seq_kv]).expand([b, 1, seq_q, seq_kv]);
            pad.bool_or(future().expand([b, 1, seq_q, seq_kv]))
        });
        match kernel {
            AttentionKernel::Fused => Self {
                kernel,
                masked,
                bias: None,
                host_padding,
                spans: None,
                seq_q,
                seq_kv,
            },
            AttentionKernel::Decomposed => Self {
                kernel,
                bias: Some(additive_bias(
                    masked.unwrap_or_else(future),
                    seq_q,
                    seq_kv,
                    device,
                )),
                masked: None,
                host_padding,
                spans: None,
                seq_q,
                seq_kv,
            },
        }
    }

    /// The mask of a packed batch (no cache): block-diagonal causal, a query attending to the
    /// keys of its own example ([`PositionIds::spans`]) up to itself, never to padding
    /// (`[batch, seq]`, `true` = padding).
    pub fn packed(
        positions: &PositionIds,
        padding: Option<Tensor<2, Bool>>,
        device: &Device,
    ) -> Self {
        Self::packed_with_kernel(
            AttentionKernel::for_device(device),
            positions,
            padding,
            device,
        )
    }

    pub(crate) fn packed_with_kernel(
        kernel: AttentionKernel,
        positions: &PositionIds,
        padding: Option<Tensor<2, Bool>>,
        device: &Device,
    ) -> Self {
        let [batch, seq] = positions.dims();
        let host_padding: Option<Arc<[bool]>> = padding
            .and_then(|pad| pad.into_data().try_to_vec::<bool>().ok())
            .map(Arc::from);
        let masked = Tensor::<4, Bool>::from_data(
            TensorData::new(
                block_diagonal_masked(positions, host_padding.as_deref()),
                [batch, 1, seq, seq],
            ),
            device,
        );
        let (masked, bias) = match kernel {
            AttentionKernel::Fused => (Some(masked), None),
            AttentionKernel::Decomposed => (None, Some(additive_bias(masked, seq, seq, device))),
        };
        Self {
            kernel,
            masked,
            bias,
            // Only the CPU kernels read it (device equality ignores the autodiff wrapper).
            host_padding: host_padding.filter(|_| *device == Device::flex()),
            spans: Some(Arc::clone(positions.spans())),
            seq_q: seq,
            seq_kv: seq,
        }
    }

    /// The sequences the fused kernels attend one by one: a packed batch's examples, or each
    /// row of a `[batch, seq]` batch.
    fn spans(&self, batch: usize, seq: usize) -> Arc<[Span]> {
        match &self.spans {
            Some(spans) => Arc::clone(spans),
            None => Span::rows(batch, seq).into(),
        }
    }

    /// The decomposed kernel's bias for a mask built for the fused kernel (a query on another
    /// device than the one the mask was built for); built per call, so only a fallback.
    fn bias_on(&self, device: &Device) -> Tensor<5> {
        let (seq_q, seq_kv) = (self.seq_q, self.seq_kv);
        let masked = match &self.masked {
            Some(masked) => masked.clone().to_device(device),
            None => Tensor::<2, Bool>::tril_mask([seq_q, seq_kv], (seq_kv - seq_q) as i64, device)
                .reshape([1, 1, seq_q, seq_kv]),
        };
        additive_bias(masked, seq_q, seq_kv, device)
    }

    /// `softmax(Q·Kᵀ/√d + mask)·V`, with `n_heads / n_kv_heads` query heads per key/value head.
    ///
    /// # Shapes
    ///
    /// - query: `[batch, n_heads, seq_q, head_dim]`
    /// - key, value: `[batch, n_kv_heads, seq_kv, head_dim]`
    /// - output: `[batch, n_heads, seq_q, head_dim]`
    pub fn attend(&self, query: Tensor<4>, key: Tensor<4>, value: Tensor<4>) -> Tensor<4> {
        let device = query.device();
        let kernel = match self.kernel {
            AttentionKernel::Fused => AttentionKernel::for_device(&device),
            // Matmuls and softmax run on every device.
            AttentionKernel::Decomposed => AttentionKernel::Decomposed,
        };
        match kernel {
            AttentionKernel::Fused => {
                let options = AttentionModuleOptions {
                    scale: None,
                    softcap: None,
                    is_causal: self.masked.is_none(),
                };
                attention(query, key, value, self.masked.clone(), None, options)
            }
            AttentionKernel::Decomposed => {
                let [b, h, s, d] = query.dims();
                let [_, kvh, t, _] = key.dims();
                let group = h / kvh;
                let scale = 1.0 / (d as f64).sqrt();
                // Scaling the query (`[.., s, d]`) rather than the scores (`[.., s, t]`) is the
                // same product on a tensor no larger, and for long keys much smaller.
                let query = query.mul_scalar(scale).reshape([b, kvh, group * s, d]);
                let scores = query.matmul(key.swap_dims(2, 3));
                let scores = scores.reshape([b, kvh, group, s, t]);
                let bias = match &self.bias {
                    Some(bias) => bias.clone(),
                    None => self.bias_on(&device),
                };
                let scores = scores + bias;
                let probs = softmax(scores, 4).reshape([b, kvh, group * s, t]);
                probs.matmul(value).reshape([b, h, s, d])
            }
        }
    }
}

/// `[batch, seq, seq]`, `true` = masked: key `j` is visible to query `i` of the same row when
/// both lie in one span, `j ≤ i`, and `j` is not padding.
fn block_diagonal_masked(positions: &PositionIds, padding: Option<&[bool]>) -> Vec<bool> {
    let [_, seq] = positions.dims();
    let mut masked = vec![true; positions.ids().len() * seq];
    for span in positions.spans().iter() {
        let (row, first) = (span.start / seq, span.start % seq);
        for i in first..first + span.len {
            let query = (row * seq + i) * seq;
            for j in first..=i {
                masked[query + j] = padding.is_some_and(|p| p[row * seq + j]);
            }
        }
    }
    masked
}

/// `masked` (`[batch or 1, 1, q, k]`, `true` = masked) as an additive bias
/// `[batch or 1, 1, 1, q, k]`: 0 where attended, `f32::MIN` where masked.
fn additive_bias(
    masked: Tensor<4, Bool>,
    seq_q: usize,
    seq_kv: usize,
    device: &Device,
) -> Tensor<5> {
    let [b, _, _, _] = masked.dims();
    Tensor::<4>::zeros([b, 1, seq_q, seq_kv], device)
        .mask_fill(masked, f32::MIN)
        .reshape([b, 1, 1, seq_q, seq_kv])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, Tolerance};

    fn random(shape: [usize; 4], device: &Device) -> Tensor<4> {
        Tensor::random(shape, Distribution::Normal(0.0, 1.0), device)
    }

    /// Reference: K/V heads repeated, the mask built element by element, plain softmax.
    fn reference(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>, pad: Option<&[bool]>) -> Tensor<4> {
        let [b, h, s, d] = q.dims();
        let [_, kvh, t, _] = k.dims();
        let g = h / kvh;
        let device = q.device();
        let expand = |x: Tensor<4>| {
            x.reshape([b, kvh, 1, t, d])
                .expand([b, kvh, g, t, d])
                .reshape([b, h, t, d])
        };
        let scores = q
            .matmul(expand(k).swap_dims(2, 3))
            .mul_scalar(1.0 / (d as f64).sqrt());
        let mut mask = vec![false; b * s * t];
        for bi in 0..b {
            for i in 0..s {
                for j in 0..t {
                    let future = j > i + (t - s);
                    let padded = pad.is_some_and(|p| p[bi * t + j]);
                    mask[(bi * s + i) * t + j] = future || padded;
                }
            }
        }
        let mask = Tensor::<4, Bool>::from_data(TensorData::new(mask, [b, 1, s, t]), &device)
            .expand([b, h, s, t]);
        let probs = softmax(scores.mask_fill(mask, -1e30), 3);
        probs.matmul(expand(v))
    }

    #[test]
    fn both_kernels_match_reference_with_gqa_padding_and_offset() {
        let device = Device::flex();
        device.seed(7);
        let (b, h, kvh, s, t, d) = (2, 6, 2, 3, 5, 8);
        let q = random([b, h, s, d], &device);
        let k = random([b, kvh, t, d], &device);
        let v = random([b, kvh, t, d], &device);
        // Row 0 pads its first key (left padding), row 1 nothing.
        let pad = [
            true, false, false, false, false, false, false, false, false, false,
        ];
        for padding in [None, Some(&pad[..])] {
            let expected = reference(q.clone(), k.clone(), v.clone(), padding).into_data();
            for kernel in [AttentionKernel::Fused, AttentionKernel::Decomposed] {
                let pad_tensor = padding.map(|p| {
                    Tensor::<2, Bool>::from_data(TensorData::new(p.to_vec(), [b, t]), &device)
                });
                let mask = AttentionMask::with_kernel(kernel, pad_tensor, s, t, &device);
                let got = mask.attend(q.clone(), k.clone(), v.clone()).into_data();
                got.assert_approx_eq::<f32>(&expected, Tolerance::absolute(1e-5));
            }
        }
    }

    /// A mask built on the plain device (where ids often live) used with autodiff tensors and
    /// grouped-query heads: the decomposed kernel runs, with the same values and gradients.
    #[test]
    fn mask_from_plain_device_works_with_autodiff_gqa_tensors() {
        let plain = Device::flex();
        plain.seed(11);
        let (b, h, kvh, s, t, d) = (2, 4, 2, 3, 5, 8);
        let q = random([b, h, s, d], &plain);
        let k = random([b, kvh, t, d], &plain);
        let v = random([b, kvh, t, d], &plain);
        let pad = [
            true, false, false, false, false, false, false, false, false, false,
        ];
        for padding in [None, Some(&pad[..])] {
            let expected = reference(q.clone(), k.clone(), v.clone(), padding).into_data();
            let pad_tensor = padding
                .map(|p| Tensor::<2, Bool>::from_data(TensorData::new(p.to_vec(), [b, t]), &plain));
            let mask = AttentionMask::new(pad_tensor, s, t, &plain);
            assert_eq!(mask.kernel, AttentionKernel::Fused);
            let qa = q.clone().autodiff().require_grad();
            assert!(qa.device().is_autodiff());
            let got = mask.attend(qa.clone(), k.clone().autodiff(), v.clone().autodiff());
            got.clone()
                .into_data()
                .assert_approx_eq::<f32>(&expected, Tolerance::absolute(1e-5));
            let grads = got.sum().backward();
            assert!(qa.grad(&grads).is_some());
        }
    }

    #[test]
    fn autodiff_device_uses_decomposed_kernel_and_gets_gradients() {
        let device = Device::flex().autodiff();
        assert_eq!(
            AttentionKernel::for_device(&device),
            AttentionKernel::Decomposed
        );
        assert_eq!(
            AttentionKernel::for_device(&Device::flex()),
            AttentionKernel::Fused
        );
        let q = random([1, 4, 3, 4], &device).require_grad();
        let k = random([1, 2, 3, 4], &device);
        let v = random([1, 2, 3, 4], &device);
        let mask = AttentionMask::new(None, 3, 3, &device);
        let grads = mask.attend(q.clone(), k, v).sum().backward();
        assert!(q.grad(&grads).is_some());
    }

    /// The packed mask at the boundaries: row 0 holds examples of 2 and 3 tokens, row 1 one of
    /// 3 and a padding token.
    #[test]
    fn packed_mask_is_block_diagonal_causal_without_padding() {
        let positions = PositionIds::from_lengths(&[vec![2, 3], vec![3]], 5).unwrap();
        let pad = [
            false, false, false, false, false, false, false, false, true, true,
        ];
        let masked = block_diagonal_masked(&positions, Some(&pad));
        let visible = |b: usize, i: usize| -> Vec<usize> {
            (0..5).filter(|&j| !masked[(b * 5 + i) * 5 + j]).collect()
        };
        assert_eq!(visible(0, 0), [0]);
        assert_eq!(visible(0, 1), [0, 1]);
        // The second example's first token sees only itself, not the first example.
        assert_eq!(visible(0, 2), [2]);
        assert_eq!(visible(0, 4), [2, 3, 4]);
        assert_eq!(visible(1, 2), [0, 1, 2]);
        // Padding is seen by nothing, and sees nothing.
        assert!(visible(1, 3).is_empty() && visible(1, 4).is_empty());
    }

    /// Both kernels on a packed batch give, for every real query, what each example gives
    /// attended on its own.
    #[test]
    fn packed_attention_equals_each_example_alone() {
        let device = Device::flex();
        device.seed(21);
        let (b, h, kvh, s, d) = (2, 4, 2, 6, 8);
        let q = random([b, h, s, d], &device);
        let k = random([b, kvh, s, d], &device);
        let v = random([b, kvh, s, d], &device);
        let rows = [vec![2, 3, 1], vec![4]];
        let positions = PositionIds::from_lengths(&rows, s).unwrap();
        let mut pad = vec![false; b * s];
        pad[s + 4..].fill(true);
        let padding = Tensor::<2, Bool>::from_data(TensorData::new(pad, [b, s]), &device);
        for kernel in [AttentionKernel::Fused, AttentionKernel::Decomposed] {
            let mask = AttentionMask::packed_with_kernel(
                kernel,
                &positions,
                Some(padding.clone()),
                &device,
            );
            let got = mask.attend(q.clone(), k.clone(), v.clone());
            for (row, lengths) in rows.iter().enumerate() {
                let mut start = 0;
                for &len in lengths {
                    let part = |x: &Tensor<4>| {
                        x.clone()
                            .slice([row..row + 1, 0..x.dims()[1], start..start + len, 0..d])
                    };
                    let alone = AttentionMask::with_kernel(kernel, None, len, len, &device).attend(
                        part(&q),
                        part(&k),
                        part(&v),
                    );
                    part(&got)
                        .into_data()
                        .assert_approx_eq::<f32>(&alone.into_data(), Tolerance::absolute(1e-5));
                    start += len;
                }
            }
        }
    }
}
