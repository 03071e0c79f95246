//! [`GgmlType`]: the element types a GGUF tensor can have, with their block geometry.

use std::fmt;

/// The element type of a GGUF tensor (ggml's `ggml_type`), as stored in the tensor info.
///
/// Quantized types store values in blocks: [`block_size`](GgmlType::block_size) values take
/// [`type_size`](GgmlType::type_size) bytes. Every type of the GGUF specification is listed so
/// that the byte extent of any tensor can be checked; only those for which
/// [`can_dequantize`](GgmlType::can_dequantize) is true can be turned into `f32` by lux:
/// `F32`, `F16`, `BF16`, `Q8_0`, `Q4_0`, `Q4_1`, `Q4_K` and `Q6_K`.
///
/// Variant names are ggml's own (`Q4_K`), so they read like the llama.cpp documentation.
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GgmlType {
    /// 32-bit IEEE float.
    F32,
    /// 16-bit IEEE half float.
    F16,
    /// 4-bit, blocks of 32: one f16 scale, `x = d·(q − 8)`.
    Q4_0,
    /// 4-bit, blocks of 32: f16 scale and minimum, `x = d·q + m`.
    Q4_1,
    /// 5-bit, blocks of 32 with one scale.
    Q5_0,
    /// 5-bit, blocks of 32 with scale and minimum.
    Q5_1,
    /// 8-bit, blocks of 32: one f16 scale, `x = d·q`.
    Q8_0,
    /// 8-bit, blocks of 32 with an f32 scale and sum (used for activations).
    Q8_1,
    /// 2-bit k-quant, super-blocks of 256.
    Q2_K,
    /// 3-bit k-quant, super-blocks of 256.
    Q3_K,
    /// 4-bit k-quant, super-blocks of 256 with 6-bit sub-block scales and minimums.
    Q4_K,
    /// 5-bit k-quant, super-blocks of 256.
    Q5_K,
    /// 6-bit k-quant, super-blocks of 256 with 8-bit sub-block scales.
    Q6_K,
    /// 8-bit k-quant (used for activations).
    Q8_K,
    /// i-quant, 2.06 bits per weight.
    IQ2_XXS,
    /// i-quant, 2.31 bits per weight.
    IQ2_XS,
    /// i-quant, 3.06 bits per weight.
    IQ3_XXS,
    /// i-quant, 1.56 bits per weight.
    IQ1_S,
    /// i-quant, non-linear 4-bit, blocks of 32.
    IQ4_NL,
    /// i-quant, 3.44 bits per weight.
    IQ3_S,
    /// i-quant, 2.5 bits per weight.
    IQ2_S,
    /// i-quant, 4.25 bits per weight.
    IQ4_XS,
    /// 8-bit signed integer.
    I8,
    /// 16-bit signed integer.
    I16,
    /// 32-bit signed integer.
    I32,
    /// 64-bit signed integer.
    I64,
    /// 64-bit IEEE float.
    F64,
    /// i-quant, 1.75 bits per weight.
    IQ1_M,
    /// bfloat16: the upper half of an f32.
    BF16,
    /// ternary quant, 1.69 bits per weight.
    TQ1_0,
    /// ternary quant, 2.06 bits per weight.
    TQ2_0,
    /// microscaling FP4, blocks of 32.
    MXFP4,
    /// NVIDIA FP4, blocks of 64.
    NVFP4,
    /// 1-bit, blocks of 128.
    Q1_0,
}

/// `(type, id, name, values per block, bytes per block)`, from the GGUF specification.
const TABLE: &[(GgmlType, u32, &str, usize, usize)] = {
    use GgmlType::*;
    const QK_K: usize = 256;
    &[
        (F32, 0, "F32", 1, 4),
        (F16, 1, "F16", 1, 2),
        (Q4_0, 2, "Q4_0", 32, 2 + 16),
        (Q4_1, 3, "Q4_1", 32, 2 + 2 + 16),
        (Q5_0, 6, "Q5_0", 32, 2 + 4 + 16),
        (Q5_1, 7, "Q5_1", 32, 2 + 2 + 4 + 16),
        (Q8_0, 8, "Q8_0", 32, 2 + 32),
        (Q8_1, 9, "Q8_1", 32, 4 + 4 + 32),
        (Q2_K, 10, "Q2_K", QK_K, 2 + 2 + QK_K / 16 + QK_K / 4),
        (Q3_K, 11, "Q3_K", QK_K, 2 + QK_K / 4 + QK_K / 8 + 12),
        (Q4_K, 12, "Q4_K", QK_K, 2 + 2 + 12 + QK_K / 2),
        (Q5_K, 13, "Q5_K", QK_K, 2 + 2 + 12 + QK_K / 8 + QK_K / 2),
        (Q6_K, 14, "Q6_K", QK_K, QK_K / 2 + QK_K / 4 + QK_K / 16 + 2),
        (Q8_K, 15, "Q8_K", QK_K, 4 + QK_K + QK_K / 8),
        (IQ2_XXS, 16, "IQ2_XXS", QK_K, 2 + QK_K / 4),
        (IQ2_XS, 17, "IQ2_XS", QK_K, 2 + QK_K / 4 + QK_K / 32),
        (IQ3_XXS, 18, "IQ3_XXS", QK_K, 2 + QK_K / 4 + QK_K / 8),
        (IQ1_S, 19, "IQ1_S", QK_K, 2 + QK_K / 8 + QK_K / 16),
        (IQ4_NL, 20, "IQ4_NL", 32, 2 + 16),
        (
            IQ3_S,
            21,
            "IQ3_S",
            QK_K,
            2 + QK_K / 4 + QK_K / 8 + QK_K / 32 + 4,
        ),
        (IQ2_S, 22, "IQ2_S", QK_K, 2 + QK_K / 4 + QK_K / 16),
        (IQ4_XS, 23, "IQ4_XS", QK_K, 2 + 2 + QK_K / 2 + QK_K / 64),
        (I8, 24, "I8", 1, 1),
        (I16, 25, "I16", 1, 2),
        (I32, 26, "I32", 1, 4),
        (I64, 27, "I64", 1, 8),
        (F64, 28, "F64", 1, 8),
        (IQ1_M, 29, "IQ1_M", QK_K, QK_K / 8 + QK_K / 16 + QK_K / 32),
        (BF16, 30, "BF16", 1, 2),
        (TQ1_0, 34, "TQ1_0", QK_K, 2 + 4 * 13),
        (TQ2_0, 35, "TQ2_0", QK_K, 2 + 64),
        (MXFP4, 39, "MXFP4", 32, 1 + 16),
        (NVFP4, 40, "NVFP4", 64, 4 + 32),
        (Q1_0, 41, "Q1_0", 128, 2 + 16),
    ]
};

impl GgmlType {
    /// The type with ggml id `id`, or `None` for an id this reader does not know.
    pub fn from_id(id: u32) -> Option<GgmlType> {
        TABLE.iter().find(|row| row.1 == id).map(|row| row.0)
    }

    fn row(self) -> &'static (GgmlType, u32, &'static str, usize, usize) {
        // Every variant has exactly one row (checked by a test).
        TABLE.iter().find(|row| row.0 == self).unwrap_or(&TABLE[0])
    }

    /// ggml's numeric id (`Q4_K` is 12).
    pub fn id(self) -> u32 {
        self.row().1
    }

    /// ggml's name (`"Q4_K"`).
    pub fn name(self) -> &'static str {
        self.row().2
    }

    /// How many values one block holds (1 for plain types, 32 or 256 for quantized ones).
    pub fn block_size(self) -> usize {
        self.row().3
    }

    /// How many bytes one block takes.
    pub fn type_size(self) -> usize {
        self.row().4
    }

    /// Bytes taken by `n_values` values, or `None` when `n_values` is not a whole number of
    /// blocks (or the size overflows).
    pub fn bytes_for(self, n_values: usize) -> Option<usize> {
        if !n_values.is_multiple_of(self.block_size()) {
            return None;
        }
        (n_values / self.block_size()).checked_mul(self.type_size())
    }

    /// Whether lux can dequantize this type to `f32` (see [`dequantize`](super::dequantize)).
    pub fn can_dequantize(self) -> bool {
        SUPPORTED.contains(&self)
    }
}

/// The types [`dequantize`](super::dequantize) handles.
pub(crate) const SUPPORTED: [GgmlType; 8] = [
    GgmlType::F32,
    GgmlType::F16,
    GgmlType::BF16,
    GgmlType::Q8_0,
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q4_K,
    GgmlType::Q6_K,
];

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_round_trips_through_its_id() {
        for &(ty, id, name, _, _) in TABLE {
            assert_eq!(GgmlType::from_id(id), Some(ty));
            assert_eq!(ty.id(), id);
            assert_eq!(ty.name(), name);
            assert_eq!(format!("{ty:?}"), name);
        }
        assert_eq!(GgmlType::from_id(4), None);
        assert_eq!(GgmlType::from_id(1000), None);
    }

    #[test]
    fn block_geometry_matches_the_spec() {
        assert_eq!(
            (GgmlType::Q8_0.block_size(), GgmlType::Q8_0.type_size()),
            (32, 34)
        );
        assert_eq!(
            (GgmlType::Q4_0.block_size(), GgmlType::Q4_0.type_size()),
            (32, 18)
        );
        assert_eq!(
            (GgmlType::Q4_1.block_size(), GgmlType::Q4_1.type_size()),
            (32, 20)
        );
        assert_eq!(
            (GgmlType::Q4_K.block_size(), GgmlType::Q4_K.type_size()),
            (256, 144)
        );
        assert_eq!(
            (GgmlType::Q6_K.block_size(), GgmlType::Q6_K.type_size()),
            (256, 210)
        );
        assert_eq!(GgmlType::Q4_1.bytes_for(64), Some(40));
        assert_eq!(GgmlType::Q4_1.bytes_for(33), None);
        assert_eq!(GgmlType::F16.bytes_for(3), Some(6));
        assert!(GgmlType::Q6_K.can_dequantize() && !GgmlType::Q5_K.can_dequantize());
    }
}
