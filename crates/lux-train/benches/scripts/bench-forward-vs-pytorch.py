"""The workloads of crates/lux-train/benches/forward.rs in PyTorch, and the lux/PyTorch ratios.

Workloads (SmolLM2-135M shape, random weights, float32, CPU, no_grad):
- hidden_states_8x128: LlamaModel forward with output_hidden_states on 8 x 128 tokens;
- greedy_b{1,8}_64: LlamaForCausalLM, a 16-token prompt then 64 greedy tokens with the KV
  cache (use_cache, past_key_values), one token per sequence per step.
Throughput counts input tokens for the forward pass and generated tokens for generation
(prefill included in the time), as the lux bench does.

Usage (normally through bench-forward-vs-pytorch.sh):
  /tmp/torch-venv/bin/python bench-forward-vs-pytorch.py [--lux lux.jsonl] [--threads 2] [--reps 3]
Lux's figures come from `LUX_BENCH_PLAIN=1 cargo bench -p lux-train --bench forward`, one JSON
line per workload.
"""
import argparse
import json
import statistics
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

VOCAB = 49152


def config():
    return LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=576,
        intermediate_size=1536,
        num_hidden_layers=30,
        num_attention_heads=9,
        num_key_value_heads=3,
        rms_norm_eps=1e-5,
        rope_theta=100000.0,
        max_position_embeddings=8192,
        tie_word_embeddings=True,
    )


def timed(reps, f):
    f()  # warm-up
    secs = []
    for _ in range(reps):
        start = time.perf_counter()
        f()
        secs.append(time.perf_counter() - start)
    return statistics.median(secs)


def greedy(model, prompts, new_tokens):
    out = model(input_ids=prompts, use_cache=True)
    past = out.past_key_values
    nxt = out.logits[:, -1, :].argmax(-1, keepdim=True)
    for _ in range(new_tokens - 1):
        out = model(input_ids=nxt, past_key_values=past, use_cache=True)
        past = out.past_key_values
        nxt = out.logits[:, -1, :].argmax(-1, keepdim=True)
    return nxt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lux", help="JSON lines from the lux bench in plain mode")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    lm = LlamaForCausalLM(config()).eval()
    results = {}
    with torch.no_grad():
        g = torch.Generator().manual_seed(1)
        ids = torch.randint(0, VOCAB, (8, 128), generator=g)
        secs = timed(args.reps, lambda: lm.model(input_ids=ids, output_hidden_states=True))
        results["hidden_states_8x128"] = (8 * 128, secs)
        for batch in (1, 8):
            prompts = torch.randint(0, VOCAB, (batch, 16), generator=g)
            secs = timed(args.reps, lambda: greedy(lm, prompts, 64))
            results[f"greedy_b{batch}_64"] = (batch * 64, secs)

    lux = {}
    if args.lux:
        with open(args.lux) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    r = json.loads(line)
                    lux[r["workload"]] = r
    print(f"torch {torch.__version__}, {args.threads} threads")
    print(f"{'workload':<22}{'lux tok/s':>12}{'torch tok/s':>13}{'lux/torch':>11}")
    for name, (tokens, secs) in results.items():
        t = tokens / secs
        l = lux.get(name, {}).get("tokens_per_s")
        ratio = f"{l / t:.2f}" if l else "-"
        lt = f"{l:.1f}" if l else "-"
        print(f"{name:<22}{lt:>12}{t:>13.1f}{ratio:>11}")
        print(json.dumps({"impl": "torch", "workload": name, "tokens": tokens,
                          "secs": round(secs, 4), "tokens_per_s": round(t, 1)}))


if __name__ == "__main__":
    main()
