//! [`TrainingArgs`]: the settings of every training loop in lux, with transformers' names and
//! defaults.

use lux_core::{Error, Result};
use serde::{Deserialize, Serialize};

use super::schedule::{LrSchedule, Warmup};
use crate::lora::{LoraConfig, TargetModules};

/// How a [`Trainer`](super::Trainer) runs: optimizer, schedule, batches, evaluation and
/// checkpoints. SFT and both LinguaLIFT stages read the same struct, so a setting means the
/// same thing, with the same default, in every `[[train]]` table.
///
/// Names and defaults are transformers' `TrainingArguments` where it has the setting (a user of
/// TRL's `SFTTrainer` can copy their values); the exceptions: the seed defaults to 1729 (the
/// LuxLlama model card's) and warmup is one field (`{ steps = N }` or `{ ratio = r }`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingArgs {
    /// Peak learning rate (AdamW).
    pub learning_rate: f64,
    /// Passes over the training set. Default 1.
    #[serde(default = "one")]
    pub num_train_epochs: usize,
    /// Stop after this many optimizer steps, over as many epochs as that takes (overrides
    /// `num_train_epochs`). Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<usize>,
    /// Examples per micro-batch. Default 8.
    #[serde(default = "eight")]
    pub per_device_train_batch_size: usize,
    /// Micro-batches per optimizer step. Default 1.
    #[serde(default = "one")]
    pub gradient_accumulation_steps: usize,
    /// Warmup, in steps or as a ratio of all steps. Default none.
    #[serde(default = "no_warmup")]
    pub warmup: Warmup,
    /// The decay after warmup. Default linear (transformers').
    #[serde(default = "linear")]
    pub lr_scheduler: LrSchedule,
    /// AdamW's decoupled weight decay. Default 0.
    #[serde(default)]
    pub weight_decay: f64,
    /// Clip the gradients to this global L2 norm (all of them together, as transformers'
    /// `max_grad_norm`); none: no clipping. Default 1.0.
    #[serde(default = "default_clip")]
    pub max_grad_norm: Option<f64>,
    /// Evaluate on the validation set every this many steps (always before the first step and
    /// after the last). Default: only then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_steps: Option<usize>,
    /// Write a checkpoint every this many steps. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save_steps: Option<usize>,
    /// Seed of the data order, the dropout masks and new weights. Default 1729.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Show a progress bar (the runner sets it; it never changes the result).
    #[serde(default, skip_serializing)]
    pub progress: bool,
}

fn one() -> usize {
    1
}
fn eight() -> usize {
    8
}
fn no_warmup() -> Warmup {
    Warmup::Steps(0)
}
fn linear() -> LrSchedule {
    LrSchedule::Linear
}
fn default_clip() -> Option<f64> {
    Some(1.0)
}
fn default_seed() -> u64 {
    1729
}

impl TrainingArgs {
    /// The keys of a recipe table that belong to these settings: a stage table splits its keys
    /// with them (see `lux_train::stages`).
    pub const FIELDS: &'static [&'static str] = &[
        "learning_rate",
        "num_train_epochs",
        "max_steps",
        "per_device_train_batch_size",
        "gradient_accumulation_steps",
        "warmup",
        "lr_scheduler",
        "weight_decay",
        "max_grad_norm",
        "eval_steps",
        "save_steps",
        "seed",
        "progress",
    ];

    /// The defaults around a learning rate.
    pub fn new(learning_rate: f64) -> TrainingArgs {
        TrainingArgs {
            learning_rate,
            num_train_epochs: 1,
            max_steps: None,
            per_device_train_batch_size: eight(),
            gradient_accumulation_steps: 1,
            warmup: no_warmup(),
            lr_scheduler: linear(),
            weight_decay: 0.0,
            max_grad_norm: default_clip(),
            eval_steps: None,
            save_steps: None,
            seed: default_seed(),
            progress: false,
        }
    }

    /// The LuxLlama model card's setting: LoRA r = 256, alpha = 256, dropout 0 on the seven
    /// projections; lr 5e-5, warmup ratio 0.02, cosine with restarts, weight decay 0.01,
    /// batch 4 × accumulation 8, one epoch, seed 1729. (The card does not give `num_cycles`;
    /// transformers' default, 1, is a plain cosine: lux uses it.)
    pub fn luxllama() -> (TrainingArgs, LoraConfig) {
        let args = TrainingArgs {
            per_device_train_batch_size: 4,
            gradient_accumulation_steps: 8,
            warmup: Warmup::Ratio(0.02),
            lr_scheduler: LrSchedule::CosineWithRestarts { num_cycles: 1 },
            weight_decay: 0.01,
            seed: 1729,
            ..TrainingArgs::new(5e-5)
        };
        let lora = LoraConfig::new(
            256,
            256.0,
            TargetModules::names([
                "q_proj",
                "k_proj",
                "v_proj",
                "o_proj",
                "gate_proj",
                "up_proj",
                "down_proj",
            ]),
        );
        (args, lora)
    }

    /// Optimizer steps of a run over `n` training examples.
    pub fn total_steps(&self, n: usize) -> usize {
        let micro = n.div_ceil(self.per_device_train_batch_size.max(1));
        let per_epoch = micro.div_ceil(self.gradient_accumulation_steps.max(1));
        self.max_steps.unwrap_or(per_epoch * self.num_train_epochs)
    }

    /// Checks the values a run cannot start with; the error names the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, why: String| Err(Error::invalid(field, why));
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return bad(
                "learning_rate",
                format!("{} is not a positive number", self.learning_rate),
            );
        }
        if self.per_device_train_batch_size == 0 {
            return bad("per_device_train_batch_size", "must be at least 1".into());
        }
        if self.gradient_accumulation_steps == 0 {
            return bad("gradient_accumulation_steps", "must be at least 1".into());
        }
        if self.num_train_epochs == 0 && self.max_steps.is_none() {
            return bad(
                "num_train_epochs",
                "is 0 and max_steps is not set: nothing to train".into(),
            );
        }
        if self.max_grad_norm.is_some_and(|n| n.is_nan() || n <= 0.0) {
            return bad("max_grad_norm", "must be positive (or left out)".into());
        }
        if let Warmup::Ratio(r) = self.warmup
            && !(0.0..=1.0).contains(&r)
        {
            return bad("warmup.ratio", format!("{r} is not between 0 and 1"));
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return bad("weight_decay", format!("{} is negative", self.weight_decay));
        }
        for (field, value) in [
            ("eval_steps", self.eval_steps),
            ("save_steps", self.save_steps),
        ] {
            if value == Some(0) {
                return bad(field, "must be at least 1 (or left out)".into());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_the_serialised_keys() {
        let mut args = TrainingArgs::new(1e-3);
        args.max_steps = Some(3);
        args.eval_steps = Some(1);
        args.save_steps = Some(1);
        let value = serde_json::to_value(&args).unwrap();
        let mut keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.push("progress"); // read, never written
        keys.sort();
        let mut fields = TrainingArgs::FIELDS.to_vec();
        fields.sort();
        assert_eq!(keys, fields);
    }

    #[test]
    fn steps_follow_batches_accumulation_and_epochs() {
        let mut args = TrainingArgs::new(1e-3);
        args.per_device_train_batch_size = 4;
        args.gradient_accumulation_steps = 2;
        args.num_train_epochs = 3;
        // 10 examples: 3 micro-batches, 2 steps an epoch.
        assert_eq!(args.total_steps(10), 6);
        args.max_steps = Some(5);
        assert_eq!(args.total_steps(10), 5);
    }

    #[test]
    fn bad_values_name_their_field() {
        let mut args = TrainingArgs::new(1e-3);
        args.save_steps = Some(0);
        assert!(
            args.validate()
                .unwrap_err()
                .to_string()
                .contains("save_steps")
        );
        let mut args = TrainingArgs::new(f64::NAN);
        args.seed = 1;
        assert!(
            args.validate()
                .unwrap_err()
                .to_string()
                .contains("learning_rate")
        );
        let args: std::result::Result<TrainingArgs, _> =
            serde_json::from_str(r#"{"learning_rate": 1e-3, "steps": 4}"#);
        assert!(
            args.unwrap_err()
                .to_string()
                .contains("unknown field `steps`")
        );
    }
}
