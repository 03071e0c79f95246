//! One catalogue text through every cleaning step.

use super::accelerators::strip_accelerators;
use super::code_like::is_code_like;
use super::html::strip_tags;
use super::placeholders::{canonical_placeholders, strip_placeholders};
use super::wiki::{resolve_links, resolve_templates};
use super::{CatalogueCleaning, DropReason};
use crate::html_entities::decode_entities;
use crate::text::{collapse_whitespace, nfc};

/// Cleans one catalogue text (see the [catalogue](super) docs for the steps), or says why it is dropped.
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
        s = decode_entities(&s).into_owned();
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

/// The test helper every step's tests use: one text through the default cleaning.
#[cfg(test)]
pub(super) mod tests_support {
    use super::super::{CatalogueCleaning, DropReason, clean_text};

    pub(in crate::catalogue) fn clean(s: &str) -> Result<String, DropReason> {
        clean_text(s, &CatalogueCleaning::default(), false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::clean::tests_support::clean;

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
}
