//! The charset a catalogue's header declares (`Content-Type: text/plain; charset=ISO-8859-15`).

use std::collections::BTreeMap;

use crate::charset::Charset;

/// The charset named in a header's `Content-Type`: UTF-8 when it names none, an error naming
/// the charset when [`Charset`] does not know it.
pub(super) fn charset_of(header: &BTreeMap<String, String>) -> Result<Charset, String> {
    let Some(content_type) = header.get("Content-Type") else {
        return Ok(Charset::UTF8);
    };
    let Some(pos) = content_type.to_ascii_lowercase().find("charset=") else {
        return Ok(Charset::UTF8);
    };
    let name = content_type[pos + "charset=".len()..]
        .split([';', ' '])
        .next()
        .unwrap_or_default()
        .trim();
    Charset::from_name(name).ok_or_else(|| {
        format!(
            "unsupported charset `{name}` (lux reads UTF-8 and the charsets browsers know: \
             ISO-8859-1 to -16, windows-1250 to -1258, KOI8-R, Shift_JIS, GBK…)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::super::read_po;
    use crate::sources::gettext::test_support::*;

    #[test]
    fn po_in_latin1_is_decoded_by_its_header() {
        let dir = tempfile::tempdir().unwrap();
        // A file that says ISO-8859-1 is read as windows-1252, as browsers read it: 0x96 is
        // the en dash its translator typed, not a C1 control character.
        let bytes = b"msgid \"\"\nmsgstr \"Content-Type: text/plain; charset=ISO-8859-1\\n\"\n\nmsgid \"Language\"\nmsgstr \"Sprooch \xe4 \xeb \x96 1\"\n".to_vec();
        let p = write(dir.path(), "lb.po", &bytes);
        let f = read_po(&p).unwrap();
        assert_eq!(f.charset, "windows-1252");
        assert_eq!(f.entries[0].msgstr[0], "Sprooch ä ë – 1");
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
            "ebcdic.po",
            b"msgid \"\"\nmsgstr \"Content-Type: text/plain; charset=EBCDIC-US\\n\"\n",
        );
        let e = read_po(&p).unwrap_err().to_string();
        assert!(
            e.contains("ebcdic.po:line 1") && e.contains("unsupported charset `EBCDIC-US`"),
            "{e}"
        );
    }

    #[test]
    fn po_in_other_legacy_charsets() {
        let dir = tempfile::tempdir().unwrap();
        for (charset, text, expected) in [
            ("KOI8-R", b"\xf0\xd2\xc9\xd7\xc5\xd4".as_slice(), "Привет"),
            ("ISO-8859-15", b"5 \xa4, \xbd".as_slice(), "5 €, œ"),
            ("ISO-8859-2", b"\xb3\xf3d\xbc".as_slice(), "łódź"),
        ] {
            let mut bytes = format!(
                "msgid \"\"\nmsgstr \"Content-Type: text/plain; charset={charset}\\n\"\n\nmsgid \"Hello\"\nmsgstr \""
            )
            .into_bytes();
            bytes.extend_from_slice(text);
            bytes.extend_from_slice(b"\"\n");
            let p = write(dir.path(), "x.po", &bytes);
            let f = read_po(&p).unwrap();
            assert_eq!(f.entries[0].msgstr[0], expected, "{charset}");
            assert_eq!(f.charset, charset, "{charset}");
        }
    }
}
