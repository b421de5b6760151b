"""Headless Chromium for page tests: the distribution's browser and driver, via selenium.

Browsers that download their own builds (playwright, selenium-manager) cannot be
installed on our CI machines, so we drive Debian's ``chromium`` with its matching
``chromium-driver``; ``.ci/run`` and ``make test`` install both.

Also a small command to look at a page as a phone shows it::

    .venv/bin/python -m tests.support.browser http://127.0.0.1:8005/stats stats.png [--desktop]
"""

from __future__ import annotations

import base64
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
DRIVERS = ("chromedriver",)


@dataclass(frozen=True)
class Viewport:
    """A CSS viewport; ``mobile`` makes the browser honour the page's viewport meta tag."""

    width: int
    height: int
    scale: float = 1.0
    mobile: bool = False


PHONE = Viewport(390, 844, 3.0, mobile=True)  # a common phone, in CSS pixels
DESKTOP = Viewport(1280, 900)


def find_chromium() -> tuple[str, str] | None:
    """The browser and its driver on PATH (Debian: /usr/bin), or None when either lacks."""
    browser = next((found for name in BROWSERS if (found := shutil.which(name))), None)
    driver = next((found for name in DRIVERS if (found := shutil.which(name))), None)
    return (browser, driver) if browser and driver else None


def start_chromium(browser: str, driver: str) -> webdriver.Chrome:
    """A headless session; no sandbox because CI runs as root, which the sandbox refuses."""
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--hide-scrollbars",
        "--lang=vi-VN",
        "--window-size=1280,900",
    ):
        options.add_argument(argument)
    # An explicit driver path keeps selenium from looking for one to download.
    return webdriver.Chrome(options=options, service=Service(driver))


def show(session: webdriver.Chrome, url: str, viewport: Viewport) -> None:
    """Load ``url`` at ``viewport`` (emulated: headless windows have a minimum width)."""
    session.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {
            "width": viewport.width,
            "height": viewport.height,
            "deviceScaleFactor": viewport.scale,
            "mobile": viewport.mobile,
        },
    )
    session.get(url)


def screenshot(session: webdriver.Chrome, path: Path) -> Path:
    """The whole page, not only the first screen, as a PNG."""
    shot = session.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
    )
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: python -m tests.support.browser URL OUT.png [--desktop]", file=sys.stderr)
        return 2
    found = find_chromium()
    if found is None:
        print("chromium and chromedriver not found (apt-get install chromium chromium-driver)")
        return 1
    session = start_chromium(*found)
    try:
        show(session, argv[0], DESKTOP if "--desktop" in argv else PHONE)
        print(screenshot(session, Path(argv[1])))
    finally:
        session.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
