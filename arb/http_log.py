"""aiohttp's protocol-level logger for the servers arb runs on loopback (the dashboard and the sandbox), quiet about what is the client's mistake.

A request aiohttp's HTTP parser refuses (a raw byte in the request line, a 64 KB URL, a 100 KB header,
thousands of headers) is answered 400 by aiohttp before any handler runs, and then logged as an ERROR
with a traceback, as if the server had failed. Passed as ``logger=`` to :class:`aiohttp.web.AppRunner`,
:class:`ProtocolErrorLog` makes each such request one INFO line naming the status and what was wrong;
anything else is logged as aiohttp would.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError

from arb.display import printable


class ProtocolErrorLog(logging.LoggerAdapter[logging.Logger]):
    def __init__(self, logger: logging.Logger | None = None) -> None:
        super().__init__(logger or logging.getLogger("aiohttp.server"), {})

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        if isinstance(exc_info, HttpProcessingError) and 400 <= exc_info.code < 500:
            what = printable(" ".join(str(exc_info.message).split()))[:200]  # aiohttp's text spans lines
            self.info("%s: HTTP %s %s", str(msg) % args, exc_info.code, what)
        else:
            super().exception(msg, *args, exc_info=exc_info, **kwargs)
