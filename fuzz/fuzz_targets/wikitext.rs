//! Wikitext to plain text (templates, links, tables, tags, comments).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = lux_data::sources::wikitext::to_plain_text(&text);
});
