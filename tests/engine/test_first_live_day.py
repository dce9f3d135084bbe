"""README.md's "A first live day", run: every command of its ``bash`` blocks, in order, with its own argument
list, in a directory holding the shipped ``config.toml``, against two ``arb sandbox`` processes standing in for
Gate's testnet and Gate (two exchanges, two key pairs), each command's exit status and output held to what the
section says.

The trader's ``live.toml`` is the shipped config with the section's diff applied as printed (the test applies
the hunks itself and fails if one does not fit). Before each ``arb`` command the file is written as the README
made it with only :func:`sandboxed`'s changes (the endpoint parts: a sandbox venue at ``[sandbox] url`` instead
of Gate live or on its testnet, the sandbox's books and balances, HTX's book from a capture instead of its
public feed, the dashboard on any free port), and put back after; the test checks those are the only lines
that differ. ``export`` lines set the variable they name to the sandbox's value (the keys, a webhook on
loopback for the alerts); every other command runs through bash as written. The two ``arb run``s are stopped
with SIGINT, as Ctrl-C would, once they have traded (the canary's after the ``touch arb.kill`` that the
section runs beside it).
"""

from __future__ import annotations

import difflib
import json
import re
import signal
import sqlite3
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from .helpers import BUNDLED, SHIPPED
from .procs import Proc, _pump

ROOT = Path(__file__).resolve().parents[2]
HEADING = "## A first live day"
KEYS = {  # the two exchanges' key pairs: a sandbox's account, and what the section's placeholders stand for
    "'<testnet key>'": "k-testnet", "'<testnet secret>'": "s-testnet-" + "t" * 32,
    "'<real key>'": "k-real", "'<real secret>'": "s-real-" + "r" * 32,
}
CROSS_AT = 1629420160000  # 2021-08-20 00:42:40 UTC: the bundled capture's one cross the shipped fees trade


def section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(f"\n{HEADING}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def fenced(kind: str) -> list[str]:
    """The section's fenced blocks of ``kind`` (``""``: the unlabelled ones, its shown output), in order."""
    blocks, lang, body = [], None, []
    for line in section().splitlines():
        if line.startswith("```"):
            if lang is None:
                lang, body = line[3:], []
                continue
            if lang == kind:
                blocks.append("\n".join(body) + "\n")
            lang = None
        elif lang is not None:
            body.append(line)
    return blocks


def commands() -> list[str]:
    return [line for block in fenced("bash") for line in block.splitlines() if line.strip()]


def apply_diff(text: str, diff: str) -> str:
    """``diff`` (unified, as the README prints it) applied to ``text``: every hunk's old lines must stand at
    the line its header names."""
    lines = text.splitlines()
    out: list[str] = []
    at = 0  # lines of ``text`` consumed
    hunks = re.split(r"^@@ -(\d+),\d+ \+\d+,\d+ @@\n", diff.split("\n", 2)[2], flags=re.M)[1:]
    assert diff.startswith("--- config.toml\n+++ live.toml\n") and hunks
    for start, body in zip(hunks[::2], hunks[1::2], strict=True):
        first = int(start) - 1
        out += lines[at:first]
        old = [ln[1:] for ln in body.splitlines() if ln[:1] in " -"]
        new = [ln[1:] for ln in body.splitlines() if ln[:1] in " +"]
        assert lines[first:first + len(old)] == old, f"the hunk at line {start} does not fit config.toml"
        out += new
        at = first + len(old)
    return "\n".join(out + lines[at:]) + "\n"


def sandboxed(text: str, capture: Path, url: str | None) -> str:
    """The README's ``live.toml`` pointed at a sandbox: nothing else changes (checked)."""
    changed, n = re.subn(r'(\[venues\.gate\]\n)kind = "live"\n(testnet = true\n)?',
                         r'\1kind = "sandbox"\ncapture_venue = "binance"\nbalances = { USDT = "100", LINK = "4" }\n',
                         text)
    assert n == 1
    changed, n = re.subn(r'(\[venues\.htx\]\n)kind = "paper"\n', r'\1kind = "paper"\ncapture_venue = "huobi"\n',
                         changed)
    assert n == 1 and changed.count("\ndashboard_port = 8050\n") == 1
    changed = changed.replace("\ndashboard_port = 8050\n", "\ndashboard_port = 0\n")
    changed += f'\n[replay]\ncapture = "{capture.as_posix()}"\nspeed = 1\n'
    if url is not None:
        changed += f'\n[sandbox]\nurl = "{url}"\n'
    removed, added = [], []
    ours, theirs = text.splitlines(), changed.splitlines()
    for op, a, b, c, d in difflib.SequenceMatcher(a=ours, b=theirs, autojunk=False).get_opcodes():
        removed += ours[a:b] if op != "equal" else []
        added += theirs[c:d] if op != "equal" else []
    assert removed == ['kind = "live"', *(["testnet = true"] if "testnet = true" in ours else []),
                       "dashboard_port = 8050"], removed
    assert added == ['kind = "sandbox"', 'capture_venue = "binance"', 'balances = { USDT = "100", LINK = "4" }',
                     'capture_venue = "huobi"', "dashboard_port = 0", "", "[replay]",
                     f'capture = "{capture.as_posix()}"', "speed = 1",
                     *([] if url is None else ["", "[sandbox]", f'url = "{url}"'])], added
    return changed


def standing_cross(tmp: Path) -> Path:
    """Gate's (the capture's Binance side) and HTX's books as they stood at :data:`CROSS_AT`, every second for
    ten minutes: the one cross at the shipped fees (buy HTX 27.4, sell Gate 27.422) stays up, so each run
    trades whenever it starts."""
    import gzip
    last: dict[str, dict] = {}
    with gzip.open(BUNDLED, "rt") as lines:
        for line in lines:
            event = json.loads(line)
            if event["ts"] > CROSS_AT:
                break
            if event["type"] == "snapshot":
                last[event["venue"]] = event
    path = tmp / "cross.jsonl"
    with path.open("w") as out:
        for second in range(600):
            for venue in ("binance", "huobi"):
                out.write(json.dumps({**last[venue], "ts": CROSS_AT + second * 1000}) + "\n")
    return path


class Webhook:
    """What apprise's ``json://`` posts to a loopback port: ARB_ALERT_URLS' stand-in."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        posts = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/arb"


def shown(line: str) -> re.Pattern[str]:
    """A line the README shows as a pattern: a figure measured afresh (ms of clock offset and round trip) any."""
    return re.compile(r"-?\d+".join(re.escape(part) for part in re.split(r"-?\d+(?= ms)", line)))


def online_lines() -> list[str]:
    block = next(b for b in fenced("") if b.startswith("# online: "))
    return block.splitlines()


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "config.toml").write_text(SHIPPED.read_text())
    yield tmp_path


def test_the_first_live_day_runs_as_the_readme_says(desk: Path) -> None:
    cmds = commands()
    assert cmds == [
        "cp config.toml live.toml",
        "export ARB_GATE_API_KEY='<testnet key>'", "export ARB_GATE_API_SECRET='<testnet secret>'",
        "export ARB_ALERT_URLS='tgram://<bot token>/<chat id>'",
        'export ARB_DASHBOARD_TOKEN="$(openssl rand -hex 16)"',
        "arb config check --online live.toml", "arb run --config live.toml", "arb audit --config live.toml",
        "export ARB_GATE_API_KEY='<real key>'", "export ARB_GATE_API_SECRET='<real secret>'",
        "sed -i -e '/^testnet = true$/d' -e 's|sqlite:///testnet.db|sqlite:///live.db|' live.toml",
        "arb config check --online live.toml", "arb run --config live.toml",
        "touch arb.kill",
        "arb audit --config live.toml", 'arb report --config live.toml --since "$(date -u +%F)" --by day',
        "rm arb.kill",
    ], "the section's commands changed: say here what each should do"
    text = section()
    capture = standing_cross(desk)
    hook = Webhook()
    env = {"PATH": f"{ROOT / '.venv/bin'}:/usr/bin:/bin", "HOME": str(desk), "PYTHONUNBUFFERED": "1",
           "ARB_ALERT_URLS": ""}
    live = desk / "live.toml"
    readme_live = ""  # live.toml as the README's commands and diff made it
    sandbox: Proc | None = None
    sandbox_url = ""
    running: Proc | None = None
    runs = 0

    def arb(cmd: str) -> subprocess.CompletedProcess[str]:
        live.write_text(sandboxed(readme_live, capture, sandbox_url))
        try:
            return subprocess.run(SHELL + [cmd], cwd=desk, env=env, capture_output=True, text=True, timeout=60)
        finally:
            live.write_text(readme_live)

    def start_sandbox(name: str) -> None:
        nonlocal sandbox, sandbox_url
        if sandbox is not None:
            sandbox.kill()
        config = desk / f"{name}-sandbox.toml"  # the exchange the sandbox plays, as the config describes it
        config.write_text(sandboxed(readme_live, capture, None))
        keys = {"ARB_SANDBOX_KEY": env["ARB_GATE_API_KEY"], "ARB_SANDBOX_SECRET": env["ARB_GATE_API_SECRET"]}
        sandbox = Proc(["sandbox", "--config", str(config), "--venue", "gate", "--port", "0"], cwd=desk, env=keys)
        sandbox.wait_for("sandbox listening", lambda: any("sandbox listening" in ln for ln in sandbox.out), 30)
        line = next(ln for ln in sandbox.out if "sandbox listening" in ln)
        sandbox_url = line.split("rest=")[1].split()[0].removesuffix("/api/v4")

    try:
        for cmd in cmds:
            if cmd.startswith("export "):
                name, _, value = cmd.removeprefix("export ").partition("=")
                if name == "ARB_ALERT_URLS":
                    env[name] = hook.url
                elif value in KEYS:
                    env[name] = KEYS[value]
                else:  # a value the trader's shell makes: made so
                    env[name] = _shell(f'{cmd}; printf %s "${name}"', desk, env)
                    assert re.fullmatch("[0-9a-f]{32}", env[name])
                if name == "ARB_GATE_API_SECRET":  # a key pair complete: that exchange's sandbox
                    start_sandbox("testnet" if "testnet" in value else "real")
            elif cmd == "arb config check --online live.toml":
                done = arb(cmd)
                assert done.returncode == 0, done.stdout[-3000:] + done.stderr
                out = done.stdout.splitlines()
                for want in online_lines():
                    assert any(shown(want).fullmatch(ln) for ln in out), (want, out)
                assert env["ARB_GATE_API_SECRET"] not in done.stdout + done.stderr
            elif cmd == "arb run --config live.toml":
                runs += 1
                live.write_text(sandboxed(readme_live, capture, sandbox_url))
                running = Shell(cmd, desk, env)
                db = desk / ("testnet.db" if runs == 1 else "live.db")
                running.wait_for("two pairs executed", lambda db=db: _executed(db) >= 2, 30)
                port = _dashboard_port(running)
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as page:
                    assert page.status == 200
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/state", timeout=10) as state:
                    assert json.load(state)["controls"]["enabled"] is True  # the token's controls are on
                if runs == 1:
                    _interrupt(running, text, testnet=True, secrets=_secrets(env))
                    running = None
            elif cmd == "touch arb.kill":
                assert running is not None, "the kill switch is pulled while the canary runs"
                _shell(cmd, desk, env)
                running.wait_for("the kill switch's alert", lambda: any(
                    p.get("title", "").endswith(": kill switch") for p in hook.posts), 20)
                _interrupt(running, text, testnet=False, secrets=_secrets(env))
                running = None
            elif cmd == "arb audit --config live.toml":
                done = arb(cmd)
                shown_line = next(ln.strip("`") for ln in text.splitlines() if ln.startswith("audit: "))
                assert (done.returncode, done.stdout.splitlines(), done.stderr) == (0, [shown_line], ""), done
            elif cmd.startswith("arb report "):
                done = arb(cmd)
                assert done.returncode == 0, done.stderr
                assert "By day" in done.stdout and "By day" in text
                today = datetime.now(UTC).date().isoformat()
                row = next(ln for ln in done.stdout.splitlines() if f" {today} " in ln)
                cells = [c.strip() for c in row.strip("│ ").split("│")]
                assert cells[3:6] == ["2", "4", "4"], row  # the canary's two pairs: executed, orders, fills
                assert all(w in done.stdout for w in ("executed", "realized_pnl", "fees_USDT")), done.stdout
            elif cmd.startswith("arb "):
                raise AssertionError(f"no expectation for {cmd!r}")
            else:  # cp, sed, rm: the trader's own shell, on the README's live.toml
                if live.exists():
                    live.write_text(readme_live)
                _shell(cmd, desk, env)
                readme_live = live.read_text() if live.exists() else ""
                if cmd.startswith("cp "):  # then the edit the section shows as a diff
                    readme_live = apply_diff(readme_live, fenced("diff")[0])
                    live.write_text(readme_live)
                if cmd.startswith("rm "):
                    assert not (desk / "arb.kill").exists()
    finally:
        if running is not None:
            running.kill()
        if sandbox is not None:
            sandbox.kill()
        hook.server.shutdown()
        hook.server.server_close()
    assert 'url = "sqlite:///live.db"' in readme_live and "testnet" not in readme_live  # the sed did its job


# A command as a terminal runs it: bash, with Ctrl-C (SIGINT) at its default (procs.arb_command says why); a
# one-command line is exec'd by bash, so the signal reaches arb itself.
SHELL = ["env", "--default-signal=INT,QUIT", "bash", "-e", "-c"]


class Shell(Proc):
    """A command line of the section run through bash, its output collected as :class:`Proc` collects arb's."""

    def __init__(self, cmd: str, cwd: Path, env: dict[str, str]) -> None:  # noqa: D107
        self.out, self.err = [], []
        self.popen = subprocess.Popen(SHELL + [cmd], cwd=cwd, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)
        self._threads = [threading.Thread(target=_pump, args=(stream, sink), daemon=True)
                         for stream, sink in ((self.popen.stdout, self.out), (self.popen.stderr, self.err))]
        for thread in self._threads:
            thread.start()


def _shell(cmd: str, cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(SHELL + [cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, (cmd, done.stderr)
    return done.stdout


def _executed(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
            return con.execute("select count(*) from opportunities where decision = 'executed'").fetchone()[0]
    except sqlite3.OperationalError:  # the run has not made its tables yet
        return 0


def _dashboard_port(run: Proc) -> int:
    line = next(ln for ln in run.err + run.out if "arb: dashboard at http://127.0.0.1:" in ln)
    return int(line.split("127.0.0.1:")[1].split("/")[0])


def _secrets(env: dict[str, str]) -> tuple[str, ...]:
    return env["ARB_GATE_API_SECRET"], env["ARB_DASHBOARD_TOKEN"], env["ARB_ALERT_URLS"]


def _interrupt(run: Proc, text: str, *, testnet: bool, secrets: tuple[str, ...]) -> None:
    """Ctrl-C: the run stops after the pair in flight, prints its summary and exits 0. What it printed at its
    start is the README's, in its order, the testnet's wording aside (a sandbox venue is on no testnet:
    tests/venues/gate/test_testnet.py checks that wording) and the dashboard's port (any free one here)."""
    run.popen.send_signal(signal.SIGINT)
    assert run.finish(30) == 0, run.text()
    shown_lines = next(b for b in fenced("") if " run 1 started: " in b).splitlines()
    if not testnet:  # the canary's start line is in the prose
        said = "run 1 started: live mode, venues gate (live), htx (paper)"
        assert said in " ".join(text.split())
        shown_lines[0] = shown_lines[0].split(" run 1 started: ")[0] + " " + said
    port = _dashboard_port(run)
    wanted = [ln.replace(" (testnet: gate)", "").replace("gate (live, testnet)", "gate (sandbox)")
              .replace("gate (live)", "gate (sandbox)").replace("127.0.0.1:8050/", f"127.0.0.1:{port}/")
              for ln in shown_lines]
    printed = iter(ln.rstrip("\n") for ln in run.err)
    for want in wanted:  # each in order; "... " is the log line's time and level
        prefix, dots, rest = want.partition("... ")
        assert any(ln.endswith(rest) if dots and not prefix else ln == want for ln in printed), (want, run.text())
    logged = "".join(run.err + run.out)
    assert "online check: ok: venues.gate: the key authenticates" in logged, run.text()  # checked again first
    assert "stopped: SIGINT" in "".join(run.out), run.text()
    assert not [s for s in secrets if s in logged], "a secret in the run's output"
