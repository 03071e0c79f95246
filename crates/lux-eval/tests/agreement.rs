//! Krippendorff's alpha and Spearman's rho against independent references
//! (`fixtures/agreement/make_reference.py`: the `krippendorff` package and
//! `scipy.stats.spearmanr`) and against their defining properties.

use lux_eval::judge::{Agreement, AlphaLevel, krippendorff_alpha, spearman};
use serde_json::Value;

fn cases() -> Vec<Value> {
    let text = include_str!("fixtures/agreement/agreement_reference.json");
    let v: Value = serde_json::from_str(text).unwrap();
    v["cases"].as_array().unwrap().clone()
}

fn ratings(case: &Value) -> Vec<Vec<Option<f64>>> {
    case["ratings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row.as_array().unwrap().iter().map(Value::as_f64).collect())
        .collect()
}

#[test]
fn alpha_matches_the_krippendorff_package() {
    for case in cases() {
        let r = ratings(&case);
        for (level, key) in [
            (AlphaLevel::Interval, "alpha_interval"),
            (AlphaLevel::Ordinal, "alpha_ordinal"),
            (AlphaLevel::Nominal, "alpha_nominal"),
        ] {
            let want = case[key].as_f64().unwrap();
            let got = krippendorff_alpha(&r, level).unwrap();
            assert!(
                (got - want).abs() < 1e-10,
                "{} {key}: lux {got} vs reference {want}",
                case["name"]
            );
        }
    }
}

#[test]
fn alpha_reproduces_the_textbook_example() {
    // Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability": 4 coders, 12 units,
    // missing values; the paper gives nominal .743, ordinal .815, interval .849.
    let case = cases()
        .into_iter()
        .find(|c| c["name"] == "textbook")
        .unwrap();
    let r = ratings(&case);
    let round3 = |x: f64| (x * 1000.0).round() / 1000.0;
    assert_eq!(
        round3(krippendorff_alpha(&r, AlphaLevel::Nominal).unwrap()),
        0.743
    );
    assert_eq!(
        round3(krippendorff_alpha(&r, AlphaLevel::Ordinal).unwrap()),
        0.815
    );
    assert_eq!(
        round3(krippendorff_alpha(&r, AlphaLevel::Interval).unwrap()),
        0.849
    );
}

#[test]
fn spearman_matches_scipy() {
    for case in cases() {
        let r = ratings(&case);
        for pair in case["spearman"].as_array().unwrap() {
            let (a, b) = (
                pair["a"].as_u64().unwrap() as usize,
                pair["b"].as_u64().unwrap() as usize,
            );
            let want = pair["rho"].as_f64().unwrap();
            let got = spearman(&r[a], &r[b]).unwrap();
            assert!(
                (got - want).abs() < 1e-12,
                "{} ({a}, {b}): lux {got} vs scipy {want}",
                case["name"]
            );
        }
    }
}

#[test]
fn perfect_agreement_gives_one_and_order_does_not_matter() {
    let scores = [1.0, 3.0, 2.0, 5.0, 4.0, 4.0];
    let r = vec![
        scores.iter().map(|&s| Some(s)).collect::<Vec<_>>(),
        scores.iter().map(|&s| Some(s)).collect(),
        vec![Some(1.0), None, Some(2.0), Some(5.0), None, Some(4.0)],
    ];
    for level in [
        AlphaLevel::Interval,
        AlphaLevel::Ordinal,
        AlphaLevel::Nominal,
    ] {
        assert!((krippendorff_alpha(&r, level).unwrap() - 1.0).abs() < 1e-12);
    }
    // Permuting raters or items changes nothing.
    let case = &cases()[1];
    let mut r = ratings(case);
    let a = krippendorff_alpha(&r, AlphaLevel::Ordinal).unwrap();
    r.reverse();
    for row in &mut r {
        row.rotate_left(7);
    }
    let b = krippendorff_alpha(&r, AlphaLevel::Ordinal).unwrap();
    assert!((a - b).abs() < 1e-12);
    // Spearman is invariant under monotone maps and flips sign under reversal.
    let x: Vec<Option<f64>> = [1.0, 2.0, 2.0, 4.0, 7.0].iter().map(|&v| Some(v)).collect();
    let y: Vec<Option<f64>> = [2.0, 1.0, 3.0, 3.0, 5.0].iter().map(|&v| Some(v)).collect();
    let ex: Vec<Option<f64>> = x.iter().map(|v| v.map(f64::exp)).collect();
    let neg: Vec<Option<f64>> = y.iter().map(|v| v.map(|v| -v)).collect();
    let rho = spearman(&x, &y).unwrap();
    assert!((spearman(&ex, &y).unwrap() - rho).abs() < 1e-12);
    assert!((spearman(&x, &neg).unwrap() + rho).abs() < 1e-12);
    assert!((spearman(&x, &x).unwrap() - 1.0).abs() < 1e-12);
}

#[test]
fn systematic_disagreement_is_below_zero() {
    // Two raters who always disagree maximally: alpha < 0.
    let r = vec![
        vec![Some(1.0), Some(5.0), Some(1.0), Some(5.0)],
        vec![Some(5.0), Some(1.0), Some(5.0), Some(1.0)],
    ];
    assert!(krippendorff_alpha(&r, AlphaLevel::Interval).unwrap() < 0.0);
}

#[test]
fn agreement_summary_names_pairs() {
    let case = &cases()[1];
    let r = ratings(case);
    let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let ag = Agreement::compute(&names, &r);
    assert_eq!(ag.spearman.len(), 3);
    assert_eq!(
        (ag.spearman[2].a.as_str(), ag.spearman[2].b.as_str()),
        ("b", "c")
    );
    let want = case["alpha_interval"].as_f64().unwrap();
    assert!((ag.alpha_interval.unwrap() - want).abs() < 1e-10);
    let mean = ag.spearman.iter().map(|p| p.rho.unwrap()).sum::<f64>() / 3.0;
    assert!((ag.mean_spearman.unwrap() - mean).abs() < 1e-12);
    assert!(ag.pairable_items > 30 && ag.pairable_items <= 40);
}
