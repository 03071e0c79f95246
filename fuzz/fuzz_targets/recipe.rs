//! Recipe TOML: the run's languages, sources, generators, filters, stages and endpoints.
#![no_main]
use std::path::Path;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let dir = lux_fuzz::scratch_dir();
    if let Ok(recipe) = lux::Recipe::from_toml(text, Path::new("recipe.toml"), dir) {
        let _ = recipe.uses_llm();
        let _ = recipe.stage_names();
    }
});
