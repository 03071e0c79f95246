use std::sync::OnceLock;

use lux_core::{Error, Example, Filter, FilterContext, Result, Verdict};
use regex::Regex;
use serde::{Deserialize, Serialize};

use super::common::{Field, all_fields};

/// Leftover wiki or HTML markup, found as literal text.
const MARKUP_LITERALS: &[&str] = &[
    "{{", "}}", "[[", "]]", "{|", "|}", "<ref", "</", "/>", "==", "'''", "&nbsp;",
];

/// Markup and placeholders found by pattern: `(name, is a placeholder, regex)`. The name is
/// what `allow` refers to.
const PATTERNS: &[(&str, bool, &str)] = &[
    (
        "<tag>",
        false,
        r"(?i)<(?:a|b|i|u|s|p|br|hr|em|strong|small|big|sup|sub|span|div|center|font|table|tr|td|th|ul|ol|li|img|code|pre|math|nowiki|gallery|blockquote|references?)\b[^<>]*>",
    ),
    (
        "&entity;",
        false,
        r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});",
    ),
    ("{0}", true, r"\{[0-9]+\}"),
    ("{name}", true, r"\{[A-Za-z_][A-Za-z0-9_.\-]*\}"),
    (
        "{x, plural}",
        true,
        r"\{[A-Za-z_][A-Za-z0-9_]*\s*,\s*(?:plural|select|selectordinal|number|date|time)\b",
    ),
    ("%(name)s", true, r"%\([A-Za-z_][A-Za-z0-9_]*\)[sdifrx]"),
    (
        "%s",
        true,
        r"%(?:[0-9]+\$)?[-+#0]*[0-9]*(?:\.[0-9]+)?(?:l{0,2}|h{0,2})[sdifuxXeEgGc@](?:\b|$)",
    ),
    ("%1", true, r"(?:^|[^0-9])(%[1-9])\b"),
    ("$1", true, r"\$[1-9]\b"),
];

fn patterns() -> &'static [(&'static str, bool, Regex)] {
    static COMPILED: OnceLock<Vec<(&str, bool, Regex)>> = OnceLock::new();
    COMPILED.get_or_init(|| {
        PATTERNS
            .iter()
            .map(|&(name, placeholder, re)| {
                (
                    name,
                    placeholder,
                    Regex::new(re).expect("built-in patterns are valid"),
                )
            })
            .collect()
    })
}

/// Drops examples with leftovers of their sources: wiki and HTML markup (`{{`, `[[`, `]]`,
/// `<ref`, `</`, `|}`, `==`, `'''`, `&nbsp;`, HTML tags and entities), unfilled placeholders
/// of localisation files and templates (`{0}`, `{name}`, `{n, plural, …}`, `%s`, `%1$d`,
/// `%(name)s`, `%1`, `$1`), and control characters (other than newline, tab and carriage
/// return), byte-order marks, zero-width spaces and U+FFFD replacement characters (the sign
/// of a decoding error).
///
/// `$1` also matches a price such as `$5`; list it in `allow` for texts with prices. `allow`
/// takes the literal markers above and the pattern names `<tag>`, `&entity;`, `{0}`,
/// `{name}`, `{x, plural}`, `%(name)s`, `%s`, `%1`, `$1`.
///
/// ```toml
/// [[filters]]
/// type = "markup"
/// fields = ["output"]
/// allow = ["=="]
/// ```
///
/// Drop reasons: `markup: "[[" in output`, `placeholder: "%s" in instruction`,
/// `control character: U+0007 in output`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Markup {
    /// Fields to look at (all three by default).
    #[serde(default = "all_fields")]
    pub fields: Vec<Field>,
    /// Look for wiki and HTML markup.
    #[serde(default = "yes")]
    pub markup: bool,
    /// Look for unfilled placeholders.
    #[serde(default = "yes")]
    pub placeholders: bool,
    /// Look for control and invisible characters.
    #[serde(default = "yes")]
    pub control_chars: bool,
    /// More literal strings that count as markup.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra: Vec<String>,
    /// Built-in markers or pattern names not to look for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
}

fn yes() -> bool {
    true
}

impl Default for Markup {
    fn default() -> Self {
        Markup {
            fields: all_fields(),
            markup: true,
            placeholders: true,
            control_chars: true,
            extra: Vec::new(),
            allow: Vec::new(),
        }
    }
}

/// Whether `c` betrays broken text: a control character other than `\n`, `\t`, `\r`, a
/// byte-order mark or zero-width space, or the replacement character.
fn is_bad_char(c: char) -> bool {
    (c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
        || matches!(c, '\u{feff}' | '\u{200b}' | '\u{fffd}')
}

/// At most 40 characters of a match, for a drop reason.
fn short(s: &str) -> String {
    s.chars().take(40).collect()
}

impl Markup {
    fn allowed(&self, name: &str) -> bool {
        self.allow.iter().any(|a| a == name)
    }

    fn find(&self, text: &str) -> Option<String> {
        if self.control_chars
            && let Some(c) = text.chars().find(|&c| is_bad_char(c))
        {
            return Some(format!("control character: U+{:04X}", u32::from(c)));
        }
        // Placeholders first: `{n, plural, … {…}}` is a placeholder even though it ends in `}}`.
        if let Some(found) = self.find_pattern(text, true) {
            return Some(format!("placeholder: {:?}", short(found)));
        }
        if self.markup {
            let literal = MARKUP_LITERALS
                .iter()
                .copied()
                .chain(self.extra.iter().map(String::as_str))
                .find(|m| !m.is_empty() && text.contains(m) && !self.allowed(m));
            if let Some(m) = literal {
                return Some(format!("markup: {m:?}"));
            }
            if let Some(found) = self.find_pattern(text, false) {
                return Some(format!("markup: {:?}", short(found)));
            }
        }
        None
    }

    /// The first match of a wanted built-in pattern (its group 1 when it has one).
    fn find_pattern<'t>(&self, text: &'t str, placeholders: bool) -> Option<&'t str> {
        if placeholders && !self.placeholders {
            return None;
        }
        for (name, placeholder, re) in patterns() {
            if *placeholder != placeholders || self.allowed(name) || !re.is_match(text) {
                continue;
            }
            let caps = re.captures(text)?;
            return caps.get(1).or_else(|| caps.get(0)).map(|m| m.as_str());
        }
        None
    }
}

#[typetag::serde(name = "markup")]
impl Filter for Markup {
    fn prepare(&mut self, _ctx: &FilterContext) -> Result<()> {
        if self.fields.is_empty() {
            return Err(Error::invalid("markup.fields", "name at least one field"));
        }
        Ok(())
    }

    fn check(&mut self, example: &Example) -> Result<Verdict> {
        for &field in &self.fields {
            if let Some(found) = field.get(example).and_then(|t| self.find(t)) {
                return Ok(Verdict::drop(format!("{found} in {}", field.name())));
            }
        }
        Ok(Verdict::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filters::testing::*;

    fn reason_for(output: &str) -> Option<String> {
        run(
            &mut Markup::default(),
            &[ex("Translate this sentence.", output)],
        )
        .remove(0)
    }

    #[test]
    fn finds_wiki_and_html_markup() {
        for (text, found) in [
            ("Lëtzebuerg ass e [[Land]] an Europa.", "\"[[\""),
            ("{{Infobox Land}} Lëtzebuerg", "\"{{\""),
            ("Text<ref name=x>Quell</ref>", "\"<ref\""),
            ("== Geschicht ==", "\"==\""),
            ("Tabell |}", "\"|}\""),
            ("Moien&nbsp;Welt", "\"&nbsp;\""),
            ("Zeil<br>nächst Zeil", "\"<br>\""),
            ("A &amp; B", "\"&amp;\""),
            ("'''Lëtzebuerg''' ass e Land.", "\"'''\""),
        ] {
            let r = reason_for(text).unwrap_or_else(|| panic!("{text:?} kept"));
            assert_eq!(r, format!("markup: {found} in output"), "{text:?}");
        }
    }

    #[test]
    fn finds_unfilled_placeholders() {
        for (text, found) in [
            ("De Fichier {0} gouf gespäichert.", "{0}"),
            ("Moien {name}, wéi geet et?", "{name}"),
            (
                "{count, plural, one {# Fichier} other {# Fichieren}}",
                "{count, plural",
            ),
            ("De Fichier %s gouf gespäichert.", "%s"),
            ("%1$d Fichieren", "%1$d"),
            ("Moien %(user)s!", "%(user)s"),
            ("Säit $1 gouf geläscht.", "$1"),
            ("Säit %1 gouf geläscht.", "%1"),
        ] {
            let r = reason_for(text).unwrap_or_else(|| panic!("{text:?} kept"));
            assert_eq!(r, format!("placeholder: {found:?} in output"), "{text:?}");
        }
    }

    #[test]
    fn plain_text_is_kept() {
        for text in [
            "D'Präisser sinn ëm 5 % an d'Luucht gaang.",
            "Eng 5%ige Léisung, 100% sécher.",
            "Hien huet gesot: „Dat ass richteg.“ (2024)",
            "a < b an c > d",
            "Zeil eent\nZeil zwee\tmat Tab",
            "R&D ass wichteg; Q&A.",
        ] {
            assert_eq!(reason_for(text), None, "{text:?}");
        }
    }

    #[test]
    fn finds_control_characters() {
        assert_eq!(
            reason_for("Moien\u{7} Welt").as_deref(),
            Some("control character: U+0007 in output")
        );
        assert_eq!(
            reason_for("M\u{fffd}ien").as_deref(),
            Some("control character: U+FFFD in output")
        );
    }

    #[test]
    fn fields_allow_and_switches() {
        let e = ex("Translate {word} into {native}.", "== a ==");
        let r = run(&mut Markup::default(), std::slice::from_ref(&e));
        assert_eq!(
            r[0].as_deref(),
            Some("placeholder: \"{word}\" in instruction")
        );
        let mut f = Markup {
            fields: vec![Field::Output],
            allow: vec!["==".into()],
            ..Default::default()
        };
        assert_eq!(run(&mut f, std::slice::from_ref(&e)), [None]);
        let mut g = Markup {
            placeholders: false,
            extra: vec!["@@".into()],
            ..Default::default()
        };
        let r = run(&mut g, &[e, ex("Translate {word}.", "a @@ b")]);
        assert_eq!(r[0].as_deref(), Some("markup: \"==\" in output"));
        assert_eq!(r[1].as_deref(), Some("markup: \"@@\" in output"));
        assert!(
            Markup {
                fields: vec![],
                ..Default::default()
            }
            .prepare(&ctx())
            .is_err()
        );
    }

    #[test]
    fn deserialises_through_the_trait() {
        let mut f = from_toml("type = \"markup\"\nfields = [\"input\"]\ncontrol_chars = false");
        assert_eq!(f.name(), "markup");
        let r = run(f.as_mut(), &[example("{{x}}", Some("[[y]]"), "\u{7}")]);
        assert_eq!(r[0].as_deref(), Some("markup: \"[[\" in input"));
        assert!(
            toml::from_str::<Box<dyn Filter>>("type = \"markup\"\nfields = [\"title\"]").is_err()
        );
    }
}
