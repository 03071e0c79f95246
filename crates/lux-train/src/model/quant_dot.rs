//! Integer dot products of GGUF-quantised weights with activations quantised to 8 bits per
//! 32-value block: the arithmetic llama.cpp decodes with (its `Q8_0`/`Q8_1` activations).
//!
//! **Why.** Decoding a 4-bit block to `f32` and multiplying it in `f32` costs a conversion and
//! a multiply-add per value, per activation row. With the activations in 8-bit blocks, 32
//! values of a weight block meet 32 of an activation block in one or two integer instructions
//! (`vpdpbusd` with AVX-512 VNNI; `vpmaddubsw` + `vpmaddwd` with AVX2), and the scales apply
//! once per block:
//!
//! ```text
//! w = d_w·q_w + m_w,  x ≈ d_x·q_x   ⇒   Σ w·x ≈ d_w·d_x·Σ q_w·q_x + m_w·(d_x·Σ q_x)
//! ```
//!
//! where the last factor is kept per activation block ([`Q8Rows::scaled_sums`]), so the
//! weights' minimum (`Q4_1`, `Q4_K`) or offset (`Q4_0`: `m_w = −8·d_w`) costs one multiply-add
//! per block.
//!
//! **What it costs in accuracy.** The activations are no longer exact: each value moves by at
//! most half its block's step, `|x − d_x·q_x| ≤ d_x/2` with `d_x = max|x|/127`, so a dot product
//! moves by at most `Σ_blocks d_x/2 · Σ|w|` (tests check this bound). That is llama.cpp's own
//! tolerance; the exact path (`f32` activations, [`super::quant_matmul`]) remains for training,
//! whose gradients must be those of the `f32` model, and for prefill, where `gemm` on decoded
//! tiles is faster anyway.
//!
//! Types: `Q8_0` (signed weights), `Q4_0`, `Q4_1` and `Q4_K` (unsigned nibbles with a scale and
//! a minimum per 32 values). `Q6_K` (16-value scales) keeps the exact path.

use crate::gguf::{GgmlType, QK, q4_k_scale_min};
use half::f16;

use super::quant_matmul::QuantView;

/// Values per activation block: the 32 of `Q8_0`, which every supported weight type's scale
/// groups align with (`Q4_K`'s sub-blocks are 32 values too).
pub(crate) const Q8_BLOCK: usize = QK;

/// The weight types with an integer kernel.
pub(crate) const Q8_TYPES: [GgmlType; 4] = [
    GgmlType::Q8_0,
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q4_K,
];

/// Activation rows quantised per 32-value block: `x ≈ d·q` with `d = max|x|/127` and
/// `q = round(x / d)` (half away from zero) in `[-127, 127]`.
///
/// A block holding a NaN or an infinity gets `d = NaN`, so the products that read it are NaN,
/// as the `f32` path's would be (the quants alone could not carry it).
#[derive(Debug, Clone)]
pub(crate) struct Q8Rows {
    rows: usize,
    d_in: usize,
    /// `[rows, d_in]`, row-major.
    quants: Vec<i8>,
    /// `d` per block, `[rows, d_in / 32]`.
    scales: Vec<f32>,
    /// `d·Σq` per block, `[rows, d_in / 32]`: multiplies the weights' per-block minimum.
    scaled_sums: Vec<f32>,
}

impl Q8Rows {
    /// Quantises `x` (`[rows, d_in]` row-major; `d_in` a multiple of 32).
    pub(crate) fn quantize(x: &[f32], d_in: usize) -> Q8Rows {
        assert!(
            d_in > 0 && d_in.is_multiple_of(Q8_BLOCK) && x.len().is_multiple_of(d_in),
            "activations are rows of whole 32-value blocks"
        );
        let rows = x.len() / d_in;
        let blocks = x.len() / Q8_BLOCK;
        let mut quants = vec![0i8; x.len()];
        let mut scales = Vec::with_capacity(blocks);
        let mut scaled_sums = Vec::with_capacity(blocks);
        for (values, q) in x
            .chunks_exact(Q8_BLOCK)
            .zip(quants.chunks_exact_mut(Q8_BLOCK))
        {
            let (d, sum) = quantize_block(values, q);
            scales.push(d);
            scaled_sums.push(d * sum as f32);
        }
        Q8Rows {
            rows,
            d_in,
            quants,
            scales,
            scaled_sums,
        }
    }

    /// Row `r`'s quants as 32-value blocks.
    #[inline(always)]
    fn quant_blocks(&self, r: usize) -> &[[i8; Q8_BLOCK]] {
        self.quants[r * self.d_in..(r + 1) * self.d_in]
            .as_chunks::<Q8_BLOCK>()
            .0
    }

    #[inline(always)]
    fn block_scales(&self, r: usize) -> &[f32] {
        let n = self.d_in / Q8_BLOCK;
        &self.scales[r * n..(r + 1) * n]
    }

    #[inline(always)]
    fn block_scaled_sums(&self, r: usize) -> &[f32] {
        let n = self.d_in / Q8_BLOCK;
        &self.scaled_sums[r * n..(r + 1) * n]
    }

    /// `(d, q)` of every block of row `r` (for tests that recompute the arithmetic).
    #[cfg(test)]
    pub(crate) fn row_blocks(&self, r: usize) -> impl Iterator<Item = (f32, &[i8; Q8_BLOCK])> {
        self.block_scales(r)
            .iter()
            .copied()
            .zip(self.quant_blocks(r))
    }
}

/// Quantises one block into `q`; returns `(d, Σq)`.
fn quantize_block(values: &[f32], q: &mut [i8]) -> (f32, i32) {
    let mut max = 0f32;
    let mut finite = true;
    for &v in values {
        finite &= v.is_finite();
        max = max.max(v.abs());
    }
    if !finite {
        q.fill(0);
        return (f32::NAN, 0);
    }
    let d = max / 127.0;
    if d == 0.0 {
        q.fill(0);
        return (0.0, 0);
    }
    let mut sum = 0i32;
    for (q, &v) in q.iter_mut().zip(values) {
        // |v / d| ≤ 127 up to rounding; the cast saturates, so a rounding up to 127.5 stays
        // 127.
        *q = (v / d).round() as i8;
        sum += i32::from(*q);
    }
    (d, sum)
}

/// Which build of the integer kernel this CPU runs, detected once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntLevel {
    /// AVX-512 VNNI (`vpdpbusd` on 256-bit registers, with AVX-512VL).
    Vnni,
    /// AVX2 (`vpmaddubsw` then `vpmaddwd`).
    Avx2,
    /// Plain integer arithmetic.
    Scalar,
}

impl IntLevel {
    /// The fastest build this CPU can run.
    pub(crate) fn detect() -> IntLevel {
        static LEVEL: std::sync::OnceLock<IntLevel> = std::sync::OnceLock::new();
        *LEVEL.get_or_init(|| {
            #[cfg(target_arch = "x86_64")]
            {
                let avx2 = std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma");
                if avx2
                    && std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                    && std::arch::is_x86_feature_detected!("avx512vnni")
                {
                    return IntLevel::Vnni;
                }
                if avx2 {
                    return IntLevel::Avx2;
                }
            }
            IntLevel::Scalar
        })
    }

    /// Every build this CPU can run (for tests that compare them).
    #[cfg(test)]
    pub(crate) fn available() -> Vec<IntLevel> {
        let mut all = vec![IntLevel::Scalar];
        match IntLevel::detect() {
            IntLevel::Vnni => all.extend([IntLevel::Avx2, IntLevel::Vnni]),
            IntLevel::Avx2 => all.push(IntLevel::Avx2),
            IntLevel::Scalar => {}
        }
        all
    }

    /// `out[(o − first)·rows + r] = W[o] · x̂[r]` for `o` in `weight_rows` and every row `r` of
    /// `x` (`x̂` the dequantised activations), for `w` of a type in [`Q8_TYPES`].
    pub(crate) fn dot_rows(
        self,
        w: QuantView<'_>,
        weight_rows: std::ops::Range<usize>,
        x: &Q8Rows,
        out: &mut [f32],
    ) {
        assert!(weight_rows.end <= w.d_out && x.d_in == w.d_in);
        assert_eq!(out.len(), weight_rows.len() * x.rows);
        match self {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `detect` found the features these builds are compiled for (and `available`
            // lists no level above it).
            #[allow(unsafe_code)]
            IntLevel::Vnni => unsafe { x86::dot_rows_vnni(w, weight_rows, x, out) },
            #[cfg(target_arch = "x86_64")]
            #[allow(unsafe_code)]
            IntLevel::Avx2 => unsafe { x86::dot_rows_avx2(w, weight_rows, x, out) },
            _ => dot_rows_with(Scalar, w, weight_rows, x, out),
        }
    }
}

/// One weight block as the integer kernel reads it: [`GROUPS`](Self::GROUPS) groups of 32
/// quants, each with its scale `d` and minimum `m` (`w = d·q + m`).
///
/// A method per group rather than a callback over them: a closure is compiled out of line,
/// without the AVX-512/AVX2 features of the loop that calls it, and its intrinsics then become
/// calls (measured: 12× slower).
trait IntBlock<const B: usize>: Copy {
    /// Whether the quants are signed bytes (`Q8_0`) rather than nibbles `0..=15`.
    const SIGNED: bool;
    /// Whether any group has a minimum (else `m` is 0 and its term is skipped).
    const HAS_MIN: bool;
    /// 32-value groups per block.
    const GROUPS: usize;
    /// Group `g`'s `(quants, d, m)`.
    fn group(self, block: &[u8; B], g: usize) -> ([u8; Q8_BLOCK], f32, f32);
}

#[inline(always)]
fn f16_at(bytes: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([bytes[at], bytes[at + 1]]).to_f32()
}

/// 16 bytes of nibbles as 32 values: low nibbles first (values 0–15), then high (16–31), the
/// order of `Q4_0`/`Q4_1` blocks and of a `Q4_K` sub-block pair.
#[inline(always)]
fn nibbles(packed: &[u8], low: bool) -> [u8; Q8_BLOCK] {
    let mut out = [0u8; Q8_BLOCK];
    if low {
        for (o, &p) in out.iter_mut().zip(packed) {
            *o = p & 0x0F;
        }
    } else {
        for (o, &p) in out.iter_mut().zip(packed) {
            *o = p >> 4;
        }
    }
    out
}

#[inline(always)]
fn split_nibbles(packed: &[u8]) -> [u8; Q8_BLOCK] {
    let mut out = [0u8; Q8_BLOCK];
    let (low, high) = out.split_at_mut(Q8_BLOCK / 2);
    for ((lo, hi), &p) in low.iter_mut().zip(high).zip(packed) {
        *lo = p & 0x0F;
        *hi = p >> 4;
    }
    out
}

#[derive(Clone, Copy)]
struct Q8_0;
#[derive(Clone, Copy)]
struct Q4_0;
#[derive(Clone, Copy)]
struct Q4_1;
#[derive(Clone, Copy)]
struct Q4K;

impl IntBlock<34> for Q8_0 {
    const SIGNED: bool = true;
    const HAS_MIN: bool = false;
    const GROUPS: usize = 1;
    #[inline(always)]
    fn group(self, block: &[u8; 34], _g: usize) -> ([u8; 32], f32, f32) {
        let quants: &[u8; 32] = block[2..].try_into().unwrap_or(&[0; 32]);
        (*quants, f16_at(block, 0), 0.0)
    }
}

impl IntBlock<18> for Q4_0 {
    const SIGNED: bool = false;
    const HAS_MIN: bool = true;
    const GROUPS: usize = 1;
    #[inline(always)]
    fn group(self, block: &[u8; 18], _g: usize) -> ([u8; 32], f32, f32) {
        // w = d·(q − 8) = d·q + (−8·d).
        let d = f16_at(block, 0);
        (split_nibbles(&block[2..]), d, -8.0 * d)
    }
}

impl IntBlock<20> for Q4_1 {
    const SIGNED: bool = false;
    const HAS_MIN: bool = true;
    const GROUPS: usize = 1;
    #[inline(always)]
    fn group(self, block: &[u8; 20], _g: usize) -> ([u8; 32], f32, f32) {
        (
            split_nibbles(&block[4..]),
            f16_at(block, 0),
            f16_at(block, 2),
        )
    }
}

impl IntBlock<144> for Q4K {
    const SIGNED: bool = false;
    const HAS_MIN: bool = true;
    const GROUPS: usize = 8;
    #[inline(always)]
    fn group(self, block: &[u8; 144], g: usize) -> ([u8; 32], f32, f32) {
        // Eight sub-blocks of 32: chunk g / 2 (32 bytes) holds sub-block g in its low nibbles
        // when g is even, in its high ones when odd; w = (d·scale)·q − dmin·min.
        let (d, dmin) = (f16_at(block, 0), f16_at(block, 2));
        let packed: &[u8; 12] = block[4..16].try_into().unwrap_or(&[0; 12]);
        let (scale, min) = q4_k_scale_min(g, packed);
        let chunk = &block[16 + 32 * (g / 2)..16 + 32 * (g / 2 + 1)];
        (
            nibbles(chunk, g.is_multiple_of(2)),
            d * f32::from(scale),
            -(dmin * f32::from(min)),
        )
    }
}

/// One instruction-set build of the block dot product. Values of the x86 types exist only
/// inside functions compiled with their features (see [`x86`]), which is what makes their
/// intrinsics sound to call.
trait Isa: Copy {
    /// One activation row's running sum for the current weight row.
    type Acc: Copy;
    /// A weight group prepared for the dot product.
    type Weights: Copy;
    fn zero(self) -> Self::Acc;
    fn weights(self, quants: &[u8; Q8_BLOCK], signed: bool) -> Self::Weights;
    /// `acc + scale · Σ w·x` over the 32 values.
    fn dot_add(
        self,
        acc: Self::Acc,
        w: Self::Weights,
        x: &[i8; Q8_BLOCK],
        signed: bool,
        scale: f32,
    ) -> Self::Acc;
    fn sum(self, acc: Self::Acc) -> f32;
}

/// Exact `i32` sums, one `f32` multiply-add per block.
#[derive(Clone, Copy)]
struct Scalar;

impl Isa for Scalar {
    type Acc = f32;
    type Weights = [i32; Q8_BLOCK];

    #[inline(always)]
    fn zero(self) -> f32 {
        0.0
    }

    #[inline(always)]
    fn weights(self, quants: &[u8; Q8_BLOCK], signed: bool) -> [i32; Q8_BLOCK] {
        quants.map(|q| {
            if signed {
                i32::from(q as i8)
            } else {
                i32::from(q)
            }
        })
    }

    #[inline(always)]
    fn dot_add(
        self,
        acc: f32,
        w: [i32; Q8_BLOCK],
        x: &[i8; Q8_BLOCK],
        _signed: bool,
        scale: f32,
    ) -> f32 {
        let dot: i32 = w.iter().zip(x).map(|(&w, &x)| w * i32::from(x)).sum();
        acc + scale * dot as f32
    }

    #[inline(always)]
    fn sum(self, acc: f32) -> f32 {
        acc
    }
}

/// The kernel for one weight type and instruction set, over every activation row of `x` in
/// groups of up to 4 (each weight group is prepared once per group of rows).
#[inline(always)]
fn dot_rows_with<I: Isa>(
    isa: I,
    w: QuantView<'_>,
    weight_rows: std::ops::Range<usize>,
    x: &Q8Rows,
    out: &mut [f32],
) {
    #[inline(always)]
    fn for_type<I: Isa, const B: usize, T: IntBlock<B>>(
        isa: I,
        ty: T,
        w: QuantView<'_>,
        weight_rows: std::ops::Range<usize>,
        x: &Q8Rows,
        out: &mut [f32],
    ) {
        let mut r0 = 0;
        while r0 < x.rows {
            let range = weight_rows.clone();
            r0 += match x.rows - r0 {
                4.. => rows_group::<I, B, T, 4>(isa, ty, w, range, x, r0, out),
                2..=3 => rows_group::<I, B, T, 2>(isa, ty, w, range, x, r0, out),
                _ => rows_group::<I, B, T, 1>(isa, ty, w, range, x, r0, out),
            };
        }
    }
    match w.ty {
        GgmlType::Q8_0 => for_type::<I, 34, _>(isa, Q8_0, w, weight_rows, x, out),
        GgmlType::Q4_0 => for_type::<I, 18, _>(isa, Q4_0, w, weight_rows, x, out),
        GgmlType::Q4_1 => for_type::<I, 20, _>(isa, Q4_1, w, weight_rows, x, out),
        GgmlType::Q4_K => for_type::<I, 144, _>(isa, Q4K, w, weight_rows, x, out),
        other => unreachable!("{other} has no integer kernel (callers check Q8_TYPES)"),
    }
}

/// `R` quantised activation rows as the kernel reads them: per row, its blocks' quants, scales
/// `d` and scaled sums `d·Σq`.
struct RowGroup<'a, const R: usize> {
    quants: [&'a [[i8; Q8_BLOCK]]; R],
    scales: [&'a [f32]; R],
    sums: [&'a [f32]; R],
}

/// Activation rows `r0..r0 + R` against every weight row of `weight_rows`; returns `R`.
#[inline(always)]
fn rows_group<I: Isa, const B: usize, T: IntBlock<B>, const R: usize>(
    isa: I,
    ty: T,
    w: QuantView<'_>,
    weight_rows: std::ops::Range<usize>,
    x: &Q8Rows,
    r0: usize,
    out: &mut [f32],
) -> usize {
    let rows = x.rows;
    let first = weight_rows.start;
    let groups_per_block = T::GROUPS;
    let quants: [&[[i8; Q8_BLOCK]]; R] = std::array::from_fn(|r| x.quant_blocks(r0 + r));
    let scales: [&[f32]; R] = std::array::from_fn(|r| x.block_scales(r0 + r));
    let sums: [&[f32]; R] = std::array::from_fn(|r| x.block_scaled_sums(r0 + r));
    /// One block into one set of accumulators (`acc`, `mins`: one per activation row).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn block_into<I: Isa, const B: usize, T: IntBlock<B>, const R: usize>(
        isa: I,
        ty: T,
        block: &[u8; B],
        first_col: usize,
        x: &RowGroup<'_, R>,
        acc: &mut [I::Acc; R],
        mins: &mut [f32; R],
    ) {
        for g in 0..T::GROUPS {
            let (group, d, m) = ty.group(block, g);
            let col = first_col + g;
            let weights = isa.weights(&group, T::SIGNED);
            for r in 0..R {
                let scale = d * x.scales[r][col];
                acc[r] = isa.dot_add(acc[r], weights, &x.quants[r][col], T::SIGNED, scale);
                if T::HAS_MIN {
                    mins[r] += m * x.sums[r][col];
                }
            }
        }
    }
    let x_blocks = RowGroup {
        quants,
        scales,
        sums,
    };
    for o in weight_rows {
        let (blocks, _) = w.row(o).as_chunks::<B>();
        // Two sets of accumulators, for even and odd blocks: each block's multiply-adds then
        // wait on the block two back, not on the previous one (at one activation row, that
        // chain of dependent adds bounded the loop). Fixed by position, so they stay in
        // registers.
        let (mut acc_even, mut acc_odd) = ([isa.zero(); R], [isa.zero(); R]);
        let (mut mins_even, mut mins_odd) = ([0f32; R], [0f32; R]);
        let (pairs, last) = blocks.as_chunks::<2>();
        for (p, [even, odd]) in pairs.iter().enumerate() {
            let col = 2 * p * groups_per_block;
            block_into(isa, ty, even, col, &x_blocks, &mut acc_even, &mut mins_even);
            let col = col + groups_per_block;
            block_into(isa, ty, odd, col, &x_blocks, &mut acc_odd, &mut mins_odd);
        }
        if let [block] = last {
            let col = 2 * pairs.len() * groups_per_block;
            block_into(
                isa,
                ty,
                block,
                col,
                &x_blocks,
                &mut acc_even,
                &mut mins_even,
            );
        }
        for r in 0..R {
            out[(o - first) * rows + r0 + r] =
                (isa.sum(acc_even[r]) + isa.sum(acc_odd[r])) + (mins_even[r] + mins_odd[r]);
        }
    }
    R
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod x86 {
    use std::arch::x86_64::*;

    use super::{Isa, Q8_BLOCK, Q8Rows, QuantView, dot_rows_with};

    /// The x86 builds: with `VNNI`, AVX-512 VNNI's `vpdpbusd` multiplies unsigned by signed
    /// bytes and sums each four into 8 `i32` lanes in one instruction; without, AVX2's
    /// `vpmaddubsw` multiplies them into 16 pairs of `i16` (no saturation here: |w| ≤ 128,
    /// |x| ≤ 127, so a pair is at most 32 512) and `vpmaddwd` with ones sums those into 8 `i32`
    /// lanes. Built only by [`dot_rows_avx2`] (`X86<false>`, CPUs with AVX2 and FMA) and
    /// [`dot_rows_vnni`] (`X86<true>`, CPUs with AVX-512F/VL/VNNI as well).
    #[derive(Clone, Copy)]
    pub(super) struct X86<const VNNI: bool>(());

    /// A weight group as the unsigned operand: nibbles as they are; signed bytes as their
    /// magnitudes, with the bytes kept to move their signs onto the activations
    /// (`|w|·(sign(w)·x) = w·x`, since `vpdpbusd`/`vpmaddubsw` take one unsigned operand).
    #[derive(Clone, Copy)]
    pub(super) struct Weights {
        unsigned: __m256i,
        signs: __m256i,
    }

    #[inline(always)]
    fn prepare(quants: &[u8; Q8_BLOCK], signed: bool) -> Weights {
        // SAFETY (here and below): only reached from `Isa` methods of `X86`, whose
        // values exist only inside the `#[target_feature]` functions of this module; the loads
        // read exactly 32 bytes of a 32-byte array.
        unsafe {
            let q = _mm256_loadu_si256(quants.as_ptr().cast());
            if signed {
                Weights {
                    unsigned: _mm256_abs_epi8(q),
                    signs: q,
                }
            } else {
                Weights {
                    unsigned: q,
                    signs: q,
                }
            }
        }
    }

    #[inline(always)]
    fn signed_x(w: Weights, x: &[i8; Q8_BLOCK], signed: bool) -> __m256i {
        unsafe {
            let x = _mm256_loadu_si256(x.as_ptr().cast());
            if signed {
                _mm256_sign_epi8(x, w.signs)
            } else {
                x
            }
        }
    }

    #[inline(always)]
    fn scale_add(acc: __m256, dot: __m256i, scale: f32) -> __m256 {
        unsafe { _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(scale), acc) }
    }

    #[inline(always)]
    fn horizontal_sum(acc: __m256) -> f32 {
        unsafe {
            let v = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
            let v = _mm_add_ps(v, _mm_movehl_ps(v, v));
            let v = _mm_add_ss(v, _mm_shuffle_ps(v, v, 1));
            _mm_cvtss_f32(v)
        }
    }

    impl<const VNNI: bool> Isa for X86<VNNI> {
        type Acc = __m256;
        type Weights = Weights;

        #[inline(always)]
        fn zero(self) -> __m256 {
            unsafe { _mm256_setzero_ps() }
        }

        #[inline(always)]
        fn weights(self, quants: &[u8; Q8_BLOCK], signed: bool) -> Weights {
            prepare(quants, signed)
        }

        #[inline(always)]
        fn dot_add(
            self,
            acc: __m256,
            w: Weights,
            x: &[i8; Q8_BLOCK],
            signed: bool,
            scale: f32,
        ) -> __m256 {
            let x = signed_x(w, x, signed);
            let dot = unsafe {
                if VNNI {
                    _mm256_dpbusd_epi32(_mm256_setzero_si256(), w.unsigned, x)
                } else {
                    let pairs = _mm256_maddubs_epi16(w.unsigned, x);
                    _mm256_madd_epi16(pairs, _mm256_set1_epi16(1))
                }
            };
            scale_add(acc, dot, scale)
        }

        #[inline(always)]
        fn sum(self, acc: __m256) -> f32 {
            horizontal_sum(acc)
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn dot_rows_avx2(
        w: QuantView<'_>,
        weight_rows: std::ops::Range<usize>,
        x: &Q8Rows,
        out: &mut [f32],
    ) {
        dot_rows_with(X86::<false>(()), w, weight_rows, x, out)
    }

    #[target_feature(enable = "avx2,fma,avx512f,avx512vl,avx512vnni")]
    pub(super) fn dot_rows_vnni(
        w: QuantView<'_>,
        weight_rows: std::ops::Range<usize>,
        x: &Q8Rows,
        out: &mut [f32],
    ) {
        dot_rows_with(X86::<true>(()), w, weight_rows, x, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random blocks with finite scales (random bytes would put NaNs where the f16 scales sit).
    fn blocks(ty: GgmlType, d_out: usize, d_in: usize, seed: &mut u32) -> Vec<u8> {
        let mut next = || {
            *seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (*seed >> 8) as u8
        };
        let n = d_out * d_in / ty.block_size() * ty.type_size();
        let mut bytes: Vec<u8> = (0..n).map(|_| next()).collect();
        for block in bytes.chunks_exact_mut(ty.type_size()) {
            let scale = f16::from_f32(0.01 + f32::from(block[5] % 7) * 0.003).to_le_bytes();
            block[..2].copy_from_slice(&scale);
            if matches!(ty, GgmlType::Q4_1 | GgmlType::Q4_K) {
                let min = f16::from_f32(0.02 - f32::from(block[6] % 5) * 0.01).to_le_bytes();
                block[2..4].copy_from_slice(&min);
            }
        }
        bytes
    }

    /// Every build gives `Σ_groups d_w·d_x·Σq_w·q_x + m_w·d_x·Σq_x`, computed here in `f64`
    /// from the same groups, within the rounding of its `f32` scaling and summation:
    /// `(groups + 8)·2⁻²⁴·Σ_groups(|d_w·d_x·Σ|q_w·q_x|| + |m_w·d_x·Σq_x|)`. Rows 1–9 cover the
    /// groups of 4, 2 and 1; 37 weight rows are no multiple of any lane or task count.
    #[test]
    fn every_level_matches_the_f64_block_arithmetic() {
        let (d_out, d_in) = (37, 512);
        let mut seed = 5;
        for ty in Q8_TYPES {
            let bytes = blocks(ty, d_out, d_in, &mut seed);
            let w = QuantView {
                ty,
                d_out,
                d_in,
                bytes: &bytes,
            };
            for rows in [1, 2, 3, 4, 5, 7, 9] {
                let x: Vec<f32> = (0..rows * d_in)
                    .map(|i| ((i * 7919 + rows) % 201) as f32 / 50.0 - 2.0)
                    .collect();
                let x = Q8Rows::quantize(&x, d_in);
                let groups = d_in / Q8_BLOCK;
                let mut want = vec![(0f64, 0f64); d_out * rows];
                for o in 0..d_out {
                    let mut group_terms = Vec::new();
                    let row = w.row(o);
                    for (b, block) in row.chunks_exact(ty.type_size()).enumerate() {
                        let groups = ty.block_size() / Q8_BLOCK;
                        for g in 0..groups {
                            let (q, d, m) = match ty {
                                GgmlType::Q8_0 => Q8_0.group(block.try_into().unwrap(), g),
                                GgmlType::Q4_0 => Q4_0.group(block.try_into().unwrap(), g),
                                GgmlType::Q4_1 => Q4_1.group(block.try_into().unwrap(), g),
                                _ => Q4K.group(block.try_into().unwrap(), g),
                            };
                            group_terms.push((b * groups + g, q, f64::from(d), f64::from(m)));
                        }
                    }
                    for r in 0..rows {
                        let blocks: Vec<_> = x.row_blocks(r).collect();
                        let sums = x.block_scaled_sums(r);
                        let (mut exact, mut magnitude) = (0f64, 0f64);
                        for &(g, q, d, m) in &group_terms {
                            let (d_x, qx) = blocks[g];
                            let dot: i64 = q
                                .iter()
                                .zip(qx)
                                .map(|(&w, &x)| {
                                    let w = if ty == GgmlType::Q8_0 {
                                        i64::from(w as i8)
                                    } else {
                                        i64::from(w)
                                    };
                                    w * i64::from(x)
                                })
                                .sum();
                            let scaled = d * f64::from(d_x) * dot as f64;
                            let min = m * f64::from(sums[g]);
                            exact += scaled + min;
                            magnitude += scaled.abs() + min.abs();
                        }
                        want[o * rows + r] = (exact, magnitude);
                    }
                }
                for level in IntLevel::available() {
                    let mut got = vec![0f32; d_out * rows];
                    level.dot_rows(w, 0..d_out, &x, &mut got);
                    for (i, (&g, &(exact, magnitude))) in got.iter().zip(&want).enumerate() {
                        let bound =
                            (groups as f64 + 8.0) * f64::from(f32::EPSILON / 2.0) * magnitude;
                        assert!(
                            (f64::from(g) - exact).abs() <= bound,
                            "{ty} {level:?} {rows} rows, output {i}: {g} vs {exact} (bound {bound:e})"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn quantised_blocks_keep_scale_sum_and_non_finite_values() {
        let mut x: Vec<f32> = (0..96).map(|i| (i as f32 - 40.0) / 8.0).collect();
        x[70] = f32::NAN;
        let q = Q8Rows::quantize(&x, 96);
        let blocks: Vec<_> = q.row_blocks(0).collect();
        // Block 0: values −5 … −1.125, max |x| = 5 → d = 5/127; −5 maps to −127.
        assert_eq!(blocks[0].0, 5.0 / 127.0);
        assert_eq!(blocks[0].1[0], -127);
        for (i, &v) in x[..32].iter().enumerate() {
            let back = blocks[0].0 * f32::from(blocks[0].1[i]);
            assert!((back - v).abs() <= blocks[0].0 / 2.0 * 1.0001, "value {i}");
        }
        let sum: i32 = blocks[1].1.iter().map(|&q| i32::from(q)).sum();
        assert_eq!(q.block_scaled_sums(0)[1], blocks[1].0 * sum as f32);
        assert!(blocks[2].0.is_nan(), "a NaN makes its block's scale NaN");
        let zeros = Q8Rows::quantize(&[0.0; 32], 32);
        assert_eq!(zeros.row_blocks(0).next().unwrap().0, 0.0);
    }
}
