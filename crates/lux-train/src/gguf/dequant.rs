//! Dequantisation of whole tensors to `f32`: type dispatch and parallel block decoding.

use std::sync::OnceLock;

use half::{bf16, f16};
use lux_core::{Error, Result};

use super::blocks;
use super::ggml_type::{GgmlType, SUPPORTED};

/// Below this many values a tensor is decoded on the calling thread.
const PARALLEL_MIN_VALUES: usize = 1 << 16;

/// Decodes `bytes`, stored as `ty`, into `n_values` `f32`s.
///
/// Supported: `F32`, `F16`, `BF16`, `Q8_0`, `Q4_0`, `Q4_1`, `Q4_K`, `Q6_K`
/// ([`GgmlType::can_dequantize`]). Large tensors are decoded by several threads, one contiguous
/// range of blocks each. Errors: an unsupported type, `n_values` not a whole number of blocks,
/// or a byte length that does not match.
pub fn dequantize(ty: GgmlType, bytes: &[u8], n_values: usize) -> Result<Vec<f32>> {
    let mut out = vec![0f32; n_values];
    dequantize_into(ty, bytes, &mut out)?;
    Ok(out)
}

/// Like [`dequantize`], into a caller's buffer; `out.len()` is the number of values.
pub fn dequantize_into(ty: GgmlType, bytes: &[u8], out: &mut [f32]) -> Result<()> {
    dequantize_checked(ty, bytes, out)
        .map_err(|message| Error::invalid(format!("{ty} data"), message))
}

/// [`dequantize_into`] with a bare message, for callers that add their own context.
pub(crate) fn dequantize_checked(
    ty: GgmlType,
    bytes: &[u8],
    out: &mut [f32],
) -> Result<(), String> {
    if !ty.can_dequantize() {
        let names: Vec<&str> = SUPPORTED.iter().map(|t| t.name()).collect();
        return Err(format!(
            "type {ty} (id {}) cannot be dequantized; lux supports {}",
            ty.id(),
            names.join(", ")
        ));
    }
    let Some(expected) = ty.bytes_for(out.len()) else {
        return Err(format!(
            "{} values are not a whole number of {ty} blocks of {}",
            out.len(),
            ty.block_size()
        ));
    };
    if bytes.len() != expected {
        return Err(format!(
            "{} values of {ty} take {expected} bytes, got {}",
            out.len(),
            bytes.len()
        ));
    }
    match ty {
        GgmlType::F32 => decode_blocks(bytes, out, |b: &[u8; 4], o: &mut [f32; 1]| {
            o[0] = f32::from_le_bytes(*b);
        }),
        GgmlType::F16 => decode_blocks(bytes, out, |b: &[u8; 2], o: &mut [f32; 1]| {
            o[0] = f16::from_le_bytes(*b).to_f32();
        }),
        GgmlType::BF16 => decode_blocks(bytes, out, |b: &[u8; 2], o: &mut [f32; 1]| {
            o[0] = bf16::from_le_bytes(*b).to_f32();
        }),
        GgmlType::Q8_0 => decode_blocks(bytes, out, blocks::dequantize_q8_0),
        GgmlType::Q4_0 => decode_blocks(bytes, out, blocks::dequantize_q4_0),
        GgmlType::Q4_1 => decode_blocks(bytes, out, blocks::dequantize_q4_1),
        GgmlType::Q4_K => decode_blocks(bytes, out, blocks::dequantize_q4_k),
        GgmlType::Q6_K => decode_blocks(bytes, out, blocks::dequantize_q6_k),
        _ => unreachable!("can_dequantize() covers exactly the types matched above"),
    }
    Ok(())
}

/// How many threads to use: the machine's parallelism, read once.
fn max_threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Applies `decode` to every `B`-byte block of `bytes` and `N`-value block of `out` (lengths
/// already checked), splitting large tensors into one contiguous range per thread.
fn decode_blocks<const B: usize, const N: usize>(
    bytes: &[u8],
    out: &mut [f32],
    decode: impl Fn(&[u8; B], &mut [f32; N]) + Copy + Send + Sync,
) {
    let n_values = out.len();
    let (blocks, _) = bytes.as_chunks::<B>();
    let (outs, _) = out.as_chunks_mut::<N>();
    let run = move |blocks: &[[u8; B]], outs: &mut [[f32; N]]| {
        for (b, o) in blocks.iter().zip(outs) {
            decode(b, o);
        }
    };
    let threads = max_threads().min(n_values / PARALLEL_MIN_VALUES).max(1);
    if threads == 1 {
        run(blocks, outs);
        return;
    }
    let per_thread = blocks.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let mut parts = blocks.chunks(per_thread).zip(outs.chunks_mut(per_thread));
        let first = parts.next();
        for (b, o) in parts {
            scope.spawn(move || run(b, o));
        }
        if let Some((b, o)) = first {
            run(b, o);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_types_are_exact() {
        let vals = [0.0f32, -0.0, 1.5, -2.25, 65504.0, 6.1e-5, f32::INFINITY];
        let bytes: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(dequantize(GgmlType::F32, &bytes, 7).unwrap(), vals);
        let bytes: Vec<u8> = vals
            .iter()
            .flat_map(|&v| f16::from_f32(v).to_le_bytes())
            .collect();
        let got = dequantize(GgmlType::F16, &bytes, 7).unwrap();
        for (g, v) in got.iter().zip(vals) {
            assert_eq!(*g, f16::from_f32(v).to_f32());
        }
        let bytes: Vec<u8> = vals
            .iter()
            .flat_map(|&v| bf16::from_f32(v).to_le_bytes())
            .collect();
        let got = dequantize(GgmlType::BF16, &bytes, 7).unwrap();
        assert_eq!(got[3], -2.25);
        assert!(got[0].to_bits() == 0 && got[1].to_bits() == 0x8000_0000);
    }

    #[test]
    fn parallel_and_serial_decoding_agree() {
        // Enough Q4_1 blocks to use several threads; a block's scale depends on its index.
        let n_blocks = 3 * PARALLEL_MIN_VALUES / 32 + 7;
        let mut bytes = Vec::with_capacity(n_blocks * 20);
        for i in 0..n_blocks {
            bytes.extend_from_slice(&f16::from_f32((i % 97) as f32 / 64.0).to_le_bytes());
            bytes.extend_from_slice(&f16::from_f32(-((i % 13) as f32)).to_le_bytes());
            bytes.extend((0..16).map(|j| (i * 31 + j * 7) as u8));
        }
        let got = dequantize(GgmlType::Q4_1, &bytes, n_blocks * 32).unwrap();
        let mut want = vec![0f32; n_blocks * 32];
        for (b, o) in bytes.chunks_exact(20).zip(want.chunks_exact_mut(32)) {
            blocks::dequantize_q4_1(b.try_into().unwrap(), o.try_into().unwrap());
        }
        assert_eq!(got, want);
    }

    #[test]
    fn mismatches_and_unsupported_types_are_errors() {
        let e = dequantize(GgmlType::Q8_0, &[0; 34], 33)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a whole number of Q8_0 blocks of 32"), "{e}");
        let e = dequantize(GgmlType::Q8_0, &[0; 33], 32)
            .unwrap_err()
            .to_string();
        assert!(e.contains("take 34 bytes, got 33"), "{e}");
        let e = dequantize(GgmlType::Q5_K, &[0; 176], 256)
            .unwrap_err()
            .to_string();
        assert!(e.contains("Q5_K (id 13) cannot be dequantized"), "{e}");
        assert!(dequantize(GgmlType::Q6_K, &[], 0).unwrap().is_empty());
    }
}
