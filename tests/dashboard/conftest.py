"""A real headless browser for the dashboard tests: Debian's ``chromium`` (``/usr/bin/chromium``, which
``.ci/run`` installs), driven by Playwright's async API; Playwright never downloads a browser of its own.

Without chromium or Playwright the browser tests skip locally but FAIL under CI (``$CI`` set), as the
PostgreSQL tests do: CI must prove the dashboard was drawn by a real browser.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# A browser that talks to nothing but the test's loopback server.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def _unavailable(why: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{why}: CI must run the dashboard's browser tests", pytrace=False)
    pytest.skip(why)


@pytest.fixture
async def page(tmp_path: Path) -> AsyncIterator[Any]:
    """A page of a fresh chromium profile (``--user-data-dir`` in ``tmp_path``); page errors fail the test."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[test]')")
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} not found (apt-get install chromium)")
    errors: list[str] = []
    async with async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1440, "height": 1000})
        try:
            page = context.pages[0] if context.pages else await context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            yield page
        finally:
            await context.close()
    assert errors == [], f"the page reported errors: {errors}"
