//! HTML character references (`&amp;`, `&eacute;`, `&#233;`, `&#xE9;`) in wikitext and in
//! catalogue texts.
//!
//! The names and what they stand for are the WHATWG table (2 231 names), from the `htmlize`
//! crate; numeric references follow the same standard (`&#0;` and numbers past U+10FFFF
//! become U+FFFD, `&#150;` is the windows-1252 `–` that the number means in practice).
//! Only references ended by `;` are decoded, as MediaWiki's sanitizer does: the HTML
//! parser's legacy rule that also reads `&copy` or `&amp` without `;` would turn `AT&Tamp`
//! or a URL's `?a=1&copy=2` into symbols, and the texts cleaned here are not HTML documents.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};

/// A character reference: `&` + a name (letters and digits, as long as the longest WHATWG
/// name) or a decimal or hexadecimal number, + `;`.
pub(crate) static REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"&(?:[A-Za-z][A-Za-z0-9]{1,31}|#[0-9]{1,8}|#[xX][0-9A-Fa-f]{1,8});")
        .expect("valid regex")
});

/// `text` with its character references decoded; an unknown name (`&foo;`) stays as written,
/// and decoding happens once (`&amp;lt;` is `&lt;`).
pub(crate) fn decode_entities(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    REFERENCE.replace_all(text, |c: &Captures<'_>| {
        let reference = &c[0];
        if reference.as_bytes()[1] == b'#' {
            htmlize::unescape(reference).into_owned()
        } else {
            match htmlize::ENTITIES.get(reference.as_bytes()) {
                Some(glyph) => String::from_utf8_lossy(glyph).into_owned(),
                None => reference.to_string(),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_are_decoded_once() {
        assert_eq!(
            decode_entities("A&nbsp;B &amp; C &lt;x&gt; &#233;&#xEB; &euml; &foo; &"),
            "A\u{a0}B & C <x> éë ë &foo; &"
        );
        assert_eq!(decode_entities("&amp;nbsp;"), "&nbsp;");
        // Names beyond Latin-1, and ones with digits.
        assert_eq!(
            decode_entities("&frac12; &sup2; &rarr; &Scaron;"),
            "½ ² → Š"
        );
        assert_eq!(decode_entities("&CounterClockwiseContourIntegral;"), "∳");
    }

    #[test]
    fn references_need_their_semicolon() {
        assert_eq!(
            decode_entities("AT&T &copy 2024 &amp"),
            "AT&T &copy 2024 &amp"
        );
        assert_eq!(decode_entities("?a=1&copy=2"), "?a=1&copy=2");
    }

    #[test]
    fn numbers_follow_the_standard() {
        assert_eq!(decode_entities("&#0;"), "\u{fffd}");
        assert_eq!(decode_entities("&#x110000;"), "\u{fffd}");
        assert_eq!(decode_entities("&#xD800;"), "\u{fffd}");
        assert_eq!(decode_entities("&#150;"), "–");
        assert_eq!(decode_entities("&#"), "&#");
        assert!(matches!(decode_entities("no references"), Cow::Borrowed(_)));
    }
}
