//! Without this crate linked — this test binary never names it, as lux's own `lux` binary does
//! not — the crate's recipe is refused before anything runs, and the error lists the plugins
//! that are linked (lux's), not this crate's.

// Link lux's built-in plugins only.
use lux::data as _;
use lux::eval as _;
use lux::plugins as _;

#[test]
fn the_recipe_is_refused_without_the_crate_and_the_error_lists_what_is_linked() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("recipe.toml");
    let e = lux::Recipe::load(&path).unwrap_err().to_string();
    // The first plugin of the crate in the file is the filter.
    let (unknown, expected) = e
        .split_once("expected")
        .unwrap_or_else(|| panic!("no list of known names: {e}"));
    assert!(
        unknown.contains("recipe.toml") && unknown.contains("unknown variant `ngram_repetition`"),
        "{e}"
    );
    assert!(
        expected.contains("`length`") && expected.contains("`exact_dedup`"),
        "{e}"
    );
    for ours in ["ngram_repetition", "asym_lora", "token_f1", "wer"] {
        assert!(
            !expected.contains(&format!("`{ours}`")),
            "{ours} listed: {e}"
        );
    }
}
