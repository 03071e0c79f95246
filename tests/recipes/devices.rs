//! The device a recipe names in `[model]`: a GPU kind this binary was built without is refused
//! when the recipe is read (before any stage runs), by the recipe file, the field and the cargo
//! feature that adds it; an unknown kind or a device number that is not a number is refused the
//! same way. (`crates/lux-train` tests `parse_device` itself; this checks what a user sees.)

use super::{error, lux};

fn with_device(device: &str) -> String {
    format!("name = \"t\"\n[model]\npath = \"m.gguf\"\ndevice = \"{device}\"\n")
}

#[cfg(not(feature = "cuda"))]
#[test]
fn cuda_in_a_build_without_the_cuda_feature_names_the_feature_to_enable() {
    let e = error(&with_device("cuda:0"));
    assert!(
        e.contains("my-recipe.toml")
            && e.contains("model.device")
            && e.contains("cuda:0")
            && e.contains("--features cuda"),
        "{e}"
    );

    // What the user sees from the command line: exit code 2 (an invalid recipe), same message.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("gpu.toml"), with_device("cuda:1")).unwrap();
    let (code, _, stderr) = lux(&["run", "gpu.toml"], dir.path());
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("gpu.toml")
            && stderr.contains("model.device")
            && stderr.contains("cargo build --features cuda"),
        "{stderr}"
    );
}

#[cfg(not(feature = "wgpu"))]
#[test]
fn wgpu_in_a_build_without_the_wgpu_feature_names_the_feature_to_enable() {
    let e = error(&with_device("wgpu:0"));
    assert!(
        e.contains("model.device") && e.contains("--features wgpu"),
        "{e}"
    );
}

#[test]
fn unknown_device_kinds_and_numbers_are_named() {
    let e = error(&with_device("tpu:0"));
    assert!(
        e.contains("model.device") && e.contains("`tpu`") && e.contains("cuda:N"),
        "{e}"
    );
    let e = error(&with_device("cuda:first"));
    assert!(
        e.contains("model.device") && e.contains("cuda:first") && e.contains("device number"),
        "{e}"
    );
    assert!(super::parse(&with_device("flex")).is_ok());
}
