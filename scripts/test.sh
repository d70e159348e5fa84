#!/usr/bin/env bash
# Set up (scripts/setup.sh --test), lint (ruff) and run the whole test suite, including the
# example plugins' own tests. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
# lint first: quick, and the rules are in pyproject.toml [tool.ruff]
.venv/bin/python -m ruff check src tests benchmarks plugins
.venv/bin/python -m pytest tests $(ls -d plugins/*/tests 2>/dev/null) "$@"
