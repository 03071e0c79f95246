//! Prompt templates of the LLM-backed evaluations: text with `{name}` placeholders, built in
//! or replaced by a file a recipe names.
//!
//! A placeholder is `{` + a lower-case identifier + `}`; any other brace is literal, so JSON
//! examples in a prompt need no escaping. Values are inserted once and never rescanned: a
//! response that contains `{response}` stays as it is.

use std::path::Path;

use lux_core::{Error, IoContext, Result};

/// A prompt template and where it came from (a path, or the built-in's name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    origin: String,
    text: String,
}

impl Template {
    /// The file at `path` if given, else the built-in `text`; then checks that it uses only
    /// `known` placeholders (an error names the file and the placeholder).
    pub fn load_or(
        path: Option<&Path>,
        builtin_origin: &str,
        builtin: &str,
        known: &[&str],
    ) -> Result<Template> {
        let t = match path {
            Some(p) => Template {
                origin: p.display().to_string(),
                text: std::fs::read_to_string(p).with_path(p)?,
            },
            None => Template {
                origin: builtin_origin.to_string(),
                text: builtin.to_string(),
            },
        };
        if let Some(p) = t.placeholders().into_iter().find(|p| !known.contains(p)) {
            return Err(Error::invalid(
                format!("prompt {}", t.origin),
                format!(
                    "uses {{{p}}}, which is not provided (available: {})",
                    known
                        .iter()
                        .map(|k| format!("{{{k}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        Ok(t)
    }

    /// Where the template came from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The placeholders used, in order (repeats included).
    pub fn placeholders(&self) -> Vec<&str> {
        let mut out = Vec::new();
        scan(&self.text, |p| {
            if let Piece::Placeholder(name) = p {
                out.push(name);
            }
        });
        out
    }

    /// The text with every placeholder replaced; an error names a placeholder without value.
    pub fn render(&self, vars: &[(&str, &str)]) -> Result<String> {
        let mut out = String::with_capacity(self.text.len() + 256);
        let mut missing = None;
        scan(&self.text, |p| match p {
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

enum Piece<'a> {
    Literal(&'a str),
    Placeholder(&'a str),
}

fn scan<'a>(text: &'a str, mut f: impl FnMut(Piece<'a>)) {
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let len = after
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(after.len());
        if len > 0
            && after[len..].starts_with('}')
            && !after.starts_with(|c: char| c.is_ascii_digit())
        {
            f(Piece::Literal(&rest[..open]));
            f(Piece::Placeholder(&after[..len]));
            rest = &after[len + 1..];
        } else {
            f(Piece::Literal(&rest[..=open]));
            rest = after;
        }
    }
    f(Piece::Literal(rest));
}

/// The JSON object in a model's answer: the whole answer, else inside a Markdown code fence,
/// else from the first `{` to the last `}`. The error says why, for the failure record.
pub(crate) fn parse_json_object(
    answer: &str,
) -> std::result::Result<serde_json::Map<String, serde_json::Value>, String> {
    let t = answer.trim();
    if t.is_empty() {
        return Err("empty answer".into());
    }
    let mut candidates = vec![t];
    if let Some(rest) = t.strip_prefix("```") {
        let rest = rest.trim_start_matches(|c: char| c.is_ascii_alphanumeric());
        candidates.push(rest.trim_end().strip_suffix("```").unwrap_or(rest).trim());
    }
    if let (Some(a), Some(b)) = (t.find('{'), t.rfind('}'))
        && a < b
    {
        candidates.push(&t[a..=b]);
    }
    let mut first_err = None;
    for c in candidates {
        match serde_json::from_str::<serde_json::Value>(c) {
            Ok(serde_json::Value::Object(m)) => return Ok(m),
            Ok(_) => {
                first_err.get_or_insert_with(|| "answer is not a JSON object".to_string());
            }
            Err(e) => {
                first_err.get_or_insert_with(|| format!("invalid JSON: {e}"));
            }
        }
    }
    Err(first_err.unwrap_or_default())
}

/// `text` cut to `max` characters with an ellipsis, for error messages.
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(max).collect();
        s.push('…');
        s
    }
}

/// `x` without a trailing `.0` when whole (`5`, `2.5`).
pub(crate) fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_checks_placeholders() {
        let t = Template::load_or(None, "t", "{\"score\": {min}} {x}{", &["min", "x"]).unwrap();
        assert_eq!(t.placeholders(), vec!["min", "x"]);
        assert_eq!(
            t.render(&[("min", "1"), ("x", "{min}")]).unwrap(),
            "{\"score\": 1} {min}{"
        );
        assert!(t.render(&[("min", "1")]).is_err());
        let e = Template::load_or(None, "builtin", "{nope}", &["x"]).unwrap_err();
        assert!(e.to_string().contains("{nope}"), "{e}");
        let e =
            Template::load_or(Some(Path::new("/no/such/prompt.txt")), "b", "", &[]).unwrap_err();
        assert!(e.to_string().contains("/no/such/prompt.txt"), "{e}");
    }

    #[test]
    fn finds_json_in_chatter() {
        assert!(parse_json_object("```json\n{\"a\": 1}\n```").is_ok());
        assert!(parse_json_object("Sure! {\"a\": 1} done").is_ok());
        assert!(
            parse_json_object("[1]")
                .unwrap_err()
                .contains("not a JSON object")
        );
        assert!(parse_json_object("").is_err());
        assert!(
            parse_json_object("no")
                .unwrap_err()
                .contains("invalid JSON")
        );
    }
}
