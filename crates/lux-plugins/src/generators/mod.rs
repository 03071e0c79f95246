//! LLM-backed instruction generators, one per file.
//!
//! | `type` | task (default) | seeds it accepts |
//! |---|---|---|
//! | `reverse_instruction` | `open_generation` | native documents |

mod reverse_instruction;

pub use reverse_instruction::{ReverseInstruction, ReverseInstructionConfig};
