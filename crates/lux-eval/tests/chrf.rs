//! chrF / chrF++ against scores computed by sacrebleu (`fixtures/make_chrf_reference.py`).

use lux_core::{Metric, MetricInput};
use lux_eval::chrf::{Chrf, ChrfConfig};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize)]
struct Settings {
    char_order: Option<usize>,
    word_order: Option<usize>,
    beta: Option<f64>,
    lowercase: Option<bool>,
    whitespace: Option<bool>,
    eps_smoothing: Option<bool>,
}

#[derive(Deserialize)]
struct Expected {
    settings: Settings,
    sentence: Vec<f64>,
    corpus: f64,
    multi_sentence: Vec<f64>,
    multi_corpus: f64,
}

#[derive(Deserialize)]
struct Reference {
    pairs: Vec<(String, String)>,
    multi: Vec<(String, Vec<String>)>,
    configs: BTreeMap<String, Expected>,
}

fn metric(s: &Settings) -> Chrf {
    let d = ChrfConfig::chrf();
    ChrfConfig {
        char_order: s.char_order.unwrap_or(d.char_order),
        word_order: s.word_order.unwrap_or(d.word_order),
        beta: s.beta.unwrap_or(d.beta),
        lowercase: s.lowercase.unwrap_or(false),
        whitespace: s.whitespace.unwrap_or(false),
        eps_smoothing: s.eps_smoothing.unwrap_or(false),
    }
    .init()
    .unwrap()
}

/// sacrebleu computes in f64 as lux does, in the same order of operations.
const TOL: f64 = 1e-9;

#[test]
fn matches_sacrebleu() {
    let reference: Reference =
        serde_json::from_str(include_str!("fixtures/chrf_reference.json")).unwrap();
    assert_eq!(reference.configs.len(), 7);
    let mut worst = (0.0f64, String::new());
    let mut check = |got: f64, want: f64, what: String| {
        let d = (got - want).abs();
        assert!(d <= TOL, "{what}: lux {got}, sacrebleu {want}");
        if d >= worst.0 {
            worst = (d, what);
        }
    };
    for (name, expected) in &reference.configs {
        let chrf = metric(&expected.settings);
        for (i, ((h, r), want)) in reference.pairs.iter().zip(&expected.sentence).enumerate() {
            check(
                chrf.sentence_score(h, &[r]),
                *want,
                format!("{name} sentence {i} {h:?}"),
            );
        }
        let hyps: Vec<&str> = reference.pairs.iter().map(|(h, _)| h.as_str()).collect();
        let refs: Vec<&str> = reference.pairs.iter().map(|(_, r)| r.as_str()).collect();
        check(
            chrf.corpus_score(&hyps, &refs).unwrap(),
            expected.corpus,
            format!("{name} corpus"),
        );
        for (i, ((h, rs), want)) in reference
            .multi
            .iter()
            .zip(&expected.multi_sentence)
            .enumerate()
        {
            check(
                chrf.sentence_score(h, rs),
                *want,
                format!("{name} multi-reference sentence {i}"),
            );
        }
        let mh: Vec<&str> = reference.multi.iter().map(|(h, _)| h.as_str()).collect();
        let mr: Vec<Vec<String>> = reference.multi.iter().map(|(_, r)| r.clone()).collect();
        check(
            chrf.corpus_score_multi(&mh, &mr).unwrap(),
            expected.multi_corpus,
            format!("{name} multi-reference corpus"),
        );
    }
    println!("max |lux − sacrebleu| = {:e} ({})", worst.0, worst.1);
}

#[test]
fn metric_is_the_corpus_score() {
    let m: Box<dyn Metric> = toml::from_str("type = \"chrf\"\nword_order = 2").unwrap();
    assert_eq!(m.name(), "chrf++");
    let preds = vec!["D'Anna huet 12 Äppel.".to_string(), "Moien".to_string()];
    let refs = vec![
        "D'Anna huet zwielef Äppel.".to_string(),
        "Moien!".to_string(),
    ];
    let v = m
        .compute(&MetricInput::Predictions {
            predictions: &preds,
            references: &refs,
        })
        .unwrap();
    let direct = ChrfConfig::chrf_plus_plus()
        .init()
        .unwrap()
        .corpus_score(&preds, &refs)
        .unwrap();
    assert_eq!(v, direct);
    assert_eq!(
        serde_json::to_string(&m).unwrap(),
        r#"{"type":"chrf","char_order":6,"word_order":2,"beta":2.0,"lowercase":false,"whitespace":false,"eps_smoothing":false}"#
    );
    let e = toml::from_str::<Box<dyn Metric>>("type = \"chrf\"\nbeta = -1.0").unwrap_err();
    assert!(e.to_string().contains("invalid chrf.beta"), "{e}");
    let e = m.compute(&MetricInput::Predictions {
        predictions: &preds,
        references: &refs[..1],
    });
    assert!(
        e.unwrap_err()
            .to_string()
            .contains("2 hypotheses but 1 references")
    );
}
