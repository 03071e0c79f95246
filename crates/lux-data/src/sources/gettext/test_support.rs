//! Fixtures shared by the gettext tests: a `.po` sample and `.mo` files built byte by byte.

use std::fs;
use std::path::{Path, PathBuf};

use super::mo::MO_MAGIC;

pub(super) const LB_PO: &str = r#"# Luxembourgish translation
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\n"

#: src/main.c:10
msgid "_Open File"
msgstr "Fichier _opmaachen"

#, c-format
msgid "Delete %s?"
msgstr "%s läschen?"

msgctxt "menu"
msgid "Open"
msgstr "Opmaachen"

#, fuzzy
msgid "Close"
msgstr "Zoumaachen"

msgid "%d file"
msgid_plural "%d files"
msgstr[0] "%d Fichier"
msgstr[1] "%d Fichieren"

msgid ""
"A long message "
"on two lines"
msgstr ""
"E laange Message\t"
"op zwou Zeilen \"mat\" Escapes \303\244 \x41"

msgid "Untranslated"
msgstr ""

#~ msgid "Old"
#~ msgstr "Al"
"#;

pub(super) fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(&p, bytes).unwrap();
    p
}

/// A `.mo` file built byte by byte: header, tables, then the strings.
pub(super) fn mo_bytes(pairs: &[(&[u8], &[u8])], big: bool) -> Vec<u8> {
    let mut pairs = pairs.to_vec();
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    let n = pairs.len() as u32;
    let w = |v: u32| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let orig_table = 28u32;
    let trans_table = orig_table + 8 * n;
    let mut strings = Vec::new();
    let mut orig_desc = Vec::new();
    let mut trans_desc = Vec::new();
    let start = trans_table + 8 * n;
    for (o, _) in &pairs {
        orig_desc.push((o.len() as u32, start + strings.len() as u32));
        strings.extend_from_slice(o);
        strings.push(0);
    }
    for (_, t) in &pairs {
        trans_desc.push((t.len() as u32, start + strings.len() as u32));
        strings.extend_from_slice(t);
        strings.push(0);
    }
    let mut out = Vec::new();
    for v in [MO_MAGIC, 0, n, orig_table, trans_table, 0, 0] {
        out.extend_from_slice(&w(v));
    }
    for (l, o) in orig_desc.iter().chain(&trans_desc) {
        out.extend_from_slice(&w(*l));
        out.extend_from_slice(&w(*o));
    }
    out.extend_from_slice(&strings);
    out
}

pub(super) fn sample_mo(big: bool, charset: &str, open: &[u8]) -> Vec<u8> {
    let header = format!(
        "Content-Type: text/plain; charset={charset}\nPlural-Forms: nplurals=2; plural=(n != 1);\n"
    );
    mo_bytes(
        &[
            (b"", header.as_bytes()),
            (b"_Open File", open),
            (b"menu\x04Open", b"Ouvrir"),
            (b"%d file\0%d files", b"%d fichier\0%d fichiers"),
            (b"Delete %s?", b"Supprimer %s ?"),
        ],
        big,
    )
}
