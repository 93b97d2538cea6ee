"""Debian's Chromium driven by Playwright, for every browser test (a pytest plugin).

Playwright never downloads a browser here: ``executable_path`` points at the
chromium that scripts/install-tools.sh installs. Screenshots go to docs/screenshots/.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = ["CHROMIUM", "LAUNCH_ARGS", "SCREENSHOTS", "WAIT_MS", "browser"]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
# a page that takes longer than this on loopback is a failure, not a slow machine
WAIT_MS = 15_000
# root in a container: no user namespace for the sandbox, a small /dev/shm, no GPU
LAUNCH_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]


@pytest.fixture
def browser() -> Iterator[Any]:
    """A headless Debian Chromium, closed after the test."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is missing: run scripts/install-tools.sh")
    with playwright_api.sync_playwright() as play:
        launched = play.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()
