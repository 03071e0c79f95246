//! [`LrSchedule`]: learning rate per optimizer step, with Hugging Face's formulas.

use std::f64::consts::PI;

use serde::{Deserialize, Serialize};

/// Warmup length, in steps or as a share of all steps (`warmup_ratio`, rounded up as HF does).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Warmup {
    /// A number of optimizer steps.
    Steps(usize),
    /// A share of the total steps.
    Ratio(f64),
}

impl Warmup {
    /// Warmup steps out of `total`.
    pub fn steps(&self, total: usize) -> usize {
        match *self {
            Warmup::Steps(s) => s,
            Warmup::Ratio(r) => (r * total as f64).ceil() as usize,
        }
    }
}

/// How the learning rate decays after warmup (transformers' `get_*_schedule_with_warmup`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LrSchedule {
    /// Constant after warmup.
    Constant,
    /// Linear to zero at the last step.
    Linear,
    /// Half a cosine to zero (`num_cycles = 0.5`).
    Cosine,
    /// Cosine to zero `num_cycles` times, jumping back to the peak at each restart.
    CosineWithRestarts {
        /// Number of hard restarts (HF's default is 1: no restart).
        num_cycles: usize,
    },
}

impl LrSchedule {
    /// The multiplier of the peak learning rate at optimizer step `step` (0-based) of `total`,
    /// after `warmup` steps of linear warmup from 0.
    pub fn factor(&self, step: usize, total: usize, warmup: usize) -> f64 {
        if step < warmup {
            return step as f64 / warmup.max(1) as f64;
        }
        let progress = (step - warmup) as f64 / (total.saturating_sub(warmup)).max(1) as f64;
        match *self {
            LrSchedule::Constant => 1.0,
            LrSchedule::Linear => ((total - step.min(total)) as f64
                / (total.saturating_sub(warmup)).max(1) as f64)
                .max(0.0),
            LrSchedule::Cosine => (0.5 * (1.0 + (PI * progress).cos())).max(0.0),
            LrSchedule::CosineWithRestarts { num_cycles } => {
                if progress >= 1.0 {
                    return 0.0;
                }
                let cycle = (num_cycles as f64 * progress) % 1.0;
                (0.5 * (1.0 + (PI * cycle).cos())).max(0.0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// transformers 5.x `get_*_schedule_with_warmup(opt, num_warmup_steps=3,
    /// num_training_steps=20[, num_cycles=3])` multipliers at steps 0..20, from
    /// tests/fixtures/schedules/make_reference.py.
    #[test]
    fn matches_transformers() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/schedules/reference.json"
        );
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let cases = [
            ("constant", LrSchedule::Constant),
            ("linear", LrSchedule::Linear),
            ("cosine", LrSchedule::Cosine),
            (
                "cosine_with_restarts",
                LrSchedule::CosineWithRestarts { num_cycles: 3 },
            ),
        ];
        for (name, schedule) in cases {
            let want = v[name].as_array().unwrap();
            for (step, w) in want.iter().enumerate() {
                let got = schedule.factor(step, 20, 3);
                assert!(
                    (got - w.as_f64().unwrap()).abs() < 1e-9,
                    "{name} step {step}: {got} vs {w}"
                );
            }
        }
        assert_eq!(Warmup::Ratio(0.02).steps(101), 3);
    }
}
