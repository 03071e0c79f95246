//! Undoing llama.cpp's row permutation of the query and key projections ([`unpermute_qk`]).

use lux_core::{Error, Result};

/// Whether tensors of a file with this `general.architecture` had their q/k rows permuted by
/// llama.cpp's converter (see [`unpermute_qk`]): true for `"llama"`.
pub fn needs_qk_unpermute(architecture: &str) -> bool {
    architecture == "llama"
}

/// Checks the geometry and returns `(rows, cols)` of a `[n_head · head_dim, cols]` matrix.
fn geometry(len: usize, n_head: usize, head_dim: usize) -> Result<(usize, usize)> {
    if n_head == 0 || head_dim == 0 || !head_dim.is_multiple_of(2) {
        return Err(Error::invalid(
            "head_dim",
            format!(
                "q/k permutation needs n_head > 0 and an even head_dim > 0, got n_head {n_head}, head_dim {head_dim}"
            ),
        ));
    }
    let rows = n_head * head_dim;
    if !len.is_multiple_of(rows) {
        return Err(Error::invalid(
            "n_head",
            format!(
                "{len} values are not a whole number of rows of a [{n_head} × {head_dim}, cols] matrix"
            ),
        ));
    }
    Ok((rows, len / rows))
}

/// Moves every row between the HF order (`i · head_dim/2 + j` within a head) and the GGUF
/// order (`2j + i`): to HF when `to_hf`, else to GGUF.
fn move_rows<T: Copy + Default>(
    data: &[T],
    n_head: usize,
    head_dim: usize,
    to_hf: bool,
) -> Result<Vec<T>> {
    let (_, cols) = geometry(data.len(), n_head, head_dim)?;
    let half = head_dim / 2;
    let mut out = vec![T::default(); data.len()];
    for h in 0..n_head {
        let base = h * head_dim;
        for i in 0..2 {
            for j in 0..half {
                let hf_row = base + i * half + j;
                let gguf_row = base + 2 * j + i;
                let (from, to) = if to_hf {
                    (gguf_row, hf_row)
                } else {
                    (hf_row, gguf_row)
                };
                out[to * cols..(to + 1) * cols]
                    .copy_from_slice(&data[from * cols..(from + 1) * cols]);
            }
        }
    }
    Ok(out)
}

/// Restores Hugging Face's row order of a llama.cpp-permuted `attn_q`/`attn_k` tensor.
///
/// **Why.** Rotary position embeddings rotate pairs of dimensions of each attention head.
/// Hugging Face's Llama implementation (`rotate_half`) pairs dimension `d` with
/// `d + head_dim / 2` (the "half-split" layout); llama.cpp's Llama kernels (rope type *normal*)
/// pair `2j` with `2j + 1` (the interleaved layout of Meta's original checkpoints). When
/// llama.cpp's `convert_hf_to_gguf.py` converts a Llama-architecture model it therefore
/// permutes the **rows** (output features) of `q_proj.weight` and `k_proj.weight`, head by
/// head:
///
/// ```text
/// w.reshape(n_head, 2, head_dim // 2, in_features).swapaxes(1, 2).reshape(w.shape)
/// ```
///
/// so that within a head, GGUF row `2j + i` is HF row `i · head_dim/2 + j` (`i` ∈ {0, 1}).
/// For `k_proj`, `n_head` is the number of **key/value** heads (grouped-query attention).
///
/// **When to apply.** Only to `blk.N.attn_q.weight` (with `{arch}.attention.head_count`) and
/// `blk.N.attn_k.weight` (with `{arch}.attention.head_count_kv`), and their biases if any, of
/// files whose `general.architecture` is `"llama"` ([`needs_qk_unpermute`]) — SmolLM2, Llama
/// 2/3, and Mistral-style models converted as `llama`. Architectures that llama.cpp runs with
/// the half-split ("neox") rotary layout, such as `qwen2`, are stored unpermuted and must be
/// loaded as they are. This function restores the HF layout, after which lux's rotate-half
/// RoPE gives the same attention as llama.cpp; [`GgufWeights`](super::GgufWeights) applies it
/// by itself.
///
/// **Arguments.**
/// `data` is row-major `[n_head · head_dim, cols]` (a weight `[out, in]` as
/// [`GgufFile::tensor_f32`](super::GgufFile::tensor_f32) returns it, or a bias with `cols` = 1).
/// Use the query head count for `attn_q` and the key/value head count for `attn_k`. Errors when
/// `head_dim` is odd or zero, or `data` is not a whole number of such rows.
pub fn unpermute_qk(data: &[f32], n_head: usize, head_dim: usize) -> Result<Vec<f32>> {
    move_rows(data, n_head, head_dim, true)
}

/// The converter's permutation itself (HF → GGUF row order), the inverse of [`unpermute_qk`];
/// for writing GGUF files that llama.cpp reads.
pub fn permute_qk(data: &[f32], n_head: usize, head_dim: usize) -> Result<Vec<f32>> {
    move_rows(data, n_head, head_dim, false)
}

/// [`unpermute_qk`] on rows of any element, e.g. the bytes of a quantised tensor whose rows are
/// whole blocks (a row then moves as its blocks, and the values come out as if unpermuted
/// after dequantising).
pub(crate) fn unpermute_qk_rows<T: Copy + Default>(
    data: &[T],
    n_head: usize,
    head_dim: usize,
) -> Result<Vec<T>> {
    move_rows(data, n_head, head_dim, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The converter's expression, computed literally: view `w` as a C-ordered array of shape
    /// `[n_head, 2, head_dim / 2, cols]`, swap axes 1 and 2, and read it back in C order.
    fn numpy_permute(w: &[f32], n_head: usize, head_dim: usize, cols: usize) -> Vec<f32> {
        let half = head_dim / 2;
        let src_index =
            |h: usize, a: usize, b: usize, c: usize| ((h * 2 + a) * half + b) * cols + c;
        let mut out = Vec::with_capacity(w.len());
        // The swapped array has shape [n_head, half, 2, cols]: element (h, b, a, c) is the
        // original element (h, a, b, c).
        for h in 0..n_head {
            for b in 0..half {
                for a in 0..2 {
                    for c in 0..cols {
                        out.push(w[src_index(h, a, b, c)]);
                    }
                }
            }
        }
        out
    }

    #[test]
    fn matches_the_converter_and_inverts_it() {
        for (n_head, head_dim, cols) in [(1, 2, 1), (1, 6, 1), (3, 8, 5), (9, 64, 3)] {
            let w: Vec<f32> = (0..n_head * head_dim * cols).map(|i| i as f32).collect();
            let converted = numpy_permute(&w, n_head, head_dim, cols);
            assert_eq!(permute_qk(&w, n_head, head_dim).unwrap(), converted);
            assert_eq!(unpermute_qk(&converted, n_head, head_dim).unwrap(), w);
        }
    }

    #[test]
    fn within_a_head_even_rows_come_from_the_first_half() {
        // head_dim 6: HF rows [0 1 2 | 3 4 5] are stored as [0 3 1 4 2 5].
        let hf: Vec<f32> = (0..6).map(|i| i as f32).collect();
        assert_eq!(
            permute_qk(&hf, 1, 6).unwrap(),
            vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]
        );
        assert_eq!(
            unpermute_qk(&[0.0, 3.0, 1.0, 4.0, 2.0, 5.0], 1, 6).unwrap(),
            hf
        );
    }

    #[test]
    fn bad_geometry_is_an_error() {
        assert!(
            unpermute_qk(&[0.0; 6], 1, 3)
                .unwrap_err()
                .to_string()
                .contains("even head_dim")
        );
        assert!(
            unpermute_qk(&[0.0; 10], 2, 4)
                .unwrap_err()
                .to_string()
                .contains("not a whole number")
        );
        assert!(unpermute_qk(&[0.0; 8], 0, 4).is_err());
        assert!(needs_qk_unpermute("llama") && !needs_qk_unpermute("qwen2"));
    }
}
