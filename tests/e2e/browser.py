"""A real browser for the token page: Debian's Chromium, headless, driven by Selenium.

Selenium is pointed at ``/usr/bin/chromium`` and ``/usr/bin/chromedriver`` (Debian's
``chromium`` and ``chromium-driver`` packages; ``.ci/run`` installs them), so nothing is
downloaded. Each browser gets a fresh profile directory, no background traffic (no
updates, sync, QUIC), and a window large enough for readable screenshots, which are
saved under ``tests/artifacts/<name>/`` (git-ignored) and printed, to be looked at.
Without the Debian packages the tests skip with the reason, except when
``PYPITOKEN_REQUIRE_BROWSER=1`` (``.ci/run`` sets it), where that is a failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
REQUIRE_ENV = "PYPITOKEN_REQUIRE_BROWSER"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--window-size=1200,900",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-gpu",
)


def require_browser() -> None:
    """Skip (or, in CI, fail) when Debian's chromium or chromedriver is missing."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if not missing:
        return
    reason = f"{', '.join(missing)} missing: apt-get install chromium chromium-driver"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1: the browser is required)", pytrace=False)
    pytest.skip(f"{reason}; set {REQUIRE_ENV}=1 to make this a failure")


class Browser:
    """One Chromium with its own profile; ``shot(name)`` saves a numbered screenshot."""

    def __init__(self, driver: Any, shots: Path) -> None:
        self.driver = driver
        self.shots = shots
        self._count = 0

    def get(self, url: str) -> None:
        self.driver.get(url)

    def find(self, css: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def fill(self, css: str, text: str) -> None:
        element = self.find(css)
        element.clear()
        element.send_keys(text)

    def click(self, css: str) -> None:
        """Click, staying on the page (a checkbox, a radio button, a copy button)."""
        self.find(css).click()

    def go(self, css: str) -> None:
        """Click a link or a submit button and wait until the next page has loaded."""
        self.follow(self.find(css))

    def follow(self, element: Any) -> None:
        """Click ``element`` and wait until the next page has loaded.

        The old page is marked in its ``window``; the next page has a new one. (Waiting
        for an element of the old page to go stale races with Chromium dropping it.)
        """
        from selenium.common.exceptions import JavascriptException
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver.execute_script("window.__pypitokenOldPage = true;")
        element.click()

        def loaded(driver: Any) -> bool:
            try:
                return bool(
                    driver.execute_script(
                        "return !window.__pypitokenOldPage && document.readyState === 'complete';"
                    )
                )
            except JavascriptException:  # between two documents
                return False

        WebDriverWait(self.driver, 30).until(loaded)

    @property
    def url(self) -> str:
        return str(self.driver.current_url)

    @property
    def text(self) -> str:
        return str(self.find("body").text)

    def cookies(self) -> dict[str, dict[str, Any]]:
        return {c["name"]: c for c in self.driver.get_cookies()}

    def shot(self, name: str) -> Path:
        """Save a screenshot of the page as it is now; print where."""
        self._count += 1
        path = self.shots / f"{self._count:02d}-{name}.png"
        self.driver.save_screenshot(str(path))
        print(f"screenshot: {path}")
        return path


@contextlib.contextmanager
def browser(name: str) -> Iterator[Browser]:
    """A fresh headless Chromium; its screenshots go to ``tests/artifacts/<name>/``."""
    require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    shots = ARTIFACTS / name
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    profile = tempfile.mkdtemp(prefix="pypitoken-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        driver.set_page_load_timeout(60)
        yield Browser(driver, shots)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
