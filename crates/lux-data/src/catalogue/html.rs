//! Inline HTML tags in catalogue texts: removed, turned into a space, or a reason to drop
//! the text.
//!
//! Which tag is of which kind is shared with the wikitext cleaner
//! ([`crate::mediawiki_tags`]); a message treats the kinds strictly: formatting goes, a line
//! break becomes a space, and structure (lists, tables, references, code) means the text is
//! a fragment of a page rather than a message. Character entities are decoded by
//! [`crate::html_entities`].

use std::sync::LazyLock;

use regex::Regex;

use super::DropReason;
use crate::mediawiki_tags::{self as tags, BLOCK, INLINE, LITERAL, NON_PROSE};

static TAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"<(/?)([A-Za-z][A-Za-z0-9]*)(\s[^<>]*)?/?>").expect("valid regex")
});

/// Wrappers from HTML-based formats (Qt's `<qt>`, whole `<html><body>` documents, links and
/// form labels) that MediaWiki does not have: removed, content kept.
const HTML_WRAPPERS: &[&str] = &["a", "nobr", "html", "body", "label", "qt", "center"];
/// Tags that separate words: replaced by a space.
const BREAK_TAGS: &[&str] = &["br", "p", "hr"];
/// HTML elements with no message text: scripts, media, forms, page layout.
const NON_TEXT_TAGS: &[&str] = &[
    "script", "style", "img", "form", "input", "select", "option", "button", "iframe", "textarea",
    "head", "title", "svg", "meta", "link", "nav", "header", "footer", "article", "figure",
    "colgroup", "col",
];

/// Returns the text and the number of opening (or self-closing) tags removed.
pub(super) fn strip_tags(s: &str) -> Result<(String, usize), DropReason> {
    if s.contains("<!--") {
        return Err(DropReason::Markup);
    }
    if !s.contains('<') {
        return Ok((s.to_string(), 0));
    }
    let mut block = false;
    let mut count = 0;
    let out = TAG.replace_all(s, |c: &regex::Captures<'_>| {
        let whole = c.get(0).map(|m| m.as_str()).unwrap_or_default();
        let name = c
            .get(2)
            .map(|m| m.as_str().to_ascii_lowercase())
            .unwrap_or_default();
        let name = name.as_str();
        let closing = c.get(1).is_some_and(|m| !m.as_str().is_empty());
        if tags::is(INLINE, name) || tags::is(HTML_WRAPPERS, name) {
            count += usize::from(!closing);
            String::new()
        } else if tags::is(BREAK_TAGS, name) {
            count += usize::from(!closing);
            " ".to_string()
        } else {
            if [BLOCK, NON_PROSE, LITERAL, NON_TEXT_TAGS]
                .iter()
                .any(|kind| tags::is(kind, name))
            {
                block = true;
            }
            // Not a tag at all (`<none>`, `<filename>`): text.
            whole.to_string()
        }
    });
    if block {
        return Err(DropReason::Markup);
    }
    Ok((out.into_owned(), count))
}

#[cfg(test)]
mod tests {
    use super::super::{CatalogueCleaning, DropReason, clean_text};
    use crate::catalogue::clean::tests_support::clean;

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
        // Any name of the WHATWG table, not only the common ones.
        assert_eq!(
            clean("&Scaron;koda &rarr; &frac12; Liter").unwrap(),
            "Škoda → ½ Liter"
        );
        assert_eq!(clean("<ul><li>One item</li></ul>"), Err(DropReason::Markup));
        // The tag kinds shared with the wikitext cleaner: non-prose extension tags and
        // literal text drop a message, `wbr` is no character.
        assert_eq!(clean("Formula <chem>H2O</chem>"), Err(DropReason::Markup));
        assert_eq!(clean("See <references/> below"), Err(DropReason::Markup));
        assert_eq!(
            clean("<nowiki>[[x]]</nowiki> text"),
            Err(DropReason::Markup)
        );
        assert_eq!(clean("Fichier<wbr>numm").unwrap(), "Fichiernumm");
        assert_eq!(
            clean("<qt>Open <a href=\"x\">this</a> file</qt>").unwrap(),
            "Open this file"
        );
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
}
