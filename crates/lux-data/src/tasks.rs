//! The task registry: which tasks lux knows, where their seeds come from, and which
//! generators make them.
//!
//! LuxInstruct's seven task types, as lux settles them (all with native output):
//!
//! | task | seed | offline generator | LLM generator |
//! |---|---|---|---|
//! | `open_generation` | Wikipedia article | `open_generation` (lead section) | `reverse_instruction` |
//! | `article_to_title` | news / wiki article | `article_to_title` | — |
//! | `title_to_article` | news article | `title_to_article` | — |
//! | `word_translation` | dictionary entry, aligned single words | `word_translation` | — |
//! | `sentence_translation` | aligned human translations | `sentence_translation` | — |
//! | `usage_in_context` | dictionary example sentences | `usage_in_context` | — |
//! | `paraphrase` | dictionary synonyms | `paraphrase` | — |
//!
//! Users add tasks with [`TaskRegistry::register`] (and a generator that emits
//! `TaskKind::new("their_task")`); reports and filters treat every task alike.

use std::collections::BTreeMap;

use lux_core::{Error, Result, TaskKind};
use serde::{Deserialize, Serialize};

/// What kind of seed a task is made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeedKind {
    /// Native documents (Wikipedia, news).
    Document,
    /// Aligned translation groups.
    Parallel,
    /// Dictionary entries.
    Lexeme,
}

/// A task's description.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskInfo {
    /// The task.
    pub kind: TaskKind,
    /// One sentence on what the model learns.
    pub description: String,
    /// Where its seeds come from.
    pub seed: SeedKind,
    /// Typical sources, for documentation.
    pub sources: String,
    /// The `type` of the offline generator that makes it, if any.
    pub offline_generator: Option<String>,
    /// The `type` of an LLM-backed generator that makes it, if any.
    pub llm_generator: Option<String>,
}

/// The known tasks, by name.
#[derive(Debug, Clone)]
pub struct TaskRegistry {
    tasks: BTreeMap<String, TaskInfo>,
}

impl TaskRegistry {
    /// LuxInstruct's seven task types.
    pub fn builtin() -> TaskRegistry {
        let t = |kind: TaskKind,
                 description: &str,
                 seed,
                 sources: &str,
                 offline: Option<&str>,
                 llm: Option<&str>| {
            TaskInfo {
                kind,
                description: description.to_string(),
                seed,
                sources: sources.to_string(),
                offline_generator: offline.map(str::to_string),
                llm_generator: llm.map(str::to_string),
            }
        };
        let mut r = TaskRegistry {
            tasks: BTreeMap::new(),
        };
        for info in [
            t(
                TaskKind::OPEN_GENERATION,
                "write native text that answers an instruction about a span of an article",
                SeedKind::Document,
                "Wikipedia",
                Some("open_generation"),
                Some("reverse_instruction"),
            ),
            t(
                TaskKind::ARTICLE_TO_TITLE,
                "give the native title of a native article",
                SeedKind::Document,
                "news, Wikipedia",
                Some("article_to_title"),
                None,
            ),
            t(
                TaskKind::TITLE_TO_ARTICLE,
                "write a native article for a title",
                SeedKind::Document,
                "news",
                Some("title_to_article"),
                None,
            ),
            t(
                TaskKind::WORD_TRANSLATION,
                "translate a word into the native language",
                SeedKind::Lexeme,
                "dictionary, aligned single-word catalogue entries",
                Some("word_translation"),
                None,
            ),
            t(
                TaskKind::SENTENCE_TRANSLATION,
                "translate a sentence into the native language",
                SeedKind::Parallel,
                "localisation catalogues (human translations)",
                Some("sentence_translation"),
                None,
            ),
            t(
                TaskKind::USAGE_IN_CONTEXT,
                "use a native word in a sentence",
                SeedKind::Lexeme,
                "dictionary example sentences",
                Some("usage_in_context"),
                None,
            ),
            t(
                TaskKind::PARAPHRASE,
                "give native synonyms of a native word",
                SeedKind::Lexeme,
                "dictionary synonyms",
                Some("paraphrase"),
                None,
            ),
        ] {
            r.tasks.insert(info.kind.to_string(), info);
        }
        r
    }

    /// Adds a user task; a name already taken is an error.
    pub fn register(&mut self, info: TaskInfo) -> Result<()> {
        let name = info.kind.to_string();
        if self.tasks.contains_key(&name) {
            return Err(Error::invalid(
                "task",
                format!("`{name}` is already registered"),
            ));
        }
        self.tasks.insert(name, info);
        Ok(())
    }

    /// A task by name.
    pub fn get(&self, name: &str) -> Option<&TaskInfo> {
        self.tasks.get(name)
    }

    /// All tasks, by name.
    pub fn iter(&self) -> impl Iterator<Item = &TaskInfo> {
        self.tasks.values()
    }

    /// The offline generators of all tasks, with default settings, as recipe tables.
    pub fn offline_generator_types(&self) -> Vec<&str> {
        self.tasks
            .values()
            .filter_map(|t| t.offline_generator.as_deref())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seven_builtin_tasks_with_working_generators() {
        let r = TaskRegistry::builtin();
        assert_eq!(r.iter().count(), 7);
        for ty in r.offline_generator_types() {
            let g: std::result::Result<Box<dyn lux_core::InstructionGenerator>, _> =
                toml::from_str(&format!("type = \"{ty}\""));
            assert!(
                g.is_ok(),
                "generator `{ty}` is not registered: {:?}",
                g.err()
            );
        }
    }

    #[test]
    fn users_can_add_tasks_but_not_twice() {
        let mut r = TaskRegistry::builtin();
        let info = TaskInfo {
            kind: TaskKind::new("lemmatisation").unwrap(),
            description: "give the lemma".into(),
            seed: SeedKind::Lexeme,
            sources: "spaCy lookups".into(),
            offline_generator: None,
            llm_generator: None,
        };
        r.register(info.clone()).unwrap();
        assert!(r.get("lemmatisation").is_some());
        assert!(r.register(info).is_err());
    }
}
