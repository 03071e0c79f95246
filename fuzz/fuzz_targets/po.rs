//! gettext `.po` catalogues (text).
#![no_main]
use std::path::Path;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(file) = lux_data::sources::parse_po(data, Path::new("fuzz.po")) {
        for entry in &file.entries {
            let _ = entry.key();
            let _ = entry.translation();
        }
        let _ = file.plural_forms();
    }
});
