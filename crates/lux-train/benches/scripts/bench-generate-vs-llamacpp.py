"""Local generation in lux against llama.cpp's server, side by side (see the .sh next to this
file for what is measured and the environment it reads).

Run by bench-generate-vs-llamacpp.sh with the Python of the llama-server venv (it needs
`xllamacpp` only for its version; the HTTP client is the standard library's):

    python bench-generate-vs-llamacpp.py --lux PATH/quantized_generate --model M.gguf \
        [--rounds 3] [--tokens 64] [--batches "1 8"] [--threads 2] [--modes all] [--port P]

Each round runs llama.cpp at every batch size, then one lux process (`--rounds 1 --tsv`) at
every batch size, so both sides see the same machine load in turn. llama.cpp gets the token
ids lux's tokenizer made (`quantized_generate --prompt-ids`), so the prompts are identical,
with `cache_prompt: false` (every request pays its prefill, as lux's does), `ignore_eos` and
`n_predict` (exactly TOKENS new tokens) and temperature 0 (greedy).
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))


def post(url, body, timeout=600):
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


def get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


class Server:
    """A llama.cpp server started by scripts/llama-server.sh, stopped by stop()."""

    def __init__(self, model, port, threads, parallel, ctx):
        env = dict(os.environ, LUX_LLAMA_THREADS=str(threads),
                   LUX_LLAMA_PARALLEL=str(parallel), LUX_LLAMA_CTX=str(ctx))
        self.base = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            ["bash", os.path.join(ROOT, "scripts", "llama-server.sh"), "start", str(port), model],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
        )
        line = self.process.stdout.readline()
        if not line.startswith("ready"):
            self.stop()
            raise RuntimeError(f"llama.cpp server on port {port} did not start: {line!r}")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def llama_round(server, prompts, tokens):
    """All prompts as concurrent requests; returns the wall time and each response."""
    results = [None] * len(prompts)
    errors = []

    def one(i):
        try:
            results[i] = post(f"{server.base}/completion", {
                "prompt": prompts[i],
                "n_predict": tokens,
                "ignore_eos": True,
                "temperature": 0.0,
                "cache_prompt": False,
                "return_tokens": True,
                "stream": False,
            })
        except Exception as e:  # reported below, with the request it belongs to
            errors.append(f"request {i}: {e}")

    workers = [threading.Thread(target=one, args=(i,)) for i in range(len(prompts))]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    wall = time.perf_counter() - start
    if errors:
        raise RuntimeError("llama.cpp: " + "; ".join(errors))
    for i, r in enumerate(results):
        n = r["timings"]["predicted_n"]
        if n != tokens:
            raise RuntimeError(f"llama.cpp request {i} generated {n} tokens, not {tokens}")
    return wall, results


def llama_figures(wall, results):
    """End-to-end tokens/s, decode tokens/s (llama.cpp's per-slot decode rates summed: the
    slots decode together, one batch per step) and the longest prefill in ms."""
    new = sum(r["timings"]["predicted_n"] for r in results)
    # predicted_ms runs from the end of the prompt pass, so it covers predicted_n - 1 decoding
    # steps (the first token comes from the prompt pass's logits), as lux's decode time does.
    decode = sum((r["timings"]["predicted_n"] - 1) / r["timings"]["predicted_ms"] * 1e3
                 for r in results)
    prefill = max(r["timings"]["prompt_ms"] for r in results)
    return new / wall, decode, prefill


def lux_round(lux, model, modes, tokens, batches, threads):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    command = [lux, "--model", model, "--mode", modes, "--tokens", str(tokens), "--rounds", "1",
               "--batches", ",".join(map(str, batches)), "--tsv"]
    out = subprocess.run(command, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{out.stderr}")
    figures, sequences = {}, {}
    for line in out.stdout.splitlines():
        fields = line.split("\t")
        if fields[0] == "round":
            mode, batch = fields[1], int(fields[2])
            new, total, prefill, decode, steps = (int(fields[4]), float(fields[5]),
                                                  float(fields[6]), float(fields[7]),
                                                  int(fields[8]))
            if new != tokens * batch:
                raise RuntimeError(f"lux {mode} batch {batch}: {new} tokens, not {tokens * batch}")
            figures[(mode, batch)] = (new / total, batch * steps / decode, prefill * 1e3)
        elif fields[0] == "tokens":
            ids = [int(t) for t in fields[4].split(",") if t]
            sequences[(fields[1], int(fields[2]), int(fields[3]))] = ids
    return figures, sequences


def common_prefix(a, b):
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lux", required=True, help="the quantized_generate binary")
    parser.add_argument("--model", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--batches", default="1 8")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--modes", default="all")
    parser.add_argument("--port", type=int, default=18431)
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.replace(",", " ").split()]
    if not batches or min(batches) < 1 or args.rounds < 1 or args.tokens < 2:
        parser.error("batches ≥ 1, rounds ≥ 1 and tokens ≥ 2 are needed")

    ids = subprocess.run([args.lux, "--model", args.model, "--prompt-ids"], check=True,
                         capture_output=True, text=True).stdout
    prompts = json.loads(ids)
    batch_prompts = {b: [prompts[i % len(prompts)] for i in range(b)] for b in batches}
    ctx = max(len(p) for p in prompts) + args.tokens + 16

    servers = {}
    # SIGTERM (e.g. a timeout) ends the run through the finally below, which stops the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        for b in batches:
            servers[b] = Server(args.model, args.port + len(servers), args.threads, b, ctx)
        props = get(f"{servers[batches[0]].base}/props")
        try:
            import xllamacpp
            wheel = f"xllamacpp {xllamacpp.__version__}"
        except ImportError:
            wheel = "xllamacpp (version unknown)"
        print(f"llama.cpp: {wheel}, build {props.get('build_info', '?')}; "
              f"{args.threads} threads, slots = batch size, n_ctx {ctx} per slot")
        print(f"prompts: {len(prompts)} chat prompts of "
              f"{min(map(len, prompts))}-{max(map(len, prompts))} tokens; {args.tokens} new "
              f"tokens per sequence, greedy, no early stop; {args.rounds} rounds")
        with open("/proc/loadavg") as f:
            print(f"load average at start: {' '.join(f.read().split()[:3])}")

        # Warm-up: the servers' first requests allocate their compute buffers.
        for b in batches:
            llama_round(servers[b], batch_prompts[b], 4)

        per_round = {}  # (side, batch) -> [(end-to-end, decode, prefill ms)]
        llama_tokens = {}
        lux_tokens = {}
        for r in range(args.rounds):
            for b in batches:
                wall, results = llama_round(servers[b], batch_prompts[b], args.tokens)
                per_round.setdefault(("llama.cpp", b), []).append(llama_figures(wall, results))
                if r == 0:
                    for i, res in enumerate(results):
                        llama_tokens[(b, i)] = res.get("tokens", [])
            figures, sequences = lux_round(args.lux, args.model, args.modes, args.tokens,
                                           batches, args.threads)
            for (mode, b), f in figures.items():
                per_round.setdefault((f"lux {mode}", b), []).append(f)
            if r == 0:
                lux_tokens = sequences
            print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
        with open("/proc/loadavg") as f:
            print(f"load average at end: {' '.join(f.read().split()[:3])}")

        order = ["llama.cpp", "lux f32", "lux q+f32head", "lux quantized"]
        sides = sorted({s for s, _ in per_round},
                       key=lambda s: order.index(s) if s in order else len(order))
        print()
        print("| side | batch | tokens/s end to end | ratio | decode tokens/s | ratio | "
              "prefill ms | rounds (end to end) |")
        print("|---|---|---|---|---|---|---|---|")
        for b in batches:
            base = per_round[("llama.cpp", b)]
            base_total = statistics.median(f[0] for f in base)
            base_decode = statistics.median(f[1] for f in base)
            for side in sides:
                rounds = per_round.get((side, b))
                if not rounds:
                    continue
                total = statistics.median(f[0] for f in rounds)
                decode = statistics.median(f[1] for f in rounds)
                prefill = statistics.median(f[2] for f in rounds)
                listed = ", ".join(f"{f[0]:.1f}" for f in rounds)
                print(f"| {side} | {b} | {total:.1f} | {total / base_total:.2f}× | "
                      f"{decode:.1f} | {decode / base_decode:.2f}× | {prefill:.0f} | {listed} |")
        print()
        print("Greedy tokens against llama.cpp's (first round; sequences whose "
              f"{args.tokens} tokens are identical, and the mean common prefix):")
        for mode in sorted({m for m, _, _ in lux_tokens}):
            for b in batches:
                pairs = [(lux_tokens[(mode, b, i)], llama_tokens.get((b, i), []))
                         for i in range(b) if (mode, b, i) in lux_tokens]
                same = sum(1 for a, c in pairs if a == c)
                prefix = statistics.mean(common_prefix(a, c) for a, c in pairs)
                print(f"  lux {mode} batch {b}: {same}/{len(pairs)} identical, "
                      f"mean common prefix {prefix:.1f} tokens")
    finally:
        for server in servers.values():
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
