"""A real headless Chromium for tests, driven through Selenium with Debian's ``chromium`` and
``chromium-driver`` (same version by construction; nothing is downloaded). :func:`chromium`
skips the test where they are missing, except under CI (``CI=true``), where it fails: ``.ci/run``
installs them, so a skipped browser test there would hide a broken install step."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile

import pytest

#: Chromium as root in a sandbox with no network: no sandbox, no GPU, and none of the
#: background fetches that would flood refused connections.
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1400,1500",
)  # fmt: skip


def _missing(what: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} is missing under CI: .ci/run must install it")
    pytest.skip(f"{what} is not installed (apt-get install chromium chromium-driver)")


def chromium():
    """A Selenium Chrome driver on Debian's chromium (quit it when done)."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium (pip install 'segr1[serve]')")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        _missing("chromium / chromedriver")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-')}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver), options=options)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
