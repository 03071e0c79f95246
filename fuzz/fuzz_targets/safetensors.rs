//! Hugging Face `.safetensors`: the 8-byte header length, the JSON header (dtypes, shapes,
//! offsets), and every tensor read back as f32.
#![no_main]
use lux_train::model::{SafetensorsWeights, WeightSource};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let dir = lux_fuzz::scratch_dir();
    let path = lux_fuzz::write(&dir, "model.safetensors", data);
    let Ok(mut weights) = SafetensorsWeights::open(&path) else {
        return;
    };
    let names: Vec<String> = weights.names().into_iter().map(str::to_owned).collect();
    for name in names {
        let _ = weights.take(&name);
    }
});
