//! Language identification: a multinomial naive Bayes classifier over character n-grams.
//!
//! ```
//! use lux_core::Lang;
//! use lux_data::langid::{LangId, LangIdConfig};
//!
//! let samples = [
//!     (Lang::LB, "Ech si gëschter mat menge Frënn an d'Stad gefuer."),
//!     (Lang::LB, "D'Kanner spillen all Nomëtteg am Gaart."),
//!     (Lang::DE, "Ich bin gestern mit meinen Freunden in die Stadt gefahren."),
//!     (Lang::DE, "Die Kinder spielen jeden Nachmittag im Garten."),
//! ];
//! let model = LangId::train(samples, LangIdConfig::default()).unwrap();
//! let (lang, p) = model.best("Ech hunn d'Kanner am Gaart gesinn.").unwrap();
//! assert_eq!(lang, Lang::LB);
//! assert!(p > 0.5);
//! ```
//!
//! # Why this design
//!
//! Texts are NFC-normalised and lower-cased; every run of letters (and apostrophes, so that
//! Luxembourgish `d'`, `'t` and French `l'` stay visible) is a word, padded with a space on
//! each side, and contributes its character n-grams for n in `min_n..=max_n` (1..=5 by
//! default): ` d'`, `ech `, `ë`, ` gëtt`. Each language is a multinomial over the n-grams of
//! each order, estimated from counts with additive (Lidstone) smoothing; a text's score for a
//! language is the sum of its n-grams' log-probabilities, with a uniform prior (the training
//! corpus's language mix says nothing about the data being filtered).
//!
//! Naive Bayes over character n-grams is the classic choice for short-text language
//! identification (Cavnar & Trenkle's TextCat, langid.py, CLD's quadgrams): it needs only a
//! few thousand sentences per language, which is what a low-resource language has in
//! localisation catalogues; it trains in one pass; and it separates close pairs such as
//! Luxembourgish and German through exactly the cues that tell them apart: letters
//! (`ë`, `é` in `léiert`), short function words (` ech `, ` net `, ` mat `, ` huet `,
//! ` gëtt `, ` d'`), and spellings (`-ung` vs `-ong`, `sch`/`sh`). A discriminative model
//! would need more data for little gain, and a neural one would not be fast.
//!
//! For speed the model is compiled into one hash table from a 64-bit hash of each n-gram
//! (computed from the characters, without allocating strings) to a row of per-language
//! log-probabilities; identifying a text is one table look-up per n-gram. N-grams unseen in
//! every language are skipped. Saved models keep the n-grams as readable strings with their
//! counts, so a model does not depend on the hash function.
//!
//! The probabilities returned are a softmax over the log-likelihoods divided by the number
//! of n-gram orders: every character takes part in up to `max_n - min_n + 1` overlapping
//! n-grams, which are far from independent, and counting each character's evidence about once
//! keeps short texts from getting absurdly confident probabilities. They remain
//! over-confident for long texts; treat them as a ranking with a rough confidence, not as
//! calibrated probabilities.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::{self, Write as _};
use std::hash::{BuildHasherDefault, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use lux_core::{Error, IoContext, Lang, Parallel, Result, fs, rng};
use serde::{Deserialize, Serialize};
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

use crate::text::dedup_key;

/// Format name written into saved models.
const FORMAT: &str = "lux-langid/1";

/// Longest n-gram order a model may use.
const MAX_ORDER: usize = 8;

/// Settings of a [`LangId`] model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LangIdConfig {
    /// Shortest n-gram, in characters (the padding spaces around a word count).
    #[serde(default = "default_min_n")]
    pub min_n: usize,
    /// Longest n-gram, in characters (at most 8).
    #[serde(default = "default_max_n")]
    pub max_n: usize,
    /// Additive smoothing: each n-gram's count is increased by this before normalising.
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Most frequent n-grams kept per language (0 keeps all): bounds the model's size.
    #[serde(default = "default_max_ngrams")]
    pub max_ngrams_per_lang: usize,
    /// Only the first this many characters of a text are looked at (0 looks at all): a
    /// thousand characters decide the language as well as a whole article does.
    #[serde(default = "default_max_chars")]
    pub max_chars: usize,
}

fn default_min_n() -> usize {
    1
}
fn default_max_n() -> usize {
    5
}
fn default_alpha() -> f64 {
    0.1
}
fn default_max_ngrams() -> usize {
    200_000
}
fn default_max_chars() -> usize {
    1000
}

impl Default for LangIdConfig {
    fn default() -> Self {
        LangIdConfig {
            min_n: default_min_n(),
            max_n: default_max_n(),
            alpha: default_alpha(),
            max_ngrams_per_lang: default_max_ngrams(),
            max_chars: default_max_chars(),
        }
    }
}

impl LangIdConfig {
    /// Checks the ranges of the settings.
    pub fn validate(&self) -> Result<()> {
        if self.min_n == 0 || self.min_n > self.max_n || self.max_n > MAX_ORDER {
            return Err(Error::invalid(
                "langid.min_n/max_n",
                format!(
                    "need 1 <= min_n <= max_n <= {MAX_ORDER}, got min_n = {}, max_n = {}",
                    self.min_n, self.max_n
                ),
            ));
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err(Error::invalid(
                "langid.alpha",
                format!("must be a positive number, got {}", self.alpha),
            ));
        }
        Ok(())
    }

    fn orders(&self) -> usize {
        self.max_n - self.min_n + 1
    }
}

/// The n-gram counts of one language: what a saved model stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The language.
    pub lang: Lang,
    /// Number of texts it was trained on.
    pub samples: u64,
    /// N-gram (with `' '` marking word boundaries) → count.
    pub ngrams: BTreeMap<String, u32>,
}

/// The file format of [`LangId::save`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedModel {
    format: String,
    config: LangIdConfig,
    profiles: Vec<Profile>,
}

/// Passes 64-bit n-gram hashes through unchanged: they are already well mixed.
#[derive(Default)]
struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type FeatureIndex = HashMap<u64, u32, BuildHasherDefault<IdentityHasher>>;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The hash of an n-gram given as characters; the same as [`for_each_ngram`] computes.
fn ngram_key(chars: impl Iterator<Item = char>) -> u64 {
    let mut h = FNV_OFFSET;
    for c in chars {
        h = (h ^ u64::from(c)).wrapping_mul(FNV_PRIME);
    }
    rng::splitmix(h)
}

/// Whether a whitespace-separated token is a URL, a domain or an e-mail address, whose
/// letters say nothing about the language around them.
fn is_address(token: &str) -> bool {
    token.contains("://")
        || token.starts_with("www.")
        || token.contains("www.")
        || (token.contains('@') && token.contains('.'))
}

/// Lower-cased NFC text with letters and apostrophes kept and everything else (URLs and
/// e-mail addresses included) turned into spaces, so that splitting on `' '` gives the
/// words. `max_chars == 0` keeps all.
fn normalize(text: &str, max_chars: usize) -> String {
    let text = match text.char_indices().nth(max_chars) {
        Some((end, _)) if max_chars > 0 => &text[..end],
        _ => text,
    };
    let text: std::borrow::Cow<'_, str> = if is_nfc_quick(text.chars()) == IsNormalized::Yes {
        text.into()
    } else {
        text.nfc().collect::<String>().into()
    };
    let mut out = String::with_capacity(text.len() + 2);
    for token in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        if is_address(token) {
            continue;
        }
        for c in token.chars() {
            if c.is_alphabetic() {
                if c.is_lowercase() || !c.is_uppercase() {
                    out.push(c);
                } else {
                    out.extend(c.to_lowercase());
                }
            } else if matches!(c, '\'' | '’' | 'ʼ' | '`' | '´') {
                out.push('\'');
            } else {
                out.push(' ');
            }
        }
    }
    out
}

/// Calls `f(hash, chars)` for every n-gram (`min_n..=max_n`) of every padded word of a
/// [`normalize`]d text. The lone padding space is not an n-gram.
fn for_each_ngram(
    normalized: &str,
    min_n: usize,
    max_n: usize,
    buf: &mut Vec<char>,
    mut f: impl FnMut(u64, &[char]),
) {
    for word in normalized.split(' ') {
        if word.is_empty() || word.bytes().all(|b| b == b'\'') {
            continue;
        }
        buf.clear();
        buf.push(' ');
        buf.extend(word.chars());
        buf.push(' ');
        for i in 0..buf.len() {
            let mut h = FNV_OFFSET;
            for n in 1..=max_n.min(buf.len() - i) {
                h = (h ^ u64::from(buf[i + n - 1])).wrapping_mul(FNV_PRIME);
                if n >= min_n && !(n == 1 && buf[i] == ' ') {
                    f(rng::splitmix(h), &buf[i..i + n]);
                }
            }
        }
    }
}

/// A trained language identifier (see the [module docs](self) for the model).
///
/// Cheap to share: identification takes `&self` and allocates only a few small buffers.
#[derive(Clone)]
pub struct LangId {
    config: LangIdConfig,
    profiles: Vec<Profile>,
    langs: Vec<Lang>,
    /// N-gram hash → row in `rows`.
    index: FeatureIndex,
    /// `langs.len()` log-probabilities per known n-gram.
    rows: Vec<f32>,
}

impl fmt::Debug for LangId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LangId")
            .field("langs", &self.langs)
            .field("ngrams", &self.index.len())
            .field("config", &self.config)
            .finish()
    }
}

impl LangId {
    /// Trains a model from `(language, text)` samples; the model knows the languages that
    /// occur in them. Errors when the settings are out of range or no sample has a letter.
    pub fn train<I, S>(samples: I, config: LangIdConfig) -> Result<LangId>
    where
        I: IntoIterator<Item = (Lang, S)>,
        S: AsRef<str>,
    {
        config.validate()?;
        let mut counts: BTreeMap<Lang, (u64, HashMap<u64, u32>)> = BTreeMap::new();
        let mut names: HashMap<u64, String> = HashMap::new();
        let mut buf = Vec::new();
        for (lang, text) in samples {
            let normalized = normalize(text.as_ref(), 0);
            let (n_samples, table) = counts.entry(lang).or_default();
            *n_samples += 1;
            for_each_ngram(
                &normalized,
                config.min_n,
                config.max_n,
                &mut buf,
                |key, chars| {
                    let c = table.entry(key).or_insert(0);
                    *c = c.saturating_add(1);
                    names.entry(key).or_insert_with(|| chars.iter().collect());
                },
            );
        }
        let profiles = counts
            .into_iter()
            .filter(|(_, (_, table))| !table.is_empty())
            .map(|(lang, (samples, table))| {
                let mut ngrams: Vec<(&String, u32)> =
                    table.iter().map(|(k, &c)| (&names[k], c)).collect();
                ngrams.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
                if config.max_ngrams_per_lang > 0 {
                    ngrams.truncate(config.max_ngrams_per_lang);
                }
                let ngrams = ngrams.into_iter().map(|(g, c)| (g.clone(), c)).collect();
                Profile {
                    lang,
                    samples,
                    ngrams,
                }
            })
            .collect();
        LangId::compile(config, profiles)
    }

    /// Builds the look-up table from per-language counts.
    fn compile(config: LangIdConfig, mut profiles: Vec<Profile>) -> Result<LangId> {
        config.validate()?;
        profiles.sort_by(|a, b| a.lang.cmp(&b.lang));
        if profiles.is_empty() {
            return Err(Error::invalid(
                "langid",
                "no training text with letters in it: a model needs at least one language",
            ));
        }
        if let Some(w) = profiles.windows(2).find(|w| w[0].lang == w[1].lang) {
            return Err(Error::invalid(
                "langid",
                format!("language `{}` occurs twice", w[0].lang),
            ));
        }
        let orders = config.orders();
        let n_langs = profiles.len();
        // Pass 1: totals per (language, order) and vocabulary size per order.
        let mut totals = vec![0f64; n_langs * orders];
        let mut vocab: Vec<HashSet<u64>> = vec![HashSet::new(); orders];
        let mut keyed: Vec<Vec<(u64, usize, u32)>> = Vec::with_capacity(n_langs);
        for (l, p) in profiles.iter().enumerate() {
            let mut rows = Vec::with_capacity(p.ngrams.len());
            for (g, &c) in &p.ngrams {
                let n = g.chars().count();
                if n < config.min_n || n > config.max_n || g.trim().is_empty() {
                    return Err(Error::invalid(
                        "langid",
                        format!(
                            "n-gram {g:?} of `{}` is not of length {}..={}",
                            p.lang, config.min_n, config.max_n
                        ),
                    ));
                }
                let o = n - config.min_n;
                let key = ngram_key(g.chars());
                totals[l * orders + o] += f64::from(c);
                vocab[o].insert(key);
                rows.push((key, o, c));
            }
            keyed.push(rows);
        }
        let alpha = config.alpha;
        let denom = |l: usize, o: usize| totals[l * orders + o] + alpha * vocab[o].len() as f64;
        let unseen: Vec<f32> = (0..n_langs * orders)
            .map(|i| (alpha / denom(i / orders, i % orders)).ln() as f32)
            .collect();
        // Pass 2: one row of log-probabilities per distinct n-gram.
        let mut index = FeatureIndex::default();
        let mut rows: Vec<f32> = Vec::new();
        for (l, entries) in keyed.iter().enumerate() {
            for &(key, o, c) in entries {
                let row = *index.entry(key).or_insert_with(|| {
                    let r = (rows.len() / n_langs) as u32;
                    rows.extend((0..n_langs).map(|m| unseen[m * orders + o]));
                    r
                }) as usize;
                rows[row * n_langs + l] = ((f64::from(c) + alpha) / denom(l, o)).ln() as f32;
            }
        }
        let langs = profiles.iter().map(|p| p.lang.clone()).collect();
        Ok(LangId {
            config,
            profiles,
            langs,
            index,
            rows,
        })
    }

    /// The languages the model tells apart, sorted by code.
    pub fn languages(&self) -> &[Lang] {
        &self.langs
    }

    /// The settings the model was trained with.
    pub fn config(&self) -> &LangIdConfig {
        &self.config
    }

    /// The per-language n-gram counts the model was compiled from.
    pub fn profiles(&self) -> &[Profile] {
        &self.profiles
    }

    /// Whether the model knows `lang` (exactly, or by primary subtag: `lb-LU` ~ `lb`).
    pub fn knows(&self, lang: &Lang) -> bool {
        self.langs.iter().any(|l| same_lang(l, lang))
    }

    /// Scaled log-likelihood per language, or `None` when no n-gram of the text is known.
    fn scores(&self, text: &str) -> Option<Vec<f64>> {
        let normalized = normalize(text, self.config.max_chars);
        let n = self.langs.len();
        let mut scores = vec![0f64; n];
        let mut hits = 0usize;
        let mut buf = Vec::with_capacity(32);
        for_each_ngram(
            &normalized,
            self.config.min_n,
            self.config.max_n,
            &mut buf,
            |key, _| {
                if let Some(&row) = self.index.get(&key) {
                    let row = &self.rows[row as usize * n..(row as usize + 1) * n];
                    for (s, &v) in scores.iter_mut().zip(row) {
                        *s += f64::from(v);
                    }
                    hits += 1;
                }
            },
        );
        if hits == 0 {
            return None;
        }
        let scale = 1.0 / self.config.orders() as f64;
        let max = scores
            .iter()
            .fold(f64::NEG_INFINITY, |m, &s| m.max(s * scale));
        let mut sum = 0.0;
        for s in &mut scores {
            *s = (*s * scale - max).exp();
            sum += *s;
        }
        for s in &mut scores {
            *s /= sum;
        }
        Some(scores)
    }

    /// Every language with its probability, most probable first (ties by code); the
    /// probabilities sum to 1. Empty when the text has no n-gram the model knows (no letters,
    /// or only an unknown script).
    pub fn identify(&self, text: &str) -> Vec<(Lang, f64)> {
        let Some(scores) = self.scores(text) else {
            return Vec::new();
        };
        let mut out: Vec<(Lang, f64)> = self.langs.iter().cloned().zip(scores).collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out
    }

    /// The most probable language and its probability, as [`LangId::identify`]'s first entry.
    pub fn best(&self, text: &str) -> Option<(Lang, f64)> {
        let scores = self.scores(text)?;
        let mut best = 0;
        for (i, s) in scores.iter().enumerate() {
            if *s > scores[best] {
                best = i;
            }
        }
        Some((self.langs[best].clone(), scores[best]))
    }

    /// The probability the model gives `lang` for `text` (0 when unknown or unjudgeable).
    pub fn probability(&self, text: &str, lang: &Lang) -> f64 {
        let Some(i) = self.langs.iter().position(|l| same_lang(l, lang)) else {
            return 0.0;
        };
        self.scores(text).map(|s| s[i]).unwrap_or(0.0)
    }

    /// Writes the model as JSON (settings and per-language n-gram counts), atomically.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let saved = SavedModel {
            format: FORMAT.to_string(),
            config: self.config.clone(),
            profiles: self.profiles.clone(),
        };
        fs::write_json_atomic(path, &saved)
    }

    /// Reads a model written by [`LangId::save`].
    pub fn load(path: impl AsRef<Path>) -> Result<LangId> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).with_path(path)?;
        let saved: SavedModel = serde_json::from_str(&text)
            .map_err(|e| Error::parse(path, Some(format!("line {}", e.line())), e.to_string()))?;
        if saved.format != FORMAT {
            return Err(Error::parse(
                path,
                Some("key \"format\"".to_string()),
                format!(
                    "unknown model format `{}`, expected `{FORMAT}`",
                    saved.format
                ),
            ));
        }
        LangId::compile(saved.config, saved.profiles)
            .map_err(|e| Error::parse_source(path, None, e))
    }

    /// Identifies every held-out text and compares with its label.
    pub fn evaluate(&self, held_out: &[(Lang, String)]) -> LangIdReport {
        let undetermined = Lang::new("und").expect("`und` is a valid code");
        let mut report = LangIdReport::default();
        for (lang, text) in held_out {
            let predicted = self
                .best(text)
                .map(|(l, _)| l)
                .unwrap_or_else(|| undetermined.clone());
            let ok = same_lang(&predicted, lang);
            report.total += 1;
            let per = report.per_lang.entry(lang.clone()).or_default();
            per.total += 1;
            if ok {
                report.correct += 1;
                per.correct += 1;
            } else if report.mistakes.len() < LangIdReport::MAX_MISTAKES {
                report.mistakes.push(Mistake {
                    lang: lang.clone(),
                    predicted: predicted.clone(),
                    text: text.clone(),
                });
            }
            *report
                .confusion
                .entry(lang.clone())
                .or_default()
                .entry(predicted)
                .or_default() += 1;
        }
        let ratio = |c: usize, t: usize| if t == 0 { 0.0 } else { c as f64 / t as f64 };
        report.accuracy = ratio(report.correct, report.total);
        for per in report.per_lang.values_mut() {
            per.accuracy = ratio(per.correct, per.total);
        }
        report
    }
}

/// Languages are the same when their codes are, or when their primary subtags are.
pub fn same_lang(a: &Lang, b: &Lang) -> bool {
    a == b || a.primary() == b.primary()
}

/// Accuracy on one language.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LangScore {
    /// Held-out texts in the language.
    pub total: usize,
    /// Of those, identified correctly.
    pub correct: usize,
    /// `correct / total`.
    pub accuracy: f64,
}

/// A misidentified held-out text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mistake {
    /// The true language.
    pub lang: Lang,
    /// What the model said (`und` when it could not judge).
    pub predicted: Lang,
    /// The text.
    pub text: String,
}

/// What [`LangId::evaluate`] measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LangIdReport {
    /// Held-out texts.
    pub total: usize,
    /// Identified correctly.
    pub correct: usize,
    /// `correct / total`.
    pub accuracy: f64,
    /// Accuracy per true language.
    pub per_lang: BTreeMap<Lang, LangScore>,
    /// True language → predicted language (`und`: not judgeable) → count.
    pub confusion: BTreeMap<Lang, BTreeMap<Lang, usize>>,
    /// The first misidentified texts (at most [`LangIdReport::MAX_MISTAKES`]).
    pub mistakes: Vec<Mistake>,
}

impl LangIdReport {
    /// How many mistakes a report keeps as examples.
    pub const MAX_MISTAKES: usize = 50;

    /// The report as Markdown: overall accuracy, a per-language table and the confusion
    /// matrix (rows: true language, columns: predicted).
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "## Language identification\n");
        let _ = writeln!(
            s,
            "Accuracy: **{:.2}%** ({} of {} held-out texts)\n",
            100.0 * self.accuracy,
            self.correct,
            self.total
        );
        let _ = writeln!(
            s,
            "| language | texts | correct | accuracy |\n|---|---:|---:|---:|"
        );
        for (lang, l) in &self.per_lang {
            let _ = writeln!(
                s,
                "| {lang} | {} | {} | {:.2}% |",
                l.total,
                l.correct,
                100.0 * l.accuracy
            );
        }
        let columns: BTreeSet<&Lang> = self
            .confusion
            .keys()
            .chain(self.confusion.values().flat_map(|m| m.keys()))
            .collect();
        let _ = write!(
            s,
            "\n### Confusion matrix (rows: true, columns: predicted)\n\n| |"
        );
        for c in &columns {
            let _ = write!(s, " {c} |");
        }
        let _ = write!(s, "\n|---|");
        for _ in &columns {
            s.push_str("---:|");
        }
        s.push('\n');
        for (lang, row) in &self.confusion {
            let _ = write!(s, "| **{lang}** |");
            for c in &columns {
                let _ = write!(s, " {} |", row.get(*c).copied().unwrap_or(0));
            }
            s.push('\n');
        }
        if !self.mistakes.is_empty() {
            let _ = writeln!(
                s,
                "\n### Mistakes\n\n| true | predicted | text |\n|---|---|---|"
            );
            for m in &self.mistakes {
                let text: String = m.text.chars().take(120).collect();
                let text = text.replace('|', "\\|").replace('\n', " ");
                let _ = writeln!(s, "| {} | {} | {text} |", m.lang, m.predicted);
            }
        }
        s
    }
}

/// Labelled texts from a parallel corpus, split into training and held-out parts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelledSplit {
    /// Texts to train on.
    pub train: Vec<(Lang, String)>,
    /// Texts to evaluate on; no group has texts on both sides.
    pub held_out: Vec<(Lang, String)>,
}

pub use crate::sources::read_parallel_jsonl;

/// The labelled texts of parallel groups, split by a hash of each group's id: a group goes
/// to `held_out` when `rng::unit(seed, id) < held_out_fraction`, so the split is the same
/// on every run and every machine, and a held-out sentence is unseen in every language.
///
/// Only `langs` are kept (all when empty). A text is skipped when it has no letter or when
/// it equals (by [`dedup_key`]) another language's text in the same group: an untranslated
/// string (`OK`, `Wi-Fi`, a brand name) says nothing about its language.
pub fn split_parallel(
    groups: &[Parallel],
    langs: &[Lang],
    held_out_fraction: f64,
    seed: u64,
) -> LabelledSplit {
    let mut split = LabelledSplit::default();
    for g in groups {
        let keys: Vec<(&Lang, String)> = g.texts.iter().map(|(l, t)| (l, dedup_key(t))).collect();
        let side = if rng::unit(seed, &g.id) < held_out_fraction {
            &mut split.held_out
        } else {
            &mut split.train
        };
        for (lang, text) in &g.texts {
            if !langs.is_empty() && !langs.iter().any(|l| same_lang(l, lang)) {
                continue;
            }
            if !text.chars().any(char::is_alphabetic) {
                continue;
            }
            let key = dedup_key(text);
            if keys.iter().any(|(l, k)| *l != lang && *k == key) {
                continue;
            }
            side.push((lang.clone(), text.clone()));
        }
    }
    split
}

impl LangId {
    /// Trains on every usable text of a parallel JSONL file (see [`split_parallel`] for
    /// which texts are used), for the languages `langs` (all when empty).
    pub fn train_from_parallel_jsonl(
        path: impl AsRef<Path>,
        langs: &[Lang],
        config: LangIdConfig,
    ) -> Result<LangId> {
        let path = path.as_ref();
        let groups = read_parallel_jsonl(path)?;
        let split = split_parallel(&groups, langs, 0.0, 0);
        LangId::train(split.train, config).map_err(|e| Error::parse_source(path, None, e))
    }

    /// Trains on a deterministic part of a parallel JSONL file and evaluates on the rest
    /// (`held_out_fraction` of the groups, chosen by id hash under `seed`).
    pub fn train_and_evaluate_parallel(
        path: impl AsRef<Path>,
        langs: &[Lang],
        held_out_fraction: f64,
        seed: u64,
        config: LangIdConfig,
    ) -> Result<(LangId, LangIdReport)> {
        let path = path.as_ref();
        if !(0.0..1.0).contains(&held_out_fraction) {
            return Err(Error::invalid(
                "held_out_fraction",
                format!("must be in [0, 1), got {held_out_fraction}"),
            ));
        }
        let groups = read_parallel_jsonl(path)?;
        let split = split_parallel(&groups, langs, held_out_fraction, seed);
        let model =
            LangId::train(split.train, config).map_err(|e| Error::parse_source(path, None, e))?;
        let report = model.evaluate(&split.held_out);
        Ok((model, report))
    }
}

/// Where a filter gets its language identifier: a saved model, or a parallel corpus that is
/// trained on when the filter is prepared. Relative paths are resolved against the recipe's
/// base directory.
///
/// In a recipe: `model = { training_file = "data/parallel.jsonl" }` or
/// `model = { file = "langid.json" }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LangIdModel {
    /// A model written by [`LangId::save`]; when set, `training_file` is not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// Parallel JSONL corpus (one [`Parallel`] group per line) to train on.
    #[serde(default = "default_training_file")]
    pub training_file: PathBuf,
    /// Languages to train on (all languages of the corpus when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub languages: Vec<Lang>,
    /// Training settings.
    #[serde(default)]
    pub settings: LangIdConfig,
}

fn default_training_file() -> PathBuf {
    PathBuf::from("data/parallel.jsonl")
}

impl Default for LangIdModel {
    fn default() -> Self {
        LangIdModel {
            file: None,
            training_file: default_training_file(),
            languages: Vec::new(),
            settings: LangIdConfig::default(),
        }
    }
}

impl LangIdModel {
    /// Loads or trains the model. Models are cached for the life of the process by path,
    /// file size and modification time and settings, so several filters (and several
    /// passes) naming the same model train it once.
    pub fn load(&self, base_dir: &Path) -> Result<Arc<LangId>> {
        static CACHE: OnceLock<Mutex<HashMap<String, Arc<LangId>>>> = OnceLock::new();
        let (path, key_field) = match &self.file {
            Some(f) => (base_dir.join(f), "file"),
            None => (base_dir.join(&self.training_file), "training_file"),
        };
        let meta = std::fs::metadata(&path).map_err(|e| {
            Error::invalid(
                format!("model.{key_field}"),
                format!(
                    "cannot read {}: {e} (build the corpus first, or point `model.file` at a \
                     saved model)",
                    path.display()
                ),
            )
        })?;
        let cache_key = serde_json::json!({
            "path": path,
            "len": meta.len(),
            "modified": meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_nanos().to_string()),
            "source": self,
        })
        .to_string();
        let cache = CACHE.get_or_init(Default::default);
        let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(model) = cache.get(&cache_key) {
            return Ok(Arc::clone(model));
        }
        let model = match &self.file {
            Some(_) => LangId::load(&path)?,
            None => {
                tracing::info!("training the language identifier on {}", path.display());
                LangId::train_from_parallel_jsonl(&path, &self.languages, self.settings.clone())?
            }
        };
        let model = Arc::new(model);
        cache.insert(cache_key, Arc::clone(&model));
        Ok(model)
    }
}

mod neighbours;
pub use neighbours::neighbours;

#[cfg(test)]
pub(crate) mod test_corpus;

#[cfg(test)]
mod tests {
    use super::test_corpus::{CORPUS, LB_DE_PAIRS, samples};
    use super::*;

    type Labelled = Vec<(Lang, String)>;

    fn split_every(k: usize) -> (Labelled, Labelled) {
        let mut train = Vec::new();
        let mut test = Vec::new();
        for (i, row) in samples().chunks(4).enumerate() {
            let side = if i % k == 0 { &mut test } else { &mut train };
            side.extend(row.iter().cloned());
        }
        (train, test)
    }

    #[test]
    fn normalisation_keeps_letters_and_apostrophes() {
        assert_eq!(normalize("D’Stad, 2024: ËCH!", 0), "d'stad        ëch ");
        assert_eq!(
            normalize("Kuckt https://lb.wikipedia.org an www.rtl.lu", 0),
            "kuckt  an "
        );
        // NFD input gives the same as NFC.
        assert_eq!(normalize("gëtt", 0), normalize("ge\u{308}tt", 0));
        assert_eq!(normalize("abcdef", 3), "abc");
    }

    #[test]
    fn ngrams_are_padded_and_hashes_match_strings() {
        let mut seen = Vec::new();
        for_each_ngram("ech", 1, 5, &mut Vec::new(), |k, chars| {
            let s: String = chars.iter().collect();
            assert_eq!(k, ngram_key(s.chars()), "{s:?}");
            seen.push(s);
        });
        for g in ["e", "c", "h", " e", "h ", " ech", " ech ", "ech "] {
            assert!(seen.contains(&g.to_string()), "missing {g:?} in {seen:?}");
        }
        assert!(!seen.contains(&" ".to_string()));
        // 3 letters: 3 unigrams + 4 bigrams + 3 trigrams + 2 four-grams + 1 five-gram.
        assert_eq!(seen.len(), 13);
    }

    #[test]
    fn held_out_sentences_are_identified() {
        let (train, test) = split_every(4);
        let model = LangId::train(train, LangIdConfig::default()).unwrap();
        let report = model.evaluate(&test);
        eprintln!("{}", report.to_markdown());
        assert_eq!(report.total, test.len());
        assert!(report.accuracy >= 0.95, "{}", report.to_markdown());
        assert!(
            report.per_lang[&Lang::LB].accuracy >= 0.9,
            "{}",
            report.to_markdown()
        );
    }

    #[test]
    fn cross_validated_accuracy_on_the_test_corpus() {
        // 4-fold cross-validation over parallel groups: every sentence is tested once by a
        // model that saw none of its translations.
        let mut correct = 0;
        let mut total = 0;
        let mut lb_de_confusions = 0;
        for fold in 0..4 {
            let mut train = Vec::new();
            let mut test = Vec::new();
            for (i, row) in samples().chunks(4).enumerate() {
                let side = if i % 4 == fold { &mut test } else { &mut train };
                side.extend(row.iter().cloned());
            }
            let model = LangId::train(train, LangIdConfig::default()).unwrap();
            let r = model.evaluate(&test);
            correct += r.correct;
            total += r.total;
            lb_de_confusions += r.confusion[&Lang::LB].get(&Lang::DE).copied().unwrap_or(0)
                + r.confusion[&Lang::DE].get(&Lang::LB).copied().unwrap_or(0);
            for m in &r.mistakes {
                eprintln!("fold {fold}: {} → {}: {}", m.lang, m.predicted, m.text);
            }
        }
        let acc = correct as f64 / total as f64;
        eprintln!(
            "cross-validated accuracy: {correct}/{total} = {acc:.3}; lb↔de: {lb_de_confusions}"
        );
        assert!(acc >= 0.95, "accuracy {acc}");
        assert!(lb_de_confusions <= 2, "{lb_de_confusions} lb/de confusions");
    }

    #[test]
    fn luxembourgish_markers_separate_lb_from_de() {
        let model = LangId::train(samples(), LangIdConfig::default()).unwrap();
        for (lb, de) in LB_DE_PAIRS {
            let (l, p) = model.best(lb).unwrap();
            assert_eq!(l, Lang::LB, "{lb:?} identified as {l} ({p:.3})");
            let (l, p) = model.best(de).unwrap();
            assert_eq!(l, Lang::DE, "{de:?} identified as {l} ({p:.3})");
        }
    }

    #[test]
    fn probabilities_are_sorted_and_sum_to_one() {
        let model = LangId::train(samples(), LangIdConfig::default()).unwrap();
        let r = model.identify("Le gouvernement a présenté une nouvelle loi.");
        assert_eq!(r.len(), 4);
        assert_eq!(r[0].0, Lang::FR);
        assert!(r.windows(2).all(|w| w[0].1 >= w[1].1));
        let sum: f64 = r.iter().map(|(_, p)| p).sum();
        assert!((sum - 1.0).abs() < 1e-9, "{sum}");
        assert_eq!(
            model
                .best("Le gouvernement a présenté une nouvelle loi.")
                .unwrap()
                .0,
            Lang::FR
        );
        // Short texts are less certain than long ones.
        let short = model.best("Haus").unwrap().1;
        let long = model.best(CORPUS[1].1).unwrap().1;
        assert!(short < long, "{short} vs {long}");
        // Nothing to judge.
        assert!(model.identify("1234 -- !!").is_empty());
        assert!(model.best("").is_none());
        assert_eq!(model.probability("", &Lang::LB), 0.0);
    }

    #[test]
    fn save_and_load_give_the_same_answers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("langid.json");
        let model = LangId::train(samples(), LangIdConfig::default()).unwrap();
        model.save(&path).unwrap();
        let back = LangId::load(&path).unwrap();
        assert_eq!(back.languages(), model.languages());
        for (_, text) in samples().iter().take(40) {
            assert_eq!(model.identify(text), back.identify(text));
        }
        // A broken file names itself.
        std::fs::write(
            &path,
            "{\"format\": \"lux-langid/1\", \"config\": {}, \"profiles\": 3}",
        )
        .unwrap();
        let err = LangId::load(&path).unwrap_err().to_string();
        assert!(err.contains("langid.json"), "{err}");
        std::fs::write(
            &path,
            "{\"format\": \"other\", \"config\": {}, \"profiles\": []}",
        )
        .unwrap();
        let err = LangId::load(&path).unwrap_err().to_string();
        assert!(err.contains("unknown model format"), "{err}");
    }

    #[test]
    fn bad_settings_and_empty_training_are_errors() {
        let bad = LangIdConfig {
            min_n: 3,
            max_n: 2,
            ..Default::default()
        };
        assert!(LangId::train([(Lang::LB, "moien")], bad).is_err());
        let bad = LangIdConfig {
            alpha: 0.0,
            ..Default::default()
        };
        assert!(LangId::train([(Lang::LB, "moien")], bad).is_err());
        let none: [(Lang, &str); 1] = [(Lang::LB, "123 !!")];
        assert!(LangId::train(none, LangIdConfig::default()).is_err());
    }

    #[test]
    fn pruning_bounds_the_model() {
        let config = LangIdConfig {
            max_ngrams_per_lang: 300,
            ..Default::default()
        };
        let model = LangId::train(samples(), config).unwrap();
        assert!(model.profiles().iter().all(|p| p.ngrams.len() <= 300));
        assert_eq!(model.best(CORPUS[0].0).unwrap().0, Lang::EN);
    }

    fn write_parallel(path: &Path) {
        super::test_corpus::write_parallel_jsonl(path);
        // An untranslated entry: the same text in every language is skipped.
        let mut text = std::fs::read_to_string(path).unwrap();
        text.push_str(
            "\n{\"id\":\"brand\",\"texts\":{\"en\":\"Firefox\",\"lb\":\"Firefox\",\"de\":\"Firefox\"},\
             \"provenance\":{\"source\":\"test\",\"license\":\"CC0-1.0\"}}\n",
        );
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn trains_and_evaluates_from_parallel_jsonl() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("parallel.jsonl");
        write_parallel(&path);
        let groups = read_parallel_jsonl(&path).unwrap();
        assert_eq!(groups.len(), CORPUS.len() + 1);
        let split = split_parallel(&groups, &[], 0.25, 7);
        assert!(!split.held_out.is_empty() && !split.train.is_empty());
        assert!(
            split
                .train
                .iter()
                .chain(&split.held_out)
                .all(|(_, t)| t != "Firefox")
        );
        // Deterministic, and a group is never on both sides.
        assert_eq!(split, split_parallel(&groups, &[], 0.25, 7));
        let train_texts: HashSet<&str> = split.train.iter().map(|(_, t)| t.as_str()).collect();
        for (en, lb, _, _) in CORPUS {
            assert!(!(train_texts.contains(en) ^ train_texts.contains(lb)));
        }
        // Restricting languages.
        let only = split_parallel(&groups, &[Lang::LB, Lang::DE], 0.25, 7);
        assert!(
            only.train
                .iter()
                .all(|(l, _)| *l == Lang::LB || *l == Lang::DE)
        );

        let (model, report) =
            LangId::train_and_evaluate_parallel(&path, &[], 0.25, 7, LangIdConfig::default())
                .unwrap();
        assert_eq!(model.languages(), [Lang::DE, Lang::EN, Lang::FR, Lang::LB]);
        assert_eq!(report.total, split.held_out.len());
        assert!(report.accuracy >= 0.9, "{}", report.to_markdown());
        let md = report.to_markdown();
        assert!(
            md.contains("| lb |") && md.contains("Confusion matrix"),
            "{md}"
        );
        let json = serde_json::to_value(&report).unwrap();
        assert!(json["per_lang"]["lb"]["accuracy"].is_number());

        let all =
            LangId::train_from_parallel_jsonl(&path, &[Lang::LB, Lang::DE], Default::default())
                .unwrap();
        assert_eq!(all.languages(), [Lang::DE, Lang::LB]);
    }

    #[test]
    fn malformed_parallel_lines_are_reported_with_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.jsonl");
        std::fs::write(&path, "\n{\"id\": 1}\n").unwrap();
        let err = read_parallel_jsonl(&path).unwrap_err().to_string();
        assert!(err.contains("bad.jsonl:line 2"), "{err}");
        assert!(
            LangId::train_and_evaluate_parallel(&path, &[], 1.5, 0, Default::default()).is_err()
        );
    }

    #[test]
    fn model_source_trains_once_and_loads_saved_models() {
        let dir = tempfile::tempdir().unwrap();
        write_parallel(&dir.path().join("parallel.jsonl"));
        let source = LangIdModel {
            training_file: "parallel.jsonl".into(),
            ..Default::default()
        };
        let a = source.load(dir.path()).unwrap();
        let b = source.load(dir.path()).unwrap();
        assert!(Arc::ptr_eq(&a, &b), "the second load comes from the cache");
        a.save(dir.path().join("model.json")).unwrap();
        let saved = LangIdModel {
            file: Some("model.json".into()),
            ..Default::default()
        };
        let c = saved.load(dir.path()).unwrap();
        assert_eq!(c.best(CORPUS[3].1), a.best(CORPUS[3].1));
        let missing = LangIdModel::default()
            .load(dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("model.training_file") && missing.contains("parallel.jsonl"),
            "{missing}"
        );
    }

    #[test]
    fn identification_is_fast() {
        let model = LangId::train(samples(), LangIdConfig::default()).unwrap();
        let texts: Vec<String> = samples().into_iter().map(|(_, t)| t).collect();
        let started = std::time::Instant::now();
        let mut n = 0usize;
        let mut chars = 0usize;
        while n < 20_000 {
            for t in &texts {
                std::hint::black_box(model.best(t));
                n += 1;
                chars += t.len();
            }
        }
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "{n} texts in {secs:.3}s: {:.0} texts/s, {:.1} MB/s",
            n as f64 / secs,
            chars as f64 / secs / 1e6
        );
        // Generous: a debug-ish build on a slow shared core still does far better.
        assert!(n as f64 / secs > 5_000.0);
    }

    /// Accuracy on a real corpus, by text length:
    /// `LUX_LANGID_CORPUS=parallel.jsonl cargo test --workspace --lib real_corpus -- --ignored
    /// --nocapture` (20% of the groups held out by id hash).
    #[test]
    #[ignore = "needs a parallel corpus named by LUX_LANGID_CORPUS"]
    fn accuracy_on_a_real_corpus() {
        let Ok(path) = std::env::var("LUX_LANGID_CORPUS") else {
            return;
        };
        let started = std::time::Instant::now();
        let groups = read_parallel_jsonl(&path).unwrap();
        let split = split_parallel(&groups, &[], 0.2, 1729);
        // Settings to try, as JSON: LUX_LANGID_CONFIG='{"alpha": 0.5}'.
        let config: LangIdConfig = std::env::var("LUX_LANGID_CONFIG")
            .map(|c| serde_json::from_str(&c).unwrap())
            .unwrap_or_default();
        let model = LangId::train(split.train.clone(), config).unwrap();
        eprintln!(
            "trained on {} texts in {:.2}s ({} n-grams)",
            split.train.len(),
            started.elapsed().as_secs_f64(),
            model.index.len()
        );
        let started = std::time::Instant::now();
        let report = model.evaluate(&split.held_out);
        let secs = started.elapsed().as_secs_f64();
        let bytes: usize = split.held_out.iter().map(|(_, t)| t.len()).sum();
        eprintln!("{}", report.to_markdown());
        eprintln!(
            "identified {} texts in {secs:.3}s: {:.0} texts/s, {:.1} MB/s",
            split.held_out.len(),
            split.held_out.len() as f64 / secs,
            bytes as f64 / secs / 1e6
        );
        for (lo, hi) in [(1, 10), (10, 20), (20, 40), (40, usize::MAX)] {
            let bucket: Vec<(Lang, String)> = split
                .held_out
                .iter()
                .filter(|(_, t)| {
                    (lo..hi).contains(&t.chars().filter(|c| c.is_alphabetic()).count())
                })
                .cloned()
                .collect();
            let r = model.evaluate(&bucket);
            let lb = r.per_lang.get(&Lang::LB).map(|s| s.accuracy).unwrap_or(0.0);
            eprintln!(
                "letters {lo}..{hi}: {} texts, accuracy {:.3}, lb {lb:.3}",
                r.total, r.accuracy
            );
        }
        assert!(report.accuracy > 0.5);
    }
}
