use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Lang;

/// Where a piece of text came from and under which license it may be used.
///
/// Kept on every document, aligned entry and example so that a dataset can be filtered by
/// license and every line traced back to its file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Provenance {
    /// A short source name: `cldr-localenames-full`, `mediawiki:lbwiki`, `rtl-news`.
    pub source: String,
    /// An SPDX license expression (`Unicode-3.0`, `CC-BY-SA-4.0`), or `unknown`.
    pub license: String,
    /// The file (or URL, or package) the text was read from, if useful.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

impl Provenance {
    /// A provenance with no origin.
    pub fn new(source: impl Into<String>, license: impl Into<String>) -> Provenance {
        Provenance {
            source: source.into(),
            license: license.into(),
            origin: None,
        }
    }

    /// Sets the origin (file, package, URL).
    pub fn with_origin(mut self, origin: impl Into<String>) -> Provenance {
        self.origin = Some(origin.into());
        self
    }
}

/// A native text: a Wikipedia article, a news article, a help page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// Unique within its source (page id, URL, line number).
    pub id: String,
    /// The language the text is written in.
    pub lang: Lang,
    /// The title, when the document has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Plain text: paragraphs separated by blank lines, headings on their own line.
    pub text: String,
    /// Where it came from.
    pub provenance: Provenance,
    /// Anything else the source knows (date, category, URL), for generators that want it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, serde_json::Value>,
}

/// The same message written by people in several languages, aligned by a shared key
/// (a gettext msgid, a MediaWiki message key, a CLDR path).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parallel {
    /// The shared key, unique within its source.
    pub id: String,
    /// The text in each language.
    pub texts: BTreeMap<Lang, String>,
    /// Where it came from.
    pub provenance: Provenance,
}

impl Parallel {
    /// The text in `lang`, if this group has one.
    pub fn get(&self, lang: &Lang) -> Option<&str> {
        self.texts.get(lang).map(String::as_str)
    }
}

/// A dictionary entry: a headword in the native language with its translations and uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LexEntry {
    /// Unique within its source.
    pub id: String,
    /// The native word or phrase.
    pub headword: String,
    /// The headword's language.
    pub lang: Lang,
    /// Part of speech as the source names it (`noun`, `verb`, `adj`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pos: Option<String>,
    /// Translations per language, most common first.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub translations: BTreeMap<Lang, Vec<String>>,
    /// Native example sentences that use the headword.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
    /// Native words with (nearly) the same meaning.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub synonyms: Vec<String>,
    /// Where it came from.
    pub provenance: Provenance,
}

/// One item a [`crate::SeedSource`] yields: the raw material of instructions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Seed {
    /// A native text.
    Document(Document),
    /// An aligned group of human translations.
    Parallel(Parallel),
    /// A dictionary entry.
    Lexeme(LexEntry),
}

impl Seed {
    /// The item's id within its source.
    pub fn id(&self) -> &str {
        match self {
            Seed::Document(d) => &d.id,
            Seed::Parallel(p) => &p.id,
            Seed::Lexeme(e) => &e.id,
        }
    }

    /// Where the item came from.
    pub fn provenance(&self) -> &Provenance {
        match self {
            Seed::Document(d) => &d.provenance,
            Seed::Parallel(p) => &p.provenance,
            Seed::Lexeme(e) => &e.provenance,
        }
    }

    /// `document`, `parallel` or `lexeme`.
    pub fn kind(&self) -> &'static str {
        match self {
            Seed::Document(_) => "document",
            Seed::Parallel(_) => "parallel",
            Seed::Lexeme(_) => "lexeme",
        }
    }
}

impl From<Document> for Seed {
    fn from(d: Document) -> Seed {
        Seed::Document(d)
    }
}

impl From<Parallel> for Seed {
    fn from(p: Parallel) -> Seed {
        Seed::Parallel(p)
    }
}

impl From<LexEntry> for Seed {
    fn from(e: LexEntry) -> Seed {
        Seed::Lexeme(e)
    }
}
