use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;
use crate::lang_table::{self, LangTable};

/// A language, named by its ISO 639 code (`lb`, `en`, `fr`, `de`, `gsw`…).
///
/// Codes are lower-case ASCII letters, two or three of them, optionally followed by a
/// region or script subtag (`pt-BR`, `sr-Latn`) as in BCP 47. Localisation files name
/// languages in many spellings (`pt_BR`, `lb-LU`); [`Lang::parse_loose`] maps those.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lang(Cow<'static, str>);

impl Lang {
    /// Luxembourgish, the first language lux was built for.
    pub const LB: Lang = Lang(Cow::Borrowed("lb"));
    /// English.
    pub const EN: Lang = Lang(Cow::Borrowed("en"));
    /// French.
    pub const FR: Lang = Lang(Cow::Borrowed("fr"));
    /// German.
    pub const DE: Lang = Lang(Cow::Borrowed("de"));

    /// Parses a strict code: `xx`, `xxx`, optionally `-Subtag`.
    pub fn new(code: &str) -> Result<Lang, Error> {
        let mut parts = code.split('-');
        let primary = parts.next().unwrap_or_default();
        let primary_ok =
            (2..=3).contains(&primary.len()) && primary.bytes().all(|b| b.is_ascii_lowercase());
        let rest_ok = parts
            .all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()));
        if primary_ok && rest_ok {
            Ok(Lang(Cow::Owned(code.to_string())))
        } else {
            Err(Error::invalid(
                "language",
                format!("`{code}` is not an ISO 639 code (expected e.g. `lb`, `en`, `pt-BR`)"),
            ))
        }
    }

    /// Parses the spellings found in localisation files: `lb_LU`, `LB`, `pt-br`, `de@formal`.
    pub fn parse_loose(code: &str) -> Result<Lang, Error> {
        let code = code
            .split(['@', '.'])
            .next()
            .unwrap_or_default()
            .replace('_', "-");
        let mut parts = code.split('-');
        let mut out = parts.next().unwrap_or_default().to_ascii_lowercase();
        for p in parts {
            out.push('-');
            if p.len() == 2 {
                out.push_str(&p.to_ascii_uppercase());
            } else {
                out.push_str(p);
            }
        }
        Lang::new(&out)
    }

    /// The code as written (`lb`, `pt-BR`).
    pub fn code(&self) -> &str {
        &self.0
    }

    /// The primary language subtag (`pt` for `pt-BR`).
    pub fn primary(&self) -> &str {
        self.0.split('-').next().unwrap_or(&self.0)
    }

    /// The language's English name (`Faroese` for `fo`), from the language-names table;
    /// the code itself for a language the table lacks (logged once).
    pub fn english_name(&self) -> &str {
        match names().get(&Lang::EN).and_then(|t| self.lookup(t)) {
            Some(name) => name,
            None => {
                lang_table::warn_missing("language_names.en", self, "its code");
                self.code()
            }
        }
    }

    /// The language's name written in `in_lang` (`féroïen` for `fo` in `fr`, `føroyskt` in
    /// `fo`), from the language-names table (Unicode CLDR's names, `tables/language_names.toml`),
    /// falling back to [`Lang::english_name`] where the table has no name in `in_lang`
    /// (logged once per language).
    pub fn name_in(&self, in_lang: &Lang) -> String {
        if let Some(name) = names().get(in_lang).and_then(|t| self.lookup(t)) {
            return name.to_string();
        }
        lang_table::warn_missing(
            &format!("language_names.{}", in_lang.primary()),
            self,
            "the English name",
        );
        self.english_name().to_string()
    }

    /// This language's row of one language's names: exact code, then primary subtag.
    fn lookup<'t>(&self, names: &'t BTreeMap<String, String>) -> Option<&'t str> {
        names
            .get(self.code())
            .or_else(|| names.get(self.primary()))
            .map(String::as_str)
    }
}

/// The embedded language-names table: `[in] of = "name"`, parsed on first use.
fn names() -> &'static LangTable<BTreeMap<String, String>> {
    static NAMES: OnceLock<LangTable<BTreeMap<String, String>>> = OnceLock::new();
    NAMES.get_or_init(|| {
        LangTable::from_toml(
            "language_names",
            "lux-core/tables/language_names.toml",
            include_str!("../tables/language_names.toml"),
        )
        // Embedded at build time and parsed by this module's tests.
        .expect("the embedded language-names table parses")
    })
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Lang({})", self.0)
    }
}

impl FromStr for Lang {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Lang::new(s)
    }
}

impl Serialize for Lang {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Lang {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Lang::new(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_codes() {
        assert_eq!(Lang::new("lb").unwrap(), Lang::LB);
        assert!(Lang::new("gsw").is_ok());
        assert!(Lang::new("pt-BR").is_ok());
        assert!(Lang::new("LB").is_err());
        assert!(Lang::new("luxembourgish").is_err());
        assert!(Lang::new("").is_err());
    }

    #[test]
    fn loose_codes() {
        assert_eq!(Lang::parse_loose("lb_LU").unwrap().code(), "lb-LU");
        assert_eq!(Lang::parse_loose("DE").unwrap(), Lang::DE);
        assert_eq!(Lang::parse_loose("de@formal").unwrap(), Lang::DE);
        assert_eq!(Lang::parse_loose("pt-br").unwrap().code(), "pt-BR");
        assert_eq!(Lang::parse_loose("pt-br").unwrap().primary(), "pt");
    }

    #[test]
    fn names_come_from_the_table_with_english_then_the_code_as_fallback() {
        let fo = Lang::new("fo").unwrap();
        assert_eq!(fo.english_name(), "Faroese");
        assert_eq!(fo.name_in(&Lang::FR), "féroïen");
        assert_eq!(fo.name_in(&Lang::DE), "Färöisch");
        assert_eq!(fo.name_in(&fo), "føroyskt");
        assert_eq!(Lang::LB.name_in(&Lang::LB), "Lëtzebuergesch");
        assert_eq!(Lang::LB.name_in(&Lang::FR), "luxembourgeois");
        assert_eq!(Lang::new("pt-BR").unwrap().name_in(&Lang::EN), "Portuguese");
        // No names written in Faroese except its own: English.
        assert_eq!(Lang::LB.name_in(&fo), "Luxembourgish");
        // Not in CLDR: the code.
        assert_eq!(Lang::new("qaa").unwrap().english_name(), "qaa");
        // Every in-language row holds English, French and German names.
        for l in ["en", "fr", "de"] {
            assert!(names().get(&Lang::new(l).unwrap()).unwrap().len() > 300);
        }
    }

    #[test]
    fn serde_round_trip_rejects_bad_codes() {
        let l: Lang = serde_json::from_str("\"fr\"").unwrap();
        assert_eq!(l, Lang::FR);
        let err = serde_json::from_str::<Lang>("\"French\"").unwrap_err();
        assert!(err.to_string().contains("French"));
    }
}
