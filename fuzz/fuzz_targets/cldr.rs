//! CLDR JSON (`type = "cldr"`): one package, an `lb` file and an `en` file keyed alike.
#![no_main]
use lux_core::SourceContext;
use lux_data::sources::Cldr;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let [lb, en, section] = lux_fuzz::parts(data, 3)[..] else {
        return;
    };
    // The last part picks the section (and with it the top-level key the file must have).
    let section = match section.first().copied().unwrap_or(0) % 3 {
        0 => "main",
        1 => "annotations",
        _ => "annotationsDerived",
    };
    let dir = lux_fuzz::scratch_dir();
    lux_fuzz::write(&dir, &format!("cldr-fuzz/{section}/lb/a.json"), lb);
    lux_fuzz::write(&dir, &format!("cldr-fuzz/{section}/en/a.json"), en);
    let source: Cldr = toml::from_str(
        "root = \".\"\nlangs = [\"lb\", \"en\"]\nnative = \"lb\"\npackages = [\"cldr-fuzz\"]\nkeywords = true",
    )
    .expect("the CLDR settings parse");
    let _ = source.load(&SourceContext::new(&dir));
});
