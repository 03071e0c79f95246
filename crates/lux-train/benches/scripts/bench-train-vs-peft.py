"""The workloads of crates/lux-train/benches/train_step.rs in PyTorch + PEFT, and the ratios.

Workload (SmolLM2-135M shape, random weights, float32, CPU): LoRA r=16, alpha=32, no dropout on
q_proj/k_proj/v_proj/o_proj (base frozen), a batch of 8 x 128 random tokens with an all-ones
attention mask, one forward + backward + AdamW step (lr 1e-4, eps 1e-8, PyTorch's default
weight decay 0.01 as burn's AdamW) per timed step:
- lora_qkvo_8x128: causal-LM loss on every next-token position (8 x 127 targets);
- lora_qkvo_8x128_completion64: labels -100 on the first 64 positions, so the loss covers the
  same 8 x 64 targets as lux's completion-only workload (transformers still computes the
  logits of all 8 x 128 positions).
Tokens/s counts the 1024 input tokens of a step. Peak RSS is ru_maxrss after the steps (the
model included), one workload per process so the figures do not mix.

Usage (normally through bench-train-vs-peft.sh):
  /tmp/torch-venv/bin/python bench-train-vs-peft.py --workload lora_qkvo_8x128 [--threads 2] [--reps 3]
  /tmp/torch-venv/bin/python bench-train-vs-peft.py --compare lux.jsonl torch.jsonl
"""
import argparse
import json
import resource
import statistics
import time

VOCAB = 49152
BATCH, SEQ, PROMPT = 8, 128, 64


def run(workload, threads, reps):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=VOCAB, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
        num_attention_heads=9, num_key_value_heads=3, rms_norm_eps=1e-5, rope_theta=100000.0,
        max_position_embeddings=8192, tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    model = get_peft_model(model, LoraConfig(
        r=16, lora_alpha=32, lora_dropout=0.0,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
    ))
    model.train()
    optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                              lr=1e-4, eps=1e-8)
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, VOCAB, (BATCH, SEQ), generator=g)
    mask = torch.ones_like(ids)
    labels = ids.clone()
    if workload.endswith("completion64"):
        labels[:, :PROMPT] = -100
    targets = int((labels[:, 1:] != -100).sum())

    def step():
        out = model(input_ids=ids, attention_mask=mask, labels=labels)
        out.loss.backward()
        optim.step()
        optim.zero_grad(set_to_none=True)
        return float(out.loss)

    losses = [step()]  # warm-up
    secs = []
    for _ in range(reps):
        start = time.perf_counter()
        losses.append(step())
        secs.append(time.perf_counter() - start)
    median = statistics.median(secs)
    print(json.dumps({
        "impl": "torch+peft", "workload": workload, "tokens": BATCH * SEQ, "targets": targets,
        "secs": round(median, 4), "tokens_per_s": round(BATCH * SEQ / median, 1),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "first_loss": round(losses[0], 4), "last_loss": round(losses[-1], 4),
        "threads": threads, "torch": torch.__version__,
    }), flush=True)


def read(path):
    rows = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{") and '"workload"' in line:
                r = json.loads(line)
                rows[r["workload"]] = r
    return rows


def compare(lux_path, torch_path):
    lux, torch = read(lux_path), read(torch_path)
    print(f"{'workload':<30}{'lux tok/s':>10}{'peft tok/s':>11}{'lux/peft':>9}"
          f"{'lux RSS GB':>11}{'peft RSS GB':>12}")
    for name, t in torch.items():
        l = lux.get(name)
        if not l:
            continue
        print(f"{name:<30}{l['tokens_per_s']:>10.1f}{t['tokens_per_s']:>11.1f}"
              f"{l['tokens_per_s'] / t['tokens_per_s']:>9.2f}"
              f"{l['peak_rss_bytes'] / 1e9:>11.2f}{t['peak_rss_bytes'] / 1e9:>12.2f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", choices=["lora_qkvo_8x128", "lora_qkvo_8x128_completion64"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--compare", nargs=2, metavar=("LUX_JSONL", "TORCH_JSONL"))
    args = ap.parse_args()
    if args.compare:
        compare(*args.compare)
    elif args.workload:
        run(args.workload, args.threads, args.reps)
    else:
        ap.error("give --workload or --compare")


if __name__ == "__main__":
    main()
