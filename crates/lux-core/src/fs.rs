//! Crash-safe file writing shared by every crate that writes results.
//!
//! A file lux writes is either the old version or the complete new one, never half of each:
//! write to a temporary file beside it, flush it to disk, rename over the target, then flush
//! the directory so the rename itself survives a power cut. A process killed mid-write leaves
//! at most a temporary file (`.NAME.tmp-PID-N`), which [`remove_stale_temps`] clears away.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

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
    // The process id and a counter: two writers of one file (two threads, two processes
    // sharing a cache directory) never write into each other's temporary file.
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let tmp = path.with_file_name(format!(
        ".{}{TEMP_MARK}{}-{}",
        file_name.to_string_lossy(),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
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
    result.with_path(path)?;
    sync_dir(path.parent().unwrap_or(Path::new(".")));
    Ok(())
}

/// What marks a temporary file of [`write_atomic_with`]: `.NAME.tmp-PID-N`.
const TEMP_MARK: &str = ".tmp-";

/// Flushes a directory's entries (a rename) to disk. Best effort: some filesystems and
/// platforms cannot open or sync a directory, and the file itself is already synced.
fn sync_dir(dir: &Path) {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Removes the temporary files that killed processes left in `dir` (not in its
/// subdirectories) and returns how many. Only a temporary file whose writer is gone is
/// removed: on Linux, one whose process id is not running; elsewhere, where that cannot be
/// checked, only this process's own.
pub fn remove_stale_temps(dir: impl AsRef<Path>) -> Result<usize> {
    let dir = dir.as_ref();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let can_check = Path::new("/proc/self").exists();
    let mut removed = 0;
    for entry in entries {
        let entry = entry.with_path(dir)?;
        let name = entry.file_name();
        let Some(pid) = temp_writer(&name.to_string_lossy()) else {
            continue;
        };
        let gone = if pid == std::process::id() {
            false // a write of this process may be under way
        } else {
            can_check && !Path::new("/proc").join(pid.to_string()).exists()
        };
        if gone && entry.file_type().is_ok_and(|t| t.is_file()) {
            fs::remove_file(entry.path()).with_path(entry.path())?;
            removed += 1;
        }
    }
    if removed > 0 {
        tracing::info!(
            "{}: removed {removed} temporary file(s) left by a killed run",
            dir.display()
        );
    }
    Ok(removed)
}

/// The process id in a temporary file name `.NAME.tmp-PID-N`.
fn temp_writer(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    let (_, tail) = rest.rsplit_once(TEMP_MARK)?;
    let (pid, n) = tail.split_once('-')?;
    n.parse::<u64>().ok()?;
    pid.parse().ok()
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
    fn a_failed_write_keeps_the_old_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("dataset.jsonl");
        write_atomic(&p, b"old\n").unwrap();
        // What a full disk does halfway through: the writer fails after some bytes.
        let err = write_atomic_with(&p, |w| {
            w.write_all(b"new, half of it")?;
            Err(std::io::Error::from_raw_os_error(28)) // ENOSPC
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("dataset.jsonl"), "{err}");
        assert_eq!(fs::read_to_string(&p).unwrap(), "old\n");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn an_output_under_a_regular_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("file"), "x").unwrap();
        let err = write_atomic(dir.path().join("file/sub/out.json"), b"{}")
            .unwrap_err()
            .to_string();
        assert!(err.contains("file/sub"), "{err}");
    }

    #[test]
    fn stale_temps_of_dead_writers_are_removed_and_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let own = format!(".dataset.jsonl.tmp-{}-0", std::process::id());
        // Process ids are below 2^22 on Linux: 4194305 runs nowhere.
        for name in [
            ".dataset.jsonl.tmp-4194305-3",
            &own,
            "dataset.jsonl",
            ".x.tmp-abc",
        ] {
            fs::write(d.join(name), "x").unwrap();
        }
        let removed = remove_stale_temps(d).unwrap();
        let mut left: Vec<String> = fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        if Path::new("/proc/self").exists() {
            assert_eq!(removed, 1);
            assert!(!left.contains(&".dataset.jsonl.tmp-4194305-3".to_string()));
        }
        assert!(left.contains(&own) && left.contains(&"dataset.jsonl".to_string()));
        assert_eq!(temp_writer(".a.b.tmp-12-7"), Some(12));
        assert_eq!(temp_writer("a.tmp-12-7"), None);
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
