//! lux-eval's judges on the offline `local` client (issue 6: "judges run against the loopback
//! test server and against `LocalLlm`"; the loopback half is lux-plugins'
//! `tests/eval_judges.rs`).
//!
//! SmolLM2-135M-Instruct is a weak judge, so these tests check the mechanics, not the
//! quality of its scores:
//! - G-Eval, probability-weighted: the score is the mean of "1".."5" weighted by the
//!   probabilities `LocalLlm` returned among the top log-probs at the first score token
//!   (recomputed here by hand from the raw response), or a recorded fallback;
//! - G-Eval, parsed: the number in the greedy answer;
//! - the LUXELLA 1–5 judge (`llm_judge`, JSON score and reason) inside [`Luxella`]: a score on
//!   the scale with its method, or a failure recorded on the item, never a panic;
//! - a client whose model file is missing: every item fails, with the path in the error.
//!
//! The SmolLM2 tests skip with a printed reason when the model is not in the models cache
//! (`bash scripts/fetch-models.sh`).
#![cfg(all(feature = "train", feature = "eval", feature = "plugins"))]

use std::collections::BTreeMap;

use lux::core::{
    ChatMessage, ChatRequest, Criteria, Judge, JudgeRequest, LlmClient, ScoreMethod, ScoreScale,
};
use lux::eval::judge::{GEval, GEvalConfig, GEvalMode, LlmJudge, LlmJudgeConfig, parse_score};
use lux::eval::luxella::{BenchmarkItem, Luxella, LuxellaConfig, LuxellaReport, read_benchmark};
use lux::eval::report::luxella_report;
use lux::train::gguf::find_smollm2;
use lux::train::local_llm::{LocalLlm, LocalLlmConfig};

/// SmolLM2 as a `local` client, or `None` (with the reason printed) when it is not fetched.
fn smollm2(max_tokens: u32) -> Option<Box<dyn LlmClient>> {
    if find_smollm2().is_none() {
        eprintln!(
            "skipping: SmolLM2 GGUF not found (run `bash scripts/fetch-models.sh`, or set LUX_MODELS)"
        );
        return None;
    }
    let mut config = LocalLlmConfig::named("smollm2");
    config.max_tokens = max_tokens;
    Some(Box::new(LocalLlm::new(config).expect("valid local config")))
}

fn criteria() -> Criteria {
    Criteria {
        name: "correctness".into(),
        description: "Is the answer a correct translation into Luxembourgish?".into(),
        scale: ScoreScale::ONE_TO_FIVE,
    }
}

/// Three answers of different quality to one instruction.
fn requests() -> Vec<JudgeRequest> {
    [
        "Merci villmools.",
        "Thank you very much.",
        "Ech iessen e Baam.",
    ]
    .into_iter()
    .map(|response| JudgeRequest {
        instruction: "Translate into Luxembourgish: \"Thank you very much.\"".into(),
        response: response.into(),
        reference: Some("Merci villmools.".into()),
        criteria: criteria(),
    })
    .collect()
}

/// Completion limit of a G-Eval request: room for "The score is 4".
const MAX_TOKENS: u32 = 8;

/// A G-Eval judge on SmolLM2 with fixed evaluation steps (generating them would cost a
/// 400-token answer) and a short completion.
fn g_eval(llm: Box<dyn LlmClient>, mode: GEvalMode) -> GEval {
    let mut c = GEvalConfig::new(llm);
    c.mode = mode;
    c.max_tokens = MAX_TOKENS;
    c.top_logprobs = 10;
    // G-Eval's own form ends in "- correctness:", which SmolLM2's chat turn answers with
    // "Your task is to…"; the brief form asks for the digit outright.
    c.form_prompt =
        Some(concat!(env!("CARGO_MANIFEST_DIR"), "/prompts/g_eval.brief.form.txt").into());
    c.steps.insert(
        "correctness".into(),
        "Compare the response with the reference answer: the closer, the higher the score.".into(),
    );
    GEval::new(c).expect("valid g_eval config")
}

/// The score-token distribution of a raw response, computed here without lux-eval's
/// helpers: at the first generated token whose text (spaces trimmed) is "1".."5", the
/// probabilities of the alternatives that are "1".."5", summed per digit.
fn digit_distribution(response: &lux::core::ChatResponse) -> Option<BTreeMap<u32, f64>> {
    let tokens = response.choices[0].logprobs.as_ref()?;
    let digit = |t: &str| -> Option<u32> {
        let t = t.trim_matches(|c: char| c.is_whitespace() || c == 'Ġ' || c == '▁');
        match t {
            "1" | "2" | "3" | "4" | "5" => t.parse().ok(),
            _ => None,
        }
    };
    let at = tokens.iter().find(|t| digit(&t.token).is_some())?;
    let mut dist = BTreeMap::new();
    for alt in &at.top {
        if let Some(d) = digit(&alt.token) {
            *dist.entry(d).or_insert(0.0) += f64::from(alt.logprob).exp();
        }
    }
    if !at.top.iter().any(|alt| alt.token == at.token) {
        *dist.entry(digit(&at.token)?).or_insert(0.0) += f64::from(at.logprob).exp();
    }
    Some(dist)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g_eval_probability_weighted_and_parsed_on_smollm2() {
    let Some(llm) = smollm2(MAX_TOKENS) else {
        return;
    };
    // The judge's client and the one replaying its requests load the model separately; the
    // answers are greedy, so both see the same tokens.
    let Some(replay) = smollm2(MAX_TOKENS) else {
        return;
    };
    let weighted = g_eval(llm, GEvalMode::ProbabilityWeighted);
    let mut probability_weighted = 0;
    let mut answers = Vec::new();
    for (i, request) in requests().iter().enumerate() {
        // The request the judge sends (temperature 0, top log-probs), sent again to read the
        // raw log-probs.
        let form = weighted.form(request).await.unwrap();
        let mut raw = ChatRequest::new(vec![ChatMessage::user(form.as_str())]);
        raw.temperature = Some(0.0);
        raw.max_tokens = Some(MAX_TOKENS);
        raw.top_logprobs = Some(10);
        let response = replay.chat(&raw).await.unwrap();
        let answer = response.choices[0].content.clone();
        let tops = response.choices[0].logprobs.as_ref().unwrap();
        assert!(!tops.is_empty() && tops.iter().all(|t| t.top.len() == 10));
        let dist = digit_distribution(&response).filter(|d| !d.is_empty());

        answers.push(answer.clone());
        let outcome = weighted.judge(request).await;
        eprintln!("item {i}: answer {answer:?}, digits {dist:?} → {outcome:?}");
        match (outcome, dist) {
            (Ok(j), Some(dist)) => {
                assert_eq!(j.method, ScoreMethod::ProbabilityWeighted);
                let total: f64 = dist.values().sum();
                let mean = dist.iter().map(|(d, p)| f64::from(*d) * p).sum::<f64>() / total;
                assert!((j.score - mean).abs() < 1e-9, "{} vs {mean}", j.score);
                assert!((1.0..=5.0).contains(&j.score));
                assert!(j.reason.unwrap().contains("score-token probabilities"));
                assert_eq!(j.judge, "g_eval:local:smollm2");
                probability_weighted += 1;
            }
            // No score token among the generated ones: the fallback reads the number in the
            // answer, and the judgement says it fell back.
            (Ok(j), None) => {
                assert_eq!(j.method, ScoreMethod::Parsed);
                assert_eq!(Ok(j.score), parse_score(&answer, ScoreScale::ONE_TO_FIVE));
                assert!(
                    j.reason
                        .unwrap()
                        .contains("fallback from probability_weighted")
                );
            }
            (Err(e), None) => {
                let e = e.to_string();
                assert!(e.contains("g_eval:local:smollm2"), "{e}");
                assert!(
                    parse_score(&answer, ScoreScale::ONE_TO_FIVE).is_err(),
                    "{e}"
                );
            }
            (Err(e), Some(dist)) => panic!("item {i}: distribution {dist:?} but error {e}"),
        }
    }
    assert_eq!(
        weighted.fallbacks(),
        requests().len() - probability_weighted
    );
    // SmolLM2 does write a digit after "- correctness:" (greedy, so this is deterministic);
    // without one this test would check only the fallback.
    assert!(probability_weighted > 0, "no score token in any answer");

    // Parsed: the same form, greedy, so the same answer as above without log-probs.
    let parsed = g_eval(replay, GEvalMode::Parsed);
    for (request, answer) in requests().iter().zip(&answers) {
        match parsed.judge(request).await {
            Ok(j) => {
                assert_eq!(j.method, ScoreMethod::Parsed);
                assert_eq!(Ok(j.score), parse_score(answer, ScoreScale::ONE_TO_FIVE));
            }
            Err(e) => {
                assert!(parse_score(answer, ScoreScale::ONE_TO_FIVE).is_err());
                assert!(e.to_string().contains("g_eval:local:smollm2"), "{e}");
            }
        }
    }
}

fn seed_items(n_per_difficulty: usize) -> Vec<BenchmarkItem> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/luxella_seed.jsonl");
    let all = read_benchmark(path).unwrap();
    let mut out = Vec::new();
    for d in ["beginner", "native"] {
        out.extend(
            all.iter()
                .filter(|i| i.difficulty == d)
                .take(n_per_difficulty)
                .cloned(),
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn luxella_judge_scores_or_records_failures_on_smollm2() {
    let Some(llm) = smollm2(48) else { return };
    let mut config = LlmJudgeConfig::new(llm);
    config.max_tokens = Some(48);
    let judge = LlmJudge::new(config).unwrap();
    let id = judge.id();
    let lux = Luxella::new(LuxellaConfig::new(Box::new(judge))).unwrap();
    let items = seed_items(2);
    // The references as answers, one wrong answer, and one empty answer.
    let mut answers: Vec<Option<String>> = items
        .iter()
        .map(|i| Some(i.reference_answer.clone()))
        .collect();
    answers[1] = Some("I do not know.".into());
    answers[2] = Some("   ".into());
    let result = lux.judge_answers("references", &items, &answers).await;
    assert_eq!(result.items.len(), items.len());
    for (item, r) in items.iter().zip(&result.items) {
        eprintln!("{} → {:?} {:?} {:?}", item.id, r.score, r.reason, r.error);
        assert_eq!(
            (&r.category, &r.difficulty),
            (&item.category, &item.difficulty)
        );
        match (r.score, &r.error) {
            (Some(s), None) => {
                assert!((1.0..=5.0).contains(&s) && s.fract() == 0.0, "{s}");
                assert_eq!(r.method, Some(ScoreMethod::Parsed));
            }
            (None, Some(e)) => {
                assert!(
                    e.starts_with("answer: ") || (e.starts_with("judge: ") && e.contains(&id)),
                    "{e}"
                );
                assert_eq!(r.method, None);
            }
            other => panic!("an item is either scored or failed, not {other:?}"),
        }
    }
    assert_eq!(
        result.items[2].error.as_deref(),
        Some("answer: the model returned an empty answer")
    );

    let report = LuxellaReport::new(vec![result]);
    let overall = report.models[0].overall;
    assert_eq!(overall.n + overall.failed, items.len());
    let dir = tempfile::tempdir().unwrap();
    let files = luxella_report(&report)
        .unwrap()
        .write(dir.path(), "luxella")
        .unwrap();
    let md = std::fs::read_to_string(files.markdown).unwrap();
    assert!(md.contains("## By difficulty"), "{md}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_local_model_fails_every_item_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-model.gguf");
    let llm: Box<dyn LlmClient> =
        Box::new(LocalLlm::new(LocalLlmConfig::from_path(&missing)).unwrap());
    let judge = LlmJudge::new(LlmJudgeConfig::new(llm)).unwrap();
    let lux = Luxella::new(LuxellaConfig::new(Box::new(judge))).unwrap();
    let items = seed_items(1);
    let answers = vec![Some("Merci villmools.".to_string()); items.len()];
    let result = lux.judge_answers("any", &items, &answers).await;
    for r in &result.items {
        let e = r.error.as_deref().unwrap();
        assert!(
            e.starts_with("judge: ") && e.contains("no-such-model.gguf"),
            "{e}"
        );
        assert_eq!(r.score, None);
    }
    let g = g_eval(
        Box::new(LocalLlm::new(LocalLlmConfig::from_path(&missing)).unwrap()),
        GEvalMode::ProbabilityWeighted,
    );
    let e = g.judge(&requests()[0]).await.unwrap_err().to_string();
    assert!(e.contains("no-such-model.gguf"), "{e}");
}
