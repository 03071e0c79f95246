use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Lang, Provenance};

/// The kind of task an example teaches, by name (`word_translation`, `article_to_title`).
///
/// An open set: the constants name LuxInstruct's seven task types, and any other
/// `snake_case` name is a user-defined task (see `lux_data::tasks::TaskRegistry`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskKind(Cow<'static, str>);

impl TaskKind {
    /// Write a native text given an instruction about it (Wikipedia, reverse instructions).
    pub const OPEN_GENERATION: TaskKind = TaskKind(Cow::Borrowed("open_generation"));
    /// Give the title of a native article.
    pub const ARTICLE_TO_TITLE: TaskKind = TaskKind(Cow::Borrowed("article_to_title"));
    /// Write a native article for a given title.
    pub const TITLE_TO_ARTICLE: TaskKind = TaskKind(Cow::Borrowed("title_to_article"));
    /// Translate a word into the native language.
    pub const WORD_TRANSLATION: TaskKind = TaskKind(Cow::Borrowed("word_translation"));
    /// Translate a sentence into the native language.
    pub const SENTENCE_TRANSLATION: TaskKind = TaskKind(Cow::Borrowed("sentence_translation"));
    /// Use a native word in a sentence.
    pub const USAGE_IN_CONTEXT: TaskKind = TaskKind(Cow::Borrowed("usage_in_context"));
    /// Give native words with the same meaning as a native word.
    pub const PARAPHRASE: TaskKind = TaskKind(Cow::Borrowed("paraphrase"));

    /// A task by name; names are `snake_case` ASCII.
    pub fn new(name: &str) -> crate::Result<TaskKind> {
        let ok = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(TaskKind(Cow::Owned(name.to_string())))
        } else {
            Err(crate::Error::invalid(
                "task",
                format!("`{name}` is not a snake_case task name"),
            ))
        }
    }

    /// The task's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TaskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TaskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskKind({})", self.0)
    }
}

impl Serialize for TaskKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for TaskKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        TaskKind::new(&s).map_err(serde::de::Error::custom)
    }
}

/// One instruction-tuning example.
///
/// Serialised (one JSON object per line) with the flat fields a Hugging Face `datasets` user
/// expects: `id`, `instruction`, `input`, `output`, `task`, `instruction_lang`, `output_lang`,
/// `source`, `license`; plus `seed_id`, `generator` and `template` for tracing. A missing
/// input is written as `""`, as in Alpaca-style datasets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Example {
    /// Stable id: a hash of the seed, generator and template, so reruns give the same ids.
    pub id: String,
    /// The task it teaches.
    pub task: TaskKind,
    /// The instruction.
    pub instruction: String,
    /// The instruction's language (often not the output's: that is the cross-lingual idea).
    pub instruction_lang: Lang,
    /// Optional input the instruction refers to (a word, an article).
    #[serde(
        default,
        serialize_with = "serialize_input",
        deserialize_with = "deserialize_input"
    )]
    pub input: Option<String>,
    /// The expected answer.
    pub output: String,
    /// The answer's language.
    pub output_lang: Lang,
    /// Short source name (from [`Provenance::source`]).
    pub source: String,
    /// License of the text the example was made from.
    pub license: String,
    /// The seed item it was made from.
    pub seed_id: String,
    /// The generator that made it.
    pub generator: String,
    /// Which template or prompt (name or hash), so template effects can be studied.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub template: String,
}

impl Example {
    /// Fills `source` and `license` from a provenance.
    pub fn with_provenance(mut self, p: &Provenance) -> Example {
        self.source = p.source.clone();
        self.license = p.license.clone();
        self
    }
}

fn serialize_input<S: Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.as_deref().unwrap_or(""))
}

fn deserialize_input<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<String>::deserialize(d)?;
    Ok(v.filter(|s| !s.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_flat_hf_fields() {
        let ex = Example {
            id: "x1".into(),
            task: TaskKind::WORD_TRANSLATION,
            instruction: "Translate into Luxembourgish: house".into(),
            instruction_lang: Lang::EN,
            input: None,
            output: "Haus".into(),
            output_lang: Lang::LB,
            source: "test".into(),
            license: "MIT".into(),
            seed_id: "s1".into(),
            generator: "word_translation".into(),
            template: "en/0".into(),
        };
        let v: serde_json::Value = serde_json::to_value(&ex).unwrap();
        for k in [
            "id",
            "instruction",
            "input",
            "output",
            "task",
            "instruction_lang",
            "output_lang",
            "source",
            "license",
        ] {
            assert!(v.get(k).is_some(), "missing {k}");
        }
        assert_eq!(v["input"], "");
        assert_eq!(v["task"], "word_translation");
        let back: Example = serde_json::from_value(v).unwrap();
        assert_eq!(back, ex);
    }

    #[test]
    fn task_names_are_checked() {
        assert!(TaskKind::new("my_task2").is_ok());
        assert!(TaskKind::new("My Task").is_err());
    }
}
