"""``arb db upgrade|downgrade|current|check``: manage the trade-history database schema.

The database is ``--db URL``, else ``$ARB_DB_URL``, else ``sqlite:///arb.db``. URLs are printed with the
password masked. Only ``upgrade`` creates an SQLite file that is not there; the others say it does not exist.
"""

from __future__ import annotations

import argparse
from typing import Any

from arb.errors import StoreError
from arb.store import migrate
from arb.store.db import display_url, require_existing
from arb.store.location import DB_URL_ENV, DEFAULT_DB_URL, resolve_url


def register(subparsers: Any) -> None:
    db = subparsers.add_parser(
        "db",
        description="Manage the trade-history database schema (Alembic migrations shipped with arb).",
    )
    commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)

    upgrade = commands.add_parser("upgrade", help="upgrade the schema (to the newest by default)")
    upgrade.add_argument("revision", nargs="?", default="head", metavar="REV", help="target (default: head)")
    _add_db_option(upgrade)
    upgrade.set_defaults(func=_upgrade)

    downgrade = commands.add_parser("downgrade", help="downgrade the schema to REV ('base' drops all tables)")
    downgrade.add_argument("revision", metavar="REV", help="target revision, '-1', or 'base'")
    _add_db_option(downgrade)
    downgrade.set_defaults(func=_downgrade)

    current = commands.add_parser("current", help="print the database's schema revision")
    _add_db_option(current)
    current.set_defaults(func=_current)

    check = commands.add_parser("check", help="exit 1 if the models and the database schema differ")
    _add_db_option(check)
    check.set_defaults(func=_check)


def _add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="URL",
        default=None,
        help=f"SQLAlchemy database URL (default: ${DB_URL_ENV}, else {DEFAULT_DB_URL})",
    )


def _upgrade(args: argparse.Namespace) -> int:
    url = resolve_url(args.db)
    before, after = migrate.upgrade(url, args.revision)
    print(_transition("upgraded", url, before, after))
    return 0


def _downgrade(args: argparse.Namespace) -> int:
    url = resolve_url(args.db)
    require_existing(url)
    before, after = migrate.downgrade(url, args.revision)
    print(_transition("downgraded", url, before, after))
    return 0


def _current(args: argparse.Namespace) -> int:
    url = resolve_url(args.db)
    require_existing(url)
    current = migrate.current_revision(url)
    if current is None and (tables := migrate.table_names(url)):
        shown = ", ".join(tables[:3]) + (", ..." if len(tables) > 3 else "")
        raise StoreError(f"{display_url(url)} is not an arb database: no schema revision, and tables arb "
                         f"did not make: {shown}")
    head = migrate.head_revision()
    state = "up to date" if current == head else f"behind: head is {head}; run 'arb db upgrade'"
    print(f"{display_url(url)}: revision {current or 'none (empty database)'} ({state})")
    return 0


def _check(args: argparse.Namespace) -> int:
    url = resolve_url(args.db)
    require_existing(url)
    diff = migrate.check(url)
    if diff:
        print(f"{display_url(url)}: schema differs from the models:")
        for item in diff:
            print(f"  {_describe(item)}")
        return 1
    print(f"{display_url(url)}: schema matches the models")
    return 0


def _describe(item: Any) -> str:
    """One short line per difference: the operation and the names involved, not whole table reprs."""
    if isinstance(item, list):  # a column modification comes as a list of per-attribute changes
        return "; ".join(_describe(sub) for sub in item)
    op, *args = item
    names = [getattr(arg, "name", None) or (arg if isinstance(arg, str) else None) for arg in args]
    return " ".join([op, *[n for n in names if n]])


def _transition(verb: str, url: str, before: str | None, after: str | None) -> str:
    if before == after:
        return f"{display_url(url)}: already at revision {after or 'base'}; nothing to do"
    return f"{display_url(url)}: {verb} from {before or 'base'} to {after or 'base'}"
