//! The `[[eval]]` stages this crate implements: each compares the run's systems (the base
//! model and the model after each training stage, `lux_train::stages::systems`).
//!
//! | file | stage |
//! |---|---|
//! | `cka.rs` | [`CkaEval`] (`type = "cka"`): CKA per layer between the native language and others, on aligned sentences |
//! | `heldout_loss.rs` | [`HeldoutLoss`] (`type = "heldout_loss"`): mean token loss on the validation set |

mod cka;
mod heldout_loss;

pub use cka::CkaEval;
pub use heldout_loss::HeldoutLoss;
