//! MediaWiki XML dumps (`type = "mediawiki_dump"`): pages, namespaces, revisions, wikitext.
#![no_main]
use lux_core::{SeedSource, SourceContext};
use lux_data::sources::MediaWikiDump;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let dir = lux_fuzz::scratch_dir();
    let path = lux_fuzz::write(&dir, "dump.xml", data);
    let mut source = MediaWikiDump::new(path);
    source.min_chars = 0;
    lux_fuzz::drain(source.open(&SourceContext::new(&dir)));
});
