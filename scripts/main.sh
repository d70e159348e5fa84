#!/usr/bin/env bash
# The main job: set up, synthesise a short drum groove (no third-party audio), and vamp on it
# with a shipped recipe and the published VampNet weights (downloaded on first use into the
# vampkit cache; offline and uncached it stops with the weights loader's message).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out
[[ -f out/example-groove.wav ]] || .venv/bin/vampkit example out/example-groove.wav
# a second run keeps what the first one wrote (vampkit never replaces a file unasked);
# pass --overwrite to make it again
RESUME=(--skip-existing)
for arg in "$@"; do [[ $arg == --overwrite ]] && RESUME=(); done
.venv/bin/vampkit run recipes/loop-variation.yaml --input out/example-groove.wav --out out "${RESUME[@]}" "$@"
