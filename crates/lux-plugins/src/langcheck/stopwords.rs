//! [`StopwordCheck`]: language by function words, good enough to catch an instruction
//! written in English when French was asked for.

use lux_core::Lang;
use serde::{Deserialize, Serialize};

use super::{LangVerdict, LanguageCheck};

const LISTS: &[(&str, &[&str])] = &[
    (
        "en",
        &[
            "the", "a", "an", "and", "or", "of", "to", "in", "on", "for", "with", "about", "is",
            "are", "was", "were", "be", "been", "this", "that", "these", "those", "it", "its",
            "what", "which", "who", "how", "why", "when", "where", "me", "my", "you", "your",
            "write", "tell", "explain", "describe", "give", "please", "from", "by", "as", "at",
            "do", "does", "can", "should", "would", "his", "her", "their", "they", "he", "she",
            "we", "not", "there", "some",
        ],
    ),
    (
        "fr",
        &[
            "le",
            "la",
            "les",
            "un",
            "une",
            "des",
            "du",
            "de",
            "et",
            "ou",
            "est",
            "sont",
            "en",
            "dans",
            "sur",
            "pour",
            "avec",
            "par",
            "ce",
            "cette",
            "ces",
            "qui",
            "que",
            "qu",
            "quoi",
            "quel",
            "quelle",
            "quels",
            "quelles",
            "comment",
            "pourquoi",
            "quand",
            "où",
            "moi",
            "vous",
            "votre",
            "tu",
            "ton",
            "il",
            "elle",
            "ils",
            "elles",
            "au",
            "aux",
            "l",
            "d",
            "expliquez",
            "décrivez",
            "écrivez",
            "rédigez",
            "donnez",
            "racontez",
            "parlez",
            "sa",
            "son",
            "ses",
            "leur",
            "pas",
            "ne",
            "était",
            "être",
            "avez",
        ],
    ),
    (
        "de",
        &[
            "der",
            "die",
            "das",
            "den",
            "dem",
            "des",
            "ein",
            "eine",
            "einen",
            "einem",
            "einer",
            "und",
            "oder",
            "ist",
            "sind",
            "war",
            "in",
            "im",
            "auf",
            "für",
            "mit",
            "über",
            "von",
            "zu",
            "zum",
            "zur",
            "was",
            "wie",
            "warum",
            "wann",
            "wo",
            "wer",
            "welche",
            "welcher",
            "mir",
            "du",
            "sie",
            "er",
            "es",
            "ich",
            "wir",
            "ihr",
            "nicht",
            "auch",
            "bitte",
            "schreibe",
            "erkläre",
            "beschreibe",
            "erzähle",
            "gib",
            "nenne",
            "dieser",
            "diese",
            "sich",
            "als",
            "bei",
            "nach",
            "aus",
            "seine",
            "ihre",
        ],
    ),
    (
        "lb",
        &[
            "de",
            "den",
            "d",
            "dem",
            "der",
            "eng",
            "en",
            "e",
            "an",
            "a",
            "ass",
            "sinn",
            "war",
            "gouf",
            "vun",
            "vum",
            "zu",
            "fir",
            "mat",
            "iwwer",
            "op",
            "um",
            "wat",
            "wéi",
            "firwat",
            "wann",
            "wou",
            "wien",
            "mir",
            "ech",
            "du",
            "hien",
            "si",
            "et",
            "mer",
            "net",
            "och",
            "schreif",
            "erklär",
            "beschreif",
            "gëff",
            "dës",
            "dësen",
            "dëst",
            "sech",
            "bei",
            "no",
            "aus",
            "hunn",
            "huet",
            "ze",
            "datt",
            "awer",
            "oder",
            "ginn",
            "gëtt",
            "kann",
            "sengem",
            "hirem",
        ],
    ),
    (
        "nl",
        &[
            "de",
            "het",
            "een",
            "en",
            "van",
            "in",
            "is",
            "op",
            "te",
            "dat",
            "die",
            "niet",
            "met",
            "voor",
            "zijn",
            "aan",
            "er",
            "wat",
            "hoe",
            "waarom",
            "wie",
            "welke",
            "ik",
            "je",
            "jij",
            "u",
            "hij",
            "ze",
            "we",
            "ook",
            "maar",
            "om",
            "naar",
            "bij",
            "uit",
            "over",
            "schrijf",
            "leg",
            "beschrijf",
            "geef",
            "vertel",
        ],
    ),
    (
        "es",
        &[
            "el", "la", "los", "las", "un", "una", "unos", "y", "o", "de", "del", "en", "es",
            "son", "por", "para", "con", "que", "qué", "cómo", "cuál", "cuándo", "dónde", "quién",
            "me", "mi", "tu", "su", "se", "lo", "al", "no", "explica", "describe", "escribe",
            "dime", "sobre", "este", "esta",
        ],
    ),
    (
        "it",
        &[
            "il", "lo", "la", "i", "gli", "le", "un", "una", "uno", "e", "o", "di", "del", "della",
            "in", "nel", "è", "sono", "per", "con", "che", "cosa", "come", "perché", "quando",
            "dove", "chi", "mi", "tu", "suo", "sua", "si", "non", "spiega", "descrivi", "scrivi",
            "dimmi", "questo", "questa", "su", "al", "alla",
        ],
    ),
    (
        "pt",
        &[
            "o", "a", "os", "as", "um", "uma", "e", "ou", "de", "do", "da", "dos", "das", "em",
            "no", "na", "é", "são", "por", "para", "com", "que", "como", "porque", "quando",
            "onde", "quem", "me", "eu", "você", "seu", "sua", "se", "não", "explique", "descreva",
            "escreva", "diga", "sobre", "este", "esta",
        ],
    ),
];

/// Counts the function words of each known language in the text; the text is in another
/// language than expected when that language has at least `margin` more hits. Texts of
/// fewer than `min_words` words, and expected languages it has no list for, are
/// undetermined. `language_check = { type = "stopwords", margin = 2 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StopwordCheck {
    /// Shorter texts are undetermined. Default 3.
    pub min_words: usize,
    /// How many more hits another language needs to be declared. Default 2.
    pub margin: usize,
}

impl Default for StopwordCheck {
    fn default() -> Self {
        StopwordCheck {
            min_words: 3,
            margin: 2,
        }
    }
}

impl StopwordCheck {
    /// Hits per known language, in the order of the built-in lists.
    pub fn scores(&self, text: &str) -> Vec<(&'static str, usize)> {
        let lower = text.to_lowercase();
        let words: Vec<&str> = lower
            .split(|c: char| !c.is_alphabetic())
            .filter(|w| !w.is_empty())
            .collect();
        LISTS
            .iter()
            .map(|(code, list)| (*code, words.iter().filter(|w| list.contains(w)).count()))
            .collect()
    }
}

#[typetag::serde(name = "stopwords")]
impl LanguageCheck for StopwordCheck {
    fn check(&self, text: &str, expected: &Lang) -> LangVerdict {
        let words = text
            .split(|c: char| !c.is_alphabetic())
            .filter(|w| !w.is_empty())
            .count();
        if words < self.min_words {
            return LangVerdict::Undetermined;
        }
        let scores = self.scores(text);
        let Some(&(_, own)) = scores.iter().find(|(code, _)| *code == expected.primary()) else {
            return LangVerdict::Undetermined;
        };
        let Some(&(best, hits)) = scores.iter().max_by_key(|(_, h)| *h) else {
            return LangVerdict::Undetermined;
        };
        if hits == 0 {
            LangVerdict::Undetermined
        } else if own == hits {
            LangVerdict::Matches
        } else if hits >= own + self.margin.max(1) {
            Lang::new(best).map_or(LangVerdict::Undetermined, |l| LangVerdict::Mismatch {
                looks_like: l,
            })
        } else {
            LangVerdict::Undetermined
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(text: &str, lang: &str) -> LangVerdict {
        StopwordCheck::default().check(text, &Lang::new(lang).unwrap())
    }

    #[test]
    fn typical_instructions() {
        let en = "Tell me about the history of the village and its people.";
        let fr = "Parlez-moi de l'histoire du village et de ses habitants.";
        let de = "Erzähle mir etwas über die Geschichte des Dorfes und seiner Bewohner.";
        let lb = "Erklär mer wat d'Geschicht vum Duerf ass an wéi et gewuess ass.";
        assert_eq!(verdict(en, "en"), LangVerdict::Matches);
        assert_eq!(verdict(fr, "fr"), LangVerdict::Matches);
        assert_eq!(verdict(de, "de"), LangVerdict::Matches);
        assert_eq!(verdict(lb, "lb"), LangVerdict::Matches);
        assert_eq!(
            verdict(en, "fr"),
            LangVerdict::Mismatch {
                looks_like: Lang::EN
            }
        );
        assert_eq!(
            verdict(fr, "en"),
            LangVerdict::Mismatch {
                looks_like: Lang::FR
            }
        );
        assert_eq!(
            verdict(en, "de"),
            LangVerdict::Mismatch {
                looks_like: Lang::EN
            }
        );
        assert_eq!(
            verdict("Explain what Luxembourg is.", "en"),
            LangVerdict::Matches
        );
        assert_eq!(
            verdict("Expliquez ce qu'est le Luxembourg.", "fr"),
            LangVerdict::Matches
        );
        assert_eq!(
            verdict("Erkläre, was Luxemburg ist.", "de"),
            LangVerdict::Matches
        );
    }

    #[test]
    fn doubt_is_undetermined() {
        assert_eq!(verdict("Luxembourg?", "fr"), LangVerdict::Undetermined);
        assert_eq!(
            verdict("Lorem ipsum dolor sit amet.", "en"),
            LangVerdict::Undetermined
        );
        assert_eq!(
            verdict("Tell me about the history of it.", "fi"),
            LangVerdict::Undetermined
        );
    }
}
