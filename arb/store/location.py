"""Which database a command uses: ``--db``, else ``$ARB_DB_URL``, else ``sqlite:///arb.db`` in the working
directory. Names only (no SQLAlchemy), so every command's arguments can say them without loading it."""

from __future__ import annotations

import os

DEFAULT_DB_URL = "sqlite:///arb.db"
DB_URL_ENV = "ARB_DB_URL"


def resolve_url(explicit: str | None = None) -> str:
    """The database URL to use: an explicit one (``--db``), else ``$ARB_DB_URL``, else ``arb.db``."""
    return explicit or os.environ.get(DB_URL_ENV) or DEFAULT_DB_URL
