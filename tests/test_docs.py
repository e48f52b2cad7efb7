"""The pages in docs/ run as written: every `$ command` in a console block is run from the project's
root, as a user would paste it into a shell, and must print exactly the output shown under it
(trailing spaces aside) and exit 0; every `>>>` example in a python block of docs/ and README.md
is run with doctest.
"""

from __future__ import annotations

import doctest
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from cli_runner import clean_env, gradcli_program, run_program

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "docs").glob("*.md"))
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


@dataclass
class Example:
    page: str
    line: int
    command: str
    expected: str


def console_examples(page: Path) -> list[Example]:
    """Each `$ command` of the page's console blocks, with the lines printed under it."""
    text = page.read_text()
    found = []
    for fence in FENCE.finditer(text):
        if fence.group(1) != "console":
            continue
        first_line = text.count("\n", 0, fence.start(2)) + 1
        for offset, chunk in _chunks(fence.group(2)):
            command, _, output = chunk.partition("\n")
            found.append(Example(page.name, first_line + offset, command, output))
    return found


def _chunks(block: str) -> list[tuple[int, str]]:
    """(line offset, '$ command' line and the output lines under it) for each command of a block."""
    lines = block.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("$ ")]
    assert starts and starts[0] == 0, f"a console block must start with a '$ ' command: {block[:60]!r}"
    ends = starts[1:] + [len(lines)]
    return [(a, "\n".join([lines[a][2:], *lines[a + 1:b]])) for a, b in zip(starts, ends)]


EXAMPLES = [example for page in PAGES for example in console_examples(page)]
def plain_words(command: str) -> list[str] | None:
    """The words of a command line with nothing in it that only a shell reads (pipes, redirections,
    variables, globs, ...) outside its quotes; None for any other."""
    quote = ""
    for ch in command:
        if quote == "'":
            quote = "" if ch == "'" else quote
        elif quote == '"':
            if ch in "$`\\":
                return None
            quote = "" if ch == '"' else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "|<>;&$`*?~(){}[]#!\\":
            return None
    return shlex.split(command)


def run_command(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """A command line as a user types it: through bash, or, for a plain `gradcli ...`, the program run
    directly with the words bash would give it (cli_runner.run_program: no shell and interpreter to start)."""
    words = plain_words(command)
    if words and words[0] == "gradcli":
        result = run_program(words[1:], cwd, timeout=120)
        return subprocess.CompletedProcess(words, result.code, result.out.encode(), result.err.encode())
    return subprocess.run(["bash", "-c", f"set -o pipefail; {command}"], cwd=cwd, capture_output=True,
                          timeout=120, env=env)


def test_the_worked_example_page_is_there_and_has_commands():
    pages = {example.page for example in EXAMPLES}
    assert "worked-example.md" in pages
    assert sum(example.page == "worked-example.md" for example in EXAMPLES) >= 6


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: f"{e.page}:{e.line}")
def test_console_example_prints_what_the_page_shows(example):
    program = Path(gradcli_program())
    env = clean_env(PATH=f"{program.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = run_command(example.command, ROOT, env)
    assert proc.returncode == 0, proc.stderr.decode()
    printed = [line.rstrip() for line in proc.stdout.decode().splitlines()]
    assert printed == [line.rstrip() for line in example.expected.splitlines()], proc.stderr.decode()


@pytest.mark.parametrize("page", [*PAGES, ROOT / "README.md"], ids=lambda p: p.name)
def test_python_examples_run(page, monkeypatch):
    monkeypatch.chdir(ROOT)  # the examples name files under samples/
    blocks = [fence.group(2) for fence in FENCE.finditer(page.read_text()) if fence.group(1) == "python"]
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for number, block in enumerate(blocks):
        runner.run(parser.get_doctest(block, {}, f"{page.name} block {number + 1}", str(page), 0))
    results = runner.summarize(verbose=False)
    assert results.attempted and results.failed == 0


def test_the_checker_sees_a_wrong_output(tmp_path):
    """A control: an example whose printed output differs from the page is found out."""
    page = tmp_path / "page.md"
    page.write_text("text\n\n```console\n$ echo one\none\n$ echo two\nthree\n```\n")
    examples = console_examples(page)
    assert [(e.command, e.expected, e.line) for e in examples] == [("echo one", "one", 4), ("echo two", "three", 6)]
    assert shutil.which("bash")


def readme_commands() -> list[tuple[int, list[str]]]:
    """(line, commands) for each block of README.md that shows commands to type, in order; the quick
    start's install commands are what CI runs, so they are left to it."""
    text = (ROOT / "README.md").read_text()
    blocks = []
    for fence in FENCE.finditer(text):
        if fence.group(1) not in ("", "console"):
            continue
        commands = [line.strip().removeprefix("$ ") for line in fence.group(2).splitlines()
                    if re.match(r"(\$ )?(gradcli |cat \S+ \| gradcli )", line.strip())]
        if commands and "pip install" not in fence.group(2):
            blocks.append((text.count("\n", 0, fence.start()) + 1, commands))
    return blocks


def without_repeats(blocks: list[tuple[int, list[str]]]) -> list[tuple[int, list[str]]]:
    """Each block's commands, less those at its end that an earlier block runs word for word (the walk
    through the layers repeats the sections' commands): every command still runs once, and a repeat
    that a later command of its block needs (a --save that a predict reads) runs there too."""
    seen: set[str] = set()
    kept = []
    for line, commands in blocks:
        new = [i for i, command in enumerate(commands) if command not in seen]
        if new:
            kept.append((line, commands[: new[-1] + 1]))
        seen.update(commands)
    return kept


README_BLOCKS = without_repeats(readme_commands())


def test_the_readme_shows_commands_in_every_section():
    assert len(README_BLOCKS) >= 5 and sum(len(commands) for _, commands in README_BLOCKS) >= 20


def test_every_readme_command_runs_in_some_block():
    run = {command for _, commands in README_BLOCKS for command in commands}
    assert all(command in run for _, commands in readme_commands() for command in commands)


@pytest.mark.parametrize("line, commands", README_BLOCKS, ids=[f"README.md:{line}" for line, _ in README_BLOCKS])
def test_readme_commands_run_as_written(tmp_path, line, commands):
    """Each command of the block, in order, in a folder holding a copy of samples/ (a later command may
    read what an earlier one wrote), exits 0; stderr has no traceback."""
    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    program = Path(gradcli_program())
    env = clean_env(PATH=f"{program.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    for command in commands:
        tools = [tool for tool in ("jq", "dot") if f"| {tool} " in command]
        missing = [tool for tool in tools if shutil.which(tool) is None]
        if missing:
            pytest.skip(f"{', '.join(missing)} is not installed (.ci/run installs it)")
        proc = run_command(command, tmp_path, env)
        assert proc.returncode == 0, (command, proc.stderr.decode())
        assert b"Traceback" not in proc.stderr, command
