"""One TLS context per process for the ccxt exchanges arb opens.

ccxt builds an exchange's TLS context on its first request: ``ssl.create_default_context(cafile=...)`` with
certifi's CA bundle, which reads and parses the bundle (~30 ms here). Every exchange object builds its
own, so every run paid it for each venue and the sandbox (~12% of a two-minute replay), and a test suite
of runs paid it thousands of times. A context is only configuration once built, shared safely by any
number of connections: :func:`share_tls` hands an exchange the process's one for its CA file, exactly
as ccxt would have built it, before ccxt looks.
"""

from __future__ import annotations

import ssl
from functools import cache
from typing import Any


def share_tls(exchange: Any) -> None:
    """Give ``exchange`` (a ccxt async exchange, not opened yet) the process's verifying context for its CA
    file. Left to ccxt where it would build something else: verification off, the OS's CAs added, or a
    context already given."""
    if (exchange.ssl_context is None and exchange.verify is True
            and not exchange.safe_bool(exchange.options, "include_OS_certificates", False)):
        exchange.ssl_context = _verifying(exchange.cafile)


@cache
def _verifying(cafile: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=cafile)
