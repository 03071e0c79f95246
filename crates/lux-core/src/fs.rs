//! Crash-safe file writing shared by every crate that writes results.
//!
//! A file lux writes is either the old version or the complete new one, never half of each:
//! write to a temporary file beside it, flush it to disk, then rename over the target.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Error, IoContext, Result};

/// Writes `bytes` to `path` atomically (temporary file + fsync + rename).
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Writes `path` atomically through a buffered writer given to `fill`.
pub fn write_atomic_with(
    path: impl AsRef<Path>,
    fill: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<()> {
    let path = path.as_ref();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).with_path(dir)?;
    }
    let file_name = path
        .file_name()
        .ok_or_else(|| Error::invalid("path", format!("{} has no file name", path.display())))?;
    let tmp = path.with_file_name(format!(
        ".{}.tmp-{}",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut w = BufWriter::new(File::create(&tmp)?);
        fill(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_path(path)
}

/// Writes `items` as JSON Lines to `path`, atomically.
pub fn write_jsonl_atomic<T: Serialize>(path: impl AsRef<Path>, items: &[T]) -> Result<()> {
    write_atomic_with(path, |w| {
        for item in items {
            serde_json::to_writer(&mut *w, item).map_err(std::io::Error::other)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    })
}

/// Reads a JSON Lines file into memory, one `T` per non-blank line; errors name the file and
/// the line.
pub fn read_jsonl<T: DeserializeOwned>(path: impl AsRef<Path>) -> Result<Vec<T>> {
    let path = path.as_ref();
    let text = fs::read_to_string(path).with_path(path)?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| Error::at_line(path, i + 1, e.to_string()))
        })
        .collect()
}

/// Writes `value` as pretty JSON to `path`, atomically.
pub fn write_json_atomic<T: Serialize + ?Sized>(path: impl AsRef<Path>, value: &T) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| Error::other(format!("serialising {}", path.as_ref().display()), e))?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_jsonl_names_the_bad_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.jsonl");
        fs::write(&p, "1\n\n2\nthree\n").unwrap();
        let e = read_jsonl::<u32>(&p).unwrap_err().to_string();
        assert!(e.contains("x.jsonl") && e.contains("line 4"), "{e}");
        fs::write(&p, "1\n\n2\n").unwrap();
        assert_eq!(read_jsonl::<u32>(&p).unwrap(), vec![1, 2]);
    }

    #[test]
    fn replaces_whole_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/out.jsonl");
        write_jsonl_atomic(&p, &[1, 2, 3]).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "1\n2\n3\n");
        write_atomic(&p, b"x").unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "x");
        let names: Vec<_> = fs::read_dir(p.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }
}
