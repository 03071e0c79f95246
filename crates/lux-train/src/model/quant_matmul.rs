//! The products of a GGUF-quantised matrix `W` (`[d_out, d_in]`, rows of whole blocks) with
//! `f32` activations, decoding `W` a block or a tile at a time instead of keeping it as `f32`.
//!
//! - [`forward`]: `y = x·Wᵀ` (`[rows, d_out]`), what a linear layer computes;
//! - [`backward_input`]: `dx = dy·W` (`[rows, d_in]`), the input gradient of that layer, all a
//!   frozen base needs under LoRA training (no `dW`).
//!
//! Two paths, chosen by the number of activation rows:
//!
//! - **few rows** (decoding at small batch: one to [`FEW_ROWS`] tokens): each task walks its share of `W`'s
//!   rows, decodes a block (32 or 256 values) into a stack buffer and multiplies it at once
//!   into every activation row, keeping 16-lane accumulators. `W` is read once, from its
//!   quantised bytes: at batch 1 a linear layer is bound by memory traffic, and a 4-bit row is
//!   an eighth of an `f32` row. The loop is compiled three times (AVX-512, AVX2+FMA, portable)
//!   and the widest the CPU has is picked at run time;
//! - **many rows** (prefill, training): each task decodes a tile of `W` (64 rows, or a slice
//!   of block-aligned columns for the backward pass) into an `f32` buffer that stays in cache
//!   and hands it to `gemm`, so the product runs at the speed of the `f32` path while only a
//!   tile is ever `f32`.
//!
//! Every value of `W` is decoded by the block functions of [`crate::gguf`] (the same ones that
//! dequantise a whole file), so the products differ from "dequantise, then multiply in `f32`"
//! only by the order of the additions.

use rayon::prelude::*;

use super::quant_dot::{IntLevel, Q8_TYPES, Q8Rows};

use crate::gguf::{
    GgmlType, dequantize_q4_0, dequantize_q4_1, dequantize_q4_k, dequantize_q6_k, dequantize_q8_0,
};

/// Up to this many activation rows take the decode-and-dot path; more take decoded tiles and
/// `gemm`. Measured on SmolLM2 Q4_1 decoding at batch 8: tiles and `gemm` 0.61–0.64× of the
/// `f32` path's tokens/s, the decode-and-dot loop with eight rows 0.45–0.49×.
pub(crate) const FEW_ROWS: usize = 4;

/// Below this many multiply-adds (`rows · d_out · d_in`) the few-rows path runs on the calling
/// thread: SmolLM2's layers (576 × 1536 at most) at batch 1 to 4; the output head (49 152 ×
/// 576) and batch 8 of the MLP run in parallel. (`fused::linear` draws the `f32` line at a
/// similar size.)
const PARALLEL_MIN_PRODUCTS: usize = 1 << 22;

/// The same line for the 8-bit path ([`forward_q8`]), whose products are ≈ 4.5× cheaper than
/// the exact path's, yet splitting every SmolLM2 layer at batch 1 (576 × 192 = 110 592
/// multiply-adds and up) over two threads decoded 11–14 % more tokens a second than keeping
/// all but the head on one (SmolLM2 Q4_1 with the `Q8_0` head, quiet 2-core machine,
/// `quantized_generate --mode quantized --tokens 64 --rounds 3`, alternated twice: batch 1
/// 95.1–98.0 against 85.0–86.8 tokens/s, batch 8 186.9–193.6 against 174.7–176.2; the line
/// at `1 << 16`, which also splits `k_proj`/`v_proj`, measured the same within noise).
const PARALLEL_MIN_PRODUCTS_Q8: usize = 1 << 16;

/// Weight rows per rayon task on the few-rows path: enough work per task (16 rows of 576 to
/// 1536 values) to hide scheduling, small enough to balance 576-row layers over the cores.
const WEIGHT_ROWS_PER_TASK: usize = 16;

/// Weight rows decoded per tile on the many-rows path: 64 rows of `d_in` ≤ 4096 values is at
/// most 1 MiB of `f32`, which stays in L2 while `gemm` streams the activations past it.
const TILE_ROWS: usize = 64;

/// Weight rows decoded at once for one column slice of the backward pass (bounds its buffer
/// to `SLAB_ROWS × slice` values whatever `d_out` is, e.g. a 49 152-row output head).
const SLAB_ROWS: usize = 1024;

/// A quantised matrix as the kernels see it: its type, shape and blocks (row-major, each row
/// `d_in / block_size` whole blocks). Built by [`QuantizedWeight`](super::QuantizedWeight),
/// which checks the geometry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QuantView<'a> {
    pub(crate) ty: GgmlType,
    pub(crate) d_out: usize,
    pub(crate) d_in: usize,
    pub(crate) bytes: &'a [u8],
}

impl QuantView<'_> {
    #[inline(always)]
    fn row_bytes(&self) -> usize {
        self.d_in / self.ty.block_size() * self.ty.type_size()
    }

    #[inline(always)]
    pub(crate) fn row(&self, o: usize) -> &[u8] {
        let n = self.row_bytes();
        &self.bytes[o * n..(o + 1) * n]
    }
}

/// The types the kernels decode: those a GGUF base model is commonly stored in.
pub(crate) const KERNEL_TYPES: [GgmlType; 5] = [
    GgmlType::Q8_0,
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q4_K,
    GgmlType::Q6_K,
];

/// Calls `$body` with `$decode` bound to the block decoder of `$ty` and `B`/`N` (bytes and
/// values per block) as consts of the generic function it names.
macro_rules! with_decoder {
    ($ty:expr, $f:ident ( $($arg:expr),* )) => {
        match $ty {
            GgmlType::Q8_0 => $f::<34, 32>(dequantize_q8_0, $($arg),*),
            GgmlType::Q4_0 => $f::<18, 32>(dequantize_q4_0, $($arg),*),
            GgmlType::Q4_1 => $f::<20, 32>(dequantize_q4_1, $($arg),*),
            GgmlType::Q4_K => $f::<144, 256>(dequantize_q4_k, $($arg),*),
            GgmlType::Q6_K => $f::<210, 256>(dequantize_q6_k, $($arg),*),
            other => unreachable!("{other} is not a kernel type (checked when the weight was built)"),
        }
    };
}

/// Decodes rows `rows` of `w`, values `[col0, col0 + width)` of each (block-aligned), into
/// `out` (row-major `[rows.len(), width]`).
fn decode_tile(
    w: QuantView<'_>,
    rows: std::ops::Range<usize>,
    col0: usize,
    width: usize,
    out: &mut [f32],
) {
    fn run<const B: usize, const N: usize>(
        decode: fn(&[u8; B], &mut [f32; N]),
        w: QuantView<'_>,
        rows: std::ops::Range<usize>,
        col0: usize,
        width: usize,
        out: &mut [f32],
    ) {
        let (first, count) = (col0 / N, width / N);
        for (o, dst) in rows.zip(out.chunks_exact_mut(width)) {
            let (blocks, _) = w.row(o).as_chunks::<B>();
            let (dst, _) = dst.as_chunks_mut::<N>();
            for (block, dst) in blocks[first..first + count].iter().zip(dst) {
                decode(block, dst);
            }
        }
    }
    with_decoder!(w.ty, run(w, rows, col0, width, out))
}

/// `x·Wᵀ`: `x` is `[rows, d_in]` row-major; returns `[rows, d_out]`.
pub(crate) fn forward(w: QuantView<'_>, x: &[f32], rows: usize) -> Vec<f32> {
    assert_eq!(x.len(), rows * w.d_in, "activations are [rows, d_in]");
    if rows == 0 || w.d_out == 0 {
        return vec![0.0; rows * w.d_out];
    }
    if rows <= FEW_ROWS {
        forward_few(w, x, rows)
    } else {
        forward_tiled(w, x, rows)
    }
}

/// The few-rows path of [`forward`].
fn forward_few(w: QuantView<'_>, x: &[f32], rows: usize) -> Vec<f32> {
    // Tasks write `yᵀ` (`[d_out, rows]`, contiguous per weight row), transposed at the end.
    let mut yt = vec![0f32; w.d_out * rows];
    let kernel = Kernel::detect();
    if rows * w.d_out * w.d_in < PARALLEL_MIN_PRODUCTS {
        // One thread: a task split is not worth its synchronisation on a small layer (and on
        // a busy machine a straggling task would hold the whole layer up).
        kernel.dot_rows(w, 0..w.d_out, x, rows, &mut yt);
    } else {
        yt.par_chunks_mut(WEIGHT_ROWS_PER_TASK * rows)
            .enumerate()
            .for_each(|(task, out)| {
                let first = task * WEIGHT_ROWS_PER_TASK;
                kernel.dot_rows(w, first..first + out.len() / rows, x, rows, out);
            });
    }
    transpose_rows(yt, rows, w.d_out)
}

/// `x·Wᵀ` with the activations quantised to 8 bits per 32-value block and integer dot
/// products ([`super::quant_dot`]), for `w` of a type in [`Q8_TYPES`]: llama.cpp's decoding
/// arithmetic, within `Σ_blocks d_x/2 · Σ|w|` of the exact product. Any number of rows; the
/// caller decides where the approximation is acceptable (inference, few rows).
pub(crate) fn forward_q8(w: QuantView<'_>, x: &[f32], rows: usize, level: IntLevel) -> Vec<f32> {
    assert_eq!(x.len(), rows * w.d_in, "activations are [rows, d_in]");
    assert!(Q8_TYPES.contains(&w.ty), "{} has no integer kernel", w.ty);
    if rows == 0 || w.d_out == 0 {
        return vec![0.0; rows * w.d_out];
    }
    let x = Q8Rows::quantize(x, w.d_in);
    let mut yt = vec![0f32; w.d_out * rows];
    if rows * w.d_out * w.d_in < PARALLEL_MIN_PRODUCTS_Q8 {
        level.dot_rows(w, 0..w.d_out, &x, &mut yt);
    } else {
        yt.par_chunks_mut(WEIGHT_ROWS_PER_TASK * rows)
            .enumerate()
            .for_each(|(task, out)| {
                let first = task * WEIGHT_ROWS_PER_TASK;
                level.dot_rows(w, first..first + out.len() / rows, &x, out);
            });
    }
    transpose_rows(yt, rows, w.d_out)
}

/// `[d_out, rows]` → `[rows, d_out]` (the few-rows paths write one weight row's outputs
/// together).
fn transpose_rows(yt: Vec<f32>, rows: usize, d_out: usize) -> Vec<f32> {
    if rows == 1 {
        return yt;
    }
    let mut y = vec![0f32; rows * d_out];
    for (o, values) in yt.chunks_exact(rows).enumerate() {
        for (r, &v) in values.iter().enumerate() {
            y[r * d_out + o] = v;
        }
    }
    y
}

/// The many-rows path of [`forward`]: per task, a tile of `W`'s rows decoded, then `gemm`.
fn forward_tiled(w: QuantView<'_>, x: &[f32], rows: usize) -> Vec<f32> {
    let tiles: Vec<(usize, Vec<f32>)> = (0..w.d_out.div_ceil(TILE_ROWS))
        .into_par_iter()
        .map(|t| {
            let o0 = t * TILE_ROWS;
            let n = TILE_ROWS.min(w.d_out - o0);
            let mut tile = vec![0f32; n * w.d_in];
            decode_tile(w, o0..o0 + n, 0, w.d_in, &mut tile);
            // out[rows, n] = x[rows, d_in] · tileᵀ (tile read as a column-major [d_in, n]).
            let mut out = vec![0f32; rows * n];
            gemm_into(
                &mut out,
                [rows, n, w.d_in],
                (x, w.d_in, 1),
                (&tile, 1, w.d_in),
                false,
            );
            (o0, out)
        })
        .collect();
    let mut y = vec![0f32; rows * w.d_out];
    for (o0, out) in tiles {
        let n = out.len() / rows;
        for (dst, src) in y.chunks_exact_mut(w.d_out).zip(out.chunks_exact(n)) {
            dst[o0..o0 + n].copy_from_slice(src);
        }
    }
    y
}

/// `dy·W`: `dy` is `[rows, d_out]` row-major; returns `[rows, d_in]`.
///
/// Each task owns a block-aligned slice of `d_in`'s columns, decodes `W`'s values in those
/// columns ([`SLAB_ROWS`] rows at a time) and accumulates `dy · W[:, slice]` with `gemm`, so
/// `W` is decoded exactly once per call and no task waits on another.
pub(crate) fn backward_input(w: QuantView<'_>, dy: &[f32], rows: usize) -> Vec<f32> {
    assert_eq!(dy.len(), rows * w.d_out, "gradients are [rows, d_out]");
    if rows == 0 || w.d_in == 0 {
        return vec![0.0; rows * w.d_in];
    }
    let block = w.ty.block_size();
    let blocks = w.d_in / block;
    // About two slices per core, each a whole number of blocks.
    let per_slice = blocks.div_ceil(2 * rayon::current_num_threads()).max(1);
    let slices: Vec<(usize, Vec<f32>)> = (0..blocks.div_ceil(per_slice))
        .into_par_iter()
        .map(|s| {
            let col0 = s * per_slice * block;
            let width = (per_slice * block).min(w.d_in - col0);
            let mut out = vec![0f32; rows * width];
            let mut slab = vec![0f32; SLAB_ROWS.min(w.d_out) * width];
            for o0 in (0..w.d_out).step_by(SLAB_ROWS) {
                let n = SLAB_ROWS.min(w.d_out - o0);
                let slab = &mut slab[..n * width];
                decode_tile(w, o0..o0 + n, col0, width, slab);
                // out[rows, width] += dy[rows, o0..o0+n] · slab[n, width]
                gemm_into(
                    &mut out,
                    [rows, width, n],
                    (&dy[o0..], w.d_out, 1),
                    (slab, width, 1),
                    o0 > 0,
                );
            }
            (col0, out)
        })
        .collect();
    let mut dx = vec![0f32; rows * w.d_in];
    for (col0, out) in slices {
        let width = out.len() / rows;
        for (dst, src) in dx.chunks_exact_mut(w.d_in).zip(out.chunks_exact(width)) {
            dst[col0..col0 + width].copy_from_slice(src);
        }
    }
    dx
}

/// `dst[m, n] (+)= lhs[m, k] · rhs[k, n]` on the calling thread; `dst` contiguous row-major,
/// the operands `(values, row stride, column stride)`; `accumulate` adds to `dst` instead of
/// overwriting it.
fn gemm_into(
    dst: &mut [f32],
    [m, n, k]: [usize; 3],
    (lhs, lhs_rs, lhs_cs): (&[f32], usize, usize),
    (rhs, rhs_rs, rhs_cs): (&[f32], usize, usize),
    accumulate: bool,
) {
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    let last = |rows: usize, rs: usize, cols: usize, cs: usize| (rows - 1) * rs + (cols - 1) * cs;
    assert!(dst.len() >= m * n);
    assert!(lhs.len() > last(m, lhs_rs, k, lhs_cs));
    assert!(rhs.len() > last(k, rhs_rs, n, rhs_cs));
    // SAFETY: reads stay inside `lhs` and `rhs` and writes inside `dst` (asserted above);
    // `dst`, borrowed mutably, aliases neither operand.
    #[allow(unsafe_code)]
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            rhs_cs as isize,
            rhs_rs as isize,
            if accumulate { 1.0 } else { 0.0 },
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// Which build of the few-rows loop this CPU runs, detected once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kernel {
    /// 16-lane `f32` FMAs (x86-64 with AVX-512F/BW/VL).
    Avx512,
    /// 8-lane `f32` FMAs (x86-64 with AVX2 and FMA).
    Avx2,
    /// Whatever the compilation target allows, without fused multiply-adds.
    Portable,
}

impl Kernel {
    /// The widest build this CPU can run.
    pub(crate) fn detect() -> Kernel {
        static KERNEL: std::sync::OnceLock<Kernel> = std::sync::OnceLock::new();
        *KERNEL.get_or_init(|| {
            #[cfg(target_arch = "x86_64")]
            {
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    return Kernel::Avx512;
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    return Kernel::Avx2;
                }
            }
            Kernel::Portable
        })
    }

    /// Every build this CPU can run (for tests that compare them).
    #[cfg(test)]
    pub(crate) fn available() -> Vec<Kernel> {
        let mut all = vec![Kernel::Portable];
        match Kernel::detect() {
            Kernel::Avx512 => all.extend([Kernel::Avx2, Kernel::Avx512]),
            Kernel::Avx2 => all.push(Kernel::Avx2),
            Kernel::Portable => {}
        }
        all
    }

    /// `out[(o − first)·rows + r] = W[o] · x[r]` for `o` in `weight_rows`, `r < rows`.
    pub(crate) fn dot_rows(
        self,
        w: QuantView<'_>,
        weight_rows: std::ops::Range<usize>,
        x: &[f32],
        rows: usize,
        out: &mut [f32],
    ) {
        assert!(weight_rows.end <= w.d_out && x.len() == rows * w.d_in);
        assert_eq!(out.len(), weight_rows.len() * rows);
        match self {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `detect` found the features these builds are compiled for.
            #[allow(unsafe_code)]
            Kernel::Avx512 => unsafe { dot_rows_avx512(w, weight_rows, x, rows, out) },
            #[cfg(target_arch = "x86_64")]
            #[allow(unsafe_code)]
            Kernel::Avx2 => unsafe { dot_rows_avx2(w, weight_rows, x, rows, out) },
            _ => dot_rows_generic::<false>(w, weight_rows, x, rows, out),
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
fn dot_rows_avx512(
    w: QuantView<'_>,
    weight_rows: std::ops::Range<usize>,
    x: &[f32],
    rows: usize,
    out: &mut [f32],
) {
    dot_rows_generic::<true>(w, weight_rows, x, rows, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
fn dot_rows_avx2(
    w: QuantView<'_>,
    weight_rows: std::ops::Range<usize>,
    x: &[f32],
    rows: usize,
    out: &mut [f32],
) {
    dot_rows_generic::<true>(w, weight_rows, x, rows, out)
}

/// The few-rows loop, for any block type; `FMA` selects fused multiply-adds (only where the
/// caller's target features make them one instruction: `mul_add` is a libm call otherwise).
#[inline(always)]
fn dot_rows_generic<const FMA: bool>(
    w: QuantView<'_>,
    weight_rows: std::ops::Range<usize>,
    x: &[f32],
    rows: usize,
    out: &mut [f32],
) {
    #[inline(always)]
    fn run<const B: usize, const N: usize, const FMA: bool>(
        decode: impl Decode<B, N>,
        w: QuantView<'_>,
        weight_rows: std::ops::Range<usize>,
        x: &[f32],
        rows: usize,
        out: &mut [f32],
    ) {
        let mut r0 = 0;
        while r0 < rows {
            let group = match rows - r0 {
                4.. => 4,
                2..=3 => 2,
                _ => 1,
            };
            let xs = &x[r0 * w.d_in..(r0 + group) * w.d_in];
            let rows_range = weight_rows.clone();
            match group {
                4 => rows_group::<B, N, 4, FMA>(decode, w, rows_range, xs, rows, r0, out),
                2 => rows_group::<B, N, 2, FMA>(decode, w, rows_range, xs, rows, r0, out),
                _ => rows_group::<B, N, 1, FMA>(decode, w, rows_range, xs, rows, r0, out),
            }
            r0 += group;
        }
    }
    match w.ty {
        GgmlType::Q8_0 => run::<34, 32, FMA>(Q8_0, w, weight_rows, x, rows, out),
        GgmlType::Q4_0 => run::<18, 32, FMA>(Q4_0, w, weight_rows, x, rows, out),
        GgmlType::Q4_1 => run::<20, 32, FMA>(Q4_1, w, weight_rows, x, rows, out),
        GgmlType::Q4_K => run::<144, 256, FMA>(Q4_K, w, weight_rows, x, rows, out),
        GgmlType::Q6_K => run::<210, 256, FMA>(Q6_K, w, weight_rows, x, rows, out),
        other => unreachable!("{other} is not a kernel type (checked when the weight was built)"),
    }
}

/// A block decoder as a type, so that the few-rows loop is compiled once per block type with
/// the decoder inlined (a function passed by value is called through a shim that is not, and
/// then runs without the loop's AVX-512/AVX2 features).
trait Decode<const B: usize, const N: usize>: Copy {
    fn decode(self, block: &[u8; B], out: &mut [f32; N]);
}

macro_rules! decoders {
    ($($name:ident: $b:literal, $n:literal => $f:ident;)*) => {$(
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy)]
        struct $name;

        impl Decode<$b, $n> for $name {
            #[inline(always)]
            fn decode(self, block: &[u8; $b], out: &mut [f32; $n]) {
                $f(block, out)
            }
        }
    )*};
}

decoders! {
    Q8_0: 34, 32 => dequantize_q8_0;
    Q4_0: 18, 32 => dequantize_q4_0;
    Q4_1: 20, 32 => dequantize_q4_1;
    Q4_K: 144, 256 => dequantize_q4_k;
    Q6_K: 210, 256 => dequantize_q6_k;
}

/// Lanes of the accumulators: one AVX-512 register of `f32` (two AVX2 registers).
const LANES: usize = 16;

/// `R` activation rows (`xs`, `[R, d_in]`, rows `r0..r0 + R` of the call) against every weight
/// row of `weight_rows`; writes `out[(o − first)·rows + r0 + r]`.
#[inline(always)]
fn rows_group<const B: usize, const N: usize, const R: usize, const FMA: bool>(
    decode: impl Decode<B, N>,
    w: QuantView<'_>,
    weight_rows: std::ops::Range<usize>,
    xs: &[f32],
    rows: usize,
    r0: usize,
    out: &mut [f32],
) {
    let first = weight_rows.start;
    let mut values = [0f32; N];
    for o in weight_rows {
        let (blocks, _) = w.row(o).as_chunks::<B>();
        let mut acc = [[0f32; LANES]; R];
        for (b, block) in blocks.iter().enumerate() {
            decode.decode(block, &mut values);
            for (r, acc) in acc.iter_mut().enumerate() {
                let x = &xs[r * w.d_in + b * N..r * w.d_in + (b + 1) * N];
                let (x, _) = x.as_chunks::<LANES>();
                let (v, _) = values.as_chunks::<LANES>();
                for (x, v) in x.iter().zip(v) {
                    for l in 0..LANES {
                        acc[l] = if FMA {
                            x[l].mul_add(v[l], acc[l])
                        } else {
                            acc[l] + x[l] * v[l]
                        };
                    }
                }
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            out[(o - first) * rows + r0 + r] = horizontal_sum(acc);
        }
    }
}

/// The sum of 16 lanes as a pairwise tree (what a vector reduction computes).
#[inline(always)]
fn horizontal_sum(acc: &[f32; LANES]) -> f32 {
    let mut v = *acc;
    let mut n = LANES;
    while n > 1 {
        n /= 2;
        for l in 0..n {
            v[l] += v[l + n];
        }
    }
    v[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every build of the few-rows loop this CPU runs gives the portable build's results up to
    /// summation order (the vector builds fuse multiply-adds).
    #[test]
    fn every_kernel_build_agrees_with_the_portable_one() {
        let (d_out, d_in, rows) = (5, 512, 3);
        let mut seed = 1u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as u8
        };
        for ty in KERNEL_TYPES {
            let n = d_out * d_in / ty.block_size() * ty.type_size();
            let mut bytes: Vec<u8> = (0..n).map(|_| next()).collect();
            // Finite scales: small f16 values where the scale fields sit (bytes 0–3, or the
            // last two of a Q6_K block).
            for block in bytes.chunks_exact_mut(ty.type_size()) {
                let at = if ty == GgmlType::Q6_K { 208 } else { 0 };
                let scale = half::f16::from_f32(0.01).to_le_bytes();
                block[at..at + 2].copy_from_slice(&scale);
                if matches!(ty, GgmlType::Q4_1 | GgmlType::Q4_K) {
                    block[2..4].copy_from_slice(&scale);
                }
            }
            let w = QuantView {
                ty,
                d_out,
                d_in,
                bytes: &bytes,
            };
            let x: Vec<f32> = (0..rows * d_in)
                .map(|i| ((i * 7919) % 13) as f32 - 6.0)
                .collect();
            let mut want = vec![0f32; d_out * rows];
            Kernel::Portable.dot_rows(w, 0..d_out, &x, rows, &mut want);
            for kernel in Kernel::available() {
                let mut got = vec![0f32; d_out * rows];
                kernel.dot_rows(w, 0..d_out, &x, rows, &mut got);
                for (g, w) in got.iter().zip(&want) {
                    assert!(
                        (g - w).abs() <= 1e-4 * w.abs().max(1.0),
                        "{ty} {kernel:?}: {g} vs {w}"
                    );
                }
            }
        }
    }
}
