#!/usr/bin/env bash
# Set up (scripts/setup.sh --test) and run the whole test suite, including the example
# plugins' own tests. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
.venv/bin/python -m pytest tests $(ls -d plugins/*/tests 2>/dev/null) "$@"
