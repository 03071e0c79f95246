//! Reads the word vectors of a spaCy pipeline package (`<package>/vocab/`), one word per row.
//!
//! A spaCy `vocab/` directory holds `vectors` (a `.npy` array, `rows × dim` little-endian
//! `f32`), `key2row` (a msgpack map from 64-bit string hashes to rows), `strings.json` (the
//! strings, whose MurmurHash64A with seed 1 are the keys) and `vectors.cfg` (`"mode"`: only
//! `default` tables are word tables; `floret` tables hash sub-words and are refused).
//!
//! The `md` packages are *pruned*: 20,000 rows serve several hundred thousand keys, a rare
//! word pointing at the row of a similar frequent word. Exporting every key would give many
//! words the same vector. spaCy's pruning builds the table with each kept word's key first and
//! then adds the pruned words' keys, and msgpack keeps that order; so the first key listed for
//! a row is the word the row was kept for, and that is the one word exported per row. Rows
//! stay in the package's order, which is its frequency order.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use lux_core::{Error, IoContext, Result};

use super::WordVectors;

/// What reading a spaCy table found, besides the vectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpacyVectorsReport {
    /// Rows in the `vectors` array.
    pub rows: usize,
    /// Keys in `key2row` (all words that have a vector, pruned ones included).
    pub keys: usize,
    /// Rows whose kept key has no string in `strings.json` (skipped).
    pub unnamed_rows: usize,
    /// Rows whose values repeat an earlier row exactly (kept, but a sign of a broken table:
    /// duplicated rows make retrieval ambiguous).
    pub duplicate_rows: usize,
}

/// Reads `vocab_dir` (a spaCy package's `vocab/` directory) into one word per row.
pub fn read_spacy_vectors(
    vocab_dir: impl AsRef<Path>,
) -> Result<(WordVectors, SpacyVectorsReport)> {
    let dir = vocab_dir.as_ref();
    let cfg_path = dir.join("vectors.cfg");
    if cfg_path.exists() {
        let text = std::fs::read_to_string(&cfg_path).with_path(&cfg_path)?;
        let cfg: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::parse(&cfg_path, None, format!("not JSON: {e}")))?;
        if let Some(mode) = cfg.get("mode").and_then(|m| m.as_str())
            && mode != "default"
        {
            return Err(Error::parse(
                &cfg_path,
                Some("key \"mode\"".to_string()),
                format!("`{mode}` vectors hash sub-words; only `default` word tables can be read"),
            ));
        }
    }
    let vec_path = dir.join("vectors");
    let bytes = std::fs::read(&vec_path).with_path(&vec_path)?;
    let (rows, dim, data) = parse_npy_f32(&vec_path, &bytes)?;

    let k2r_path = dir.join("key2row");
    let k2r = std::fs::read(&k2r_path).with_path(&k2r_path)?;
    let key2row = parse_msgpack_u64_map(&k2r_path, &k2r)?;

    let strings_path = dir.join("strings.json");
    let text = std::fs::read_to_string(&strings_path).with_path(&strings_path)?;
    let strings: Vec<String> = serde_json::from_str(&text).map_err(|e| {
        Error::parse(
            &strings_path,
            None,
            format!("not a JSON list of strings: {e}"),
        )
    })?;
    let by_hash: HashMap<u64, &str> = strings
        .iter()
        .map(|s| (murmurhash64a(s.as_bytes(), 1), s.as_str()))
        .collect();

    let mut kept: Vec<Option<u64>> = vec![None; rows];
    for &(key, row) in &key2row {
        let row = row as usize;
        if row >= rows {
            return Err(Error::parse(
                &k2r_path,
                None,
                format!("key {key} points at row {row}, the table has {rows} rows"),
            ));
        }
        kept[row].get_or_insert(key);
    }
    let mut out = WordVectors::empty(dim);
    let mut unnamed = 0;
    let mut duplicates = 0;
    let mut seen_rows = HashSet::new();
    for (row, key) in kept.iter().enumerate() {
        let values = &data[row * dim..(row + 1) * dim];
        let bits: Vec<u32> = values.iter().map(|v| v.to_bits()).collect();
        if !seen_rows.insert(bits) {
            duplicates += 1;
        }
        match key.and_then(|k| by_hash.get(&k)) {
            Some(word) => {
                out.push(word.to_string(), values);
            }
            None => unnamed += 1,
        }
    }
    if duplicates > 0 || unnamed > 0 {
        tracing::warn!(dir = %dir.display(), duplicates, unnamed, "spaCy vectors: rows skipped or repeated");
    }
    let report = SpacyVectorsReport {
        rows,
        keys: key2row.len(),
        unnamed_rows: unnamed,
        duplicate_rows: duplicates,
    };
    Ok((out, report))
}

/// spaCy's string hash: MurmurHash64A of the UTF-8 bytes (spaCy uses seed 1).
pub fn murmurhash64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut k = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// A 2-d little-endian `f32` `.npy` array: `(rows, cols, values)`.
fn parse_npy_f32(path: &Path, bytes: &[u8]) -> Result<(usize, usize, Vec<f32>)> {
    let bad = |m: &str| Error::parse(path, None, m.to_string());
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("not a .npy file (no \\x93NUMPY magic)"));
    }
    let (hlen, start) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(bad(&format!("unsupported .npy version {v}"))),
    };
    let header = bytes
        .get(start..start + hlen)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| bad("truncated .npy header"))?;
    if !header.contains("'descr': '<f4'") {
        return Err(bad(&format!(
            "expected little-endian float32 ('<f4'), header {header}"
        )));
    }
    if header.contains("'fortran_order': True") {
        return Err(bad("Fortran-ordered arrays are not supported"));
    }
    let shape = header
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad(&format!("no shape in header {header}")))?;
    let dims: Vec<usize> = shape
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| bad(&format!("bad shape ({shape})")))?;
    let [rows, cols] = dims[..] else {
        return Err(bad(&format!("expected a 2-d array, shape ({shape})")));
    };
    if cols == 0 {
        return Err(bad(&format!("shape ({shape}): vectors of 0 dimensions")));
    }
    let body = &bytes[start + hlen..];
    // The shape is a claim: checked against the data's length without overflowing.
    if rows.checked_mul(cols).and_then(|n| n.checked_mul(4)) != Some(body.len()) {
        return Err(bad(&format!(
            "{} data bytes for shape ({rows}, {cols}) of f32",
            body.len()
        )));
    }
    let values = body
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok((rows, cols, values))
}

/// A msgpack map of unsigned integers to unsigned integers, in file order.
fn parse_msgpack_u64_map(path: &Path, b: &[u8]) -> Result<Vec<(u64, u64)>> {
    let mut pos = 0usize;
    let err = |pos: usize, m: &str| Error::parse(path, Some(format!("byte {pos}")), m.to_string());
    let take = |pos: &mut usize, n: usize| -> Result<u64> {
        let s = b
            .get(*pos..*pos + n)
            .ok_or_else(|| err(*pos, "truncated msgpack"))?;
        *pos += n;
        Ok(s.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
    };
    let tag = *b.first().ok_or_else(|| err(0, "empty file"))?;
    pos += 1;
    let n = match tag {
        0x80..=0x8f => u64::from(tag & 0x0f),
        0xde => take(&mut pos, 2)?,
        0xdf => take(&mut pos, 4)?,
        _ => {
            return Err(err(
                0,
                &format!("expected a msgpack map, found tag {tag:#04x}"),
            ));
        }
    };
    let uint = |pos: &mut usize| -> Result<u64> {
        let at = *pos;
        let tag = *b.get(at).ok_or_else(|| err(at, "truncated msgpack"))?;
        *pos += 1;
        match tag {
            0x00..=0x7f => Ok(u64::from(tag)),
            0xcc => take(pos, 1),
            0xcd => take(pos, 2),
            0xce => take(pos, 4),
            0xcf => take(pos, 8),
            _ => Err(err(
                at,
                &format!("expected an unsigned integer, found tag {tag:#04x}"),
            )),
        }
    };
    // The count is a claim: each entry takes at least two bytes, so reserve no more than the
    // rest of the file can hold.
    let mut out = Vec::with_capacity(
        usize::try_from(n)
            .unwrap_or(usize::MAX)
            .min((b.len() - pos) / 2),
    );
    for _ in 0..n {
        let k = uint(&mut pos)?;
        let v = uint(&mut pos)?;
        out.push((k, v));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmurhash_tail_and_blocks() {
        // The real check is tests/lexicon.rs: with a wrong hash no word of spaCy's French
        // table would be found. Here: every tail length changes the hash, deterministically.
        let h: Vec<u64> = (0..=17)
            .map(|n| murmurhash64a(&b"abcdefghijklmnopq"[..n], 1))
            .collect();
        let mut sorted = h.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), h.len());
        assert_ne!(murmurhash64a(b"le", 1), murmurhash64a(b"le", 0));
    }

    #[test]
    fn npy_and_msgpack_parse_and_reject() {
        let p = Path::new("v.npy");
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        let h = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1), }\n";
        b.extend_from_slice(&(h.len() as u16).to_le_bytes());
        b.extend_from_slice(h.as_bytes());
        b.extend_from_slice(&1.5f32.to_le_bytes());
        b.extend_from_slice(&(-2f32).to_le_bytes());
        assert_eq!(parse_npy_f32(p, &b).unwrap(), (2, 1, vec![1.5, -2.0]));
        assert!(parse_npy_f32(p, &b[..b.len() - 1]).is_err());
        let m = [0x82, 0x05, 0x00, 0xcf, 0, 0, 0, 0, 0, 0, 1, 0, 0xcd, 1, 2];
        assert_eq!(
            parse_msgpack_u64_map(p, &m).unwrap(),
            vec![(5, 0), (256, 258)]
        );
        let e = parse_msgpack_u64_map(p, &m[..6]).unwrap_err().to_string();
        assert!(e.contains("byte"), "{e}");
    }
}
