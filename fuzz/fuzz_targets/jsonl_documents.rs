//! JSONL documents (`type = "jsonl"`): one JSON object per line, with id, title and text fields.
#![no_main]
use lux_core::{SeedSource, SourceContext};
use lux_data::sources::JsonlDocuments;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let dir = lux_fuzz::scratch_dir();
    let path = lux_fuzz::write(&dir, "docs.jsonl", data);
    let source = JsonlDocuments::new(path, lux_fuzz::lb());
    lux_fuzz::drain(source.open(&SourceContext::new(&dir)));
});
