//! Where pretrained weights come from: the [`WeightSource`] seam and its two built-in sources.
//!
//! A model asks a source for each tensor by its Hugging Face name
//! (`model.layers.3.self_attn.q_proj.weight`) and receives its shape and its values as `f32`,
//! row-major, in the layout the checkpoint stores (HF `Linear` weights are `[out, in]`; the
//! model transposes them into burn's `[in, out]`). Sources:
//!
//! - [`SafetensorsWeights`]: one or more HF `.safetensors` files, memory-mapped, with `F32`,
//!   `F16` and `BF16` tensors cast to `f32`;
//! - `HashMap<String, (Vec<usize>, Vec<f32>)>`: weights built in memory (tests, converters);
//! - the GGUF reader in [`crate::gguf`] implements the trait for `.gguf` files.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use burn::module::Param;
use burn::tensor::{Tensor, TensorData};
use lux_core::{Error, IoContext, Result};
use safetensors::tensor::Metadata;
use safetensors::{Dtype, SafeTensors};

use super::projection::Projection;
use super::quantized::QuantizedWeight;

/// A tensor handed over by a [`WeightSource`]: its shape and its values, row-major, as `f32`.
pub type WeightTensor = (Vec<usize>, Vec<f32>);

/// A store of named tensors that a model can load its weights from.
///
/// The contract:
/// - names are Hugging Face parameter names (`model.embed_tokens.weight`, `lm_head.weight`,
///   `model.layers.{i}.self_attn.q_proj.weight`, `model.layers.{i}.input_layernorm.weight`…);
/// - [`take`](WeightSource::take) returns `Ok(None)` for a name the source does not have (the
///   model turns that into an error naming the tensor), and `Err` only when the tensor exists but
///   cannot be read (I/O failure, unsupported dtype, truncated file);
/// - values are `f32` in row-major order, in the layout the checkpoint uses (no transposition);
/// - a model asks for each name at most once, so a source may hand over its own buffer.
///
/// The trait is object safe: `&mut dyn WeightSource` and `Box<dyn WeightSource>` work too.
pub trait WeightSource {
    /// Hands over the tensor called `name`, or `None` if the source has no such tensor.
    fn take(&mut self, name: &str) -> Result<Option<WeightTensor>>;

    /// Where the weights come from (a file name), for error messages.
    fn origin(&self) -> String {
        "weights".to_owned()
    }

    /// Hands over the linear weight `name` (HF layout `[out, in]`) still in its quantised
    /// blocks, when the source keeps weights quantised and this one is stored in a type the
    /// kernels multiply with ([`QuantizedWeight::TYPES`]); `Ok(None)` sends the model to
    /// [`take`](WeightSource::take). The default keeps nothing quantised.
    fn take_quantized(&mut self, name: &str) -> Result<Option<QuantizedWeight>> {
        let _ = name;
        Ok(None)
    }
}

impl<W: WeightSource + ?Sized> WeightSource for &mut W {
    fn take(&mut self, name: &str) -> Result<Option<WeightTensor>> {
        (**self).take(name)
    }

    fn origin(&self) -> String {
        (**self).origin()
    }

    fn take_quantized(&mut self, name: &str) -> Result<Option<QuantizedWeight>> {
        (**self).take_quantized(name)
    }
}

impl<W: WeightSource + ?Sized> WeightSource for Box<W> {
    fn take(&mut self, name: &str) -> Result<Option<WeightTensor>> {
        (**self).take(name)
    }

    fn origin(&self) -> String {
        (**self).origin()
    }

    fn take_quantized(&mut self, name: &str) -> Result<Option<QuantizedWeight>> {
        (**self).take_quantized(name)
    }
}

/// In-memory weights: each entry is moved out when the model takes it.
impl WeightSource for HashMap<String, WeightTensor> {
    fn take(&mut self, name: &str) -> Result<Option<WeightTensor>> {
        let Some((shape, data)) = self.remove(name) else {
            return Ok(None);
        };
        let expected: usize = shape.iter().product();
        if expected != data.len() {
            return Err(Error::invalid(
                name,
                format!(
                    "shape {shape:?} needs {expected} values, got {}",
                    data.len()
                ),
            ));
        }
        Ok(Some((shape, data)))
    }

    fn origin(&self) -> String {
        "in-memory weights".to_owned()
    }
}

/// One memory-mapped `.safetensors` file with its parsed header.
#[derive(Debug)]
struct MappedFile {
    path: PathBuf,
    map: memmap2::Mmap,
    /// Byte offset of the data section (after the 8-byte length and the JSON header).
    data_start: usize,
    /// The parsed header.
    metadata: Metadata,
}

/// Weights read from Hugging Face `.safetensors` files (one file, or the shards of a sharded
/// checkpoint), memory-mapped so that only the tensors asked for are read.
///
/// `F32`, `F16` and `BF16` tensors are cast to `f32`; any other dtype is an error naming the
/// tensor and its dtype.
#[derive(Debug)]
pub struct SafetensorsWeights {
    files: Vec<MappedFile>,
    /// Tensor name → index into `files`.
    index: HashMap<String, usize>,
}

impl SafetensorsWeights {
    /// Opens one `.safetensors` file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_files([path])
    }

    /// Opens several `.safetensors` files (the shards of one checkpoint) as one source.
    ///
    /// A tensor name present in two files is an error naming both.
    pub fn open_files<P: AsRef<Path>>(paths: impl IntoIterator<Item = P>) -> Result<Self> {
        let mut files = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for path in paths {
            let path = path.as_ref();
            let file = File::open(path).with_path(path)?;
            // SAFETY: the file is opened read-only and the map is only read. As with every
            // memory-mapped reader, another process truncating the file meanwhile is undefined
            // behaviour; checkpoints are not expected to change while they are loaded.
            #[allow(unsafe_code)]
            let map = unsafe { memmap2::Mmap::map(&file) }.with_path(path)?;
            let (header_len, metadata) = SafeTensors::read_metadata(&map)
                .map_err(|e| Error::parse(path, None, format!("not a safetensors file: {e}")))?;
            let file_index = files.len();
            for name in metadata.offset_keys() {
                if let Some(previous) = index.insert(name.clone(), file_index) {
                    let previous: &MappedFile = &files[previous];
                    return Err(Error::parse(
                        path,
                        Some(format!("tensor \"{name}\"")),
                        format!("also present in {}", previous.path.display()),
                    ));
                }
            }
            files.push(MappedFile {
                path: path.to_path_buf(),
                map,
                data_start: 8 + header_len,
                metadata,
            });
        }
        Ok(Self { files, index })
    }

    /// Opens the weights of a Hugging Face model directory: `model.safetensors`, or the shards
    /// listed in `model.safetensors.index.json`.
    pub fn open_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let single = dir.join("model.safetensors");
        if single.is_file() {
            return Self::open(single);
        }
        let index_path = dir.join("model.safetensors.index.json");
        let text = std::fs::read_to_string(&index_path).with_path(&index_path)?;
        #[derive(serde::Deserialize)]
        struct Index {
            weight_map: HashMap<String, String>,
        }
        let index: Index = serde_json::from_str(&text).map_err(|e| {
            Error::parse(
                &index_path,
                Some(format!("{}:{}", e.line(), e.column())),
                e.to_string(),
            )
        })?;
        let mut shards: Vec<&String> = index.weight_map.values().collect();
        shards.sort();
        shards.dedup();
        Self::open_files(shards.into_iter().map(|s| dir.join(s)))
    }

    /// The names of all tensors in the files, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.index.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }
}

impl WeightSource for SafetensorsWeights {
    fn take(&mut self, name: &str) -> Result<Option<WeightTensor>> {
        let Some(&file_index) = self.index.get(name) else {
            return Ok(None);
        };
        let file = &self.files[file_index];
        let location = || Some(format!("tensor \"{name}\""));
        let info = file
            .metadata
            .info(name)
            .ok_or_else(|| Error::parse(&file.path, location(), "listed but not found"))?;
        let (begin, end) = info.data_offsets;
        let bytes = file
            .map
            .get(file.data_start + begin..file.data_start + end)
            .ok_or_else(|| {
                Error::parse(&file.path, location(), "data lies past the end of the file")
            })?;
        let shape = info.shape.clone();
        let expected = shape.iter().product::<usize>() * info.dtype.bitsize() / 8;
        if bytes.len() != expected {
            return Err(Error::parse(
                &file.path,
                location(),
                format!(
                    "shape {shape:?} needs {expected} bytes, the file has {}",
                    bytes.len()
                ),
            ));
        }
        let data = match info.dtype {
            Dtype::F32 => bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Dtype::F16 => bytes
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Dtype::BF16 => bytes
                .chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            other => {
                return Err(Error::parse(
                    &file.path,
                    location(),
                    format!("dtype {other:?} is not supported (expected F32, F16 or BF16)"),
                ));
            }
        };
        Ok(Some((shape, data)))
    }

    fn origin(&self) -> String {
        match self.files.as_slice() {
            [one] => one.path.display().to_string(),
            files => format!(
                "{} (+{} more shards)",
                files
                    .first()
                    .map(|f| f.path.display().to_string())
                    .unwrap_or_default(),
                files.len().saturating_sub(1)
            ),
        }
    }
}

/// Replaces `param` with the tensor `name` from `source`.
///
/// `shape` is the parameter's burn shape; with `transpose` (2-D only) the source must hold the
/// transpose (HF `Linear` weights are `[out, in]`, burn's `[in, out]`). A missing tensor or a
/// wrong shape is an error naming the tensor and both shapes. The parameter keeps its id,
/// device and gradient setting; a lazily initialised one is never materialised.
pub(crate) fn load_param<const D: usize>(
    param: &mut Param<Tensor<D>>,
    name: &str,
    shape: [usize; D],
    transpose: bool,
    source: &mut dyn WeightSource,
) -> Result<()> {
    let mut stored = shape.to_vec();
    if transpose {
        stored.reverse();
    }
    let Some((got, data)) = source.take(name)? else {
        return Err(Error::invalid(
            name,
            format!(
                "missing from {} (the model expects shape {stored:?})",
                source.origin()
            ),
        ));
    };
    if got != stored {
        return Err(Error::invalid(
            name,
            format!(
                "{} has shape {got:?}, the model expects {stored:?}",
                source.origin()
            ),
        ));
    }
    if data.len() != shape.iter().product::<usize>() {
        return Err(Error::invalid(
            name,
            format!(
                "shape {got:?} but {} values in {}",
                data.len(),
                source.origin()
            ),
        ));
    }
    let data = if transpose {
        transpose_2d(&data, stored[0], stored[1])
    } else {
        data
    };
    let device = param.lazy_device();
    let tensor = Tensor::from_data(TensorData::new(data, shape), &device);
    let id = param.id;
    *param = param.clone().transform_for_load(tensor, id);
    Ok(())
}

/// Loads `{prefix}.weight` (HF `[out, in]`) and, if the layer has one, `{prefix}.bias`.
pub(crate) fn load_projection(
    projection: &mut Projection,
    prefix: &str,
    source: &mut dyn WeightSource,
) -> Result<()> {
    let shape = projection.weight.lazy_shape().dims::<2>();
    let name = format!("{prefix}.weight");
    if let Some(quantized) = source.take_quantized(&name)? {
        let expected = [shape[1], shape[0]];
        if quantized.shape() != expected {
            return Err(Error::invalid(
                name,
                format!(
                    "{} has shape {:?}, the model expects {expected:?}",
                    source.origin(),
                    quantized.shape()
                ),
            ));
        }
        let device = projection.weight.lazy_device();
        projection.weight = quantized.lazy_param(projection.weight.id, &device);
        projection.quantized = Some(quantized);
    } else {
        load_param(&mut projection.weight, &name, shape, true, source)?;
        projection.quantized = None;
    }
    let bias_name = format!("{prefix}.bias");
    match &mut projection.bias {
        Some(bias) => load_param(bias, &bias_name, [shape[1]], false, source),
        None => match source.take(&bias_name)? {
            None => Ok(()),
            Some(_) => Err(Error::invalid(
                bias_name,
                format!(
                    "present in {}, but the config gives this layer no bias \
                     (attention_bias / mlp_bias)",
                    source.origin()
                ),
            )),
        },
    }
}

/// Transposes a row-major `[rows, cols]` matrix, in cache-sized blocks.
fn transpose_2d(data: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    const BLOCK: usize = 32;
    let mut out = vec![0.0f32; data.len()];
    for r0 in (0..rows).step_by(BLOCK) {
        for c0 in (0..cols).step_by(BLOCK) {
            for r in r0..(r0 + BLOCK).min(rows) {
                for c in c0..(c0 + BLOCK).min(cols) {
                    out[c * rows + r] = data[r * cols + c];
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_file(path: &Path) {
        let a: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let b: Vec<u8> = [0.5f32, -1.25]
            .iter()
            .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
            .collect();
        let c: Vec<u8> = [3.0f32, -2.0]
            .iter()
            .flat_map(|v| half::bf16::from_f32(*v).to_le_bytes())
            .collect();
        let d: Vec<u8> = vec![1, 2];
        let views = vec![
            (
                "a",
                safetensors::tensor::TensorView::new(Dtype::F32, vec![2, 3], &a).unwrap(),
            ),
            (
                "b",
                safetensors::tensor::TensorView::new(Dtype::F16, vec![2], &b).unwrap(),
            ),
            (
                "c",
                safetensors::tensor::TensorView::new(Dtype::BF16, vec![2], &c).unwrap(),
            ),
            (
                "d",
                safetensors::tensor::TensorView::new(Dtype::U8, vec![2], &d).unwrap(),
            ),
        ];
        safetensors::serialize_to_file(views, None, path).unwrap();
    }

    #[test]
    fn safetensors_casts_half_types_to_f32() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.safetensors");
        write_file(&path);
        let mut w = SafetensorsWeights::open_dir(dir.path()).unwrap();
        assert_eq!(w.names(), vec!["a", "b", "c", "d"]);
        assert_eq!(
            w.take("a").unwrap().unwrap(),
            (vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
        );
        assert_eq!(w.take("b").unwrap().unwrap(), (vec![2], vec![0.5, -1.25]));
        assert_eq!(w.take("c").unwrap().unwrap(), (vec![2], vec![3.0, -2.0]));
        assert!(w.take("missing").unwrap().is_none());
        let err = w.take("d").unwrap_err().to_string();
        assert!(err.contains("tensor \"d\"") && err.contains("U8"), "{err}");
    }

    #[test]
    fn not_a_safetensors_file_is_a_parse_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.safetensors");
        std::fs::write(&path, b"garbage").unwrap();
        let err = SafetensorsWeights::open(&path).unwrap_err().to_string();
        assert!(err.contains("x.safetensors"), "{err}");
        let err = SafetensorsWeights::open(dir.path().join("none.safetensors")).unwrap_err();
        assert!(matches!(err, Error::Io { .. }));
    }

    #[test]
    fn transpose_blocks_cover_ragged_edges() {
        let (rows, cols) = (37, 70);
        let data: Vec<f32> = (0..rows * cols).map(|i| i as f32).collect();
        let t = transpose_2d(&data, rows, cols);
        for r in 0..rows {
            for c in 0..cols {
                assert_eq!(t[c * rows + r], data[r * cols + c]);
            }
        }
    }

    #[test]
    fn hashmap_source_checks_element_count() {
        let mut map: HashMap<String, WeightTensor> = HashMap::new();
        map.insert("x".into(), (vec![2, 2], vec![0.0; 3]));
        map.insert("y".into(), (vec![1, 2], vec![1.0, 2.0]));
        assert!(map.take("x").unwrap_err().to_string().contains("x"));
        assert_eq!(map.take("y").unwrap(), Some((vec![1, 2], vec![1.0, 2.0])));
        assert_eq!(map.take("y").unwrap(), None);
    }
}
