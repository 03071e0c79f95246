//! Hunspell dictionaries: an `.aff` (encoding, flag type, affix rules) and a `.dic` (a count,
//! then `word/FLAGS morphology` lines), given as one input cut at a 0xFF byte.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let [aff, dic] = lux_fuzz::parts(data, 2)[..] else {
        return;
    };
    let dir = lux_fuzz::scratch_dir();
    lux_fuzz::write(&dir, "index.aff", aff);
    let dic = lux_fuzz::write(&dir, "index.dic", dic);
    let _ = lux_data::sources::read_word_list(&dic);
});
