//! The plugin traits, one per file.
//!
//! Every trait is object-safe, `Send + Sync`, and tagged with `#[typetag::serde(tag = "type")]`
//! so that a recipe file names an implementation and its settings in one table:
//! `{ type = "min_length", chars = 20 }`. Implement a trait in your own crate with
//! `#[typetag::serde(name = "...")]` and recipes can name your plugin too (make sure your
//! crate is linked into the binary, e.g. `use my_plugins as _;`).

pub mod evaluation;
pub mod filter;
pub mod generator;
pub mod judge;
pub mod judge_context;
pub mod llm;
pub mod metric;
pub mod source;
pub mod train;

#[cfg(test)]
mod object_safety {
    // Compile-time check that every plugin trait can be used as `dyn Trait` across threads.
    #[allow(clippy::too_many_arguments)]
    fn _obj_safe(
        _: &dyn super::source::SeedSource,
        _: &dyn super::generator::InstructionGenerator,
        _: &dyn super::filter::Filter,
        _: &dyn super::judge::Judge,
        _: &dyn super::metric::Metric,
        _: &dyn super::llm::LlmClient,
        _: &dyn super::train::TrainStage,
        _: &dyn super::evaluation::Evaluation,
    ) {
    }
    fn _send_sync<T: Send + Sync + ?Sized>() {}
    fn _all() {
        _send_sync::<dyn super::source::SeedSource>();
        _send_sync::<dyn super::generator::InstructionGenerator>();
        _send_sync::<dyn super::filter::Filter>();
        _send_sync::<dyn super::judge::Judge>();
        _send_sync::<dyn super::metric::Metric>();
        _send_sync::<dyn super::llm::LlmClient>();
        _send_sync::<dyn super::train::TrainStage>();
        _send_sync::<dyn super::evaluation::Evaluation>();
    }
}
