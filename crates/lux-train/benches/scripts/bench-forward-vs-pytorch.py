"""The workloads of crates/lux-train/benches/forward.rs in PyTorch, and the lux/PyTorch ratios.

Workloads (SmolLM2-135M shape, random weights, float32, CPU, no_grad):
- hidden_states_8x128: LlamaModel forward with output_hidden_states on 8 x 128 tokens;
- greedy_b{1,8}_64: LlamaForCausalLM, a 16-token prompt then 64 greedy tokens with the KV
  cache (use_cache, past_key_values), one token per sequence per step.
Throughput counts input tokens for the forward pass and generated tokens for generation
(prefill included in the time), as the lux bench does.

Usage (normally through bench-forward-vs-pytorch.sh, which alternates lux and PyTorch):
  python bench-forward-vs-pytorch.py [--threads 2] [--reps 3]
      times the workloads in PyTorch: one JSON line per workload;
  python bench-forward-vs-pytorch.py --compare DIR --rounds N
      reads DIR/lux-R.jsonl (`LUX_BENCH_PLAIN=1` runs of the forward bench) and
      DIR/torch-R.jsonl for R = 1..N and prints the median tokens/s of each side and the
      lux/torch ratio of every round (a ratio within a round compares runs a minute apart,
      under the same load).
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


def read_jsonl(path):
    with open(path) as f:
        return {r["workload"]: r for r in (json.loads(l) for l in f if l.strip().startswith("{"))}


def compare(directory, rounds):
    runs = [(read_jsonl(f"{directory}/lux-{r}.jsonl"), read_jsonl(f"{directory}/torch-{r}.jsonl"))
            for r in range(1, rounds + 1)]
    import transformers
    print(f"torch {torch.__version__}, transformers {transformers.__version__}; {rounds} rounds, "
          "medians; ratios per round")
    print(f"{'workload':<22}{'lux tok/s':>11}{'torch tok/s':>13}{'lux/torch':>11}  per round")
    for name in runs[0][1]:
        pairs = [(lux[name]["tokens_per_s"], torch_[name]["tokens_per_s"])
                 for lux, torch_ in runs if name in lux]
        if not pairs:
            continue
        ratios = [a / b for a, b in pairs]
        print(f"{name:<22}{statistics.median(a for a, _ in pairs):>11.1f}"
              f"{statistics.median(b for _, b in pairs):>13.1f}{statistics.median(ratios):>10.2f}x  "
              + " ".join(f"{x:.2f}" for x in ratios))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--compare", metavar="DIR", help="summarise the rounds in DIR instead of running")
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    if args.compare:
        compare(args.compare, args.rounds)
        return

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    lm = LlamaForCausalLM(config()).eval()
    with torch.no_grad():
        g = torch.Generator().manual_seed(1)
        ids = torch.randint(0, VOCAB, (8, 128), generator=g)
        secs = timed(args.reps, lambda: lm.model(input_ids=ids, output_hidden_states=True))
        report("hidden_states_8x128", 8 * 128, secs, args.threads)
        for batch in (1, 8):
            prompts = torch.randint(0, VOCAB, (batch, 16), generator=g)
            secs = timed(args.reps, lambda: greedy(lm, prompts, 64))
            report(f"greedy_b{batch}_64", batch * 64, secs, args.threads)


def report(workload, tokens, secs, threads):
    print(json.dumps({"impl": "torch", "workload": workload, "tokens": tokens,
                      "secs": round(secs, 4), "tokens_per_s": round(tokens / secs, 1),
                      "threads": threads}), flush=True)


if __name__ == "__main__":
    main()
