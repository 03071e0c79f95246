//! Texts that look like code, a URL, an identifier or a format pattern rather than a message.

use std::sync::LazyLock;

use regex::Regex;

use super::strip_placeholders;

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

/// Whether a cleaned text looks like code rather than a message (see the [catalogue](super) docs).
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
    use super::super::{CatalogueCleaning, DropReason, clean_text};
    use crate::catalogue::clean::tests_support::clean;

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
}
