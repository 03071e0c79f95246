//! Which cleaning steps a catalogue source applies.

use lux_core::Lang;
use serde::{Deserialize, Serialize};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::clean_text;

    #[test]
    fn cleaning_config_deserialises_with_defaults() {
        let c: CatalogueCleaning = toml::from_str("accelerators = false\npivot = \"fr\"").unwrap();
        assert!(!c.accelerators && c.placeholders && c.pivot == Lang::FR);
        assert!(toml::from_str::<CatalogueCleaning>("nope = 1").is_err());
        let none = CatalogueCleaning::none();
        assert_eq!(clean_text(" _x %s ", &none, false).unwrap(), "_x %s");
    }
}
