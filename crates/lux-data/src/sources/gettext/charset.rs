//! The charset a catalogue's header names, and decoding its strings from it.

use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Charset {
    Utf8,
    Latin1,
    Latin9,
    Cp1252,
}

impl Charset {
    /// The charset named in a header's `Content-Type`.
    pub(super) fn from_header(
        header: &BTreeMap<String, String>,
    ) -> std::result::Result<Charset, String> {
        let Some(ct) = header.get("Content-Type") else {
            return Ok(Charset::Utf8);
        };
        let Some(pos) = ct.to_ascii_lowercase().find("charset=") else {
            return Ok(Charset::Utf8);
        };
        let name = ct[pos + 8..]
            .split([';', ' '])
            .next()
            .unwrap_or_default()
            .trim();
        match name.to_ascii_uppercase().replace('_', "-").as_str() {
            "" | "CHARSET" | "UTF-8" | "UTF8" | "ASCII" | "US-ASCII" | "ANSI-X3.4-1968" => {
                Ok(Charset::Utf8)
            }
            "ISO-8859-1" | "ISO8859-1" | "LATIN1" | "LATIN-1" => Ok(Charset::Latin1),
            "ISO-8859-15" | "ISO8859-15" | "LATIN9" | "LATIN-9" => Ok(Charset::Latin9),
            "CP1252" | "WINDOWS-1252" => Ok(Charset::Cp1252),
            other => Err(format!(
                "unsupported charset `{other}` (supported: UTF-8, ISO-8859-1, ISO-8859-15, \
                 windows-1252)"
            )),
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Charset::Utf8 => "UTF-8",
            Charset::Latin1 => "ISO-8859-1",
            Charset::Latin9 => "ISO-8859-15",
            Charset::Cp1252 => "windows-1252",
        }
    }

    pub(super) fn decode(self, bytes: &[u8]) -> Option<String> {
        match self {
            Charset::Utf8 => String::from_utf8(bytes.to_vec()).ok(),
            Charset::Latin1 => Some(bytes.iter().map(|&b| char::from(b)).collect()),
            Charset::Latin9 => Some(
                bytes
                    .iter()
                    .map(|&b| match b {
                        0xa4 => '€',
                        0xa6 => 'Š',
                        0xa8 => 'š',
                        0xb4 => 'Ž',
                        0xb8 => 'ž',
                        0xbc => 'Œ',
                        0xbd => 'œ',
                        0xbe => 'Ÿ',
                        _ => char::from(b),
                    })
                    .collect(),
            ),
            Charset::Cp1252 => bytes.iter().map(|&b| cp1252(b)).collect(),
        }
    }
}

fn cp1252(b: u8) -> Option<char> {
    const HIGH: [Option<char>; 32] = [
        Some('€'),
        None,
        Some('‚'),
        Some('ƒ'),
        Some('„'),
        Some('…'),
        Some('†'),
        Some('‡'),
        Some('ˆ'),
        Some('‰'),
        Some('Š'),
        Some('‹'),
        Some('Œ'),
        None,
        Some('Ž'),
        None,
        None,
        Some('‘'),
        Some('’'),
        Some('“'),
        Some('”'),
        Some('•'),
        Some('–'),
        Some('—'),
        Some('˜'),
        Some('™'),
        Some('š'),
        Some('›'),
        Some('œ'),
        None,
        Some('ž'),
        Some('Ÿ'),
    ];
    match b {
        0x80..=0x9f => HIGH[usize::from(b - 0x80)],
        _ => Some(char::from(b)),
    }
}
#[cfg(test)]
mod tests {
    use super::super::read_po;
    use crate::sources::gettext::test_support::*;

    #[test]
    fn po_in_latin1_is_decoded_by_its_header() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = b"msgid \"\"\nmsgstr \"Content-Type: text/plain; charset=ISO-8859-1\\n\"\n\nmsgid \"Language\"\nmsgstr \"Sprooch \xe4 \xeb\"\n".to_vec();
        let p = write(dir.path(), "lb.po", &bytes);
        let f = read_po(&p).unwrap();
        assert_eq!(f.charset, "ISO-8859-1");
        assert_eq!(f.entries[0].msgstr[0], "Sprooch ä ë");
        // Latin-1 bytes in a file claiming UTF-8 are an error naming the entry's line.
        let raw = b"msgid \"\"\nmsgstr \"Content-Type: text/plain; charset=UTF-8\\n\"\n\nmsgid \"Language\"\nmsgstr \"Sprooch \xe4\"\n";
        let p = write(dir.path(), "bad.po", raw);
        let e = read_po(&p).unwrap_err().to_string();
        assert!(
            e.contains("bad.po:line 4") && e.contains("not valid UTF-8"),
            "{e}"
        );
        let p = write(
            dir.path(),
            "koi.po",
            b"msgid \"\"\nmsgstr \"Content-Type: text/plain; charset=KOI8-R\\n\"\n",
        );
        let e = read_po(&p).unwrap_err().to_string();
        assert!(e.contains("koi.po:line 1") && e.contains("KOI8-R"), "{e}");
    }
}
