#!/usr/bin/env bash
# Set up vampkit in ./.venv on a fresh machine: CPU torch from the pinned wheel (a torch that
# is already in the venv, e.g. a user's CUDA build, is kept), madmom built the way it needs,
# then vampkit itself with the locked versions of everything else.
#   scripts/setup.sh          runtime install (with the app extra: Gradio)
#   scripts/setup.sh --test   also the test tools, the example plugins, the app extra and, for
#                             the app's browser test, Playwright (driving Debian's chromium,
#                             installed with apt-get when running as root and it is missing)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VAMPKIT_VENV:-.venv}"
PY="${PYTHON:-python3}"
WITH_TEST=0
[[ "${1:-}" == "--test" ]] && WITH_TEST=1

[[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
LOCK=requirements/lock.txt

# torch: keep the one that is there; otherwise the CPU build pinned for these machines.
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  "${PIP[@]}" install "torch==${VAMPKIT_TORCH_VERSION:-2.13.0}"
fi

# madmom 0.16.1 is an sdist whose setup.py imports numpy and Cython without declaring them:
# install its build tools first, then build it without isolation.
"${PIP[@]}" install -c "$LOCK" setuptools wheel cython numpy
if ! "$VENV/bin/python" -c "import importlib.metadata as m; m.version('madmom')" 2>/dev/null; then
  "${PIP[@]}" install -c "$LOCK" --no-build-isolation madmom
fi

EXTRAS="[app]"  # the README's set-up includes `vampkit app`
[[ $WITH_TEST == 1 ]] && EXTRAS="[test,app,browser,ray]"  # the ray executor's tests run a local Ray
"${PIP[@]}" install -c "$LOCK" -e ".$EXTRAS"

if [[ $WITH_TEST == 1 ]]; then
  for plugin in plugins/*/; do
    [[ -f "$plugin/pyproject.toml" ]] && "${PIP[@]}" install -c "$LOCK" --no-deps -e "$plugin"
  done
  # the browser test uses the system's Chromium (Playwright must not download one)
  if ! command -v chromium >/dev/null 2>&1; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
      echo "note: no chromium; the app's browser test is skipped (apt-get install chromium)" >&2
    fi
  fi
fi
"$VENV/bin/python" -m pip check >/dev/null || "$VENV/bin/python" -m pip check
echo "vampkit set up in $VENV"
