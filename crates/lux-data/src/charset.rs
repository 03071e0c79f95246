//! Text in the legacy 8-bit charsets that gettext catalogues and Hunspell dictionaries
//! declare (`charset=ISO-8859-15`, `SET ISO8859-2`, `KOI8-R`…), decoded with `encoding_rs`.
//!
//! A charset is named as the file names it; the name is looked up among the WHATWG labels
//! that browsers accept (`latin1`, `iso8859-15`, `cp1252`, `koi8-r`…), after the spellings
//! that gettext and Hunspell files use but WHATWG lacks (`LATIN9`, `microsoft-cp1251`,
//! `ISO8859_2`). As in browsers, a file that says ISO-8859-1 is read as windows-1252, which
//! is what such files hold in practice (`0x96` is `–`, not a control character).

use encoding_rs::{Encoding, UTF_8};

/// The encoding a file declares, by the name it was declared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Charset {
    encoding: &'static Encoding,
}

impl Charset {
    /// UTF-8, for files that name no charset.
    pub(crate) const UTF8: Charset = Charset { encoding: UTF_8 };

    /// The charset `name` stands for, or `None` when it names no charset `encoding_rs` has.
    ///
    /// ASCII and gettext's unfilled template value `CHARSET` read as UTF-8: a pure-ASCII file
    /// decodes the same, and a non-ASCII byte in it is then an error instead of a guess.
    pub(crate) fn from_name(name: &str) -> Option<Charset> {
        let name = name.trim();
        let upper = name.to_ascii_uppercase().replace('_', "-");
        let label = match upper.as_str() {
            "" | "CHARSET" | "ASCII" | "US-ASCII" | "ANSI-X3.4-1968" => return Some(Self::UTF8),
            "LATIN9" | "LATIN-9" => "iso-8859-15",
            other => other.strip_prefix("MICROSOFT-").unwrap_or(other),
        };
        let encoding = Encoding::for_label(label.as_bytes())?;
        // `replacement` is the WHATWG stand-in for charsets that must not be decoded (ISO-2022-KR…).
        (encoding != encoding_rs::REPLACEMENT
            && encoding != encoding_rs::UTF_16BE
            && encoding != encoding_rs::UTF_16LE)
            .then_some(Charset { encoding })
    }

    /// The charset's WHATWG name (`UTF-8`, `windows-1252`, `ISO-8859-15`).
    pub(crate) fn name(self) -> &'static str {
        self.encoding.name()
    }

    /// The text of `bytes`, or `None` when they are not valid in this charset (only UTF-8 and
    /// the multi-byte charsets can be; every byte has a meaning in the 8-bit ones).
    pub(crate) fn decode(self, bytes: &[u8]) -> Option<String> {
        self.encoding
            .decode_without_bom_handling_and_without_replacement(bytes)
            .map(|text| text.into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(name: &str, bytes: &[u8]) -> Option<String> {
        Charset::from_name(name)?.decode(bytes)
    }

    #[test]
    fn names_as_gettext_and_hunspell_write_them() {
        for (name, expected) in [
            ("UTF-8", "UTF-8"),
            ("utf8", "UTF-8"),
            ("CHARSET", "UTF-8"),
            ("ASCII", "UTF-8"),
            ("", "UTF-8"),
            ("ISO-8859-1", "windows-1252"),
            ("ISO8859-1", "windows-1252"),
            ("latin1", "windows-1252"),
            ("ISO8859-15", "ISO-8859-15"),
            ("LATIN9", "ISO-8859-15"),
            ("iso_8859-2", "ISO-8859-2"),
            ("ISO8859_2", "ISO-8859-2"),
            ("KOI8-R", "KOI8-R"),
            ("microsoft-cp1251", "windows-1251"),
            ("CP1252", "windows-1252"),
        ] {
            assert_eq!(
                Charset::from_name(name).map(Charset::name),
                Some(expected),
                "{name}"
            );
        }
        for unknown in ["EBCDIC-US", "ISO-2022-KR", "UTF-16", "x"] {
            assert_eq!(Charset::from_name(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn eight_bit_tables() {
        assert_eq!(
            decode("ISO-8859-1", b"Sprooch \xe4 \xeb").unwrap(),
            "Sprooch ä ë"
        );
        assert_eq!(decode("ISO-8859-1", b"a \x96 b \x80").unwrap(), "a – b €");
        assert_eq!(
            decode("ISO8859-15", b"\xa4 \xa6\xa8 \xb4\xb8 \xbc\xbd \xbe").unwrap(),
            "€ Šš Žž Œœ Ÿ"
        );
        assert_eq!(decode("ISO8859-2", b"\xb1\xea").unwrap(), "ąę");
        assert_eq!(
            decode("KOI8-R", b"\xf0\xd2\xc9\xd7\xc5\xd4").unwrap(),
            "Привет"
        );
    }

    #[test]
    fn invalid_utf8_is_refused() {
        assert_eq!(
            decode("UTF-8", "Lëtzebuerg".as_bytes()).unwrap(),
            "Lëtzebuerg"
        );
        assert_eq!(decode("UTF-8", b"Sprooch \xe4"), None);
        assert_eq!(decode("ASCII", b"caf\xe9"), None);
    }
}
