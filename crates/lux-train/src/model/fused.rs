//! Fused CPU kernels for inference on the plain `flex` device.
//!
//! burn-flex runs each element-wise op on one thread, as one pass over memory: an
//! [`RmsNorm`](super::RmsNorm) written with tensor ops is eight passes, rotary embeddings six,
//! SwiGLU's `silu(gate)·up` four. At SmolLM2's shape (8 × 128 tokens) those single-threaded
//! passes took about 0.9 s of a 1.9 s forward pass, while every matmul together took 1.0 s on
//! two threads. Each kernel here does its job in one pass, in parallel (rayon), reading the
//! tensors' buffers in place and writing into an input's buffer when nothing else holds it;
//! attention runs per (sequence, key/value head) on contiguous blocks, the rotary embedding
//! applied as the blocks are gathered, so the `[batch, seq, heads, head_dim]` ↔
//! `[batch, heads, seq, head_dim]` copies disappear too.
//!
//! They have no backward pass: [`applies`] limits them to `f32` tensors on the plain `flex`
//! device. Training on the autodiff `flex` device uses the versions with hand-written backward
//! passes in `fused_grad.rs` (built on the blocks and helpers here), and every other device the
//! burn-op path. Tests check the paths agree, on random inputs and on SmolLM2's weights, and
//! the model tests compare logits with PyTorch.

use std::sync::Arc;

use burn::tensor::{DType, Device, Tensor, TensorData};
use burn_flex::{Flex, FlexTensor};
use rayon::prelude::*;

use super::position_ids::Span;

/// Rows handed to one rayon task by the row-wise kernels: enough work (≈ 16 × 576 floats) to
/// amortise scheduling, few enough that 2–16 threads stay busy on a batch of 1.
pub(crate) const ROWS_PER_TASK: usize = 16;

/// Elements handed to one rayon task by the element-wise kernels.
pub(crate) const ELEMENTS_PER_TASK: usize = 1 << 14;

/// Whether the fused kernels can run on `tensor`: `f32` on the plain (non-autodiff) `flex`
/// device.
pub(crate) fn applies<const D: usize>(tensor: &Tensor<D>) -> bool {
    let device = tensor.device();
    !device.is_autodiff() && device == Device::flex() && tensor.dtype() == DType::F32
}

/// The `flex` tensor under `tensor` (no copy).
pub(crate) fn flex<const D: usize>(tensor: Tensor<D>) -> FlexTensor {
    tensor
        .try_into_primitive::<Flex>()
        .expect("fused kernels run on the plain flex device (checked by `applies`)")
}

/// A contiguous view of `tensor`'s values: the buffer itself unless the tensor is a strided
/// view, which is copied once.
pub(crate) fn contiguous(tensor: FlexTensor) -> FlexTensor {
    if tensor.as_slice::<f32>().is_some() {
        tensor
    } else {
        tensor.to_contiguous()
    }
}

/// The values of a contiguous `f32` tensor, in place.
pub(crate) fn values(tensor: &FlexTensor) -> &[f32] {
    tensor
        .as_slice::<f32>()
        .expect("contiguous f32 (made so by `contiguous`, checked by `applies`)")
}

/// `tensor`'s values to overwrite: its own buffer when nothing else holds it (and it is a plain
/// contiguous buffer), otherwise a fresh copy.
fn owned(tensor: FlexTensor) -> FlexTensor {
    let mut tensor = contiguous(tensor);
    let plain = tensor.layout().start_offset() == 0
        && tensor.bytes().len() == tensor.layout().num_elements() * size_of::<f32>();
    if plain && tensor.try_storage_mut::<f32>().is_some() {
        tensor
    } else {
        FlexTensor::from_data(TensorData::new(
            values(&tensor).to_vec(),
            tensor.layout().shape().clone(),
        ))
    }
}

/// The values of a tensor returned by [`owned`], to overwrite.
fn values_mut(tensor: &mut FlexTensor) -> &mut [f32] {
    tensor
        .try_storage_mut::<f32>()
        .expect("a buffer nothing else holds (made so by `owned`)")
}

/// A `flex` tensor back as a burn tensor on the plain device.
pub(crate) fn wrap<const D: usize>(tensor: FlexTensor) -> Tensor<D> {
    Tensor::from_primitive::<Flex>(tensor)
}

/// `x / sqrt(mean(x²) + ε) · weight` over the last axis (HF `LlamaRMSNorm`, in `f32`).
pub(crate) fn rms_norm<const D: usize>(
    input: Tensor<D>,
    weight: &Tensor<1>,
    eps: f64,
) -> Tensor<D> {
    let weight = contiguous(flex(weight.clone()));
    let weight = values(&weight);
    let width = weight.len();
    let input = contiguous(flex(input));
    let mut output = vec![0f32; input.layout().num_elements()];
    output
        .par_chunks_mut(width * ROWS_PER_TASK)
        .zip(values(&input).par_chunks(width * ROWS_PER_TASK))
        .for_each(|(out, rows)| {
            for (out, row) in out.chunks_exact_mut(width).zip(rows.chunks_exact(width)) {
                let inv_rms = 1.0 / (sum_of_squares(row) / width as f32 + eps as f32).sqrt();
                for ((y, x), w) in out.iter_mut().zip(row).zip(weight) {
                    *y = x * inv_rms * w;
                }
            }
        });
    let shape = input.layout().shape().clone();
    wrap(FlexTensor::from_data(TensorData::new(output, shape)))
}

/// `Σ x²` in 16 independent lanes, so the compiler vectorises it.
fn sum_of_squares(row: &[f32]) -> f32 {
    let mut lanes = [0f32; 16];
    let mut chunks = row.chunks_exact(16);
    for chunk in &mut chunks {
        for (lane, x) in lanes.iter_mut().zip(chunk) {
            *lane += x * x;
        }
    }
    let tail: f32 = chunks.remainder().iter().map(|x| x * x).sum();
    lanes.iter().sum::<f32>() + tail
}

/// `silu(gate) · up`, SwiGLU's gating, written into `gate`'s buffer.
pub(crate) fn silu_mul<const D: usize>(gate: Tensor<D>, up: Tensor<D>) -> Tensor<D> {
    let up = contiguous(flex(up));
    let up = values(&up);
    let mut gate = owned(flex(gate));
    values_mut(&mut gate)
        .par_chunks_mut(ELEMENTS_PER_TASK)
        .zip(up.par_chunks(ELEMENTS_PER_TASK))
        .for_each(|(gate, up)| {
            for (g, u) in gate.iter_mut().zip(up) {
                *g = *g / (1.0 + exp(-*g)) * u;
            }
        });
    wrap(gate)
}

/// `a + b` (same shape), written into `a`'s buffer: pass the tensor nothing else holds first.
pub(crate) fn add<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<D> {
    let b = contiguous(flex(b));
    let b = values(&b);
    let mut a = owned(flex(a));
    values_mut(&mut a)
        .par_chunks_mut(ELEMENTS_PER_TASK)
        .zip(b.par_chunks(ELEMENTS_PER_TASK))
        .for_each(|(a, b)| {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        });
    wrap(a)
}

/// The head layout of one attention call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Heads {
    /// Query heads.
    pub(crate) query: usize,
    /// Key/value heads (divides `query`).
    pub(crate) key_value: usize,
    /// Width of each head (even).
    pub(crate) dim: usize,
}

/// Rotary tables on the host: `cos` and `signed_sin`, `[seq, head_dim]` each, as in
/// [`RopeTables`](super::RopeTables) (shared, not copied).
#[derive(Debug, Clone)]
pub(crate) struct HostRope {
    pub(crate) cos: Arc<[f32]>,
    pub(crate) signed_sin: Arc<[f32]>,
}

/// One (sequence, key/value head) block of causal attention: the `group` query heads sharing
/// the key/value head, as rows `[group · len, d]` (row `j · len + i` = head `j`, position `i`),
/// `len` the sequence's length. Kept by the training kernel for its backward pass.
#[derive(Debug)]
pub(crate) struct AttentionBlock {
    /// Rotated queries, already multiplied by `1/√d`: `[group · len, d]`.
    pub(crate) queries: Vec<f32>,
    /// Rotated keys: `[len, d]`.
    pub(crate) keys: Vec<f32>,
    /// Attention probabilities: `[group · len, len]`.
    pub(crate) probs: Vec<f32>,
    /// `probs · V`: `[group · len, d]`.
    pub(crate) out: Vec<f32>,
}

/// Every block of causal grouped-query attention, in parallel; block `n · kvh + g` is span `n`
/// (a row, or one example of a packed row, whose positions start at 0), key/value head `g`.
/// Inputs as in [`causal_attention`].
///
/// Attending per span rather than per row with a block-diagonal mask keeps a packed row's cost
/// that of its examples: the score matrices are `len × len` per example, not `seq × seq`.
pub(crate) fn attention_blocks(
    [query, key, value]: [&[f32]; 3],
    spans: &[Span],
    heads: Heads,
    rope: &HostRope,
    padding: Option<&[bool]>,
) -> Vec<AttentionBlock> {
    let Heads {
        query: h,
        key_value: kvh,
        dim: d,
    } = heads;
    let group = h / kvh;
    let scale = 1.0 / (d as f32).sqrt();
    (0..spans.len() * kvh)
        .into_par_iter()
        .map(|block| {
            let (span, g) = (spans[block / kvh], block % kvh);
            let len = span.len;
            let mut keys = gather_heads(key, span, g, [kvh, 1, d]);
            for (i, row) in keys.chunks_exact_mut(d).enumerate() {
                rotate_in_place(row, rope, i, 1.0);
            }
            let mut queries = gather_heads(query, span, g, [kvh, group, d]);
            for (r, row) in queries.chunks_exact_mut(d).enumerate() {
                rotate_in_place(row, rope, r % len, scale);
            }
            let mut probs = vec![0f32; group * len * len];
            matmul(
                &mut probs,
                [group * len, len, d],
                (&queries, d, 1),
                (&keys, 1, d),
            );
            let pad = padding.map(|p| &p[span.start..span.start + len]);
            for (r, row) in probs.chunks_exact_mut(len).enumerate() {
                softmax_causal(row, r % len, pad);
            }
            // Values are read in place: rows of `[tokens, kvh·d]` starting at head g.
            let values_at = span.start * kvh * d + g * d;
            let mut out = vec![0f32; group * len * d];
            matmul(
                &mut out,
                [group * len, d, len],
                (&probs, len, 1),
                (&value[values_at..], kvh * d, 1),
            );
            AttentionBlock {
                queries,
                keys,
                probs,
                out,
            }
        })
        .collect()
}

/// Rows `[per_block · len, d]` of span `span`, key/value head `g`, gathered from `[tokens, kvh ·
/// per_block · d]`: row `j · len + i` is the span's token `i`, head `g · per_block + j`.
pub(crate) fn gather_heads(
    source: &[f32],
    span: Span,
    g: usize,
    [kvh, per_block, d]: [usize; 3],
) -> Vec<f32> {
    let width = kvh * per_block * d;
    let len = span.len;
    let mut rows = vec![0f32; per_block * len * d];
    for j in 0..per_block {
        for i in 0..len {
            let from = (span.start + i) * width + (g * per_block + j) * d;
            let to = (j * len + i) * d;
            rows[to..to + d].copy_from_slice(&source[from..from + d]);
        }
    }
    rows
}

/// The inverse of [`gather_heads`] for every block at once: `[tokens, kvh · per_block · d]`
/// from blocks `n · kvh + g` of `spans` (which tile the tokens in order), one span per task.
pub(crate) fn scatter_heads(
    blocks: &[&[f32]],
    spans: &[Span],
    [kvh, per_block, d]: [usize; 3],
) -> Vec<f32> {
    let width = kvh * per_block * d;
    let tokens: usize = spans.iter().map(|s| s.len).sum();
    let mut output = vec![0f32; tokens * width];
    // Each span's rows, as disjoint mutable slices.
    let mut rest = &mut output[..];
    let mut parts = Vec::with_capacity(spans.len());
    for span in spans {
        let (part, tail) = rest.split_at_mut(span.len * width);
        parts.push(part);
        rest = tail;
    }
    parts.into_par_iter().enumerate().for_each(|(n, sequence)| {
        let len = spans[n].len;
        for g in 0..kvh {
            let block = blocks[n * kvh + g];
            for j in 0..per_block {
                for i in 0..len {
                    let from = (j * len + i) * d;
                    let to = i * width + (g * per_block + j) * d;
                    sequence[to..to + d].copy_from_slice(&block[from..from + d]);
                }
            }
        }
    });
    output
}

/// Causal grouped-query self-attention with rotary positions, straight from the projections'
/// outputs: `softmax(rope(Q)·rope(K)ᵀ/√d + mask)·V` for every head, per span of `spans` (each
/// row for an unpacked batch, [`Span::rows`]; each example for a packed one), positions
/// counted from each span's start.
///
/// Keys are masked when they lie in a query's future, in another span, or are padding
/// (`padding[b·seq + j]`); a query whose keys are all masked (left padding) gets zeros.
///
/// # Shapes
///
/// - query: `[batch, seq, heads.query · heads.dim]`
/// - key, value: `[batch, seq, heads.key_value · heads.dim]`
/// - padding: `batch · seq` flags, `true` = padding
/// - spans: tile the `batch · seq` tokens in order
/// - output: `[batch, seq, heads.query · heads.dim]`
pub(crate) fn causal_attention(
    [query, key, value]: [Tensor<3>; 3],
    heads: Heads,
    rope: &HostRope,
    padding: Option<&[bool]>,
    spans: &[Span],
) -> Tensor<3> {
    let [batch, seq, _] = query.dims();
    let (query, key, value) = (
        contiguous(flex(query)),
        contiguous(flex(key)),
        contiguous(flex(value)),
    );
    let blocks = attention_blocks(
        [values(&query), values(&key), values(&value)],
        spans,
        heads,
        rope,
        padding,
    );
    let outs: Vec<&[f32]> = blocks.iter().map(|block| &block.out[..]).collect();
    let group = heads.query / heads.key_value;
    let output = scatter_heads(&outs, spans, [heads.key_value, group, heads.dim]);
    wrap(FlexTensor::from_data(TensorData::new(
        output,
        [batch, seq, heads.query * heads.dim],
    )))
}

/// `row ← scale · rope(row)` for the token at position `pos` (HF rotate-half convention:
/// `x·cos + swap_halves(x)·signed_sin`).
pub(crate) fn rotate_in_place(row: &mut [f32], rope: &HostRope, pos: usize, scale: f32) {
    let d = row.len();
    let half = d / 2;
    let cos = &rope.cos[pos * d..(pos + 1) * d];
    let sin = &rope.signed_sin[pos * d..(pos + 1) * d];
    let (low, high) = row.split_at_mut(half);
    for k in 0..half {
        let (x, y) = (low[k], high[k]);
        low[k] = (x * cos[k] + y * sin[k]) * scale;
        high[k] = (y * cos[half + k] + x * sin[half + k]) * scale;
    }
}

/// `row ← scale · ropeᵀ(row)`: the transpose of [`rotate_in_place`]'s map (its inverse, the
/// rotation being orthogonal), which carries a gradient back through it.
pub(crate) fn unrotate_in_place(row: &mut [f32], rope: &HostRope, pos: usize, scale: f32) {
    let d = row.len();
    let half = d / 2;
    let cos = &rope.cos[pos * d..(pos + 1) * d];
    let sin = &rope.signed_sin[pos * d..(pos + 1) * d];
    let (low, high) = row.split_at_mut(half);
    for k in 0..half {
        let (x, y) = (low[k], high[k]);
        low[k] = (x * cos[k] + y * sin[half + k]) * scale;
        high[k] = (y * cos[half + k] + x * sin[k]) * scale;
    }
}

/// Row `i` of the scores → attention probabilities over keys `0..=i` that are not padding;
/// zero elsewhere, and everywhere when every such key is padding; NaN throughout when a visible
/// score is NaN.
pub(crate) fn softmax_causal(row: &mut [f32], i: usize, padding: Option<&[bool]>) {
    let (visible, future) = row.split_at_mut(i + 1);
    future.fill(0.0);
    if let Some(padding) = padding {
        for (x, &pad) in visible.iter_mut().zip(padding) {
            if pad {
                *x = f32::NEG_INFINITY;
            }
        }
    }
    // NaN-propagating maximum (`f32::max` skips NaN): a NaN score must reach the output, so a
    // diverged model shows a NaN loss instead of a quietly zeroed attention row.
    let max = visible.iter().fold(f32::NEG_INFINITY, |max, &x| {
        if x > max || x.is_nan() { x } else { max }
    });
    if max == f32::NEG_INFINITY {
        visible.fill(0.0);
        return;
    }
    let mut sum = 0.0;
    for x in visible.iter_mut() {
        *x = exp(*x - max);
        sum += *x;
    }
    let inv = 1.0 / sum;
    visible.iter_mut().for_each(|x| *x *= inv);
}

/// `eˣ` for `f32`, written so the compiler vectorises loops over it (`f32::exp` is a libm call
/// per element): `x = n·ln 2 + r` with `|r| ≤ ln 2 / 2`, `eʳ` by Cephes' `expf` polynomial,
/// `2ⁿ` by building the exponent bits. Relative error below 2·10⁻⁷ (tested against
/// `f32::exp`); 0 below −87.3 (where `eˣ` leaves the normal range) and for −∞; e⁸⁸·³, still
/// finite, above 88.3.
pub(crate) fn exp(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split so `n · LN2_HIGH` is exact in f32.
    const LN2_HIGH: f32 = 0.693_359_4;
    const LN2_LOW: f32 = -2.121_944_4e-4;
    let underflow = x < -87.3;
    let x = x.clamp(-87.3, 88.3);
    // Round to nearest by adding and subtracting 1.5·2²³ (`f32::round` is a libm call on the
    // x86-64 baseline, which stops the loop from vectorising).
    const ROUNDER: f32 = 12_582_912.0;
    let n = (x * LOG2_E + ROUNDER) - ROUNDER;
    let r = x - n * LN2_HIGH - n * LN2_LOW;
    let p = 1.987_569_1e-4_f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let e_r = p * r * r + r + 1.0;
    let two_n = f32::from_bits(((n as i32 + 127) as u32) << 23);
    if underflow { 0.0 } else { e_r * two_n }
}

/// `dst[m, n] = lhs[m, k] · rhs[k, n]` on one thread, with the operands given as
/// `(values, row stride, column stride)`; `dst` is contiguous row-major.
pub(crate) fn matmul(
    dst: &mut [f32],
    [m, n, k]: [usize; 3],
    lhs: (&[f32], usize, usize),
    rhs: (&[f32], usize, usize),
) {
    assert!(dst.len() >= m * n);
    if m == 0 || n == 0 || k == 0 {
        dst[..m * n].fill(0.0);
        return;
    }
    // SAFETY: `dst` holds `m · n` row-major elements and, borrowed mutably, aliases neither
    // input.
    #[allow(unsafe_code)]
    unsafe {
        gemm_into(
            (dst.as_mut_ptr(), n, 1),
            [m, n, k],
            lhs,
            rhs,
            gemm::Parallelism::None,
        )
    };
}

/// `lhs[m, k] · rhs[k, n]` into a new row-major buffer, whose memory is written once, by gemm
/// (no zero-filling first).
fn matmul_new(
    [m, n, k]: [usize; 3],
    lhs: (&[f32], usize, usize),
    rhs: (&[f32], usize, usize),
    parallelism: gemm::Parallelism,
) -> Vec<f32> {
    if m == 0 || n == 0 || k == 0 {
        return vec![0.0; m * n];
    }
    let mut out = Vec::with_capacity(m * n);
    // SAFETY: the buffer has room for `m · n` elements; gemm, not reading `dst`, writes every
    // one of them, so they are initialised when the length is set.
    #[allow(unsafe_code)]
    unsafe {
        if (2..=FEW_ROWS).contains(&m) {
            // Few rows (decoding): `(rhsᵀ · lhsᵀ)ᵀ`, so gemm reads the large right operand
            // (the weights) in place as a column-major left operand instead of repacking all of
            // it on every call.
            gemm_into(
                (out.as_mut_ptr(), 1, n),
                [n, m, k],
                transpose(rhs),
                transpose(lhs),
                parallelism,
            );
        } else {
            gemm_into((out.as_mut_ptr(), n, 1), [m, n, k], lhs, rhs, parallelism);
        }
        out.set_len(m * n);
    }
    out
}

/// Products with 2 to this many rows are computed transposed (see [`matmul_new`]); one row is
/// a matrix-vector product, which gemm handles without packing.
const FEW_ROWS: usize = 16;

/// The transpose of an operand given as `(values, row stride, column stride)`.
fn transpose((values, rs, cs): (&[f32], usize, usize)) -> (&[f32], usize, usize) {
    (values, cs, rs)
}

/// `dst = lhs · rhs` with gemm, after checking that every element gemm reads lies inside the
/// operands.
///
/// `dst` is `(pointer, row stride, column stride)`.
///
/// # Safety
///
/// `dst` must be valid for writes at every `i · row stride + j · column stride` (`i < m`,
/// `j < n`) and overlap neither operand.
#[allow(unsafe_code)]
unsafe fn gemm_into(
    (dst, dst_rs, dst_cs): (*mut f32, usize, usize),
    [m, n, k]: [usize; 3],
    (lhs, lhs_rs, lhs_cs): (&[f32], usize, usize),
    (rhs, rhs_rs, rhs_cs): (&[f32], usize, usize),
    parallelism: gemm::Parallelism,
) {
    assert!(
        m > 0 && n > 0 && k > 0,
        "empty products are handled by the callers"
    );
    let last = |rows: usize, rs: usize, cols: usize, cs: usize| (rows - 1) * rs + (cols - 1) * cs;
    assert!(lhs.len() > last(m, lhs_rs, k, lhs_cs));
    assert!(rhs.len() > last(k, rhs_rs, n, rhs_cs));
    // SAFETY: reads stay inside `lhs` and `rhs` (asserted above), writes at `dst`'s strided
    // `m × n` positions (the caller's guarantee), with no overlap between them.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            dst_cs as isize,
            dst_rs as isize,
            false,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            rhs_cs as isize,
            rhs_rs as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// Products smaller than this (in multiply-adds) run on one thread, as burn-flex does.
const PARALLEL_MATMUL: usize = 192 * 192 * 192;

/// `input · weight + bias` over the last axis (burn's `linear`, weight `[in, out]`).
///
/// # Shapes
///
/// - input: `[..., in]`
/// - weight: `[in, out]`
/// - bias: `[out]`
/// - output: `[..., out]`
pub(crate) fn linear<const D: usize>(
    input: Tensor<D>,
    weight: &Tensor<2>,
    bias: Option<&Tensor<1>>,
) -> Tensor<D> {
    let [d_in, d_out] = weight.dims();
    let mut dims = input.dims();
    let rows = dims[..D - 1].iter().product::<usize>();
    let input = contiguous(flex(input));
    let weight = matrix(flex(weight.clone()));
    let parallelism = if rows * d_in * d_out >= PARALLEL_MATMUL {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    let mut output = matmul_new(
        [rows, d_out, d_in],
        (values(&input), d_in, 1),
        weight.operand(),
        parallelism,
    );
    if let Some(bias) = bias {
        let bias = contiguous(flex(bias.clone()));
        let bias = values(&bias);
        output
            .par_chunks_mut(d_out * ROWS_PER_TASK)
            .for_each(|rows| {
                for row in rows.chunks_exact_mut(d_out) {
                    row.iter_mut().zip(bias).for_each(|(y, b)| *y += b);
                }
            });
    }
    dims[D - 1] = d_out;
    wrap(FlexTensor::from_data(TensorData::new(output, dims)))
}

/// A 2-D operand read in place: contiguous, or the transpose of a contiguous matrix (a tied
/// output head's `embeddingᵀ`), which is otherwise 113 MB copied per call at SmolLM2's size.
struct Matrix {
    tensor: FlexTensor,
    /// Whether `tensor` is a transposed view of its (contiguous) buffer.
    transposed: bool,
}

fn matrix(tensor: FlexTensor) -> Matrix {
    let layout = tensor.layout();
    let dims = layout.shape().dims::<2>();
    let transposed = layout.start_offset() == 0
        && layout.strides() == [1, dims[0] as isize]
        && tensor.bytes().len() >= dims[0] * dims[1] * size_of::<f32>();
    if transposed {
        Matrix { tensor, transposed }
    } else {
        Matrix {
            tensor: contiguous(tensor),
            transposed: false,
        }
    }
}

impl Matrix {
    /// `(values, row stride, column stride)`.
    fn operand(&self) -> (&[f32], usize, usize) {
        let [rows, cols] = self.tensor.layout().shape().dims::<2>();
        if self.transposed {
            let storage: &[f32] = self.tensor.storage();
            (&storage[..rows * cols], 1, rows)
        } else {
            (values(&self.tensor), cols, 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AttentionMask, RotaryEmbeddingConfig};
    use burn::tensor::activation::silu;
    use burn::tensor::{Bool, Distribution, Tolerance};

    fn random<const D: usize>(shape: [usize; D], device: &Device) -> Tensor<D> {
        Tensor::random(shape, Distribution::Normal(0.0, 1.0), device)
    }

    /// The burn-op path, run on the autodiff device so the fused kernels stay out of it.
    fn reference_device() -> Device {
        Device::flex().autodiff()
    }

    #[test]
    fn exp_matches_std_to_two_ten_millionths() {
        let mut worst = 0f32;
        let mut x = -87.0f32;
        while x < 88.3 {
            let (got, want) = (exp(x), x.exp());
            worst = worst.max(((got - want) / want).abs());
            x += 0.001_3;
        }
        assert!(worst < 2e-7, "worst relative error {worst}");
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp(-100.0), 0.0);
        assert!(exp(100.0).is_finite());
    }

    #[test]
    fn softmax_masks_the_future_and_padding_and_keeps_nan() {
        let mut row = [1.0f32, 2.0, 3.0, 4.0];
        softmax_causal(&mut row, 2, Some(&[true, false, false, false]));
        let e = 1f32.exp();
        assert!((row[1] - 1.0 / (1.0 + e)).abs() < 1e-6 && (row[2] - e / (1.0 + e)).abs() < 1e-6);
        assert_eq!((row[0], row[3]), (0.0, 0.0));
        let mut row = [1.0f32, f32::NAN, 3.0];
        softmax_causal(&mut row, 2, None);
        assert!(row.iter().all(|p| p.is_nan()), "{row:?}");
        let mut row = [1.0f32, 2.0];
        softmax_causal(&mut row, 1, Some(&[true, true]));
        assert_eq!(row, [0.0, 0.0]);
    }

    #[test]
    fn applies_only_to_plain_flex_f32() {
        let device = Device::flex();
        assert!(applies(&Tensor::<2>::zeros([2, 2], &device)));
        assert!(!applies(&Tensor::<2>::zeros([2, 2], &reference_device())));
    }

    #[test]
    fn rms_norm_silu_mul_and_add_match_tensor_ops() {
        let device = Device::flex();
        device.seed(3);
        // 37 rows of 40: not a multiple of the task sizes or of 16 lanes.
        let x = random([37, 40], &device);
        let weight = random([40], &device);
        let eps = 1e-5;
        let inv_rms = x
            .clone()
            .square()
            .mean_dim(1)
            .add_scalar(eps)
            .sqrt()
            .recip();
        let expected = (x.clone() * inv_rms) * weight.clone().unsqueeze();
        // `x` is still held here, so the kernel must copy rather than write into it.
        let got = rms_norm(x.clone(), &weight, eps);
        got.into_data()
            .assert_approx_eq::<f32>(&expected.into_data(), Tolerance::absolute(1e-5));

        let (gate, up) = (random([3, 5, 1000], &device), random([3, 5, 1000], &device));
        let expected = silu(gate.clone()) * up.clone();
        silu_mul(gate, up)
            .into_data()
            .assert_approx_eq::<f32>(&expected.into_data(), Tolerance::absolute(1e-5));

        let (a, b) = (random([40000], &device), random([40000], &device));
        let expected = a.clone() + b.clone();
        add(a.clone(), b)
            .into_data()
            .assert_approx_eq::<f32>(&expected.into_data(), Tolerance::absolute(1e-6));
        // The held input is unchanged.
        assert_eq!(a.clone().into_data(), a.into_data());
    }

    #[test]
    fn linear_reads_a_transposed_weight_in_place() {
        let device = Device::flex();
        device.seed(6);
        for rows in [3, 40] {
            let x = random([rows, 24], &device);
            let embedding = random([50, 24], &device);
            let want = burn::tensor::module::linear(x.clone(), embedding.clone().transpose(), None);
            let got = linear(x, &embedding.transpose(), None);
            got.into_data()
                .assert_approx_eq::<f32>(&want.into_data(), Tolerance::absolute(1e-4));
        }
    }

    #[test]
    fn linear_matches_burn_linear_with_and_without_bias() {
        let device = Device::flex();
        device.seed(4);
        // Large enough for the parallel path, and a single-threaded one.
        for (rows, d_in, d_out) in [(2 * 150, 200, 190), (3, 7, 5)] {
            let x = random([2, rows / 2 + rows % 2, d_in], &device);
            let w = random([d_in, d_out], &device);
            let b = random([d_out], &device);
            for bias in [None, Some(b)] {
                let want = burn::tensor::module::linear(x.clone(), w.clone(), bias.clone());
                let got = linear(x.clone(), &w, bias.as_ref());
                got.into_data()
                    .assert_approx_eq::<f32>(&want.into_data(), Tolerance::absolute(1e-4));
            }
        }
    }

    /// Fused attention against rotary embedding + the decomposed (burn-op) kernel, with
    /// grouped heads and left padding; rows whose keys are all padding are left out.
    #[test]
    fn causal_attention_matches_the_decomposed_kernel() {
        let device = Device::flex();
        device.seed(5);
        let (b, s, h, kvh, d) = (2, 7, 6, 2, 8);
        let q = random([b, s, h * d], &device);
        let k = random([b, s, kvh * d], &device);
        let v = random([b, s, kvh * d], &device);
        let tables = RotaryEmbeddingConfig::new(d).with_theta(10_000.0).init();
        // Row 0 has two left-padding tokens, row 1 none.
        let mut pad = vec![false; b * s];
        pad[0] = true;
        pad[1] = true;
        let padding = Tensor::<2, Bool>::from_data(TensorData::new(pad.clone(), [b, s]), &device);

        let reference = reference_device();
        let heads = |x: Tensor<3>, n: usize| {
            x.to_device(&reference)
                .reshape([b, s, n, d])
                .swap_dims(1, 2)
        };
        let rope = tables.tables(0, s, &reference);
        let mask = AttentionMask::new(Some(padding.to_device(&reference)), s, s, &reference);
        let expected = mask
            .attend(
                rope.apply(heads(q.clone(), h)),
                rope.apply(heads(k.clone(), kvh)),
                heads(v.clone(), kvh),
            )
            .swap_dims(1, 2)
            .reshape([b, s, h * d])
            .to_device(&device);

        let rope = tables.tables(0, s, &device);
        let got = causal_attention(
            [q, k, v],
            Heads {
                query: h,
                key_value: kvh,
                dim: d,
            },
            &rope.host(),
            Some(&pad),
            &Span::rows(b, s),
        );
        // Row 0's first two queries see only padding: unspecified, here zeros.
        let valid = |t: Tensor<3>| {
            Tensor::cat(
                vec![t.clone().slice([0..1, 2..s]), t.slice([1..2, 0..s])],
                1,
            )
        };
        valid(got.clone())
            .into_data()
            .assert_approx_eq::<f32>(&valid(expected).into_data(), Tolerance::absolute(1e-5));
        let zeros: f32 = got.slice([0..1, 0..2]).abs().max().into_scalar();
        assert_eq!(zeros, 0.0);
    }
}
