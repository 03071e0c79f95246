use std::path::{Path, PathBuf};

use lux_core::{Error, Example, Filter, FilterContext, IoContext, Result, Verdict};
use regex::{RegexBuilder, RegexSet, RegexSetBuilder};
use serde::{Deserialize, Serialize};

use super::common::{Field, all_fields};

/// Compiled patterns and where each came from.
#[derive(Debug, Clone)]
struct Compiled {
    set: RegexSet,
    /// `` `pattern` `` or `` `pattern` (file:line) ``, per pattern.
    origins: Vec<String>,
}

/// Drops examples in which a blocklisted regular expression matches: patterns listed inline
/// and/or read from a file (one per line; blank lines and lines starting with `#` are
/// skipped; a relative path is resolved against the recipe's directory). Matching is
/// case-insensitive unless `case_insensitive = false`; `whole_words = true` wraps every
/// pattern in `\b(?:…)\b`. Patterns use the syntax of the `regex` crate.
///
/// A pattern that does not compile is an error at `prepare` naming the pattern, and for a
/// file its path and line.
///
/// ```toml
/// [[filters]]
/// type = "blocklist"
/// patterns = ["lorem ipsum", "as an ai (language )?model"]
/// file = "blocklist.txt"
/// whole_words = true
/// ```
///
/// Drop reason: ``blocklisted: `lorem ipsum` in output`` or
/// ``blocklisted: `foo` (blocklist.txt:3) in instruction``.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Blocklist {
    /// Regular expressions, inline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patterns: Vec<String>,
    /// A file of regular expressions, one per line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// Ignore case when matching.
    #[serde(default = "yes")]
    pub case_insensitive: bool,
    /// Match whole words only.
    #[serde(default)]
    pub whole_words: bool,
    /// Fields to look at (all three by default).
    #[serde(default = "all_fields")]
    pub fields: Vec<Field>,
    /// The compiled patterns (set by `prepare`).
    #[serde(skip)]
    compiled: Option<Compiled>,
}

fn yes() -> bool {
    true
}

impl Default for Blocklist {
    fn default() -> Self {
        Blocklist {
            patterns: Vec::new(),
            file: None,
            case_insensitive: true,
            whole_words: false,
            fields: all_fields(),
            compiled: None,
        }
    }
}

impl Blocklist {
    /// A blocklist of inline patterns.
    pub fn new<S: Into<String>>(patterns: impl IntoIterator<Item = S>) -> Blocklist {
        Blocklist {
            patterns: patterns.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }

    fn wrap(&self, pattern: &str) -> String {
        if self.whole_words {
            format!(r"\b(?:{pattern})\b")
        } else {
            pattern.to_string()
        }
    }

    /// Checks one pattern alone, so that an error names it.
    fn check_pattern(&self, pattern: &str) -> std::result::Result<(), String> {
        RegexBuilder::new(&self.wrap(pattern))
            .case_insensitive(self.case_insensitive)
            .size_limit(1 << 26)
            .build()
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn compile(&self, base_dir: &Path) -> Result<Compiled> {
        if self.fields.is_empty() {
            return Err(Error::invalid(
                "blocklist.fields",
                "name at least one field",
            ));
        }
        if self.patterns.is_empty() && self.file.is_none() {
            return Err(Error::invalid(
                "blocklist",
                "no patterns: set `patterns` or `file`",
            ));
        }
        let mut patterns = Vec::new();
        let mut origins = Vec::new();
        for (i, p) in self.patterns.iter().enumerate() {
            self.check_pattern(p).map_err(|e| {
                Error::invalid(
                    format!("blocklist.patterns[{i}]"),
                    format!("bad pattern `{p}`: {e}"),
                )
            })?;
            patterns.push(self.wrap(p));
            origins.push(format!("`{p}`"));
        }
        if let Some(file) = &self.file {
            let path = base_dir.join(file);
            let text = std::fs::read_to_string(&path).with_path(&path)?;
            for (i, line) in text.lines().enumerate() {
                let p = line.trim();
                if p.is_empty() || p.starts_with('#') {
                    continue;
                }
                self.check_pattern(p).map_err(|e| {
                    Error::at_line(&path, i + 1, format!("bad blocklist pattern `{p}`: {e}"))
                })?;
                patterns.push(self.wrap(p));
                origins.push(format!("`{p}` ({}:{})", file.display(), i + 1));
            }
            if origins.is_empty() {
                tracing::warn!("blocklist {} has no patterns", path.display());
            }
        }
        let set = RegexSetBuilder::new(&patterns)
            .case_insensitive(self.case_insensitive)
            .size_limit(1 << 28)
            .dfa_size_limit(1 << 28)
            .build()
            .map_err(|e| {
                Error::invalid("blocklist", format!("patterns too large together: {e}"))
            })?;
        Ok(Compiled { set, origins })
    }
}

#[typetag::serde(name = "blocklist")]
impl Filter for Blocklist {
    fn prepare(&mut self, ctx: &FilterContext) -> Result<()> {
        self.compiled = Some(self.compile(&ctx.base_dir)?);
        Ok(())
    }

    fn check(&mut self, example: &Example) -> Result<Verdict> {
        if self.compiled.is_none() {
            if self.file.is_some() {
                return Err(Error::plugin(
                    "blocklist",
                    "the filter was not prepared (file not read)",
                ));
            }
            self.compiled = Some(self.compile(Path::new("."))?);
        }
        let compiled = self.compiled.as_ref().expect("compiled above");
        for &field in &self.fields {
            let Some(text) = field.get(example) else {
                continue;
            };
            if let Some(i) = compiled.set.matches(text).iter().next() {
                return Ok(Verdict::drop(format!(
                    "blocklisted: {} in {}",
                    compiled.origins[i],
                    field.name()
                )));
            }
        }
        Ok(Verdict::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filters::testing::*;

    #[test]
    fn inline_patterns_case_insensitive_by_default() {
        let mut f = Blocklist::new(["lorem ipsum", r"as an ai (language )?model"]);
        let r = run(
            &mut f,
            &[
                ex("Write a sentence.", "Lorem Ipsum dolor sit amet."),
                ex("Write a sentence.", "As an AI language model, I cannot."),
                ex("Write a sentence.", "Moien, wéi geet et?"),
            ],
        );
        assert_eq!(
            r[0].as_deref(),
            Some("blocklisted: `lorem ipsum` in output")
        );
        assert_eq!(
            r[1].as_deref(),
            Some("blocklisted: `as an ai (language )?model` in output")
        );
        assert_eq!(r[2], None);
        let mut g = Blocklist {
            case_insensitive: false,
            ..Blocklist::new(["lorem ipsum"])
        };
        assert_eq!(run(&mut g, &[ex("Write.", "Lorem Ipsum")]), [None]);
    }

    #[test]
    fn file_patterns_with_comments_and_whole_words() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("block.txt"),
            "# bad words\n\nkuck\n  # indented comment\nspam+\n",
        )
        .unwrap();
        let mut f = Blocklist {
            file: Some("block.txt".into()),
            whole_words: true,
            fields: vec![Field::Instruction, Field::Output],
            ..Default::default()
        };
        f.prepare(&ctx_in(dir.path().to_path_buf())).unwrap();
        let check = |f: &mut Blocklist, e| reason(&f.check(&e).unwrap()).map(str::to_string);
        assert_eq!(
            check(&mut f, ex("Say SPAMMM.", "ok")).as_deref(),
            Some("blocklisted: `spam+` (block.txt:5) in instruction")
        );
        assert_eq!(
            check(&mut f, ex("Say it.", "Kuck!")).as_deref(),
            Some("blocklisted: `kuck` (block.txt:3) in output")
        );
        assert_eq!(
            check(&mut f, ex("Say it.", "Kucken ass gutt")),
            None,
            "whole words only"
        );
        assert_eq!(
            check(&mut f, example("Say it.", Some("kuck"), "ok")),
            None,
            "input not looked at"
        );
    }

    #[test]
    fn bad_patterns_are_named() {
        let mut f = Blocklist::new(["ok", "(unclosed"]);
        let err = f.prepare(&ctx()).unwrap_err().to_string();
        assert!(
            err.contains("blocklist.patterns[1]") && err.contains("`(unclosed`"),
            "{err}"
        );

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.txt"), "fine\n# c\n[z-a]\n").unwrap();
        let mut g = Blocklist {
            file: Some("b.txt".into()),
            ..Default::default()
        };
        let err = g
            .prepare(&ctx_in(dir.path().to_path_buf()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("b.txt:line 3") && err.contains("`[z-a]`"),
            "{err}"
        );

        let mut h = Blocklist {
            file: Some("missing.txt".into()),
            ..Default::default()
        };
        let err = h
            .prepare(&ctx_in(dir.path().to_path_buf()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing.txt"), "{err}");
        assert!(h.check(&ex("a", "b")).is_err(), "not prepared");
        assert!(Blocklist::default().prepare(&ctx()).is_err(), "no patterns");
    }

    #[test]
    fn deserialises_through_the_trait() {
        let mut f = from_toml(
            "type = \"blocklist\"\npatterns = [\"\\\\bfoo\\\\b\"]\nfields = [\"output\"]",
        );
        assert_eq!(f.name(), "blocklist");
        let r = run(f.as_mut(), &[ex("foo", "bar"), ex("x", "a FOO b")]);
        assert_eq!(r[0], None);
        assert_eq!(r[1].as_deref(), Some("blocklisted: `\\bfoo\\b` in output"));
        assert!(toml::from_str::<Box<dyn Filter>>("type = \"blocklist\"\nregexes = []").is_err());
    }
}
