//! The `.po` text format.

use std::fs;
use std::path::Path;

use lux_core::{Error, IoContext, Result};

use super::charset::charset_of;
use super::file::{GettextEntry, GettextFile, parse_header};

/// Reads a `.po` file. Errors name the file and line.
pub fn read_po(path: impl AsRef<Path>) -> Result<GettextFile> {
    let path = path.as_ref();
    let bytes = fs::read(path).with_path(path)?;
    parse_po(&bytes, path)
}

#[derive(Debug, Default)]
struct RawEntry {
    context: Option<Vec<u8>>,
    msgid: Option<Vec<u8>>,
    msgid_plural: Option<Vec<u8>>,
    msgstr: Vec<Vec<u8>>,
    fuzzy: bool,
    line: usize,
}

#[derive(Debug, Clone, Copy)]
enum Field {
    Context,
    Id,
    IdPlural,
    Str(usize),
}

/// Parses the bytes of a `.po` file; `path` names it in errors.
pub fn parse_po(bytes: &[u8], path: &Path) -> Result<GettextFile> {
    let mut raw: Vec<RawEntry> = Vec::new();
    let mut cur = RawEntry::default();
    let mut field: Option<Field> = None;
    let mut fuzzy_next = false;
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);

    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let n = i + 1;
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let complete = !cur.msgstr.is_empty();
        if line.starts_with(b"#") {
            if complete {
                raw.push(std::mem::take(&mut cur));
                field = None;
            }
            if line.starts_with(b"#~") {
                continue;
            }
            if let Some(flags) = line.strip_prefix(b"#,") {
                fuzzy_next |= flags
                    .split(|&b| b == b',')
                    .any(|f| f.trim_ascii() == b"fuzzy");
            }
            continue;
        }
        if line.starts_with(b"\"") {
            let s = po_string(line, path, n)?;
            let target = match field {
                Some(Field::Context) => cur.context.as_mut(),
                Some(Field::Id) => cur.msgid.as_mut(),
                Some(Field::IdPlural) => cur.msgid_plural.as_mut(),
                Some(Field::Str(k)) => cur.msgstr.get_mut(k),
                None => None,
            };
            match target {
                Some(t) => t.extend_from_slice(&s),
                None => return Err(Error::at_line(path, n, "string continues no keyword")),
            }
            continue;
        }
        let split = line
            .iter()
            .position(|b| b.is_ascii_whitespace())
            .unwrap_or(line.len());
        let (keyword, rest) = line.split_at(split);
        let value = po_string(rest.trim_ascii(), path, n)?;
        match keyword {
            b"msgctxt" | b"msgid" => {
                if complete {
                    raw.push(std::mem::take(&mut cur));
                } else if cur.msgid.is_some() {
                    return Err(Error::at_line(
                        path,
                        n,
                        format!("the msgid of line {} has no msgstr", cur.line),
                    ));
                }
                if keyword == b"msgctxt" {
                    if cur.context.is_some() {
                        return Err(Error::at_line(path, n, "second msgctxt for one entry"));
                    }
                    cur.context = Some(value);
                    field = Some(Field::Context);
                } else {
                    cur.msgid = Some(value);
                    cur.line = n;
                    field = Some(Field::Id);
                }
                if fuzzy_next {
                    cur.fuzzy = true;
                    fuzzy_next = false;
                }
            }
            b"msgid_plural" => {
                if cur.msgid.is_none() || complete || cur.msgid_plural.is_some() {
                    return Err(Error::at_line(path, n, "msgid_plural must follow a msgid"));
                }
                cur.msgid_plural = Some(value);
                field = Some(Field::IdPlural);
            }
            kw if kw.starts_with(b"msgstr") => {
                if cur.msgid.is_none() {
                    return Err(Error::at_line(path, n, "msgstr without a msgid"));
                }
                let index = match &kw[6..] {
                    b"" => 0,
                    idx => {
                        let digits = idx
                            .strip_prefix(b"[")
                            .and_then(|d| d.strip_suffix(b"]"))
                            .and_then(|d| std::str::from_utf8(d).ok())
                            .and_then(|d| d.parse::<usize>().ok());
                        digits.ok_or_else(|| {
                            Error::at_line(
                                path,
                                n,
                                format!("bad keyword `{}`", String::from_utf8_lossy(kw)),
                            )
                        })?
                    }
                };
                if index != cur.msgstr.len() {
                    return Err(Error::at_line(
                        path,
                        n,
                        format!(
                            "msgstr[{index}] out of order (expected msgstr[{}])",
                            cur.msgstr.len()
                        ),
                    ));
                }
                cur.msgstr.push(value);
                field = Some(Field::Str(index));
            }
            other => {
                return Err(Error::at_line(
                    path,
                    n,
                    format!("unknown keyword `{}`", String::from_utf8_lossy(other)),
                ));
            }
        }
    }
    if cur.msgid.is_some() {
        if cur.msgstr.is_empty() {
            return Err(Error::at_line(path, cur.line, "msgid has no msgstr"));
        }
        raw.push(cur);
    } else if cur.context.is_some() {
        return Err(Error::at_line(
            path,
            bytes.split(|&b| b == b'\n').count(),
            "msgctxt has no msgid",
        ));
    }

    let header_text = raw
        .iter()
        .find(|e| e.context.is_none() && e.msgid.as_deref() == Some(b""))
        .and_then(|e| e.msgstr.first())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .unwrap_or_default();
    let header = parse_header(&header_text);
    let header_line = raw
        .iter()
        .find(|e| e.msgid.as_deref() == Some(b""))
        .map_or(1, |e| e.line);
    let charset = charset_of(&header).map_err(|m| Error::at_line(path, header_line, m))?;

    let mut entries = Vec::with_capacity(raw.len());
    for e in raw {
        let msgid = e.msgid.unwrap_or_default();
        if e.fuzzy || (msgid.is_empty() && e.context.is_none()) {
            continue;
        }
        let dec = |b: &[u8]| {
            charset.decode(b).ok_or_else(|| {
                Error::at_line(
                    path,
                    e.line,
                    format!("text is not valid {}", charset.name()),
                )
            })
        };
        entries.push(GettextEntry {
            context: e.context.as_deref().map(dec).transpose()?,
            msgid: dec(&msgid)?,
            msgid_plural: e.msgid_plural.as_deref().map(dec).transpose()?,
            msgstr: e.msgstr.iter().map(|s| dec(s)).collect::<Result<_>>()?,
            location: e.line,
        });
    }
    Ok(GettextFile {
        header,
        charset: charset.name().to_string(),
        entries,
    })
}

/// Parses one C-style quoted string (`"a\tb\303\244"`) into bytes.
fn po_string(s: &[u8], path: &Path, line: usize) -> Result<Vec<u8>> {
    let err = |m: &str| Error::at_line(path, line, m.to_string());
    let Some(body) = s.strip_prefix(b"\"") else {
        return Err(err("expected a quoted string"));
    };
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    loop {
        let Some(&b) = body.get(i) else {
            return Err(err("unterminated string"));
        };
        i += 1;
        match b {
            b'"' => break,
            b'\\' => {
                let Some(&e) = body.get(i) else {
                    return Err(err("unterminated string"));
                };
                i += 1;
                match e {
                    b'n' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    b'r' => out.push(b'\r'),
                    b'a' => out.push(0x07),
                    b'b' => out.push(0x08),
                    b'f' => out.push(0x0c),
                    b'v' => out.push(0x0b),
                    b'\\' | b'"' | b'\'' | b'?' => out.push(e),
                    b'0'..=b'7' => {
                        let mut v: u32 = u32::from(e - b'0');
                        for _ in 0..2 {
                            match body.get(i) {
                                Some(&d @ b'0'..=b'7') => {
                                    v = v * 8 + u32::from(d - b'0');
                                    i += 1;
                                }
                                _ => break,
                            }
                        }
                        out.push(u8::try_from(v).map_err(|_| err("octal escape above \\377"))?);
                    }
                    b'x' => {
                        let start = i;
                        while body.get(i).is_some_and(u8::is_ascii_hexdigit) && i - start < 2 {
                            i += 1;
                        }
                        let hex = std::str::from_utf8(&body[start..i]).unwrap_or_default();
                        let v = u8::from_str_radix(hex, 16)
                            .map_err(|_| err("\\x escape without hex digits"))?;
                        out.push(v);
                    }
                    other => {
                        return Err(err(&format!("unknown escape `\\{}`", char::from(other))));
                    }
                }
            }
            _ => out.push(b),
        }
    }
    if !body[i..].trim_ascii().is_empty() {
        return Err(err("text after the closing quote"));
    }
    Ok(out)
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::gettext::test_support::*;

    #[test]
    fn parses_po() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "lb.po", LB_PO.as_bytes());
        let f = read_po(&p).unwrap();
        assert_eq!(f.charset, "UTF-8");
        assert_eq!(f.plural_forms(), Some("nplurals=2; plural=(n != 1);"));
        let keys: Vec<String> = f.entries.iter().map(GettextEntry::key).collect();
        assert_eq!(
            keys,
            [
                "_Open File",
                "Delete %s?",
                "menu/Open",
                "%d file",
                "A long message on two lines",
                "Untranslated"
            ]
        );
        assert_eq!(f.entries[0].location, 8);
        assert_eq!(f.entries[2].context.as_deref(), Some("menu"));
        let plural = &f.entries[3];
        assert_eq!(plural.msgid_plural.as_deref(), Some("%d files"));
        assert_eq!(plural.msgstr, ["%d Fichier", "%d Fichieren"]);
        assert_eq!(plural.translation(), Some("%d Fichier"));
        assert_eq!(
            f.entries[4].msgstr[0],
            "E laange Message\top zwou Zeilen \"mat\" Escapes ä A"
        );
        assert_eq!(f.entries[5].translation(), None);
    }

    #[test]
    fn malformed_po_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let cases: &[(&str, &str, &str)] = &[
            ("msgid \"a\"\nmsgstr \"b\n", "line 2", "unterminated"),
            (
                "msgid \"a\"\nmsgstr \"b\"\nmsgid \"c\"\n",
                "line 3",
                "no msgstr",
            ),
            (
                "msgid \"a\"\nmsgid \"c\"\nmsgstr \"\"\n",
                "line 2",
                "no msgstr",
            ),
            ("msgid \"a\"\nmsgstr[1] \"b\"\n", "line 2", "out of order"),
            (
                "msgid \"a\"\nmsgstr \"b\"\nmsgfoo \"c\"\n",
                "line 3",
                "unknown keyword",
            ),
            ("msgid \"a\"\nmsgstr \"b\\q\"\n", "line 2", "unknown escape"),
            ("msgid a\nmsgstr \"b\"\n", "line 1", "quoted string"),
            ("\"x\"\n", "line 1", "continues no keyword"),
            ("msgstr \"b\"\n", "line 1", "without a msgid"),
            (
                "msgid \"a\" x\nmsgstr \"b\"\n",
                "line 1",
                "after the closing quote",
            ),
        ];
        for (i, (text, line, what)) in cases.iter().enumerate() {
            let p = write(dir.path(), &format!("case{i}.po"), text.as_bytes());
            let e = read_po(&p).unwrap_err().to_string();
            assert!(
                e.contains(&format!("case{i}.po:{line}")) && e.contains(what),
                "{i}: {e}"
            );
        }
    }
}
