"""What a run needs from this machine beyond a valid config, checked before anything is written.

``arb/config.py`` holds what a config file can be checked for by itself (types, ranges, two settings that
contradict each other). What depends on the machine at the moment of starting sits here, one level up:
``arb config check`` calls :func:`preflight` after loading the config, and the engine calls it before it
takes the database's lease, so a run that cannot start stops before its row (or its database) exists, with
the same line ``check`` gives.

Today that is the ports a run listens on: the metrics endpoint, the dashboard and the in-process sandbox,
each on 127.0.0.1. A port another process holds failed only once the run's row was written (the run then
ended ``failed`` and the error was printed two or three times).
"""

from __future__ import annotations

import socket

from arb.config import Config
from arb.errors import ConfigError

HOST = "127.0.0.1"  # where the metrics endpoint, the dashboard and the in-process sandbox listen


def preflight(config: Config) -> None:
    """:class:`~arb.errors.ConfigError` naming the key of the first thing this machine cannot give the run."""
    for key, port in config.listening_ports():
        problem = port_problem(port)
        if problem is not None:  # named as load_config names it: the variable that set it, else the file
            where = f"${config.overrides[key]}" if key in config.overrides else str(config.path)
            raise ConfigError(where, key, f"cannot listen on {HOST}:{port}: {problem}")


def port_problem(port: int) -> str | None:
    """Why ``HOST:port`` cannot be listened on now (``Address already in use``), or None. Bound the way the
    servers bind (``SO_REUSEADDR``: a port whose last connections linger in TIME_WAIT is free), then let go."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None
