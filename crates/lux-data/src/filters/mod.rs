//! Filters, one per file: each keeps or drops an [`Example`](lux_core::Example) with a
//! reason of the form `head: details` (statistics group drops by the head).
//!
//! | `type` | drops |
//! |---|---|
//! | `length` | instructions or outputs too short or too long (chars, words) |
//! | `length_ratio` | outputs implausibly long or short for their input or instruction |
//! | `lang_id` | outputs not in `output_lang`, instructions not in `instruction_lang` |
//! | `exact_dedup` | exact repeats (after normalisation) of an earlier example or output |
//! | `near_dedup` | near repeats (MinHash + LSH, verified by exact Jaccard) |
//! | `markup` | wiki/HTML leftovers, unfilled placeholders, control characters |
//! | `blocklist` | texts matching blocklisted regular expressions |
//! | `copy_source` | outputs that copy the input, the instruction's quoted text, or its language |
//! | `sequence` | whatever its member filters drop, in order |

mod blocklist;
mod common;
mod copy_source;
mod exact_dedup;
mod lang_id;
mod length;
mod length_ratio;
mod markup;
mod near_dedup;
mod sequence;
#[cfg(test)]
mod testing;

pub use blocklist::*;
pub use common::*;
pub use copy_source::*;
pub use exact_dedup::*;
pub use lang_id::*;
pub use length::*;
pub use length_ratio::*;
pub use markup::*;
pub use near_dedup::*;
pub use sequence::*;
