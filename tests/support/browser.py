"""Headless Chromium driven by selenium through the system's chromedriver (Debian's
``chromium`` and ``chromium-driver``, which ``.ci/run`` installs)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

CHROMEDRIVER_PATHS = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")
CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,1000")


def missing() -> str | None:
    """Why no browser test can run here (None: it can)."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (it is in the test extra)"
    if _first(CHROMEDRIVER_PATHS, "chromedriver") is None:
        return "chromedriver is missing: apt-get install chromium-driver (.ci/run does)"
    if _first(CHROMIUM_PATHS, "chromium") is None:
        return "chromium is missing: apt-get install chromium (.ci/run does)"
    return None


def _first(paths: tuple[str, ...], name: str) -> str | None:
    for p in paths:
        if Path(p).exists():
            return p
    return shutil.which(name)


def chromium(profile: Path) -> Any:
    """A headless Chromium with a fresh profile in ``profile``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    binary = _first(CHROMIUM_PATHS, "chromium")
    if binary:
        options.binary_location = binary
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    service = Service(executable_path=_first(CHROMEDRIVER_PATHS, "chromedriver"))
    return webdriver.Chrome(service=service, options=options)
