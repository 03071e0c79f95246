//! [`answer`]: what a system says to each prompt — the input of judged and scored evaluations.

use lux_core::{ChatMessage, Result};

use crate::generate::{SamplingConfig, generate};
use crate::model::Llama;
use crate::tokenizer::Tokenizer;

/// Greedy decoding that stops at the end of the assistant's turn (the tokenizer's
/// end-of-sequence token or a turn-end token of common chat templates), after at most
/// `max_new_tokens`: how every evaluation lets a system answer.
pub(crate) fn greedy_turn(tokenizer: &Tokenizer, max_new_tokens: usize) -> SamplingConfig {
    SamplingConfig {
        stop_token_ids: tokenizer.turn_end_ids(),
        ..SamplingConfig::greedy(max_new_tokens)
    }
}

/// Greedy answers of `model` to each prompt, given as the user's turn of its chat template,
/// in batches of `batch_size`; each answer is cut at `max_new_tokens` and trimmed. Greedy, so
/// a rerun gives the same answers.
pub fn answer(
    model: &Llama,
    tokenizer: &Tokenizer,
    prompts: &[String],
    max_new_tokens: usize,
    batch_size: usize,
) -> Result<Vec<String>> {
    let config = greedy_turn(tokenizer, max_new_tokens);
    let mut out = Vec::with_capacity(prompts.len());
    for chunk in prompts.chunks(batch_size.max(1)) {
        let ids = chunk
            .iter()
            .map(|p| {
                let text = tokenizer.apply_chat_template(&[ChatMessage::user(p.as_str())], true)?;
                tokenizer.encode(&text, false)
            })
            .collect::<Result<Vec<_>>>()?;
        for g in generate(model, tokenizer, &ids, &config)? {
            out.push(g.text.trim().to_string());
        }
    }
    Ok(out)
}
