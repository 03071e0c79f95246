//! [`GgufTensorInfo`]: where a tensor lies in a GGUF file and what it holds.

use super::ggml_type::GgmlType;

/// One entry of a GGUF file's tensor table.
///
/// **Shape order.** GGUF (like ggml) lists dimensions innermost first: a Hugging Face
/// `q_proj.weight` of shape `[out, in]` is stored with dims `[in, out]`. `shape` is given in
/// row-major order, outermost first, as PyTorch and Hugging Face write it (`[out, in]`,
/// `token_embd.weight` as `[vocab, hidden]`), and the values [`GgufFile::tensor_f32`] returns
/// are laid out row-major in that shape. [`ggml_dims`](Self::ggml_dims) gives the file's order.
///
/// [`GgufFile::tensor_f32`]: super::GgufFile::tensor_f32
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GgufTensorInfo {
    /// The tensor's name (`blk.0.attn_q.weight`).
    pub name: String,
    /// The shape in row-major order (outermost dimension first).
    pub shape: Vec<usize>,
    /// The element type, or `None` when the file names a type id this reader does not know.
    pub ggml_type: Option<GgmlType>,
    /// The element type's numeric id as stored.
    pub type_id: u32,
    /// Offset of the tensor's data from the start of the file's data section.
    pub offset: u64,
}

impl GgufTensorInfo {
    /// The number of values (the product of the shape; 1 for a scalar).
    pub fn n_elements(&self) -> usize {
        self.shape.iter().product()
    }

    /// The number of bytes the data takes, when the type is known.
    pub fn n_bytes(&self) -> Option<usize> {
        self.ggml_type.and_then(|t| t.bytes_for(self.n_elements()))
    }

    /// The dimensions in the file's order, innermost first (ggml's `ne`).
    pub fn ggml_dims(&self) -> Vec<usize> {
        self.shape.iter().rev().copied().collect()
    }

    /// The type's name (`Q4_K`), or `type 99` for an unknown id.
    pub fn type_name(&self) -> String {
        match self.ggml_type {
            Some(t) => t.name().to_owned(),
            None => format!("type {}", self.type_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_is_row_major_and_dims_are_innermost_first() {
        let t = GgufTensorInfo {
            name: "blk.0.attn_k.weight".into(),
            shape: vec![192, 576],
            ggml_type: Some(GgmlType::Q4_1),
            type_id: 3,
            offset: 0,
        };
        assert_eq!(t.ggml_dims(), vec![576, 192]);
        assert_eq!(t.n_elements(), 192 * 576);
        assert_eq!(t.n_bytes(), Some(192 * 576 / 32 * 20));
        assert_eq!(t.type_name(), "Q4_1");
    }
}
