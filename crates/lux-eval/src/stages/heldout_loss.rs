//! [`HeldoutLoss`]: `type = "heldout_loss"` — each system's loss on held-out examples.

use std::fmt::Write as _;

use async_trait::async_trait;
use lux_core::stage::{StageContext, StageOutput};
use lux_core::{Evaluation, Result};
use lux_train::sft::{mean_token_loss, tokenize_examples};
use lux_train::stages::{load_system, read_dataset, systems};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Mean loss (nats per target token) and perplexity of every system on a held-out dataset:
/// the assistant's answer given the chat-formatted instruction, as the SFT stage trains it.
///
/// ```toml
/// [[eval]]
/// type = "heldout_loss"
/// max_examples = 64
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeldoutLoss {
    /// The dataset artifact. Default `mix/validation`.
    #[serde(default = "default_data")]
    pub data: String,
    /// At most this many examples (the dataset's first ones). Default 64.
    #[serde(default = "default_max_examples")]
    pub max_examples: usize,
    /// Conversations are cut to this many tokens. Default 128.
    #[serde(default = "default_max_len")]
    pub max_seq_length: usize,
    /// Examples per forward pass. Default 8.
    #[serde(default = "default_batch")]
    pub batch_size: usize,
}

fn default_data() -> String {
    "mix/validation".into()
}
fn default_max_examples() -> usize {
    64
}
fn default_max_len() -> usize {
    128
}
fn default_batch() -> usize {
    8
}

#[typetag::serde(name = "heldout_loss")]
#[async_trait]
impl Evaluation for HeldoutLoss {
    async fn evaluate(&self, ctx: &StageContext) -> Result<StageOutput> {
        tokio::task::block_in_place(|| self.run(ctx))
    }

    fn prepare(&mut self, _ctx: &StageContext) -> Result<()> {
        if self.max_examples == 0 || self.batch_size == 0 || self.max_seq_length < 2 {
            return Err(lux_core::Error::invalid(
                "heldout_loss",
                "max_examples and batch_size must be at least 1, max_seq_length at least 2",
            ));
        }
        Ok(())
    }
}

impl HeldoutLoss {
    fn run(&self, ctx: &StageContext) -> Result<StageOutput> {
        let mut examples = read_dataset(ctx, &self.data)?;
        examples.truncate(self.max_examples);
        let mut rows = Vec::new();
        let mut md = format!(
            "Mean token loss of the answer on {} held-out examples of `{}`.\n\n\
             | system | loss (nats/token) | perplexity |\n|---|---:|---:|\n",
            examples.len(),
            self.data
        );
        let systems = systems(ctx);
        let bar = ctx.progress_bar(systems.len() as u64, "systems");
        for system in systems {
            let (model, base) = load_system(ctx, &system)?;
            let tokenizer = &base.tokenizer;
            let (samples, _) = tokenize_examples(tokenizer, &examples, self.max_seq_length, true)?;
            let pad = tokenizer.pad_id().unwrap_or(0);
            let loss = mean_token_loss(&model, &samples, self.batch_size, pad)?;
            let _ = writeln!(md, "| {} | {loss:.4} | {:.2} |", system.name, loss.exp());
            rows.push(json!({ "system": system.name, "loss": loss, "perplexity": loss.exp() }));
            bar.inc(1);
        }
        bar.finish_and_clear();
        let summary = json!({ "examples": examples.len(), "systems": rows });
        lux_core::fs::write_json_atomic(ctx.dir.join("heldout_loss.json"), &summary)?;
        Ok(StageOutput {
            summary,
            markdown: md,
            ..StageOutput::default()
        })
    }
}
