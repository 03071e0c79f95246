//! Dictionary JSONL (`type = "dictionary"`): headwords, senses, translations, ids.
#![no_main]
use lux_core::SourceContext;
use lux_data::sources::DictionaryFile;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let dir = lux_fuzz::scratch_dir();
    let path = lux_fuzz::write(&dir, "dictionary.jsonl", data);
    let mut source = DictionaryFile::new(path);
    source.lang = Some(lux_fuzz::lb());
    let _ = source.read_all(&SourceContext::new(&dir));
});
