//! Localisation catalogues as aligned human translations.
//!
//! A localisation catalogue (a gettext `.po`/`.mo`, a MediaWiki `i18n/lb.json`, a CLDR file)
//! maps keys to the strings of one language. The same key in several languages is one string
//! translated by people, so lining catalogues up by key gives [`Parallel`] groups. The
//! [`CatalogueBuilder`] collects `key → text` per language from any format; its
//! [`build`](CatalogueBuilder::build) cleans every text with [`clean_text`] and keeps the groups
//! that still have the native language and at least one other.
//!
//! ## Cleaning
//!
//! Each step can be switched off in [`CatalogueCleaning`]; in order:
//!
//! 1. **Markup** (`markup`): MediaWiki `{{PLURAL:$1|file|files}}` keeps its last plain form
//!    (the general plural: `files`; explicit `0=`/`1=` forms are skipped),
//!    `{{GENDER:$1|he|she|they}}` keeps its third (neutral) form, else its first,
//!    `{{GRAMMAR:case|word}}` keeps `word`, `{{BIDI:x}}` keeps `x`; `{{SITENAME}}` and
//!    i18next's `{{count}}` become the named placeholder `{SITENAME}` / `{count}`; any other
//!    template (`{{int:…}}`, `{{#special:…}}`, `{{fullurl:…}}`) cannot be made plain and drops
//!    the text. Wiki links keep their label (`[[Special:Version|version page]]` → `version page`),
//!    `''`/`'''` emphasis is removed, inline HTML tags (`<b>`, `<strong>`, `<span …>`, `<br>`…)
//!    are removed keeping their content, and a text with block markup (`<pre>`, `<table>`,
//!    `<ul>`, `<div>`, comments) or with more tags and links than `max_markup_per_word` per
//!    visible word (`<b><i>x</i></b>`) is dropped. A `<word>` that is not an HTML tag (`<none>`) is text.
//! 2. **Placeholders** (`placeholders`): every format's placeholders become one canonical form,
//!    a 1-based argument number or a name in single braces (see below).
//! 3. **Accelerators** (`accelerators`): the keyboard-mnemonic marks translators keep in menu
//!    labels: a trailing CJK-style `(_F)` / `(&F)` (before an optional `...`, `…` or `:`), KDE and
//!    Qt `&File` (`&&` is a literal `&`, and `&amp;`-style entities are not marks), and GTK's
//!    single `_File` / `Fi_le` (only when the text has exactly one `_` before a letter or digit,
//!    so `user_name_field` is left for the code-like check).
//! 4. HTML entities (`&amp;`, `&quot;`, `&#8230;`…) are decoded (with `markup`), whitespace runs
//!    become one space (`collapse_whitespace`), and the text is stored in Unicode NFC.
//! 5. **Drops**: a text with no letter outside its placeholders (`%s`, `{1}: {2}`, `…`) is
//!    dropped (`drop_placeholder_only`); so is a code-like text (`drop_code_like`): a URL alone,
//!    one token that looks like an identifier, file name, option or address (`user_name`,
//!    `file.txt`, `fooBar`, `--help`, `a@b.org`, `/usr/bin`), or a text more than 40 % of whose
//!    visible characters are symbols (`%Y-%m-%d %H:%M`).
//!
//! Then, per group: a pivot text of two or three capitals (`TR`) that every translation
//! writes with lower-case letters (`Tierkei`) is an id, not English, and is removed (with
//! `drop_code_like`); a member in another language whose text equals the `pivot` language's
//! (English) text by [`dedup_key`] merely copies it and is removed (`drop_copies`); a group is
//! kept when it has the native language and at least `min_langs` languages in all; and a group
//! whose native and pivot texts repeat an earlier group's is merged into that group, adding the
//! languages it lacked (`dedupe`). Groups come out sorted by key.
//!
//! ## The canonical placeholder form
//!
//! | written as | format | canonical |
//! |---|---|---|
//! | `%s`, `%d`, `%5.2f`, `%ld`, `%@` (in order of appearance) | printf, Objective-C | `{1}`, `{2}`… |
//! | `%1$s`, `%2$d` | printf positional | `{1}`, `{2}` |
//! | `%(name)s`, `%{name}`, `${name}`, `{name}`, `{{name}}` | Python, Ruby, JS, i18next | `{name}` |
//! | `%1`, `%L1` | Qt, KDE, Blockly | `{1}` |
//! | `$1` | MediaWiki, Chrome | `{1}` |
//! | `{0}`, `{1}`, `{0,number}` (0-based when any text of the group has `{0}`) | ICU, Java, CLDR, .NET | `{1}`, `{2}` |
//! | `{}` (in order of appearance) | Python, Rust | `{1}`, `{2}`… |
//! | `{{PLURAL:$1\|a\|b}}`, `{{GENDER:$1\|a\|b}}` | MediaWiki | the chosen form's text |
//! | `{n, plural, …}`, `{g, select, …}` | ICU MessageFormat | dropped (cannot be made plain) |
//!
//! So a placeholder is always `{` + a positive argument number or a name + `}`, and the same
//! argument has the same number in every language of a group (a translation that reorders
//! `%2$s … %1$s` keeps the numbers of the English `%s … %s`). `%%` becomes `%`. Canonical
//! text is a fixed point: cleaning it again changes nothing.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::LazyLock;

use lux_core::{Lang, Parallel, Provenance};
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::text::{collapse_whitespace, dedup_key, nfc};

/// Which cleaning steps a catalogue source applies (all on by default).
///
/// Sources embed it as their `cleaning` field: `cleaning = { accelerators = false }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogueCleaning {
    /// Resolve MediaWiki templates and links, strip inline HTML, decode entities, and drop
    /// texts with block markup or unresolvable templates.
    pub markup: bool,
    /// Drop a text with more HTML tags and links than this many per visible word.
    pub max_markup_per_word: f64,
    /// Rewrite placeholders of every format to the canonical `{1}` / `{name}` form.
    pub placeholders: bool,
    /// Strip keyboard accelerator marks (`_File`, `&File`, `(_F)`).
    pub accelerators: bool,
    /// Collapse whitespace runs (newlines included) to one space and trim.
    pub collapse_whitespace: bool,
    /// Drop texts with no letter outside placeholders (`%s`, `{1}: {2}`, `…`).
    pub drop_placeholder_only: bool,
    /// Drop code-like texts: URLs, identifiers, file names, format patterns.
    pub drop_code_like: bool,
    /// Drop a member whose text merely copies the `pivot` language's text.
    pub drop_copies: bool,
    /// The language whose copies are dropped (English: untranslated strings equal it).
    pub pivot: Lang,
    /// Fewest languages (native included) a group must keep.
    pub min_langs: usize,
    /// Merge groups whose native and pivot texts repeat an earlier group's.
    pub dedupe: bool,
}

impl Default for CatalogueCleaning {
    fn default() -> Self {
        CatalogueCleaning {
            markup: true,
            max_markup_per_word: 1.0,
            placeholders: true,
            accelerators: true,
            collapse_whitespace: true,
            drop_placeholder_only: true,
            drop_code_like: true,
            drop_copies: true,
            pivot: Lang::EN,
            min_langs: 2,
            dedupe: true,
        }
    }
}

impl CatalogueCleaning {
    /// Every step off: texts are only stored in NFC and groups only need the native language
    /// and one other.
    pub fn none() -> CatalogueCleaning {
        CatalogueCleaning {
            markup: false,
            max_markup_per_word: f64::INFINITY,
            placeholders: false,
            accelerators: false,
            collapse_whitespace: false,
            drop_placeholder_only: false,
            drop_code_like: false,
            drop_copies: false,
            pivot: Lang::EN,
            min_langs: 2,
            dedupe: false,
        }
    }
}

/// Why cleaning removed a text or a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// Nothing left after cleaning.
    Empty,
    /// No letter outside placeholders.
    PlaceholderOnly,
    /// Looks like code, a URL, an identifier or a format pattern.
    CodeLike,
    /// Block markup, or markup outweighs the text.
    Markup,
    /// A template or message construct that cannot be made plain text.
    Unresolvable,
    /// A non-pivot member that copies the pivot text.
    Copy,
    /// The group lost its native text or has too few languages.
    TooFewLanguages,
    /// The group repeats an earlier group (merged into it).
    Duplicate,
}

impl DropReason {
    /// The reason's snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Empty => "empty",
            DropReason::PlaceholderOnly => "placeholder_only",
            DropReason::CodeLike => "code_like",
            DropReason::Markup => "markup",
            DropReason::Unresolvable => "unresolvable",
            DropReason::Copy => "copy",
            DropReason::TooFewLanguages => "too_few_languages",
            DropReason::Duplicate => "duplicate",
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What [`CatalogueBuilder::build`] read and what cleaning removed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CleaningReport {
    /// Keys read (groups before cleaning).
    pub keys: usize,
    /// Texts read per language, before cleaning.
    pub texts: BTreeMap<Lang, usize>,
    /// Keys with no native text: not cleaned, no group.
    pub without_native: usize,
    /// Texts of keys with a native text removed, per reason
    /// ([`DropReason::TooFewLanguages`] and [`DropReason::Duplicate`] count groups instead).
    pub dropped: BTreeMap<DropReason, usize>,
    /// Groups written.
    pub groups: usize,
    /// Groups written that have each language.
    pub groups_with: BTreeMap<Lang, usize>,
}

impl CleaningReport {
    /// How many texts or groups were removed for `reason`.
    pub fn count(&self, reason: DropReason) -> usize {
        self.dropped.get(&reason).copied().unwrap_or(0)
    }

    /// Adds `other`'s counts to this report.
    pub fn merge(&mut self, other: &CleaningReport) {
        self.keys += other.keys;
        self.without_native += other.without_native;
        for (l, n) in &other.texts {
            *self.texts.entry(l.clone()).or_default() += n;
        }
        for (r, n) in &other.dropped {
            *self.dropped.entry(*r).or_default() += n;
        }
        self.groups += other.groups;
        for (l, n) in &other.groups_with {
            *self.groups_with.entry(l.clone()).or_default() += n;
        }
    }
}

impl fmt::Display for CleaningReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} keys, texts read", self.keys)?;
        for (l, n) in &self.texts {
            write!(f, " {l}={n}")?;
        }
        write!(
            f,
            "; {} keys without native text; dropped",
            self.without_native
        )?;
        if self.dropped.is_empty() {
            write!(f, " nothing")?;
        }
        for (r, n) in &self.dropped {
            write!(f, " {r}={n}")?;
        }
        write!(f, "; {} groups", self.groups)
    }
}

/// Collects `key → text` per language from one or more catalogues and aligns them into
/// [`Parallel`] groups.
///
/// ```
/// use lux_core::{Lang, Provenance};
/// use lux_data::catalogue::{CatalogueBuilder, CatalogueCleaning};
///
/// let mut b = CatalogueBuilder::new(Lang::LB, Provenance::new("demo", "MIT"));
/// b.insert("open", &Lang::EN, "_Open %s");
/// b.insert("open", &Lang::LB, "%s _opmaachen");
/// b.insert("ok", &Lang::EN, "OK");
/// b.insert("ok", &Lang::LB, "OK");
/// let (groups, report) = b.build(&CatalogueCleaning::default());
/// assert_eq!(groups.len(), 1);
/// assert_eq!(groups[0].get(&Lang::LB), Some("{1} opmaachen"));
/// assert_eq!(groups[0].get(&Lang::EN), Some("Open {1}"));
/// assert_eq!(report.groups, 1);
/// ```
#[derive(Debug, Clone)]
pub struct CatalogueBuilder {
    native: Lang,
    provenance: Provenance,
    groups: BTreeMap<String, Pending>,
}

#[derive(Debug, Clone, Default)]
struct Pending {
    texts: BTreeMap<Lang, String>,
    origin: Option<String>,
    license: Option<String>,
}

impl CatalogueBuilder {
    /// A builder for groups around `native`, each with (a copy of) `provenance`.
    pub fn new(native: Lang, provenance: Provenance) -> CatalogueBuilder {
        CatalogueBuilder {
            native,
            provenance,
            groups: BTreeMap::new(),
        }
    }

    /// The native language.
    pub fn native(&self) -> &Lang {
        &self.native
    }

    /// Adds `text` as `lang`'s string for `key`. Blank texts are ignored; when `key` already
    /// has a text in `lang` the first is kept and `false` is returned.
    pub fn insert(&mut self, key: &str, lang: &Lang, text: &str) -> bool {
        if text.trim().is_empty() {
            return true;
        }
        let group = match self.groups.get_mut(key) {
            Some(g) => g,
            None => self.groups.entry(key.to_string()).or_default(),
        };
        if group.texts.contains_key(lang) {
            return false;
        }
        group.texts.insert(lang.clone(), text.to_string());
        true
    }

    /// Records where `key`'s group was read from (kept on its provenance); the first call wins.
    pub fn set_origin(&mut self, key: &str, origin: impl Into<String>) {
        if let Some(g) = self.groups.get_mut(key) {
            g.origin.get_or_insert_with(|| origin.into());
        }
    }

    /// Gives `key`'s group a license other than the builder's; the first call wins.
    pub fn set_license(&mut self, key: &str, license: impl Into<String>) {
        if let Some(g) = self.groups.get_mut(key) {
            g.license.get_or_insert_with(|| license.into());
        }
    }

    /// Number of keys collected so far.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether no key was collected.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Whether `key` has a text in `lang`.
    pub fn has(&self, key: &str, lang: &Lang) -> bool {
        self.groups
            .get(key)
            .is_some_and(|g| g.texts.contains_key(lang))
    }

    /// Cleans every text and returns the kept groups, sorted by key, with what was removed.
    pub fn build(self, cleaning: &CatalogueCleaning) -> (Vec<Parallel>, CleaningReport) {
        let mut report = CleaningReport {
            keys: self.groups.len(),
            ..Default::default()
        };
        let mut out: Vec<Parallel> = Vec::new();
        let mut seen: HashMap<(String, String), usize> = HashMap::new();
        let drop = |report: &mut CleaningReport, r: DropReason| {
            *report.dropped.entry(r).or_default() += 1;
        };
        for (key, pending) in self.groups {
            for lang in pending.texts.keys() {
                *report.texts.entry(lang.clone()).or_default() += 1;
            }
            if !pending.texts.contains_key(&self.native) {
                report.without_native += 1;
                continue;
            }
            let zero_based = pending.texts.values().any(|t| has_zero_brace(t));
            let mut texts = BTreeMap::new();
            for (lang, raw) in pending.texts {
                match clean_text(&raw, cleaning, zero_based) {
                    Ok(t) => {
                        texts.insert(lang, t);
                    }
                    Err(r) => drop(&mut report, r),
                }
            }
            if cleaning.drop_code_like
                && texts.get(&cleaning.pivot).is_some_and(|t| is_code(t))
                && texts
                    .iter()
                    .all(|(l, t)| *l == cleaning.pivot || t.chars().any(char::is_lowercase))
            {
                // A pivot text like `TR` that no translation keeps is an id (a country code).
                texts.remove(&cleaning.pivot);
                drop(&mut report, DropReason::CodeLike);
            }
            if cleaning.drop_copies
                && let Some(pivot) = texts.get(&cleaning.pivot).map(|t| dedup_key(t))
            {
                let before = texts.len();
                texts.retain(|l, t| *l == cleaning.pivot || dedup_key(t) != pivot);
                for _ in texts.len()..before {
                    drop(&mut report, DropReason::Copy);
                }
            }
            if !texts.contains_key(&self.native) || texts.len() < cleaning.min_langs.max(2) {
                drop(&mut report, DropReason::TooFewLanguages);
                continue;
            }
            if cleaning.dedupe {
                let k = (
                    texts
                        .get(&self.native)
                        .map(|t| dedup_key(t))
                        .unwrap_or_default(),
                    texts
                        .get(&cleaning.pivot)
                        .map(|t| dedup_key(t))
                        .unwrap_or_default(),
                );
                if let Some(&i) = seen.get(&k) {
                    drop(&mut report, DropReason::Duplicate);
                    for (l, t) in texts {
                        out[i].texts.entry(l).or_insert(t);
                    }
                    continue;
                }
                seen.insert(k, out.len());
            }
            let mut provenance = self.provenance.clone();
            if let Some(l) = pending.license {
                provenance.license = l;
            }
            if let Some(o) = pending.origin {
                provenance.origin = Some(o);
            }
            out.push(Parallel {
                id: key,
                texts,
                provenance,
            });
        }
        report.groups = out.len();
        for g in &out {
            for l in g.texts.keys() {
                *report.groups_with.entry(l.clone()).or_default() += 1;
            }
        }
        (out, report)
    }
}

/// Whether `s` is two or three capital letters (`TR`, `DEU`): a code when no translation
/// keeps it in capitals.
fn is_code(s: &str) -> bool {
    (2..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_uppercase())
}

/// Whether `s` has a `{0}` / `{0,…}` placeholder (so its brace numbers are 0-based).
fn has_zero_brace(s: &str) -> bool {
    s.contains("{0}") || s.contains("{0,")
}

/// Cleans one catalogue text (see the module docs for the steps), or says why it is dropped.
///
/// `zero_based_braces` says that `{0}`-style placeholders count from 0 (true when any text of
/// the group has `{0}`), so that they become `{1}`, `{2}`…
pub fn clean_text(
    text: &str,
    cleaning: &CatalogueCleaning,
    zero_based_braces: bool,
) -> Result<String, DropReason> {
    let mut s = nfc(text);
    if cleaning.markup {
        s = resolve_templates(&s)?;
        let (t, links) = resolve_links(&s)?;
        let (t, tags) = strip_tags(&t)?;
        let words = crate::text::word_count(&t).max(1);
        if (links + tags) as f64 > cleaning.max_markup_per_word * words as f64 {
            return Err(DropReason::Markup);
        }
        s = t;
    }
    if cleaning.placeholders {
        s = canonical_placeholders(&s, zero_based_braces)?;
    }
    if cleaning.accelerators {
        s = strip_accelerators(&s);
    }
    if cleaning.markup {
        s = decode_entities(&s);
    }
    s = if cleaning.collapse_whitespace {
        collapse_whitespace(&s)
    } else {
        s.trim().to_string()
    };
    let s = nfc(&s);
    if s.is_empty() {
        return Err(DropReason::Empty);
    }
    if cleaning.drop_placeholder_only && !strip_placeholders(&s).chars().any(char::is_alphabetic) {
        return Err(DropReason::PlaceholderOnly);
    }
    if cleaning.drop_code_like && is_code_like(&s) {
        return Err(DropReason::CodeLike);
    }
    Ok(s)
}

// ---------------------------------------------------------------------------------------
// MediaWiki templates and links, HTML

/// Resolves `{{…}}` templates innermost first.
fn resolve_templates(s: &str) -> Result<String, DropReason> {
    if !s.contains("{{") && !s.contains("}}") {
        return Ok(s.to_string());
    }
    let mut s = s.to_string();
    loop {
        let Some(close) = s.find("}}") else {
            if s.contains("{{") {
                return Err(DropReason::Unresolvable);
            }
            return Ok(s);
        };
        let Some(open) = s[..close].rfind("{{") else {
            return Err(DropReason::Unresolvable);
        };
        let replacement = template(&s[open + 2..close])?;
        s.replace_range(open..close + 2, &replacement);
    }
}

/// The plain text of one template's inside (`PLURAL:$1|a|b`).
fn template(inner: &str) -> Result<String, DropReason> {
    let colon = inner.find(':');
    let pipe = inner.find('|');
    let (name, rest) = match colon {
        Some(c) if pipe.is_none_or(|p| c < p) => (inner[..c].trim(), Some(&inner[c + 1..])),
        _ => (inner.trim(), None),
    };
    let Some(rest) = rest else {
        if name == "!" {
            return Ok("|".to_string());
        }
        if is_identifier(name) {
            return Ok(format!("{{{name}}}"));
        }
        return Err(DropReason::Unresolvable);
    };
    let args = split_pipes(rest);
    let forms = args.get(1..).unwrap_or_default();
    match name.to_ascii_uppercase().as_str() {
        "PLURAL" => {
            let explicit = |f: &str| {
                let f = f.trim_start();
                let digits = f.bytes().take_while(u8::is_ascii_digit).count();
                digits > 0 && f[digits..].trim_start().starts_with('=')
            };
            if let Some(f) = forms.iter().rev().find(|f| !explicit(f)) {
                Ok(f.to_string())
            } else if let Some(f) = forms.last() {
                Ok(f.split_once('=').map(|(_, v)| v).unwrap_or(f).to_string())
            } else {
                Ok(String::new())
            }
        }
        "GENDER" => Ok(forms
            .get(2)
            .or(forms.first())
            .map(|f| f.to_string())
            .unwrap_or_default()),
        "GRAMMAR" => Ok(forms.first().map(|f| f.to_string()).unwrap_or_default()),
        "BIDI" => Ok(rest.to_string()),
        _ => Err(DropReason::Unresolvable),
    }
}

/// Splits template arguments at `|`, except inside `[[…]]` links.
fn split_pipes(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'[' if b.get(i + 1) == Some(&b'[') => {
                depth += 1;
                i += 1;
            }
            b']' if b.get(i + 1) == Some(&b']') => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'|' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&s[start..]);
    out
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
        && !s.ends_with(['.', '-'])
}

static WIKI_LINK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\[\[:?([^\[\]|]*)(?:\|([^\[\]]*))?\]\]").expect("valid regex"));
static EXTERNAL_LINK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\[(?:(?:https?:)?//|\$\d+|\{[^{}\s]+\})[^\s\]]*(?:\s+([^\]]*))?\]")
        .expect("valid regex")
});
static EMPHASIS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"'{2,}").expect("valid regex"));

/// Wiki links keep their label; external links `[url label]` keep the label (an unlabelled
/// external link cannot be made plain); `''`/`'''` emphasis is removed.
/// Returns the text and the number of links.
fn resolve_links(s: &str) -> Result<(String, usize), DropReason> {
    if !s.contains('[') && !s.contains("''") {
        return Ok((s.to_string(), 0));
    }
    let mut links = 0;
    let s = WIKI_LINK.replace_all(s, |c: &regex::Captures<'_>| {
        links += 1;
        c.get(2)
            .or(c.get(1))
            .map(|m| m.as_str().to_string())
            .unwrap_or_default()
    });
    let mut unlabelled = false;
    let s = EXTERNAL_LINK.replace_all(&s, |c: &regex::Captures<'_>| {
        links += 1;
        match c.get(1) {
            Some(m) if !m.as_str().trim().is_empty() => m.as_str().to_string(),
            _ => {
                unlabelled = true;
                String::new()
            }
        }
    });
    if unlabelled {
        return Err(DropReason::Unresolvable);
    }
    Ok((EMPHASIS.replace_all(&s, "").into_owned(), links))
}

static TAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"<(/?)([A-Za-z][A-Za-z0-9]*)(\s[^<>]*)?/?>").expect("valid regex")
});

/// Inline tags: removed, content kept.
const INLINE_TAGS: &[&str] = &[
    "a", "abbr", "b", "bdi", "bdo", "big", "cite", "code", "del", "dfn", "em", "font", "html", "i",
    "ins", "kbd", "mark", "nobr", "q", "qt", "s", "samp", "small", "span", "strike", "strong",
    "sub", "sup", "tt", "u", "var", "body", "center", "label", "time",
];
/// Tags that separate text: replaced by a space.
const BREAK_TAGS: &[&str] = &["br", "p", "hr", "wbr"];
/// Block tags: a text with them is markup, not a message.
const BLOCK_TAGS: &[&str] = &[
    "pre",
    "table",
    "tr",
    "td",
    "th",
    "tbody",
    "thead",
    "ul",
    "ol",
    "li",
    "dl",
    "dt",
    "dd",
    "div",
    "script",
    "style",
    "img",
    "form",
    "input",
    "select",
    "option",
    "button",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "nowiki",
    "blockquote",
    "iframe",
    "textarea",
    "head",
    "title",
    "source",
    "syntaxhighlight",
    "math",
    "ref",
    "gallery",
    "templatedata",
    "svg",
    "meta",
    "link",
    "section",
    "nav",
    "header",
    "footer",
    "article",
    "figure",
    "caption",
    "colgroup",
    "col",
    "poem",
    "code-block",
];

/// Returns the text and the number of opening (or self-closing) tags removed.
fn strip_tags(s: &str) -> Result<(String, usize), DropReason> {
    if s.contains("<!--") {
        return Err(DropReason::Markup);
    }
    if !s.contains('<') {
        return Ok((s.to_string(), 0));
    }
    let mut block = false;
    let mut tags = 0;
    let out = TAG.replace_all(s, |c: &regex::Captures<'_>| {
        let whole = c.get(0).map(|m| m.as_str()).unwrap_or_default();
        let name = c
            .get(2)
            .map(|m| m.as_str().to_ascii_lowercase())
            .unwrap_or_default();
        let closing = c.get(1).is_some_and(|m| !m.as_str().is_empty());
        if INLINE_TAGS.contains(&name.as_str()) {
            tags += usize::from(!closing);
            String::new()
        } else if BREAK_TAGS.contains(&name.as_str()) {
            tags += usize::from(!closing);
            " ".to_string()
        } else {
            if BLOCK_TAGS.contains(&name.as_str()) {
                block = true;
            }
            whole.to_string()
        }
    });
    if block {
        return Err(DropReason::Markup);
    }
    Ok((out.into_owned(), tags))
}

static ENTITY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});").expect("valid regex")
});

fn named_entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "hellip" => '…',
        "ndash" => '–',
        "mdash" => '—',
        "laquo" => '«',
        "raquo" => '»',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "bdquo" => '„',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "shy" => '\u{ad}',
        "thinsp" => '\u{2009}',
        "zwj" => '\u{200d}',
        "zwnj" => '\u{200c}',
        "lrm" => '\u{200e}',
        "rlm" => '\u{200f}',
        "times" => '×',
        "middot" => '·',
        "bull" => '•',
        "euro" => '€',
        _ => return None,
    })
}

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    ENTITY
        .replace_all(s, |c: &regex::Captures<'_>| {
            let whole = c.get(0).map(|m| m.as_str()).unwrap_or_default();
            let name = c.get(1).map(|m| m.as_str()).unwrap_or_default();
            let ch = if let Some(hex) = name.strip_prefix("#x").or(name.strip_prefix("#X")) {
                u32::from_str_radix(hex, 16).ok().and_then(char::from_u32)
            } else if let Some(dec) = name.strip_prefix('#') {
                dec.parse::<u32>().ok().and_then(char::from_u32)
            } else {
                named_entity(name)
            };
            ch.map(String::from).unwrap_or_else(|| whole.to_string())
        })
        .into_owned()
}

// ---------------------------------------------------------------------------------------
// Placeholders

const PRINTF_CONVERSIONS: &str = "diouxXeEfFgGcsp@";

/// Parses a printf conversion spec after `%` (or after `%N$`) starting at `i`: flags, width,
/// precision, length, conversion. Returns the index after it.
fn printf_spec(c: &[char], mut i: usize) -> Option<usize> {
    while i < c.len() && "-+#0".contains(c[i]) {
        i += 1;
    }
    if i < c.len() && c[i] == '*' {
        i += 1;
    } else {
        while i < c.len() && c[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i < c.len() && c[i] == '.' {
        i += 1;
        if i < c.len() && c[i] == '*' {
            i += 1;
        } else {
            let start = i;
            while i < c.len() && c[i].is_ascii_digit() {
                i += 1;
            }
            if i == start {
                return None;
            }
        }
    }
    for len in ["hh", "ll", "h", "l", "L", "q", "j", "z", "t"] {
        let n = len.len();
        if c.get(i..i + n)
            .is_some_and(|w| w.iter().copied().eq(len.chars()))
        {
            i += n;
            break;
        }
    }
    (i < c.len() && PRINTF_CONVERSIONS.contains(c[i])).then_some(i + 1)
}

/// Reads `[1-9][0-9]*` at `i`; returns the number and the index after it.
fn number_at(c: &[char], i: usize) -> Option<(u32, usize)> {
    if !c.get(i).is_some_and(|d| ('1'..='9').contains(d)) {
        return None;
    }
    let mut j = i;
    let mut n: u32 = 0;
    while j < c.len() && c[j].is_ascii_digit() && j - i < 4 {
        n = n * 10 + c[j].to_digit(10).unwrap_or(0);
        j += 1;
    }
    Some((n, j))
}

/// Reads `name` up to `close` starting at `i` when it is an identifier; returns the name and
/// the index after `close`.
fn name_until(c: &[char], i: usize, close: char) -> Option<(String, usize)> {
    let end = (i..c.len().min(i + 64)).find(|&j| c[j] == close)?;
    let name: String = c[i..end].iter().collect();
    is_identifier(&name).then_some((name, end + 1))
}

/// Rewrites every placeholder to the canonical `{N}` / `{name}` form.
fn canonical_placeholders(s: &str, zero_based_braces: bool) -> Result<String, DropReason> {
    if !s.contains(['%', '$', '{']) {
        return Ok(s.to_string());
    }
    let c: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len() + 8);
    let mut seq = 0u32;
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        let next = c.get(i + 1).copied();
        match ch {
            '%' => {
                if next == Some('%') {
                    out.push('%');
                    i += 2;
                    continue;
                }
                if next == Some('(')
                    && let Some((name, j)) = name_until(&c, i + 2, ')')
                    && let Some(k) = printf_spec(&c, j)
                {
                    out.push_str(&format!("{{{name}}}"));
                    i = k;
                    continue;
                }
                if next == Some('{')
                    && let Some((name, j)) = name_until(&c, i + 2, '}')
                {
                    out.push_str(&format!("{{{name}}}"));
                    i = j;
                    continue;
                }
                let qt_start = if next == Some('L') { i + 2 } else { i + 1 };
                if let Some((n, j)) = number_at(&c, qt_start) {
                    if c.get(j) == Some(&'$') && qt_start == i + 1 {
                        if let Some(k) = printf_spec(&c, j + 1) {
                            out.push_str(&format!("{{{n}}}"));
                            i = k;
                            continue;
                        }
                    } else if qt_start == i + 2 || printf_spec(&c, i + 1).is_none_or(|k| k <= j + 1)
                    {
                        // `%1` (Qt), and `%1d` read as `%1` + `d`; `%5.2f`, `%10ld` are printf.
                        out.push_str(&format!("{{{n}}}"));
                        i = j;
                        continue;
                    }
                }
                if let Some(k) = printf_spec(&c, i + 1) {
                    seq += 1;
                    out.push_str(&format!("{{{seq}}}"));
                    i = k;
                    continue;
                }
                out.push('%');
                i += 1;
            }
            '$' => {
                if let Some((n, j)) = number_at(&c, i + 1) {
                    out.push_str(&format!("{{{n}}}"));
                    i = j;
                } else if next == Some('{')
                    && let Some((name, j)) = name_until(&c, i + 2, '}')
                {
                    out.push_str(&format!("{{{name}}}"));
                    i = j;
                } else {
                    out.push('$');
                    i += 1;
                }
            }
            '{' => {
                let Some(end) = (i + 1..c.len()).find(|&j| c[j] == '}' || c[j] == '{') else {
                    out.push('{');
                    i += 1;
                    continue;
                };
                if c[end] == '{' {
                    // A brace inside a brace: ICU plural/select, or not a placeholder at all.
                    let inner: String = c[i + 1..end].iter().collect();
                    if inner.contains(',') {
                        return Err(DropReason::Unresolvable);
                    }
                    out.push('{');
                    i += 1;
                    continue;
                }
                let inner: String = c[i + 1..end].iter().collect();
                let head = inner.split(',').next().unwrap_or_default().trim();
                let complex = inner.contains(',') && {
                    let kind = inner.split(',').nth(1).unwrap_or_default().trim();
                    matches!(kind, "plural" | "select" | "selectordinal" | "choice")
                };
                if complex {
                    return Err(DropReason::Unresolvable);
                }
                if inner.is_empty() {
                    seq += 1;
                    out.push_str(&format!("{{{seq}}}"));
                } else if !head.is_empty() && head.bytes().all(|b| b.is_ascii_digit()) {
                    let n: u32 = head.parse().unwrap_or(0);
                    let n = if zero_based_braces { n + 1 } else { n };
                    out.push_str(&format!("{{{n}}}"));
                } else if is_identifier(head) {
                    out.push_str(&format!("{{{head}}}"));
                } else {
                    out.push_str(&format!("{{{inner}}}"));
                }
                i = end + 1;
            }
            _ => {
                out.push(ch);
                i += 1;
            }
        }
    }
    Ok(out)
}

static CANONICAL_PLACEHOLDER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{[A-Za-z0-9_.-]+\}").expect("valid regex"));

/// `s` without its canonical placeholders.
pub fn strip_placeholders(s: &str) -> String {
    CANONICAL_PLACEHOLDER.replace_all(s, " ").into_owned()
}

// ---------------------------------------------------------------------------------------
// Accelerators

static CJK_ACCELERATOR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?s)(.*?)\s*[(（][_&][\p{L}\p{N}][)）]((?:\.\.\.|…|:|：)?\s*)$")
        .expect("valid regex")
});

fn strip_accelerators(s: &str) -> String {
    let s = match CJK_ACCELERATOR.captures(s) {
        Some(c) => format!(
            "{}{}",
            c.get(1).map(|m| m.as_str()).unwrap_or_default(),
            c.get(2).map(|m| m.as_str()).unwrap_or_default()
        ),
        None => s.to_string(),
    };
    if !s.contains(['&', '_']) {
        return s;
    }
    let c: Vec<char> = s.chars().collect();
    let mnemonic = |i: usize| c.get(i + 1).is_some_and(|n| n.is_alphanumeric());
    // GTK allows one mnemonic; several `_x` mean an identifier, not a label.
    let mut underscores = Vec::new();
    let mut depth = 0usize;
    for (i, &ch) in c.iter().enumerate() {
        match ch {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            '_' if depth == 0 && mnemonic(i) && (i == 0 || c[i - 1] != '_') => underscores.push(i),
            _ => {}
        }
    }
    let strip_underscore = (underscores.len() == 1).then(|| underscores[0]);
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        match ch {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth == 0 && ch == '&' {
            if c.get(i + 1) == Some(&'&') {
                out.push('&');
                i += 2;
                continue;
            }
            let rest: String = c[i..c.len().min(i + 12)].iter().collect();
            if ENTITY.find(&rest).is_some_and(|m| m.start() == 0) {
                out.push('&');
                i += 1;
                continue;
            }
            if mnemonic(i) {
                i += 1;
                continue;
            }
        }
        if Some(i) == strip_underscore {
            i += 1;
            continue;
        }
        out.push(ch);
        i += 1;
    }
    out
}

// ---------------------------------------------------------------------------------------
// Code-like texts

static URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:(?:https?|ftp)://|www\.)\S+|\bmailto:\S+").expect("valid regex")
});
static DOTTED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[\w.-]*[a-z0-9]{2,}\.[a-z][a-z0-9]{1,5}$").expect("valid regex")
});
static OPTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^--?[a-z][a-z0-9-]*[a-z0-9]$").expect("valid regex"));
static ADMIN_CODE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Z0-9]{1,3}(?:\.[A-Z0-9]+)+$").expect("valid regex"));
static CAMEL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z]+[A-Z][A-Za-z]*[a-z]").expect("valid regex"));
static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\w@\w[\w-]*\.\w").expect("valid regex"));

/// Whether a cleaned text looks like code rather than a message (see the module docs).
pub fn is_code_like(s: &str) -> bool {
    let t = strip_placeholders(s);
    if URL.is_match(&t) && !URL.replace_all(&t, " ").chars().any(char::is_alphabetic) {
        return true;
    }
    let trimmed = t.trim().trim_end_matches(['.', ':', '!', '?', '…']);
    let one_token = !trimmed.contains(char::is_whitespace) && !trimmed.is_empty();
    if one_token
        && (trimmed.contains('_')
            || trimmed.contains("::")
            || trimmed.contains("()")
            || trimmed.contains("->")
            || trimmed.contains('=')
            || trimmed.contains('\\')
            || trimmed.starts_with('/')
            || trimmed.starts_with("~/")
            || trimmed.matches('/').count() >= 2
            || OPTION.is_match(s.trim())
            || (trimmed.starts_with('#')
                && trimmed.len() > 3
                && trimmed[1..].bytes().all(|b| b.is_ascii_hexdigit()))
            || DOTTED.is_match(trimmed)
            || CAMEL.is_match(trimmed)
            || EMAIL.is_match(trimmed)
            || ADMIN_CODE.is_match(trimmed))
    {
        return true;
    }
    let mut letters = 0usize;
    let mut symbols = 0usize;
    for ch in t.chars() {
        if ch.is_alphabetic() {
            letters += 1;
        } else if !(ch.is_whitespace()
            || ch.is_numeric()
            || ".,;:!?'\"()-–—…«»„“”‘’‚‹›¿¡·/&+%".contains(ch))
        {
            symbols += 1;
        }
    }
    let percent = t.matches('%').count();
    symbols += if percent > 1 { percent } else { 0 };
    letters > 0 && symbols * 10 > (symbols + letters) * 4
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(s: &str) -> Result<String, DropReason> {
        clean_text(s, &CatalogueCleaning::default(), false)
    }

    #[test]
    fn accelerators_are_stripped() {
        assert_eq!(clean("_File").unwrap(), "File");
        assert_eq!(clean("Save _As…").unwrap(), "Save As…");
        assert_eq!(clean("Ö_ffnen").unwrap(), "Öffnen");
        assert_eq!(clean("&File").unwrap(), "File");
        assert_eq!(clean("Save &As...").unwrap(), "Save As...");
        assert_eq!(clean("Drag && Drop").unwrap(), "Drag & Drop");
        assert_eq!(clean("Tom &amp; Jerry").unwrap(), "Tom & Jerry");
        assert_eq!(clean("Tom & Jerry").unwrap(), "Tom & Jerry");
        assert_eq!(clean("ファイル(_F)").unwrap(), "ファイル");
        assert_eq!(clean("打开(&O)...").unwrap(), "打开...");
        assert_eq!(clean("Datei (_D):").unwrap(), "Datei:");
        // Several `_x`: not a mnemonic; the identifier is then code-like.
        assert_eq!(clean("user_name_field"), Err(DropReason::CodeLike));
        // Placeholder names keep their underscores.
        assert_eq!(
            clean("Hello %(user_name)s, _welcome").unwrap(),
            "Hello {user_name}, welcome"
        );
        let off = CatalogueCleaning {
            accelerators: false,
            ..Default::default()
        };
        assert_eq!(clean_text("Save _As", &off, false).unwrap(), "Save _As");
    }

    #[test]
    fn placeholders_become_canonical() {
        let p = |s: &str| canonical_placeholders(s, false).unwrap();
        assert_eq!(p("Delete %s?"), "Delete {1}?");
        assert_eq!(p("%d of %d files"), "{1} of {2} files");
        assert_eq!(p("%2$s in %1$s"), "{2} in {1}");
        assert_eq!(p("%5.2f%% done, %-10ld left"), "{1}% done, {2} left");
        assert_eq!(p("Hello %(name)s"), "Hello {name}");
        assert_eq!(p("Hello %{name} and ${other}"), "Hello {name} and {other}");
        assert_eq!(p("Page %1 of %2, %L3 bytes"), "Page {1} of {2}, {3} bytes");
        assert_eq!(p("Delete page $1 by $2?"), "Delete page {1} by {2}?");
        assert_eq!(p("Hello {name}, {}"), "Hello {name}, {1}");
        assert_eq!(p("Price: $ 5, 100% sure"), "Price: $ 5, 100% sure");
        assert_eq!(
            canonical_placeholders("{0} of {1}", true).unwrap(),
            "{1} of {2}"
        );
        assert_eq!(
            canonical_placeholders("{0,number} items", true).unwrap(),
            "{1} items"
        );
        assert_eq!(p("{1} of {2}"), "{1} of {2}");
        assert_eq!(
            canonical_placeholders("{count, plural, one {# item} other {# items}}", false),
            Err(DropReason::Unresolvable)
        );
        // Canonical text is a fixed point.
        let once = clean("Copy %s to %s (%d%%)").unwrap();
        assert_eq!(once, "Copy {1} to {2} ({3}%)");
        assert_eq!(clean(&once).unwrap(), once);
    }

    #[test]
    fn zero_based_braces_are_decided_per_group() {
        let mut b = CatalogueBuilder::new(Lang::LB, Provenance::new("t", "MIT"));
        b.insert("k", &Lang::EN, "{0} and {1} hours");
        b.insert("k", &Lang::LB, "{1} an {0} Stonnen");
        b.insert("only1", &Lang::EN, "{1} day");
        b.insert("only1", &Lang::LB, "{1} Dag");
        let (g, _) = b.build(&CatalogueCleaning::default());
        assert_eq!(g[0].get(&Lang::EN), Some("{1} and {2} hours"));
        assert_eq!(g[0].get(&Lang::LB), Some("{2} an {1} Stonnen"));
        assert_eq!(g[1].get(&Lang::LB), Some("{1} Dag"));
    }

    #[test]
    fn mediawiki_syntax_is_resolved() {
        assert_eq!(
            clean("{{PLURAL:$1|Category|Categories}}").unwrap(),
            "Categories"
        );
        assert_eq!(
            clean("The following {{PLURAL:$1|subcategory|$1 subcategories}} of $2.").unwrap(),
            "The following {1} subcategories of {2}."
        );
        assert_eq!(
            clean("{{PLURAL:$1|0=none|one file|$1 files}}").unwrap(),
            "{1} files"
        );
        assert_eq!(
            clean("{{GENDER:$1|Dësem Benotzer|Dëser Benotzerin}} schécken").unwrap(),
            "Dësem Benotzer schécken"
        );
        assert_eq!(
            clean("{{GENDER:$1|he|she|they}} edited").unwrap(),
            "they edited"
        );
        assert_eq!(clean("About {{SITENAME}}").unwrap(), "About {SITENAME}");
        assert_eq!(
            clean("You have {{count}} messages").unwrap(),
            "You have {count} messages"
        );
        assert_eq!(
            clean("See {{int:specialpages}} now"),
            Err(DropReason::Unresolvable)
        );
        assert_eq!(clean("Broken {{PLURAL:$1|a"), Err(DropReason::Unresolvable));
        assert_eq!(
            clean("See [[Special:Version|version page]] and [[Help]].").unwrap(),
            "See version page and Help."
        );
        assert_eq!(
            clean("{{PLURAL:$1|one [[Special:X|link]]|many [[Special:X|links]]}} here").unwrap(),
            "many links here"
        );
        assert_eq!(
            clean("Read [https://example.org the manual] first").unwrap(),
            "Read the manual first"
        );
        assert_eq!(
            clean("Read [$1 the manual] first").unwrap(),
            "Read the manual first"
        );
        assert_eq!(
            clean("Read [https://example.org] first"),
            Err(DropReason::Unresolvable)
        );
        assert_eq!(
            clean("Show '''bold''' and ''italic'' text").unwrap(),
            "Show bold and italic text"
        );
    }

    #[test]
    fn html_is_stripped_or_dropped() {
        assert_eq!(
            clean("<strong>Warning:</strong> the file <code>$1</code> exists.<br />Really?")
                .unwrap(),
            "Warning: the file {1} exists. Really?"
        );
        assert_eq!(
            clean("<span class=\"x\">Hello</span> world").unwrap(),
            "Hello world"
        );
        assert_eq!(clean("<none>").unwrap(), "<none>");
        assert_eq!(clean("<b>Commands</b>").unwrap(), "Commands");
        assert_eq!(
            clean("1 &lt; 2 &#8230; &quot;ok&quot;").unwrap(),
            "1 < 2 … \"ok\""
        );
        assert_eq!(clean("<ul><li>One item</li></ul>"), Err(DropReason::Markup));
        assert_eq!(clean("<!-- comment --> text"), Err(DropReason::Markup));
        assert_eq!(
            clean("<b><i><span>x</span></i></b>"),
            Err(DropReason::Markup)
        );
        let off = CatalogueCleaning {
            markup: false,
            ..Default::default()
        };
        assert_eq!(
            clean_text("<b>Bold</b> text", &off, false).unwrap(),
            "<b>Bold</b> text"
        );
    }

    #[test]
    fn placeholder_only_and_code_like_are_dropped() {
        assert_eq!(clean("%s"), Err(DropReason::PlaceholderOnly));
        assert_eq!(clean("%s: %s"), Err(DropReason::PlaceholderOnly));
        assert_eq!(clean("{0} – {1}"), Err(DropReason::PlaceholderOnly));
        assert_eq!(clean("…"), Err(DropReason::PlaceholderOnly));
        assert_eq!(clean("12:00"), Err(DropReason::PlaceholderOnly));
        assert_eq!(clean("   "), Err(DropReason::Empty));
        for code in [
            "https://www.mediawiki.org/wiki/Help:Contents",
            "file.txt",
            "fooBar",
            "--help",
            "admin@example.org",
            "/usr/share/geany",
            "Foo::bar()",
            "#ff00aa",
            "DE.01",
            "%Y-%m-%d %H:%M",
            "[a-z0-9]+ <> ==",
        ] {
            assert_eq!(clean(code), Err(DropReason::CodeLike), "{code}");
        }
        for text in [
            "-standard-",
            "{{SITENAME}}-Benotzer",
            "translatewiki.net-Iwwersetzer",
            "E-Mail",
            "On/Off",
            "z.B. Dateien",
            "YouTube",
            "Weider…",
            "km/h",
            "Page {1}",
        ] {
            assert!(clean(text).is_ok(), "{text}");
        }
        let off = CatalogueCleaning {
            drop_code_like: false,
            drop_placeholder_only: false,
            ..Default::default()
        };
        assert_eq!(clean_text("file.txt", &off, false).unwrap(), "file.txt");
        assert_eq!(clean_text("%s", &off, false).unwrap(), "{1}");
    }

    #[test]
    fn whitespace_and_nfc() {
        assert_eq!(clean("  Moien\n\n  Welt\t! ").unwrap(), "Moien Welt !");
        assert_eq!(clean("We\u{301}lt").unwrap(), "W\u{e9}lt");
        let off = CatalogueCleaning {
            collapse_whitespace: false,
            ..Default::default()
        };
        assert_eq!(clean_text(" a\n b ", &off, false).unwrap(), "a\n b");
    }

    fn builder() -> CatalogueBuilder {
        CatalogueBuilder::new(Lang::LB, Provenance::new("test", "MIT"))
    }

    #[test]
    fn copies_of_english_are_removed_and_groups_need_native_plus_one() {
        let mut b = builder();
        b.insert("a", &Lang::EN, "Open file");
        b.insert("a", &Lang::LB, "Fichier opmaachen");
        b.insert("a", &Lang::DE, "Open File"); // a copy: removed
        b.insert("a", &Lang::FR, "Ouvrir le fichier");
        b.insert("b", &Lang::EN, "OK");
        b.insert("b", &Lang::LB, "OK"); // copy: group loses its native text
        b.insert("b", &Lang::DE, "Gut");
        b.insert("c", &Lang::LB, "Nëmmen lb");
        b.insert("d", &Lang::DE, "Nur Deutsch");
        b.insert("d", &Lang::EN, "Only German");
        let (g, r) = b.build(&CatalogueCleaning::default());
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].id, "a");
        assert_eq!(
            g[0].texts.keys().cloned().collect::<Vec<_>>(),
            [Lang::EN, Lang::FR, Lang::LB]
        );
        assert_eq!(r.count(DropReason::Copy), 2);
        assert_eq!(r.count(DropReason::TooFewLanguages), 2);
        assert_eq!(r.without_native, 1);
        assert_eq!(r.keys, 4);
        assert_eq!(r.texts.get(&Lang::LB), Some(&3));
        assert_eq!(r.groups_with.get(&Lang::FR), Some(&1));

        let mut b = builder();
        b.insert("b", &Lang::EN, "OK");
        b.insert("b", &Lang::LB, "OK");
        let keep = CatalogueCleaning {
            drop_copies: false,
            ..Default::default()
        };
        assert_eq!(b.build(&keep).0.len(), 1);
    }

    #[test]
    fn capital_codes_are_not_english() {
        let mut b = builder();
        b.insert("geo/TR", &Lang::EN, "TR");
        b.insert("geo/TR", &Lang::LB, "Tierkei");
        b.insert("geo/TR", &Lang::DE, "Türkei");
        b.insert("ok", &Lang::EN, "PDF");
        b.insert("ok", &Lang::LB, "PDF-Fichier");
        b.insert("ok", &Lang::DE, "PDF");
        let (g, r) = b.build(&CatalogueCleaning::default());
        assert_eq!(g[0].get(&Lang::EN), None);
        assert_eq!(g[0].get(&Lang::DE), Some("Türkei"));
        assert_eq!(g[1].get(&Lang::EN), Some("PDF"));
        assert_eq!(r.count(DropReason::CodeLike), 1);
    }

    #[test]
    fn min_langs_is_respected() {
        let mut b = builder();
        b.insert("a", &Lang::EN, "Open");
        b.insert("a", &Lang::LB, "Opmaachen");
        b.insert("b", &Lang::EN, "Close");
        b.insert("b", &Lang::LB, "Zoumaachen");
        b.insert("b", &Lang::DE, "Schließen");
        let c = CatalogueCleaning {
            min_langs: 3,
            ..Default::default()
        };
        let (g, _) = b.build(&c);
        assert_eq!(g.iter().map(|g| g.id.as_str()).collect::<Vec<_>>(), ["b"]);
    }

    #[test]
    fn duplicates_merge_into_the_first_group() {
        let mut b = builder();
        b.insert("x/1", &Lang::EN, "_Save");
        b.insert("x/1", &Lang::LB, "_Späicheren");
        b.insert("y/2", &Lang::EN, "&Save");
        b.insert("y/2", &Lang::LB, "&Späicheren");
        b.insert("y/2", &Lang::FR, "Enregistrer");
        let (g, r) = b.build(&CatalogueCleaning::default());
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].id, "x/1");
        assert_eq!(g[0].get(&Lang::FR), Some("Enregistrer"));
        assert_eq!(r.count(DropReason::Duplicate), 1);

        let mut b = builder();
        b.insert("x/1", &Lang::EN, "Save");
        b.insert("x/1", &Lang::LB, "Späicheren");
        b.insert("y/2", &Lang::EN, "Save");
        b.insert("y/2", &Lang::LB, "Späicheren");
        let c = CatalogueCleaning {
            dedupe: false,
            ..Default::default()
        };
        assert_eq!(b.build(&c).0.len(), 2);
    }

    #[test]
    fn provenance_origin_and_license_per_group() {
        let mut b = builder();
        assert!(b.insert("a", &Lang::EN, "Open"));
        assert!(!b.insert("a", &Lang::EN, "Other"));
        b.insert("a", &Lang::LB, "Opmaachen");
        b.set_origin("a", "lb/a.mo");
        b.set_origin("a", "later.mo");
        b.set_license("a", "GPL-2.0-or-later");
        b.insert("b", &Lang::EN, "Close");
        b.insert("b", &Lang::LB, "Zoumaachen");
        assert!(b.has("a", &Lang::LB) && !b.has("a", &Lang::FR));
        let (g, r) = b.build(&CatalogueCleaning::default());
        assert_eq!(g[0].get(&Lang::EN), Some("Open"));
        assert_eq!(g[0].provenance.origin.as_deref(), Some("lb/a.mo"));
        assert_eq!(g[0].provenance.license, "GPL-2.0-or-later");
        assert_eq!(g[1].provenance.license, "MIT");
        assert_eq!(g[1].provenance.origin, None);
        assert!(r.to_string().contains("2 groups"));
    }

    #[test]
    fn cleaning_config_deserialises_with_defaults() {
        let c: CatalogueCleaning = toml::from_str("accelerators = false\npivot = \"fr\"").unwrap();
        assert!(!c.accelerators && c.placeholders && c.pivot == Lang::FR);
        assert!(toml::from_str::<CatalogueCleaning>("nope = 1").is_err());
        let none = CatalogueCleaning::none();
        assert_eq!(clean_text(" _x %s ", &none, false).unwrap(), "_x %s");
    }
}

/// The native language and the languages a catalogue source reads: its own `native` and
/// `langs`, else the run's ([`lux_core::SourceContext`]: `lux corpus` gives its native,
/// instruction and neighbour languages), else Luxembourgish with en, de and fr (lux's first
/// language, for a source read outside a run). `langs` must contain the native language.
pub(crate) fn source_langs(
    native: Option<&Lang>,
    langs: &[Lang],
    ctx: &lux_core::SourceContext,
) -> lux_core::Result<(Lang, Vec<Lang>)> {
    let native = native.or(ctx.native.as_ref()).cloned().unwrap_or(Lang::LB);
    let langs = if !langs.is_empty() {
        langs.to_vec()
    } else if !ctx.langs.is_empty() {
        ctx.langs.clone()
    } else {
        vec![Lang::EN, native.clone(), Lang::DE, Lang::FR]
    };
    if !langs.contains(&native) {
        return Err(lux_core::Error::invalid(
            "langs",
            format!("must contain the native language `{native}`"),
        ));
    }
    Ok((native, langs))
}

#[cfg(test)]
mod source_langs_tests {
    use super::*;
    use lux_core::SourceContext;

    #[test]
    fn a_sources_languages_are_its_own_else_the_runs_else_luxembourgish() {
        let fo = Lang::new("fo").unwrap();
        let is = Lang::new("is").unwrap();
        let run = SourceContext::new(".")
            .with_native(fo.clone())
            .with_langs(vec![fo.clone(), Lang::EN, is.clone()]);
        assert_eq!(
            source_langs(None, &[], &run).unwrap(),
            (fo.clone(), vec![fo.clone(), Lang::EN, is.clone()])
        );
        let own = [Lang::LB, Lang::DE];
        assert_eq!(
            source_langs(Some(&Lang::LB), &own, &run).unwrap(),
            (Lang::LB, own.to_vec())
        );
        let bare = SourceContext::new(".");
        assert_eq!(
            source_langs(None, &[], &bare).unwrap(),
            (Lang::LB, vec![Lang::EN, Lang::LB, Lang::DE, Lang::FR])
        );
        let e = source_langs(Some(&fo), &[Lang::EN], &bare)
            .unwrap_err()
            .to_string();
        assert!(e.contains("langs") && e.contains("`fo`"), "{e}");
    }
}
