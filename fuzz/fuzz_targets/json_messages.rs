//! Message files: MediaWiki/Banana `i18n/*.json` (nested, `@metadata`, a language wrapper)
//! and Blockly's `msg/*.js` (`Blockly.Msg["KEY"] = "text";` with JavaScript string escapes).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let dir = lux_fuzz::scratch_dir();
    let path = lux_fuzz::write(&dir, "lb.json", data);
    let _ = lux_data::sources::read_json_messages(&path, &lux_fuzz::lb());
    let _ = lux_data::sources::read_blockly_js(&path);
});
