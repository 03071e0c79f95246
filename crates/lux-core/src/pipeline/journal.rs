//! The generation journal: one line per finished seed, appended as seeds finish.
//!
//! The journal is what makes a run resumable: a seed whose line is in it is never generated
//! again (no repeated LLM calls), and the dataset is always rebuilt from the journal, so a
//! resumed run writes exactly the dataset an uninterrupted run would.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Example, IoContext, Rejection, Result};

/// Everything the generators produced from one seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Position of the seed in the recipe's stream (sources in order, items in order).
    pub seq: u64,
    /// `source-index/source-name/item-id`: unique and stable for a given recipe.
    pub key: String,
    /// Examples the generators accepted.
    pub examples: Vec<Example>,
    /// Candidates the generators rejected, with reasons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<Rejection>,
    /// Generators that failed on this seed (after their own retries), with the error.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<Rejection>,
}

/// An append-only JSONL journal.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    out: BufWriter<File>,
    unsynced: usize,
}

impl Journal {
    /// Opens (or creates) the journal at `path` and returns the entries already in it.
    ///
    /// A process killed mid-write can leave a partial last line: it is cut off (that seed is
    /// simply generated again). A malformed line anywhere else is an error naming the line.
    pub fn open(path: impl AsRef<Path>) -> Result<(Journal, Vec<JournalEntry>)> {
        let path = path.as_ref().to_path_buf();
        let mut entries = Vec::new();
        if path.exists() {
            let bytes = std::fs::read(&path).with_path(&path)?;
            let complete = match bytes.iter().rposition(|&b| b == b'\n') {
                Some(i) => i + 1,
                None => 0,
            };
            if complete < bytes.len() {
                tracing::warn!(
                    "{}: dropping a partial last line ({} bytes) left by an interrupted run",
                    path.display(),
                    bytes.len() - complete
                );
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .with_path(&path)?;
                f.set_len(complete as u64).with_path(&path)?;
            }
            for (i, line) in bytes[..complete].split(|&b| b == b'\n').enumerate() {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let entry: JournalEntry = serde_json::from_slice(line)
                    .map_err(|e| Error::at_line(&path, i + 1, format!("bad journal entry: {e}")))?;
                entries.push(entry);
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_path(&path)?;
        Ok((
            Journal {
                path,
                out: BufWriter::new(file),
                unsynced: 0,
            },
            entries,
        ))
    }

    /// Appends one entry and flushes it to the OS, so a killed process keeps it.
    pub fn append(&mut self, entry: &JournalEntry) -> Result<()> {
        let mut line = serde_json::to_vec(entry)
            .map_err(|e| Error::other(format!("serialising journal entry {}", entry.key), e))?;
        line.push(b'\n');
        self.out.write_all(&line).with_path(&self.path)?;
        self.out.flush().with_path(&self.path)?;
        self.unsynced += 1;
        if self.unsynced >= 256 {
            self.sync()?;
        }
        Ok(())
    }

    /// Forces everything written so far to disk.
    pub fn sync(&mut self) -> Result<()> {
        self.out.flush().with_path(&self.path)?;
        self.out.get_ref().sync_data().with_path(&self.path)?;
        self.unsynced = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64) -> JournalEntry {
        JournalEntry {
            seq,
            key: format!("0/s/{seq}"),
            examples: vec![],
            rejected: vec![],
            failures: vec![],
        }
    }

    #[test]
    fn partial_last_line_is_cut_and_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("journal.jsonl");
        {
            let (mut j, old) = Journal::open(&p).unwrap();
            assert!(old.is_empty());
            j.append(&entry(0)).unwrap();
            j.append(&entry(1)).unwrap();
        }
        let mut bytes = std::fs::read(&p).unwrap();
        bytes.extend_from_slice(b"{\"seq\":2,\"ke");
        std::fs::write(&p, &bytes).unwrap();
        let (mut j, old) = Journal::open(&p).unwrap();
        assert_eq!(old, vec![entry(0), entry(1)]);
        j.append(&entry(2)).unwrap();
        drop(j);
        let (_, old) = Journal::open(&p).unwrap();
        assert_eq!(old.len(), 3);
    }

    #[test]
    fn corrupt_middle_line_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("journal.jsonl");
        std::fs::write(&p, "{\"seq\":0,\"key\":\"a\",\"examples\":[]}\nnot json\n").unwrap();
        let err = Journal::open(&p).unwrap_err().to_string();
        assert!(err.contains("journal.jsonl:line 2"), "{err}");
    }
}
