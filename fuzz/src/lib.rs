//! What the fuzz targets share: a scratch directory for parsers that only read paths, and a
//! way to cut one input into the several files a format needs.
//!
//! Parsers that take bytes or text (`parse_po`, `parse_object`, `to_plain_text`…) are fed
//! directly; the others are fed through real files, because the path-taking function is the
//! one users call and it is what must not panic.

use std::path::{Path, PathBuf};

/// A directory private to this fuzzing process (on `/dev/shm` when there is one, so that
/// writing an input per execution costs no disk I/O); emptied and recreated on every call.
pub fn scratch_dir() -> PathBuf {
    let base = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("lux-fuzz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the scratch directory can be created");
    dir
}

/// Writes `bytes` to `dir/name` (creating parent directories) and returns the path.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("the scratch directory can be created");
    }
    std::fs::write(&path, bytes).expect("the scratch file can be written");
    path
}

/// The byte that separates the files of a multi-file input. 0xFF never occurs in UTF-8, so
/// text formats cannot need it; binary parts simply never contain one.
pub const SEPARATOR: u8 = 0xFF;

/// Cuts `data` at its first `n - 1` [`SEPARATOR`]s into exactly `n` parts (missing parts are
/// empty, the last part keeps any further separators).
pub fn parts(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(n);
    let mut rest = data;
    while out.len() + 1 < n {
        match rest.iter().position(|&b| b == SEPARATOR) {
            Some(i) => {
                out.push(&rest[..i]);
                rest = &rest[i + 1..];
            }
            None => {
                out.push(rest);
                rest = &[];
            }
        }
    }
    out.push(rest);
    out
}

/// The language most sources are read as.
pub fn lb() -> lux_core::Lang {
    lux_core::Lang::new("lb").expect("lb is a language code")
}

/// Drains a seed stream (bounded: a stream must end, and must end on its first error).
pub fn drain(stream: lux_core::Result<lux_core::plugin::source::SeedStream>) {
    if let Ok(stream) = stream {
        for item in stream.take(1_000_000) {
            if item.is_err() {
                break;
            }
        }
    }
}
