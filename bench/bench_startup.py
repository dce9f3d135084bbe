"""Start-up of the quick commands: ``arb --help``, ``arb config check`` and ``arb report``, each a fresh
process timed from its start to its exit, against baselines started the same way in the same run.

    python bench/bench_startup.py [--rounds 5] [--db sqlite:///FILE]

Commands, run as a user runs them (the installed ``arb`` script, from the repository's root):

- ``arb --help``;
- ``arb config check``: the shipped ``config.toml`` (a sandbox venue, a paper venue through the generic
  ccxt adapter, the bundled capture): load and validate it, resolve its venues, check its database URL,
  read the capture's first line, check its ports, print it;
- ``arb report --db URL``: the funnel, PnL, fills, latency and inventory of a stored run. Without ``--db``
  the bench first stores one, ``arb run`` on the shipped config (the bundled capture replayed, ~10 s, not
  timed), in a temporary directory.

Baselines, each a fresh process too:

- ``python -c pass``: the interpreter's own start, below which no command can go;
- ``python -c "import ccxt"``: what every one of these commands paid before ccxt was imported only where an
  exchange is opened (issue #33 item 6: ``arb config check`` took 1.7-2.4 s on this 2-core machine, ccxt
  and its aiohttp ~0.5 s of it, the ORM and numpy most of the rest).

Printed per command: wall seconds, best of ``--rounds`` (the rounds interleaved, so a busy moment costs
every contender alike), its CPU seconds in that round (user + system: less sensitive to other processes
than wall time), the seconds it spends beyond the bare interpreter, and its wall time as a share of
importing ccxt alone. The target is each command under 0.5 s of wall time on an idle machine; the load
average is printed before and after, since on a shared machine every figure is pessimistic.

Measured on the shared 2-core machine under a load average of ~3 (another session's test suite; no idle
moment was to be had), best of 5: ``import ccxt`` 0.68 s; ``arb --help`` 0.07 s; ``arb config check`` 0.63 s
(0.93x ``import ccxt``; before the venue registry was freed of ccxt, the same load: 2.7-3.0 s);
``arb report`` on the shipped config's run (1,339 opportunities) 0.78 s (1.15x; before: 0.95-1.15 s). What
is left is the libraries the checks themselves use: SQLAlchemy Core (the database URL is checked by
building an engine; ~40% of ``config check``), pydantic and the config's schema (~25%); the ORM, the models
and rich for ``report``. Where the time goes, per module: ``python -X importtime -m arb.cli config check``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "config.toml"


def arb_command() -> list[str]:
    """The installed ``arb`` script beside this interpreter, as a user runs it; ``python -m arb.cli`` without."""
    script = Path(sys.executable).parent / "arb"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "arb.cli"]


def timed(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one fresh process running ``args`` from the repository's root."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, check=False, cwd=ROOT, env=env)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def stored_run(tmp: Path) -> str:
    """A database holding one real run: ``arb run`` on the shipped config (its capture replayed offline)."""
    url = f"sqlite:///{tmp / 'arb.db'}"
    config = tmp / "config.toml"
    text = SHIPPED.read_text().replace('status = "auto"', 'status = "off"')
    config.write_text(text.replace('kill_switch_file = "arb.kill"', f'kill_switch_file = "{tmp / "arb.kill"}"'))
    done = subprocess.run([*arb_command(), "run", "--config", str(config), "--db", url], capture_output=True,
                          text=True, check=False, cwd=tmp)
    if done.returncode != 0:
        raise RuntimeError(f"arb run exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    return url


def measure(db_url: str, rounds: int) -> dict[str, tuple[float, float]]:
    """Each contender's best wall time over ``rounds`` interleaved rounds, with that round's CPU time."""
    arb = arb_command()
    contenders = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import ccxt'": [sys.executable, "-c", "import ccxt"],
        "arb --help": [*arb, "--help"],
        "arb config check": [*arb, "config", "check"],
        "arb report --db URL": [*arb, "report", "--db", db_url],
    }
    # An untimed round first, writing bytecode (whatever $PYTHONDONTWRITEBYTECODE says): every contender then
    # starts from cached bytecode, as an installed arb does, not from compiling what changed since.
    writing = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for args in contenders.values():
        timed(args, writing)
    best: dict[str, tuple[float, float]] = {}
    for _ in range(rounds):
        for name, args in contenders.items():
            wall, cpu = timed(args)
            if name not in best or wall < best[name][0]:
                best[name] = (wall, cpu)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds; the best of each is shown")
    parser.add_argument("--db", help="a database holding a stored run (default: store one first, untimed)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    try:
        db_url = args.db or stored_run(tmp)
        load_before = os.getloadavg()[0]
        best = measure(db_url, args.rounds)
        load_after = os.getloadavg()[0]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    bare = best["python -c pass"][0]
    ccxt = best["python -c 'import ccxt'"][0]
    print(f"best of {args.rounds} rounds; load average {load_before:.2f} before, {load_after:.2f} after")
    print(f"{'':<26}{'wall s':>8}{'cpu s':>8}{'beyond python':>15}{'vs import ccxt':>16}")
    for name, (wall, cpu) in best.items():
        print(f"{name:<26}{wall:>8.3f}{cpu:>8.3f}{wall - bare:>15.3f}{wall / ccxt:>15.2f}x")
    slow = [name for name in best if name.startswith("arb") and best[name][0] >= 0.5]
    print("every command under 0.5 s" if not slow else f"0.5 s or more: {', '.join(slow)}")


if __name__ == "__main__":
    main()
