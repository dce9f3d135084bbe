"""arb's configuration: a frozen, validated ``Config`` from ``config.toml`` and the environment.

``schema`` (the sections and their values' types and ranges), ``load`` (file, overrides, the checks a file can
be given by itself), ``overrides`` (``ARB__SECTION__KEY``), ``secrets`` (credentials from the environment;
the one URL masker), ``files`` (where the config and its capture are), ``messages`` (a failure as one line),
``model`` (``Config``), ``render`` (the config back as TOML). It imports nothing of arb above ``arb.domain``
and ``arb.errors``; what a config needs from the machine and from the runtime (venue adapters, the database
driver, capture files, free ports) is checked by ``arb/runtime/preflight.py``.

``from arb.config import load_config, Config`` is the API notebooks and most modules use. Those names are
loaded on first use (PEP 562), not when the package is: ``arb.config.files`` is imported by every command's
arguments, and ``arb --help`` should not build the pydantic schema to print a usage line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from arb.lazy import lazy_exports

if TYPE_CHECKING:
    from arb.config.files import DEFAULT_CONFIG
    from arb.config.load import load_config
    from arb.config.model import Config
    from arb.config.schema import MarketSection, ReplaySection

_HOME = {"DEFAULT_CONFIG": "arb.config.files", "load_config": "arb.config.load", "Config": "arb.config.model",
         "MarketSection": "arb.config.schema", "ReplaySection": "arb.config.schema"}

__all__ = ["DEFAULT_CONFIG", "Config", "MarketSection", "ReplaySection", "load_config"]


__getattr__ = lazy_exports(__name__, _HOME)
