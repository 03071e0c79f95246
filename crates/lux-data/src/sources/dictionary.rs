//! `dictionary`: lux's dictionary format (JSON Lines, one entry per line), read and written.
//!
//! The format is described in `docs/formats/dictionary.md`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use lux_core::{
    Error, Lang, LexEntry, Provenance, Result, Seed, SeedSource, SeedStream, SourceContext,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::jsonl::{FuseOnError, json_records, kind};
use crate::text::nfc;

/// The keys an entry may have.
const KEYS: &[&str] = &[
    "id",
    "headword",
    "pos",
    "translations",
    "examples",
    "synonyms",
    "license",
    "source",
];

/// Dictionary entries from a file in lux's dictionary format (JSON Lines, plain or `.bz2`).
///
/// One entry per line:
///
/// ```json
/// {"headword": "Haus", "pos": "noun", "translations": {"en": ["house", "home"], "fr": ["maison"]}, "examples": ["Mir wunnen an engem ale Haus."], "synonyms": ["Gebai"]}
/// ```
///
/// Only `headword` is required. An entry without `id` gets its headword as id (`Haus#2`,
/// `Haus#3`… for later entries with the same headword); explicit ids must be unique. Unknown
/// keys are errors, so a misspelt `translation` is caught rather than silently ignored.
/// `license` and `source` in an entry override the source's settings for that entry.
///
/// ```toml
/// [[data.sources]]
/// type = "dictionary"
/// path = "lb-dictionary.jsonl"
/// license = "CC-BY-SA-4.0"
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DictionaryFile {
    /// The dictionary file (`.jsonl`, or `.bz2`), relative to the recipe.
    pub path: PathBuf,
    /// The language of the headwords, examples and synonyms. Default: the run's native
    /// language (a file read outside a run must name it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<Lang>,
    /// SPDX license expression for entries that name none, or `unknown`.
    #[serde(default = "default_license")]
    pub license: String,
    /// Source name recorded in provenance for entries that name none.
    #[serde(default = "default_source")]
    pub source: String,
}

fn default_license() -> String {
    "unknown".into()
}
fn default_source() -> String {
    "dictionary".into()
}

impl DictionaryFile {
    /// A source reading `path` with the default settings.
    pub fn new(path: impl Into<PathBuf>) -> DictionaryFile {
        DictionaryFile {
            path: path.into(),
            lang: None,
            license: default_license(),
            source: default_source(),
        }
    }

    /// All entries of the file, read eagerly (for tools; recipes use [`SeedSource::open`]).
    pub fn read_all(&self, ctx: &SourceContext) -> Result<Vec<LexEntry>> {
        self.open(ctx)?
            .map(|seed| match seed? {
                Seed::Lexeme(entry) => Ok(entry),
                // The stream below yields nothing else.
                other => Err(Error::plugin(
                    "dictionary",
                    format!("unexpected {}", other.kind()),
                )),
            })
            .collect()
    }
}

#[typetag::serde(name = "dictionary")]
impl SeedSource for DictionaryFile {
    fn open(&self, ctx: &SourceContext) -> Result<SeedStream> {
        let path = ctx.resolve(&self.path);
        let records = json_records(&path)?;
        let defaults = Provenance::new(&self.source, &self.license)
            .with_origin(self.path.display().to_string());
        let lang = self
            .lang
            .clone()
            .or_else(|| ctx.native.clone())
            .ok_or_else(|| {
                Error::invalid(
                    "dictionary.lang",
                    format!(
                        "{}: name the language of the headwords (`lang = \"lb\"`); no run's \
                         native language to take it from",
                        self.path.display()
                    ),
                )
            })?;
        let mut ids = Ids::default();
        let stream = records.map(move |record| {
            let (line, record) = record?;
            let mut entry = parse_entry(&path, line, record, &lang, &defaults)?;
            entry.id = ids.assign(&path, line, entry.id, &entry.headword)?;
            Ok(Seed::Lexeme(entry))
        });
        Ok(Box::new(FuseOnError::new(stream)))
    }
}

/// Assigns ids: explicit ones must be unique, missing ones come from the headword.
#[derive(Debug, Default)]
pub(crate) struct Ids {
    /// Every id given out, with the line that got it.
    seen: HashMap<String, usize>,
}

impl Ids {
    /// The id for the entry on `line`: `explicit` if not empty (an error if already used),
    /// else `headword`, `headword#2`, `headword#3`… whichever is free first.
    pub(crate) fn assign(
        &mut self,
        path: &Path,
        line: usize,
        explicit: String,
        headword: &str,
    ) -> Result<String> {
        if !explicit.is_empty() {
            if let Some(first) = self.seen.get(&explicit) {
                let message = format!("duplicate id `{explicit}` (first on line {first})");
                return Err(Error::at_line(path, line, message));
            }
            self.seen.insert(explicit.clone(), line);
            return Ok(explicit);
        }
        let mut id = headword.to_string();
        let mut n = 1;
        while self.seen.contains_key(&id) {
            n += 1;
            id = format!("{headword}#{n}");
        }
        self.seen.insert(id.clone(), line);
        Ok(id)
    }
}

/// The entry on line `line`; its id is empty when the line gives none.
fn parse_entry(
    path: &Path,
    line: usize,
    record: Map<String, Value>,
    lang: &Lang,
    defaults: &Provenance,
) -> Result<LexEntry> {
    let err = |message: String| Error::at_line(path, line, message);
    if let Some(key) = record.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(err(format!(
            "unknown key `{key}` (allowed: {})",
            KEYS.join(", ")
        )));
    }
    let text = |key: &str| -> Result<Option<String>> {
        match record.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(nfc(s.trim()))),
            Some(other) => Err(err(format!(
                "`{key}` must be a string, found {}",
                kind(other)
            ))),
        }
    };
    let headword = text("headword")?.ok_or_else(|| err("`headword` is missing".into()))?;
    if headword.is_empty() {
        return Err(err("`headword` is empty".into()));
    }
    let id = text("id")?.unwrap_or_default();
    if record.get("id").is_some_and(|v| !v.is_null()) && id.is_empty() {
        return Err(err("`id` is empty".into()));
    }
    let mut translations = BTreeMap::new();
    match record.get("translations") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (code, words) in map {
                let key = format!("translations.{code}");
                let target = Lang::new(code).map_err(|e| err(format!("`{key}`: {e}")))?;
                translations.insert(target, strings(&key, words).map_err(err)?);
            }
        }
        Some(other) => {
            let message = format!(
                "`translations` must be an object of language → list, found {}",
                kind(other)
            );
            return Err(err(message));
        }
    }
    let list = |key: &str| match record.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(v) => strings(key, v).map_err(err),
    };
    let provenance = Provenance {
        source: text("source")?.unwrap_or_else(|| defaults.source.clone()),
        license: text("license")?.unwrap_or_else(|| defaults.license.clone()),
        origin: defaults.origin.clone(),
    };
    Ok(LexEntry {
        id,
        headword,
        lang: lang.clone(),
        pos: text("pos")?.filter(|p| !p.is_empty()),
        translations,
        examples: list("examples")?,
        synonyms: list("synonyms")?,
        provenance,
    })
}

/// A JSON array of non-empty strings, trimmed and NFC.
fn strings(key: &str, value: &Value) -> std::result::Result<Vec<String>, String> {
    let Value::Array(items) = value else {
        return Err(format!(
            "`{key}` must be a list of strings, found {}",
            kind(value)
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::String(s) if !s.trim().is_empty() => Ok(nfc(s.trim())),
            Value::String(_) => Err(format!("`{key}[{i}]` is empty")),
            other => Err(format!(
                "`{key}[{i}]` must be a string, found {}",
                kind(other)
            )),
        })
        .collect()
}

/// One line of the format, as written.
#[derive(Serialize)]
struct EntryOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    headword: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pos: Option<&'a str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    translations: &'a BTreeMap<Lang, Vec<String>>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    examples: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    synonyms: &'a [String],
    source: &'a str,
    license: &'a str,
}

/// Writes `entries` to `path` in lux's dictionary format, atomically.
///
/// Each entry's `source` and `license` are written on its line; its id is written unless it
/// equals the headword (the id the reader would give it). The headword language and the
/// provenance origin are not part of the format: a [`DictionaryFile`] reading the file back
/// takes them from its settings. Ids must be unique and headwords non-empty, so that reading
/// the file gives the same entries back.
pub fn write_dictionary_jsonl(path: impl AsRef<Path>, entries: &[LexEntry]) -> Result<()> {
    let mut ids = HashSet::new();
    for (i, e) in entries.iter().enumerate() {
        if e.headword.trim().is_empty() {
            return Err(Error::invalid(format!("entries[{i}].headword"), "is empty"));
        }
        if !ids.insert(e.id.as_str()) {
            return Err(Error::invalid(
                format!("entries[{i}].id"),
                format!("duplicate id `{}`", e.id),
            ));
        }
    }
    lux_core::fs::write_atomic_with(path, |w| {
        for e in entries {
            let canonical = nfc(e.headword.trim());
            let implied = e.id == e.headword && e.headword == canonical;
            let out = EntryOut {
                id: (!implied).then_some(e.id.as_str()),
                headword: &e.headword,
                pos: e.pos.as_deref(),
                translations: &e.translations,
                examples: &e.examples,
                synonyms: &e.synonyms,
                source: &e.provenance.source,
                license: &e.provenance.license,
            };
            serde_json::to_writer(&mut *w, &out).map_err(std::io::Error::other)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = concat!(
        "{\"headword\": \"Haus\", \"pos\": \"noun\", \"translations\": {\"en\": [\"house\", \"home\"], \"fr\": [\"maison\"], \"de\": [\"Haus\"]}, \"examples\": [\"Mir wunnen an engem ale Haus.\"], \"synonyms\": [\"Gebai\"]}\n",
        "\n",
        "{\"headword\": \"Haus\", \"pos\": \"verb\"}\n",
        "{\"id\": \"lb-0001\", \"headword\": \" Schëff \", \"translations\": {\"en\": [\"ship\"]}, \"license\": \"CC0-1.0\", \"source\": \"lod\"}\n",
        "{\"headword\": \"Schule\", \"translations\": {\"de\": [\"Schule\"]}}\n",
    );

    fn open(dir: &Path, toml_src: &str) -> Result<SeedStream> {
        let source: Box<dyn SeedSource> = toml::from_str(toml_src).unwrap();
        source.open(&SourceContext::new(dir).with_native(Lang::LB))
    }

    fn entries(dir: &Path, name: &str) -> Vec<LexEntry> {
        let toml_src = format!("type = \"dictionary\"\npath = \"{name}\"");
        open(dir, &toml_src)
            .unwrap()
            .map(|s| match s.unwrap() {
                Seed::Lexeme(e) => e,
                other => panic!("not a lexeme: {other:?}"),
            })
            .collect()
    }

    fn error_for(line: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let content = format!("{{\"headword\": \"ok\"}}\n{line}\n");
        std::fs::write(dir.path().join("d.jsonl"), content).unwrap();
        let items: Vec<_> = open(dir.path(), "type = \"dictionary\"\npath = \"d.jsonl\"")
            .unwrap()
            .collect();
        assert!(items[0].is_ok());
        assert_eq!(items.len(), 2, "the stream ends on error");
        let err = items[1].as_ref().unwrap_err().to_string();
        assert!(err.contains("d.jsonl:line 2: "), "{err}");
        err
    }

    #[test]
    fn the_headword_language_is_the_files_else_the_runs_else_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("fo.jsonl"), "{\"headword\": \"hús\"}\n").unwrap();
        let fo = Lang::new("fo").unwrap();
        let lang_of = |toml_src: &str, ctx: SourceContext| -> Result<Lang> {
            let source: Box<dyn SeedSource> = toml::from_str(toml_src).unwrap();
            match source.open(&ctx)?.next().unwrap()? {
                Seed::Lexeme(e) => Ok(e.lang),
                other => panic!("not a lexeme: {other:?}"),
            }
        };
        let plain = "type = \"dictionary\"\npath = \"fo.jsonl\"";
        let ctx = || SourceContext::new(dir.path());
        assert_eq!(lang_of(plain, ctx().with_native(fo.clone())).unwrap(), fo);
        let named = format!("{plain}\nlang = \"is\"");
        assert_eq!(
            lang_of(&named, ctx().with_native(fo.clone()))
                .unwrap()
                .code(),
            "is"
        );
        let e = lang_of(plain, ctx()).unwrap_err().to_string();
        assert!(e.contains("fo.jsonl") && e.contains("lang"), "{e}");
    }

    #[test]
    fn reads_the_format_through_the_trait() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("lb.jsonl"), SAMPLE).unwrap();
        let got = entries(dir.path(), "lb.jsonl");
        let ids: Vec<_> = got.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["Haus", "Haus#2", "lb-0001", "Schule"]);
        let haus = &got[0];
        assert_eq!(haus.lang, Lang::LB);
        assert_eq!(haus.pos.as_deref(), Some("noun"));
        assert_eq!(haus.translations[&Lang::EN], ["house", "home"]);
        assert_eq!(haus.translations[&Lang::FR], ["maison"]);
        assert_eq!(haus.examples, ["Mir wunnen an engem ale Haus."]);
        assert_eq!(haus.synonyms, ["Gebai"]);
        assert_eq!(
            haus.provenance,
            Provenance::new("dictionary", "unknown").with_origin("lb.jsonl")
        );
        assert_eq!(got[1].pos.as_deref(), Some("verb"));
        assert!(got[1].translations.is_empty());
        assert_eq!(got[2].headword, "Schëff");
        assert_eq!(got[2].provenance.license, "CC0-1.0");
        assert_eq!(got[2].provenance.source, "lod");
        assert_eq!(
            entries(dir.path(), "lb.jsonl"),
            got,
            "same order on every open"
        );
    }

    #[test]
    fn malformed_entries_name_line_and_key() {
        let err = error_for("{\"headword\": \"Haus\", \"translation\": {\"en\": [\"house\"]}}");
        assert!(err.contains("unknown key `translation`"), "{err}");
        let err = error_for("{\"pos\": \"noun\"}");
        assert!(err.contains("`headword` is missing"), "{err}");
        let err = error_for("{\"headword\": \"  \"}");
        assert!(err.contains("`headword` is empty"), "{err}");
        let err = error_for("{\"headword\": \"Haus\", \"translations\": {\"EN\": [\"house\"]}}");
        assert!(
            err.contains("`translations.EN`") && err.contains("not an ISO 639 code"),
            "{err}"
        );
        let err = error_for("{\"headword\": \"Haus\", \"translations\": {\"en\": \"house\"}}");
        assert!(
            err.contains("`translations.en` must be a list of strings, found a string"),
            "{err}"
        );
        let err = error_for("{\"headword\": \"Haus\", \"translations\": [\"house\"]}");
        assert!(err.contains("`translations` must be an object"), "{err}");
        let err = error_for("{\"headword\": \"Haus\", \"examples\": [\"a\", 3]}");
        assert!(
            err.contains("`examples[1]` must be a string, found a number"),
            "{err}"
        );
        let err = error_for("{\"headword\": \"Haus\", \"synonyms\": [\"\"]}");
        assert!(err.contains("`synonyms[0]` is empty"), "{err}");
        let err = error_for("{\"headword\": 5}");
        assert!(
            err.contains("`headword` must be a string, found a number"),
            "{err}"
        );
        let err = error_for("{\"id\": \"ok\", \"headword\": \"x\"}");
        assert!(err.contains("duplicate id `ok` (first on line 1)"), "{err}");
        let err = error_for("{\"headword\": \"x\",}");
        assert!(err.contains("invalid JSON at column"), "{err}");
        let err = error_for("\"Haus\"");
        assert!(
            err.contains("expected a JSON object, found a string"),
            "{err}"
        );
    }

    #[test]
    fn writes_what_it_reads() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("in.jsonl"), SAMPLE).unwrap();
        let read = entries(dir.path(), "in.jsonl");
        write_dictionary_jsonl(dir.path().join("out/lb.jsonl"), &read).unwrap();
        let written = std::fs::read_to_string(dir.path().join("out/lb.jsonl")).unwrap();
        let first = written.lines().next().unwrap();
        assert!(
            first.starts_with("{\"headword\":\"Haus\",\"pos\":\"noun\",\"translations\":{\"de\""),
            "{first}"
        );
        assert!(
            written
                .lines()
                .nth(1)
                .unwrap()
                .starts_with("{\"id\":\"Haus#2\",")
        );
        let again = entries(dir.path(), "out/lb.jsonl");
        let strip = |v: Vec<LexEntry>| {
            v.into_iter()
                .map(|mut e| {
                    e.provenance.origin = None;
                    e
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(again), strip(read));
    }

    #[test]
    fn writer_rejects_what_cannot_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let entry = |id: &str, headword: &str| LexEntry {
            id: id.into(),
            headword: headword.into(),
            lang: Lang::LB,
            pos: None,
            translations: BTreeMap::new(),
            examples: vec![],
            synonyms: vec![],
            provenance: Provenance::new("x", "unknown"),
        };
        let p = dir.path().join("w.jsonl");
        let err = write_dictionary_jsonl(&p, &[entry("a", "a"), entry("a", "b")]).unwrap_err();
        assert!(err.to_string().contains("entries[1].id"), "{err}");
        let err = write_dictionary_jsonl(&p, &[entry("a", " ")]).unwrap_err();
        assert!(err.to_string().contains("entries[0].headword"), "{err}");
        assert!(!p.exists());
    }
}
