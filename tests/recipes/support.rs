//! Helpers of the recipe tests: the repository, a tiny recipe over a tiny model, the binary.

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A whole recipe — data from the embedded corpus (a sample), mix, the tiny model at
/// `model_dir`, two SFT steps, held-out loss and CKA — small enough for a test.
pub fn tiny_recipe(model_dir: &Path, sft_steps: usize) -> String {
    let data = repo_root().join("data");
    format!(
        r#"
name = "tiny"
description = "every stage on a tiny random model"
seed = 7

[data]
native = "lb"
instruction_langs = ["en", "fr"]
max_seeds_per_source = 120

[[data.sources]]
type = "parallel_jsonl"
path = "{parallel}"

[[data.generators]]
type = "sentence_translation"

[[data.generators]]
type = "word_translation"

[[data.filters]]
type = "length"
min_instruction_chars = 5
min_output_chars = 1
max_output_chars = 400

[mix]
validation_ratio = 0.1
max_per_task = {{ word_translation = 60 }}

[model]
path = "{model}"

[[train]]
type = "sft"
learning_rate = 1e-3
max_steps = {sft_steps}
per_device_train_batch_size = 4
max_seq_length = 320
save_steps = 1
max_validation_examples = 8
adapter = {{ type = "lora", r = 4, lora_alpha = 8.0, target_modules = ["q_proj", "v_proj"] }}

[[eval]]
type = "heldout_loss"
max_examples = 8
max_seq_length = 320

[[eval]]
type = "cka"
parallel = "{parallel}"
sentences = 12
min_words = 2
max_tokens = 32

[quick]
sft = {{ max_steps = 1 }}
cka = {{ sentences = 6 }}
"#,
        parallel = data.join("parallel.jsonl").display(),
        model = model_dir.display(),
    )
}

/// Runs the `lux` binary with `args` in `cwd`: (exit code, stdout, stderr).
pub fn lux(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lux"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run lux");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
