//! JSON message files, one per language: the "banana" i18n format of MediaWiki core and
//! extensions (`i18n/lb.json`), Etherpad's `locales/`, oojs-ui's `i18n/`, the OpenStreetMap iD
//! tagging schema's `dist/translations/`, and Blockly's generated `msg/lb.js`.
//!
//! A file is a JSON object of `key → string`; `@metadata` (authors) and every other top-level
//! key starting with `@` are skipped. Nested objects are flattened with dots
//! (`presets.fields.name.label`), arrays by index; when the object has a single top-level key
//! naming the file's language (`{"lb": {"presets": …}}`, as in iD) it is stripped first, so
//! keys match across languages. Blockly's `msg/*.js` files are read as their
//! `Blockly.Msg["KEY"] = "text";` lines; lines marked `// untranslated` are English copies
//! and skipped.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use lux_core::{
    Error, IoContext, Lang, Parallel, Provenance, Result, Seed, SeedSource, SeedStream,
    SourceContext,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalogue::{CatalogueBuilder, CatalogueCleaning, CleaningReport, source_langs};

/// How message files are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageFormat {
    /// By extension: `.js` is `blockly_js`, anything else `json`.
    #[default]
    Auto,
    /// A JSON object (flat or nested).
    Json,
    /// Blockly's generated `msg/{lang}.js`: `Blockly.Msg["KEY"] = "text";` lines.
    BlocklyJs,
}

fn default_pattern() -> String {
    "{lang}.json".to_string()
}
fn default_name() -> String {
    "json_messages".to_string()
}
fn unknown_license() -> String {
    "unknown".to_string()
}

/// Message files aligned by key across languages.
///
/// ```toml
/// [[data.sources]]
/// type = "json_messages"
/// find_under = "packages/debian/mediawiki/usr/share/mediawiki"
/// source = "mediawiki"
/// license = "GPL-2.0-or-later"
///
/// [[data.sources]]
/// type = "json_messages"
/// dirs = ["packages/npm/blockly/msg"]
/// file_pattern = "{lang}.js"
/// license = "Apache-2.0"
/// ```
///
/// A directory's files are `file_pattern` with `{lang}` replaced by the language code as
/// written (`pt-BR`), lower-cased (`pt-br`, MediaWiki's spelling) or with `_` (`pt_BR`),
/// whichever exists; a language without a file is skipped. With `find_under`, every directory
/// below it that has both the pivot language's file (`en.json`) and the native language's is
/// read too. A group's id is `dir/key`: `dir` is the directory relative to `find_under`, or as
/// written in `dirs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonMessages {
    /// Directories holding one message file per language.
    #[serde(default)]
    pub dirs: Vec<PathBuf>,
    /// A directory searched recursively for message directories (MediaWiki's `i18n/` dirs).
    #[serde(default)]
    pub find_under: Option<PathBuf>,
    /// Languages to read. Default: the run's (see `catalogue::source_langs`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub langs: Vec<Lang>,
    /// The native language: groups without it are dropped. Default: the run's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native: Option<Lang>,
    /// File name of a language's messages, with `{lang}` for the code.
    #[serde(default = "default_pattern")]
    pub file_pattern: String,
    /// How the files are written.
    #[serde(default)]
    pub format: MessageFormat,
    /// The source name in provenance.
    #[serde(default = "default_name")]
    pub source: String,
    /// SPDX license expression of the messages.
    #[serde(default = "unknown_license")]
    pub license: String,
    /// Cleaning steps (all on by default).
    #[serde(default)]
    pub cleaning: CatalogueCleaning,
}

fn slash_path(p: &Path) -> String {
    p.components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

impl JsonMessages {
    fn file_in(&self, dir: &Path, lang: &Lang) -> Option<PathBuf> {
        let code = lang.code();
        [
            code.to_string(),
            code.to_ascii_lowercase(),
            code.replace('-', "_"),
        ]
        .into_iter()
        .map(|c| dir.join(self.file_pattern.replace("{lang}", &c)))
        .find(|p| p.is_file())
    }

    fn format_of(&self, path: &Path) -> MessageFormat {
        match self.format {
            MessageFormat::Auto if path.extension().is_some_and(|e| e == "js") => {
                MessageFormat::BlocklyJs
            }
            MessageFormat::Auto => MessageFormat::Json,
            f => f,
        }
    }

    /// Every directory under `root` (itself included) with the pivot's and the native
    /// language's files, sorted.
    fn find_dirs(&self, root: &Path, native: &Lang) -> Result<Vec<PathBuf>> {
        let mut found = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            if self.file_in(&dir, &self.cleaning.pivot).is_some()
                && self.file_in(&dir, native).is_some()
            {
                found.push(dir.clone());
            }
            for entry in fs::read_dir(&dir).with_path(&dir)? {
                let entry = entry.with_path(&dir)?;
                if entry.file_type().with_path(entry.path())?.is_dir() {
                    stack.push(entry.path());
                }
            }
        }
        found.sort();
        Ok(found)
    }

    /// Reads, aligns and cleans the message files.
    pub fn load(&self, ctx: &SourceContext) -> Result<(Vec<Parallel>, CleaningReport)> {
        if !self.file_pattern.contains("{lang}") {
            return Err(Error::invalid("file_pattern", "must contain `{lang}`"));
        }
        if self.dirs.is_empty() && self.find_under.is_none() {
            return Err(Error::invalid("dirs", "give `dirs`, `find_under`, or both"));
        }
        let (native, langs) = source_langs(self.native.as_ref(), &self.langs, ctx)?;
        // (directory on disk, id prefix)
        let mut dirs: Vec<(PathBuf, String)> = Vec::new();
        for d in &self.dirs {
            let path = ctx.resolve(d);
            if !path.is_dir() {
                return Err(Error::io(
                    &path,
                    std::io::Error::new(std::io::ErrorKind::NotFound, "directory not found"),
                ));
            }
            dirs.push((path, slash_path(d)));
        }
        if let Some(under) = &self.find_under {
            let root = ctx.resolve(under);
            for d in self.find_dirs(&root, &native)? {
                let rel = d.strip_prefix(&root).map(slash_path).unwrap_or_default();
                dirs.push((d, rel));
            }
        }
        let provenance = Provenance::new(&self.source, &self.license);
        let mut b = CatalogueBuilder::new(native.clone(), provenance);
        for (dir, prefix) in &dirs {
            for lang in &langs {
                let Some(file) = self.file_in(dir, lang) else {
                    continue;
                };
                let messages = match self.format_of(&file) {
                    MessageFormat::BlocklyJs => read_blockly_js(&file)?,
                    _ => read_json_messages(&file, lang)?,
                };
                let origin = if prefix.is_empty() {
                    file.file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_default()
                } else {
                    format!(
                        "{prefix}/{}",
                        file.file_name().unwrap_or_default().to_string_lossy()
                    )
                };
                for (k, text) in messages {
                    let key = if prefix.is_empty() {
                        k
                    } else {
                        format!("{prefix}/{k}")
                    };
                    b.insert(&key, lang, &text);
                    if *lang == native {
                        b.set_origin(&key, origin.clone());
                    }
                }
            }
        }
        let (groups, report) = b.build(&self.cleaning);
        tracing::info!(source = %self.source, dirs = dirs.len(), "json_messages: {report}");
        Ok((groups, report))
    }
}

#[typetag::serde(name = "json_messages")]
impl SeedSource for JsonMessages {
    fn open(&self, ctx: &SourceContext) -> Result<SeedStream> {
        let (groups, _) = self.load(ctx)?;
        Ok(Box::new(groups.into_iter().map(|g| Ok(Seed::Parallel(g)))))
    }
}

/// Reads one JSON message file of `lang` into flattened `key → text` (see the module docs).
/// Errors name the file and line.
pub fn read_json_messages(path: impl AsRef<Path>, lang: &Lang) -> Result<BTreeMap<String, String>> {
    let path = path.as_ref();
    let text = fs::read_to_string(path).with_path(path)?;
    let value: Value = serde_json::from_str(text.trim_start_matches('\u{feff}'))
        .map_err(|e| Error::at_line(path, e.line(), format!("invalid JSON: {e}")))?;
    let Value::Object(mut top) = value else {
        return Err(Error::at_line(
            path,
            1,
            "expected a JSON object of messages",
        ));
    };
    if top.len() == 1 {
        let only = top.keys().next().cloned().unwrap_or_default();
        let names_lang = only.eq_ignore_ascii_case(lang.code())
            || Lang::parse_loose(&only).is_ok_and(|l| l == *lang);
        if names_lang
            && top.get(&only).is_some_and(Value::is_object)
            && let Some(Value::Object(inner)) = top.remove(&only)
        {
            top = inner;
        }
    }
    let mut out = BTreeMap::new();
    for (k, v) in top {
        if k.starts_with('@') {
            continue;
        }
        flatten(&k, v, &mut out);
    }
    Ok(out)
}

fn flatten(prefix: &str, value: Value, out: &mut BTreeMap<String, String>) {
    match value {
        Value::String(s) => {
            out.entry(prefix.to_string()).or_insert(s);
        }
        Value::Object(map) => {
            for (k, v) in map {
                flatten(&format!("{prefix}.{k}"), v, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.into_iter().enumerate() {
                flatten(&format!("{prefix}.{i}"), v, out);
            }
        }
        _ => {}
    }
}

/// Reads Blockly's `msg/{lang}.js`: every `Blockly.Msg["KEY"] = "text";` line whose text is a
/// string literal and that is not marked `// untranslated`. Errors name the file and line.
pub fn read_blockly_js(path: impl AsRef<Path>) -> Result<BTreeMap<String, String>> {
    let path = path.as_ref();
    let text = fs::read_to_string(path).with_path(path)?;
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let Some(rest) = line.trim_start().strip_prefix("Blockly.Msg[") else {
            continue;
        };
        let (key, rest) = js_string(rest).map_err(|m| Error::at_line(path, n, m))?;
        let Some(rest) = rest.trim_start().strip_prefix(']') else {
            return Err(Error::at_line(
                path,
                n,
                "expected `]` after the message key",
            ));
        };
        let Some(rest) = rest.trim_start().strip_prefix('=') else {
            return Err(Error::at_line(
                path,
                n,
                "expected `=` after the message key",
            ));
        };
        let rest = rest.trim_start();
        if !rest.starts_with(['"', '\'']) {
            continue; // an alias of another message: `Blockly.Msg["B"] = Blockly.Msg["A"];`
        }
        let (value, tail) = js_string(rest).map_err(|m| Error::at_line(path, n, m))?;
        if tail.contains("untranslated") {
            continue;
        }
        out.entry(key).or_insert(value);
    }
    Ok(out)
}

/// Parses a JavaScript string literal at the start of `s`; returns it and the rest.
fn js_string(s: &str) -> std::result::Result<(String, &str), String> {
    let mut chars = s.char_indices();
    let quote = match chars.next() {
        Some((_, q @ ('"' | '\''))) => q,
        _ => return Err("expected a quoted string".to_string()),
    };
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            c if c == quote => return Ok((out, &s[i + 1..])),
            '\\' => {
                let Some((_, e)) = chars.next() else { break };
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'v' => out.push('\u{b}'),
                    '0' => out.push('\0'),
                    'u' | 'x' => out.push(js_hex_escape(e, &mut chars)?),
                    other => out.push(other),
                }
            }
            c => out.push(c),
        }
    }
    Err("unterminated string".to_string())
}

/// The character of a `\xHH`, `\uHHHH` or `\u{H…}` escape whose letter `e` was just read.
/// JavaScript strings are UTF-16, so a character outside the Basic Multilingual Plane (an
/// emoji) is written as two `\uHHHH` escapes, a high and a low surrogate, and is joined here.
fn js_hex_escape(
    e: char,
    chars: &mut std::str::CharIndices<'_>,
) -> std::result::Result<char, String> {
    let bad = |text: &str| format!("bad escape `\\{e}{text}`");
    let unit = |chars: &mut std::str::CharIndices<'_>, len: usize| {
        let hex: String = chars.by_ref().take(len).map(|(_, h)| h).collect();
        match u32::from_str_radix(&hex, 16) {
            Ok(v) if hex.len() == len && hex.bytes().all(|b| b.is_ascii_hexdigit()) => Ok(v),
            _ => Err(hex),
        }
    };
    if e == 'x' {
        let v = unit(chars, 2).map_err(|h| bad(&h))?;
        return char::from_u32(v).ok_or_else(|| bad(&format!("{v:02x}")));
    }
    if chars.as_str().starts_with('{') {
        // ES2015 `\u{1F600}`.
        chars.next();
        let hex: String = chars
            .by_ref()
            .take_while(|&(_, h)| h != '}')
            .map(|(_, h)| h)
            .collect();
        return u32::from_str_radix(&hex, 16)
            .ok()
            .filter(|_| (1..=6).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(char::from_u32)
            .ok_or_else(|| bad(&format!("{{{hex}}}")));
    }
    let high = unit(chars, 4).map_err(|h| bad(&h))?;
    if !(0xD800..0xDC00).contains(&high) {
        return char::from_u32(high).ok_or_else(|| format!("lone low surrogate `\\u{high:04X}`"));
    }
    let lone = || format!("lone high surrogate `\\u{high:04X}` (no `\\uDC00`–`\\uDFFF` after it)");
    let rest = chars.as_str();
    if !rest.starts_with("\\u") {
        return Err(lone());
    }
    let mut ahead = chars.clone();
    ahead.next();
    ahead.next();
    match unit(&mut ahead, 4) {
        Ok(low) if (0xDC00..0xE000).contains(&low) => {
            *chars = ahead;
            let c = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
            Ok(char::from_u32(c).expect("a surrogate pair is a valid code point"))
        }
        _ => Err(lone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        let p = dir.join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    fn groups(source: &dyn SeedSource, dir: &Path) -> Vec<Parallel> {
        source
            .open(&SourceContext::new(dir))
            .unwrap()
            .map(|s| match s.unwrap() {
                Seed::Parallel(p) => p,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn banana_files_found_recursively() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(
            d,
            "mw/languages/i18n/en.json",
            r#"{"@metadata": {"authors": ["X"]}, "edit": "Edit", "history": "View {{GENDER:$1|history}}", "code": "mw-code_id"}"#,
        );
        write(
            d,
            "mw/languages/i18n/lb.json",
            r#"{"@metadata": {"authors": ["Robby"]}, "edit": "Änneren", "history": "{{GENDER:$1|Versiounen}} weisen", "code": "mw-code_id"}"#,
        );
        write(d, "mw/languages/i18n/de.json", r#"{"edit": "Bearbeiten"}"#);
        write(
            d,
            "mw/languages/i18n/fr.json",
            r#"{"edit": "Modifier", "history": "Voir l’historique"}"#,
        );
        write(
            d,
            "mw/extensions/Foo/i18n/en.json",
            r#"{"foo-desc": "Adds a foo"}"#,
        );
        write(
            d,
            "mw/extensions/Foo/i18n/lb.json",
            r#"{"foo-desc": "Setzt e Foo derbäi"}"#,
        );
        // No lb file: not a message directory.
        write(d, "mw/extensions/Bar/i18n/en.json", r#"{"bar": "Bar"}"#);
        write(d, "mw/extensions/Bar/i18n/de.json", r#"{"bar": "Stange"}"#);
        let source: Box<dyn SeedSource> = toml::from_str(
            "type = \"json_messages\"\nfind_under = \"mw\"\nsource = \"mediawiki\"\nlicense = \"GPL-2.0-or-later\"",
        )
        .unwrap();
        let g = groups(source.as_ref(), d);
        let ids: Vec<&str> = g.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "extensions/Foo/i18n/foo-desc",
                "languages/i18n/edit",
                "languages/i18n/history"
            ]
        );
        let edit = &g[1];
        assert_eq!(edit.texts.len(), 4);
        assert_eq!(edit.get(&Lang::LB), Some("Änneren"));
        assert_eq!(
            edit.provenance.origin.as_deref(),
            Some("languages/i18n/lb.json")
        );
        assert_eq!(edit.provenance.source, "mediawiki");
        assert_eq!(g[2].get(&Lang::EN), Some("View history"));
        assert_eq!(g[2].get(&Lang::LB), Some("Versiounen weisen"));
    }

    #[test]
    fn nested_files_drop_the_language_key() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let file = |lang: &str, name: &str, label: &str| {
            format!(
                r#"{{"{lang}": {{"presets": {{"fields": {{"name": {{"label": "{label}", "terms": ["{name}"]}}}}}}}}}}"#
            )
        };
        write(d, "id/en.json", &file("en", "title", "Name"));
        write(d, "id/lb.json", &file("lb", "Titel", "Numm"));
        write(d, "id/pt-BR.json", &file("pt-BR", "título", "Nome"));
        let s = JsonMessages {
            dirs: vec!["id".into()],
            find_under: None,
            langs: vec![Lang::EN, Lang::LB, Lang::new("pt-BR").unwrap()],
            native: Some(Lang::LB),
            file_pattern: default_pattern(),
            format: MessageFormat::Auto,
            source: "id-tagging-schema".into(),
            license: "ISC".into(),
            cleaning: CatalogueCleaning::default(),
        };
        let (g, report) = s.load(&SourceContext::new(d)).unwrap();
        let ids: Vec<&str> = g.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "id/presets.fields.name.label",
                "id/presets.fields.name.terms.0"
            ]
        );
        assert_eq!(g[0].get(&Lang::new("pt-BR").unwrap()), Some("Nome"));
        assert_eq!(report.texts.get(&Lang::LB), Some(&2));
        // A file whose single key is not its language keeps it.
        write(d, "x/en.json", r#"{"menu": {"open": "Open"}}"#);
        let m = read_json_messages(d.join("x/en.json"), &Lang::EN).unwrap();
        assert_eq!(m.keys().collect::<Vec<_>>(), ["menu.open"]);
    }

    #[test]
    fn blockly_js_skips_untranslated_and_aliases() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(
            d,
            "msg/en.js",
            "var Blockly = Blockly || { Msg: Object.create(null) };\nBlockly.Msg[\"ADD_COMMENT\"] = \"Add Comment\";\nBlockly.Msg[\"CLOSE\"] = \"Close\";\nBlockly.Msg[\"DELETE_X\"] = \"Delete %1 Blocks\";\nBlockly.Msg[\"ALIAS\"] = Blockly.Msg[\"CLOSE\"];\n",
        );
        write(
            d,
            "msg/lb.js",
            "Blockly.Msg[\"ADD_COMMENT\"] = \"Bemierkung derb\\u00e4isetzen\";\nBlockly.Msg[\"CLOSE\"] = \"Close\";  // untranslated\nBlockly.Msg['DELETE_X'] = 'Block %1 l\\xe4schen';\n",
        );
        let source: Box<dyn SeedSource> = toml::from_str(
            "type = \"json_messages\"\ndirs = [\"msg\"]\nfile_pattern = \"{lang}.js\"\nlicense = \"Apache-2.0\"",
        )
        .unwrap();
        let g = groups(source.as_ref(), d);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].id, "msg/ADD_COMMENT");
        assert_eq!(g[0].get(&Lang::LB), Some("Bemierkung derbäisetzen"));
        assert_eq!(g[1].get(&Lang::LB), Some("Block {1} läschen"));
        assert_eq!(g[1].get(&Lang::EN), Some("Delete {1} Blocks"));
        let m = read_blockly_js(d.join("msg/en.js")).unwrap();
        assert!(!m.contains_key("ALIAS") && m.len() == 3);
    }

    #[test]
    fn js_strings_join_surrogate_pairs_and_name_lone_ones() {
        let ok = |lit: &str| js_string(lit).map(|(s, rest)| (s, rest.to_string()));
        assert_eq!(ok(r#""a\uD83D\uDE00b";"#), Ok(("a😀b".into(), ";".into())));
        assert_eq!(ok(r#"'\ud83d\ude00'"#), Ok(("😀".into(), "".into())));
        assert_eq!(ok(r#""\u{1F600}\u{e4}""#), Ok(("😀ä".into(), "".into())));
        assert_eq!(ok(r#""\xe4\u00E4""#), Ok(("ää".into(), "".into())));
        let err = |lit: &str| js_string(lit).unwrap_err();
        assert!(err(r#""\uD83Dx""#).contains("lone high surrogate `\\uD83D`"));
        assert!(err(r#""\uD83D\u0041""#).contains("lone high surrogate"));
        assert!(err(r#""\uDE00""#).contains("lone low surrogate `\\uDE00`"));
        assert!(err(r#""\u12""#).contains("bad escape"));
        assert!(err(r#""\u+123""#).contains("bad escape"));
        assert!(err(r#""\u{110000}""#).contains("bad escape `\\u{110000}`"));
        assert!(err(r#""\x4""#).contains("bad escape"));
    }

    #[test]
    fn malformed_files_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(d, "bad/en.json", "{\n  \"a\": \"b\",\n  \"c\": \n}\n");
        write(d, "bad/lb.json", "{}");
        let s: Box<dyn SeedSource> =
            toml::from_str("type = \"json_messages\"\ndirs = [\"bad\"]").unwrap();
        let e = s.open(&SourceContext::new(d)).err().unwrap().to_string();
        assert!(
            e.contains("en.json:line 4") && e.contains("invalid JSON"),
            "{e}"
        );
        write(d, "arr/en.json", "[1, 2]");
        let e = read_json_messages(d.join("arr/en.json"), &Lang::EN)
            .unwrap_err()
            .to_string();
        assert!(e.contains("en.json:line 1") && e.contains("object"), "{e}");
        write(d, "js/lb.js", "// header\nBlockly.Msg[\"A\"] = \"open;\n");
        let e = read_blockly_js(d.join("js/lb.js")).unwrap_err().to_string();
        assert!(
            e.contains("lb.js:line 2") && e.contains("unterminated"),
            "{e}"
        );
        write(d, "js/de.js", "Blockly.Msg[\"A\" = \"x\";\n");
        let e = read_blockly_js(d.join("js/de.js")).unwrap_err().to_string();
        assert!(e.contains("de.js:line 1") && e.contains("`]`"), "{e}");
        let none: Box<dyn SeedSource> = toml::from_str("type = \"json_messages\"").unwrap();
        assert!(
            none.open(&SourceContext::new(d))
                .err()
                .unwrap()
                .to_string()
                .contains("find_under")
        );
        let missing: Box<dyn SeedSource> =
            toml::from_str("type = \"json_messages\"\ndirs = [\"nope\"]").unwrap();
        assert!(
            missing
                .open(&SourceContext::new(d))
                .err()
                .unwrap()
                .to_string()
                .contains("nope")
        );
        assert!(
            toml::from_str::<Box<dyn SeedSource>>("type = \"json_messages\"\nfoo = 1").is_err()
        );
    }
}
