//! Pooled hidden states with SmolLM2 (skips without the model): a text gets the same vector
//! alone and inside a padded batch, for mean and last-token pooling, at every layer; and the
//! fused CPU kernels give the tensor-op path's states.

use burn::tensor::{Device, Tensor};
use lux_train::gguf::find_smollm2;
use lux_train::hidden_states::{Pooling, hidden_states};
use lux_train::model::Llama;

fn host(t: Tensor<2>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().unwrap()
}

#[test]
fn padding_does_not_change_a_texts_pooled_states() {
    let Some(path) = find_smollm2() else {
        eprintln!("skipping: SmolLM2 GGUF not found (run `bash scripts/fetch-models.sh`)");
        return;
    };
    let (model, tok) = Llama::from_gguf(&path, &Device::flex()).unwrap();
    let short = "Moien!";
    let long = "D'Stad Lëtzebuerg ass d'Haaptstad vum Grand-Duché Lëtzebuerg.";
    for pooling in [Pooling::Mean, Pooling::LastToken] {
        let alone = hidden_states(&model, &tok, &[short], pooling, 8, 64).unwrap();
        let batch = hidden_states(&model, &tok, &[long, short], pooling, 8, 64).unwrap();
        assert_eq!(alone.len(), 31);
        assert_eq!(batch[5].dims(), [2, 576]);
        for (a, b) in alone.into_iter().zip(batch) {
            let a = host(a);
            let b = host(b.narrow(0, 1, 1));
            let scale = a.iter().map(|v| v.abs()).fold(1.0f32, f32::max);
            let err = a
                .iter()
                .zip(&b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f32::max);
            assert!(err / scale < 1e-4, "{pooling:?}: {err} (scale {scale})");
        }
    }
    assert!(hidden_states(&model, &tok, &[], Pooling::Mean, 8, 64).is_err());
}

/// The fused CPU kernels (plain `flex`) against burn's tensor ops on real weights: a device
/// with gradient checkpointing takes none of the fused paths, so its hidden states come from
/// the op-by-op implementation (decomposed attention, RMSNorm and SwiGLU as tensor ops).
#[test]
fn fused_kernels_match_the_tensor_op_path_on_smollm2() {
    let Some(path) = find_smollm2() else {
        eprintln!("skipping: SmolLM2 GGUF not found (run `bash scripts/fetch-models.sh`)");
        return;
    };
    let texts = [
        "D'Stad Lëtzebuerg ass d'Haaptstad vum Grand-Duché Lëtzebuerg.",
        "Moien!",
    ];
    let (model, tok) = Llama::from_gguf(&path, &Device::flex()).unwrap();
    let fused = hidden_states(&model, &tok, &texts, Pooling::Mean, 8, 64).unwrap();
    let reference_device = Device::flex().autodiff().gradient_checkpointing();
    let (reference_model, _) = Llama::from_gguf(&path, &reference_device).unwrap();
    let reference = hidden_states(&reference_model, &tok, &texts, Pooling::Mean, 8, 64).unwrap();
    assert_eq!(fused.len(), reference.len());
    for (layer, (a, b)) in fused.into_iter().zip(reference).enumerate() {
        let (a, b) = (host(a), host(b.to_device(&Device::flex())));
        let scale = b.iter().map(|v| v.abs()).fold(1.0f32, f32::max);
        let err = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        assert!(err / scale < 1e-4, "layer {layer}: {err} (scale {scale})");
    }
}
