//! `jsonl`: native documents (news articles, crawled pages) from JSON Lines.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use lux_core::{
    Document, Error, IoContext, Lang, Provenance, Result, Seed, SeedSource, SeedStream,
    SourceContext,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::mediawiki_dump::open_input;
use crate::text::nfc;

/// Native documents from a JSON Lines file (plain or `.bz2`): one JSON object per line,
/// blank lines skipped.
///
/// The field names are settings, so most news exports load as they are:
///
/// ```toml
/// [[data.sources]]
/// type = "jsonl"
/// path = "rtl-news.jsonl.bz2"
/// lang = "lb"
/// title_field = "headline"
/// metadata_fields = ["date", "url", "category"]
/// license = "CC-BY-4.0"
/// source = "rtl-news"
/// ```
///
/// A record without an id gets `line-N` (its 1-based line); ids must be unique in the file.
/// A record whose text field is missing or not a string is an error naming the file, the
/// line and the field.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonlDocuments {
    /// The JSONL file (`.bz2` is decompressed), relative to the recipe.
    pub path: PathBuf,
    /// The language the documents are written in.
    pub lang: Lang,
    /// Field holding the document id (a string or a number).
    #[serde(default = "default_id_field")]
    pub id_field: String,
    /// Field holding the title; an empty name means the documents have none.
    #[serde(default = "default_title_field")]
    pub title_field: Option<String>,
    /// Field holding the text (required in every record).
    #[serde(default = "default_text_field")]
    pub text_field: String,
    /// Fields copied, when present, into the document's metadata.
    #[serde(default)]
    pub metadata_fields: Vec<String>,
    /// SPDX license expression of the texts, or `unknown`.
    #[serde(default = "default_license")]
    pub license: String,
    /// Source name recorded in provenance.
    #[serde(default = "default_source")]
    pub source: String,
}

fn default_id_field() -> String {
    "id".into()
}
fn default_title_field() -> Option<String> {
    Some("title".into())
}
fn default_text_field() -> String {
    "text".into()
}
fn default_license() -> String {
    "unknown".into()
}
fn default_source() -> String {
    "jsonl".into()
}

impl JsonlDocuments {
    /// A source reading `path` in `lang` with the default field names.
    pub fn new(path: impl Into<PathBuf>, lang: Lang) -> JsonlDocuments {
        JsonlDocuments {
            path: path.into(),
            lang,
            id_field: default_id_field(),
            title_field: default_title_field(),
            text_field: default_text_field(),
            metadata_fields: Vec::new(),
            license: default_license(),
            source: default_source(),
        }
    }

    /// The document on line `line` of `path`.
    fn document(&self, path: &Path, line: usize, record: &Map<String, Value>) -> Result<Document> {
        let field_error = |field: &str, message: String| {
            Error::at_line(path, line, format!("field `{field}` {message}"))
        };
        let id = match record.get(&self.id_field) {
            None | Some(Value::Null) => format!("line-{line}"),
            Some(Value::String(s)) if s.trim().is_empty() => {
                return Err(field_error(&self.id_field, "is empty".into()));
            }
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(other) => {
                let found = kind(other);
                return Err(field_error(
                    &self.id_field,
                    format!("must be a string or number, found {found}"),
                ));
            }
        };
        let text = match record.get(&self.text_field) {
            Some(Value::String(s)) => nfc(s),
            None => {
                return Err(field_error(
                    &self.text_field,
                    "is missing (the text field)".into(),
                ));
            }
            Some(other) => {
                let found = kind(other);
                return Err(field_error(
                    &self.text_field,
                    format!("must be a string, found {found}"),
                ));
            }
        };
        let title_field = self.title_field.as_deref().filter(|f| !f.is_empty());
        let title = match title_field.map(|f| (f, record.get(f))) {
            None | Some((_, None | Some(Value::Null))) => None,
            Some((_, Some(Value::String(s)))) => Some(nfc(s.trim())).filter(|t| !t.is_empty()),
            Some((f, Some(other))) => {
                return Err(field_error(
                    f,
                    format!("must be a string, found {}", kind(other)),
                ));
            }
        };
        let metadata: BTreeMap<String, Value> = self
            .metadata_fields
            .iter()
            .filter_map(|f| {
                record
                    .get(f)
                    .filter(|v| !v.is_null())
                    .map(|v| (f.clone(), v.clone()))
            })
            .collect();
        Ok(Document {
            id,
            lang: self.lang.clone(),
            title,
            text,
            provenance: Provenance::new(&self.source, &self.license)
                .with_origin(self.path.display().to_string()),
            metadata,
        })
    }
}

#[typetag::serde(name = "jsonl")]
impl SeedSource for JsonlDocuments {
    fn open(&self, ctx: &SourceContext) -> Result<SeedStream> {
        let path = ctx.resolve(&self.path);
        let this = self.clone();
        let mut seen = HashMap::new();
        let records = json_records(&path)?;
        let stream = records.map(move |record| {
            let (line, record) = record?;
            let doc = this.document(&path, line, &record)?;
            check_unique(&path, line, &doc.id, &mut seen)?;
            Ok(Seed::Document(doc))
        });
        Ok(Box::new(FuseOnError::new(stream)))
    }
}

/// Errors if `id` was already used, naming the line that used it first.
pub(crate) fn check_unique(
    path: &Path,
    line: usize,
    id: &str,
    seen: &mut HashMap<String, usize>,
) -> Result<()> {
    if let Some(first) = seen.get(id) {
        return Err(Error::at_line(
            path,
            line,
            format!("duplicate id `{id}` (first on line {first})"),
        ));
    }
    seen.insert(id.to_string(), line);
    Ok(())
}

/// What a JSON value is, for error messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The JSON objects of a JSON Lines file (plain or bzip2), with their 1-based line numbers;
/// blank lines are skipped, anything that is not an object is an error naming the line.
pub(crate) fn json_records(
    path: &Path,
) -> Result<impl Iterator<Item = Result<(usize, Map<String, Value>)>> + Send + use<>> {
    let shared = path.to_path_buf();
    let lines = NumberedLines::open(path)?;
    Ok(lines.filter_map(move |line| {
        let (n, bytes) = match line {
            Ok(l) => l,
            Err(e) => return Some(Err(e)),
        };
        let text = match utf8_line(&shared, n, bytes) {
            Ok(t) => t,
            Err(e) => return Some(Err(e)),
        };
        if text.trim().is_empty() {
            return None;
        }
        Some(match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(object)) => Ok((n, object)),
            Ok(other) => {
                let found = kind(&other);
                Err(Error::at_line(
                    &shared,
                    n,
                    format!("expected a JSON object, found {found}"),
                ))
            }
            Err(e) => Err(Error::at_line(&shared, n, json_error(&e))),
        })
    }))
}

/// A serde_json error without its `at line 1` (the caller names the file's line).
pub(crate) fn json_error(e: &serde_json::Error) -> String {
    let message = e.to_string();
    let message = message
        .rsplit_once(" at line ")
        .map_or(message.as_str(), |(m, _)| m);
    format!("invalid JSON at column {}: {message}", e.column())
}

/// The raw lines of a file (plain or bzip2), numbered from 1, without their line ending.
pub(crate) struct NumberedLines {
    reader: BufReader<Box<dyn Read + Send>>,
    path: PathBuf,
    line: usize,
    done: bool,
}

impl std::fmt::Debug for NumberedLines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NumberedLines")
            .field("path", &self.path)
            .field("line", &self.line)
            .finish()
    }
}

impl NumberedLines {
    /// Opens `path`, decompressing `.bz2`.
    pub(crate) fn open(path: &Path) -> Result<NumberedLines> {
        let (input, _) = open_input(path)?;
        Ok(NumberedLines {
            reader: BufReader::new(input),
            path: path.to_path_buf(),
            line: 0,
            done: false,
        })
    }
}

impl Iterator for NumberedLines {
    type Item = Result<(usize, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut buf = Vec::new();
        match self
            .reader
            .read_until(b'\n', &mut buf)
            .with_path(&self.path)
        {
            Ok(0) => {
                self.done = true;
                None
            }
            Ok(_) => {
                self.line += 1;
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                }
                if buf.last() == Some(&b'\r') {
                    buf.pop();
                }
                if self.line == 1 && buf.starts_with(b"\xEF\xBB\xBF") {
                    buf.drain(..3);
                }
                Some(Ok((self.line, buf)))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// `bytes` as UTF-8, or an error naming the line and byte.
pub(crate) fn utf8_line(path: &Path, line: usize, bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to() + 1;
        Error::at_line(
            path,
            line,
            format!("not valid UTF-8 (byte {at} of the line)"),
        )
    })
}

/// Ends a stream after its first error, as the [`SeedSource`] contract allows.
pub(crate) struct FuseOnError<I> {
    inner: I,
    failed: bool,
}

impl<I> FuseOnError<I> {
    pub(crate) fn new(inner: I) -> FuseOnError<I> {
        FuseOnError {
            inner,
            failed: false,
        }
    }
}

impl<T, I: Iterator<Item = Result<T>>> Iterator for FuseOnError<I> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let item = self.inner.next()?;
        self.failed = item.is_err();
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const NEWS: &str = concat!(
        "{\"id\": \"rtl-1\", \"title\": \"Neie Bus fir d'Stad\", \"text\": \"D'Stad kritt nei Bussen.\\n\\nSi fuere mat Stroum.\", \"date\": \"2024-03-01\", \"url\": \"https://rtl.lu/1\"}\n",
        "\n",
        "   \r\n",
        "{\"title\": null, \"text\": \"Ouni Titel an ouni Id.\"}\r\n",
        "{\"id\": 42, \"text\": \"Me\u{301}i Reen.\", \"date\": null}\n",
    );

    fn open(dir: &Path, toml_src: &str) -> Result<SeedStream> {
        let source: Box<dyn SeedSource> = toml::from_str(toml_src).unwrap();
        source.open(&SourceContext::new(dir))
    }

    fn docs(dir: &Path, toml_src: &str) -> Vec<Document> {
        open(dir, toml_src)
            .unwrap()
            .map(|s| match s.unwrap() {
                Seed::Document(d) => d,
                other => panic!("not a document: {other:?}"),
            })
            .collect()
    }

    fn first_error(dir: &Path, name: &str, content: &str) -> String {
        std::fs::write(dir.join(name), content).unwrap();
        let toml_src = format!("type = \"jsonl\"\npath = \"{name}\"\nlang = \"lb\"");
        let items: Vec<_> = open(dir, &toml_src).unwrap().collect();
        assert_eq!(
            items.iter().filter(|i| i.is_err()).count(),
            1,
            "the stream ends on error"
        );
        items.into_iter().find_map(|i| i.err()).unwrap().to_string()
    }

    #[test]
    fn reads_news_through_the_trait() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x.jsonl"), NEWS).unwrap();
        let got = docs(
            dir.path(),
            "type = \"jsonl\"\npath = \"x.jsonl\"\nlang=\"lb\"\nmetadata_fields = [\"date\", \"url\"]",
        );
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].id, "rtl-1");
        assert_eq!(got[0].title.as_deref(), Some("Neie Bus fir d'Stad"));
        assert_eq!(
            got[0].text,
            "D'Stad kritt nei Bussen.\n\nSi fuere mat Stroum."
        );
        assert_eq!(got[0].metadata["date"], "2024-03-01");
        assert_eq!(got[0].metadata["url"], "https://rtl.lu/1");
        assert_eq!(
            got[0].provenance,
            Provenance::new("jsonl", "unknown").with_origin("x.jsonl")
        );
        assert_eq!(got[1].id, "line-4");
        assert_eq!(got[1].title, None);
        assert_eq!(got[2].id, "42");
        assert_eq!(got[2].text, "Méi Reen.");
        assert_eq!(got[2].text.chars().count(), 9, "stored NFC");
        assert!(got[2].metadata.is_empty(), "null metadata is left out");
    }

    #[test]
    fn custom_fields_and_bz2() {
        let dir = tempfile::tempdir().unwrap();
        let data = "{\"uid\": \"a\", \"headline\": \"Iwwerschrëft\", \"body\": \"Text.\"}\n";
        let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        enc.write_all(data.as_bytes()).unwrap();
        std::fs::write(dir.path().join("n.jsonl.bz2"), enc.finish().unwrap()).unwrap();
        let src = "type = \"jsonl\"\npath = \"n.jsonl.bz2\"\nlang = \"lb\"\nid_field = \"uid\"\n\
                   title_field = \"headline\"\ntext_field = \"body\"\nlicense = \"CC-BY-4.0\"\n\
                   source = \"rtl\"";
        let got = docs(dir.path(), src);
        assert_eq!(got[0].id, "a");
        assert_eq!(got[0].title.as_deref(), Some("Iwwerschrëft"));
        assert_eq!(got[0].text, "Text.");
        assert_eq!(got[0].provenance.license, "CC-BY-4.0");
        assert_eq!(got[0].provenance.source, "rtl");
        let no_title = src.replace("\"headline\"", "\"\"");
        assert_eq!(docs(dir.path(), &no_title)[0].title, None);
        assert_eq!(docs(dir.path(), src), got, "same items on every open");
    }

    #[test]
    fn malformed_records_name_file_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let ok = "{\"text\": \"a\"}\n";
        let err = first_error(d, "a.jsonl", &format!("{ok}\n{{\"id\": \"x\"}}\n"));
        assert!(
            err.contains("a.jsonl:line 3: field `text` is missing"),
            "{err}"
        );
        let err = first_error(d, "b.jsonl", &format!("{ok}{{\"text\": 3}}\n"));
        assert!(
            err.contains("b.jsonl:line 2: field `text` must be a string, found a number"),
            "{err}"
        );
        let err = first_error(d, "c.jsonl", &format!("{ok}{{\"text\": \"a\",}}\n"));
        assert!(
            err.contains("c.jsonl:line 2: invalid JSON at column"),
            "{err}"
        );
        let err = first_error(d, "d.jsonl", &format!("{ok}[1]\n"));
        assert!(
            err.contains("d.jsonl:line 2: expected a JSON object, found an array"),
            "{err}"
        );
        let err = first_error(
            d,
            "e.jsonl",
            "{\"id\": \"a\", \"text\": \"x\"}\n{\"id\": \"a\", \"text\": \"y\"}\n",
        );
        assert!(
            err.contains("e.jsonl:line 2: duplicate id `a` (first on line 1)"),
            "{err}"
        );
        let err = first_error(d, "f.jsonl", "{\"id\": [1], \"text\": \"x\"}\n");
        assert!(
            err.contains("f.jsonl:line 1: field `id` must be a string or number"),
            "{err}"
        );
        let err = first_error(d, "g.jsonl", "{\"title\": 5, \"text\": \"x\"}\n");
        assert!(
            err.contains("g.jsonl:line 1: field `title` must be a string"),
            "{err}"
        );
        std::fs::write(
            d.join("h.jsonl"),
            b"{\"text\": \"ok\"}\n{\"text\": \"\xff\"}\n",
        )
        .unwrap();
        let items: Vec<_> = open(d, "type = \"jsonl\"\npath = \"h.jsonl\"\nlang = \"lb\"")
            .unwrap()
            .collect();
        let err = items[1].as_ref().unwrap_err().to_string();
        assert!(err.contains("h.jsonl:line 2: not valid UTF-8"), "{err}");
    }

    #[test]
    fn missing_file_and_bad_settings() {
        let dir = tempfile::tempdir().unwrap();
        let err = open(
            dir.path(),
            "type = \"jsonl\"\npath = \"nope.jsonl\"\nlang = \"lb\"",
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("nope.jsonl"), "{err}");
        let bad = toml::from_str::<Box<dyn SeedSource>>(
            "type = \"jsonl\"\npath = \"x\"\nlang = \"lb\"\ntext_feld = \"t\"",
        );
        assert!(bad.unwrap_err().to_string().contains("text_feld"));
        let bad = toml::from_str::<Box<dyn SeedSource>>(
            "type = \"jsonl\"\npath = \"x\"\nlang = \"Luxembourgish\"",
        );
        assert!(bad.is_err());
    }

    #[test]
    fn numbered_lines_strip_bom_and_crlf() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l.txt");
        std::fs::write(&p, b"\xEF\xBB\xBFa\r\nb\n\nc").unwrap();
        let lines: Vec<_> = NumberedLines::open(&p)
            .unwrap()
            .map(|l| l.unwrap())
            .collect();
        assert_eq!(
            lines,
            [
                (1, b"a".to_vec()),
                (2, b"b".to_vec()),
                (3, vec![]),
                (4, b"c".to_vec())
            ]
        );
    }
}
