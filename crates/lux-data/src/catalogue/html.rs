//! Inline HTML tags and character entities in catalogue texts.

use std::sync::LazyLock;

use regex::Regex;

use super::DropReason;

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
pub(super) fn strip_tags(s: &str) -> Result<(String, usize), DropReason> {
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

/// A character reference: `&#233;`, `&#xE9;` or a named one (`&amp;`).
pub(super) static ENTITY: LazyLock<Regex> = LazyLock::new(|| {
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

pub(super) fn decode_entities(s: &str) -> String {
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
}
