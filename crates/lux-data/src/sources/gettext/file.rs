//! A parsed gettext catalogue, whichever format it was read from.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use lux_core::{IoContext, Result};

use super::mo::{MO_MAGIC, parse_mo};
use super::po::parse_po;

/// One message of a gettext catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GettextEntry {
    /// The `msgctxt`, when the message has one.
    pub context: Option<String>,
    /// The source text (singular form for plural messages).
    pub msgid: String,
    /// The source plural form, for plural messages.
    pub msgid_plural: Option<String>,
    /// The translations: one, or one per plural form. Empty strings are untranslated.
    pub msgstr: Vec<String>,
    /// Where the entry is: the 1-based line of its `msgid` (`.po`) or its 0-based index in the
    /// string tables (`.mo`).
    pub location: usize,
}

impl GettextEntry {
    /// The alignment key: `msgid`, or `msgctxt/msgid` when there is a context.
    pub fn key(&self) -> String {
        match &self.context {
            Some(c) => format!("{c}/{}", self.msgid),
            None => self.msgid.clone(),
        }
    }

    /// The translation aligned with `msgid`: `msgstr[0]` when it is not empty.
    pub fn translation(&self) -> Option<&str> {
        self.msgstr
            .first()
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }
}

/// A parsed `.po` or `.mo` file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GettextFile {
    /// The header entry's fields (`Content-Type`, `Plural-Forms`, `Language`…).
    pub header: BTreeMap<String, String>,
    /// The charset the file was decoded from, by its WHATWG name: `UTF-8` when the header
    /// names none, `windows-1252` for a file that says ISO-8859-1 (see `charset.rs`).
    pub charset: String,
    /// The messages, in file order, without the header and without fuzzy or obsolete entries.
    pub entries: Vec<GettextEntry>,
}

impl GettextFile {
    /// The header's `Plural-Forms` value.
    pub fn plural_forms(&self) -> Option<&str> {
        self.header.get("Plural-Forms").map(String::as_str)
    }
}

/// Reads a `.po` or `.mo` file, telling them apart by the `.mo` magic number.
pub fn read_catalogue(path: impl AsRef<Path>) -> Result<GettextFile> {
    let path = path.as_ref();
    let bytes = fs::read(path).with_path(path)?;
    if is_mo(&bytes) {
        parse_mo(&bytes, path)
    } else {
        parse_po(&bytes, path)
    }
}

fn is_mo(bytes: &[u8]) -> bool {
    bytes.len() >= 4 && {
        let m = [bytes[0], bytes[1], bytes[2], bytes[3]];
        u32::from_le_bytes(m) == MO_MAGIC || u32::from_be_bytes(m) == MO_MAGIC
    }
}

/// The `Name: value` lines of a header entry's msgstr.
pub(super) fn parse_header(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}
