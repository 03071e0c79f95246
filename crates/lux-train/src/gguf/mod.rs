//! GGUF model files: reading, dequantisation to `f32`, and loading into lux's models.
//!
//! GGUF is llama.cpp's single-file model format: a header, typed key/value metadata (the
//! architecture's hyperparameters, the tokenizer, the chat template), a tensor table and aligned
//! tensor data, often block-quantized. This module is lux's own reader of versions 2 and 3
//! (little-endian), written from the GGUF specification; it needs nothing from burn.
//!
//! | file | concept |
//! |---|---|
//! | `reader.rs` | the header parser (the layout below) |
//! | `file.rs` | [`GgufFile`]: open (memory-mapped), check, read tensors |
//! | `metadata.rs` | [`GgufMetadata`]: typed getters whose errors name key and type |
//! | `value.rs` | [`GgufValue`], [`GgufArray`], [`FromGgufValue`] |
//! | `tensor_info.rs` | [`GgufTensorInfo`]: name, row-major shape, type, offset |
//! | `ggml_type.rs` | [`GgmlType`]: every ggml type id with its block geometry |
//! | `blocks.rs` | one decoder per block layout (`Q8_0`, `Q4_0`, `Q4_1`, `Q4_K`, `Q6_K`) |
//! | `dequant.rs` | [`dequantize`]: whole tensors, in parallel |
//! | `permute.rs` | [`unpermute_qk`]: undo llama.cpp's q/k row permutation |
//! | `weights.rs` | [`GgufWeights`]: a [`WeightSource`](crate::model::WeightSource) under HF names |
//! | `tokenizer.rs` | [`GgufFile::tokenizer_metadata`] for [`crate::tokenizer::Tokenizer`] |
//! | `writer.rs` | [`GgufWriter`]: small GGUF files for tests and tools |
//! | `find.rs` | [`find_smollm2`]: the model `scripts/fetch-models.sh` downloads |
//!
//! ## File layout (versions 2 and 3, little-endian)
//!
//! ```text
//! magic        4 bytes "GGUF"
//! version      u32 (2 or 3)
//! tensor_count u64
//! kv_count     u64
//! kv_count ×   key: string, value_type: u32, value
//! tensor_count × name: string, n_dims: u32, dims: n_dims × u64 (innermost first),
//!                type: u32, offset: u64 (from the start of the data section)
//! padding      to `general.alignment` (default 32)
//! data         tensor data, each tensor at an aligned offset
//! ```
//!
//! A string is a u64 byte length and UTF-8 bytes; an array is an element type (u32), a u64
//! count and the elements (an array of arrays repeats type, count and values per element).
//! Value types: 0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32, 7 bool, 8 string, 9 array,
//! 10 u64, 11 i64, 12 f64. Every read is bounds-checked: a damaged file gives an error naming
//! the byte, key or tensor, never a panic or a huge allocation.
//!
//! **Shapes** are row-major, outermost first, as in PyTorch: GGUF stores `[in, out]` for an HF
//! `[out, in]` weight, and lux reports `[out, in]` (see [`GgufTensorInfo`]).
//!
//! ```no_run
//! use lux_train::gguf::{self, GgufFile};
//!
//! # fn main() -> lux_core::Result<()> {
//! let path = gguf::find_smollm2().expect("run scripts/fetch-models.sh");
//! let file = GgufFile::open(&path)?;
//! let meta = file.metadata();
//! let arch = meta.get_str("general.architecture")?;
//! let n_head = meta.get_usize(&format!("{arch}.attention.head_count"))?;
//! let (shape, q) = file.tensor_f32("blk.0.attn_q.weight")?; // [576, 576], llama.cpp order
//! let q = if gguf::needs_qk_unpermute(arch) {
//!     gguf::unpermute_qk(&q, n_head, shape[0] / n_head)? // HF order
//! } else {
//!     q
//! };
//! # Ok(())
//! # }
//! ```

mod blocks;
mod dequant;
mod file;
mod find;
mod ggml_type;
mod metadata;
mod permute;
mod reader;
mod tensor_info;
mod tokenizer;
mod value;
mod weights;
mod writer;

pub use blocks::{
    QK, QK_K, dequantize_q4_0, dequantize_q4_1, dequantize_q4_k, dequantize_q6_k, dequantize_q8_0,
    q4_k_scale_min,
};
pub use dequant::{dequantize, dequantize_into};
pub use file::GgufFile;
pub use find::{find_smollm2, models_dir};
pub use ggml_type::GgmlType;
pub use metadata::GgufMetadata;
pub use permute::{needs_qk_unpermute, permute_qk, unpermute_qk};
pub use reader::{DEFAULT_ALIGNMENT, GGUF_MAGIC, MAX_DIMS};
pub use tensor_info::GgufTensorInfo;
pub use value::{FromGgufValue, GgufArray, GgufValue};
pub use weights::{GgufWeights, gguf_tensor_name};
pub use writer::GgufWriter;

#[cfg(test)]
mod tests;
