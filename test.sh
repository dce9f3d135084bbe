#!/usr/bin/env bash
# Set up (first time), lint, and run the whole test suite, on SQLite and on a real PostgreSQL server, with
# the dashboard's tests in a real browser. PostgreSQL and chromium come from Debian's packages (installed if
# missing, needs root/apt), PostgreSQL on a loopback port; without them those cases are skipped locally,
# and fail under CI (CI=true).
# Extra arguments go to pytest, e.g. `bash test.sh tests/config -x`.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x .venv/bin/pytest ] || [ pyproject.toml -nt .venv/.arb-test-installed ]; then
  python3 -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[test]"
  touch .venv/.arb-test-installed
elif edited="$(bash .ci/stale-build)"; then
  echo "test.sh: edited since arb's compiled modules were built: $edited; rebuilding them (about a minute)" >&2
  .venv/bin/python -m pip install -q -e . --no-deps
fi
if [ -z "${ARB_TEST_POSTGRES_URL:-}" ]; then
  if url="$(bash .ci/start-postgres)"; then
    export ARB_TEST_POSTGRES_URL="$url"
  else
    echo "test.sh: PostgreSQL unavailable; PostgreSQL cases will skip (or fail under CI)" >&2
  fi
fi
# The dashboard tests drive Debian's chromium headless (Playwright never downloads a browser).
if ! bash .ci/install-chromium; then
  echo "test.sh: chromium unavailable; the browser tests will skip (or fail under CI)" >&2
fi
# Lint first (fast, and the same rules everywhere): pyflakes, pycodestyle errors, imports, bugbear, pyupgrade.
.venv/bin/ruff check arb tests bench
# Types ([tool.mypy] in pyproject.toml: arb/, strict on the pure layers). Its cache (.mypy_cache/) makes a
# repeat run ~1 s; from cold (a clean checkout, CI) it takes ~16 s on one core, before the tests start.
.venv/bin/mypy
# Bytecode cached: the suite starts over a hundred Python processes (xdist workers, `arb` subprocesses,
# notebook kernels, dask workers), and with PYTHONDONTWRITEBYTECODE set each compiled arb and the tests
# from source again (collecting alone: 11 s of CPU per worker instead of 6).
unset PYTHONDONTWRITEBYTECODE
# pytest-xdist workers, one more than cores: every test has its own temporary directory, database schema and
# ports. A fifth of the tests' time is waiting (subprocesses, the browser, paced runs, wall-clock timers),
# which the extra worker fills (2-core machine, clean checkout: 6 min 44 s on 2 workers, 5 min 17 s on 3).
# Work stealing: a worker that runs out takes half of another's queue, so the long end-to-end tests do not
# leave a core idle at the end (11 min 12 s with xdist's default split, 9 min 28 s).
exec .venv/bin/python -m pytest -n "${ARB_TEST_WORKERS:-$(($(nproc) + 1))}" --dist worksteal "$@"
