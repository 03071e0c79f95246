//! The compiled `.mo` format.

use std::fs;
use std::path::Path;

use lux_core::{Error, IoContext, Result};

use super::charset::charset_of;
use super::file::{GettextEntry, GettextFile, parse_header};

/// The `.mo` magic number, as read in the file's own byte order.
pub(super) const MO_MAGIC: u32 = 0x9504_12de;

/// Reads a `.mo` file. Errors name the file and the byte offset or entry index.
pub fn read_mo(path: impl AsRef<Path>) -> Result<GettextFile> {
    let path = path.as_ref();
    let bytes = fs::read(path).with_path(path)?;
    parse_mo(&bytes, path)
}

/// Parses the bytes of a `.mo` file (either byte order, revision 0 or 1; the static string
/// tables only); `path` names it in errors.
pub fn parse_mo(bytes: &[u8], path: &Path) -> Result<GettextFile> {
    let at = |offset: usize, msg: String| Error::parse(path, Some(format!("byte {offset}")), msg);
    if bytes.len() < 28 {
        return Err(at(
            0,
            format!("{} bytes is too short for a .mo header", bytes.len()),
        ));
    }
    let word = |off: usize, big: bool| -> Option<u32> {
        let b: [u8; 4] = bytes.get(off..off.checked_add(4)?)?.try_into().ok()?;
        Some(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let big = match (word(0, false), word(0, true)) {
        (Some(MO_MAGIC), _) => false,
        (_, Some(MO_MAGIC)) => true,
        (m, _) => {
            return Err(at(
                0,
                format!("not a .mo file (magic {:#010x})", m.unwrap_or(0)),
            ));
        }
    };
    let read = |off: usize| word(off, big).map(|w| w as usize);
    let revision = read(4).unwrap_or(0);
    if revision >> 16 > 1 {
        return Err(at(
            4,
            format!(
                "unsupported .mo revision {}.{}",
                revision >> 16,
                revision & 0xffff
            ),
        ));
    }
    let n = read(8).unwrap_or(0);
    let orig_table = read(12).unwrap_or(0);
    let trans_table = read(16).unwrap_or(0);
    for (name, off, table) in [
        ("original", 12, orig_table),
        ("translation", 16, trans_table),
    ] {
        let end = n.checked_mul(8).and_then(|s| s.checked_add(table));
        if end.is_none_or(|e| e > bytes.len()) {
            return Err(at(
                off,
                format!(
                    "{name} table at byte {table} with {n} entries runs past the end ({} bytes)",
                    bytes.len()
                ),
            ));
        }
    }
    let string =
        |table: usize, i: usize, what: &str| -> Result<&[u8]> {
            let desc = table + 8 * i;
            let len = read(desc).unwrap_or(0);
            let off = read(desc + 4).unwrap_or(0);
            off.checked_add(len).and_then(|end| bytes.get(off..end)).ok_or_else(|| {
            Error::parse(
                path,
                Some(format!("entry {i}")),
                format!(
                    "{what} string at byte {off} of length {len} runs past the end ({} bytes; \
                     descriptor at byte {desc})",
                    bytes.len()
                ),
            )
        })
        };
    let mut pairs = Vec::with_capacity(n);
    for i in 0..n {
        pairs.push((
            string(orig_table, i, "original")?,
            string(trans_table, i, "translation")?,
        ));
    }
    let header_text = pairs
        .iter()
        .find(|(o, _)| o.is_empty())
        .map(|(_, t)| String::from_utf8_lossy(t).into_owned())
        .unwrap_or_default();
    let header = parse_header(&header_text);
    let charset =
        charset_of(&header).map_err(|m| Error::parse(path, Some("header entry".to_string()), m))?;

    let mut entries = Vec::with_capacity(n);
    for (i, (orig, trans)) in pairs.into_iter().enumerate() {
        if orig.is_empty() {
            continue;
        }
        let dec = |b: &[u8]| {
            charset.decode(b).ok_or_else(|| {
                Error::parse(
                    path,
                    Some(format!("entry {i}")),
                    format!("text is not valid {}", charset.name()),
                )
            })
        };
        let (context, id) = match orig.iter().position(|&b| b == 0x04) {
            Some(p) => (Some(dec(&orig[..p])?), &orig[p + 1..]),
            None => (None, orig),
        };
        let mut ids = id.split(|&b| b == 0);
        let msgid = dec(ids.next().unwrap_or_default())?;
        let msgid_plural = ids.next().map(dec).transpose()?;
        let msgstr = trans
            .split(|&b| b == 0)
            .map(dec)
            .collect::<Result<Vec<_>>>()?;
        entries.push(GettextEntry {
            context,
            msgid,
            msgid_plural,
            msgstr,
            location: i,
        });
    }
    Ok(GettextFile {
        header,
        charset: charset.name().to_string(),
        entries,
    })
}
#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::{read_catalogue, read_po};
    use super::*;
    use crate::sources::gettext::test_support::*;

    #[test]
    fn parses_mo_in_both_byte_orders() {
        let dir = tempfile::tempdir().unwrap();
        for big in [false, true] {
            let p = write(
                dir.path(),
                "fr.mo",
                &sample_mo(big, "UTF-8", "_Ouvrir le fichier".as_bytes()),
            );
            let f = read_mo(&p).unwrap();
            assert_eq!(f.charset, "UTF-8");
            assert_eq!(f.plural_forms(), Some("nplurals=2; plural=(n != 1);"));
            let by_key: BTreeMap<String, &GettextEntry> =
                f.entries.iter().map(|e| (e.key(), e)).collect();
            assert_eq!(by_key.len(), 4);
            assert_eq!(by_key["menu/Open"].msgstr, ["Ouvrir"]);
            assert_eq!(by_key["menu/Open"].context.as_deref(), Some("menu"));
            let plural = by_key["%d file"];
            assert_eq!(plural.msgid_plural.as_deref(), Some("%d files"));
            assert_eq!(plural.msgstr, ["%d fichier", "%d fichiers"]);
            assert_eq!(
                by_key["_Open File"].translation(),
                Some("_Ouvrir le fichier")
            );
        }
        let p = write(
            dir.path(),
            "latin.mo",
            &sample_mo(false, "ISO-8859-1", b"Fichier \xe9"),
        );
        let f = read_catalogue(&p).unwrap();
        assert_eq!(f.charset, "windows-1252");
        assert!(
            f.entries
                .iter()
                .any(|e| e.translation() == Some("Fichier é"))
        );
    }

    #[test]
    fn malformed_mo_names_file_and_offset() {
        let dir = tempfile::tempdir().unwrap();
        let good = sample_mo(false, "UTF-8", b"x");
        let err = |name: &str, bytes: &[u8]| {
            let p = write(dir.path(), name, bytes);
            read_mo(&p).unwrap_err().to_string()
        };
        let e = err("short.mo", &good[..20]);
        assert!(
            e.contains("short.mo:byte 0") && e.contains("too short"),
            "{e}"
        );
        let mut bad = good.clone();
        bad[0] = 0;
        let e = err("magic.mo", &bad);
        assert!(
            e.contains("magic.mo:byte 0") && e.contains("not a .mo"),
            "{e}"
        );
        let mut bad = good.clone();
        bad[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        let e = err("count.mo", &bad);
        assert!(
            e.contains("count.mo:byte 12") && e.contains("runs past the end"),
            "{e}"
        );
        let mut bad = good.clone();
        bad[6..8].copy_from_slice(&7u16.to_le_bytes());
        let e = err("rev.mo", &bad);
        assert!(
            e.contains("rev.mo:byte 4") && e.contains("revision 7"),
            "{e}"
        );
        // Entry 1's original string offset points past the end.
        let mut bad = good.clone();
        let desc = 28 + 8 + 4;
        bad[desc..desc + 4].copy_from_slice(&(good.len() as u32 + 10).to_le_bytes());
        let e = err("offset.mo", &bad);
        assert!(
            e.contains("offset.mo:entry 1") && e.contains("runs past the end"),
            "{e}"
        );
        // Invalid UTF-8 in a translation.
        let e = err("utf.mo", &sample_mo(false, "UTF-8", b"\xff\xfe"));
        assert!(
            e.contains("utf.mo:entry") && e.contains("not valid UTF-8"),
            "{e}"
        );
    }

    #[test]
    fn mo_from_msgfmt_matches_po_when_available() {
        let dir = tempfile::tempdir().unwrap();
        let po = write(dir.path(), "lb.po", LB_PO.as_bytes());
        let mo = dir.path().join("lb.mo");
        let ran = std::process::Command::new("msgfmt")
            .arg("-o")
            .arg(&mo)
            .arg(&po)
            .status();
        let Ok(status) = ran else { return };
        assert!(status.success());
        let from_mo = read_mo(&mo).unwrap();
        let translated = |f: &GettextFile| -> BTreeMap<String, Vec<String>> {
            f.entries
                .iter()
                .filter(|e| e.translation().is_some())
                .map(|e| (e.key(), e.msgstr.clone()))
                .collect()
        };
        assert_eq!(translated(&from_mo), translated(&read_po(&po).unwrap()));
        assert_eq!(from_mo.entries.len(), 5);
    }
}
