//! [`PromptTemplate`]: the one prompt-template type of lux — text with `{name}` placeholders,
//! built in or replaced by a file a recipe names. The LLM-backed judges, generators and
//! benchmarks (`lux-eval`, `lux-plugins`) and the offline instruction templates (`lux-data`)
//! all render through it.
//!
//! A placeholder is `{` + a lower-case identifier + `}` (`{text}`, `{instruction_language}`);
//! any other brace is literal, so JSON examples such as `{"span": "..."}` need no escaping.
//! Values are inserted once and never scanned again: a document containing `{text}` stays as
//! it is.
//!
//! ```
//! use lux_core::prompt::PromptTemplate;
//!
//! let t = PromptTemplate::builtin("greeting", r#"Say {word} as {"json": true}"#);
//! t.check(&["word"]).unwrap();
//! assert_eq!(t.render(&[("word", "moien")]).unwrap(), r#"Say moien as {"json": true}"#);
//! ```

use std::path::Path;

use crate::{Error, IoContext, Result, rng};

/// One prompt of a plugin, for [`PromptTemplate::load_all`]: the file its settings name, if
/// any, else the built-in text.
#[derive(Debug, Clone, Copy)]
pub struct PromptSource<'a> {
    /// The file the settings name (relative paths resolve against the recipe's directory).
    pub path: Option<&'a Path>,
    /// The built-in's name in errors (`g_eval.form (built in)`).
    pub builtin_origin: &'a str,
    /// The built-in text.
    pub builtin: &'a str,
    /// The placeholders the plugin fills.
    pub placeholders: &'a [&'a str],
}

/// A prompt template and where it came from (a path, or the built-in's name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptTemplate {
    origin: String,
    text: String,
}

impl PromptTemplate {
    /// A template compiled into the binary (or given in a recipe); `origin` names it in
    /// errors.
    pub fn builtin(origin: impl Into<String>, text: impl Into<String>) -> PromptTemplate {
        PromptTemplate {
            origin: origin.into(),
            text: text.into(),
        }
    }

    /// Reads a template file; an error names the path.
    pub fn load(path: impl AsRef<Path>) -> Result<PromptTemplate> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).with_path(path)?;
        Ok(PromptTemplate {
            origin: path.display().to_string(),
            text,
        })
    }

    /// The file at `path` if given, else the built-in text; then checks that it uses only
    /// the `known` placeholders (an error names the file and the placeholder).
    pub fn load_or(
        path: Option<&Path>,
        builtin_origin: &str,
        builtin: &str,
        known: &[&str],
    ) -> Result<PromptTemplate> {
        let t = match path {
            Some(p) => PromptTemplate::load(p)?,
            None => PromptTemplate::builtin(builtin_origin, builtin),
        };
        t.check(known)?;
        Ok(t)
    }

    /// Loads a plugin's prompts, each from the file its settings name (relative to
    /// `base_dir`) or built in, checked against its placeholders — or `None` when a file is
    /// relative and `base_dir` is not known yet: a plugin is deserialised from a recipe before
    /// anyone knows where the recipe lives, and loads its prompts again in `prepare`.
    pub fn load_all<const N: usize>(
        prompts: [PromptSource<'_>; N],
        base_dir: Option<&Path>,
    ) -> Result<Option<[PromptTemplate; N]>> {
        if base_dir.is_none()
            && prompts
                .iter()
                .any(|p| p.path.is_some_and(Path::is_relative))
        {
            return Ok(None);
        }
        let mut loaded = Vec::with_capacity(N);
        for p in prompts {
            let path = p
                .path
                .map(|path| base_dir.map_or_else(|| path.to_path_buf(), |b| b.join(path)));
            loaded.push(PromptTemplate::load_or(
                path.as_deref(),
                p.builtin_origin,
                p.builtin,
                p.placeholders,
            )?);
        }
        Ok(Some(loaded.try_into().unwrap_or_else(|_| {
            unreachable!("one template per source")
        })))
    }

    /// The template text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Where it came from: a path, or the built-in's name.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The placeholders it uses, in order of appearance (repeats included).
    pub fn placeholders(&self) -> Vec<&str> {
        let mut out = Vec::new();
        scan(&self.text, |piece| {
            if let Piece::Placeholder(name) = piece {
                out.push(name);
            }
        });
        out
    }

    /// An error naming the template and the placeholder if it uses one not in `known`.
    pub fn check(&self, known: &[&str]) -> Result<()> {
        match self.placeholders().into_iter().find(|p| !known.contains(p)) {
            None => Ok(()),
            Some(p) => Err(Error::invalid(
                format!("prompt {}", self.origin),
                format!(
                    "uses {{{p}}}, which is not provided (available: {})",
                    known
                        .iter()
                        .map(|k| format!("{{{k}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }

    /// The text with every placeholder replaced by its value; an error names a placeholder
    /// without one.
    pub fn render(&self, vars: &[(&str, &str)]) -> Result<String> {
        let mut out =
            String::with_capacity(self.text.len() + vars.iter().map(|v| v.1.len()).sum::<usize>());
        let mut missing = None;
        scan(&self.text, |piece| match piece {
            Piece::Literal(s) => out.push_str(s),
            Piece::Placeholder(name) => match vars.iter().find(|(k, _)| *k == name) {
                Some((_, v)) => out.push_str(v),
                None => {
                    missing.get_or_insert(name);
                }
            },
        });
        match missing {
            None => Ok(out),
            Some(name) => Err(Error::invalid(
                format!("prompt {}", self.origin),
                format!("uses {{{name}}}, which is not provided"),
            )),
        }
    }
}

/// A short stable hash of prompt texts, recorded in examples so that prompt effects can be
/// studied.
pub fn prompt_hash(templates: &[&PromptTemplate]) -> String {
    let joined: Vec<&str> = templates.iter().map(|t| t.text.as_str()).collect();
    rng::id(&joined.join("\u{0}"))[..8].to_string()
}

enum Piece<'a> {
    Literal(&'a str),
    Placeholder(&'a str),
}

fn scan<'a>(text: &'a str, mut f: impl FnMut(Piece<'a>)) {
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let ident_len = after
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
            .map_or(after.len(), |(i, _)| i);
        let is_placeholder = ident_len > 0
            && after[ident_len..].starts_with('}')
            && !after.starts_with(|c: char| c.is_ascii_digit());
        if is_placeholder {
            f(Piece::Literal(&rest[..open]));
            f(Piece::Placeholder(&after[..ident_len]));
            rest = &after[ident_len + 1..];
        } else {
            f(Piece::Literal(&rest[..=open]));
            rest = after;
        }
    }
    f(Piece::Literal(rest));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_literal_braces() {
        let t = PromptTemplate::builtin("t", "Answer {\"span\": \"{x}\"} in {lang}; {Not} {1a} {");
        assert_eq!(t.placeholders(), vec!["x", "lang"]);
        let out = t.render(&[("x", "{lang}"), ("lang", "fr")]).unwrap();
        assert_eq!(out, "Answer {\"span\": \"{lang}\"} in fr; {Not} {1a} {");
        assert!(t.check(&["x", "lang"]).is_ok());
        let e = t.check(&["x"]).unwrap_err().to_string();
        assert!(e.contains("{lang}") && e.contains("prompt t"), "{e}");
        assert!(t.render(&[("x", "1")]).is_err());
    }

    #[test]
    fn renders_and_checks_placeholders() {
        let t =
            PromptTemplate::load_or(None, "t", "{\"score\": {min}} {x}{", &["min", "x"]).unwrap();
        assert_eq!(t.placeholders(), vec!["min", "x"]);
        assert_eq!(
            t.render(&[("min", "1"), ("x", "{min}")]).unwrap(),
            "{\"score\": 1} {min}{"
        );
        assert!(t.render(&[("min", "1")]).is_err());
        let e = PromptTemplate::load_or(None, "builtin", "{nope}", &["x"]).unwrap_err();
        assert!(e.to_string().contains("{nope}"), "{e}");
        let e = PromptTemplate::load_or(Some(Path::new("/no/such/prompt.txt")), "b", "", &[])
            .unwrap_err();
        assert!(e.to_string().contains("/no/such/prompt.txt"), "{e}");
    }

    #[test]
    fn loads_files_and_names_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.txt");
        std::fs::write(&path, "Hi {name}").unwrap();
        let t = PromptTemplate::load_or(Some(&path), "b", "unused", &["name"]).unwrap();
        assert_eq!(t.origin(), path.display().to_string());
        assert_eq!(t.text(), "Hi {name}");
        let e = PromptTemplate::load_or(Some(&path), "b", "", &["x"]).unwrap_err();
        assert!(e.to_string().contains("p.txt"), "{e}");
    }

    #[test]
    fn hash_changes_with_text() {
        let a = PromptTemplate::builtin("a", "x");
        let b = PromptTemplate::builtin("b", "y");
        assert_eq!(prompt_hash(&[&a]).len(), 8);
        assert_ne!(prompt_hash(&[&a]), prompt_hash(&[&b]));
        assert_eq!(
            prompt_hash(&[&a]),
            prompt_hash(&[&PromptTemplate::builtin("c", "x")])
        );
    }
}
