//! `hunspell`: the words of a Hunspell spelling dictionary (`.dic` + `.aff`).
//!
//! A `.dic` file starts with an approximate word count, then one entry per line:
//! `word/FLAGS field:value…` (`Haus/n0 po:noun ts:neutral_singular`). The `.aff` file says how
//! to read it: its character set (`SET UTF-8`, `SET ISO8859-1`…), how flags are written
//! (`FLAG long`, `num`, `UTF-8`, or one character each by default), flag and morphology
//! aliases (`AF`, `AM`), and which flags mark entries that are not words on their own
//! (`FORBIDDENWORD`, `NEEDAFFIX`, `ONLYINCOMPOUND`).
//!
//! The Luxembourgish dictionary of the `dictionary-lb` package (EUPL-1.1, from
//! spellchecker.lu) is UTF-8 with `FLAG long`, and gives the part of speech in `po:` fields
//! (`po:noun`, `po:adjective`, `po:verb`, `po:adverb`…) on most entries; it needs no
//! `pos_flags`. Inflected forms it lists with a stem (`Aachtkanteges st:aachtkanteg is:es`)
//! carry no `po:` field and come without a part of speech.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use lux_core::{
    Error, IoContext, Lang, LexEntry, Provenance, Result, Seed, SeedSource, SeedStream,
    SourceContext,
};
use serde::{Deserialize, Serialize};

use super::dictionary::Ids;
use super::jsonl::{FuseOnError, NumberedLines};
use crate::charset::Charset;
use crate::text::nfc;

/// Headwords (with their part of speech where the dictionary gives one) from a Hunspell
/// dictionary.
///
/// Each `.dic` entry becomes a [`LexEntry`] with no translations; affixed forms are not
/// generated. Entries flagged `FORBIDDENWORD`, `NEEDAFFIX` or `ONLYINCOMPOUND` in the `.aff`
/// are skipped: they are not words on their own. Ids are the headword, then `word#2`,
/// `word#3`… for later entries with the same headword. Without an `.aff` file, or with one
/// that has no `SET` line, the files are read as UTF-8 (Hunspell itself would assume
/// ISO8859-1; lux asks for an explicit `SET` instead of guessing).
///
/// ```toml
/// [[data.sources]]
/// type = "hunspell"
/// dic = "dictionary-lb/index.dic"
/// aff = "dictionary-lb/index.aff"
/// license = "EUPL-1.1"
/// source = "dictionary-lb"
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HunspellWords {
    /// The `.dic` word list, relative to the recipe.
    pub dic: PathBuf,
    /// The `.aff` affix file; by default the `.dic` path with extension `.aff`, when it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aff: Option<PathBuf>,
    /// The dictionary's language.
    #[serde(default = "default_lang")]
    pub lang: Lang,
    /// SPDX license expression of the dictionary, or `unknown`.
    #[serde(default = "default_license")]
    pub license: String,
    /// Source name recorded in provenance.
    #[serde(default = "default_source")]
    pub source: String,
    /// Part of speech per flag (`{ N = "noun" }`), used when an entry has no `po:` field.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pos_flags: BTreeMap<String, String>,
}

fn default_lang() -> Lang {
    Lang::LB
}
fn default_license() -> String {
    "unknown".into()
}
fn default_source() -> String {
    "hunspell".into()
}

impl HunspellWords {
    /// A source reading `dic` (and the `.aff` beside it) with the default settings.
    pub fn new(dic: impl Into<PathBuf>) -> HunspellWords {
        HunspellWords {
            dic: dic.into(),
            aff: None,
            lang: default_lang(),
            license: default_license(),
            source: default_source(),
            pos_flags: BTreeMap::new(),
        }
    }
}

#[typetag::serde(name = "hunspell")]
impl SeedSource for HunspellWords {
    fn open(&self, ctx: &SourceContext) -> Result<SeedStream> {
        let dic = ctx.resolve(&self.dic);
        let affix = match &self.aff {
            Some(aff) => Affixes::read(&ctx.resolve(aff))?,
            None => Affixes::beside(&dic)?,
        };
        let mut pos_flags = Vec::new();
        for (flag, pos) in &self.pos_flags {
            let parsed = affix.single_flag(flag).ok_or_else(|| {
                Error::invalid(
                    format!("pos_flags.{flag}"),
                    format!(
                        "`{flag}` is not one flag in this dictionary's flag type ({:?})",
                        affix.flag_type
                    ),
                )
            })?;
            pos_flags.push((parsed, pos.clone()));
        }
        let provenance = Provenance::new(&self.source, &self.license)
            .with_origin(self.dic.display().to_string());
        let lang = self.lang.clone();
        let mut ids = Ids::default();
        let entries = DicEntries::open(&dic, affix)?;
        let stream = entries.filter_map(move |entry| {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => return Some(Err(e)),
            };
            if entry.skipped {
                return None;
            }
            let pos = entry.pos.clone().or_else(|| {
                entry.flags.iter().find_map(|f| {
                    pos_flags
                        .iter()
                        .find(|(flag, _)| flag == f)
                        .map(|(_, pos)| pos.clone())
                })
            });
            let id = match ids.assign(&dic, entry.line, String::new(), &entry.word) {
                Ok(id) => id,
                Err(e) => return Some(Err(e)),
            };
            Some(Ok(Seed::Lexeme(LexEntry {
                id,
                headword: entry.word,
                lang: lang.clone(),
                pos,
                translations: BTreeMap::new(),
                examples: Vec::new(),
                synonyms: Vec::new(),
                provenance: provenance.clone(),
            })))
        });
        Ok(Box::new(FuseOnError::new(stream)))
    }
}

/// The distinct words of a Hunspell `.dic` file, in file order, read with the `.aff` beside
/// it (same path, extension `.aff`) when there is one; entries that are not words on their
/// own (`FORBIDDENWORD`, `NEEDAFFIX`, `ONLYINCOMPOUND`) are left out.
pub fn read_word_list(dic: impl AsRef<Path>) -> Result<Vec<String>> {
    let dic = dic.as_ref();
    let mut seen = HashSet::new();
    let mut words = Vec::new();
    for entry in DicEntries::open(dic, Affixes::beside(dic)?)? {
        let entry = entry?;
        if !entry.skipped && seen.insert(entry.word.clone()) {
            words.push(entry.word);
        }
    }
    Ok(words)
}

/// How flags are written (`FLAG`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FlagType {
    /// One character per flag (the default; bytes in 8-bit charsets).
    Short,
    /// Two characters per flag (`FLAG long`).
    Long,
    /// Decimal numbers separated by commas (`FLAG num`).
    Num,
    /// One Unicode character per flag (`FLAG UTF-8`).
    Utf8,
}

/// What lux needs from an `.aff` file.
#[derive(Debug, Clone)]
struct Affixes {
    /// The file, for messages (`None` when there is none and defaults apply).
    path: Option<PathBuf>,
    charset: Charset,
    flag_type: FlagType,
    /// Flags of entries that are not words on their own.
    skip_flags: Vec<String>,
    /// `AF` flag vectors; entries then name one by its 1-based number.
    flag_aliases: Vec<Vec<String>>,
    /// `AM` morphological descriptions; entries then name one by its 1-based number.
    morph_aliases: Vec<String>,
}

impl Default for Affixes {
    fn default() -> Affixes {
        Affixes {
            path: None,
            charset: Charset::UTF8,
            flag_type: FlagType::Short,
            skip_flags: Vec::new(),
            flag_aliases: Vec::new(),
            morph_aliases: Vec::new(),
        }
    }
}

impl Affixes {
    /// The `.aff` next to `dic`, or defaults (UTF-8, one-character flags) when there is none.
    fn beside(dic: &Path) -> Result<Affixes> {
        let aff = dic.with_extension("aff");
        if aff.is_file() {
            Affixes::read(&aff)
        } else {
            Ok(Affixes::default())
        }
    }

    /// Reads the settings lux uses from an `.aff` file.
    fn read(path: &Path) -> Result<Affixes> {
        let bytes = fs::read(path).with_path(path)?;
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
        let raw_lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        let mut aff = Affixes {
            path: Some(path.to_path_buf()),
            ..Affixes::default()
        };
        // `SET` is ASCII and must be known before anything else can be decoded.
        for (i, raw) in raw_lines.iter().enumerate() {
            let line = String::from_utf8_lossy(raw);
            let mut tokens = line.split_whitespace();
            if tokens.next() == Some("SET") {
                let name = tokens.next().unwrap_or_default();
                aff.charset = Charset::from_name(name).ok_or_else(|| {
                    Error::at_line(
                        path,
                        i + 1,
                        format!(
                            "unsupported SET `{name}` (lux reads UTF-8 and the charsets browsers \
                             know: ISO8859-1 to -16, KOI8-R, microsoft-cp1251…)"
                        ),
                    )
                })?;
                break;
            }
        }
        let mut lines = Vec::with_capacity(raw_lines.len());
        for (i, raw) in raw_lines.iter().enumerate() {
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            let line = aff.charset.decode(raw).ok_or_else(|| {
                Error::at_line(
                    path,
                    i + 1,
                    format!(
                        "not valid {} (lux assumes UTF-8 when there is no SET line; add e.g. \
                         `SET ISO8859-1`)",
                        aff.charset.name()
                    ),
                )
            })?;
            lines.push(line);
        }
        for (i, line) in lines.iter().enumerate() {
            let mut tokens = line.split_whitespace();
            if tokens.next() == Some("FLAG") {
                let value = tokens.next().unwrap_or_default();
                aff.flag_type = match value.to_ascii_lowercase().as_str() {
                    "long" => FlagType::Long,
                    "num" => FlagType::Num,
                    "utf-8" | "utf8" => FlagType::Utf8,
                    _ => {
                        let message =
                            format!("unknown FLAG type `{value}` (expected long, num or UTF-8)");
                        return Err(Error::at_line(path, i + 1, message));
                    }
                };
            }
        }
        let (mut af_count, mut am_count) = (None, None);
        for (i, line) in lines.iter().enumerate() {
            let at = |message: String| Error::at_line(path, i + 1, message);
            let mut tokens = line.split_whitespace();
            let (Some(key), value) = (tokens.next(), tokens.next()) else {
                continue;
            };
            match key {
                "FORBIDDENWORD" | "NEEDAFFIX" | "PSEUDOROOT" | "ONLYINCOMPOUND" => {
                    let value = value.unwrap_or_default();
                    let flag = aff.single_flag(value).ok_or_else(|| {
                        at(format!(
                            "{key} `{value}` is not one flag of type {:?}",
                            aff.flag_type
                        ))
                    })?;
                    aff.skip_flags.push(flag);
                }
                "AF" | "AM" => {
                    let value = value.unwrap_or_default();
                    let count = if key == "AF" {
                        &mut af_count
                    } else {
                        &mut am_count
                    };
                    if count.is_none() {
                        let n: usize = value.parse().map_err(|_| {
                            at(format!(
                                "{key} must start with the number of aliases, found `{value}`"
                            ))
                        })?;
                        *count = Some(n);
                    } else if key == "AF" {
                        let (flags, bad) = aff.parse_flags(value);
                        if bad {
                            return Err(at(format!("AF `{value}` is not a valid flag vector")));
                        }
                        aff.flag_aliases.push(flags);
                    } else {
                        let rest: Vec<&str> = line.split_whitespace().skip(1).collect();
                        aff.morph_aliases.push(rest.join(" "));
                    }
                }
                _ => {}
            }
        }
        Ok(aff)
    }

    /// Parses a flag vector; says whether part of it was malformed (and skipped).
    fn parse_flags(&self, s: &str) -> (Vec<String>, bool) {
        match self.flag_type {
            FlagType::Short | FlagType::Utf8 => (s.chars().map(String::from).collect(), false),
            FlagType::Long => {
                let chars: Vec<char> = s.chars().collect();
                let flags = chars
                    .chunks_exact(2)
                    .map(|pair| pair.iter().collect())
                    .collect();
                (flags, chars.len() % 2 == 1)
            }
            FlagType::Num => {
                let mut bad = false;
                let flags = s
                    .split(',')
                    .filter_map(|n| match n.trim().parse::<u32>() {
                        Ok(n) => Some(n.to_string()),
                        Err(_) => {
                            bad = true;
                            None
                        }
                    })
                    .collect();
                (flags, bad)
            }
        }
    }

    /// `s` as exactly one flag, if it is one.
    fn single_flag(&self, s: &str) -> Option<String> {
        match self.parse_flags(s) {
            (mut flags, false) if flags.len() == 1 => flags.pop(),
            _ => None,
        }
    }

    /// Where this `.aff` is, for messages.
    fn name(&self) -> String {
        self.path
            .as_ref()
            .map_or("no .aff file".into(), |p| p.display().to_string())
    }
}

/// One `.dic` entry.
#[derive(Debug)]
struct DicEntry {
    /// 1-based line.
    line: usize,
    /// The word, NFC, with `\/` unescaped.
    word: String,
    /// Its flags (aliases resolved).
    flags: Vec<String>,
    /// The value of its first `po:` field.
    pos: Option<String>,
    /// Whether a flag marks it as no word on its own.
    skipped: bool,
}

/// The entries of a `.dic` file, read line by line.
struct DicEntries {
    lines: NumberedLines,
    path: PathBuf,
    affixes: Affixes,
}

impl DicEntries {
    fn open(path: &Path, affixes: Affixes) -> Result<DicEntries> {
        Ok(DicEntries {
            lines: NumberedLines::open(path)?,
            path: path.to_path_buf(),
            affixes,
        })
    }

    /// The entry on a decoded line, if the line holds one.
    fn entry(&self, n: usize, line: &str) -> Result<Option<DicEntry>> {
        if n == 1 {
            let count = line.split_whitespace().next().unwrap_or_default();
            if count.parse::<u64>().is_err() {
                let message = format!(
                    "expected the approximate word count on the first line, found `{line}`"
                );
                return Err(Error::at_line(&self.path, n, message));
            }
            return Ok(None);
        }
        if line.trim().is_empty() || line.starts_with(['#', '\t']) {
            return Ok(None);
        }
        let (word_and_flags, morph) = split_morphology(line);
        let (word, flags, mut morph) = split_flags(word_and_flags.trim_end(), morph);
        let word = nfc(word.replace("\\/", "/").trim());
        if word.is_empty() {
            return Ok(None);
        }
        let aff = &self.affixes;
        let flags = match flags {
            None => Vec::new(),
            Some(f) if !aff.flag_aliases.is_empty() => {
                match f
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| aff.flag_aliases.get(i.checked_sub(1)?))
                {
                    Some(flags) => flags.clone(),
                    None => {
                        let message =
                            format!("flag alias `{f}` is not an AF number in {}", aff.name());
                        return Err(Error::at_line(&self.path, n, message));
                    }
                }
            }
            Some(f) => {
                let (flags, bad) = aff.parse_flags(f);
                if bad {
                    tracing::warn!(
                        "{}:line {n}: malformed flags `{f}` for {:?} flags ({}); read what could be",
                        self.path.display(),
                        aff.flag_type,
                        aff.name(),
                    );
                }
                flags
            }
        };
        if !aff.morph_aliases.is_empty() {
            let trimmed = morph.trim();
            if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
                let alias = trimmed
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| aff.morph_aliases.get(i.checked_sub(1)?));
                match alias {
                    Some(m) => morph = m.as_str(),
                    None => {
                        let message = format!(
                            "morphology alias `{trimmed}` is not an AM number in {}",
                            aff.name()
                        );
                        return Err(Error::at_line(&self.path, n, message));
                    }
                }
            }
        }
        let pos = morph
            .split_whitespace()
            .find_map(|field| field.strip_prefix("po:"))
            .filter(|p| !p.is_empty())
            .map(nfc);
        let skipped = flags.iter().any(|f| aff.skip_flags.contains(f));
        Ok(Some(DicEntry {
            line: n,
            word,
            flags,
            pos,
            skipped,
        }))
    }
}

impl Iterator for DicEntries {
    type Item = Result<DicEntry>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (n, bytes) = match self.lines.next()? {
                Ok(line) => line,
                Err(e) => return Some(Err(e)),
            };
            let Some(line) = self.affixes.charset.decode(&bytes) else {
                let message = format!(
                    "not valid {}, the charset of {} (without a SET line lux assumes UTF-8)",
                    self.affixes.charset.name(),
                    self.affixes.name()
                );
                return Some(Err(Error::at_line(&self.path, n, message)));
            };
            match self.entry(n, &line) {
                Ok(Some(entry)) => return Some(Ok(entry)),
                Ok(None) => continue,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

/// Splits `word/flags` from morphological fields: they start at the first tab, or at the
/// first whitespace followed by a two-character field name and a colon (`po:`, `st:`).
fn split_morphology(line: &str) -> (&str, &str) {
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    for (k, &(i, c)) in chars.iter().enumerate() {
        if c == '\t' {
            return (&line[..i], &line[i + 1..]);
        }
        let field_follows = c.is_whitespace()
            && chars.get(k + 3).is_some_and(|&(_, colon)| colon == ':')
            && chars[k + 1..k + 3]
                .iter()
                .all(|(_, f)| !f.is_whitespace() && *f != ':');
        if field_follows {
            return (&line[..i], &line[i..]);
        }
    }
    (line, "")
}

/// Splits `word/flags` at the first `/` that is neither the first character nor escaped
/// (`\/`). Anything after the flags and whitespace is morphology (an `AM` alias number).
fn split_flags<'a>(part: &'a str, morph: &'a str) -> (&'a str, Option<&'a str>, &'a str) {
    let bytes = part.as_bytes();
    let slash = (1..bytes.len()).find(|&i| bytes[i] == b'/' && bytes[i - 1] != b'\\');
    let Some(slash) = slash else {
        return (part, None, morph);
    };
    let after = &part[slash + 1..];
    match after.split_once(char::is_whitespace) {
        Some((flags, rest)) if morph.is_empty() => (&part[..slash], Some(flags), rest),
        Some((flags, _)) => (&part[..slash], Some(flags), morph),
        None => (&part[..slash], Some(after), morph),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small file shaped like `dictionary-lb`'s `index.dic` / `index.aff`.
    const LB_AFF: &str = "SET UTF-8\n\nTRY enrtsialohcugmpdkfébzwäëv\n\nFLAG long\n\nNOSUGGEST !0\n\
                          FORBIDDENWORD !!\n\nSFX a0 N 1\nSFX a0 0 en . is:en\n";
    const LB_DIC: &str = "9\n///!0\n2D/!0\na\nA/n0 po:noun ts:neutral_singular\naacht/a0 po:adjective\n\
                          aacht/z0z1z2z3\nAachtchen/d0 po:noun ts:feminine_singular\naachtens po:adverb\n\
                          Aachtkanteges st:aachtkanteg is:es\nkm\\/h/n0\n\n# a comment\nFalsch/!!\n\
                          Ae\u{308}nner/n0 po:noun\n";

    fn lexemes(dir: &Path, toml_src: &str) -> Vec<LexEntry> {
        let source: Box<dyn SeedSource> = toml::from_str(toml_src).unwrap();
        source
            .open(&SourceContext::new(dir))
            .unwrap()
            .map(|s| match s.unwrap() {
                Seed::Lexeme(e) => e,
                other => panic!("not a lexeme: {other:?}"),
            })
            .collect()
    }

    fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = dir.join(name);
        fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn reads_lb_shaped_dictionary_through_the_trait() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "index.aff", LB_AFF);
        write(dir.path(), "index.dic", LB_DIC);
        let got = lexemes(
            dir.path(),
            "type = \"hunspell\"\ndic = \"index.dic\"\nlicense = \"EUPL-1.1\"",
        );
        let words: Vec<_> = got
            .iter()
            .map(|e| (e.id.as_str(), e.pos.as_deref()))
            .collect();
        assert_eq!(
            words,
            [
                ("/", None),
                ("2D", None),
                ("a", None),
                ("A", Some("noun")),
                ("aacht", Some("adjective")),
                ("aacht#2", None),
                ("Aachtchen", Some("noun")),
                ("aachtens", Some("adverb")),
                ("Aachtkanteges", None),
                ("km/h", None),
                ("Aënner", Some("noun")),
            ]
        );
        assert_eq!(got[10].headword.chars().count(), 6, "stored NFC");
        assert_eq!(got[0].lang, Lang::LB);
        assert!(got[0].translations.is_empty());
        assert_eq!(
            got[0].provenance,
            Provenance::new("hunspell", "EUPL-1.1").with_origin("index.dic")
        );
        let explicit = lexemes(
            dir.path(),
            "type = \"hunspell\"\ndic = \"index.dic\"\naff = \"index.aff\"\nlicense = \"EUPL-1.1\"",
        );
        assert_eq!(
            explicit, got,
            "same items on every open, explicit .aff or not"
        );
        let words = read_word_list(dir.path().join("index.dic")).unwrap();
        assert_eq!(
            words.len(),
            10,
            "distinct, forbidden word left out: {words:?}"
        );
        assert!(!words.contains(&"Falsch".to_string()));
    }

    #[test]
    fn latin1_short_flags_and_pos_flags() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "de.aff",
            b"# comment\r\nSET ISO8859-1\r\nNEEDAFFIX X\r\n".as_slice(),
        );
        write(
            dir.path(),
            "de.dic",
            b"3\r\nH\xe4user/NP\r\nSch\xf6n/A\r\nvor/X\r\ngut\r\n".as_slice(),
        );
        let src = "type = \"hunspell\"\ndic = \"de.dic\"\nlang = \"de\"\n[pos_flags]\nN = \"noun\"\nA = \"adjective\"";
        let got = lexemes(dir.path(), src);
        let words: Vec<_> = got
            .iter()
            .map(|e| (e.headword.as_str(), e.pos.as_deref()))
            .collect();
        assert_eq!(
            words,
            [
                ("Häuser", Some("noun")),
                ("Schön", Some("adjective")),
                ("gut", None)
            ]
        );
        assert_eq!(got[0].lang, Lang::DE);
        let bad = "type = \"hunspell\"\ndic = \"de.dic\"\n[pos_flags]\nNN = \"noun\"";
        let source: Box<dyn SeedSource> = toml::from_str(bad).unwrap();
        let err = source
            .open(&SourceContext::new(dir.path()))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("pos_flags.NN"), "{err}");
    }

    #[test]
    fn latin9_num_flags_and_aliases() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "x.aff", b"SET ISO8859-15\nFLAG num\nAF 2\nAF 101,7 # 1\nAF 7\nAM 1\nAM po:noun is:x\nONLYINCOMPOUND 101\n".as_slice());
        write(
            dir.path(),
            "x.dic",
            b"3\n\xa4uro/2 1\nTeil/1\nFisch/2\n".as_slice(),
        );
        let src = "type = \"hunspell\"\ndic = \"x.dic\"\naff = \"x.aff\"\npos_flags = { \"007\" = \"verb\" }";
        let got = lexemes(dir.path(), src);
        let words: Vec<_> = got
            .iter()
            .map(|e| (e.headword.as_str(), e.pos.as_deref()))
            .collect();
        assert_eq!(words, [("€uro", Some("noun")), ("Fisch", Some("verb"))]);
    }

    #[test]
    fn utf8_flags_and_tab_morphology() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "u.aff",
            "SET UTF-8\nFLAG UTF-8\nFORBIDDENWORD ✗\n",
        );
        write(dir.path(), "u.dic", "2\nMéi/ëä\tpo:adverb\nnee/✗\n");
        let got = lexemes(
            dir.path(),
            "type = \"hunspell\"\ndic = \"u.dic\"\n[pos_flags]\n\"ä\" = \"x\"",
        );
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].headword, "Méi");
        assert_eq!(got[0].pos.as_deref(), Some("adverb"));
    }

    #[test]
    fn malformed_files_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let open_err = |toml_src: &str| {
            let source: Box<dyn SeedSource> = toml::from_str(toml_src).unwrap();
            source
                .open(&SourceContext::new(d))
                .err()
                .unwrap()
                .to_string()
        };
        let first_item_err = |toml_src: &str| {
            let source: Box<dyn SeedSource> = toml::from_str(toml_src).unwrap();
            let items: Vec<_> = source.open(&SourceContext::new(d)).unwrap().collect();
            assert_eq!(
                items.iter().filter(|i| i.is_err()).count(),
                1,
                "the stream ends on error"
            );
            items.into_iter().find_map(|i| i.err()).unwrap().to_string()
        };
        // Hindi dictionaries name ISCII, which no browser (and so encoding_rs) decodes.
        write(d, "a.aff", "SET ISCII-DEVANAGARI\n");
        write(d, "a.dic", "1\nx\n");
        let err = open_err("type = \"hunspell\"\ndic = \"a.dic\"");
        assert!(
            err.contains("a.aff:line 1: unsupported SET `ISCII-DEVANAGARI`"),
            "{err}"
        );
        write(d, "b.aff", "SET UTF-8\n\nFLAG double\n");
        write(d, "b.dic", "1\nx\n");
        let err = open_err("type = \"hunspell\"\ndic = \"b.dic\"");
        assert!(
            err.contains("b.aff:line 3: unknown FLAG type `double`"),
            "{err}"
        );
        write(d, "c.dic", "Haus/AB\n");
        let err = first_item_err("type = \"hunspell\"\ndic = \"c.dic\"");
        assert!(
            err.contains("c.dic:line 1: expected the approximate word count"),
            "{err}"
        );
        write(d, "e.dic", b"2\nok\nbad\xff\n".as_slice());
        let err = first_item_err("type = \"hunspell\"\ndic = \"e.dic\"");
        assert!(err.contains("e.dic:line 3: not valid UTF-8"), "{err}");
        write(d, "f.aff", "FLAG num\nAF 1\nAF 3\n");
        write(d, "f.dic", "1\nx/9\n");
        let err = first_item_err("type = \"hunspell\"\ndic = \"f.dic\"");
        assert!(err.contains("f.dic:line 2: flag alias `9`"), "{err}");
        write(d, "g.aff", "AF many\n");
        write(d, "g.dic", "1\nx\n");
        let err = open_err("type = \"hunspell\"\ndic = \"g.dic\"");
        assert!(
            err.contains("g.aff:line 1: AF must start with the number"),
            "{err}"
        );
        let err = open_err("type = \"hunspell\"\ndic = \"missing.dic\"");
        assert!(err.contains("missing.dic"), "{err}");
        let err = open_err("type = \"hunspell\"\ndic = \"a.dic\"\naff = \"missing.aff\"");
        assert!(err.contains("missing.aff"), "{err}");
        let bad = toml::from_str::<Box<dyn SeedSource>>(
            "type = \"hunspell\"\ndic = \"x\"\naffix = \"y\"",
        );
        assert!(bad.unwrap_err().to_string().contains("affix"));
    }

    #[test]
    fn entry_splitting() {
        assert_eq!(
            split_morphology("Haus/n0 po:noun ts:x"),
            ("Haus/n0", " po:noun ts:x")
        );
        assert_eq!(
            split_morphology("aachtens po:adverb"),
            ("aachtens", " po:adverb")
        );
        assert_eq!(
            split_morphology("New York/N\tpo:noun"),
            ("New York/N", "po:noun")
        );
        assert_eq!(split_morphology("a b"), ("a b", ""));
        assert_eq!(split_flags("km\\/h/n0", ""), ("km\\/h", Some("n0"), ""));
        assert_eq!(split_flags("///!0", ""), ("/", Some("/!0"), ""));
        assert_eq!(split_flags("x/12 3", ""), ("x", Some("12"), "3"));
        assert_eq!(split_flags("plain", ""), ("plain", None, ""));
    }
}
