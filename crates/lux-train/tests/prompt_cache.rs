//! The prompt cache of the local client: prompts run in fixed chunks whether cached or not, so
//! answers never depend on what was asked before or on the cache's budget; a chunked prompt
//! pass gives the logits of one whole forward pass; `n` choices share one prompt pass.

use burn::tensor::{Device, Int, Tensor, TensorData};
use lux_train::generate::{Generated, PromptCache, SamplingConfig, generate, generate_choices};
use lux_train::model::Llama;
use lux_train::testing::write_tiny_llama;
use lux_train::tokenizer::Tokenizer;

/// A tiny random model with a byte tokenizer (one token a byte), kept with its directory.
fn tiny() -> (tempfile::TempDir, Llama, Tokenizer) {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_llama(dir.path(), 5).unwrap();
    let model = Llama::from_pretrained(dir.path(), &Device::flex()).unwrap();
    let tokenizer = Tokenizer::from_file(dir.path().join("tokenizer.json")).unwrap();
    (dir, model, tokenizer)
}

/// Prompts sharing a 150-byte beginning (two whole chunks and part of a third), one repeated,
/// one short.
fn prompts(tokenizer: &Tokenizer) -> Vec<Vec<u32>> {
    let form = "Rate a response on one metric, correctness, from 1 (worst) to 5 (best). \
                Compare the response with the reference answer: the closer, the higher. ";
    assert!(form.len() > 2 * PromptCache::CHUNK);
    [
        format!("{form}Response: Moien, wéi geet et?"),
        format!("{form}Response: Gudde Mëtteg, merci."),
        format!("{form}Response: Moien, wéi geet et?"),
        "Short prompt.".to_string(),
        format!("{form}{form}Response: twice the form, four chunks and more."),
    ]
    .iter()
    .map(|p| tokenizer.encode(p, false).unwrap())
    .collect()
}

fn sampling() -> SamplingConfig {
    SamplingConfig {
        temperature: 1.0,
        seed: 17,
        logprobs: Some(3),
        ..SamplingConfig::greedy(6)
    }
}

fn answer_all(
    model: &Llama,
    tokenizer: &Tokenizer,
    prompts: &[Vec<u32>],
    cache: &mut PromptCache,
) -> Vec<Vec<Generated>> {
    prompts
        .iter()
        .map(|p| generate_choices(model, tokenizer, p, 2, &sampling(), None, cache).unwrap())
        .collect()
}

#[test]
fn answers_are_the_same_whatever_the_cache_held() {
    let (_dir, model, tokenizer) = tiny();
    let prompts = prompts(&tokenizer);

    // No budget: nothing is kept, every chunk is computed.
    let mut none = PromptCache::new(0);
    let want = answer_all(&model, &tokenizer, &prompts, &mut none);
    assert_eq!(none.stats().reused_tokens, 0);
    assert_eq!(none.bytes(), 0);

    // A budget: the shared chunks are computed once and reused, the answers bit for bit the
    // same, in the order given and in the reverse order.
    let mut big = PromptCache::new(64 << 20);
    assert_eq!(answer_all(&model, &tokenizer, &prompts, &mut big), want);
    let stats = big.stats();
    let total: usize = prompts.iter().map(Vec::len).sum();
    assert_eq!(stats.reused_tokens + stats.computed_tokens, total as u64);
    // Prompts 2 and 3 reuse the form's two chunks; prompt 5 reuses them too (its own third
    // and fourth chunks are new).
    assert_eq!(stats.reused_tokens, 3 * 2 * PromptCache::CHUNK as u64);
    let mut reversed: Vec<Vec<u32>> = prompts.clone();
    reversed.reverse();
    let mut again = answer_all(&model, &tokenizer, &reversed, &mut big);
    again.reverse();
    assert_eq!(again, want);
    assert!(big.stats().reused_tokens > stats.reused_tokens);

    // A budget of about one prefix: entries are evicted, answers still the same.
    let one_prefix = {
        let mut probe = PromptCache::new(usize::MAX);
        probe.prefill(&model, &prompts[0]).unwrap();
        probe.bytes()
    };
    let mut small = PromptCache::new(one_prefix);
    assert_eq!(answer_all(&model, &tokenizer, &prompts, &mut small), want);
    assert!(small.bytes() <= one_prefix);
}

#[test]
fn a_chunked_prompt_pass_gives_the_logits_of_one_forward_pass() {
    let (_dir, model, tokenizer) = tiny();
    let vocab = model.config().vocab_size;
    for prompt in prompts(&tokenizer) {
        let mut cache = PromptCache::new(64 << 20);
        let (kv, logits) = cache.prefill(&model, &prompt).unwrap();
        assert_eq!(kv.len(), prompt.len());
        let got: Vec<f32> = logits.into_data().try_into_vec().unwrap();
        let ids: Vec<i64> = prompt.iter().map(|&t| i64::from(t)).collect();
        let n = ids.len();
        let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [1, n]), &Device::flex());
        let all: Vec<f32> = model.forward(ids, None).into_data().try_into_vec().unwrap();
        let want = &all[(n - 1) * vocab..];
        let worst = got
            .iter()
            .zip(want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst < 1e-4, "{n} tokens: max |Δlogit| {worst}");
    }
}

#[test]
fn n_choices_share_one_prompt_pass_and_greedy_ones_agree_with_generate() {
    let (_dir, model, tokenizer) = tiny();
    // Shorter than a chunk: the prompt pass is the one `generate` makes at batch 1.
    let prompt = tokenizer.encode("Moien! Wéi geet et?", false).unwrap();
    assert!(prompt.len() < PromptCache::CHUNK);
    let greedy = SamplingConfig::greedy(8);
    let mut cache = PromptCache::new(0);
    let three =
        generate_choices(&model, &tokenizer, &prompt, 3, &greedy, None, &mut cache).unwrap();
    assert_eq!(three.len(), 3);
    assert!(three.iter().all(|g| g == &three[0]));
    let one = generate(&model, &tokenizer, std::slice::from_ref(&prompt), &greedy).unwrap();
    assert_eq!(three[0], one[0]);
    // Sampled choices draw from their own streams: not all equal.
    let sampled = generate_choices(
        &model,
        &tokenizer,
        &prompt,
        3,
        &sampling(),
        None,
        &mut cache,
    )
    .unwrap();
    assert!(sampled.windows(2).any(|w| w[0].tokens != w[1].tokens));
    // An empty prompt or an id past the vocabulary is an error, as in `generate`.
    let e = generate_choices(&model, &tokenizer, &[], 1, &greedy, None, &mut cache).unwrap_err();
    assert!(e.to_string().contains("empty"), "{e}");
    let past = model.config().vocab_size as u32;
    let e =
        generate_choices(&model, &tokenizer, &[past], 1, &greedy, None, &mut cache).unwrap_err();
    assert!(e.to_string().contains("vocabulary size"), "{e}");
}
