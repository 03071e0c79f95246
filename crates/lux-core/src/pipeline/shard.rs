//! Sharded data runs: N processes (a Slurm array, a Kubernetes indexed Job) each generate a
//! deterministic slice of the seeds, and [`Pipeline::merge_shards`] joins their journals into
//! the dataset one unsharded run would write, byte for byte.
//!
//! Shard `i/N` (0-based, as `$SLURM_ARRAY_TASK_ID` and `$JOB_COMPLETION_INDEX` count) takes
//! the seeds whose position in the recipe's seed stream is `i` modulo `N`. Positions depend
//! on the recipe alone, not on timing or on which machine runs what, so a shard run again
//! (or resumed) makes the same slice, and the N slices cover every seed exactly once.
//!
//! A shard writes only its journal (`journal.jsonl`, `run.json`) and `shard.json`, no
//! dataset: filters such as `exact_dedup` and `near_dedup` judge each example against every
//! example before it, so filtering must see the whole journal. Merging therefore joins the
//! journals (in seed order, as one run would have appended them) and runs the filters once
//! over the result, which is exactly what an unsharded run does.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::journal::JournalContents;
use super::{JournalEntry, Manifest, Pipeline, RunOptions, RunSummary};
use crate::{Error, IoContext, Result, fs};

/// The file a shard's output directory records its shard in.
pub const SHARD_RECORD: &str = "shard.json";

/// One slice of a sharded run: `index` of `count`, 0-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Shard {
    /// Which slice, `0..count`.
    pub index: u32,
    /// How many slices.
    pub count: u32,
}

impl Shard {
    /// Shard `index` of `count`; errors when `count` is 0 or `index >= count`.
    pub fn new(index: u32, count: u32) -> Result<Shard> {
        if count == 0 {
            return Err(Error::invalid(
                "--shard",
                "the number of shards must be at least 1",
            ));
        }
        if index >= count {
            return Err(Error::invalid(
                "--shard",
                format!(
                    "shard index {index} is out of range for {count} shards: indices are \
                     0-based, 0 to {} (as $SLURM_ARRAY_TASK_ID with --array=0-{} and \
                     $JOB_COMPLETION_INDEX count)",
                    count - 1,
                    count - 1
                ),
            ));
        }
        Ok(Shard { index, count })
    }

    /// Whether the seed at position `seq` of the stream belongs to this shard.
    pub fn contains(&self, seq: u64) -> bool {
        seq % u64::from(self.count) == u64::from(self.index)
    }

    /// The directory name of this shard in a run's layout: `i-of-N`.
    pub fn dir_name(&self) -> String {
        format!("{}-of-{}", self.index, self.count)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = Error;

    /// `i/N`, e.g. `0/3`.
    fn from_str(s: &str) -> Result<Shard> {
        let bad = || {
            Error::invalid(
                "--shard",
                format!("expected INDEX/COUNT such as 0/3 (0-based), found `{s}`"),
            )
        };
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let i = i.trim().parse().map_err(|_| bad())?;
        let n = n.trim().parse().map_err(|_| bad())?;
        Shard::new(i, n)
    }
}

/// What a shard's output directory records (`shard.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardRecord {
    /// The slice.
    #[serde(flatten)]
    pub shard: Shard,
    /// The fingerprint of the generation recipe (as in `run.json`): shards of different
    /// recipes cannot be merged.
    pub fingerprint: String,
    /// Whether every seed of the slice has a journal entry.
    pub complete: bool,
    /// How the caller can find the recipe again when merging (lux: the recipe file and
    /// whether `--quick` applied); null when not recorded.
    #[serde(default)]
    pub origin: serde_json::Value,
}

impl ShardRecord {
    /// Reads `dir/shard.json`; `None` when there is none.
    pub fn read(dir: &Path) -> Result<Option<ShardRecord>> {
        let path = dir.join(SHARD_RECORD);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, e)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Error::parse_source(&path, None, e))
    }

    /// Reads the record of a directory that must be a shard's.
    pub fn require(dir: &Path) -> Result<ShardRecord> {
        ShardRecord::read(dir)?.ok_or_else(|| {
            Error::invalid(
                "shard directory",
                format!(
                    "{} has no {SHARD_RECORD}: it is not the output of a run with --shard",
                    dir.display()
                ),
            )
        })
    }

    pub(super) fn write(&self, dir: &Path) -> Result<()> {
        fs::write_json_atomic(dir.join(SHARD_RECORD), self)
    }
}

/// Checks that `shards` are the complete set of one split of one recipe (the one whose
/// fingerprint is `fingerprint`): same recipe, same count, no index twice, none missing, all
/// finished. Errors name the directories at fault.
pub fn check_shard_set(shards: &[(PathBuf, ShardRecord)], fingerprint: &str) -> Result<()> {
    let invalid = |message: String| Error::invalid("shards", message);
    let Some((first_dir, first)) = shards.first() else {
        return Err(invalid("name at least one shard directory".into()));
    };
    for (dir, r) in shards {
        if r.shard.count != first.shard.count {
            return Err(invalid(format!(
                "shards of different splits: {} is shard {}, {} is shard {}",
                first_dir.display(),
                first.shard,
                dir.display(),
                r.shard
            )));
        }
        if r.fingerprint != fingerprint {
            return Err(invalid(format!(
                "{} (shard {}) was made by a different recipe than the one merging \
                 (sources, generators, languages, limits or seed differ: fingerprint {} \
                 vs {fingerprint})",
                dir.display(),
                r.shard,
                r.fingerprint
            )));
        }
    }
    let mut by_index: BTreeMap<u32, &Path> = BTreeMap::new();
    for (dir, r) in shards {
        if let Some(other) = by_index.insert(r.shard.index, dir) {
            return Err(invalid(format!(
                "shard {} given twice: {} and {}",
                r.shard,
                other.display(),
                dir.display()
            )));
        }
    }
    let count = first.shard.count;
    let missing: Vec<String> = (0..count)
        .filter(|i| !by_index.contains_key(i))
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(invalid(format!(
            "missing shard{} {} (given: {})",
            if missing.len() > 1 { "s" } else { "" },
            missing.join(", "),
            shards
                .iter()
                .map(|(d, r)| format!("{} at {}", r.shard, d.display()))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if let Some((dir, r)) = shards.iter().find(|(_, r)| !r.complete) {
        return Err(invalid(format!(
            "shard {} in {} did not finish; run it again (it resumes) before merging",
            r.shard,
            dir.display()
        )));
    }
    Ok(())
}

impl Pipeline {
    /// Joins the journals of the shard directories `shard_dirs` into `out` and writes there
    /// what one unsharded run of this recipe writes: `journal.jsonl`, `run.json`,
    /// `dataset.jsonl`, `dropped.jsonl`, `rejected.jsonl`, `stats.json`, `stats.md`.
    ///
    /// Refuses shards of another recipe or split, an index given twice or missing, an
    /// unfinished shard, a damaged journal line (run that shard again: it regenerates the
    /// line) and an entry outside its shard's slice. `out` can then be resumed or rerun with
    /// other filters like any run directory.
    pub fn merge_shards(
        &mut self,
        shard_dirs: &[PathBuf],
        out: &Path,
        opts: &RunOptions,
    ) -> Result<RunSummary> {
        let (fingerprint, recipe) = self.fingerprint()?;
        let mut shards = Vec::new();
        for dir in shard_dirs {
            shards.push((dir.clone(), ShardRecord::require(dir)?));
        }
        check_shard_set(&shards, &fingerprint)?;
        std::fs::create_dir_all(out).with_path(out)?;
        let out_real = out.canonicalize().with_path(out)?;
        for (dir, _) in &shards {
            if dir.canonicalize().with_path(dir)? == out_real {
                return Err(Error::invalid(
                    "-o",
                    format!(
                        "{} is one of the shards; merge into another directory",
                        out.display()
                    ),
                ));
            }
        }

        let mut entries: Vec<JournalEntry> = Vec::new();
        for (dir, record) in &shards {
            let path = dir.join("journal.jsonl");
            let contents = JournalContents::read(&path)?;
            contents.check_sound(&path).map_err(|e| {
                Error::invalid(
                    "shards",
                    format!("{e}; run shard {} again to regenerate it", record.shard),
                )
            })?;
            if let Some(stray) = contents
                .entries
                .iter()
                .find(|e| !record.shard.contains(e.seq))
            {
                return Err(Error::invalid(
                    "shards",
                    format!(
                        "{}: entry {} (seed position {}) is not in shard {}'s slice",
                        path.display(),
                        stray.key,
                        stray.seq,
                        record.shard
                    ),
                ));
            }
            entries.extend(contents.entries);
        }
        // Seed order, as one run appends them; a seed retried within a shard keeps its
        // entries' order (the later one wins when filtering).
        entries.sort_by_key(|e| e.seq);

        fs::remove_stale_temps(out)?;
        if out.join(SHARD_RECORD).exists() {
            std::fs::remove_file(out.join(SHARD_RECORD)).with_path(out)?;
        }
        fs::write_json_atomic(
            out.join("run.json"),
            &Manifest {
                fingerprint,
                recipe,
            },
        )?;
        let lines = entries
            .iter()
            .map(JournalEntry::to_line)
            .collect::<Result<Vec<_>>>()?;
        fs::write_atomic_with(out.join("journal.jsonl"), |w| {
            use std::io::Write;
            lines.iter().try_for_each(|l| w.write_all(l))
        })?;
        let seeds = {
            let mut keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
            keys.sort_unstable();
            keys.dedup();
            keys.len()
        };
        let stats = self.filter_and_write(out, entries, opts)?;
        Ok(RunSummary {
            out_dir: out.to_path_buf(),
            seeds_generated_now: 0,
            seeds_resumed: seeds,
            stats,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(index: u32, count: u32, fingerprint: &str, complete: bool) -> ShardRecord {
        ShardRecord {
            shard: Shard { index, count },
            fingerprint: fingerprint.into(),
            complete,
            origin: serde_json::Value::Null,
        }
    }

    #[test]
    fn parses_zero_based_and_refuses_out_of_range() {
        assert_eq!(
            "2/3".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 3 }
        );
        let e = "3/3".parse::<Shard>().unwrap_err().to_string();
        assert!(e.contains("0 to 2") && e.contains("0-based"), "{e}");
        assert!("0/0".parse::<Shard>().is_err());
        let e = "1-3".parse::<Shard>().unwrap_err().to_string();
        assert!(e.contains("`1-3`"), "{e}");
    }

    #[test]
    fn slices_cover_every_seed_once() {
        let shards: Vec<Shard> = (0..3).map(|i| Shard::new(i, 3).unwrap()).collect();
        for seq in 0..100 {
            assert_eq!(shards.iter().filter(|s| s.contains(seq)).count(), 1);
        }
    }

    #[test]
    fn a_wrong_set_of_shards_is_refused_by_name() {
        let p = |s: &str| PathBuf::from(s);
        let ok = vec![
            (p("a"), record(0, 3, "f", true)),
            (p("b"), record(1, 3, "f", true)),
            (p("c"), record(2, 3, "f", true)),
        ];
        check_shard_set(&ok, "f").unwrap();
        let e = check_shard_set(&ok[..2], "f").unwrap_err().to_string();
        assert!(
            e.contains("missing shard 2/3") && e.contains("1/3 at b"),
            "{e}"
        );
        let mut twice = ok.clone();
        twice[2] = (p("d"), record(1, 3, "f", true));
        let e = check_shard_set(&twice, "f").unwrap_err().to_string();
        assert!(e.contains("1/3 given twice: b and d"), "{e}");
        let mut split = ok.clone();
        split[1] = (p("e"), record(1, 4, "f", true));
        let e = check_shard_set(&split, "f").unwrap_err().to_string();
        assert!(e.contains("e is shard 1/4"), "{e}");
        let e = check_shard_set(&ok, "g").unwrap_err().to_string();
        assert!(
            e.contains("a (shard 0/3) was made by a different recipe"),
            "{e}"
        );
        let mut unfinished = ok.clone();
        unfinished[0].1.complete = false;
        let e = check_shard_set(&unfinished, "f").unwrap_err().to_string();
        assert!(e.contains("shard 0/3 in a did not finish"), "{e}");
    }
}
