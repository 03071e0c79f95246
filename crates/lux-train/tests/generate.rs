//! Sampling and generation: the warpers against transformers' (fixture), sampling properties,
//! batched decoding against one-by-one decoding and against a full forward pass, stop
//! conditions, and SmolLM2 answering a chat question (when fetched).

use burn::tensor::{Device, Int, Tensor, TensorData};
use lux_core::ChatMessage;
use lux_core::rng::SplitMix64;
use lux_train::generate::{
    FinishReason, Sampler, SamplingConfig, filtered_distribution, generate, generate_ids,
    log_softmax, softmax,
};
use lux_train::gguf::find_smollm2;
use lux_train::model::{Llama, LlamaConfig};
use lux_train::tokenizer::{GgufTokenizerMetadata, Tokenizer};

// ---------------------------------------------------------------- warpers vs transformers

#[test]
fn filtered_distributions_match_hf_logits_warpers() {
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/sampling/hf_warpers.json")).unwrap();
    let rows: Vec<Vec<f32>> = fixture["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect()
        })
        .collect();
    let cases = fixture["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 45);
    for case in cases {
        let row = &rows[case["row"].as_u64().unwrap() as usize];
        let config = SamplingConfig {
            temperature: case["temperature"].as_f64().unwrap() as f32,
            top_k: case["top_k"].as_u64().unwrap() as usize,
            top_p: case["top_p"].as_f64().unwrap() as f32,
            ..SamplingConfig::default()
        };
        let got = filtered_distribution(row, &config);
        for (i, want) in case["probs"].as_array().unwrap().iter().enumerate() {
            let want = want.as_f64().unwrap() as f32;
            assert_eq!(
                got[i] == 0.0,
                want == 0.0,
                "token {i} kept/removed differently, case {case}"
            );
            assert!(
                (got[i] - want).abs() < 1e-5,
                "token {i}: {} vs {want}, case {case}",
                got[i]
            );
        }
    }
}

// ---------------------------------------------------------------- sampling properties

fn random_logits(rng: &mut SplitMix64, n: usize, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|_| (rng.unit() as f32 * 2.0 - 1.0) * scale)
        .collect()
}

#[test]
fn top_k_never_samples_outside_the_k_best() {
    let mut rng = SplitMix64::new(11);
    for case in 0..40 {
        let logits = random_logits(&mut rng, 30, 3.0);
        let k = 1 + case % 7;
        let config = SamplingConfig {
            temperature: 0.5 + (case % 4) as f32 * 0.5,
            top_k: k,
            seed: case as u64,
            ..SamplingConfig::default()
        };
        let mut sorted = logits.clone();
        sorted.sort_by(|a, b| b.total_cmp(a));
        let kth = sorted[k - 1];
        let mut sampler = Sampler::new(&config, 0);
        for _ in 0..200 {
            let t = sampler.sample(&logits) as usize;
            assert!(
                logits[t] >= kth,
                "case {case}: token {t} is not in the top {k}"
            );
        }
    }
}

#[test]
fn top_p_never_samples_outside_the_nucleus() {
    let mut rng = SplitMix64::new(12);
    for case in 0..40 {
        let logits = random_logits(&mut rng, 25, 4.0);
        let config = SamplingConfig {
            temperature: 0.7 + (case % 3) as f32 * 0.3,
            top_p: 0.3 + (case % 6) as f32 * 0.1,
            seed: case as u64,
            ..SamplingConfig::default()
        };
        // The nucleus, computed independently: a token is in it when the mass of the tokens
        // more likely than it is below p.
        let scaled: Vec<f32> = logits.iter().map(|l| l / config.temperature).collect();
        let probs = softmax(&scaled);
        let in_nucleus = |t: usize| {
            let above: f32 = (0..probs.len())
                .filter(|&j| probs[j] > probs[t])
                .map(|j| probs[j])
                .sum();
            above < config.top_p + 1e-5
        };
        let mut sampler = Sampler::new(&config, 3);
        for _ in 0..200 {
            let t = sampler.sample(&logits) as usize;
            assert!(
                in_nucleus(t),
                "case {case}: token {t} is outside the nucleus"
            );
        }
    }
}

#[test]
fn greedy_is_argmax_and_seeds_are_deterministic() {
    let mut rng = SplitMix64::new(13);
    for _ in 0..50 {
        let logits = random_logits(&mut rng, 40, 5.0);
        let best = (0..logits.len())
            .max_by(|&a, &b| logits[a].total_cmp(&logits[b]))
            .unwrap();
        let mut greedy = Sampler::new(&SamplingConfig::default(), 0);
        assert_eq!(greedy.sample(&logits) as usize, best);
    }
    let logits = random_logits(&mut rng, 40, 1.0);
    let config = SamplingConfig {
        temperature: 1.0,
        seed: 99,
        ..SamplingConfig::default()
    };
    let draw = |config: &SamplingConfig, index: usize| -> Vec<u32> {
        let mut s = Sampler::new(config, index);
        (0..64).map(|_| s.sample(&logits)).collect()
    };
    assert_eq!(draw(&config, 0), draw(&config, 0));
    assert_eq!(draw(&config, 5), draw(&config, 5));
    assert_ne!(draw(&config, 0), draw(&config, 1));
    let other = SamplingConfig {
        seed: 100,
        ..config.clone()
    };
    assert_ne!(draw(&config, 0), draw(&other, 0));
}

/// Pearson's chi-square statistic of `counts` against `probs`.
fn chi_square(counts: &[usize], probs: &[f32]) -> f64 {
    let n: usize = counts.iter().sum();
    counts
        .iter()
        .zip(probs)
        .map(|(&c, &p)| {
            let e = n as f64 * f64::from(p);
            (c as f64 - e).powi(2) / e
        })
        .sum()
}

#[test]
fn empirical_frequencies_follow_softmax_of_logits_over_temperature() {
    let logits = [1.0f32, 0.2, -0.5, 0.8, -1.5, 0.0];
    let t = 0.8f32;
    let config = SamplingConfig {
        temperature: t,
        seed: 2024,
        ..SamplingConfig::default()
    };
    let mut sampler = Sampler::new(&config, 0);
    let mut counts = [0usize; 6];
    for _ in 0..20_000 {
        counts[sampler.sample(&logits) as usize] += 1;
    }
    let expected = softmax(&logits.map(|l| l / t));
    // 5 degrees of freedom: P(chi² > 20.5) = 0.001.
    let chi = chi_square(&counts, &expected);
    assert!(chi < 20.5, "chi² = {chi}, counts {counts:?}");
    // The same counts are far from the untempered distribution: the check has power.
    let wrong = chi_square(&counts, &softmax(&logits));
    assert!(wrong > 100.0, "chi² against T = 1: {wrong}");
}

// ---------------------------------------------------------------- generation, tiny model

fn tiny_model(vocab: usize) -> Llama {
    let device = Device::flex();
    device.seed(21);
    LlamaConfig::from_json_str(&format!(
        r#"{{"hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": {vocab},
        "tie_word_embeddings": false}}"#
    ))
    .unwrap()
    .init(&device)
    .unwrap()
}

fn prompts() -> Vec<Vec<u32>> {
    vec![
        vec![3, 17, 5],
        vec![9, 1, 44, 2, 8, 30, 6],
        vec![12, 40, 7, 7, 21],
    ]
}

#[test]
fn batch_generation_equals_one_by_one() {
    let model = tiny_model(50);
    let config = SamplingConfig::greedy(12);
    let batch = generate_ids(&model, &prompts(), &config, None).unwrap();
    for (p, got) in prompts().into_iter().zip(&batch) {
        let alone = generate_ids(&model, std::slice::from_ref(&p), &config, None).unwrap();
        assert_eq!(got.tokens, alone[0].tokens, "prompt {p:?}");
        assert_eq!(got.tokens.len(), 12);
        assert_eq!(got.finish_reason, FinishReason::Length);
        assert_eq!((got.prompt_tokens, got.completion_tokens), (p.len(), 12));
    }
    // Sampled: sequence 0 of a batch draws like a single sequence with the same seed.
    let sampled = SamplingConfig {
        temperature: 1.0,
        top_k: 20,
        seed: 5,
        max_new_tokens: 10,
        ..SamplingConfig::default()
    };
    let batch = generate_ids(&model, &prompts(), &sampled, None).unwrap();
    let alone = generate_ids(&model, &prompts()[..1], &sampled, None).unwrap();
    assert_eq!(batch[0].tokens, alone[0].tokens);
}

/// `log_softmax` of a full forward pass over `ids`, at `position`.
fn full_log_probs(model: &Llama, ids: &[u32], position: usize) -> Vec<f32> {
    let data: Vec<i64> = ids.iter().map(|&t| i64::from(t)).collect();
    let input = Tensor::<2, Int>::from_data(TensorData::new(data, [1, ids.len()]), &Device::flex());
    let logits = model.forward(input, None);
    let [_, s, v] = logits.dims();
    assert!(position < s);
    let row = logits
        .slice([0..1, position..position + 1, 0..v])
        .into_data()
        .try_into_vec::<f32>()
        .unwrap();
    log_softmax(&row)
}

#[test]
fn logprobs_equal_log_softmax_of_a_full_forward() {
    let model = tiny_model(50);
    let config = SamplingConfig {
        temperature: 0.9,
        top_p: 0.8,
        seed: 7,
        max_new_tokens: 6,
        logprobs: Some(3),
        ..SamplingConfig::default()
    };
    let out = generate_ids(&model, &prompts(), &config, None).unwrap();
    for (p, g) in prompts().iter().zip(&out) {
        assert_eq!(g.logprobs.len(), g.tokens.len());
        let mut ids = p.clone();
        ids.extend(&g.tokens);
        for (j, lp) in g.logprobs.iter().enumerate() {
            let want = full_log_probs(&model, &ids, p.len() - 1 + j);
            assert_eq!(lp.token, g.tokens[j]);
            let err = (lp.logprob - want[lp.token as usize]).abs();
            assert!(
                err < 1e-4,
                "step {j}: {} vs {}",
                lp.logprob,
                want[lp.token as usize]
            );
            assert_eq!(lp.top.len(), 3);
            let mut best: Vec<(usize, f32)> = want.iter().copied().enumerate().collect();
            best.sort_by(|a, b| b.1.total_cmp(&a.1));
            for ((id, got), (want_id, want_lp)) in lp.top.iter().zip(&best) {
                assert_eq!(*id as usize, *want_id, "step {j}");
                assert!((got - want_lp).abs() < 1e-4);
            }
        }
    }
}

#[test]
fn stop_tokens_end_each_sequence_on_its_own() {
    let model = tiny_model(50);
    let free = generate_ids(&model, &prompts(), &SamplingConfig::greedy(10), None).unwrap();
    // Make the 4th token of sequence 1 a stop token.
    let stop = free[1].tokens[3];
    let first = |g: &[u32]| g.iter().position(|&t| t == stop);
    for (eos, ids) in [(Some(stop), vec![]), (None, vec![stop])] {
        let config = SamplingConfig {
            stop_token_ids: ids,
            ..SamplingConfig::greedy(10)
        };
        let out = generate_ids(&model, &prompts(), &config, eos).unwrap();
        for (f, g) in free.iter().zip(&out) {
            match first(&f.tokens) {
                Some(at) => {
                    assert_eq!(g.tokens, f.tokens[..at]);
                    assert_eq!(g.finish_reason, FinishReason::Stop);
                    assert_eq!(g.completion_tokens, at + 1);
                }
                None => {
                    assert_eq!(g.tokens, f.tokens);
                    assert_eq!(g.finish_reason, FinishReason::Length);
                }
            }
        }
    }
}

#[test]
fn bad_prompts_are_errors_naming_them() {
    let model = tiny_model(50);
    let config = SamplingConfig::greedy(3);
    let e = generate_ids(&model, &[vec![1], vec![]], &config, None).unwrap_err();
    assert!(e.to_string().contains("prompts[1]"), "{e}");
    let e = generate_ids(&model, &[vec![1, 50]], &config, None).unwrap_err();
    assert!(
        e.to_string().contains("prompts[0]") && e.to_string().contains("50"),
        "{e}"
    );
    let bad = SamplingConfig {
        stop: vec!["x".into()],
        ..config
    };
    assert!(generate_ids(&model, &[vec![1]], &bad, None).is_err());
    let zero = generate_ids(&model, &[vec![1]], &SamplingConfig::greedy(0), None).unwrap();
    assert!(zero[0].tokens.is_empty());
    assert_eq!(zero[0].finish_reason, FinishReason::Length);
}

/// A byte-level tokenizer with no merges: one token per byte, plus two control tokens.
fn byte_tokenizer() -> Tokenizer {
    let mut tokens: Vec<String> = vec!["<|endoftext|>".into(), "<|im_end|>".into()];
    let mut alphabet: Vec<char> = tokenizers::pre_tokenizers::byte_level::ByteLevel::alphabet()
        .into_iter()
        .collect();
    alphabet.sort_unstable();
    tokens.extend(alphabet.into_iter().map(String::from));
    let mut token_types = vec![3, 3];
    token_types.resize(tokens.len(), 1);
    Tokenizer::from_gguf_metadata(&GgufTokenizerMetadata {
        model: "gpt2".into(),
        pre: Some("gpt2".into()),
        tokens,
        token_types,
        eos_token_id: Some(1),
        ..GgufTokenizerMetadata::default()
    })
    .unwrap()
}

#[test]
fn stop_strings_are_matched_on_text_and_trimmed() {
    let tok = byte_tokenizer();
    let model = tiny_model(tok.vocab_size());
    let prompt = tok.encode("Hello", false).unwrap();
    let mut config = SamplingConfig {
        temperature: 1.0,
        seed: 3,
        max_new_tokens: 24,
        logprobs: Some(0),
        ..SamplingConfig::default()
    };
    let free = generate(&model, &tok, std::slice::from_ref(&prompt), &config).unwrap();
    let text = &free[0].text;
    // Random bytes decode to lossy UTF-8; an ASCII character is whole wherever it stands, so
    // stop on the first ASCII letter or digit that is not at the very start.
    let stop = text
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(String::from)
        .find(|c| text.find(c.as_str()).is_some_and(|at| at > 0))
        .unwrap_or_else(|| panic!("no ASCII character in {text:?}"));
    let cut = text.find(&stop).unwrap();
    config.stop = vec!["never-there".into(), stop.clone()];
    let out = &generate(&model, &tok, &[prompt], &config).unwrap()[0];
    assert_eq!(out.text, text[..cut], "stop {stop:?}");
    assert_eq!(out.finish_reason, FinishReason::Stop);
    assert!(!out.text.contains(&stop));
    // The kept tokens cover the text, and each has its log-prob.
    let kept = tok.decode(&out.tokens, true).unwrap();
    assert!(kept.starts_with(&out.text) && kept.len() < text.len());
    assert_eq!(out.logprobs.len(), out.tokens.len());
}

// ---------------------------------------------------------------- SmolLM2

#[test]
fn smollm2_answers_the_capital_of_france() {
    let Some(path) = find_smollm2() else {
        eprintln!(
            "skipping: SmolLM2 GGUF not found (run `bash scripts/fetch-models.sh`, or set LUX_MODELS)"
        );
        return;
    };
    let (model, tok) = Llama::from_gguf(&path, &Device::flex()).unwrap();
    let text = tok
        .apply_chat_template(&[ChatMessage::user("What is the capital of France?")], true)
        .unwrap();
    let prompt = tok.encode(&text, false).unwrap();
    let config = SamplingConfig {
        stop_token_ids: tok.token_id("<|im_end|>").into_iter().collect(),
        logprobs: Some(2),
        ..SamplingConfig::greedy(24)
    };
    let out = generate(&model, &tok, &[prompt], &config).unwrap();
    eprintln!("{:?} ({:?})", out[0].text, out[0].finish_reason);
    assert!(out[0].text.contains("Paris"), "{:?}", out[0].text);
    assert!(
        out[0]
            .logprobs
            .iter()
            .all(|l| l.logprob <= 0.0 && l.top.len() == 2)
    );
}
