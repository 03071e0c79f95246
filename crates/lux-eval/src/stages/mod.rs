//! The `[[eval]]` stages this crate implements: each compares the run's systems (the base
//! model and the model after each training stage, `lux_train::stages::systems`).
//!
//! | file | stage |
//! |---|---|
//! | `cka.rs` | [`CkaEval`] (`type = "cka"`): CKA per layer between the native language and others, on aligned sentences |
//! | `heldout_loss.rs` | [`HeldoutLoss`] (`type = "heldout_loss"`): mean token loss on the validation set |
//! | `mgsm.rs` | [`MgsmEval`] (`type = "mgsm"`): MGSM-style exact match and gold-answer loss per language, aligned (LinguaLIFT) systems included |
//! | `luxella.rs` | [`LuxellaEval`] (`type = "luxella"`): the LuxLlama card's LUXELLA benchmark, judged 1–5 |
//! | `judge_panel.rs` | [`JudgePanelEval`] (`type = "judge_panel"`): G-Eval with a panel of judges, and their agreement |
//! | `chrf.rs` | [`ChrfEval`] (`type = "chrf"`): corpus chrF/chrF++ (and any `metrics`) of the answers against the references |
//!
//! `answers.rs` generates each system's answers to held-out examples once per run, for every
//! evaluation that scores answers.

mod answers;
mod chrf;
mod cka;
mod heldout_loss;
mod judge_panel;
mod luxella;
mod mgsm;

pub use chrf::ChrfEval;
pub use cka::CkaEval;
pub use heldout_loss::HeldoutLoss;
pub use judge_panel::{JudgePanelConfig, JudgePanelEval};
pub use luxella::LuxellaEval;
pub use mgsm::MgsmEval;
