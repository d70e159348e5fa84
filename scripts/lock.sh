#!/usr/bin/env bash
# Regenerate requirements/lock.txt from a clean install: a throwaway venv gets CPU torch,
# madmom's build tools and vampkit[test] with no constraints, then its versions are frozen
# (with the app, browser and ray extras; without torch, which setup.sh installs on its own terms, and without vampkit itself).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
pip=("$tmp/venv/bin/python" -m pip --disable-pip-version-check -q)
"${pip[@]}" install "torch==${VAMPKIT_TORCH_VERSION:-2.13.0}"
"${pip[@]}" install "setuptools>=70,<82" wheel "cython>=3,<3.4" numpy
"${pip[@]}" install --no-build-isolation madmom
"${pip[@]}" install ".[test,app,browser,ray]"
note=$(sed -n '/^# torchaudio:/,/^# matches torch/p' requirements/lock.txt)  # kept across regenerations
{
  echo "# Versions CI installs (pip constraints for scripts/setup.sh; regenerate with scripts/lock.sh)."
  echo "# torch is not here: setup.sh installs torch==2.13.0 (CPU) only when the venv has none."
  echo "$note"
  "$tmp/venv/bin/python" -m pip freeze --all | grep -viE '^(torch|pip)==|^vampkit( |=)' | sort -f
} > requirements/lock.txt
echo "wrote requirements/lock.txt"
