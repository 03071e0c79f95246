//! Why cleaning removed a text or a group, and the counts per reason.

use std::collections::BTreeMap;
use std::fmt;

use lux_core::Lang;
use serde::{Deserialize, Serialize};

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

/// What [`CatalogueBuilder::build`](super::CatalogueBuilder::build) read and what cleaning removed.
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
