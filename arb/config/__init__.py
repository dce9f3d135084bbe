"""arb's configuration: a frozen, validated ``Config`` from ``config.toml`` and the environment.

``schema`` (the sections and their values' types and ranges), ``load`` (file, overrides, the checks a file can
be given by itself), ``overrides`` (``ARB__SECTION__KEY``), ``secrets`` (credentials from the environment;
the one URL masker), ``captures`` (where a capture is), ``messages`` (a failure as one line), ``model``
(``Config``), ``render`` (the config back as TOML). It imports nothing of arb above ``arb.domain`` and
``arb.errors``; what a config needs from the machine and from the runtime (venue adapters, the database
driver, capture files, free ports) is checked by ``arb/runtime/preflight.py``.

The names most modules need are here; the rest from their module.
"""

from arb.config.load import DEFAULT_CONFIG, load_config
from arb.config.model import Config
from arb.config.schema import MarketSection, ReplaySection

__all__ = ["DEFAULT_CONFIG", "Config", "MarketSection", "ReplaySection", "load_config"]
