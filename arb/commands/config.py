"""``arb config check [PATH]``: validate a config file and print it as arb will use it, secrets masked,
each value set from the environment (``ARB__SECTION__KEY``) marked with its variable. It refuses what
``arb run`` would refuse at its start, with the same line: the config (``arb/config.py``) and what the run
needs from this machine (``arb/runtime/preflight.py``: its ports free)."""

from __future__ import annotations

import argparse
import sys

from arb.commands import Subcommands
from arb.config import DEFAULT_CONFIG, Config, load_config
from arb.config.render import render_toml
from arb.display import printable


def register(sub: Subcommands) -> None:
    parser = sub.add_parser("config", description="Inspect configuration.")
    config_sub = parser.add_subparsers(dest="config_command", metavar="SUBCOMMAND", required=True)
    check = config_sub.add_parser(
        "check",
        help="validate a config file and print the effective config (secrets masked)",
        description="Validate PATH (default: ./config.toml) and print the effective config. "
        "Exit status 2 with one line naming the file and key when it is invalid.",
    )
    check.add_argument("path", nargs="?", default=str(DEFAULT_CONFIG), help="config file (default: %(default)s)")
    check.add_argument("--online", action="store_true",
                       help="also ask each live venue (and a sandbox venue at [sandbox] url) with the environment's "
                       "keys: the keys, their permissions, the clock, the markets and balances against the config; "
                       "one line per finding, exit 1 on any error")
    check.set_defaults(func=run_check)


def run_check(args: argparse.Namespace) -> int:
    from arb.runtime.preflight import preflight

    config = load_config(args.path)
    preflight(config)  # what `arb run` checks on this machine before it writes anything: the same line
    sys.stdout.write(f"# {printable(str(config.path))}: valid\n")  # a path may hold a newline
    if config.overrides:
        # The value printed is the effective one, masked like every other (a database password is ***).
        sys.stdout.write(f"# set from the environment: {', '.join(sorted(config.overrides.values()))}\n")
    notes = {key: f"from ${variable}" for key, variable in config.overrides.items()}
    # Where the run will look for the kill-switch file: a relative name is in the config's directory, not the
    # working directory, and the one to create is the one printed here.
    watched = f"watched at {config.kill_switch_path()}"
    notes["risk.kill_switch_file"] = "; ".join(filter(None, (notes.get("risk.kill_switch_file"), watched)))
    for venue in config.venues:  # a relative profile is the config's directory's, as the kill switch is
        path = config.latency_profile_path(venue)
        if path is not None:
            key = f"venues.{venue}.latency_profile"
            notes[key] = "; ".join(filter(None, (notes.get(key), f"read from {path.resolve()}")))
    effective = config.snapshot()
    for venue, section in effective["venues"].items():
        # Credentials are never a config key (they come from the environment): said as a comment on the
        # venue's table, so the output is a config `arb config check` accepts again.
        said = f"credentials: {section.pop('credentials')}"
        notes[f"venues.{venue}"] = "; ".join(filter(None, (notes.get(f"venues.{venue}"), said)))
    sys.stdout.write(render_toml(effective, notes))
    return online(config) if args.online else 0


def online(config: Config) -> int:
    """The venues' findings, one ``# online: level: key: text`` line each (comments: the output stays a config
    ``arb config check`` accepts); 1 when any is an error."""
    import asyncio

    from arb.runtime.online import check_online, checked_venues, failed

    if not checked_venues(config):
        sys.stdout.write("# online: no live venue to check\n")
        return 0
    found = asyncio.run(check_online(config))
    for finding in found:
        sys.stdout.write(f"# online: {printable(finding.line())}\n")
    return 1 if failed(found) else 0
