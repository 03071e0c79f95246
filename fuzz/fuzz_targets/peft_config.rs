//! PEFT `adapter_config.json`: LoRA rank, alpha, target modules, and what lux refuses.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let dir = lux_fuzz::scratch_dir();
    let path = lux_fuzz::write(&dir, "adapter_config.json", data);
    if let Ok(config) = lux_train::lora::read_peft_config(&path) {
        let _ = config.scale();
        let modules = ["model.layers.0.self_attn.q_proj".to_owned()];
        let _ = config.target_modules.select(&modules);
    }
});
