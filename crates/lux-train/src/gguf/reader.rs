//! The GGUF header parser: magic, version, counts, metadata and tensor table.
//!
//! Layout (GGUF versions 2 and 3, little-endian):
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
//! count and the elements (for an array of arrays, each element is again type, count, values).
//! Every read is bounds-checked: a file that ends early yields an error naming the byte offset
//! and what was being read, never a panic or a huge allocation.

use std::path::Path;

use lux_core::{Error, Result};

use super::ggml_type::GgmlType;
use super::tensor_info::GgufTensorInfo;
use super::value::{GgufArray, GgufValue};

/// The four bytes every GGUF file starts with.
pub const GGUF_MAGIC: [u8; 4] = *b"GGUF";
/// The data alignment when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: usize = 32;
/// ggml's `GGML_MAX_DIMS`: a tensor has at most this many dimensions.
pub const MAX_DIMS: usize = 4;
/// How deeply arrays may nest before the file is rejected.
const MAX_ARRAY_DEPTH: usize = 16;

/// Everything before the data section.
#[derive(Debug)]
pub(crate) struct Header {
    pub(crate) version: u32,
    pub(crate) metadata: Vec<(String, GgufValue)>,
    pub(crate) tensors: Vec<GgufTensorInfo>,
    /// Byte offset just after the tensor table (before alignment padding).
    pub(crate) end_of_tables: usize,
}

/// A bounds-checked little-endian reader over the file's bytes.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    path: &'a Path,
    /// What is being read, for error messages (`the value of key "general.name"`).
    context: String,
}

impl<'a> Cursor<'a> {
    fn error(&self, at: usize, message: impl Into<String>) -> Error {
        Error::parse(self.path, Some(format!("byte {at}")), message)
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.error(
                self.pos,
                format!(
                    "file ends while reading {}: {n} bytes needed, {} left (truncated file?)",
                    self.context,
                    self.remaining()
                ),
            ));
        }
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A u64 count or length that must fit in memory: at most `remaining / min_size` items.
    fn count(&mut self, min_size: usize, what: &str) -> Result<usize> {
        let at = self.pos;
        let n = self.u64()?;
        let limit = self.remaining() / min_size.max(1);
        match usize::try_from(n) {
            Ok(n) if n <= limit => Ok(n),
            _ => Err(self.error(
                at,
                format!(
                    "{what} of {n} while reading {} cannot fit in the {} bytes left (corrupt or truncated file?)",
                    self.context,
                    self.remaining()
                ),
            )),
        }
    }

    fn string(&mut self) -> Result<String> {
        let len = self.count(1, "a string length")?;
        let at = self.pos;
        let bytes = self.take(len)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(e) => {
                tracing::warn!(
                    path = %self.path.display(),
                    byte = at,
                    "invalid UTF-8 in {} ({e}); replacing it",
                    self.context
                );
                Ok(String::from_utf8_lossy(bytes).into_owned())
            }
        }
    }

    fn bool(&mut self) -> Result<bool> {
        let at = self.pos;
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(self.error(at, format!("bool of {} is {b}, not 0 or 1", self.context))),
        }
    }

    fn value(&mut self, value_type: u32, depth: usize) -> Result<GgufValue> {
        Ok(match value_type {
            0 => GgufValue::U8(self.u8()?),
            1 => GgufValue::I8(self.u8()? as i8),
            2 => GgufValue::U16(u16::from_le_bytes(self.array()?)),
            3 => GgufValue::I16(i16::from_le_bytes(self.array()?)),
            4 => GgufValue::U32(self.u32()?),
            5 => GgufValue::I32(i32::from_le_bytes(self.array()?)),
            6 => GgufValue::F32(f32::from_le_bytes(self.array()?)),
            7 => GgufValue::Bool(self.bool()?),
            8 => GgufValue::String(self.string()?),
            9 => GgufValue::Array(self.array_value(depth)?),
            10 => GgufValue::U64(self.u64()?),
            11 => GgufValue::I64(i64::from_le_bytes(self.array()?)),
            12 => GgufValue::F64(f64::from_le_bytes(self.array()?)),
            other => {
                return Err(self.error(
                    self.pos.saturating_sub(4),
                    format!("unknown value type {other} for {}", self.context),
                ));
            }
        })
    }

    /// An array's element type, count and elements.
    fn array_value(&mut self, depth: usize) -> Result<GgufArray> {
        if depth >= MAX_ARRAY_DEPTH {
            return Err(self.error(
                self.pos,
                format!(
                    "arrays nested more than {MAX_ARRAY_DEPTH} deep in {}",
                    self.context
                ),
            ));
        }
        let at = self.pos;
        let element_type = self.u32()?;
        // The smallest encoding of one element, to bound the count before allocating.
        let min_size = match element_type {
            0 | 1 | 7 => 1,
            2 | 3 => 2,
            4..=6 => 4,
            8 | 10..=12 => 8,
            9 => 12,
            other => {
                return Err(self.error(
                    at,
                    format!("unknown array element type {other} for {}", self.context),
                ));
            }
        };
        let n = self.count(min_size, "an array length")?;
        macro_rules! collect {
            ($variant:ident, $read:expr) => {{
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push($read);
                }
                GgufArray::$variant(v)
            }};
        }
        Ok(match element_type {
            0 => GgufArray::U8(self.take(n)?.to_vec()),
            1 => GgufArray::I8(self.take(n)?.iter().map(|&b| b as i8).collect()),
            2 => collect!(U16, u16::from_le_bytes(self.array()?)),
            3 => collect!(I16, i16::from_le_bytes(self.array()?)),
            4 => collect!(U32, self.u32()?),
            5 => collect!(I32, i32::from_le_bytes(self.array()?)),
            6 => collect!(F32, f32::from_le_bytes(self.array()?)),
            7 => collect!(Bool, self.bool()?),
            8 => collect!(String, self.string()?),
            9 => collect!(Array, self.array_value(depth + 1)?),
            10 => collect!(U64, self.u64()?),
            11 => collect!(I64, i64::from_le_bytes(self.array()?)),
            _ => collect!(F64, f64::from_le_bytes(self.array()?)),
        })
    }
}

/// Parses magic, version, metadata and the tensor table of a GGUF file's bytes.
pub(crate) fn parse_header(bytes: &[u8], path: &Path) -> Result<Header> {
    let mut c = Cursor {
        bytes,
        pos: 0,
        path,
        context: "the magic".into(),
    };
    let magic = c.array::<4>()?;
    if magic != GGUF_MAGIC {
        return Err(c.error(
            0,
            format!(
                "not a GGUF file: starts with {:?} ({:02x?}), expected \"GGUF\"",
                String::from_utf8_lossy(&magic),
                magic
            ),
        ));
    }
    c.context = "the version".into();
    let version = c.u32()?;
    match version {
        2 | 3 => {}
        1 => {
            return Err(c.error(
                4,
                "GGUF version 1 is not supported (lux reads versions 2 and 3); \
                 convert the model again with a current llama.cpp",
            ));
        }
        v if matches!(v.swap_bytes(), 1..=3) => {
            return Err(c.error(
                4,
                format!(
                    "big-endian GGUF (version {}) is not supported; lux reads little-endian files",
                    v.swap_bytes()
                ),
            ));
        }
        v => {
            return Err(c.error(
                4,
                format!("unsupported GGUF version {v} (lux reads versions 2 and 3)"),
            ));
        }
    }
    c.context = "the tensor count".into();
    // A tensor info takes at least 8 (name) + 4 (n_dims) + 4 (type) + 8 (offset) bytes.
    let tensor_count = c.count(24, "a tensor count")?;
    c.context = "the metadata count".into();
    // A key/value takes at least 8 (key) + 4 (type) + 1 (value) bytes.
    let kv_count = c.count(13, "a metadata count")?;

    let mut metadata = Vec::with_capacity(kv_count);
    for i in 0..kv_count {
        c.context = format!("the key of metadata entry {i}");
        let key = c.string()?;
        c.context = format!("the value of key \"{key}\"");
        let value_type = c.u32()?;
        let value = c.value(value_type, 0)?;
        metadata.push((key, value));
    }

    let mut tensors = Vec::with_capacity(tensor_count);
    for i in 0..tensor_count {
        c.context = format!("the name of tensor {i}");
        let name = c.string()?;
        c.context = format!("the info of tensor \"{name}\"");
        let at = c.pos;
        let n_dims = c.u32()? as usize;
        if n_dims > MAX_DIMS {
            return Err(c.error(
                at,
                format!(
                    "tensor \"{name}\" has {n_dims} dimensions; GGUF allows at most {MAX_DIMS}"
                ),
            ));
        }
        let mut dims = Vec::with_capacity(n_dims);
        let mut n_elements: usize = 1;
        for _ in 0..n_dims {
            let at = c.pos;
            let d = c.u64()?;
            let d = usize::try_from(d)
                .ok()
                .filter(|&d| i64::try_from(d).is_ok())
                .ok_or_else(|| c.error(at, format!("tensor \"{name}\" has a dimension of {d}")))?;
            n_elements = n_elements.checked_mul(d).ok_or_else(|| {
                c.error(
                    at,
                    format!("tensor \"{name}\": the number of elements overflows"),
                )
            })?;
            dims.push(d);
        }
        let type_id = c.u32()?;
        let offset = c.u64()?;
        dims.reverse();
        tensors.push(GgufTensorInfo {
            name,
            shape: dims,
            ggml_type: GgmlType::from_id(type_id),
            type_id,
            offset,
        });
    }
    Ok(Header {
        version,
        metadata,
        tensors,
        end_of_tables: c.pos,
    })
}
