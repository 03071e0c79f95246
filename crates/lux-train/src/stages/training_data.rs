//! [`TrainingData`], the keys every training stage shares to pick its examples, and
//! [`read_train_table`], which splits a `[[train]]` table into the trainer's settings, that
//! selection and the stage's own keys.

use lux_core::stage::StageContext;
use lux_core::{Error, Example, Lang, Result, TaskKind};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::read_dataset;
use crate::training::TrainingArgs;

/// Which examples a training stage trains and validates on: dataset artifacts of earlier
/// stages, filtered by task and instruction language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingData {
    /// The training set: a dataset artifact of an earlier stage. Default `mix/train`.
    #[serde(default = "default_train_data")]
    pub train_data: String,
    /// The validation set. Default `mix/validation`.
    #[serde(default = "default_validation_data")]
    pub validation_data: String,
    /// Held-out loss is measured on at most this many validation examples. Default 64.
    #[serde(default = "default_max_validation")]
    pub max_validation_examples: usize,
    /// Train only on examples of these tasks (both sets). Default: the stage's (every task for
    /// `sft`, `code_switch` for `lingualift_align`, `math_word_problem` for
    /// `lingualift_instruct`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<Vec<TaskKind>>,
    /// Train only on examples whose instruction is in one of these languages (LuxInstruct's
    /// EN→LB, FR→LB, DE→LB adapters, compared by CKA). Default: every language.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instruction_langs: Vec<Lang>,
}

fn default_train_data() -> String {
    "mix/train".into()
}
fn default_validation_data() -> String {
    "mix/validation".into()
}
fn default_max_validation() -> usize {
    64
}

impl TrainingData {
    /// The keys of a `[[train]]` table that belong to the selection.
    pub const FIELDS: &'static [&'static str] = &[
        "train_data",
        "validation_data",
        "max_validation_examples",
        "tasks",
        "instruction_langs",
    ];

    /// The tasks selected: the `tasks` setting, or the stage's `default` (empty: every task).
    pub fn tasks_or(&self, default: &[&str]) -> Result<Vec<TaskKind>> {
        match &self.tasks {
            Some(tasks) => Ok(tasks.clone()),
            None => default.iter().map(|t| TaskKind::new(t)).collect(),
        }
    }

    /// The selected tasks for a report: `code_switch, qa`, or `every task`.
    pub fn task_list(&self, default: &[&str]) -> Result<String> {
        let tasks = self.tasks_or(default)?;
        Ok(if tasks.is_empty() {
            "every task".to_string()
        } else {
            tasks
                .iter()
                .map(|t| format!("`{t}`"))
                .collect::<Vec<_>>()
                .join(", ")
        })
    }

    /// The training and validation examples (at most `max_validation_examples` of the latter),
    /// with the stage's default tasks; an error naming the tasks and languages the training set
    /// does have when none is left.
    pub fn read(
        &self,
        ctx: &StageContext,
        default_tasks: &[&str],
    ) -> Result<(Vec<Example>, Vec<Example>)> {
        let tasks = self.tasks_or(default_tasks)?;
        let select = |key: &str| -> Result<Vec<Example>> {
            let mut examples = read_dataset(ctx, key)?;
            examples.retain(|e| {
                (tasks.is_empty() || tasks.contains(&e.task))
                    && (self.instruction_langs.is_empty()
                        || self.instruction_langs.contains(&e.instruction_lang))
            });
            Ok(examples)
        };
        let train = select(&self.train_data)?;
        if train.is_empty() {
            let all = read_dataset(ctx, &self.train_data)?;
            let list = |mut names: Vec<String>| {
                names.sort();
                names.dedup();
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            };
            return Err(Error::plugin(
                &ctx.name,
                format!(
                    "`{}` has no example of the selected tasks [{}] and instruction languages \
                     [{}] (its tasks: {}; its instruction languages: {})",
                    self.train_data,
                    list(tasks.iter().map(ToString::to_string).collect()),
                    list(
                        self.instruction_langs
                            .iter()
                            .map(ToString::to_string)
                            .collect()
                    ),
                    list(all.iter().map(|e| e.task.to_string()).collect()),
                    list(all.iter().map(|e| e.instruction_lang.to_string()).collect()),
                ),
            ));
        }
        let mut validation = select(&self.validation_data)?;
        validation.truncate(self.max_validation_examples);
        Ok((train, validation))
    }
}

/// An error with an example when a stage table that trains an adapter names none (before
/// the table is split, so the message is this one rather than serde's bare "missing field").
pub(crate) fn require_adapter(map: &Map<String, Value>) -> std::result::Result<(), String> {
    if map.contains_key("adapter") {
        return Ok(());
    }
    Err(
        "missing field `adapter` (e.g. adapter = { type = \"lora\", r = 16, lora_alpha = 32.0, \
         target_modules = [\"q_proj\", \"v_proj\"] })"
            .into(),
    )
}

/// Splits a `[[train]]` table three ways: the keys of [`TrainingArgs`], those of
/// [`TrainingData`], and the rest as the stage's own settings `S` (whose unknown keys are
/// errors that also list the shared keys). A wrong type names its key (`warmup.steps: invalid
/// type…`).
pub(crate) fn read_train_table<S: DeserializeOwned>(
    mut map: Map<String, Value>,
) -> std::result::Result<(TrainingArgs, TrainingData, S), String> {
    let mut take = |fields: &[&str]| -> Map<String, Value> {
        fields
            .iter()
            .filter_map(|k| map.remove(*k).map(|v| (k.to_string(), v)))
            .collect()
    };
    let args = take(TrainingArgs::FIELDS);
    let data = take(TrainingData::FIELDS);
    let args: TrainingArgs = with_path(Value::Object(args))?;
    let data: TrainingData = with_path(Value::Object(data))?;
    let own: S = with_path(Value::Object(map)).map_err(|e| {
        if e.contains("unknown field") {
            format!(
                "{e}; or a training setting ({}) or a data selection ({})",
                TrainingArgs::FIELDS.join(", "),
                TrainingData::FIELDS.join(", ")
            )
        } else {
            e
        }
    })?;
    Ok((args, data, own))
}

/// Deserialises `value`, naming the key of an error (`max_steps: invalid type…`).
fn with_path<T: DeserializeOwned>(value: Value) -> std::result::Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| match e.path().to_string().as_str() {
        "." => e.inner().to_string(),
        path => format!("{path}: {}", e.inner()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Own {
        encoder_batch_size: usize,
    }

    fn table(text: &str) -> Map<String, Value> {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn a_table_splits_into_settings_selection_and_own_keys() {
        let (args, data, own) = read_train_table::<Own>(table(
            r#"{"learning_rate": 0.001, "max_steps": 3, "tasks": ["code_switch"],
                "encoder_batch_size": 4}"#,
        ))
        .unwrap();
        assert_eq!(args.max_steps, Some(3));
        assert_eq!(
            data.tasks_or(&["qa"]).unwrap(),
            [TaskKind::new("code_switch").unwrap()]
        );
        assert_eq!(data.train_data, "mix/train");
        assert_eq!(own.encoder_batch_size, 4);
        let (_, data, _) = read_train_table::<Own>(table(
            r#"{"learning_rate": 0.001, "encoder_batch_size": 4}"#,
        ))
        .unwrap();
        assert_eq!(
            data.tasks_or(&["math_word_problem"]).unwrap(),
            [TaskKind::new("math_word_problem").unwrap()]
        );
    }

    #[test]
    fn errors_name_the_key_and_the_keys_that_exist() {
        let err = read_train_table::<Own>(table(
            r#"{"learning_rate": 0.001, "steps": 3, "encoder_batch_size": 4}"#,
        ))
        .unwrap_err();
        assert!(err.contains("unknown field `steps`"), "{err}");
        assert!(
            err.contains("max_steps") && err.contains("train_data"),
            "{err}"
        );
        let err = read_train_table::<Own>(table(
            r#"{"learning_rate": 0.001, "warmup": {"steps": "four"}, "encoder_batch_size": 4}"#,
        ))
        .unwrap_err();
        assert!(err.starts_with("warmup"), "{err}");
        let err = read_train_table::<Own>(table(r#"{"encoder_batch_size": 4}"#)).unwrap_err();
        assert!(err.contains("missing field `learning_rate`"), "{err}");
    }
}
