//! Packed SFT batches (`BatchLayout::Packed`, TRL's `packing`): a packed micro-batch gives the
//! summed loss and the LoRA gradients of its examples run one by one, through each attention
//! kernel — the fused training kernel (autodiff `flex`), the decomposed one (autodiff `flex`
//! with gradient checkpointing, which the fused kernels leave alone) and the fused inference
//! kernel (evaluation) — and the padded layout still does too. On a tiny random Llama, and on
//! SmolLM2-135M-Instruct with real chat-formatted examples when its GGUF is in the models cache.

use std::path::PathBuf;

use burn::module::Param;
use burn::tensor::{Device, Distribution, Tensor};
use lux_train::lora::{LoraConfig, TargetModules, apply_lora};
use lux_train::model::Llama;
use lux_train::sft::{BatchLayout, SftObjective, SftSample, tokenize_chat};
use lux_train::training::Objective;

fn tiny(device: &Device) -> Llama {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/llama/llama_untied");
    Llama::from_pretrained(dir, device).unwrap()
}

fn lora(r: usize) -> LoraConfig {
    LoraConfig::new(
        r,
        2.0 * r as f64,
        TargetModules::names(["q_proj", "k_proj", "v_proj", "o_proj"]),
    )
}

/// LoRA attached, with `B` drawn at random instead of zero: with `B = 0` every gradient of
/// `A` is zero and would match whatever the attention did.
fn with_lora(model: Llama, config: &LoraConfig, device: &Device) -> Llama {
    let (mut model, _) = apply_lora(model, config, 3).unwrap();
    device.seed(5);
    for (_, projection) in model.projections_mut() {
        if let Some(pair) = projection.low_rank.as_mut() {
            let shape = pair.b.val().dims();
            pair.b = Param::from_tensor(Tensor::random(
                shape,
                Distribution::Normal(0.0, 0.05),
                device,
            ));
        }
    }
    model
}

/// Uneven examples, prompts of different lengths, tokens below the tiny vocabulary (97).
fn tiny_samples() -> Vec<SftSample> {
    [(9, 4), (3, 1), (14, 6), (6, 2), (11, 7), (5, 3)]
        .into_iter()
        .enumerate()
        .map(|(k, (len, prompt_len))| SftSample {
            ids: (0..len)
                .map(|t| 2 + ((k * 31 + t * 7) % 90) as u32)
                .collect(),
            prompt_len,
        })
        .collect()
}

/// The summed loss, its target count, and every LoRA gradient (in model order), of `samples`
/// as one micro-batch in `layout`.
fn loss_and_grads(
    model: &Llama,
    config: &LoraConfig,
    samples: &[&SftSample],
    layout: BatchLayout,
) -> (f64, usize, Vec<Vec<f32>>) {
    let objective = SftObjective {
        adapter: config,
        pad_id: 0,
        layout,
    };
    let loss = objective.loss(model, samples).unwrap();
    let grads = loss.sum.clone().backward();
    let mut all = Vec::new();
    for (_, projection) in model.projections() {
        if let Some(pair) = &projection.low_rank {
            for param in [&pair.a, &pair.b] {
                let grad = param.val().grad(&grads).expect("a LoRA gradient");
                all.push(
                    grad.into_data()
                        .convert::<f32>()
                        .try_into_vec::<f32>()
                        .unwrap(),
                );
            }
        }
    }
    (f64::from(loss.sum.into_scalar::<f32>()), loss.targets, all)
}

/// Each example alone, the losses and gradients summed.
fn one_by_one(
    model: &Llama,
    config: &LoraConfig,
    samples: &[SftSample],
) -> (f64, usize, Vec<Vec<f32>>) {
    let mut total: Option<(f64, usize, Vec<Vec<f32>>)> = None;
    for sample in samples {
        let (loss, targets, grads) = loss_and_grads(model, config, &[sample], BatchLayout::Padded);
        total = Some(match total {
            None => (loss, targets, grads),
            Some((l, t, mut g)) => {
                for (acc, new) in g.iter_mut().zip(&grads) {
                    acc.iter_mut().zip(new).for_each(|(a, b)| *a += b);
                }
                (l + loss, t + targets, g)
            }
        });
    }
    total.expect("at least one sample")
}

/// `got` equals `want` to `tolerance` relative to the largest entry of each gradient.
fn assert_same(
    what: &str,
    got: &(f64, usize, Vec<Vec<f32>>),
    want: &(f64, usize, Vec<Vec<f32>>),
    tolerance: f64,
) {
    assert_eq!(got.1, want.1, "{what}: target tokens");
    let loss_error = (got.0 - want.0).abs() / want.0.abs();
    assert!(
        loss_error < tolerance,
        "{what}: loss {} vs {} ({loss_error:e})",
        got.0,
        want.0
    );
    assert_eq!(got.2.len(), want.2.len());
    let mut nonzero = 0;
    for (i, (g, w)) in got.2.iter().zip(&want.2).enumerate() {
        let scale = w.iter().fold(0f32, |m, x| m.max(x.abs())) as f64;
        let worst = g
            .iter()
            .zip(w)
            .fold(0f64, |m, (a, b)| m.max(f64::from((a - b).abs())));
        assert!(
            worst <= tolerance * scale + 1e-9,
            "{what}: LoRA gradient {i}: max difference {worst:e} for entries up to {scale:e}"
        );
        nonzero += usize::from(scale > 0.0);
    }
    // Every A and B gets a gradient: the comparison is not between zeros.
    assert_eq!(
        nonzero,
        want.2.len(),
        "{what}: some LoRA gradients are all zero"
    );
}

fn check_layouts(model: &Llama, config: &LoraConfig, samples: &[SftSample], what: &str) {
    let refs: Vec<&SftSample> = samples.iter().collect();
    let longest = samples.iter().map(|s| s.ids.len()).max().unwrap();
    let want = one_by_one(model, config, samples);
    for (layout, name) in [
        (BatchLayout::Padded, "padded"),
        // Everything in one row.
        (BatchLayout::packed(usize::MAX), "packed, one row"),
        // Rows of at most the longest example: several rows, padding tails.
        (BatchLayout::packed(longest), "packed, several rows"),
    ] {
        let got = loss_and_grads(model, config, &refs, layout);
        assert_same(&format!("{what}, {name}"), &got, &want, 1e-4);
    }
}

#[test]
fn packed_batch_matches_examples_one_by_one_with_the_fused_training_kernel() {
    let device = Device::flex().autodiff();
    let config = lora(4);
    let model = with_lora(tiny(&device), &config, &device);
    check_layouts(&model, &config, &tiny_samples(), "fused (autodiff flex)");
}

#[test]
fn packed_batch_matches_examples_one_by_one_with_the_decomposed_kernel() {
    // Gradient checkpointing keeps the fused kernels out: the burn-op path runs.
    let device = Device::flex().autodiff().gradient_checkpointing();
    let config = lora(4);
    let model = with_lora(tiny(&device), &config, &device);
    check_layouts(
        &model,
        &config,
        &tiny_samples(),
        "decomposed (checkpointing)",
    );
}

/// Evaluation runs on the plain device (`Module::valid`), through the fused inference kernel.
#[test]
fn packed_eval_loss_matches_the_padded_one() {
    let device = Device::flex().autodiff();
    let config = lora(4);
    let model = with_lora(tiny(&device), &config, &device);
    let samples = tiny_samples();
    let refs: Vec<&SftSample> = samples.iter().collect();
    let eval = |layout| {
        let objective = SftObjective {
            adapter: &config,
            pad_id: 0,
            layout,
        };
        let loss = objective.eval_loss(&model, &refs).unwrap();
        (
            f64::from(loss.sum.into_scalar::<f32>()),
            loss.targets,
            loss.tokens,
        )
    };
    let padded = eval(BatchLayout::Padded);
    for max_length in [14, 64] {
        let packed = eval(BatchLayout::packed(max_length));
        assert_eq!((packed.1, packed.2), (padded.1, padded.2));
        assert!(
            (packed.0 - padded.0).abs() < 1e-4 * padded.0,
            "max_length {max_length}: {packed:?} vs {padded:?}"
        );
    }
}

/// An example longer than a packed row is an error naming both lengths, not a panic.
#[test]
fn an_example_longer_than_the_row_is_refused() {
    let device = Device::flex().autodiff();
    let config = lora(4);
    let model = with_lora(tiny(&device), &config, &device);
    let samples = tiny_samples();
    let refs: Vec<&SftSample> = samples.iter().collect();
    let objective = SftObjective {
        adapter: &config,
        pad_id: 0,
        layout: BatchLayout::packed(10),
    };
    let e = objective.loss(&model, &refs).unwrap_err().to_string();
    assert!(e.contains("14 tokens") && e.contains("10"), "{e}");
}

/// SmolLM2-135M-Instruct, LoRA r = 16 on q/k/v/o, real chat-formatted examples.
#[test]
fn smollm2_packed_batch_matches_examples_one_by_one() {
    let Some(path) = lux_train::gguf::find_smollm2() else {
        eprintln!(
            "skipping: SmolLM2 GGUF not found (run `bash scripts/fetch-models.sh`, or set LUX_MODELS)"
        );
        return;
    };
    let device = Device::flex().autodiff();
    let (model, tokenizer) = Llama::from_gguf(&path, &device).expect("load SmolLM2");
    let config = lora(16);
    let model = with_lora(model, &config, &device);
    let samples: Vec<SftSample> = [
        ("Iwwersetz op Lëtzebuergesch: Good morning!", "Gudde Moien!"),
        ("Translate into English: Wéi geet et dir?", "How are you?"),
        (
            "Write one sentence about Luxembourg City.",
            "Luxembourg City is the capital of the Grand Duchy, built on cliffs above the Alzette.",
        ),
        ("What is 7 + 5?", "12"),
    ]
    .into_iter()
    .map(|(user, answer)| tokenize_chat(&tokenizer, user, answer).unwrap())
    .collect();
    check_layouts(&model, &config, &samples, "SmolLM2");
}
