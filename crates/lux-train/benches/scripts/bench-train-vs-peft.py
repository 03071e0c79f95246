"""The workloads of crates/lux-train/benches/train_step.rs in PyTorch + PEFT, and the ratios.

Workloads (SmolLM2-135M shape, random weights, float32, CPU, base frozen, an all-ones attention
mask, AdamW lr 1e-4, eps 1e-8, weight decay 0.01 — PyTorch's default, set explicitly as the lux
side sets it):
- lora_qkvo_8x128: LoRA r=16, alpha=32, no dropout on q_proj/k_proj/v_proj/o_proj; one batch of
  8 x 128 random tokens per optimizer step; causal-LM loss on every next-token position
  (8 x 127 targets);
- lora_qkvo_8x128_completion64: the same with labels -100 on the first 64 positions, so the
  loss covers the same 8 x 64 targets as lux's completion-only workload (transformers still
  computes the logits of all 8 x 128 positions);
- luxllama_r256_all7: the LuxLlama preset, LoRA r=256, alpha=256, no dropout on all seven
  projections (q/k/v/o/gate/up/down_proj); 8 micro-batches of 4 x 128 tokens per optimizer
  step, each micro-batch's mean loss divided by 8 and backpropagated (gradients accumulate in
  .grad), then one AdamW step — a transformers Trainer step with gradient_accumulation_steps=8
  (every micro-batch has the same 4 x 127 targets, so loss/8 is the step's mean token loss).
Tokens/s counts the input tokens of one optimizer step (1024, or 4096 for the preset). Peak RSS
is ru_maxrss after the steps (the model included), one workload per process so the figures do
not mix.

Usage (normally through bench-train-vs-peft.sh):
  python bench-train-vs-peft.py --workload lora_qkvo_8x128 [--threads 2] [--reps 3]
  python bench-train-vs-peft.py --compare lux.jsonl torch.jsonl
"""
import argparse
import json
import resource
import statistics
import time

VOCAB = 49152
SEQ, PROMPT = 128, 64
ATTENTION = ["q_proj", "k_proj", "v_proj", "o_proj"]
ALL_SEVEN = ATTENTION + ["gate_proj", "up_proj", "down_proj"]
# name: (rank, alpha, target modules, rows per micro-batch, micro-batches per step,
#        completion-only loss, timed steps by default)
WORKLOADS = {
    "lora_qkvo_8x128": (16, 32, ATTENTION, 8, 1, False, 3),
    "lora_qkvo_8x128_completion64": (16, 32, ATTENTION, 8, 1, True, 3),
    "luxllama_r256_all7": (256, 256, ALL_SEVEN, 4, 8, False, 1),
}


def run(workload, threads, reps):
    import peft
    import torch
    import transformers
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    rank, alpha, modules, rows, accumulation, completion, default_reps = WORKLOADS[workload]
    reps = reps or default_reps
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=VOCAB, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
        num_attention_heads=9, num_key_value_heads=3, rms_norm_eps=1e-5, rope_theta=100000.0,
        max_position_embeddings=8192, tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    model = get_peft_model(model, LoraConfig(
        r=rank, lora_alpha=alpha, lora_dropout=0.0, target_modules=modules,
    ))
    model.train()
    optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                              lr=1e-4, eps=1e-8, weight_decay=0.01)
    micro = []
    for k in range(accumulation):
        g = torch.Generator().manual_seed(1 + k)
        ids = torch.randint(0, VOCAB, (rows, SEQ), generator=g)
        labels = ids.clone()
        if completion:
            labels[:, :PROMPT] = -100
        micro.append((ids, torch.ones_like(ids), labels))
    targets = sum(int((labels[:, 1:] != -100).sum()) for _, _, labels in micro)

    def step():
        total = 0.0
        for ids, mask, labels in micro:
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss / accumulation
            loss.backward()
            total += float(loss.detach())
        optim.step()
        optim.zero_grad(set_to_none=True)
        return total

    losses = [step()]  # warm-up
    secs = []
    for _ in range(reps):
        start = time.perf_counter()
        losses.append(step())
        secs.append(time.perf_counter() - start)
    median = statistics.median(secs)
    tokens = rows * SEQ * accumulation
    print(json.dumps({
        "impl": "torch+peft", "workload": workload, "tokens": tokens, "targets": targets,
        "micro_batches": accumulation, "reps": reps,
        "secs": round(median, 4), "tokens_per_s": round(tokens / median, 1),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "first_loss": round(losses[0], 4), "last_loss": round(losses[-1], 4),
        "threads": threads, "torch": torch.__version__,
        "transformers": transformers.__version__, "peft": peft.__version__,
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
          f"{'lux RSS GB':>11}{'peft RSS GB':>12}{'RSS ratio':>10}")
    for name, t in torch.items():
        l = lux.get(name)
        if not l:
            continue
        print(f"{name:<30}{l['tokens_per_s']:>10.1f}{t['tokens_per_s']:>11.1f}"
              f"{l['tokens_per_s'] / t['tokens_per_s']:>9.2f}"
              f"{l['peak_rss_bytes'] / 1e9:>11.2f}{t['peak_rss_bytes'] / 1e9:>12.2f}"
              f"{l['peak_rss_bytes'] / t['peak_rss_bytes']:>10.2f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", choices=sorted(WORKLOADS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=0,
                    help="timed optimizer steps after one warm-up (0: 3, or 1 for the preset)")
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
