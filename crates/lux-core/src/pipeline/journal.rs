//! The generation journal: one line per finished seed, appended as seeds finish.
//!
//! The journal is what makes a run resumable: a seed whose line is in it is never generated
//! again (no repeated LLM calls), and the dataset is always rebuilt from the journal, so a
//! resumed run writes exactly the dataset an uninterrupted run would.
//!
//! Each line is a checksummed record ([`crate::checksum`]): a line cut short by a killed
//! process, or changed on disk afterwards, is detected, reported with its file and line, and
//! never loaded: its seed is generated again, and the journal is rewritten without it
//! (atomically) so the damage is reported once.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::checksum::{self, Damage};
use crate::{Error, Example, IoContext, Rejection, Result, fs};

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

impl JournalEntry {
    /// The entry as one journal line (checksummed record and newline).
    pub fn to_line(&self) -> Result<Vec<u8>> {
        let mut line = checksum::seal_value(self)
            .map_err(|e| Error::other(format!("serialising journal entry {}", self.key), e))?;
        line.push(b'\n');
        Ok(line)
    }
}

/// A journal line that was not loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamagedLine {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub damage: Damage,
}

/// What a journal file holds: its sound entries (with their lines' bytes) and its damage.
#[derive(Debug, Default)]
pub struct JournalContents {
    /// Sound entries, in file order.
    pub entries: Vec<JournalEntry>,
    /// The bytes of each sound entry's line (newline included), in file order.
    lines: Vec<Vec<u8>>,
    /// Complete lines that failed their checksum or did not parse.
    pub damaged: Vec<DamagedLine>,
    /// Bytes of a last line without its newline (a write cut off by a killed process).
    pub partial_tail: usize,
    /// The 1-based line number of that partial line.
    partial_line: usize,
}

impl JournalContents {
    /// Reads and verifies the journal at `path` (a missing file is an empty journal).
    pub fn read(path: &Path) -> Result<JournalContents> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(Error::io(path, e)),
        };
        let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let mut contents = JournalContents {
            partial_tail: bytes.len() - complete,
            partial_line: bytes[..complete].iter().filter(|&&b| b == b'\n').count() + 1,
            ..Self::default()
        };
        for (i, line) in bytes[..complete]
            .split_inclusive(|&b| b == b'\n')
            .enumerate()
        {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match checksum::unseal_value::<JournalEntry>(line) {
                Ok(entry) => {
                    contents.entries.push(entry);
                    contents.lines.push(line.to_vec());
                }
                Err(damage) => contents.damaged.push(DamagedLine {
                    line: i + 1,
                    damage,
                }),
            }
        }
        Ok(contents)
    }

    /// The first damage as an error naming the file and line, if there is any.
    pub fn check_sound(&self, path: &Path) -> Result<()> {
        if let Some(d) = self.damaged.first() {
            return Err(Error::at_line(
                path,
                d.line,
                format!("damaged journal entry: {}", d.damage),
            ));
        }
        if self.partial_tail > 0 {
            return Err(Error::at_line(
                path,
                self.partial_line,
                format!(
                    "journal ends in a partial line ({} bytes): its run was killed mid-write",
                    self.partial_tail
                ),
            ));
        }
        Ok(())
    }
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
    /// A partial last line (a process killed mid-write) and any damaged line (checksum
    /// mismatch, unparsable, or written without a checksum) are reported with their line
    /// and left out: their seeds are simply generated again. The journal is then rewritten
    /// atomically with its sound lines only.
    pub fn open(path: impl AsRef<Path>) -> Result<(Journal, Vec<JournalEntry>)> {
        let path = path.as_ref().to_path_buf();
        let contents = JournalContents::read(&path)?;
        if contents.partial_tail > 0 {
            tracing::warn!(
                "{}: dropping a partial last line ({} bytes) left by an interrupted run",
                path.display(),
                contents.partial_tail
            );
        }
        for d in &contents.damaged {
            tracing::warn!(
                "{}:line {}: damaged journal entry ({}); its seed will be generated again",
                path.display(),
                d.line,
                d.damage
            );
        }
        if contents.partial_tail > 0 || !contents.damaged.is_empty() {
            fs::write_atomic_with(&path, |w| {
                contents.lines.iter().try_for_each(|l| w.write_all(l))
            })?;
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
            contents.entries,
        ))
    }

    /// Appends one entry and flushes it to the OS, so a killed process keeps it.
    pub fn append(&mut self, entry: &JournalEntry) -> Result<()> {
        let line = entry.to_line()?;
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
        let whole = entry(2).to_line().unwrap();
        bytes.extend_from_slice(&whole[..whole.len() / 2]);
        std::fs::write(&p, &bytes).unwrap();
        let err = JournalContents::read(&p)
            .unwrap()
            .check_sound(&p)
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3") && err.contains("partial"), "{err}");
        let (mut j, old) = Journal::open(&p).unwrap();
        assert_eq!(old, vec![entry(0), entry(1)]);
        j.append(&entry(2)).unwrap();
        drop(j);
        let (_, old) = Journal::open(&p).unwrap();
        assert_eq!(old.len(), 3);
    }

    #[test]
    fn a_damaged_middle_line_is_reported_left_out_and_compacted_away() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("journal.jsonl");
        {
            let (mut j, _) = Journal::open(&p).unwrap();
            for seq in 0..3 {
                j.append(&entry(seq)).unwrap();
            }
        }
        // A change that still parses as JSON: seq 1 becomes seq 7.
        let text = std::fs::read_to_string(&p).unwrap();
        let damaged = text.replacen("\"seq\":1", "\"seq\":7", 1);
        assert_ne!(damaged, text);
        std::fs::write(&p, &damaged).unwrap();
        let contents = JournalContents::read(&p).unwrap();
        assert_eq!(contents.damaged.len(), 1);
        assert_eq!(contents.damaged[0].line, 2);
        assert!(matches!(
            contents.damaged[0].damage,
            Damage::Mismatch { .. }
        ));
        let err = contents.check_sound(&p).unwrap_err().to_string();
        assert!(err.contains("journal.jsonl:line 2"), "{err}");

        let (_, old) = Journal::open(&p).unwrap();
        assert_eq!(old, vec![entry(0), entry(2)]);
        let after = JournalContents::read(&p).unwrap();
        assert!(after.damaged.is_empty() && after.entries.len() == 2);
    }

    #[test]
    fn a_line_without_checksum_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("journal.jsonl");
        std::fs::write(&p, "{\"seq\":0,\"key\":\"a\",\"examples\":[]}\nnot json\n").unwrap();
        let contents = JournalContents::read(&p).unwrap();
        assert!(contents.entries.is_empty());
        assert_eq!(
            contents.damaged.iter().map(|d| d.line).collect::<Vec<_>>(),
            [1, 2]
        );
        let (_, old) = Journal::open(&p).unwrap();
        assert!(old.is_empty());
    }
}
