//! [`LanguageCheck`]: is this text in the language it should be? Pluggable, so a better
//! identifier can replace the built-in stopword check without touching the generators.
//!
//! | `type` | check |
//! |---|---|
//! | `langid` | [`LangIdCheck`]: the character n-gram model of `lux_data::langid` (the same model as the `lang_id` filter) |
//! | `stopwords` | [`StopwordCheck`]: counts function words of en, fr, de, lb, nl, es, it, pt |
//! | `none` | [`NoLanguageCheck`]: accepts everything |
//!
//! The default is `stopwords`: it needs no file, so a generator works from any directory.
//! Recipes that ship a corpus (the bundled `luxinstruct`) choose `langid`, which is far more
//! accurate and covers any language it was trained on.

mod langid;
mod none;
mod stopwords;

use std::fmt::Debug;
use std::path::Path;

use lux_core::{Lang, Result};

pub use langid::LangIdCheck;
pub use none::NoLanguageCheck;
pub use stopwords::StopwordCheck;

/// What a [`LanguageCheck`] concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LangVerdict {
    /// The text looks like the expected language.
    Matches,
    /// Too short, or a language the check does not know: accept.
    Undetermined,
    /// The text looks like another language.
    Mismatch {
        /// The language it looks like.
        looks_like: Lang,
    },
}

/// Decides whether a text is written in an expected language.
///
/// Contract: answer [`LangVerdict::Mismatch`] only when confident; when in doubt,
/// [`LangVerdict::Undetermined`] (generators accept those).
#[typetag::serde(tag = "type")]
pub trait LanguageCheck: Send + Sync + Debug {
    /// Checks `text` against `expected`.
    fn check(&self, text: &str, expected: &Lang) -> LangVerdict;

    /// Loads what the check needs (a model), resolving relative paths against `base_dir`;
    /// called by the generator's `prepare`, before any request is sent.
    fn prepare(&mut self, base_dir: &Path) -> Result<()> {
        let _ = base_dir;
        Ok(())
    }
}

/// The default check of generators: [`StopwordCheck`] with its default settings.
pub(crate) fn default_check() -> Box<dyn LanguageCheck> {
    Box::new(StopwordCheck::default())
}

#[cfg(test)]
mod object_safety {
    fn _obj_safe(_: &dyn super::LanguageCheck) {}
}
