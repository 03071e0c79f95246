//! Per-language tables: what differs between languages (their names, MGSM answer phrases,
//! LUXELLA topics, instruction templates, language-id neighbours) lives in TOML files, one file
//! per table, embedded by the crate that owns the table. Porting lux to a language means adding
//! rows to these files, not code (see `docs/porting.md`).
//!
//! A table maps a language code to an entry. Lookups try the exact code (`pt-BR`), then its
//! primary subtag (`pt`). Where a table has no entry, its owner uses a documented fallback
//! (the table's `*` row, English, or nothing) and [`warn_missing`] logs that once per table and
//! language, so a run for a new language says what it lacks without repeating it per example.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Mutex, OnceLock};

use serde::de::DeserializeOwned;

use crate::{Error, Lang, Result};

/// One table: entries by language code, with an optional `*` row for languages it lacks.
#[derive(Debug, Clone)]
pub struct LangTable<T> {
    name: String,
    entries: BTreeMap<String, T>,
    fallback: Option<T>,
}

impl<T: DeserializeOwned> LangTable<T> {
    /// Parses a TOML table whose top-level keys are language codes (`lb`, `pt-BR`) or `*`.
    ///
    /// `file` names the table in errors: a malformed entry is reported with its file, line and
    /// key, and a key that is not a language code is refused (a typo would otherwise be a
    /// silent miss).
    pub fn from_toml(name: &str, file: &str, text: &str) -> Result<LangTable<T>> {
        let raw: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            Error::parse(file, line_of(text, e.span()), e.message().to_string())
        })?;
        let mut entries = BTreeMap::new();
        let mut fallback = None;
        for (key, value) in raw {
            let line = key_line(text, &key);
            let entry: T = value.try_into().map_err(|e: toml::de::Error| {
                Error::parse(file, line.clone(), format!("`{key}`: {e}"))
            })?;
            if key == "*" {
                fallback = Some(entry);
                continue;
            }
            Lang::new(&key).map_err(|e| Error::parse(file, line, format!("`{key}`: {e}")))?;
            entries.insert(key, entry);
        }
        Ok(LangTable {
            name: name.to_string(),
            entries,
            fallback,
        })
    }
}

impl<T> LangTable<T> {
    /// The table's name, as warnings print it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The entry for `lang` (exact code, then primary subtag), if the table has one.
    pub fn get(&self, lang: &Lang) -> Option<&T> {
        self.entries
            .get(lang.code())
            .or_else(|| self.entries.get(lang.primary()))
    }

    /// The entry for `lang`, else the `*` row, logging the miss once (see [`warn_missing`]).
    pub fn get_or_fallback(&self, lang: &Lang) -> Option<&T> {
        if let Some(entry) = self.get(lang) {
            return Some(entry);
        }
        let fallback = if self.fallback.is_some() {
            "its `*` row"
        } else {
            "nothing"
        };
        warn_missing(&self.name, lang, fallback);
        self.fallback.as_ref()
    }

    /// The `*` row: what a language without an entry gets.
    pub fn fallback(&self) -> Option<&T> {
        self.fallback.as_ref()
    }

    /// The language codes with an entry, sorted.
    pub fn languages(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// Every `(code, entry)`, sorted by code.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &T)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }
}

/// Logs (a `tracing` warning) that `table` has no entry for `lang` and that `fallback` is
/// used instead, the first time this table and language meet in the process; returns whether
/// it logged.
pub fn warn_missing(table: &str, lang: &Lang, fallback: &str) -> bool {
    static SEEN: OnceLock<Mutex<HashSet<(String, String)>>> = OnceLock::new();
    let seen = SEEN.get_or_init(Default::default);
    let first = seen
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert((table.to_string(), lang.code().to_string()));
    if first {
        tracing::warn!(
            "the {table} table has no entry for `{lang}`; using {fallback} (add a `{}` row to \
             the table: docs/porting.md)",
            lang.primary()
        );
    }
    first
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, span: Option<std::ops::Range<usize>>) -> Option<String> {
    span.map(|s| {
        format!(
            "line {}",
            text[..s.start.min(text.len())].matches('\n').count() + 1
        )
    })
}

/// The line a top-level key is written on, for errors about its entry: its `[key]` header
/// when it has one (a key of a table of tables also appears inside other sections), else the
/// first top-level `key = …` line.
fn key_line(text: &str, key: &str) -> Option<String> {
    let quoted = format!("\"{key}\"");
    let names = [key, quoted.as_str()];
    let header = |l: &str| {
        l.trim().strip_prefix('[').is_some_and(|rest| {
            names.iter().any(|k| {
                rest.trim_start()
                    .strip_prefix(k)
                    .is_some_and(|r| r.trim_start().starts_with([']', '.']))
            })
        })
    };
    let assignment = |l: &str| {
        names.iter().any(|k| {
            l.trim_start()
                .strip_prefix(k)
                .is_some_and(|r| r.trim_start().starts_with(['=', '.']))
        })
    };
    let lines: Vec<&str> = text.lines().collect();
    lines
        .iter()
        .position(|l| header(l))
        .or_else(|| {
            // Top-level assignments come before the first header.
            let first_header = lines.iter().position(|l| l.trim_start().starts_with('['));
            lines[..first_header.unwrap_or(lines.len())]
                .iter()
                .position(|l| assignment(l))
        })
        .map(|i| format!("line {}", i + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_up_exact_then_primary_then_fallback() {
        let t: LangTable<Vec<String>> = LangTable::from_toml(
            "topics",
            "topics.toml",
            "\"*\" = [\"family\"]\nlb = [\"Moselle\"]\npt-BR = [\"samba\"]\n",
        )
        .unwrap();
        assert_eq!(t.get(&Lang::LB).unwrap(), &["Moselle"]);
        assert_eq!(t.get(&Lang::new("lb-LU").unwrap()).unwrap(), &["Moselle"]);
        assert_eq!(t.get(&Lang::new("pt-BR").unwrap()).unwrap(), &["samba"]);
        assert!(t.get(&Lang::new("pt").unwrap()).is_none());
        assert_eq!(
            t.get_or_fallback(&Lang::new("fo").unwrap()).unwrap(),
            &["family"]
        );
        assert_eq!(t.languages().collect::<Vec<_>>(), ["lb", "pt-BR"]);
    }

    #[test]
    fn a_miss_is_logged_once_per_table_and_language() {
        let xx = Lang::new("xq").unwrap();
        assert!(warn_missing("test-table-a", &xx, "English"));
        assert!(!warn_missing("test-table-a", &xx, "English"));
        assert!(warn_missing("test-table-b", &xx, "English"));
        assert!(warn_missing(
            "test-table-a",
            &Lang::new("xr").unwrap(),
            "English"
        ));
    }

    #[test]
    fn bad_rows_name_the_file_line_and_key() {
        let e = LangTable::<Vec<String>>::from_toml(
            "topics",
            "topics.toml",
            "lb = [\"a\"]\nFaroese = [\"b\"]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("topics.toml") && e.contains("line 2") && e.contains("Faroese"),
            "{e}"
        );
        let e =
            LangTable::<Vec<String>>::from_toml("topics", "topics.toml", "lb = [\"a\"]\nfo = 3\n")
                .unwrap_err()
                .to_string();
        assert!(e.contains("line 2") && e.contains("`fo`"), "{e}");
        let e = LangTable::<BTreeMap<String, String>>::from_toml(
            "names",
            "names.toml",
            "[en]\nfo = \"Faroese\"\n\n[fo]\nfo = 3\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("names.toml") && e.contains("line 4"), "{e}");
        let e = LangTable::<Vec<String>>::from_toml("topics", "topics.toml", "lb = [\"a\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("topics.toml"), "{e}");
    }
}
