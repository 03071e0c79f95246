//! [`StepMetrics`] and [`TrainReport`]: what a run logs per step (`metrics.jsonl`), keeps in its
//! checkpoints and draws (`loss.svg`).

use std::path::Path;

use lux_core::svg::{LineChart, Series};
use lux_core::{Result, fs};
use serde::{Deserialize, Serialize};

/// What one optimizer step did (a line of `metrics.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepMetrics {
    /// Optimizer step, from 1.
    pub step: usize,
    /// Mean token loss of the step's accumulated batch.
    pub loss: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Target tokens of the step.
    pub target_tokens: usize,
    /// Global L2 norm of the gradients before clipping (when `max_grad_norm` is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grad_norm: Option<f64>,
    /// Input positions (prompt and target, no padding) per second over the step.
    pub tokens_per_s: f64,
    /// Validation loss, when evaluated at this step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_loss: Option<f64>,
    /// Validation perplexity, `exp(eval_loss)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_perplexity: Option<f64>,
}

/// The outcome of a run (`train_report.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    /// The objective trained ([`Objective::name`](super::Objective::name)).
    pub objective: String,
    /// Validation loss before the first step.
    pub initial_eval_loss: Option<f64>,
    /// Validation loss after the last step.
    pub final_eval_loss: Option<f64>,
    /// Every step.
    pub steps: Vec<StepMetrics>,
}

impl TrainReport {
    /// The median step's throughput (tokens per second), or 0 without steps: the figure that
    /// does not count model loading, evaluations and a slow first step.
    pub fn median_tokens_per_s(&self) -> f64 {
        let mut rates: Vec<f64> = self.steps.iter().map(|m| m.tokens_per_s).collect();
        rates.sort_by(f64::total_cmp);
        rates.get(rates.len() / 2).copied().unwrap_or(0.0)
    }

    /// Draws the training loss per step and the validation loss where it was measured.
    pub fn write_loss_curve(&self, path: &Path) -> Result<()> {
        let train = Series {
            name: "train loss".into(),
            points: self.steps.iter().map(|m| (m.step as f64, m.loss)).collect(),
        };
        let mut eval: Vec<(f64, f64)> = self
            .steps
            .iter()
            .filter_map(|m| m.eval_loss.map(|l| (m.step as f64, l)))
            .collect();
        if let Some(l) = self.initial_eval_loss {
            eval.insert(0, (0.0, l));
        }
        let chart = LineChart {
            title: format!("{} loss", self.objective),
            x_label: "optimizer step".into(),
            y_label: "mean token loss (nats)".into(),
            series: vec![
                train,
                Series {
                    name: "validation loss".into(),
                    points: eval,
                },
            ],
        };
        fs::write_atomic(path, chart.to_svg().as_bytes())
    }
}
