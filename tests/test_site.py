"""The documentation site builds with `mkdocs build --strict` (a warning fails it: a broken link, a link to
a heading that does not exist, a page left out of the nav), every page of the nav is built, and README
stays a front door of at most 250 lines whose links all lead somewhere.

Without MkDocs and its Material theme (the test extra brings them) the build tests skip and say so; in
CI (the environment variable CI set) they fail instead, so that the site's check cannot silently stop.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
README_MOST_LINES = 250
# Files a README link may name before they exist in a checkout: made by a command, not written by hand
# (the screenshot of the worked example's page, which the browser tests save and regenerate).
GENERATED = {"docs/img/note-page.png"}
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def needs_mkdocs() -> None:
    absent = [name for name in ("mkdocs", "material") if importlib.util.find_spec(name) is None]
    if absent:
        message = f"{' and '.join(absent)} not installed (python3 -m pip install '.[test]')"
        if os.environ.get("CI"):
            pytest.fail(f"CI must build the documentation site: {message}")
        pytest.skip(message)


def build(config: Path, site: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config),
                           "--site-dir", str(site)], cwd=config.parent, capture_output=True, text=True,
                          timeout=120, env=env)


def nav_pages(nav: list) -> list[str]:
    """The page files of a nav, sections flattened."""
    pages = []
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        pages += nav_pages(value) if isinstance(value, list) else [value]
    return pages


def test_the_site_builds_strictly_with_every_page_of_the_nav(tmp_path):
    needs_mkdocs()
    import yaml  # MkDocs depends on PyYAML

    site = tmp_path / "site"
    proc = build(ROOT / "mkdocs.yml", site)
    assert proc.returncode == 0, proc.stderr
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    pages = [page for page in nav_pages(config["nav"]) if page.endswith(".md")]  # not a notebook or a link
    assert "index.md" in pages and "worked-example.md" in pages
    built = [page for page in pages if (site / Path(page).with_suffix(".html")).is_file()]
    assert built == pages
    assert not (ROOT / "site").exists() or "site/" in (ROOT / ".gitignore").read_text()


def test_a_link_to_a_missing_heading_fails_the_build(tmp_path):
    """A control: the project's own settings (theme, extensions, validation) refuse a broken anchor."""
    needs_mkdocs()
    import yaml

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Home\n\n[the options](other.md#options)\n")
    (docs / "other.md").write_text("# Other\n\n## Output\n")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    config.update(nav=["index.md", "other.md"], docs_dir="docs")
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config))
    proc = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert proc.returncode != 0 and "#options" in proc.stderr, proc.stderr


def test_readme_is_a_front_door():
    text = README.read_text()
    assert len(text.splitlines()) <= README_MOST_LINES
    # the quick start that .ci/run mirrors, word for word
    assert "python3 -m pip install . && gradcli train samples/data.csv\n" in text
    assert 'python3 -m pip install ".[test]" && python3 -m pytest\n' in text


def test_readmes_links_lead_somewhere():
    """Relative links resolve from the checkout's root (so they work on GitHub); a generated file may be
    missing until its command has run."""
    targets = [target for target in LINK.findall(README.read_text()) if not re.match(r"[a-z]+:", target)]
    assert targets
    missing = [target for target in targets
               if not (ROOT / target.split("#")[0]).exists() and target.split("#")[0] not in GENERATED]
    assert not missing
    linked = {target.split("#")[0] for target in targets}
    assert not {f"docs/{page}" for page in FRONT_DOOR_PAGES} - linked


# What README's table of pages leads to (a page added later joins the nav, and here where README lists it).
FRONT_DOOR_PAGES = ["index.md", "getting-started.md", "worked-example.md", "grad.md", "models.md", "explain.md",
                    "graph.md", "check.md", "diff-hessian.md", "train.md", "layers.md", "data-at-scale.md", "api.md",
                    "performance.md", "architecture.md"]
