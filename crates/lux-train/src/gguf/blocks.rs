//! ggml's block layouts: one function per quantized type that decodes one block to `f32`.
//!
//! Each function is written from the block layout described in the ggml/GGUF documentation and
//! computes in the same order as ggml's reference dequantisation (scale products first, one
//! rounding at the end), so results match `gguf`'s Python dequantiser bit for bit.
//!
//! All multi-byte fields are little-endian; `f16` is an IEEE half float.

use half::f16;

/// Values per block of the 32-value types (`Q8_0`, `Q4_0`, `Q4_1`).
pub const QK: usize = 32;
/// Values per super-block of the k-quants (`Q4_K`, `Q6_K`).
pub const QK_K: usize = 256;

#[inline(always)]
fn f16_at(bytes: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([bytes[at], bytes[at + 1]]).to_f32()
}

/// `Q8_0` (34 bytes → 32 values): `d: f16`, then 32 `i8` quants; `x[i] = d · q[i]`.
// Always inlined: the quantised kernels call it from loops compiled for AVX-512/AVX2, and
// only an inlined copy is vectorised for them.
#[inline(always)]
pub fn dequantize_q8_0(block: &[u8; 34], out: &mut [f32; QK]) {
    let d = f16_at(block, 0);
    for (o, &q) in out.iter_mut().zip(&block[2..]) {
        *o = f32::from(q as i8) * d;
    }
}

/// `Q4_0` (18 bytes → 32 values): `d: f16`, then 16 bytes of 4-bit quants. Byte `j` holds value
/// `j` in its low nibble and value `j + 16` in its high nibble; `x = d · (q − 8)`.
// Always inlined: the quantised kernels call it from loops compiled for AVX-512/AVX2, and
// only an inlined copy is vectorised for them.
#[inline(always)]
pub fn dequantize_q4_0(block: &[u8; 18], out: &mut [f32; QK]) {
    let d = f16_at(block, 0);
    let (low, high) = out.split_at_mut(QK / 2);
    for ((lo, hi), &q) in low.iter_mut().zip(high).zip(&block[2..]) {
        *lo = f32::from((q & 0x0F) as i8 - 8) * d;
        *hi = f32::from((q >> 4) as i8 - 8) * d;
    }
}

/// `Q4_1` (20 bytes → 32 values): `d: f16`, `m: f16`, then 16 bytes of 4-bit quants laid out as
/// in [`dequantize_q4_0`]; `x = d · q + m`.
// Always inlined: the quantised kernels call it from loops compiled for AVX-512/AVX2, and
// only an inlined copy is vectorised for them.
#[inline(always)]
pub fn dequantize_q4_1(block: &[u8; 20], out: &mut [f32; QK]) {
    let d = f16_at(block, 0);
    let m = f16_at(block, 2);
    let (low, high) = out.split_at_mut(QK / 2);
    for ((lo, hi), &q) in low.iter_mut().zip(high).zip(&block[4..]) {
        *lo = f32::from(q & 0x0F) * d + m;
        *hi = f32::from(q >> 4) * d + m;
    }
}

/// The 6-bit scale and minimum of sub-block `j` (0..8) of a `Q4_K` block, from its 12 packed
/// bytes: bytes 0–3 hold scales 0–3 in their low 6 bits, bytes 4–7 minimums 0–3; sub-blocks
/// 4–7 take their low 4 bits from bytes 8–11 (scale low nibble, minimum high nibble) and their
/// top 2 bits from the top 2 bits of bytes 0–3 (scales) and 4–7 (minimums).
#[inline(always)]
pub fn q4_k_scale_min(j: usize, packed: &[u8; 12]) -> (u8, u8) {
    if j < 4 {
        (packed[j] & 0x3F, packed[j + 4] & 0x3F)
    } else {
        (
            (packed[j + 4] & 0x0F) | ((packed[j - 4] >> 6) << 4),
            (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4),
        )
    }
}

/// `Q4_K` (144 bytes → 256 values): `d: f16`, `dmin: f16`, 12 bytes of packed 6-bit scales and
/// minimums for 8 sub-blocks of 32 (see [`q4_k_scale_min`]), then 128 bytes of 4-bit quants in
/// 4 chunks of 32 bytes; chunk `c` holds sub-block `2c` in its low nibbles and `2c + 1` in its
/// high nibbles. `x = (d · scale) · q − dmin · min`.
// Always inlined: the quantised kernels call it from loops compiled for AVX-512/AVX2, and
// only an inlined copy is vectorised for them.
#[inline(always)]
pub fn dequantize_q4_k(block: &[u8; 144], out: &mut [f32; QK_K]) {
    let d = f16_at(block, 0);
    let dmin = f16_at(block, 2);
    let packed: &[u8; 12] = block[4..16].try_into().unwrap_or(&[0; 12]);
    let quants = &block[16..];
    for (c, (q, o)) in quants
        .chunks_exact(32)
        .zip(out.chunks_exact_mut(64))
        .enumerate()
    {
        let (sc_lo, min_lo) = q4_k_scale_min(2 * c, packed);
        let (sc_hi, min_hi) = q4_k_scale_min(2 * c + 1, packed);
        let (d_lo, m_lo) = (d * f32::from(sc_lo), dmin * f32::from(min_lo));
        let (d_hi, m_hi) = (d * f32::from(sc_hi), dmin * f32::from(min_hi));
        let (lo, hi) = o.split_at_mut(32);
        for ((lo, hi), &q) in lo.iter_mut().zip(hi).zip(q) {
            *lo = d_lo * f32::from(q & 0x0F) - m_lo;
            *hi = d_hi * f32::from(q >> 4) - m_hi;
        }
    }
}

/// `Q6_K` (210 bytes → 256 values): 128 bytes `ql` (low 4 bits), 64 bytes `qh` (high 2 bits),
/// 16 `i8` scales (one per 16 values), then `d: f16`. The block is two halves of 128 values;
/// half `h` uses `ql[64h..]`, `qh[32h..]`, and for `l` in 0..32 builds
/// value `l` from `ql[l]` low nibble + `qh[l]` bits 0–1, value `l + 32` from `ql[l + 32]` low
/// nibble + bits 2–3, value `l + 64` from `ql[l]` high nibble + bits 4–5, value `l + 96` from
/// `ql[l + 32]` high nibble + bits 6–7. `x = (d · scale[i / 16]) · (q − 32)`.
// Always inlined: the quantised kernels call it from loops compiled for AVX-512/AVX2, and
// only an inlined copy is vectorised for them.
#[inline(always)]
pub fn dequantize_q6_k(block: &[u8; 210], out: &mut [f32; QK_K]) {
    let (ql, rest) = block.split_at(QK_K / 2);
    let (qh, rest) = rest.split_at(QK_K / 4);
    let (scales, d) = rest.split_at(QK_K / 16);
    let d = f16_at(d, 0);
    let mut scaled = [0f32; QK_K / 16];
    for (s, &sc) in scaled.iter_mut().zip(scales) {
        *s = d * f32::from(sc as i8);
    }
    for h in 0..2 {
        let ql = &ql[64 * h..64 * h + 64];
        let qh = &qh[32 * h..32 * h + 32];
        let scaled = &scaled[8 * h..8 * h + 8];
        let o = &mut out[128 * h..128 * h + 128];
        for l in 0..32 {
            let (a, b, hb) = (ql[l], ql[l + 32], qh[l]);
            let q1 = ((a & 0x0F) | ((hb & 0x03) << 4)) as i8 - 32;
            let q2 = ((b & 0x0F) | (((hb >> 2) & 0x03) << 4)) as i8 - 32;
            let q3 = ((a >> 4) | (((hb >> 4) & 0x03) << 4)) as i8 - 32;
            let q4 = ((b >> 4) | (((hb >> 6) & 0x03) << 4)) as i8 - 32;
            let is = l / 16;
            o[l] = scaled[is] * f32::from(q1);
            o[l + 32] = scaled[is + 2] * f32::from(q2);
            o[l + 64] = scaled[is + 4] * f32::from(q3);
            o[l + 96] = scaled[is + 6] * f32::from(q4);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(x: f32) -> [u8; 2] {
        f16::from_f32(x).to_le_bytes()
    }

    #[test]
    fn q8_0_scales_signed_bytes() {
        let mut b = [0u8; 34];
        b[..2].copy_from_slice(&h(0.5));
        for i in 0..32 {
            b[2 + i] = (i as i8 - 16) as u8;
        }
        b[2] = (-128i8) as u8;
        b[33] = 127;
        let mut out = [0f32; 32];
        dequantize_q8_0(&b, &mut out);
        assert_eq!(out[0], -64.0);
        assert_eq!(out[1], -7.5);
        assert_eq!(out[16], 0.0);
        assert_eq!(out[31], 63.5);
    }

    #[test]
    fn q4_0_low_nibbles_first_then_high() {
        let mut b = [0u8; 18];
        b[..2].copy_from_slice(&h(2.0));
        b[2] = 0xF0; // value 0 = 0 - 8, value 16 = 15 - 8
        b[17] = 0x08; // value 15 = 0, value 31 = -8
        let mut out = [0f32; 32];
        dequantize_q4_0(&b, &mut out);
        assert_eq!(out[0], -16.0);
        assert_eq!(out[16], 14.0);
        assert_eq!(out[15], 0.0);
        assert_eq!(out[31], -16.0);
        assert_eq!(out[1], -16.0);
    }

    #[test]
    fn q4_1_adds_the_minimum() {
        let mut b = [0u8; 20];
        b[..2].copy_from_slice(&h(0.25));
        b[2..4].copy_from_slice(&h(-1.0));
        b[4] = 0x4F; // value 0: 15, value 16: 4
        let mut out = [0f32; 32];
        dequantize_q4_1(&b, &mut out);
        assert_eq!(out[0], 15.0 * 0.25 - 1.0);
        assert_eq!(out[16], 4.0 * 0.25 - 1.0);
        assert_eq!(out[1], -1.0);
    }

    #[test]
    fn q4_k_unpacks_six_bit_scales_and_minimums() {
        // Scales 1..=8 and minimums 9..=16 for sub-blocks 0..8, plus top bits for 4..8.
        let scales: [u8; 8] = [1, 2, 3, 4, 37, 38, 39, 40];
        let mins: [u8; 8] = [9, 10, 11, 12, 61, 62, 63, 48];
        let mut packed = [0u8; 12];
        for j in 0..4 {
            packed[j] = scales[j] | ((scales[j + 4] >> 4) << 6);
            packed[j + 4] = mins[j] | ((mins[j + 4] >> 4) << 6);
            packed[j + 8] = (scales[j + 4] & 0x0F) | ((mins[j + 4] & 0x0F) << 4);
        }
        for j in 0..8 {
            assert_eq!(
                q4_k_scale_min(j, &packed),
                (scales[j], mins[j]),
                "sub-block {j}"
            );
        }
        let mut b = [0u8; 144];
        b[..2].copy_from_slice(&h(0.5));
        b[2..4].copy_from_slice(&h(0.25));
        b[4..16].copy_from_slice(&packed);
        for c in 0..4 {
            for l in 0..32 {
                b[16 + 32 * c + l] = ((l % 16) as u8) | (((15 - l % 16) as u8) << 4);
            }
        }
        let mut out = [0f32; 256];
        dequantize_q4_k(&b, &mut out);
        for (i, &x) in out.iter().enumerate() {
            let sub = i / 32;
            let l = i % 32;
            let q = if sub % 2 == 0 { l % 16 } else { 15 - l % 16 } as f32;
            let want = 0.5 * scales[sub] as f32 * q - 0.25 * mins[sub] as f32;
            assert_eq!(x, want, "value {i}");
        }
    }

    #[test]
    fn q6_k_combines_low_and_high_bits() {
        let mut b = [0u8; 210];
        // ql: value l low nibble = l % 16 (for l < 32), value l + 64 high nibble = 15 - l % 16.
        for l in 0..64 {
            b[l] = ((l % 16) as u8) | (((15 - l % 16) as u8) << 4);
            b[64 + l] = b[l];
        }
        // qh: bits 0–1 = 3, bits 2–3 = 0, bits 4–5 = 2, bits 6–7 = 1.
        for l in 0..64 {
            b[128 + l] = 0b01_10_00_11;
        }
        for (s, i) in (192..208).zip(0i8..) {
            b[s] = (i - 8) as u8;
        }
        b[208..210].copy_from_slice(&h(0.5));
        let mut out = [0f32; 256];
        dequantize_q6_k(&b, &mut out);
        for (i, &x) in out.iter().enumerate() {
            let l = i % 32;
            let group = (i % 128) / 32; // which of the four values of position l
            let low = if group < 2 { l % 16 } else { 15 - l % 16 } as i32;
            let high = [3, 0, 2, 1][group];
            let q = (low | (high << 4)) - 32;
            let scale = (i / 16) as i32 - 8;
            assert_eq!(x, 0.5 * scale as f32 * q as f32, "value {i}");
        }
    }
}
