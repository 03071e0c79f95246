//! GNU gettext catalogues: `.po` text files and compiled `.mo` files.
//!
//! [`read_po`] and [`read_mo`] parse one file into a [`GettextFile`]; the two sources align
//! several languages' catalogues by msgid:
//!
//! - `type = "gettext"` ([`GettextCatalogue`]): one file per language, named in the recipe;
//! - `type = "gettext_locale_dir"` ([`GettextLocaleDir`]): an installed locale tree
//!   (`/usr/share/locale/{lang}/LC_MESSAGES/{domain}.mo`), every domain the native language has.
//!
//! The msgid is the source-language (English) text. A group's key is the msgid, prefixed by
//! its context as `msgctxt/msgid` when it has one (and by `domain/` in a locale tree). A plural
//! entry is aligned by its singular: `msgid` ↔ `msgstr[0]` (for `en`, `lb`, `de` and `fr`,
//! form 0 is the singular); the other forms are not used. Fuzzy and obsolete (`#~`) entries
//! and the header entry are skipped; untranslated entries give no text.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use lux_core::{
    Error, IoContext, Lang, Parallel, Provenance, Result, Seed, SeedSource, SeedStream,
    SourceContext,
};
use serde::{Deserialize, Serialize};

use crate::catalogue::{CatalogueBuilder, CatalogueCleaning, CleaningReport, source_langs};

/// The `.mo` magic number, as read in the file's own byte order.
const MO_MAGIC: u32 = 0x9504_12de;

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
    /// The charset the file was decoded from (`UTF-8` when the header names none).
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

// ---------------------------------------------------------------------------------------
// Charsets

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Charset {
    Utf8,
    Latin1,
    Latin9,
    Cp1252,
}

impl Charset {
    /// The charset named in a header's `Content-Type`.
    fn from_header(header: &BTreeMap<String, String>) -> std::result::Result<Charset, String> {
        let Some(ct) = header.get("Content-Type") else {
            return Ok(Charset::Utf8);
        };
        let Some(pos) = ct.to_ascii_lowercase().find("charset=") else {
            return Ok(Charset::Utf8);
        };
        let name = ct[pos + 8..]
            .split([';', ' '])
            .next()
            .unwrap_or_default()
            .trim();
        match name.to_ascii_uppercase().replace('_', "-").as_str() {
            "" | "CHARSET" | "UTF-8" | "UTF8" | "ASCII" | "US-ASCII" | "ANSI-X3.4-1968" => {
                Ok(Charset::Utf8)
            }
            "ISO-8859-1" | "ISO8859-1" | "LATIN1" | "LATIN-1" => Ok(Charset::Latin1),
            "ISO-8859-15" | "ISO8859-15" | "LATIN9" | "LATIN-9" => Ok(Charset::Latin9),
            "CP1252" | "WINDOWS-1252" => Ok(Charset::Cp1252),
            other => Err(format!(
                "unsupported charset `{other}` (supported: UTF-8, ISO-8859-1, ISO-8859-15, \
                 windows-1252)"
            )),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Charset::Utf8 => "UTF-8",
            Charset::Latin1 => "ISO-8859-1",
            Charset::Latin9 => "ISO-8859-15",
            Charset::Cp1252 => "windows-1252",
        }
    }

    fn decode(self, bytes: &[u8]) -> Option<String> {
        match self {
            Charset::Utf8 => String::from_utf8(bytes.to_vec()).ok(),
            Charset::Latin1 => Some(bytes.iter().map(|&b| char::from(b)).collect()),
            Charset::Latin9 => Some(
                bytes
                    .iter()
                    .map(|&b| match b {
                        0xa4 => '€',
                        0xa6 => 'Š',
                        0xa8 => 'š',
                        0xb4 => 'Ž',
                        0xb8 => 'ž',
                        0xbc => 'Œ',
                        0xbd => 'œ',
                        0xbe => 'Ÿ',
                        _ => char::from(b),
                    })
                    .collect(),
            ),
            Charset::Cp1252 => bytes.iter().map(|&b| cp1252(b)).collect(),
        }
    }
}

fn cp1252(b: u8) -> Option<char> {
    const HIGH: [Option<char>; 32] = [
        Some('€'),
        None,
        Some('‚'),
        Some('ƒ'),
        Some('„'),
        Some('…'),
        Some('†'),
        Some('‡'),
        Some('ˆ'),
        Some('‰'),
        Some('Š'),
        Some('‹'),
        Some('Œ'),
        None,
        Some('Ž'),
        None,
        None,
        Some('‘'),
        Some('’'),
        Some('“'),
        Some('”'),
        Some('•'),
        Some('–'),
        Some('—'),
        Some('˜'),
        Some('™'),
        Some('š'),
        Some('›'),
        Some('œ'),
        None,
        Some('ž'),
        Some('Ÿ'),
    ];
    match b {
        0x80..=0x9f => HIGH[usize::from(b - 0x80)],
        _ => Some(char::from(b)),
    }
}

/// The `Name: value` lines of a header entry's msgstr.
fn parse_header(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

// ---------------------------------------------------------------------------------------
// .po

/// Reads a `.po` file. Errors name the file and line.
pub fn read_po(path: impl AsRef<Path>) -> Result<GettextFile> {
    let path = path.as_ref();
    let bytes = fs::read(path).with_path(path)?;
    parse_po(&bytes, path)
}

#[derive(Debug, Default)]
struct RawEntry {
    context: Option<Vec<u8>>,
    msgid: Option<Vec<u8>>,
    msgid_plural: Option<Vec<u8>>,
    msgstr: Vec<Vec<u8>>,
    fuzzy: bool,
    line: usize,
}

#[derive(Debug, Clone, Copy)]
enum Field {
    Context,
    Id,
    IdPlural,
    Str(usize),
}

/// Parses the bytes of a `.po` file; `path` names it in errors.
pub fn parse_po(bytes: &[u8], path: &Path) -> Result<GettextFile> {
    let mut raw: Vec<RawEntry> = Vec::new();
    let mut cur = RawEntry::default();
    let mut field: Option<Field> = None;
    let mut fuzzy_next = false;
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);

    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let n = i + 1;
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let complete = !cur.msgstr.is_empty();
        if line.starts_with(b"#") {
            if complete {
                raw.push(std::mem::take(&mut cur));
                field = None;
            }
            if line.starts_with(b"#~") {
                continue;
            }
            if let Some(flags) = line.strip_prefix(b"#,") {
                fuzzy_next |= flags
                    .split(|&b| b == b',')
                    .any(|f| f.trim_ascii() == b"fuzzy");
            }
            continue;
        }
        if line.starts_with(b"\"") {
            let s = po_string(line, path, n)?;
            let target = match field {
                Some(Field::Context) => cur.context.as_mut(),
                Some(Field::Id) => cur.msgid.as_mut(),
                Some(Field::IdPlural) => cur.msgid_plural.as_mut(),
                Some(Field::Str(k)) => cur.msgstr.get_mut(k),
                None => None,
            };
            match target {
                Some(t) => t.extend_from_slice(&s),
                None => return Err(Error::at_line(path, n, "string continues no keyword")),
            }
            continue;
        }
        let split = line
            .iter()
            .position(|b| b.is_ascii_whitespace())
            .unwrap_or(line.len());
        let (keyword, rest) = line.split_at(split);
        let value = po_string(rest.trim_ascii(), path, n)?;
        match keyword {
            b"msgctxt" | b"msgid" => {
                if complete {
                    raw.push(std::mem::take(&mut cur));
                } else if cur.msgid.is_some() {
                    return Err(Error::at_line(
                        path,
                        n,
                        format!("the msgid of line {} has no msgstr", cur.line),
                    ));
                }
                if keyword == b"msgctxt" {
                    if cur.context.is_some() {
                        return Err(Error::at_line(path, n, "second msgctxt for one entry"));
                    }
                    cur.context = Some(value);
                    field = Some(Field::Context);
                } else {
                    cur.msgid = Some(value);
                    cur.line = n;
                    field = Some(Field::Id);
                }
                if fuzzy_next {
                    cur.fuzzy = true;
                    fuzzy_next = false;
                }
            }
            b"msgid_plural" => {
                if cur.msgid.is_none() || complete || cur.msgid_plural.is_some() {
                    return Err(Error::at_line(path, n, "msgid_plural must follow a msgid"));
                }
                cur.msgid_plural = Some(value);
                field = Some(Field::IdPlural);
            }
            kw if kw.starts_with(b"msgstr") => {
                if cur.msgid.is_none() {
                    return Err(Error::at_line(path, n, "msgstr without a msgid"));
                }
                let index = match &kw[6..] {
                    b"" => 0,
                    idx => {
                        let digits = idx
                            .strip_prefix(b"[")
                            .and_then(|d| d.strip_suffix(b"]"))
                            .and_then(|d| std::str::from_utf8(d).ok())
                            .and_then(|d| d.parse::<usize>().ok());
                        digits.ok_or_else(|| {
                            Error::at_line(
                                path,
                                n,
                                format!("bad keyword `{}`", String::from_utf8_lossy(kw)),
                            )
                        })?
                    }
                };
                if index != cur.msgstr.len() {
                    return Err(Error::at_line(
                        path,
                        n,
                        format!(
                            "msgstr[{index}] out of order (expected msgstr[{}])",
                            cur.msgstr.len()
                        ),
                    ));
                }
                cur.msgstr.push(value);
                field = Some(Field::Str(index));
            }
            other => {
                return Err(Error::at_line(
                    path,
                    n,
                    format!("unknown keyword `{}`", String::from_utf8_lossy(other)),
                ));
            }
        }
    }
    if cur.msgid.is_some() {
        if cur.msgstr.is_empty() {
            return Err(Error::at_line(path, cur.line, "msgid has no msgstr"));
        }
        raw.push(cur);
    } else if cur.context.is_some() {
        return Err(Error::at_line(
            path,
            bytes.split(|&b| b == b'\n').count(),
            "msgctxt has no msgid",
        ));
    }

    let header_text = raw
        .iter()
        .find(|e| e.context.is_none() && e.msgid.as_deref() == Some(b""))
        .and_then(|e| e.msgstr.first())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .unwrap_or_default();
    let header = parse_header(&header_text);
    let header_line = raw
        .iter()
        .find(|e| e.msgid.as_deref() == Some(b""))
        .map_or(1, |e| e.line);
    let charset =
        Charset::from_header(&header).map_err(|m| Error::at_line(path, header_line, m))?;

    let mut entries = Vec::with_capacity(raw.len());
    for e in raw {
        let msgid = e.msgid.unwrap_or_default();
        if e.fuzzy || (msgid.is_empty() && e.context.is_none()) {
            continue;
        }
        let dec = |b: &[u8]| {
            charset.decode(b).ok_or_else(|| {
                Error::at_line(
                    path,
                    e.line,
                    format!("text is not valid {}", charset.name()),
                )
            })
        };
        entries.push(GettextEntry {
            context: e.context.as_deref().map(dec).transpose()?,
            msgid: dec(&msgid)?,
            msgid_plural: e.msgid_plural.as_deref().map(dec).transpose()?,
            msgstr: e.msgstr.iter().map(|s| dec(s)).collect::<Result<_>>()?,
            location: e.line,
        });
    }
    Ok(GettextFile {
        header,
        charset: charset.name().to_string(),
        entries,
    })
}

/// Parses one C-style quoted string (`"a\tb\303\244"`) into bytes.
fn po_string(s: &[u8], path: &Path, line: usize) -> Result<Vec<u8>> {
    let err = |m: &str| Error::at_line(path, line, m.to_string());
    let Some(body) = s.strip_prefix(b"\"") else {
        return Err(err("expected a quoted string"));
    };
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    loop {
        let Some(&b) = body.get(i) else {
            return Err(err("unterminated string"));
        };
        i += 1;
        match b {
            b'"' => break,
            b'\\' => {
                let Some(&e) = body.get(i) else {
                    return Err(err("unterminated string"));
                };
                i += 1;
                match e {
                    b'n' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    b'r' => out.push(b'\r'),
                    b'a' => out.push(0x07),
                    b'b' => out.push(0x08),
                    b'f' => out.push(0x0c),
                    b'v' => out.push(0x0b),
                    b'\\' | b'"' | b'\'' | b'?' => out.push(e),
                    b'0'..=b'7' => {
                        let mut v: u32 = u32::from(e - b'0');
                        for _ in 0..2 {
                            match body.get(i) {
                                Some(&d @ b'0'..=b'7') => {
                                    v = v * 8 + u32::from(d - b'0');
                                    i += 1;
                                }
                                _ => break,
                            }
                        }
                        out.push(u8::try_from(v).map_err(|_| err("octal escape above \\377"))?);
                    }
                    b'x' => {
                        let start = i;
                        while body.get(i).is_some_and(u8::is_ascii_hexdigit) && i - start < 2 {
                            i += 1;
                        }
                        let hex = std::str::from_utf8(&body[start..i]).unwrap_or_default();
                        let v = u8::from_str_radix(hex, 16)
                            .map_err(|_| err("\\x escape without hex digits"))?;
                        out.push(v);
                    }
                    other => {
                        return Err(err(&format!("unknown escape `\\{}`", char::from(other))));
                    }
                }
            }
            _ => out.push(b),
        }
    }
    if !body[i..].trim_ascii().is_empty() {
        return Err(err("text after the closing quote"));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// .mo

/// Reads a `.mo` file. Errors name the file and the byte offset or entry index.
pub fn read_mo(path: impl AsRef<Path>) -> Result<GettextFile> {
    let path = path.as_ref();
    let bytes = fs::read(path).with_path(path)?;
    parse_mo(&bytes, path)
}

/// Parses the bytes of a `.mo` file (either byte order, revision 0 or 1; the static string
/// tables only); `path` names it in errors.
pub fn parse_mo(bytes: &[u8], path: &Path) -> Result<GettextFile> {
    let at = |offset: usize, msg: String| Error::parse(path, Some(format!("byte {offset}")), msg);
    if bytes.len() < 28 {
        return Err(at(
            0,
            format!("{} bytes is too short for a .mo header", bytes.len()),
        ));
    }
    let word = |off: usize, big: bool| -> Option<u32> {
        let b: [u8; 4] = bytes.get(off..off.checked_add(4)?)?.try_into().ok()?;
        Some(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let big = match (word(0, false), word(0, true)) {
        (Some(MO_MAGIC), _) => false,
        (_, Some(MO_MAGIC)) => true,
        (m, _) => {
            return Err(at(
                0,
                format!("not a .mo file (magic {:#010x})", m.unwrap_or(0)),
            ));
        }
    };
    let read = |off: usize| word(off, big).map(|w| w as usize);
    let revision = read(4).unwrap_or(0);
    if revision >> 16 > 1 {
        return Err(at(
            4,
            format!(
                "unsupported .mo revision {}.{}",
                revision >> 16,
                revision & 0xffff
            ),
        ));
    }
    let n = read(8).unwrap_or(0);
    let orig_table = read(12).unwrap_or(0);
    let trans_table = read(16).unwrap_or(0);
    for (name, off, table) in [
        ("original", 12, orig_table),
        ("translation", 16, trans_table),
    ] {
        let end = n.checked_mul(8).and_then(|s| s.checked_add(table));
        if end.is_none_or(|e| e > bytes.len()) {
            return Err(at(
                off,
                format!(
                    "{name} table at byte {table} with {n} entries runs past the end ({} bytes)",
                    bytes.len()
                ),
            ));
        }
    }
    let string =
        |table: usize, i: usize, what: &str| -> Result<&[u8]> {
            let desc = table + 8 * i;
            let len = read(desc).unwrap_or(0);
            let off = read(desc + 4).unwrap_or(0);
            off.checked_add(len).and_then(|end| bytes.get(off..end)).ok_or_else(|| {
            Error::parse(
                path,
                Some(format!("entry {i}")),
                format!(
                    "{what} string at byte {off} of length {len} runs past the end ({} bytes; \
                     descriptor at byte {desc})",
                    bytes.len()
                ),
            )
        })
        };
    let mut pairs = Vec::with_capacity(n);
    for i in 0..n {
        pairs.push((
            string(orig_table, i, "original")?,
            string(trans_table, i, "translation")?,
        ));
    }
    let header_text = pairs
        .iter()
        .find(|(o, _)| o.is_empty())
        .map(|(_, t)| String::from_utf8_lossy(t).into_owned())
        .unwrap_or_default();
    let header = parse_header(&header_text);
    let charset = Charset::from_header(&header)
        .map_err(|m| Error::parse(path, Some("header entry".to_string()), m))?;

    let mut entries = Vec::with_capacity(n);
    for (i, (orig, trans)) in pairs.into_iter().enumerate() {
        if orig.is_empty() {
            continue;
        }
        let dec = |b: &[u8]| {
            charset.decode(b).ok_or_else(|| {
                Error::parse(
                    path,
                    Some(format!("entry {i}")),
                    format!("text is not valid {}", charset.name()),
                )
            })
        };
        let (context, id) = match orig.iter().position(|&b| b == 0x04) {
            Some(p) => (Some(dec(&orig[..p])?), &orig[p + 1..]),
            None => (None, orig),
        };
        let mut ids = id.split(|&b| b == 0);
        let msgid = dec(ids.next().unwrap_or_default())?;
        let msgid_plural = ids.next().map(dec).transpose()?;
        let msgstr = trans
            .split(|&b| b == 0)
            .map(dec)
            .collect::<Result<Vec<_>>>()?;
        entries.push(GettextEntry {
            context,
            msgid,
            msgid_plural,
            msgstr,
            location: i,
        });
    }
    Ok(GettextFile {
        header,
        charset: charset.name().to_string(),
        entries,
    })
}

// ---------------------------------------------------------------------------------------
// Sources

fn english() -> Lang {
    Lang::EN
}
fn luxembourgish() -> Lang {
    Lang::LB
}
fn gettext_name() -> String {
    "gettext".to_string()
}
fn unknown_license() -> String {
    "unknown".to_string()
}

/// Gettext catalogues of one program, one file per language, aligned by msgid.
///
/// ```toml
/// [[data.sources]]
/// type = "gettext"
/// files = { lb = "po/lb.po", de = "po/de.po", fr = "locale/fr/LC_MESSAGES/app.mo" }
/// license = "GPL-2.0-or-later"
/// ```
///
/// Each file is `.po` or `.mo` (told apart by content). The msgid is the `source_lang` text; a
/// group's id is the entry key (`msgid`, or `msgctxt/msgid`), and its origin the native file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GettextCatalogue {
    /// One `.po` or `.mo` file per translated language (not the source language).
    pub files: BTreeMap<Lang, PathBuf>,
    /// The language the msgids are written in.
    #[serde(default = "english")]
    pub source_lang: Lang,
    /// The native language: groups without it are dropped.
    #[serde(default = "luxembourgish")]
    pub native: Lang,
    /// The source name in provenance.
    #[serde(default = "gettext_name")]
    pub source: String,
    /// SPDX license expression of the translations.
    #[serde(default = "unknown_license")]
    pub license: String,
    /// Cleaning steps (all on by default).
    #[serde(default)]
    pub cleaning: CatalogueCleaning,
}

impl GettextCatalogue {
    /// Reads, aligns and cleans the catalogues.
    pub fn load(&self, ctx: &SourceContext) -> Result<(Vec<Parallel>, CleaningReport)> {
        if self.files.contains_key(&self.source_lang) {
            return Err(Error::invalid(
                "files",
                format!(
                    "names the source language `{}`: its text is the msgid",
                    self.source_lang
                ),
            ));
        }
        if self.native != self.source_lang && !self.files.contains_key(&self.native) {
            return Err(Error::invalid(
                "files",
                format!("has no file for the native language `{}`", self.native),
            ));
        }
        let provenance = Provenance::new(&self.source, &self.license);
        let mut b = CatalogueBuilder::new(self.native.clone(), provenance);
        for (lang, file) in &self.files {
            let path = ctx.resolve(file);
            let catalogue = read_catalogue(&path)?;
            for e in &catalogue.entries {
                let Some(text) = e.translation() else {
                    continue;
                };
                let key = e.key();
                b.insert(&key, &self.source_lang, &e.msgid);
                b.insert(&key, lang, text);
                if *lang == self.native {
                    b.set_origin(&key, file.display().to_string());
                }
            }
        }
        let (groups, report) = b.build(&self.cleaning);
        tracing::info!(source = %self.source, "gettext: {report}");
        Ok((groups, report))
    }
}

#[typetag::serde(name = "gettext")]
impl SeedSource for GettextCatalogue {
    fn open(&self, ctx: &SourceContext) -> Result<SeedStream> {
        let (groups, _) = self.load(ctx)?;
        Ok(Box::new(groups.into_iter().map(|g| Ok(Seed::Parallel(g)))))
    }
}

/// An installed gettext locale tree: `{root}/{lang}/LC_MESSAGES/{domain}.mo` (or `.po`).
///
/// ```toml
/// [[data.sources]]
/// type = "gettext_locale_dir"
/// root = "packages/debian/gettext/usr/share/locale"
/// langs = ["en", "lb", "de", "fr"]
/// license = "GPL-2.0-or-later"
/// licenses = { geonames = "GPL-3.0-only" }
/// ```
///
/// Every domain that the native language has is read in every language of `langs` that has
/// it (a language directory is `{lang}` as written, or with `_` for `-`: `pt_BR`). When a
/// domain has both a `.po` and a `.mo`, the `.po` is read. A group's id is
/// `domain/msgid` or `domain/msgctxt/msgid`; with `recursive`, every directory under `root`
/// that has `{native}/LC_MESSAGES/` is a locale tree and ids start with its path relative to
/// `root` (`django/contrib/admin/locale/django/…`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GettextLocaleDir {
    /// The locale directory (`/usr/share/locale`).
    pub root: PathBuf,
    /// Languages to read; the source language's text is the msgid. Default: the run's (see
    /// [`crate::catalogue::source_langs`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub langs: Vec<Lang>,
    /// Only these domains (file stems); all the native language has when absent.
    #[serde(default)]
    pub domains: Option<Vec<String>>,
    /// Find every locale tree under `root` instead of reading `root` alone.
    #[serde(default)]
    pub recursive: bool,
    /// The language the msgids are written in.
    #[serde(default = "english")]
    pub source_lang: Lang,
    /// The native language: its domains are read, and groups without it are dropped. Default:
    /// the run's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native: Option<Lang>,
    /// The source name in provenance.
    #[serde(default = "gettext_name")]
    pub source: String,
    /// SPDX license expression of the translations.
    #[serde(default = "unknown_license")]
    pub license: String,
    /// Per-domain licenses that override `license` (`{ geonames = "GPL-3.0-only" }`).
    #[serde(default)]
    pub licenses: BTreeMap<String, String>,
    /// Cleaning steps (all on by default).
    #[serde(default)]
    pub cleaning: CatalogueCleaning,
}

/// The directory of `lang` under a locale tree, if there is one.
fn lang_dir(locale: &Path, lang: &Lang) -> Option<PathBuf> {
    let code = lang.code();
    [code.to_string(), code.replace('-', "_")]
        .into_iter()
        .map(|name| locale.join(name).join("LC_MESSAGES"))
        .find(|p| p.is_dir())
}

/// `domain → file` in one `LC_MESSAGES` directory (`.po` preferred over `.mo`).
fn domains_in(dir: &Path) -> Result<BTreeMap<String, PathBuf>> {
    let mut out: BTreeMap<String, PathBuf> = BTreeMap::new();
    for entry in fs::read_dir(dir).with_path(dir)? {
        let path = entry.with_path(dir)?.path();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default();
        if !matches!(ext, "po" | "mo") || !path.is_file() {
            continue;
        }
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let slot = out.entry(stem.to_string()).or_insert_with(|| path.clone());
        if ext == "po" {
            *slot = path;
        }
    }
    Ok(out)
}

/// Directories under `root` (itself included) that have `{native}/LC_MESSAGES`, sorted.
fn locale_trees(root: &Path, native: &Lang) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if lang_dir(&dir, native).is_some() {
            found.push(dir.clone());
        }
        for entry in fs::read_dir(&dir).with_path(&dir)? {
            let entry = entry.with_path(&dir)?;
            let ty = entry.file_type().with_path(entry.path())?;
            if ty.is_dir() && entry.file_name() != "LC_MESSAGES" {
                stack.push(entry.path());
            }
        }
    }
    found.sort();
    Ok(found)
}

fn slash_path(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

impl GettextLocaleDir {
    /// Reads, aligns and cleans every domain of the tree(s).
    pub fn load(&self, ctx: &SourceContext) -> Result<(Vec<Parallel>, CleaningReport)> {
        let (native, wanted) = source_langs(self.native.as_ref(), &self.langs, ctx)?;
        let root = ctx.resolve(&self.root);
        if !root.is_dir() {
            return Err(Error::io(
                &root,
                std::io::Error::new(std::io::ErrorKind::NotFound, "locale directory not found"),
            ));
        }
        let trees = if self.recursive {
            locale_trees(&root, &native)?
        } else {
            vec![root.clone()]
        };
        let provenance = Provenance::new(&self.source, &self.license);
        let mut b = CatalogueBuilder::new(native.clone(), provenance);
        for tree in &trees {
            let prefix = match tree.strip_prefix(&root) {
                Ok(rel) if !rel.as_os_str().is_empty() => format!("{}/", slash_path(rel)),
                _ => String::new(),
            };
            let Some(native_dir) = lang_dir(tree, &native) else {
                if self.recursive {
                    continue;
                }
                return Err(Error::io(
                    tree.join(native.code()).join("LC_MESSAGES"),
                    std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "the native language has no LC_MESSAGES directory",
                    ),
                ));
            };
            let mut domains: Vec<String> = domains_in(&native_dir)?.into_keys().collect();
            if let Some(only) = &self.domains {
                domains.retain(|d| only.contains(d));
            }
            // Read the native language first so that origins name its files.
            let mut langs: Vec<&Lang> = vec![&native];
            langs.extend(wanted.iter().filter(|l| **l != native));
            for lang in langs {
                if *lang == self.source_lang {
                    continue;
                }
                let Some(dir) = lang_dir(tree, lang) else {
                    continue;
                };
                let files = domains_in(&dir)?;
                for domain in &domains {
                    let Some(file) = files.get(domain) else {
                        continue;
                    };
                    let catalogue = read_catalogue(file)?;
                    let origin = file.strip_prefix(&root).map(slash_path).unwrap_or_default();
                    for e in &catalogue.entries {
                        let Some(text) = e.translation() else {
                            continue;
                        };
                        let key = format!("{prefix}{domain}/{}", e.key());
                        if wanted.contains(&self.source_lang) {
                            b.insert(&key, &self.source_lang, &e.msgid);
                        }
                        b.insert(&key, lang, text);
                        if *lang == native {
                            b.set_origin(&key, origin.clone());
                            if let Some(l) = self.licenses.get(domain) {
                                b.set_license(&key, l.clone());
                            }
                        }
                    }
                }
            }
        }
        let (groups, report) = b.build(&self.cleaning);
        tracing::info!(source = %self.source, "gettext_locale_dir: {report}");
        Ok((groups, report))
    }
}

#[typetag::serde(name = "gettext_locale_dir")]
impl SeedSource for GettextLocaleDir {
    fn open(&self, ctx: &SourceContext) -> Result<SeedStream> {
        let (groups, _) = self.load(ctx)?;
        Ok(Box::new(groups.into_iter().map(|g| Ok(Seed::Parallel(g)))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LB_PO: &str = r#"# Luxembourgish translation
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\n"

#: src/main.c:10
msgid "_Open File"
msgstr "Fichier _opmaachen"

#, c-format
msgid "Delete %s?"
msgstr "%s läschen?"

msgctxt "menu"
msgid "Open"
msgstr "Opmaachen"

#, fuzzy
msgid "Close"
msgstr "Zoumaachen"

msgid "%d file"
msgid_plural "%d files"
msgstr[0] "%d Fichier"
msgstr[1] "%d Fichieren"

msgid ""
"A long message "
"on two lines"
msgstr ""
"E laange Message\t"
"op zwou Zeilen \"mat\" Escapes \303\244 \x41"

msgid "Untranslated"
msgstr ""

#~ msgid "Old"
#~ msgstr "Al"
"#;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(&p, bytes).unwrap();
        p
    }

    /// A `.mo` file built byte by byte: header, tables, then the strings.
    fn mo_bytes(pairs: &[(&[u8], &[u8])], big: bool) -> Vec<u8> {
        let mut pairs = pairs.to_vec();
        pairs.sort_by(|a, b| a.0.cmp(b.0));
        let n = pairs.len() as u32;
        let w = |v: u32| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let orig_table = 28u32;
        let trans_table = orig_table + 8 * n;
        let mut strings = Vec::new();
        let mut orig_desc = Vec::new();
        let mut trans_desc = Vec::new();
        let start = trans_table + 8 * n;
        for (o, _) in &pairs {
            orig_desc.push((o.len() as u32, start + strings.len() as u32));
            strings.extend_from_slice(o);
            strings.push(0);
        }
        for (_, t) in &pairs {
            trans_desc.push((t.len() as u32, start + strings.len() as u32));
            strings.extend_from_slice(t);
            strings.push(0);
        }
        let mut out = Vec::new();
        for v in [MO_MAGIC, 0, n, orig_table, trans_table, 0, 0] {
            out.extend_from_slice(&w(v));
        }
        for (l, o) in orig_desc.iter().chain(&trans_desc) {
            out.extend_from_slice(&w(*l));
            out.extend_from_slice(&w(*o));
        }
        out.extend_from_slice(&strings);
        out
    }

    fn sample_mo(big: bool, charset: &str, open: &[u8]) -> Vec<u8> {
        let header = format!(
            "Content-Type: text/plain; charset={charset}\nPlural-Forms: nplurals=2; plural=(n != 1);\n"
        );
        mo_bytes(
            &[
                (b"", header.as_bytes()),
                (b"_Open File", open),
                (b"menu\x04Open", b"Ouvrir"),
                (b"%d file\0%d files", b"%d fichier\0%d fichiers"),
                (b"Delete %s?", b"Supprimer %s ?"),
            ],
            big,
        )
    }

    #[test]
    fn parses_po() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "lb.po", LB_PO.as_bytes());
        let f = read_po(&p).unwrap();
        assert_eq!(f.charset, "UTF-8");
        assert_eq!(f.plural_forms(), Some("nplurals=2; plural=(n != 1);"));
        let keys: Vec<String> = f.entries.iter().map(GettextEntry::key).collect();
        assert_eq!(
            keys,
            [
                "_Open File",
                "Delete %s?",
                "menu/Open",
                "%d file",
                "A long message on two lines",
                "Untranslated"
            ]
        );
        assert_eq!(f.entries[0].location, 8);
        assert_eq!(f.entries[2].context.as_deref(), Some("menu"));
        let plural = &f.entries[3];
        assert_eq!(plural.msgid_plural.as_deref(), Some("%d files"));
        assert_eq!(plural.msgstr, ["%d Fichier", "%d Fichieren"]);
        assert_eq!(plural.translation(), Some("%d Fichier"));
        assert_eq!(
            f.entries[4].msgstr[0],
            "E laange Message\top zwou Zeilen \"mat\" Escapes ä A"
        );
        assert_eq!(f.entries[5].translation(), None);
    }

    #[test]
    fn po_in_latin1_is_decoded_by_its_header() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = b"msgid \"\"\nmsgstr \"Content-Type: text/plain; charset=ISO-8859-1\\n\"\n\nmsgid \"Language\"\nmsgstr \"Sprooch \xe4 \xeb\"\n".to_vec();
        let p = write(dir.path(), "lb.po", &bytes);
        let f = read_po(&p).unwrap();
        assert_eq!(f.charset, "ISO-8859-1");
        assert_eq!(f.entries[0].msgstr[0], "Sprooch ä ë");
        // Latin-1 bytes in a file claiming UTF-8 are an error naming the entry's line.
        let raw = b"msgid \"\"\nmsgstr \"Content-Type: text/plain; charset=UTF-8\\n\"\n\nmsgid \"Language\"\nmsgstr \"Sprooch \xe4\"\n";
        let p = write(dir.path(), "bad.po", raw);
        let e = read_po(&p).unwrap_err().to_string();
        assert!(
            e.contains("bad.po:line 4") && e.contains("not valid UTF-8"),
            "{e}"
        );
        let p = write(
            dir.path(),
            "koi.po",
            b"msgid \"\"\nmsgstr \"Content-Type: text/plain; charset=KOI8-R\\n\"\n",
        );
        let e = read_po(&p).unwrap_err().to_string();
        assert!(e.contains("koi.po:line 1") && e.contains("KOI8-R"), "{e}");
    }

    #[test]
    fn malformed_po_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let cases: &[(&str, &str, &str)] = &[
            ("msgid \"a\"\nmsgstr \"b\n", "line 2", "unterminated"),
            (
                "msgid \"a\"\nmsgstr \"b\"\nmsgid \"c\"\n",
                "line 3",
                "no msgstr",
            ),
            (
                "msgid \"a\"\nmsgid \"c\"\nmsgstr \"\"\n",
                "line 2",
                "no msgstr",
            ),
            ("msgid \"a\"\nmsgstr[1] \"b\"\n", "line 2", "out of order"),
            (
                "msgid \"a\"\nmsgstr \"b\"\nmsgfoo \"c\"\n",
                "line 3",
                "unknown keyword",
            ),
            ("msgid \"a\"\nmsgstr \"b\\q\"\n", "line 2", "unknown escape"),
            ("msgid a\nmsgstr \"b\"\n", "line 1", "quoted string"),
            ("\"x\"\n", "line 1", "continues no keyword"),
            ("msgstr \"b\"\n", "line 1", "without a msgid"),
            (
                "msgid \"a\" x\nmsgstr \"b\"\n",
                "line 1",
                "after the closing quote",
            ),
        ];
        for (i, (text, line, what)) in cases.iter().enumerate() {
            let p = write(dir.path(), &format!("case{i}.po"), text.as_bytes());
            let e = read_po(&p).unwrap_err().to_string();
            assert!(
                e.contains(&format!("case{i}.po:{line}")) && e.contains(what),
                "{i}: {e}"
            );
        }
    }

    #[test]
    fn parses_mo_in_both_byte_orders() {
        let dir = tempfile::tempdir().unwrap();
        for big in [false, true] {
            let p = write(
                dir.path(),
                "fr.mo",
                &sample_mo(big, "UTF-8", "_Ouvrir le fichier".as_bytes()),
            );
            let f = read_mo(&p).unwrap();
            assert_eq!(f.charset, "UTF-8");
            assert_eq!(f.plural_forms(), Some("nplurals=2; plural=(n != 1);"));
            let by_key: BTreeMap<String, &GettextEntry> =
                f.entries.iter().map(|e| (e.key(), e)).collect();
            assert_eq!(by_key.len(), 4);
            assert_eq!(by_key["menu/Open"].msgstr, ["Ouvrir"]);
            assert_eq!(by_key["menu/Open"].context.as_deref(), Some("menu"));
            let plural = by_key["%d file"];
            assert_eq!(plural.msgid_plural.as_deref(), Some("%d files"));
            assert_eq!(plural.msgstr, ["%d fichier", "%d fichiers"]);
            assert_eq!(
                by_key["_Open File"].translation(),
                Some("_Ouvrir le fichier")
            );
        }
        let p = write(
            dir.path(),
            "latin.mo",
            &sample_mo(false, "ISO-8859-1", b"Fichier \xe9"),
        );
        let f = read_catalogue(&p).unwrap();
        assert_eq!(f.charset, "ISO-8859-1");
        assert!(
            f.entries
                .iter()
                .any(|e| e.translation() == Some("Fichier é"))
        );
    }

    #[test]
    fn malformed_mo_names_file_and_offset() {
        let dir = tempfile::tempdir().unwrap();
        let good = sample_mo(false, "UTF-8", b"x");
        let err = |name: &str, bytes: &[u8]| {
            let p = write(dir.path(), name, bytes);
            read_mo(&p).unwrap_err().to_string()
        };
        let e = err("short.mo", &good[..20]);
        assert!(
            e.contains("short.mo:byte 0") && e.contains("too short"),
            "{e}"
        );
        let mut bad = good.clone();
        bad[0] = 0;
        let e = err("magic.mo", &bad);
        assert!(
            e.contains("magic.mo:byte 0") && e.contains("not a .mo"),
            "{e}"
        );
        let mut bad = good.clone();
        bad[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        let e = err("count.mo", &bad);
        assert!(
            e.contains("count.mo:byte 12") && e.contains("runs past the end"),
            "{e}"
        );
        let mut bad = good.clone();
        bad[6..8].copy_from_slice(&7u16.to_le_bytes());
        let e = err("rev.mo", &bad);
        assert!(
            e.contains("rev.mo:byte 4") && e.contains("revision 7"),
            "{e}"
        );
        // Entry 1's original string offset points past the end.
        let mut bad = good.clone();
        let desc = 28 + 8 + 4;
        bad[desc..desc + 4].copy_from_slice(&(good.len() as u32 + 10).to_le_bytes());
        let e = err("offset.mo", &bad);
        assert!(
            e.contains("offset.mo:entry 1") && e.contains("runs past the end"),
            "{e}"
        );
        // Invalid UTF-8 in a translation.
        let e = err("utf.mo", &sample_mo(false, "UTF-8", b"\xff\xfe"));
        assert!(
            e.contains("utf.mo:entry") && e.contains("not valid UTF-8"),
            "{e}"
        );
    }

    #[test]
    fn mo_from_msgfmt_matches_po_when_available() {
        let dir = tempfile::tempdir().unwrap();
        let po = write(dir.path(), "lb.po", LB_PO.as_bytes());
        let mo = dir.path().join("lb.mo");
        let ran = std::process::Command::new("msgfmt")
            .arg("-o")
            .arg(&mo)
            .arg(&po)
            .status();
        let Ok(status) = ran else { return };
        assert!(status.success());
        let from_mo = read_mo(&mo).unwrap();
        let translated = |f: &GettextFile| -> BTreeMap<String, Vec<String>> {
            f.entries
                .iter()
                .filter(|e| e.translation().is_some())
                .map(|e| (e.key(), e.msgstr.clone()))
                .collect()
        };
        assert_eq!(translated(&from_mo), translated(&read_po(&po).unwrap()));
        assert_eq!(from_mo.entries.len(), 5);
    }

    #[test]
    fn gettext_source_aligns_by_msgid_through_the_trait() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "po/lb.po", LB_PO.as_bytes());
        write(
            dir.path(),
            "mo/fr.mo",
            &sample_mo(true, "UTF-8", "_Ouvrir le fichier".as_bytes()),
        );
        let de = "msgid \"_Open File\"\nmsgstr \"Datei ö_ffnen\"\n\nmsgctxt \"menu\"\nmsgid \"Open\"\nmsgstr \"Öffnen\"\n";
        write(dir.path(), "po/de.po", de.as_bytes());
        let recipe = r#"
            type = "gettext"
            files = { lb = "po/lb.po", de = "po/de.po", fr = "mo/fr.mo" }
            license = "GPL-2.0-or-later"
        "#;
        let source: Box<dyn SeedSource> = toml::from_str(recipe).unwrap();
        assert_eq!(source.name(), "gettext");
        let ctx = SourceContext::new(dir.path());
        let seeds: Vec<Seed> = source.open(&ctx).unwrap().collect::<Result<_>>().unwrap();
        let groups: Vec<&Parallel> = seeds
            .iter()
            .map(|s| match s {
                Seed::Parallel(p) => p,
                other => panic!("not parallel: {other:?}"),
            })
            .collect();
        let ids: Vec<&str> = groups.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "%d file",
                "A long message on two lines",
                "Delete %s?",
                "_Open File",
                "menu/Open"
            ]
        );
        let open = groups[3];
        assert_eq!(open.get(&Lang::EN), Some("Open File"));
        assert_eq!(open.get(&Lang::LB), Some("Fichier opmaachen"));
        assert_eq!(open.get(&Lang::DE), Some("Datei öffnen"));
        assert_eq!(open.get(&Lang::FR), Some("Ouvrir le fichier"));
        assert_eq!(open.provenance.license, "GPL-2.0-or-later");
        assert_eq!(open.provenance.source, "gettext");
        assert_eq!(open.provenance.origin.as_deref(), Some("po/lb.po"));
        assert_eq!(groups[0].get(&Lang::LB), Some("{1} Fichier"));
        assert_eq!(groups[0].get(&Lang::FR), Some("{1} fichier"));
        assert_eq!(groups[2].get(&Lang::LB), Some("{1} läschen?"));
        // Deterministic: a second open gives the same items.
        let again: Vec<Seed> = source.open(&ctx).unwrap().collect::<Result<_>>().unwrap();
        assert_eq!(again, seeds);
        // Fuzzy "Close" never appears.
        assert!(
            groups
                .iter()
                .all(|g| g.get(&Lang::LB) != Some("Zoumaachen"))
        );
    }

    #[test]
    fn gettext_source_errors() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = SourceContext::new(dir.path());
        let s: Box<dyn SeedSource> =
            toml::from_str("type = \"gettext\"\nfiles = { de = \"de.po\" }").unwrap();
        assert!(
            s.open(&ctx)
                .err()
                .unwrap()
                .to_string()
                .contains("native language `lb`")
        );
        let s: Box<dyn SeedSource> =
            toml::from_str("type = \"gettext\"\nfiles = { en = \"en.po\", lb = \"lb.po\" }")
                .unwrap();
        assert!(
            s.open(&ctx)
                .err()
                .unwrap()
                .to_string()
                .contains("source language")
        );
        let s: Box<dyn SeedSource> =
            toml::from_str("type = \"gettext\"\nfiles = { lb = \"missing.po\" }").unwrap();
        assert!(
            s.open(&ctx)
                .err()
                .unwrap()
                .to_string()
                .contains("missing.po")
        );
        write(dir.path(), "broken.po", b"msgid \"a\"\nmsgstr \"b\n");
        let s: Box<dyn SeedSource> =
            toml::from_str("type = \"gettext\"\nfiles = { lb = \"broken.po\" }").unwrap();
        assert!(
            s.open(&ctx)
                .err()
                .unwrap()
                .to_string()
                .contains("broken.po:line 2")
        );
        assert!(
            toml::from_str::<Box<dyn SeedSource>>("type = \"gettext\"\nfiles = {}\nbogus = 1")
                .is_err()
        );
    }

    #[test]
    fn locale_dir_reads_every_native_domain() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("locale");
        write(&root, "lb/LC_MESSAGES/app.po", LB_PO.as_bytes());
        write(
            &root,
            "lb/LC_MESSAGES/geo.mo",
            &mo_bytes(&[(b"Luxembourg", b"L\xc3\xabtzebuerg")], false),
        );
        write(
            &root,
            "de/LC_MESSAGES/app.mo",
            &mo_bytes(&[(b"menu\x04Open", "Öffnen".as_bytes())], false),
        );
        write(
            &root,
            "de/LC_MESSAGES/geo.po",
            "msgid \"Luxembourg\"\nmsgstr \"Luxemburg\"\n".as_bytes(),
        );
        write(
            &root,
            "de/LC_MESSAGES/other.mo",
            &mo_bytes(&[(b"Other", b"Andere")], false),
        );
        write(
            &root,
            "pt_BR/LC_MESSAGES/geo.mo",
            &mo_bytes(&[(b"Luxembourg", b"Luxemburgo")], false),
        );
        let recipe = r#"
            type = "gettext_locale_dir"
            root = "locale"
            langs = ["en", "lb", "de", "pt-BR"]
            license = "GPL-2.0-or-later"
            licenses = { geo = "GPL-3.0-only" }
        "#;
        let source: Box<dyn SeedSource> = toml::from_str(recipe).unwrap();
        let ctx = SourceContext::new(dir.path());
        let groups: Vec<Parallel> = source
            .open(&ctx)
            .unwrap()
            .map(|s| match s.unwrap() {
                Seed::Parallel(p) => p,
                other => panic!("{other:?}"),
            })
            .collect();
        let by_id: BTreeMap<&str, &Parallel> = groups.iter().map(|g| (g.id.as_str(), g)).collect();
        let geo = by_id["geo/Luxembourg"];
        assert_eq!(geo.get(&Lang::LB), Some("Lëtzebuerg"));
        assert_eq!(geo.get(&Lang::DE), Some("Luxemburg"));
        assert_eq!(geo.get(&Lang::new("pt-BR").unwrap()), Some("Luxemburgo"));
        assert_eq!(geo.provenance.license, "GPL-3.0-only");
        assert_eq!(
            geo.provenance.origin.as_deref(),
            Some("lb/LC_MESSAGES/geo.mo")
        );
        assert_eq!(by_id["app/menu/Open"].get(&Lang::DE), Some("Öffnen"));
        assert_eq!(
            by_id["app/menu/Open"].provenance.license,
            "GPL-2.0-or-later"
        );
        assert!(!by_id.keys().any(|k| k.starts_with("other/")));

        let only: Box<dyn SeedSource> =
            toml::from_str("type = \"gettext_locale_dir\"\nroot = \"locale\"\ndomains = [\"geo\"]")
                .unwrap();
        let n = only.open(&ctx).unwrap().count();
        assert_eq!(n, 1);
    }

    #[test]
    fn locale_dir_recursive_prefixes_ids() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("django");
        write(
            &root,
            "conf/locale/lb/LC_MESSAGES/django.mo",
            &mo_bytes(&[(b"Yes", b"Jo")], false),
        );
        write(
            &root,
            "conf/locale/fr/LC_MESSAGES/django.mo",
            &mo_bytes(&[(b"Yes", b"Oui")], false),
        );
        write(
            &root,
            "contrib/admin/locale/lb/LC_MESSAGES/django.mo",
            &mo_bytes(&[(b"Log out", b"Ofmellen")], false),
        );
        let s = GettextLocaleDir {
            root: root.clone(),
            langs: vec![Lang::EN, Lang::LB, Lang::DE, Lang::FR],
            domains: None,
            recursive: true,
            source_lang: Lang::EN,
            native: Some(Lang::LB),
            source: "django".into(),
            license: "BSD-3-Clause".into(),
            licenses: BTreeMap::new(),
            cleaning: CatalogueCleaning::default(),
        };
        let (groups, report) = s.load(&SourceContext::new(dir.path())).unwrap();
        let ids: Vec<&str> = groups.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "conf/locale/django/Yes",
                "contrib/admin/locale/django/Log out"
            ]
        );
        assert_eq!(report.texts.get(&Lang::LB), Some(&2));
        // Not recursive: the root has no lb directory.
        let flat = GettextLocaleDir {
            recursive: false,
            ..s
        };
        let e = flat
            .load(&SourceContext::new(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("LC_MESSAGES"), "{e}");
        let bad = GettextLocaleDir {
            langs: vec![Lang::EN],
            ..flat
        };
        assert!(bad.load(&SourceContext::new(dir.path())).is_err());
    }
}
