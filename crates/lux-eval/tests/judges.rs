//! G-Eval from a recipe table and judge panels over in-process judges: aggregation,
//! recorded failures, agreement.

use std::sync::Mutex;

use async_trait::async_trait;
use futures::executor::block_on;
use lux_core::{
    ChatChoice, ChatRequest, ChatResponse, Criteria, Error, Judge, JudgeRequest, Judgement,
    LlmClient, Result, ScoreMethod, ScoreScale, TokenLogprob, TopLogprob, Usage,
};
use lux_eval::judge::{Aggregation, AlphaLevel, Panel, PanelConfig, krippendorff_alpha};
use serde::{Deserialize, Serialize};

/// Answers every request with the same text and, optionally, log-probs for a score token.
#[derive(Debug, Serialize, Deserialize)]
struct Fixed {
    answer: String,
    #[serde(default)]
    top: Vec<(String, f32)>,
    #[serde(skip)]
    calls: Mutex<usize>,
}

#[typetag::serde(name = "judges_test_fixed")]
#[async_trait]
impl LlmClient for Fixed {
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse> {
        *self.calls.lock().unwrap() += 1;
        let logprobs = (request.top_logprobs.is_some() && !self.top.is_empty()).then(|| {
            vec![TokenLogprob {
                token: self.top[0].0.clone(),
                logprob: self.top[0].1,
                top: self
                    .top
                    .iter()
                    .map(|(t, l)| TopLogprob {
                        token: t.clone(),
                        logprob: *l,
                    })
                    .collect(),
            }]
        });
        Ok(ChatResponse {
            choices: vec![ChatChoice {
                content: self.answer.clone(),
                finish_reason: None,
                logprobs,
            }],
            usage: Usage::default(),
            model: "fixed".into(),
        })
    }
    fn model(&self) -> String {
        "fixed".into()
    }
}

/// A judge whose score of item `i` is `scores[i]` (`None` = fails).
#[derive(Debug, Serialize, Deserialize)]
struct Scripted {
    name: String,
    scores: Vec<Option<f64>>,
}

#[typetag::serde(name = "judges_test_scripted")]
#[async_trait]
impl Judge for Scripted {
    async fn judge(&self, r: &JudgeRequest) -> Result<Judgement> {
        let i: usize = r.instruction.parse().unwrap();
        match self.scores[i] {
            Some(score) => Ok(Judgement {
                judge: self.id(),
                score,
                scale: r.criteria.scale,
                reason: None,
                method: ScoreMethod::Parsed,
            }),
            None => Err(Error::plugin(self.id(), format!("no score for item {i}"))),
        }
    }
    fn id(&self) -> String {
        self.name.clone()
    }
}

fn requests(n: usize) -> Vec<JudgeRequest> {
    (0..n)
        .map(|i| JudgeRequest {
            instruction: i.to_string(),
            response: format!("answer {i}"),
            reference: None,
            criteria: Criteria {
                name: "fluency".into(),
                description: "Is it fluent?".into(),
                scale: ScoreScale::ONE_TO_FIVE,
            },
        })
        .collect()
}

#[test]
fn g_eval_is_nameable_from_a_recipe() {
    let toml = r#"
        type = "g_eval"
        mode = "probability_weighted"
        fallback = "sample_mean"
        n = 3
        steps = { fluency = "1. Read it aloud." }
        [llm]
        type = "judges_test_fixed"
        answer = "4"
        top = [["4", -0.2231435513], [" 2", -1.6094379124]]
    "#;
    let judge: Box<dyn Judge> = toml::from_str(toml).unwrap();
    assert_eq!(judge.id(), "g_eval:fixed");
    let j = block_on(judge.judge(&requests(1)[0])).unwrap();
    // p(4) = 0.8, p(2) = 0.2 → 3.6.
    assert!((j.score - 3.6).abs() < 1e-6, "{}", j.score);
    assert_eq!(j.method, ScoreMethod::ProbabilityWeighted);

    // Unknown keys are refused, naming the key.
    let bad = toml.replace("n = 3", "n = 3\ncolour = \"red\"");
    let e = toml::from_str::<Box<dyn Judge>>(&bad)
        .unwrap_err()
        .to_string();
    assert!(e.contains("colour"), "{e}");
}

#[test]
fn g_eval_without_logprobs_records_its_fallback() {
    let toml = r#"
        type = "g_eval"
        fallback = "sample_mean"
        n = 3
        steps = { fluency = "1. Read it aloud." }
        [llm]
        type = "judges_test_fixed"
        answer = "fluency: 2"
    "#;
    let judge: Box<dyn Judge> = toml::from_str(toml).unwrap();
    let j = block_on(judge.judge(&requests(1)[0])).unwrap();
    assert_eq!(j.score, 2.0);
    assert_eq!(j.method, ScoreMethod::SampleMean { n: 3 });
    assert!(
        j.reason
            .unwrap()
            .starts_with("fallback from probability_weighted")
    );
}

fn panel(aggregation: Aggregation, weights: Option<Vec<f64>>) -> Panel {
    let judges: Vec<Box<dyn Judge>> = vec![
        Box::new(Scripted {
            name: "a".into(),
            scores: vec![Some(5.0), Some(4.0), Some(2.0), Some(1.0), Some(3.0)],
        }),
        Box::new(Scripted {
            name: "b".into(),
            scores: vec![Some(4.0), Some(4.0), None, Some(2.0), Some(3.0)],
        }),
        Box::new(Scripted {
            name: "c".into(),
            scores: vec![Some(5.0), Some(3.0), Some(1.0), Some(1.0), Some(5.0)],
        }),
    ];
    let mut c = PanelConfig::new(judges);
    c.aggregation = aggregation;
    c.weights = weights;
    c.concurrency = 2;
    Panel::new(c).unwrap()
}

#[test]
fn panel_aggregates_records_failures_and_measures_agreement() {
    let run = block_on(panel(Aggregation::Median, None).run(&requests(5)));
    let scores: Vec<Option<f64>> = run.items.iter().map(|i| i.score).collect();
    assert_eq!(
        scores,
        vec![Some(5.0), Some(4.0), Some(1.5), Some(1.0), Some(3.0)]
    );
    assert_eq!(run.failures(), vec![0, 1, 0]);
    let failed = &run.items[2].outcomes[1];
    assert!(
        failed
            .error
            .as_deref()
            .unwrap()
            .contains("no score for item 2")
    );
    // Agreement is computed on the same matrix, the failure as a missing value.
    let m = run.scores();
    assert_eq!(m[1][2], None);
    let want = krippendorff_alpha(&m, AlphaLevel::Interval).unwrap();
    assert_eq!(run.agreement.alpha_interval, Some(want));
    assert_eq!(run.agreement.spearman.len(), 3);
    assert_eq!(run.agreement.spearman[0].n, 4);

    let run =
        block_on(panel(Aggregation::WeightedMajority, Some(vec![1.0, 1.0, 3.0])).run(&requests(5)));
    assert_eq!(run.items[1].score, Some(3.0));
    let run = block_on(panel(Aggregation::Mean, None).run(&requests(5)));
    assert_eq!(run.items[4].score, Some(11.0 / 3.0));
}

#[test]
fn panel_settings_are_checked() {
    let e = Panel::new(PanelConfig::new(vec![]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("panel.judges"), "{e}");
    let judges: Vec<Box<dyn Judge>> = vec![Box::new(Scripted {
        name: "a".into(),
        scores: vec![],
    })];
    let mut c = PanelConfig::new(judges);
    c.weights = Some(vec![1.0, 2.0]);
    assert!(
        Panel::new(c)
            .unwrap_err()
            .to_string()
            .contains("2 weights for 1 judges")
    );
    let judges: Vec<Box<dyn Judge>> = vec![Box::new(Scripted {
        name: "a".into(),
        scores: vec![],
    })];
    let mut c = PanelConfig::new(judges);
    c.aggregation = Aggregation::TrimmedMean { trim: 0.5 };
    assert!(Panel::new(c).is_err());
    // From TOML, with the aggregation's tag.
    let c: PanelConfig = toml::from_str(
        r#"
        aggregation = { method = "trimmed_mean", trim = 0.2 }
        [[judges]]
        type = "judges_test_scripted"
        name = "x"
        scores = [1.0]
    "#,
    )
    .unwrap();
    assert_eq!(c.aggregation, Aggregation::TrimmedMean { trim: 0.2 });
}
