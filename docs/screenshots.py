"""Screenshots of the worked example's page (`gradcli graph ... --format html`) at 1280x800, for README and
the docs: run `python docs/screenshots.py` from anywhere; it writes docs/img/*.png, each replaced whole.

- note-page.png: the page as it opens, before any step;
- note-forward.png: after the forward pass (every value, no adjoint yet);
- note-w1.png: after the backward sweep, w1 clicked (its path to the loss marked).

The page is made by this checkout's gradcli (`python -m gradcli`) and drawn by Debian's headless Chromium
through its chromedriver, as tests/browser does (the same flags; nothing reaches the network). CI runs it
after the tests, so the pictures are its artefacts. The tests never import this file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "img"
NOTE = ["graph", "b+w1*x1+w2*x2", "--data", "x1=1.5,x2=2,y=1", "--params", "b=0.5,w1=2,w2=-1", "--format", "html"]
SIZE = (1280, 800)
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage")
# Every node of the drawing shows its value (the forward pass is done), or its adjoint where it has one.
ALL_SHOWN = """return Array.from(document.querySelectorAll('#graph g.node')).every(g => g.hasAttribute('data-shown')
    && (g.getAttribute('data-shown') === arguments[0] || !g.querySelector('text.adjoint')
        || !g.querySelector('text.adjoint').textContent.trim()));"""


def write_page(folder: Path) -> Path:
    made = subprocess.run([sys.executable, "-m", "gradcli", *NOTE], capture_output=True, text=True, cwd=ROOT)
    if made.returncode != 0:
        raise SystemExit(f"screenshots: gradcli could not make the page: {made.stderr.strip()}")
    page = folder / "note.html"
    page.write_text(made.stdout, encoding="utf-8")
    return page


def start_browser(profile: Path):
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        raise SystemExit(f"screenshots: no {' or '.join(missing)}: install Debian's chromium and chromium-driver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        raise SystemExit("screenshots: selenium is not installed: pip install '.[test]'") from None
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    browser = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    # the viewport itself 1280x800 (a window of that size has less room inside it)
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": SIZE[0], "height": SIZE[1], "deviceScaleFactor": 1, "mobile": False})
    return browser


def step_until(browser, shown: str) -> None:
    """Press → until every node shows its value (or its adjoint): at most one step per node and phase."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    for _ in range(2 * len(browser.find_elements("css selector", "#graph g.node")) + 1):
        if browser.execute_script(ALL_SHOWN, shown):
            return
        ActionChains(browser, duration=0).send_keys(Keys.ARROW_RIGHT).perform()
    raise SystemExit(f"screenshots: stepping never showed every {shown}")


def save(png: bytes, name: str) -> None:
    """Written beside its place, then renamed over it: a reader never sees half a picture."""
    IMAGES.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=IMAGES, prefix=f".{name}.", suffix=".tmp", delete=False) as part:
        try:
            part.write(png)
            part.flush()
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(part.name, 0o666 & ~umask)  # as any file written here, not the temporary file's 0600
        except BaseException:
            os.unlink(part.name)
            raise
    os.replace(part.name, IMAGES / name)
    print(f"wrote {(IMAGES / name).relative_to(ROOT)}")


def take(browser, url: str) -> None:
    browser.get(url)
    graph = browser.find_element("css selector", "#graph")
    browser.execute_script("window.scrollTo(0, 0)")
    save(browser.get_screenshot_as_png(), "note-page.png")
    step_until(browser, "value")
    save(browser.get_screenshot_as_png(), "note-forward.png")
    step_until(browser, "adjoint")
    browser.find_element("css selector", '#graph g.node[data-name="w1"]').click()
    browser.execute_script("document.activeElement.blur()")  # the picture without the focus ring
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'})", graph)
    save(browser.get_screenshot_as_png(), "note-w1.png")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="gradcli-screenshots-") as folder:
        page = write_page(Path(folder))
        browser = start_browser(Path(folder) / "profile")
        try:
            take(browser, page.as_uri())
        finally:
            browser.quit()


if __name__ == "__main__":
    main()
