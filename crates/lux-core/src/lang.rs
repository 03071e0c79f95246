use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

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

    /// English name for the languages lux ships templates for, else the code itself.
    ///
    /// Generators use [`crate::GenerateContext::language_name`], which recipes can extend;
    /// this is only its fallback.
    pub fn english_name(&self) -> &str {
        match self.primary() {
            "lb" => "Luxembourgish",
            "en" => "English",
            "fr" => "French",
            "de" => "German",
            "nl" => "Dutch",
            "it" => "Italian",
            "es" => "Spanish",
            "pt" => "Portuguese",
            "gsw" => "Swiss German",
            "rm" => "Romansh",
            "fy" => "Frisian",
            "br" => "Breton",
            "co" => "Corsican",
            "ga" => "Irish",
            "cy" => "Welsh",
            "eu" => "Basque",
            "fo" => "Faroese",
            _ => self.code(),
        }
    }
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
    fn serde_round_trip_rejects_bad_codes() {
        let l: Lang = serde_json::from_str("\"fr\"").unwrap();
        assert_eq!(l, Lang::FR);
        let err = serde_json::from_str::<Lang>("\"French\"").unwrap_err();
        assert!(err.to_string().contains("French"));
    }
}
