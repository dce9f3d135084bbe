"""Logging set-up: plain text or JSON lines, each record tagged with the run id once it is known."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any


class _RunId(logging.Filter):
    run_id: int | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        record.run_id = self.run_id
        return True


class _TextFormatter(logging.Formatter):
    """Tags a record with ``[run N]`` once the run exists; before that (start-up) there is nothing to tag."""

    def format(self, record: logging.LogRecord) -> str:
        run_id = getattr(record, "run_id", None)
        record.run_tag = f" [run {run_id}]" if run_id is not None else ""
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``fields``, which a subclass may add to."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(self.fields(record))

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        data = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "run_id": getattr(record, "run_id", None),
            "msg": record.getMessage(),
        }
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return data


RUN_ID = _RunId()


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RUN_ID)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(_TextFormatter("%(asctime)s %(levelname)s %(name)s%(run_tag)s %(message)s"))
    handler._arb = True  # type: ignore[attr-defined]  # marks arb's own handler, to replace it on a later setup
    root = logging.getLogger()
    # Replace only a handler we installed before (a second run in one process); leave anyone else's
    # (pytest's capture, an embedding application's) alone.
    root.handlers[:] = [h for h in root.handlers if not getattr(h, "_arb", False)] + [handler]
    root.setLevel(level)
    # ccxt logs request headers (API key, signature) at DEBUG: our handler drops ccxt's records below
    # WARNING whatever the level. A filter on our handler, not a level on ccxt's logger, so nothing global
    # changes for other handlers in the same process.
    handler.addFilter(_quiet_ccxt)
    handler.addFilter(not_the_interrupt)


def not_the_interrupt(record: logging.LogRecord) -> bool:
    """A record carrying Ctrl-C's KeyboardInterrupt is not for arb's handlers (this module's, and Python's last
    resort in a command that sets up none: ``arb.cli``): the logger re-raises it (SQLAlchemy's pool logs
    "Exception closing connection" with its traceback, then raises it on), and ``arb.cli`` answers it with
    "arb: interrupted" and 130, where a traceback must not appear. Nothing is lost: the interrupt itself
    goes on to the top."""
    return not (record.exc_info and isinstance(record.exc_info[1], KeyboardInterrupt))


def _quiet_ccxt(record: logging.LogRecord) -> bool:
    """ccxt's records below WARNING (secrets), and Alembic's step-by-step INFO lines (the engine logs one line
    saying what the upgrade did), are not for our handler."""
    return not (record.name.startswith(("ccxt", "alembic")) and record.levelno < logging.WARNING)
