//! FreeDict dictionaries in dictd format (`.index` + `.dict.dz`), read as a gold lexicon.
//!
//! Debian ships them as `dict-freedict-<src>-<tgt>` (`apt-get download`, then
//! `dpkg-deb -x`: `usr/share/dictd/freedict-eng-fra.{index,dict.dz}`). The `.index` has one
//! line per headword: `headword<TAB>offset<TAB>length`, the numbers in dictd's base64
//! (`A`–`Z`, `a`–`z`, `0`–`9`, `+`, `/`, most significant digit first). The `.dict.dz` is
//! gzip with dictzip's random-access chunk table in the header's extra field; decoding the
//! whole file as plain gzip gives the text the offsets point into. An entry reads
//!
//! ```text
//! run /rʌn/
//! 1. fonctionner
//! 2. fuite
//! 3. s'élancer, se précipiter
//! ```
//!
//! — the headword and pronunciation, then one sense per line (numbered when there are
//! several), translations separated by `, `.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use lux_core::{Error, IoContext, Result};

use super::Lexicon;

/// Reads a dictd dictionary (`<base>.index` and `<base>.dict.dz`, or `<base>.dict` when not
/// compressed) into a lexicon; pairs get the origin `freedict:<file name>`. Metadata entries
/// (`00-database-…`, `00database…`) are skipped. With `single_words`, only pairs of one word
/// on each side are kept (what word-vector evaluation can use).
pub fn read_freedict(base: impl AsRef<Path>, single_words: bool) -> Result<Lexicon> {
    let base = base.as_ref();
    let index_path = base.with_extension("index");
    let dz = base.with_extension("dict.dz");
    let plain = base.with_extension("dict");
    let body = if dz.exists() {
        let file = File::open(&dz).with_path(&dz)?;
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(BufReader::new(file))
            .read_to_end(&mut out)
            .with_path(&dz)?;
        out
    } else {
        std::fs::read(&plain).with_path(&plain)?
    };
    let origin = format!(
        "freedict:{}",
        base.file_name().unwrap_or_default().to_string_lossy()
    );
    let file = File::open(&index_path).with_path(&index_path)?;
    let mut out = Lexicon::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.with_path(&index_path)?;
        let lineno = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [head, off, len] = fields[..] else {
            return Err(Error::at_line(
                &index_path,
                lineno,
                format!(
                    "expected `headword<TAB>offset<TAB>length`, found {} fields",
                    fields.len()
                ),
            ));
        };
        if head.starts_with("00database") || head.starts_with("00-database") {
            continue;
        }
        let (off, len) = match (b64(off), b64(len)) {
            (Some(o), Some(l)) => (o as usize, l as usize),
            _ => {
                return Err(Error::at_line(
                    &index_path,
                    lineno,
                    format!("`{off}` / `{len}` are not dictd base64 numbers"),
                ));
            }
        };
        // Both numbers come from the file: their sum may overflow as well as overshoot.
        let entry = off.checked_add(len).and_then(|end| body.get(off..end));
        let entry = entry.ok_or_else(|| {
            Error::at_line(
                &index_path,
                lineno,
                format!(
                    "entry at {off}+{len} lies outside the {}-byte dictionary",
                    body.len()
                ),
            )
        })?;
        let entry = String::from_utf8_lossy(entry);
        for t in translations(&entry) {
            if single_words
                && (head.contains(char::is_whitespace) || t.contains(char::is_whitespace))
            {
                continue;
            }
            out.push(head, t, &origin);
        }
    }
    Ok(out)
}

/// dictd's base64 number.
fn b64(s: &str) -> Option<u64> {
    s.bytes().try_fold(0u64, |acc, c| {
        let d = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc.checked_mul(64).map(|a| a + u64::from(d))
    })
}

/// The translations of one entry: every line after the first, sense numbers removed, split
/// at commas.
fn translations(entry: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for line in entry.lines().skip(1) {
        let line = line.trim();
        let line = match line.split_once(". ") {
            Some((n, rest)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => rest,
            _ => line,
        };
        for t in line.split(", ") {
            let t = t.trim();
            if !t.is_empty() && !out.contains(&t) {
                out.push(t);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_index_and_entries() {
        assert_eq!(b64("BFAD"), Some(((64 + 5) * 64) * 64 + 3));
        let dir = tempfile::tempdir().unwrap();
        let text = "00-database-info\nx\ndog /dɔg/\nchien, clébard\nrun /rʌn/\n1. courir\n2. s'élancer, se précipiter\n";
        let dog = text.find("dog").unwrap();
        let run = text.find("run").unwrap();
        let enc = |n: usize| {
            let a = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let mut s = Vec::new();
            let mut n = n;
            loop {
                s.push(a[n % 64]);
                n /= 64;
                if n == 0 {
                    break;
                }
            }
            s.reverse();
            String::from_utf8(s).unwrap()
        };
        let index = format!(
            "00databaseinfo\tA\tR\ndog\t{}\t{}\nrun\t{}\t{}\n",
            enc(dog),
            enc(run - dog),
            enc(run),
            enc(text.len() - run)
        );
        let base = dir.path().join("freedict-eng-fra");
        std::fs::write(base.with_extension("index"), index).unwrap();
        std::fs::write(base.with_extension("dict"), text).unwrap();
        let l = read_freedict(&base, false).unwrap();
        let pairs: Vec<(&str, &str)> = l
            .pairs
            .iter()
            .map(|p| (p.source.as_str(), p.target.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("dog", "chien"),
                ("dog", "clébard"),
                ("run", "courir"),
                ("run", "s'élancer"),
                ("run", "se précipiter")
            ]
        );
        assert_eq!(read_freedict(&base, true).unwrap().len(), 4);
        std::fs::write(base.with_extension("index"), "dog\t!!\tB\n").unwrap();
        let e = read_freedict(&base, false).unwrap_err().to_string();
        assert!(e.contains("freedict-eng-fra.index:line 1"), "{e}");
    }
}
