//! [`GgufWeights`]: a GGUF file as a [`WeightSource`] under Hugging Face tensor names.

use std::path::Path;

use lux_core::{Error, Result};

use super::file::GgufFile;
use super::permute::{needs_qk_unpermute, unpermute_qk, unpermute_qk_rows};
use crate::model::{QuantizedWeight, WeightSource, WeightTensor};

/// The GGUF name of a Llama-family tensor given its Hugging Face name, following llama.cpp's
/// tensor naming (`model.layers.3.self_attn.q_proj.weight` → `blk.3.attn_q.weight`,
/// `model.embed_tokens.weight` → `token_embd.weight`, `lm_head.weight` → `output.weight`);
/// `None` for a name outside that scheme.
pub fn gguf_tensor_name(hf_name: &str) -> Option<String> {
    let (stem, suffix) = hf_name.rsplit_once('.')?;
    if suffix != "weight" && suffix != "bias" {
        return None;
    }
    let fixed = match stem {
        "model.embed_tokens" => Some("token_embd"),
        "model.norm" => Some("output_norm"),
        "lm_head" => Some("output"),
        _ => None,
    };
    if let Some(fixed) = fixed {
        return Some(format!("{fixed}.{suffix}"));
    }
    let rest = stem.strip_prefix("model.layers.")?;
    let (layer, part) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let part = match part {
        "input_layernorm" => "attn_norm",
        "post_attention_layernorm" => "ffn_norm",
        "self_attn.q_proj" => "attn_q",
        "self_attn.k_proj" => "attn_k",
        "self_attn.v_proj" => "attn_v",
        "self_attn.o_proj" => "attn_output",
        "mlp.gate_proj" => "ffn_gate",
        "mlp.up_proj" => "ffn_up",
        "mlp.down_proj" => "ffn_down",
        _ => return None,
    };
    Some(format!("blk.{layer}.{part}.{suffix}"))
}

/// A GGUF file serving its tensors under Hugging Face names, dequantized to `f32`, with
/// llama.cpp's q/k row permutation undone for `llama` files (see [`unpermute_qk`]).
///
/// A tied model has no `output.weight`: `lm_head.weight` is then absent (`Ok(None)`), and the
/// model reuses the embedding.
///
/// With [`keep_quantized`](Self::keep_quantized), linear weights stored in a type the kernels
/// multiply with are handed over in their blocks instead ([`WeightSource::take_quantized`]).
#[derive(Debug)]
pub struct GgufWeights {
    file: GgufFile,
    /// `(query heads, key/value heads)` when q/k rows must be unpermuted.
    unpermute: Option<(usize, usize)>,
    /// Whether linear weights stay in their quantised blocks.
    keep_quantized: bool,
}

impl GgufWeights {
    /// Opens a GGUF file as a weight source.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::new(GgufFile::open(path)?)
    }

    /// Wraps an opened file. For `general.architecture == "llama"` the head counts
    /// (`llama.attention.head_count`, `llama.attention.head_count_kv`, default the former) must
    /// be present.
    pub fn new(file: GgufFile) -> Result<Self> {
        let arch = file.architecture()?.to_owned();
        let unpermute = if needs_qk_unpermute(&arch) {
            let meta = file.metadata();
            let n_head = meta.get_usize(&format!("{arch}.attention.head_count"))?;
            let n_head_kv = meta
                .get_opt::<usize>(&format!("{arch}.attention.head_count_kv"))?
                .unwrap_or(n_head);
            Some((n_head, n_head_kv))
        } else {
            None
        };
        Ok(Self {
            file,
            unpermute,
            keep_quantized: false,
        })
    }

    /// Keeps linear weights (`*_proj`, `lm_head`) stored as `Q8_0`, `Q4_0`, `Q4_1`, `Q4_K` or
    /// `Q6_K` in their blocks (see [`QuantizedWeight`]); other types (`F32`, `F16`…) and the
    /// embedding and norms are still dequantised. Off by default.
    pub fn keep_quantized(mut self, keep: bool) -> Self {
        self.keep_quantized = keep;
        self
    }

    /// The `[out, in]` weight `gguf_name` in its blocks, q/k rows restored to HF order; `None`
    /// when it is not a 2-D tensor of a kernel type.
    pub(crate) fn quantized_tensor(&self, gguf_name: &str) -> Result<Option<QuantizedWeight>> {
        let Some(info) = self.file.tensor_info(gguf_name) else {
            return Ok(None);
        };
        let Some(ty) = info
            .ggml_type
            .filter(|t| QuantizedWeight::TYPES.contains(t))
        else {
            return Ok(None);
        };
        let &[d_out, d_in] = info.shape.as_slice() else {
            return Ok(None);
        };
        let location = || Some(format!("tensor \"{gguf_name}\""));
        let bytes = self.file.tensor_bytes(gguf_name)?;
        let bytes = match self.heads_to_unpermute(gguf_name) {
            None => bytes.to_vec(),
            Some(n_head) => {
                if n_head == 0 || !d_out.is_multiple_of(n_head) {
                    return Err(Error::parse(
                        self.file.path(),
                        location(),
                        format!("{d_out} rows cannot be split into {n_head} heads"),
                    ));
                }
                unpermute_qk_rows(bytes, n_head, d_out / n_head)
                    .map_err(|e| Error::parse(self.file.path(), location(), e.to_string()))?
            }
        };
        QuantizedWeight::new(ty, [d_out, d_in], bytes)
            .map(Some)
            .map_err(|e| Error::parse(self.file.path(), location(), e.to_string()))
    }

    /// The head count whose q/k row permutation `gguf_name` must have undone, if any.
    fn heads_to_unpermute(&self, gguf_name: &str) -> Option<usize> {
        match (self.unpermute, gguf_name.split('.').nth(2)) {
            (Some((n_head, _)), Some("attn_q")) => Some(n_head),
            (Some((_, n_head_kv)), Some("attn_k")) => Some(n_head_kv),
            _ => None,
        }
    }

    /// The underlying file (metadata, tensor table).
    pub fn file(&self) -> &GgufFile {
        &self.file
    }

    /// Gives the file back.
    pub fn into_inner(self) -> GgufFile {
        self.file
    }
}

impl WeightSource for GgufWeights {
    fn take(&mut self, name: &str) -> Result<Option<WeightTensor>> {
        let Some(gguf_name) = gguf_tensor_name(name) else {
            return Ok(None);
        };
        if self.file.tensor_info(&gguf_name).is_none() {
            return Ok(None);
        }
        let (shape, data) = self.file.tensor_f32(&gguf_name)?;
        let Some(n_head) = self.heads_to_unpermute(&gguf_name) else {
            return Ok(Some((shape, data)));
        };
        let rows = shape.first().copied().unwrap_or(0);
        let location = || Some(format!("tensor \"{gguf_name}\""));
        if n_head == 0 || !rows.is_multiple_of(n_head) {
            return Err(Error::parse(
                self.file.path(),
                location(),
                format!("{rows} rows cannot be split into {n_head} heads"),
            ));
        }
        let data = unpermute_qk(&data, n_head, rows / n_head)
            .map_err(|e| Error::parse(self.file.path(), location(), e.to_string()))?;
        Ok(Some((shape, data)))
    }

    fn origin(&self) -> String {
        self.file.path().display().to_string()
    }

    fn take_quantized(&mut self, name: &str) -> Result<Option<QuantizedWeight>> {
        if !self.keep_quantized || !name.ends_with(".weight") {
            return Ok(None);
        }
        match gguf_tensor_name(name) {
            Some(gguf_name) => self.quantized_tensor(&gguf_name),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::{GgufValue, GgufWriter, permute_qk};

    #[test]
    fn hf_names_map_to_llama_cpp_names() {
        let cases = [
            ("model.embed_tokens.weight", "token_embd.weight"),
            ("model.norm.weight", "output_norm.weight"),
            ("lm_head.weight", "output.weight"),
            (
                "model.layers.0.input_layernorm.weight",
                "blk.0.attn_norm.weight",
            ),
            (
                "model.layers.12.post_attention_layernorm.weight",
                "blk.12.ffn_norm.weight",
            ),
            (
                "model.layers.3.self_attn.q_proj.weight",
                "blk.3.attn_q.weight",
            ),
            ("model.layers.3.self_attn.k_proj.bias", "blk.3.attn_k.bias"),
            (
                "model.layers.3.self_attn.v_proj.weight",
                "blk.3.attn_v.weight",
            ),
            (
                "model.layers.3.self_attn.o_proj.weight",
                "blk.3.attn_output.weight",
            ),
            (
                "model.layers.29.mlp.gate_proj.weight",
                "blk.29.ffn_gate.weight",
            ),
            ("model.layers.29.mlp.up_proj.weight", "blk.29.ffn_up.weight"),
            (
                "model.layers.29.mlp.down_proj.weight",
                "blk.29.ffn_down.weight",
            ),
        ];
        for (hf, gguf) in cases {
            assert_eq!(gguf_tensor_name(hf).as_deref(), Some(gguf), "{hf}");
        }
        for bad in [
            "model.layers.x.mlp.up_proj.weight",
            "model.layers.0.mlp.weird.weight",
            "foo",
            "lm_head.scale",
        ] {
            assert_eq!(gguf_tensor_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn llama_q_and_k_come_back_in_hf_order() {
        // 2 query heads and 1 kv head of dim 4, 3 input features.
        let q: Vec<f32> = (0..24).map(|i| i as f32).collect();
        let k: Vec<f32> = (100..112).map(|i| i as f32).collect();
        let v: Vec<f32> = (200..212).map(|i| i as f32).collect();
        let mut w = GgufWriter::new();
        w.add_metadata("general.architecture", GgufValue::String("llama".into()))
            .add_metadata("llama.attention.head_count", GgufValue::U32(2))
            .add_metadata("llama.attention.head_count_kv", GgufValue::U32(1))
            .add_tensor_f32(
                "blk.0.attn_q.weight",
                &[8, 3],
                &permute_qk(&q, 2, 4).unwrap(),
            )
            .add_tensor_f32(
                "blk.0.attn_k.weight",
                &[4, 3],
                &permute_qk(&k, 1, 4).unwrap(),
            )
            .add_tensor_f32("blk.0.attn_v.weight", &[4, 3], &v);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.gguf");
        w.write(&path).unwrap();
        let mut source = GgufWeights::open(&path).unwrap();
        assert_eq!(
            source
                .take("model.layers.0.self_attn.q_proj.weight")
                .unwrap(),
            Some((vec![8, 3], q))
        );
        assert_eq!(
            source
                .take("model.layers.0.self_attn.k_proj.weight")
                .unwrap(),
            Some((vec![4, 3], k))
        );
        assert_eq!(
            source
                .take("model.layers.0.self_attn.v_proj.weight")
                .unwrap(),
            Some((vec![4, 3], v))
        );
        assert_eq!(source.take("lm_head.weight").unwrap(), None);
        assert_eq!(source.take("not.a.tensor").unwrap(), None);
        assert!(source.origin().ends_with("tiny.gguf"));
    }

    #[test]
    fn other_architectures_are_left_as_stored() {
        let q: Vec<f32> = (0..8).map(|i| i as f32).collect();
        let mut w = GgufWriter::new();
        w.add_metadata("general.architecture", GgufValue::String("qwen2".into()))
            .add_tensor_f32("blk.0.attn_q.weight", &[4, 2], &q);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.gguf");
        w.write(&path).unwrap();
        let mut source = GgufWeights::open(&path).unwrap();
        assert_eq!(
            source
                .take("model.layers.0.self_attn.q_proj.weight")
                .unwrap(),
            Some((vec![4, 2], q))
        );
    }
}
