//! GGUF model files: header, metadata, tensor table, tensor data (dequantized), tokenizer keys.
#![no_main]
use lux_train::gguf::GgufFile;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let dir = lux_fuzz::scratch_dir();
    let path = lux_fuzz::write(&dir, "model.gguf", data);
    let Ok(file) = GgufFile::open(&path) else {
        return;
    };
    let _ = file.architecture();
    let _ = file.tokenizer_metadata();
    for (_, value) in file.metadata().iter() {
        let _ = format!("{value:?}");
    }
    let names: Vec<String> = file.tensors().iter().map(|t| t.name.clone()).collect();
    for name in names {
        let _ = file.tensor_bytes(&name);
        let _ = file.tensor_f32(&name);
    }
});
