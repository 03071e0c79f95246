//! The judge report: score distributions per judge, how scores were obtained, failures, and
//! the panel's agreement.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use lux_core::svg::{Bins, Histogram, Sample};
use lux_core::{Result, ScoreMethod, ScoreScale};
use serde::Serialize;

use super::{Chart, Report, cell, fmt_opt, slug};
use crate::judge::PanelRun;
use crate::text::excerpt;

/// A histogram of `scores` on `scale`: one bin per whole score when every score is whole,
/// else half-point bins.
pub fn judge_histogram(title: &str, samples: Vec<Sample>, scale: ScoreScale) -> Histogram {
    let whole = samples
        .iter()
        .flat_map(|s| &s.values)
        .all(|v| !v.is_finite() || v.fract() == 0.0);
    let bins = if whole && scale.max - scale.min <= 100.0 {
        Bins::Integers {
            min: scale.min.floor() as i64,
            max: scale.max.ceil() as i64,
        }
    } else {
        let steps = ((scale.max - scale.min) * 2.0).ceil().max(1.0) as usize;
        Bins::Edges(
            (0..=steps)
                .map(|i| scale.min + (scale.max - scale.min) * i as f64 / steps as f64)
                .collect(),
        )
    };
    Histogram {
        title: title.to_string(),
        x_label: "score".into(),
        y_label: "items".into(),
        bins,
        series: samples,
    }
}

#[derive(Serialize)]
struct JudgeSummary {
    judge: String,
    scored: usize,
    failed: usize,
    mean: Option<f64>,
    /// Judgements per score method (`probability_weighted`, `sample_mean`, `parsed`…).
    methods: BTreeMap<String, usize>,
    /// Judgements whose reason records a fallback from the configured method.
    fallbacks: usize,
}

#[derive(Serialize)]
struct PanelJson<'a> {
    judges: Vec<JudgeSummary>,
    aggregate_mean: Option<f64>,
    run: &'a PanelRun,
}

fn method_name(m: &ScoreMethod) -> &'static str {
    match m {
        ScoreMethod::ProbabilityWeighted => "probability_weighted",
        ScoreMethod::SampleMean { .. } => "sample_mean",
        ScoreMethod::Parsed => "parsed",
        ScoreMethod::Reference => "reference",
    }
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// A panel run as a report: per-judge summary (scores, failures, score methods and
/// fallbacks), agreement (Krippendorff's alpha, pairwise Spearman), the failures, and a
/// score histogram per judge plus one of the aggregated scores.
pub fn panel_report(run: &PanelRun) -> Result<Report> {
    let scale = run
        .items
        .iter()
        .flat_map(|i| &i.outcomes)
        .find_map(|o| o.judgement.as_ref().map(|j| j.scale))
        .unwrap_or(ScoreScale::ONE_TO_FIVE);
    let scores = run.scores();
    let mut summaries = Vec::new();
    for (j, name) in run.judges.iter().enumerate() {
        let mut methods = BTreeMap::new();
        let mut fallbacks = 0;
        for o in run.items.iter().filter_map(|i| i.outcomes.get(j)) {
            if let Some(jm) = &o.judgement {
                *methods
                    .entry(method_name(&jm.method).to_string())
                    .or_default() += 1;
                fallbacks += usize::from(
                    jm.reason
                        .as_deref()
                        .is_some_and(|r| r.starts_with("fallback")),
                );
            }
        }
        let present: Vec<f64> = scores[j].iter().filter_map(|s| *s).collect();
        summaries.push(JudgeSummary {
            judge: name.clone(),
            scored: present.len(),
            failed: scores[j].len() - present.len(),
            mean: mean(&present),
            methods,
            fallbacks,
        });
    }
    let aggregated: Vec<f64> = run.items.iter().filter_map(|i| i.score).collect();
    let ag = &run.agreement;

    let mut md = format!(
        "{} items, {} judges, aggregated by `{}`.\n\n## Judges\n\n| judge | scored | failed | mean | methods | fallbacks |\n|---|---:|---:|---:|---|---:|\n",
        run.items.len(),
        run.judges.len(),
        serde_json::to_value(&run.aggregation)
            .ok()
            .and_then(|v| v.get("method").and_then(|m| m.as_str()).map(str::to_string))
            .unwrap_or_default()
    );
    for s in &summaries {
        let methods: Vec<String> = s.methods.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} |",
            cell(&s.judge),
            s.scored,
            s.failed,
            fmt_opt(s.mean, 3),
            if methods.is_empty() {
                "–".into()
            } else {
                methods.join(", ")
            },
            s.fallbacks
        );
    }
    let _ = writeln!(
        md,
        "| **panel** | {} | {} | {} | | |",
        aggregated.len(),
        run.items.len() - aggregated.len(),
        fmt_opt(mean(&aggregated), 3)
    );
    let _ = write!(
        md,
        "\n## Agreement\n\n{} items rated by at least two judges.\n\n| statistic | value |\n|---|---:|\n| Krippendorff's α (interval) | {} |\n| Krippendorff's α (ordinal) | {} |\n| mean pairwise Spearman ρ | {} |\n\n| judge A | judge B | items | Spearman ρ |\n|---|---|---:|---:|\n",
        ag.pairable_items,
        fmt_opt(ag.alpha_interval, 4),
        fmt_opt(ag.alpha_ordinal, 4),
        fmt_opt(ag.mean_spearman, 4)
    );
    for p in &ag.spearman {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            cell(&p.a),
            cell(&p.b),
            p.n,
            fmt_opt(p.rho, 4)
        );
    }
    let failures: Vec<(usize, &str, &str)> = run
        .items
        .iter()
        .flat_map(|i| {
            i.outcomes
                .iter()
                .filter_map(move |o| o.error.as_deref().map(|e| (i.index, o.judge.as_str(), e)))
        })
        .collect();
    if !failures.is_empty() {
        md.push_str("\n## Failed judgements\n\n| item | judge | error |\n|---:|---|---|\n");
        for (i, j, e) in &failures {
            let _ = writeln!(md, "| {i} | {} | {} |", cell(j), cell(&excerpt(e, 160)));
        }
    }
    let mut charts = Vec::new();
    for (j, name) in run.judges.iter().enumerate() {
        let h = judge_histogram(
            &format!("scores of {name}"),
            vec![Sample {
                name: name.clone(),
                values: scores[j].iter().filter_map(|s| *s).collect(),
            }],
            scale,
        );
        charts.push(Chart {
            name: format!("scores-{}-{}", j, slug(name)),
            caption: format!("score distribution of {name}"),
            svg: h.to_svg(),
        });
    }
    let h = judge_histogram(
        "aggregated panel scores",
        vec![Sample {
            name: "panel".into(),
            values: aggregated.clone(),
        }],
        scale,
    );
    charts.push(Chart {
        name: "scores-panel".into(),
        caption: "aggregated score distribution".into(),
        svg: h.to_svg(),
    });
    Report::new(
        "Judge panel",
        md,
        &PanelJson {
            judges: summaries,
            aggregate_mean: mean(&aggregated),
            run,
        },
        charts,
    )
}
