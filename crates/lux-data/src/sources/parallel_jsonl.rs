//! Aligned groups stored as JSON Lines: the embedded corpus format.
//!
//! One [`Parallel`] per line, as serde writes it:
//!
//! ```json
//! {"id":"app/Open","texts":{"en":"Open","lb":"Opmaachen"},"provenance":{"source":"gettext","license":"GPL-2.0-or-later"}}
//! ```
//!
//! [`write_parallel_jsonl`] writes such a file (atomically); `type = "parallel_jsonl"`
//! ([`ParallelJsonl`]) reads it back lazily, line by line. Blank lines are skipped.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Lines, Write};
use std::path::{Path, PathBuf};

use lux_core::{Error, IoContext, Parallel, Result, Seed, SeedSource, SeedStream, SourceContext};
use serde::{Deserialize, Serialize};
use unicode_normalization::{UnicodeNormalization, is_nfc};

/// Reads aligned groups from a JSON Lines file, one [`Parallel`] per line.
///
/// ```toml
/// [[data.sources]]
/// type = "parallel_jsonl"
/// path = "../data/parallel.jsonl"
/// ```
///
/// Texts are brought to NFC; a line that is not a group, or that repeats an earlier id, is an
/// error naming the file and line, after which the stream ends.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParallelJsonl {
    /// The JSON Lines file.
    pub path: PathBuf,
}

#[typetag::serde(name = "parallel_jsonl")]
impl SeedSource for ParallelJsonl {
    fn open(&self, ctx: &SourceContext) -> Result<SeedStream> {
        let path = ctx.resolve(&self.path);
        let file = File::open(&path).with_path(&path)?;
        Ok(Box::new(GroupLines {
            lines: BufReader::new(file).lines(),
            path,
            line: 0,
            seen: HashSet::new(),
            done: false,
        }))
    }
}

struct GroupLines {
    lines: Lines<BufReader<File>>,
    path: PathBuf,
    line: usize,
    seen: HashSet<String>,
    done: bool,
}

impl GroupLines {
    fn parse(&mut self, text: &str) -> Result<Parallel> {
        let mut group: Parallel = serde_json::from_str(text).map_err(|e| {
            Error::at_line(&self.path, self.line, format!("not a parallel group: {e}"))
        })?;
        if !self.seen.insert(group.id.clone()) {
            return Err(Error::at_line(
                &self.path,
                self.line,
                format!("id `{}` repeats an earlier line", group.id),
            ));
        }
        for t in group.texts.values_mut() {
            if !is_nfc(t) {
                *t = t.nfc().collect();
            }
        }
        Ok(group)
    }
}

impl Iterator for GroupLines {
    type Item = Result<Seed>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            let line = match self.lines.next()? {
                Ok(l) => l,
                Err(e) => {
                    self.done = true;
                    return Some(Err(Error::parse(
                        &self.path,
                        Some(format!("line {}", self.line + 1)),
                        e.to_string(),
                    )));
                }
            };
            self.line += 1;
            if line.trim().is_empty() {
                continue;
            }
            let item = self.parse(&line);
            if item.is_err() {
                self.done = true;
            }
            return Some(item.map(Seed::Parallel));
        }
    }
}

/// Reads a whole parallel JSONL file into memory (for tools that need every group, such as
/// training the language identifier); errors name the file and line.
pub fn read_parallel_jsonl(path: impl AsRef<Path>) -> Result<Vec<Parallel>> {
    let source = ParallelJsonl {
        path: path.as_ref().to_path_buf(),
    };
    source
        .open(&SourceContext::default())?
        .filter_map(|item| match item {
            Ok(Seed::Parallel(p)) => Some(Ok(p)),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        })
        .collect()
}

/// Writes `groups` to `path` as JSON Lines, one group per line, atomically.
pub fn write_parallel_jsonl(path: impl AsRef<Path>, groups: &[Parallel]) -> Result<()> {
    lux_core::fs::write_atomic_with(path, |w| {
        for g in groups {
            serde_json::to_writer(&mut *w, g).map_err(std::io::Error::other)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use lux_core::{Lang, Provenance};

    use super::*;

    fn group(id: &str, lb: &str) -> Parallel {
        Parallel {
            id: id.to_string(),
            texts: BTreeMap::from([(Lang::EN, "Open".to_string()), (Lang::LB, lb.to_string())]),
            provenance: Provenance::new("test", "MIT").with_origin("lb.po"),
        }
    }

    fn read(source: &dyn SeedSource, dir: &Path) -> Vec<Result<Seed>> {
        source.open(&SourceContext::new(dir)).unwrap().collect()
    }

    #[test]
    fn round_trips_through_the_trait() {
        let dir = tempfile::tempdir().unwrap();
        let groups = vec![group("a", "Opmaachen"), group("b", "Zoumaachen")];
        write_parallel_jsonl(dir.path().join("data/p.jsonl"), &groups).unwrap();
        let text = std::fs::read_to_string(dir.path().join("data/p.jsonl")).unwrap();
        assert_eq!(text.lines().count(), 2);
        let source: Box<dyn SeedSource> =
            toml::from_str("type = \"parallel_jsonl\"\npath = \"data/p.jsonl\"").unwrap();
        let seeds: Vec<Seed> = read(source.as_ref(), dir.path())
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let back: Vec<Parallel> = seeds
            .into_iter()
            .map(|s| match s {
                Seed::Parallel(p) => p,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(back, groups);
    }

    #[test]
    fn blank_lines_skipped_and_text_made_nfc() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.jsonl");
        let line = serde_json::to_string(&group("a", "We\u{301}lt")).unwrap();
        std::fs::write(&p, format!("\n{line}\n\n")).unwrap();
        let seeds = read(
            &ParallelJsonl {
                path: "p.jsonl".into(),
            },
            dir.path(),
        );
        assert_eq!(seeds.len(), 1);
        match seeds.into_iter().next().unwrap().unwrap() {
            Seed::Parallel(g) => assert_eq!(g.get(&Lang::LB), Some("W\u{e9}lt")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_name_the_line_and_end_the_stream() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.jsonl");
        let ok = serde_json::to_string(&group("a", "Opmaachen")).unwrap();
        std::fs::write(&p, format!("{ok}\n\n{{\"id\": 3}}\n{ok}\n")).unwrap();
        let items = read(
            &ParallelJsonl {
                path: "bad.jsonl".into(),
            },
            dir.path(),
        );
        assert_eq!(items.len(), 2);
        let e = items[1].as_ref().unwrap_err().to_string();
        assert!(
            e.contains("bad.jsonl:line 3") && e.contains("not a parallel group"),
            "{e}"
        );

        std::fs::write(&p, format!("{ok}\n{ok}\n")).unwrap();
        let items = read(
            &ParallelJsonl {
                path: "bad.jsonl".into(),
            },
            dir.path(),
        );
        let e = items[1].as_ref().unwrap_err().to_string();
        assert!(
            e.contains("bad.jsonl:line 2") && e.contains("repeats"),
            "{e}"
        );

        let missing = ParallelJsonl {
            path: "missing.jsonl".into(),
        };
        let e = missing
            .open(&SourceContext::new(dir.path()))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("missing.jsonl"), "{e}");
        assert!(toml::from_str::<Box<dyn SeedSource>>("type = \"parallel_jsonl\"").is_err());
    }
}
