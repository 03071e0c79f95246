//! [`GgufFile`]: an opened, memory-mapped GGUF file.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use lux_core::{Error, IoContext, Result};

use super::dequant::dequantize_checked;
use super::metadata::GgufMetadata;
use super::reader::{DEFAULT_ALIGNMENT, parse_header};
use super::tensor_info::GgufTensorInfo;

/// The file's bytes: memory-mapped, or read into memory when too small to map.
#[derive(Debug)]
enum Backing {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl Backing {
    fn bytes(&self) -> &[u8] {
        match self {
            Backing::Mapped(m) => m,
            Backing::Owned(v) => v,
        }
    }
}

/// A GGUF model file (versions 2 and 3): metadata, tensor table and lazily decoded tensors.
///
/// [`open`](Self::open) memory-maps the file and parses everything before the data section; it
/// checks that every tensor of a known type lies inside the file at an aligned offset, so a
/// truncated download fails at once with the name of the first tensor it cuts. Tensor data is
/// only read when asked for ([`tensor_f32`](Self::tensor_f32), [`tensor_bytes`](Self::tensor_bytes)).
///
/// Shapes are row-major, outermost first (`[out, in]` for a linear weight), the reverse of the
/// order GGUF stores; see [`GgufTensorInfo`].
///
/// ```no_run
/// use lux_train::gguf::GgufFile;
///
/// # fn main() -> lux_core::Result<()> {
/// let file = GgufFile::open("SmolLM2-135M-Instruct.Q4_1.gguf")?;
/// assert_eq!(file.metadata().get_str("general.architecture")?, "llama");
/// let (shape, values) = file.tensor_f32("blk.0.attn_k.weight")?; // [192, 576], Q4_1 → f32
/// assert_eq!(values.len(), shape.iter().product::<usize>());
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct GgufFile {
    path: PathBuf,
    backing: Backing,
    version: u32,
    alignment: usize,
    data_offset: usize,
    metadata: GgufMetadata,
    tensors: Vec<GgufTensorInfo>,
    index: HashMap<String, usize>,
}

impl GgufFile {
    /// Opens and checks a GGUF file.
    ///
    /// Errors name the file and the place: a missing file ([`Error::Io`]); bad magic, an
    /// unsupported version (1, or big-endian), a file that ends inside the header, an invalid
    /// `general.alignment`, a repeated key or tensor name, a tensor whose row is not a whole
    /// number of blocks, at an unaligned offset, or whose data lies past the end of the file
    /// ([`Error::Parse`], naming the key or tensor). A tensor of an unknown type id does not
    /// stop the file from opening; reading that tensor is the error.
    pub fn open(path: impl AsRef<Path>) -> Result<GgufFile> {
        let path = path.as_ref();
        let file = File::open(path).with_path(path)?;
        let len = file.metadata().with_path(path)?.len();
        let backing = if len < 4096 {
            Backing::Owned(std::fs::read(path).with_path(path)?)
        } else {
            // SAFETY: the file is opened read-only and the map is only read. As with every
            // memory-mapped reader, another process truncating the file meanwhile is undefined
            // behaviour; model files are not expected to change while they are loaded.
            #[allow(unsafe_code)]
            let map = unsafe { memmap2::Mmap::map(&file) }.with_path(path)?;
            Backing::Mapped(map)
        };
        Self::from_backing(path, backing)
    }

    fn from_backing(path: &Path, backing: Backing) -> Result<GgufFile> {
        let bytes = backing.bytes();
        let header = parse_header(bytes, path)?;
        let metadata = GgufMetadata::new(path, header.metadata)?;
        let alignment = match metadata.get_opt::<u32>("general.alignment")? {
            None => DEFAULT_ALIGNMENT,
            Some(a) if a.is_power_of_two() => a as usize,
            Some(a) => {
                return Err(Error::parse(
                    path,
                    Some("key \"general.alignment\"".to_owned()),
                    format!("{a} is not a power of two"),
                ));
            }
        };
        let data_offset = header.end_of_tables.next_multiple_of(alignment);
        let file_len = bytes.len();
        let mut index = HashMap::with_capacity(header.tensors.len());
        for (i, t) in header.tensors.iter().enumerate() {
            let location = || Some(format!("tensor \"{}\"", t.name));
            if index.insert(t.name.clone(), i).is_some() {
                return Err(Error::parse(
                    path,
                    location(),
                    "appears twice in the tensor table",
                ));
            }
            if !t.offset.is_multiple_of(alignment as u64) {
                return Err(Error::parse(
                    path,
                    location(),
                    format!(
                        "data offset {} is not a multiple of the alignment {alignment}",
                        t.offset
                    ),
                ));
            }
            let Some(ty) = t.ggml_type else { continue };
            let row = t.shape.last().copied().unwrap_or(1);
            if !row.is_multiple_of(ty.block_size()) {
                return Err(Error::parse(
                    path,
                    location(),
                    format!(
                        "shape {:?}: rows of {row} values are not a whole number of {ty} blocks of {}",
                        t.shape,
                        ty.block_size()
                    ),
                ));
            }
            let n_bytes = ty.bytes_for(t.n_elements());
            let start = usize::try_from(t.offset)
                .ok()
                .and_then(|o| data_offset.checked_add(o));
            let end = start.zip(n_bytes).and_then(|(s, n)| s.checked_add(n));
            match end {
                Some(end) if end <= file_len => {}
                _ => {
                    return Err(Error::parse(
                        path,
                        location(),
                        format!(
                            "data lies past the end of the file ({} bytes of {ty} at byte {}, the file has {file_len}; truncated?)",
                            n_bytes.map_or("too many".to_owned(), |n| n.to_string()),
                            data_offset as u128 + u128::from(t.offset),
                        ),
                    ));
                }
            }
        }
        Ok(GgufFile {
            path: path.to_path_buf(),
            version: header.version,
            alignment,
            data_offset,
            metadata,
            tensors: header.tensors,
            index,
            backing,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The GGUF version (2 or 3).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The data alignment (`general.alignment`, default 32).
    pub fn alignment(&self) -> usize {
        self.alignment
    }

    /// Byte offset of the data section in the file.
    pub fn data_offset(&self) -> usize {
        self.data_offset
    }

    /// The metadata, with typed getters.
    pub fn metadata(&self) -> &GgufMetadata {
        &self.metadata
    }

    /// `general.architecture` (`"llama"`, `"qwen2"`…).
    pub fn architecture(&self) -> Result<&str> {
        self.metadata.get_str("general.architecture")
    }

    /// The tensor table, in file order.
    pub fn tensors(&self) -> &[GgufTensorInfo] {
        &self.tensors
    }

    /// The table entry of tensor `name`, if present.
    pub fn tensor_info(&self, name: &str) -> Option<&GgufTensorInfo> {
        self.index.get(name).map(|&i| &self.tensors[i])
    }

    fn info_or_error(&self, name: &str) -> Result<&GgufTensorInfo> {
        self.tensor_info(name).ok_or_else(|| {
            Error::parse(
                &self.path,
                Some(format!("tensor \"{name}\"")),
                "no such tensor in the file",
            )
        })
    }

    /// The raw bytes of tensor `name` as stored (blocks of its [`GgmlType`](super::GgmlType)).
    pub fn tensor_bytes(&self, name: &str) -> Result<&[u8]> {
        let info = self.info_or_error(name)?;
        let location = || Some(format!("tensor \"{name}\""));
        let Some(n_bytes) = info.n_bytes() else {
            return Err(Error::parse(
                &self.path,
                location(),
                format!("unknown ggml type id {}; its size is unknown", info.type_id),
            ));
        };
        // Extents were checked in `open`.
        let start = self.data_offset + info.offset as usize;
        self.backing
            .bytes()
            .get(start..start + n_bytes)
            .ok_or_else(|| {
                Error::parse(&self.path, location(), "data lies past the end of the file")
            })
    }

    /// Tensor `name` decoded to `f32`: its row-major shape and values.
    ///
    /// Errors name the tensor: not in the file, an unknown type id, or a type lux cannot
    /// dequantize (see [`GgmlType::can_dequantize`](super::GgmlType::can_dequantize)).
    pub fn tensor_f32(&self, name: &str) -> Result<(Vec<usize>, Vec<f32>)> {
        let info = self.info_or_error(name)?;
        let bytes = self.tensor_bytes(name)?;
        let location = || Some(format!("tensor \"{name}\""));
        let ty = info.ggml_type.ok_or_else(|| {
            Error::parse(
                &self.path,
                location(),
                format!("unknown ggml type id {}", info.type_id),
            )
        })?;
        let mut out = vec![0f32; info.n_elements()];
        dequantize_checked(ty, bytes, &mut out)
            .map_err(|m| Error::parse(&self.path, location(), m))?;
        Ok((info.shape.clone(), out))
    }
}
