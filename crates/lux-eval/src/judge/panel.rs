//! [`Panel`]: several judges score the same items; their scores are aggregated per item and
//! their agreement measured.
//!
//! LuxInstruct judged with three models rather than one: a panel evens out one judge's
//! quirks, and its agreement (Krippendorff's alpha, pairwise Spearman) says how far the
//! scores can be trusted. A judge that fails on an item is recorded as a failure for that
//! item (with its error), the item is aggregated from the judges that answered, and the
//! agreement treats the missing score as missing, not as a value.

use futures::StreamExt;
use lux_core::{Error, Judge, JudgeContext, JudgeRequest, Judgement, Result};
use serde::{Deserialize, Serialize};

use super::agreement::Agreement;

/// How a [`Panel`] turns its judges' scores of one item into one score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum Aggregation {
    /// The (weighted) mean.
    Mean,
    /// The median (mean of the two middle scores for an even count).
    Median,
    /// The mean after dropping `⌊trim × k⌋` scores at each end of the `k` sorted scores.
    TrimmedMean {
        /// Share cut from each end, in `[0, 0.5)`.
        trim: f64,
    },
    /// Each judge votes for its score rounded to the nearest whole number, with its weight;
    /// the score with the most weight wins, ties going to the lower score (the cautious
    /// choice).
    WeightedMajority,
}

/// Settings of a [`Panel`], as written in a recipe:
///
/// ```toml
/// [panel]
/// aggregation = { method = "trimmed_mean", trim = 0.2 }
/// weights = [1.0, 1.0, 0.5]
/// [[panel.judges]]
/// type = "g_eval"
/// # ...
/// ```
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PanelConfig {
    /// The judges; at least one.
    pub judges: Vec<Box<dyn Judge>>,
    /// How scores are combined per item. Default mean.
    #[serde(default = "default_aggregation")]
    pub aggregation: Aggregation,
    /// One weight per judge, used by `mean` and `weighted_majority`; default all 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<Vec<f64>>,
    /// Items judged at once. Default 4.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
}

fn default_aggregation() -> Aggregation {
    Aggregation::Mean
}
fn default_concurrency() -> usize {
    4
}

impl PanelConfig {
    /// A panel of `judges` with the defaults above.
    pub fn new(judges: Vec<Box<dyn Judge>>) -> PanelConfig {
        PanelConfig {
            judges,
            aggregation: default_aggregation(),
            weights: None,
            concurrency: default_concurrency(),
        }
    }
}

/// A panel of judges; see the module documentation (`judge::panel`).
#[derive(Debug)]
pub struct Panel {
    config: PanelConfig,
    weights: Vec<f64>,
}

/// One judge's result on one item: a judgement or the error it failed with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgeOutcome {
    /// The judge's id.
    pub judge: String,
    /// The judgement, when the judge succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judgement: Option<Judgement>,
    /// The error, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl JudgeOutcome {
    /// The score, when there is one.
    pub fn score(&self) -> Option<f64> {
        self.judgement.as_ref().map(|j| j.score)
    }
}

/// One item as the panel judged it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PanelItem {
    /// Position in the input.
    pub index: usize,
    /// One outcome per judge, in panel order.
    pub outcomes: Vec<JudgeOutcome>,
    /// The aggregated score; `None` when every judge failed.
    pub score: Option<f64>,
}

/// A panel's run over a list of items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PanelRun {
    /// The judges' ids, in panel order.
    pub judges: Vec<String>,
    /// How scores were combined.
    pub aggregation: Aggregation,
    /// Every item, in input order.
    pub items: Vec<PanelItem>,
    /// How much the judges agree.
    pub agreement: Agreement,
}

impl PanelRun {
    /// `scores[judge][item]`, `None` where the judge failed.
    pub fn scores(&self) -> Vec<Vec<Option<f64>>> {
        (0..self.judges.len())
            .map(|j| {
                self.items
                    .iter()
                    .map(|it| it.outcomes.get(j).and_then(JudgeOutcome::score))
                    .collect()
            })
            .collect()
    }

    /// Failed judgements per judge, in panel order.
    pub fn failures(&self) -> Vec<usize> {
        (0..self.judges.len())
            .map(|j| {
                self.items
                    .iter()
                    .filter(|it| it.outcomes.get(j).is_some_and(|o| o.judgement.is_none()))
                    .count()
            })
            .collect()
    }
}

impl Panel {
    /// A panel of these settings; errors on no judges, a weight count that differs from the
    /// judge count, a negative or non-finite weight, a trim outside `[0, 0.5)`, or zero
    /// concurrency.
    pub fn new(config: PanelConfig) -> Result<Panel> {
        let k = config.judges.len();
        if k == 0 {
            return Err(Error::invalid(
                "panel.judges",
                "a panel needs at least one judge",
            ));
        }
        let weights = match &config.weights {
            None => vec![1.0; k],
            Some(w) if w.len() != k => {
                return Err(Error::invalid(
                    "panel.weights",
                    format!("{} weights for {k} judges", w.len()),
                ));
            }
            Some(w) => {
                if let Some(bad) = w.iter().find(|x| !(x.is_finite() && **x >= 0.0)) {
                    return Err(Error::invalid(
                        "panel.weights",
                        format!("weight {bad} is not a finite non-negative number"),
                    ));
                }
                w.clone()
            }
        };
        if let Aggregation::TrimmedMean { trim } = config.aggregation
            && !(0.0..0.5).contains(&trim)
        {
            return Err(Error::invalid(
                "panel.aggregation.trim",
                format!("{trim} is outside [0, 0.5)"),
            ));
        }
        if config.concurrency == 0 {
            return Err(Error::invalid("panel.concurrency", "must be at least 1"));
        }
        Ok(Panel { config, weights })
    }

    /// The settings.
    pub fn config(&self) -> &PanelConfig {
        &self.config
    }

    /// Prepares every judge ([`Judge::prepare`]): prompt files read against the recipe's
    /// directory, and judges with equal `llm` tables given one client. Call it once before
    /// [`run`](Self::run); the first failure is returned.
    pub fn prepare(&mut self, ctx: &JudgeContext) -> Result<()> {
        for judge in &mut self.config.judges {
            judge.prepare(ctx)?;
        }
        Ok(())
    }

    /// The judges' ids, in order.
    pub fn judge_ids(&self) -> Vec<String> {
        self.config.judges.iter().map(|j| j.id()).collect()
    }

    /// Combines one item's scores (`None` = that judge failed) by the panel's aggregation.
    pub fn aggregate(&self, scores: &[Option<f64>]) -> Option<f64> {
        aggregate(&self.config.aggregation, scores, &self.weights)
    }

    /// Every judge on one item (judges run concurrently).
    pub async fn judge_one(&self, index: usize, request: &JudgeRequest) -> PanelItem {
        let outcomes: Vec<JudgeOutcome> =
            futures::future::join_all(self.config.judges.iter().map(|j| async move {
                match j.judge(request).await {
                    Ok(judgement) => JudgeOutcome {
                        judge: j.id(),
                        judgement: Some(judgement),
                        error: None,
                    },
                    Err(e) => {
                        tracing::warn!(judge = %j.id(), item = index, error = %e, "judge failed");
                        JudgeOutcome {
                            judge: j.id(),
                            judgement: None,
                            error: Some(e.to_string()),
                        }
                    }
                }
            }))
            .await;
        let scores: Vec<Option<f64>> = outcomes.iter().map(JudgeOutcome::score).collect();
        PanelItem {
            index,
            score: self.aggregate(&scores),
            outcomes,
        }
    }

    /// Judges every request, `concurrency` items at a time, then measures agreement.
    pub async fn run(&self, requests: &[JudgeRequest]) -> PanelRun {
        // The futures are collected before the first await: a closure over borrowed items
        // held across an await (as `StreamExt::map` holds it) makes the whole future fail the
        // `Send` check of an async trait method (rust-lang/rust#102211), and an evaluation
        // stage could not await the panel.
        let futures: Vec<_> = requests
            .iter()
            .enumerate()
            .map(|(i, r)| self.judge_one(i, r))
            .collect();
        let mut items: Vec<PanelItem> = futures::stream::iter(futures)
            .buffer_unordered(self.config.concurrency)
            .collect()
            .await;
        items.sort_by_key(|it| it.index);
        let judges = self.judge_ids();
        let mut run = PanelRun {
            judges: judges.clone(),
            aggregation: self.config.aggregation.clone(),
            items,
            agreement: Agreement::compute(&[], &[]),
        };
        run.agreement = Agreement::compute(&judges, &run.scores());
        run
    }
}

/// Combines the scores of one item: `None` entries (failed judges) are left out, with their
/// weights; `None` when no score is left (or all weights of a weighted method are 0).
pub fn aggregate(method: &Aggregation, scores: &[Option<f64>], weights: &[f64]) -> Option<f64> {
    let present: Vec<(f64, f64)> = scores
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let s = (*s)?;
            s.is_finite()
                .then(|| (s, weights.get(i).copied().unwrap_or(1.0)))
        })
        .collect();
    if present.is_empty() {
        return None;
    }
    let mut sorted: Vec<f64> = present.iter().map(|p| p.0).collect();
    sorted.sort_by(f64::total_cmp);
    let k = sorted.len();
    match method {
        Aggregation::Mean => {
            let w: f64 = present.iter().map(|p| p.1).sum();
            (w > 0.0).then(|| present.iter().map(|(s, w)| s * w).sum::<f64>() / w)
        }
        Aggregation::Median => Some(if k % 2 == 1 {
            sorted[k / 2]
        } else {
            (sorted[k / 2 - 1] + sorted[k / 2]) / 2.0
        }),
        Aggregation::TrimmedMean { trim } => {
            let cut = ((trim * k as f64).floor() as usize).min((k - 1) / 2);
            let kept = &sorted[cut..k - cut];
            Some(kept.iter().sum::<f64>() / kept.len() as f64)
        }
        Aggregation::WeightedMajority => {
            let mut votes: Vec<(f64, f64)> = Vec::new();
            for (s, w) in &present {
                let v = s.round();
                match votes.iter_mut().find(|(x, _)| *x == v) {
                    Some(e) => e.1 += w,
                    None => votes.push((v, *w)),
                }
            }
            votes.sort_by(|a, b| a.0.total_cmp(&b.0));
            let best = votes.iter().map(|v| v.1).fold(0.0, f64::max);
            (best > 0.0).then(|| votes.iter().find(|v| v.1 == best).map(|v| v.0))?
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregations_by_hand() {
        let s = [Some(1.0), Some(4.0), None, Some(5.0), Some(4.6)];
        let w = [1.0, 1.0, 9.0, 2.0, 1.0];
        let mean = aggregate(&Aggregation::Mean, &s, &w).unwrap();
        assert!((mean - (1.0 + 4.0 + 10.0 + 4.6) / 5.0).abs() < 1e-12);
        assert_eq!(aggregate(&Aggregation::Median, &s, &w), Some(4.3));
        let t = aggregate(&Aggregation::TrimmedMean { trim: 0.25 }, &s, &w).unwrap();
        assert!((t - 4.3).abs() < 1e-12);
        assert_eq!(
            aggregate(&Aggregation::TrimmedMean { trim: 0.0 }, &s, &w),
            Some(14.6 / 4.0)
        );
        // Votes: 1 → 1, 4 → 1, 5 → 2 + 1 (4.6 rounds to 5).
        assert_eq!(aggregate(&Aggregation::WeightedMajority, &s, &w), Some(5.0));
        // A tie goes to the lower score.
        assert_eq!(
            aggregate(
                &Aggregation::WeightedMajority,
                &[Some(2.0), Some(4.0)],
                &[1.0, 1.0]
            ),
            Some(2.0)
        );
        assert_eq!(
            aggregate(&Aggregation::Mean, &[None, None], &[1.0, 1.0]),
            None
        );
        assert_eq!(aggregate(&Aggregation::Mean, &[Some(3.0)], &[0.0]), None);
    }
}
