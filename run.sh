#!/usr/bin/env bash
# Set up (first time) and run arb: creates .venv, installs arb, runs `arb run` on the shipped config.
# Extra arguments go to `arb run`, e.g. `bash run.sh --config my.toml`.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x .venv/bin/arb ] || [ pyproject.toml -nt .venv/.arb-installed ]; then
  echo "run.sh: installing arb and its dependencies into .venv (first run: about three minutes, most of it compiling; pip is quiet)" >&2
  python3 -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e .
  touch .venv/.arb-installed
elif edited="$(bash .ci/stale-build)"; then
  echo "run.sh: edited since arb's compiled modules were built: $edited; rebuilding them (about two minutes)" >&2
  .venv/bin/python -m pip install -q -e . --no-deps
fi
exec .venv/bin/arb run "$@"
