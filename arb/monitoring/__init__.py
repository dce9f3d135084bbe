"""Watching a run from outside the process: Prometheus metrics (``metrics.py``), alerts through apprise
(``alerts.py``), and the monitor that keeps both current on the run's loop (``monitor.py``). Off unless
``[monitoring]`` asks for them."""

from arb.monitoring.monitor import Monitor

__all__ = ["Monitor"]
