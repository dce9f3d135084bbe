"""Spread detection: pure functions from venue books to an ``Opportunity`` or a ``Rejection``.

No I/O, no clock, no logging: book ages, balances and fees come in as arguments. ``detect``/``detect_many``
are the numpy core; the plain-Python oracle with the same contract, which the tests and
``bench/bench_detection.py`` compare them with, is ``tests/detection/detection_reference.py``.
"""

from arb.detection.core import detect, detect_many
from arb.detection.types import (
    Decision,
    DetectionParams,
    FeeMode,
    Opportunity,
    Reason,
    Rejection,
    VenueBook,
)

__all__ = [
    "Decision",
    "DetectionParams",
    "FeeMode",
    "Opportunity",
    "Reason",
    "Rejection",
    "VenueBook",
    "detect",
    "detect_many",
]
