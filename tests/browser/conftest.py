"""A real browser for the tests of the HTML page: Debian's Chromium driven by Selenium, headless.

One Chromium per test session (per xdist worker), with a fresh profile in a temporary folder. In the whole
suite one worker runs them all: tests/browser is collected first, and xdist's load scheduling gives each
worker a first run of consecutive tests far longer than this module. (`--dist loadgroup` with an
xdist_group mark would say so outright, but with pytest 9.2 it groups nothing: pytest-xdist issue 1386.)
Selenium is given Debian's chromedriver explicitly, so Selenium Manager never tries to download one
(there is no network here, nor in CI).

Without Chromium, chromedriver or Selenium the tests skip and say what is missing, except where the
environment variable CI is set (as CI services set it): there they fail, so that CI can never pass
without having run them. .ci/run installs Debian's `chromium` and `chromium-driver`.

Every test that uses the browser ends with a check that the page wrote no error (SEVERE) to the
console: an exception in the page's script is one.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_runner import run_program

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# The window the pages are looked at in; the screenshots of docs/ use the same size.
WINDOW = (1280, 800)
# Headless, no sandbox (CI runs as root in a container), and nothing that reaches the network.
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing_browser() -> str | None:
    """What the browser tests lack to run here, in words; None when nothing is missing."""
    missing = [f"{path} (Debian package {package})" for path, package in
               ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")) if not path.exists()]
    if importlib.util.find_spec("selenium") is None:
        missing.append("selenium (pip install '.[test]')")
    return None if not missing else "no browser to test the page in: missing " + ", ".join(missing)


def need_browser() -> None:
    """Skip when there is no browser here, or fail in CI, which must run these tests."""
    reason = missing_browser()
    if reason is not None:
        if in_ci():
            pytest.fail(f"{reason}; CI (CI={os.environ['CI']}) must run the browser tests", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def driver(tmp_path_factory) -> Iterator:
    """Headless Chromium at 1280x800 whose console messages (every level) can be read with get_log."""
    need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={WINDOW[0]},{WINDOW[1]}")
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield browser
    finally:
        browser.quit()


def console_errors(browser) -> list[str]:
    """The SEVERE console messages since the last call (reading the log empties it)."""
    return [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


@pytest.fixture
def browser(driver) -> Iterator:
    """The shared driver, checked afterwards for console errors: none may come from the test's page."""
    console_errors(driver)  # what an earlier test left
    yield driver
    errors = console_errors(driver)
    assert not errors, f"the page wrote errors to the console: {errors}"


# The pages the tests look at: the gradcli arguments of the page and of the JSON graph it must draw.
NOTE = ("b+w1*x1+w2*x2", "--data", "x1=1.5,x2=2,y=1", "--params", "b=0.5,w1=2,w2=-1")
STEPS = ("w*x1 + w**2", "--data", "x1=2,y=1", "--params", "w=0.7")
LAYER = ("W2 @ tanh(W1 @ x + b1) + b2", "--shape", "W1=3x2", "--data", "samples/moons.csv", "--row", "1")
# 12 terms, 83 characters (a title with no space to break at) and a kink (a warning): review 27's #7 and #8
LONG = ("relu(b)+" + "+".join(f"w{i}*x{i}" for i in range(1, 13)), "--data", "x1=1,y=1", "--params", "b=0")
PAGES = {
    "long": (("graph", *LONG), ("graph", *LONG)),
    "note": (("graph", *NOTE), ("graph", *NOTE)),
    "steps": (("explain", *STEPS), ("graph", *STEPS)),
    "layer": (("graph", *LAYER), ("graph", *LAYER)),
}


class Pages:
    """Each page written once per session by the program (`--format html`), as a file:// URL, beside the
    JSON (`graph ... --format json`) of the graph it draws."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.urls: dict[str, str] = {}
        self.graphs: dict[tuple[str, ...], dict] = {}

    def run(self, *args: str) -> str:
        result = run_program(list(args), self.folder)
        assert result.code == 0 and "Traceback" not in result.err, result
        return result.out

    def url(self, name: str) -> str:
        if name not in self.urls:
            path = self.folder / f"{name}.html"
            path.write_text(self.run(*PAGES[name][0], "--format", "html"), encoding="utf-8")
            self.urls[name] = path.as_uri()
        return self.urls[name]

    def graph(self, name: str, *more: str) -> dict:
        if (name, *more) not in self.graphs:
            self.graphs[(name, *more)] = json.loads(self.run(*PAGES[name][1], *more, "--format", "json"))
        return self.graphs[(name, *more)]


@pytest.fixture(scope="session")
def pages(tmp_path_factory) -> Pages:
    folder = tmp_path_factory.mktemp("pages")
    shutil.copytree(Path(__file__).resolve().parents[2] / "samples", folder / "samples")
    return Pages(folder)
