//! gettext `.mo` catalogues (binary: a header, two offset tables, strings).
#![no_main]
use std::path::Path;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(file) = lux_data::sources::parse_mo(data, Path::new("fuzz.mo")) {
        for entry in &file.entries {
            let _ = entry.key();
            let _ = entry.translation();
        }
        let _ = file.plural_forms();
    }
});
