//! What an LLM answers: JSON objects (possibly fenced or inside prose) with score/reason
//! fields, G-Eval's free-text scores, and MGSM's final numbers.
#![no_main]
use lux_core::ScoreScale;
use lux_core::json_answer::{number_field, parse_object, string_field};
use lux_eval::judge::parse_score;
use lux_eval::mgsm::{Number, extract_answer, find_numbers};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let answer = String::from_utf8_lossy(data);
    if let Ok(obj) = parse_object(&answer) {
        let _ = number_field(&obj, "score");
        let _ = string_field(&obj, "reason");
    }
    let _ = parse_score(&answer, ScoreScale { min: 1.0, max: 5.0 });
    let _ = parse_score(
        &answer,
        ScoreScale {
            min: 0.0,
            max: 100.0,
        },
    );
    let _ = Number::parse(&answer);
    let lb = lux_fuzz::lb();
    let _ = extract_answer(&answer, &lb);
    let _ = find_numbers(
        &answer,
        &lux_core::Lang::new("fr").expect("fr is a language code"),
    );
});
