//! What each system answers to held-out examples: computed once per run and shared by the
//! evaluations that score answers (`judge_panel`, `chrf`).
//!
//! Greedy generation is the slow part of a judged or scored evaluation (a 135M model on two
//! CPU cores writes about 20 tokens a second per sequence), and two evaluations of one recipe
//! usually ask the same questions: the answers are kept in the run's resources, keyed by
//! the system, its adapter, the generation settings and the prompts, so the second
//! evaluation reuses them instead of generating them again.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use lux_core::stage::StageContext;
use lux_core::{Error, Example, Result};
use lux_train::sft::user_turn;
use lux_train::stages::{System, answer, load_system, read_dataset};

/// The first `max_examples` examples of the dataset artifact `key`, and the user turn each
/// system is asked (as SFT trains it); an empty dataset is an error naming the artifact.
pub(crate) fn held_out(
    ctx: &StageContext,
    key: &str,
    max_examples: usize,
) -> Result<(Vec<Example>, Vec<String>)> {
    let mut examples = read_dataset(ctx, key)?;
    examples.truncate(max_examples);
    if examples.is_empty() {
        return Err(Error::plugin(
            &ctx.name,
            format!("the dataset `{key}` has no examples to answer"),
        ));
    }
    let prompts = examples.iter().map(user_turn).collect();
    Ok((examples, prompts))
}

/// `system`'s greedy answers to `prompts` (at most `max_new_tokens` each, `batch_size` at a
/// time), generated on first use in the run and shared afterwards. Blocks: call it inside
/// `tokio::task::block_in_place` from an async stage.
pub(crate) fn system_answers(
    ctx: &StageContext,
    system: &System,
    prompts: &[String],
    max_new_tokens: usize,
    batch_size: usize,
) -> Result<Arc<Vec<String>>> {
    let mut h = DefaultHasher::new();
    prompts.hash(&mut h);
    let key = format!(
        "answers:{}:{}:{max_new_tokens}:{batch_size}:{}:{:016x}",
        system.name,
        system
            .adapter
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        prompts.len(),
        h.finish()
    );
    ctx.resources.get_or_try_insert(&key, || {
        let started = std::time::Instant::now();
        let (model, base) = load_system(ctx, system)?;
        let answers = answer(&model, &base.tokenizer, prompts, max_new_tokens, batch_size)?;
        tracing::info!(
            stage = %ctx.name,
            system = %system.name,
            answers = answers.len(),
            seconds = started.elapsed().as_secs_f64(),
            "answered held-out examples"
        );
        Ok(answers)
    })
}
