//! Text helpers shared by sources, generators and filters.

use unicode_normalization::UnicodeNormalization;

/// Unicode NFC, the form lux stores all text in (so `ë` is one code point everywhere).
pub fn nfc(s: &str) -> String {
    s.nfc().collect()
}

/// Collapses every run of whitespace to one space and trims the ends.
pub fn collapse_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for w in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// The words of `s`: maximal runs of letters, digits, apostrophes and inner hyphens
/// (`d'Lëtzebuerger`, `E-Mail`).
pub fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’' || c == '-'))
        .map(|w| w.trim_matches(|c: char| c == '-' || c == '\'' || c == '’'))
        .filter(|w| !w.is_empty())
}

/// Number of [`words`].
pub fn word_count(s: &str) -> usize {
    words(s).count()
}

/// The key used for exact deduplication: NFKC, lower case, words joined by single spaces
/// (punctuation and spacing differences do not make two texts different).
pub fn dedup_key(s: &str) -> String {
    let folded: String = s.nfkc().flat_map(char::to_lowercase).collect();
    let mut out = String::with_capacity(folded.len());
    for w in words(&folded) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_elision_and_hyphens() {
        let w: Vec<_> = words("D'Lëtzebuerger E-Mail, 3 Deeg -- ok!").collect();
        assert_eq!(w, ["D'Lëtzebuerger", "E-Mail", "3", "Deeg", "ok"]);
    }

    #[test]
    fn dedup_key_ignores_case_space_punctuation() {
        assert_eq!(dedup_key("Moien,  Welt!"), dedup_key("moien welt"));
        assert_ne!(dedup_key("Moien Welt"), dedup_key("Moien Wëlt"));
        // NFC vs NFD spellings of ë are the same key.
        assert_eq!(dedup_key("W\u{e9}lt"), dedup_key("We\u{301}lt"));
    }

    #[test]
    fn whitespace() {
        assert_eq!(collapse_whitespace("  a \n\t b "), "a b");
    }
}
