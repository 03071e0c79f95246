"""TRL's SFTTrainer on the examples lux's `sft_throughput` example trains on, and the comparison.

Run (normally through bench-sft-vs-trl.sh):
  python bench-sft-vs-trl.py --run --data train.jsonl --examples 64 [--packing] [--threads 2]
  python bench-sft-vs-trl.py --compare runs.jsonl

--run: SmolLM2-135M-Instruct loaded by transformers from the same Q4_1 GGUF file as lux (so
both dequantise the same weights to float32), LoRA r=16, alpha=32, dropout 0 on
q/k/v/o_proj, one epoch over the first N examples of a lux dataset (JSON Lines: instruction,
input, output), batch 8, lr 3e-4, cosine, warmup ratio 0.05, AdamW eps 1e-8, weight decay 0,
max_grad_norm 1, max_length 128, seed 1729, on the CPU. The examples are a conversational
prompt-completion dataset (user: the instruction, and the input after a blank line; assistant:
the output), so TRL applies SmolLM2's chat template and computes the loss on the completion
only, as lux does. With --packing TRL packs the dataset before training (its default
best-fit-decreasing strategy, rows of max_length tokens, position ids restarting per example,
which transformers turns into block-diagonal attention): a step is then 8 packed rows, so a
run has fewer steps than examples/8. Examples/s and tokens/s (real tokens) are over the time
of `trainer.train()` (the dataset is tokenised and packed before), peak RSS is ru_maxrss of
the process (the model included). Prints one JSON line.

--compare: reads the JSON lines of every run (lux's and TRL's) and prints them side by side,
with each run's examples/s over TRL's best, and the loss curves; when a setting ran more
than once (RUNS="lux:packed trl:packed lux:packed trl:packed" alternates the sides), also the
median of each setting against the median of TRL's best setting.
"""
import argparse
import json
import resource
import statistics
import sys
import time


def user_turn(example):
    inp = example.get("input") or ""
    return f"{example['instruction']}\n\n{inp}" if inp else example["instruction"]


def run(args):
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    torch.set_num_threads(args.threads)
    rows = []
    with open(args.data) as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
            if len(rows) == args.examples:
                break
    dataset = Dataset.from_list([
        {
            "prompt": [{"role": "user", "content": user_turn(e)}],
            "completion": [{"role": "assistant", "content": e["output"]}],
        }
        for e in rows
    ])
    tokenizer = AutoTokenizer.from_pretrained(args.gguf_dir, gguf_file=args.gguf_file)
    model = AutoModelForCausalLM.from_pretrained(
        args.gguf_dir, gguf_file=args.gguf_file, dtype=torch.float32,
        attn_implementation="sdpa",
    )
    # The GGUF weights are dequantised to float32 on loading, but transformers still marks the
    # model as GGUF-quantised and refuses to train it: drop the mark (nothing stays quantised).
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    config = SFTConfig(
        output_dir=args.out,
        per_device_train_batch_size=args.batch,
        gradient_accumulation_steps=1,
        num_train_epochs=1,
        learning_rate=args.lr,
        lr_scheduler_type="cosine",
        warmup_steps=0.05,  # a float below 1 is a ratio of the steps (transformers 5)
        weight_decay=0.0,
        adam_epsilon=1e-8,
        max_grad_norm=1.0,
        max_length=args.max_length,
        packing=args.packing,
        completion_only_loss=True,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        seed=1729,
        dataloader_num_workers=0,
    )
    lora = LoraConfig(
        r=16, lora_alpha=32, lora_dropout=0.0,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], task_type="CAUSAL_LM",
    )
    trainer = SFTTrainer(
        model=model, args=config, train_dataset=dataset, processing_class=tokenizer,
        peft_config=lora,
    )
    tokens = sum(len(ids) for ids in trainer.train_dataset["input_ids"])
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    print(json.dumps({
        "impl": "trl",
        "packing": args.packing,
        "examples": len(rows),
        "rows": len(trainer.train_dataset),
        "tokens": tokens,
        "steps": trainer.state.global_step,
        "seconds": seconds,
        "examples_per_s": len(rows) / seconds,
        "tokens_per_s": tokens / seconds,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "threads": args.threads,
        "losses": losses,
        "versions": {m.__name__: m.__version__ for m in (torch, __import__("transformers"),
                                                          __import__("trl"), __import__("peft"))},
    }), flush=True)


def compare(path):
    # Only the runs' own lines: transformers prints its log dicts to stdout too.
    runs = [json.loads(line) for line in open(path) if line.startswith("{\"")]
    if not runs:
        sys.exit(f"{path}: no runs")
    name = lambda r: f"{r['impl']} {'packed' if r['packing'] else 'padded'}"
    trl = [r for r in runs if r["impl"] == "trl"]
    best = max((r["examples_per_s"] for r in trl), default=None)
    print(f"{'setting':<14} {'examples':>8} {'steps':>5} {'seconds':>8} {'examples/s':>10} "
          f"{'tokens/s':>9} {'peak RSS':>9} {'vs TRL best':>11} {'first loss':>10} {'last loss':>9}")
    for r in runs:
        ratio = f"{r['examples_per_s'] / best:.2f}x" if best else "–"
        rss = f"{(r['peak_rss_bytes'] or 0) / 2**20:.0f} MiB"
        print(f"{name(r):<14} {r['examples']:>8} {r['steps']:>5} {r['seconds']:>8.1f} "
              f"{r['examples_per_s']:>10.2f} {r['tokens_per_s']:>9.1f} {rss:>9} {ratio:>11} "
              f"{r['losses'][0]:>10.4f} {r['losses'][-1]:>9.4f}")
    settings = {}
    for r in runs:
        settings.setdefault(name(r), []).append(r)
    if any(len(rs) > 1 for rs in settings.values()):
        # Repeated runs (RUNS names a setting more than once, e.g. alternating lux and TRL):
        # medians per setting, against the median of TRL's best setting.
        med = lambda rs, key: statistics.median(r[key] for r in rs)
        trl_best = max((med(rs, "examples_per_s") for n, rs in settings.items() if n.startswith("trl")),
                       default=None)
        print(f"\nmedians over repeated runs:\n{'setting':<14} {'runs':>4} {'examples/s':>10} "
              f"{'tokens/s':>9} {'peak RSS':>9} {'vs TRL best':>11}  examples/s per run")
        for n, rs in settings.items():
            eps = med(rs, "examples_per_s")
            ratio = f"{eps / trl_best:.2f}x" if trl_best else "–"
            rss = f"{med(rs, 'peak_rss_bytes') / 2**20:.0f} MiB" if all(r["peak_rss_bytes"] for r in rs) else "–"
            print(f"{n:<14} {len(rs):>4} {eps:>10.2f} {med(rs, 'tokens_per_s'):>9.1f} {rss:>9} {ratio:>11}  "
                  + " ".join(f"{r['examples_per_s']:.2f}" for r in rs))
    print("\nloss per optimizer step (mean token loss of the step's batch):")
    steps = max(len(r["losses"]) for r in runs)
    print("step " + "".join(f"{name(r):>15}" for r in runs))
    for s in range(steps):
        cells = "".join(
            f"{r['losses'][s]:>15.4f}" if s < len(r["losses"]) else f"{'':>15}" for r in runs
        )
        print(f"{s + 1:>4} {cells}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--run", action="store_true")
    p.add_argument("--compare")
    p.add_argument("--data")
    p.add_argument("--examples", type=int, default=64)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--packing", action="store_true")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--gguf-dir")
    p.add_argument("--gguf-file", default="SmolLM2-135M-Instruct.Q4_1.gguf")
    p.add_argument("--out", default="/tmp/bench-sft-vs-trl")
    args = p.parse_args()
    if args.compare:
        compare(args.compare)
    elif args.run:
        if not (args.data and args.gguf_dir):
            p.error("--run needs --data and --gguf-dir")
        run(args)
    else:
        p.error("--run or --compare")


if __name__ == "__main__":
    main()
