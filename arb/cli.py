"""The ``arb`` command: one entry point, one top-level error handler, exit codes.

Each command is added by a ``register(subparsers)`` function in its own module (listed in ``COMMANDS`` with
its one-line summary); ``register`` sets ``func`` on its parser, called with the parsed
``argparse.Namespace`` and returning the exit status. Only the module of the command given is imported.

The error contract, for every command: bad input (arguments, config, a file that is not usable) is one
line on stderr and exit status 2; a venue or database that cannot be reached, or anything else that stops
a command, is one line naming it and exit status 1; 130 when interrupted. Each
:class:`~arb.errors.ArbError` carries its exit status; anything else is described in one line by
:func:`describe`. No traceback is shown unless ``--debug`` is given (before or after the command). Every
line is passed through :func:`arb.display.printable`: user input never reaches the terminal raw.
"""

from __future__ import annotations

# Ctrl-C while arb starts, before ``main`` can catch it (this module's own imports: tens of ms), must end the
# process as Ctrl-C does later: "arb: interrupted", 130, no traceback (nothing exists yet to clean up). Set
# first, and only in the `arb` process (``python -m arb.cli`` or the ``arb`` script), never in a program
# that imports arb.cli; ``main`` puts Python's own handler back inside its ``try``.
import os
import signal
import sys


def _interrupted_while_starting(_signum: int, _frame: object) -> None:
    os.write(2, b"arb: interrupted\n")
    os._exit(130)


if (__name__ == "__main__" or os.path.basename(sys.argv[0]) == "arb") and (
        signal.getsignal(signal.SIGINT) is signal.default_int_handler):
    signal.signal(signal.SIGINT, _interrupted_while_starting)

import argparse  # noqa: E402 - after the handler above, which must come first
import contextlib  # noqa: E402
import importlib  # noqa: E402
import threading  # noqa: E402
import traceback  # noqa: E402
from collections.abc import Collection, Iterator, Sequence  # noqa: E402
from typing import Any, NoReturn  # noqa: E402

from arb import __version__  # noqa: E402
from arb.display import printable  # noqa: E402
from arb.errors import ArbError  # noqa: E402
from arb.outfiles import RefusedPath  # noqa: E402
from arb.signals import Repeats, mark_terminated  # noqa: E402

# Every command: the module whose ``register(subparsers)`` adds it, and the line ``arb --help`` shows for it.
# Only the chosen command's module is imported (as pip's command table does): ``arb --help`` imports none,
# ``arb report`` only the report's, so no command pays for another's libraries (ccxt, dask, the engine).
# Rows alike in shape: one entry per command, which is the table's point.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("arb.commands.run", "run the engine (offline on the shipped config by default)"),
    "config": ("arb.commands.config", "inspect configuration"),
    "db": ("arb.commands.db", "migrate or inspect the trade-history database"),
    "sandbox": ("arb.commands.sandbox", "run the local exchange that sandbox venues trade on (a venue's API, offline)"),
    "record": ("arb.commands.record", "record live order books and trades to a capture file"),
    "convert": ("arb.commands.record", "convert raw venue recordings to the capture format"),
    "replay": ("arb.commands.replay", "arb run in replay mode on CAPTURE; prints the funnel"),
    "report": ("arb.commands.report", "print a run's funnel, PnL, fill ratios, latency and inventory"),
    "trades": ("arb.commands.trades", "list a run's executed opportunities: time, route, size, expected and realized PnL, outcome"),
    "balances": ("arb.commands.balances", "print a run's start and end balances and their change, per venue and asset"),
    "audit": ("arb.commands.audit", "hold the database against each live venue's own order and trade history"),
    "latency": ("arb.commands.latency", "write a run's order latency as a latency profile a simulated venue can name"),
    "sweep": ("arb.commands.sweep", "replay a grid of parameters (fees, edge, latency, leg policy, captures) on a dask cluster"),
    "optimize": ("arb.commands.optimize", "search parameter ranges with Optuna, fitted on one capture file and scored on the next"),
    "dashboard": ("arb.commands.dashboard", "serve the web dashboard of a stored run on loopback"),
}


# Commands that start a local dask cluster (unless given --scheduler). Its worker server is started before the
# command's modules are imported: it imports arb in a process of its own (~4 s of CPU) while this one imports the
# command's (~2 s), and the workers are ready ~2 s sooner (``sweep/worker_server.py``). The command starts it too,
# where it runs without this module; a second start finds it running.
LOCAL_CLUSTER_COMMANDS = {"sweep", "optimize"}


class Parser(argparse.ArgumentParser):
    """argparse with the error contract: a usage error is one line (not the usage block), exit status 2.
    Subcommand parsers are made by ``add_parser`` with the parent's class, so they inherit this."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {printable(message)} (see {self.prog} --help)\n")


class CommandParser(Parser):
    """A command's parser (``arb report``, ``arb db upgrade``): an argument it does not know is its own error,
    ``arb report: error: unrecognized arguments: --bogus``. argparse hands a subcommand's leftovers up to the
    top-level parser, which said ``arb: error:`` for a malformed argument of a command. Its own subcommands'
    parsers are of its class (argparse's default), so they refuse theirs the same way, first."""

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]  # typeshed overloads it per namespace type
                         namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


def build_parser(commands: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The ``arb`` parser: every command's own parser (``commands=None``), or those of ``commands`` with the
    rest listed by name and summary only (what :func:`main` builds, to import no more than it runs)."""
    parser = Parser(
        prog="arb",
        description="Cross-exchange crypto arbitrage engine. Runs offline by default on bundled data.",
    )
    parser.add_argument("--version", action="version", version=f"arb {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback when a command fails")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CommandParser)
    listing = _Listing(sub)
    loaded = {COMMANDS[name][0] for name in (COMMANDS if commands is None else commands)}
    for name, (module, summary) in COMMANDS.items():
        if name in sub.choices:  # registered by an earlier command's module (record and convert share one)
            continue
        if module in loaded:
            with _interrupt_held():
                importlib.import_module(module).register(listing)
        else:  # listed by name and summary only: never parsed, since it is not the command given
            sub.add_parser(name, help=summary, add_help=False)
    _accept_debug_everywhere(parser)
    return parser


@contextlib.contextmanager
def _interrupt_held() -> Iterator[None]:
    """Ctrl-C while a command's modules import is raised once they have (a fraction of a second). Landing
    inside them it can come out as another error: pydantic builds a model's validators in Rust and turns a
    KeyboardInterrupt raised in its Python callbacks into a ``SchemaError`` that keeps only its name in the
    text, with no cause to follow (a class body's ``__set_name__`` wraps it in a RuntimeError that does)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers are the main thread's: a caller on another thread keeps its own
        return
    pressed: list[object] = []
    previous = signal.signal(signal.SIGINT, lambda *_: pressed.append(True))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed:
        raise KeyboardInterrupt


class _Listing:
    """What a command module's ``register`` is given: argparse's subparsers, with each command's ``help``
    (its line in ``arb --help``) taken from :data:`COMMANDS`, where it is written once."""

    def __init__(self, sub: argparse._SubParsersAction[CommandParser]) -> None:
        self._sub = sub

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        return self._sub.add_parser(name, help=COMMANDS[name][1], **kwargs)


def _chosen(argv: Sequence[str]) -> set[str]:
    """The command ``argv`` names (its first word that is not an option), as a set: empty for ``arb --help``."""
    word = next((a for a in argv if not a.startswith("-")), None)
    return {word} if word in COMMANDS else set()


def _starts_local_cluster(argv: Sequence[str]) -> bool:
    """``argv`` will start a local cluster, as far as can be told before it is parsed: no ``--scheduler``, no help."""
    return not any(a in ("-h", "--help", "--scheduler") or a.startswith("--scheduler=") for a in argv)


def _accept_debug_everywhere(parser: argparse.ArgumentParser) -> None:
    """``--debug`` after the command too (``arb report --debug``). SUPPRESS: a subcommand that is not given
    the flag leaves the top-level value alone instead of resetting it to False."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in set(action.choices.values()):
                if not any("--debug" in a.option_strings for a in child._actions):
                    child.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                                       help="show the traceback when the command fails")
                _accept_debug_everywhere(child)


def describe(exc: BaseException) -> tuple[str, int]:
    """The one line and the exit status for an error that ended a command.

    :class:`ArbError` says both itself. The rest are errors arb did not raise on purpose; each gets a line
    that says what failed. Library modules are looked up in ``sys.modules`` rather than imported: an error
    cannot come from a library that was never loaded, and ``arb --help`` stays fast.
    """
    if isinstance(exc, ArbError):
        return str(exc), exc.exit_status
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    if sqlalchemy_exc is not None and isinstance(exc, sqlalchemy_exc.SQLAlchemyError):
        return f"database error: {_first_line(getattr(exc, 'orig', None) or exc)}", 1
    ccxt_errors = sys.modules.get("ccxt.base.errors")
    if ccxt_errors is not None and isinstance(exc, ccxt_errors.BaseError):
        # ccxt's messages start with the exchange id ("gate GET https://..."): that names the venue.
        return f"venue error ({type(exc).__name__}): {_first_line(exc)}", 1
    from arb.display import shorten  # a 5,000-character file name is not echoed whole

    if isinstance(exc, (FileNotFoundError, IsADirectoryError, NotADirectoryError, RefusedPath)):
        return f"{shorten(str(exc.filename))}: {exc.strerror}", 2
    if isinstance(exc, OSError):
        where = f"{shorten(str(exc.filename))}: " if exc.filename else ""
        return f"{where}{exc.strerror or _first_line(exc)}", 1
    return f"unexpected {type(exc).__name__}: {_first_line(exc)} (arb --debug shows the traceback)", 1


def _exit_quickly() -> None:
    """Spare an interrupted process the interpreter's final garbage collections over every module arb
    imported (ccxt's exchange classes, dask, SQLAlchemy): 1-2 s after Ctrl-C, measured, for nothing, since
    the process is ending. A frozen heap is left to the operating system to reclaim."""
    import gc

    gc.freeze()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command ``argv`` (``sys.argv[1:]`` when None: the `arb` process itself) and give its exit status.

    Ctrl-C (SIGINT) at any moment gives either the command's own outcome or "arb: interrupted" and 130: a
    KeyboardInterrupt is caught wherever it lands (parsing, importing the command's modules, the command, and
    one wrapped by Python in another error, as a class body's ``__set_name__`` wraps it), and once the outcome
    is printed the process ignores SIGINT to its end: Python's teardown sets SIGINT back to its default action,
    which would kill the process by the signal (exit -2) after its outcome was printed."""
    process = argv is None
    try:
        if process:
            signal.signal(signal.SIGINT, signal.default_int_handler)  # in place of the start-up handler
            signal.signal(signal.SIGTERM, _terminate_as_interrupt)
            _no_interrupt_in_logs()
            _interrupts_never_swallowed()
        status = _run(argv)
    except KeyboardInterrupt:
        status = _interrupted(process)
    except Exception as exc:
        # Wrapped where no handler of _run's is: the command module's import in build_parser (Python 3.11
        # raises a RuntimeError from a KeyboardInterrupt that lands in a class body's __set_name__).
        if not _by_interrupt(exc):
            raise
        status = _interrupted(process)
    if process:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    return status


def _terminate_as_interrupt(_signum: int, _frame: object) -> None:
    """SIGTERM (``kill``, ``timeout``, a service manager) is Ctrl-C: raised again as SIGINT, it meets whatever
    handles Ctrl-C at that moment (a sweep's merge finishing first, its cluster closing quietly, "arb:
    interrupted" elsewhere), where its default action killed the process mid-command: a sweep's row left
    "running" for good. Once for a signal ``timeout`` delivers twice (``arb/signals.py``): a second Ctrl-C
    landed in the sweep's own stopping. ``arb run`` and ``arb dashboard`` handle both signals on their own
    loop while they run."""
    if not _TERMINATIONS.again():
        mark_terminated()
        signal.raise_signal(signal.SIGINT)


_TERMINATIONS = Repeats()


def _no_interrupt_in_logs() -> None:
    """A command that sets up no logging (``arb report``, ``arb db``) still prints a library's WARNING and
    ERROR records through Python's last-resort handler: one carrying Ctrl-C's interrupt (SQLAlchemy's pool
    logs it with its traceback when it lands in a connection's close, then raises it on) is left out there
    as in arb's own handler (``arb.runtime.logs``)."""
    import logging

    from arb.runtime.logs import not_the_interrupt

    if logging.lastResort is not None:
        logging.lastResort.addFilter(not_the_interrupt)


def _interrupts_never_swallowed() -> None:
    """Ctrl-C that lands where Python cannot raise it (a weakref callback or ``__del__``: SQLAlchemy's
    ``InstanceState._cleanup`` as an ORM object is collected) goes to ``sys.unraisablehook``, whose default
    prints "Exception ignored" with a traceback and drops the interrupt: the command went on as if no key
    had been pressed. Here it is delivered again, at the main thread's next point where it can be raised
    (none once SIGINT is ignored, at the end of :func:`main`); any other unraisable error is Python's. From
    another thread: on the main thread ``interrupt_main`` raises at once, inside this hook, where it would be
    swallowed again."""
    import _thread

    python_hook = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            python_hook(unraisable)
            return
        with contextlib.suppress(RuntimeError):  # no new thread while the interpreter shuts down: it is ending
            _thread.start_new_thread(_thread.interrupt_main, ())

    sys.unraisablehook = hook


def _interrupted(process: bool) -> int:
    print("arb: interrupted", file=sys.stderr)
    if process:  # the `arb` process itself, about to exit: see _exit_quickly
        _forget_the_interrupt()
        _exit_quickly()
    return 130


def _forget_the_interrupt() -> None:
    """Python 3.11 remembers a KeyboardInterrupt that passed through an ``exec`` of source text (a dataclass's
    generated ``__init__`` while a module imports, namedtuple) in a global flag, caught or not, and at exit
    kills its own process with SIGINT when the flag is set (exit -2, after "arb: interrupted" and 130 were
    decided). The interrupt has been handled here: the flag is cleared where the interpreter has one."""
    import ctypes

    try:
        ctypes.c_int.in_dll(ctypes.pythonapi, "_Py_UnhandledKeyboardInterrupt").value = 0
    except (ValueError, AttributeError):  # another interpreter, or one that keeps no such flag
        pass


def _by_interrupt(exc: BaseException) -> bool:
    """``exc`` was caused by Ctrl-C: a KeyboardInterrupt in its cause or context chain."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def _run(argv: Sequence[str] | None) -> int:
    given = sys.argv[1:] if argv is None else argv
    chosen = _chosen(given)
    if chosen & LOCAL_CLUSTER_COMMANDS and _starts_local_cluster(given):
        # Imported here: multiprocessing, which no other command pays for.
        from arb.sweep.worker_server import start_worker_server

        start_worker_server()
    parser = build_parser(chosen)
    try:
        args = parser.parse_args(argv)
    except Exception as exc:  # a ``type=`` converter raising what argparse does not catch: still bad input
        if _by_interrupt(exc):
            raise KeyboardInterrupt from exc
        if "--debug" in (sys.argv[1:] if argv is None else argv):
            traceback.print_exc()
        print(f"arb: error: invalid argument: {printable(describe(exc)[0])}", file=sys.stderr)
        return 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        # The reader went away (`arb report --format json | head`): not an error of arb's. Quiet, as `git log |
        # head` is, with the shell's status for it; stdout pointed at /dev/null so the interpreter's final
        # flush of the dead pipe says nothing either (the recipe of Python's signal module documentation).
        if argv is None:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13  # SIGPIPE
    except Exception as exc:
        if _by_interrupt(exc):  # Ctrl-C inside an import, re-raised as another error
            raise KeyboardInterrupt from exc
        if getattr(args, "debug", False):
            traceback.print_exc()
        message, status = describe(exc)
        print(f"arb: error: {printable(message)}", file=sys.stderr)
        return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
