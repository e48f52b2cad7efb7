"""Every command that README.md and the pages of docs/ show runs as written, on its own, and leaves the
checkout as it was; every `>>>` example in their python blocks runs with doctest.

Which lines are commands (kept simple, so that whoever writes a page can see what will run):
- Only ``` blocks whose info string is empty or `console` are read; `text` blocks are excerpts, and
  `python` blocks are doctests.
- In a block with a line that starts with `$ `, each such line is a command, and the lines under it,
  up to the next `$ ` line, are what it prints.
- In any other block, each line that starts with a program's name and a space (see PROGRAMS) is a
  command, and the block shows no output.
- A line that installs (`pip install`) is shown, not run: it would change the environment the suite
  runs in. .ci/run installs into a fresh virtual environment and runs the quick start.

How they run:
- Each block in its own fresh folder holding a copy of samples/ (the working directory, so that
  `samples/data.csv` resolves), its commands in order. Blocks never share a folder, so they are
  independent and any order of them gives the same results: a command may read what an earlier
  command of its own block wrote (`--save m.json`, then `predict m.json`), never another block's.
- A command whose program is not installed here (`jq`, `dot`, `pdflatex`), or that needs an optional
  extra that is not (NEEDS: matplotlib for `--plot`, Dask for `--dask`), is not run: the block's other
  commands run, and then the block is reported skipped, naming what is missing. So no command may
  read a file that such a command writes (test_no_command_reads_what_a_skippable_one_writes).
- Every command exits 0 with no traceback. On the pages of docs/ it prints exactly the output shown
  (trailing spaces aside); README's shown outputs are excerpts, or stderr, and are not compared.
- Afterwards the checkout is as it was: git's status, and the names in the project's root folder.

A plain `gradcli ...` command, or a pipeline `[cat FILE |] gradcli ... [| PROGRAM ...] [> FILE]`, runs
the program in a fork of this process (cli_runner.run_program: no interpreter to start, no imports to
repeat); any other line runs through bash.
"""

from __future__ import annotations

import doctest
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cli_runner import clean_env, gradcli_program, run_program

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
# What a command line starts with, in a block that does not mark its commands with `$ `.
PROGRAMS = ("gradcli", "cat", "python", "python3", "pip", "jq", "dot", "pdflatex")
COMMAND = re.compile(rf"^(?:{'|'.join(PROGRAMS)}) ")
# Optional extras, by the option that needs them: (the extra, the modules it brings).
NEEDS = {"--plot": ("plot", ("matplotlib",)), "--dask": ("dask", ("dask", "distributed"))}
# Options whose value is a file or folder that the command writes.
WRITES = re.compile(r"(?:--save|--history|--plot|--output)[ =](\S+)|>\s*(\S+)")
# What Python and the test tools make in the project's root as they run: not what a command left.
TOOL_CACHES = {"__pycache__", ".pytest_cache", ".hypothesis"}
# Programs every system that runs the suite has: a command using only these is never skipped.
ALWAYS_THERE = {"cat", "tail", "head"}


@dataclass
class Command:
    line: int
    text: str
    shown: str | None  # what the page shows it printing; None where the page shows nothing


@dataclass
class Block:
    page: str
    line: int
    commands: list[Command] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def command_blocks(page: Path) -> list[Block]:
    """The blocks of a page that show commands, by the rules in this module's docstring."""
    text = page.read_text()
    blocks = []
    for fence in FENCE.finditer(text):
        if fence.group(1) not in ("", "console"):
            continue
        first = text.count("\n", 0, fence.start(2)) + 1
        lines = fence.group(2).splitlines()
        block = Block(page.name, first)
        if any(line.startswith("$ ") for line in lines):
            starts = [i for i, line in enumerate(lines) if line.startswith("$ ")]
            assert starts[0] == 0, f"{page.name}:{first}: a console block must start with a '$ ' command"
            for a, b in zip(starts, starts[1:] + [len(lines)]):
                block.commands.append(Command(first + a, lines[a][2:], "\n".join(lines[a + 1:b])))
        else:
            block.commands = [Command(first + i, line, None) for i, line in enumerate(lines) if COMMAND.match(line)]
        block.commands = [c for c in block.commands if "pip install" not in c.text]  # shown, not run
        if block.commands:
            block.line = block.commands[0].line
            blocks.append(block)
    return blocks


BLOCKS = [block for page in PAGES for block in command_blocks(page)]


# ---------------------------------------------------------------------------------------------- running


def pipeline(command: str) -> tuple[list[list[str]], str | None] | None:
    """The words of each stage of `A | B | C > FILE`, and FILE; None for a line with anything else that
    only a shell reads (variables, globs, `;`, `&&`, `<`, `>>`, ...) outside its quotes."""
    parts, quote = [""], ""
    target = None  # the text after an unquoted `>`
    for ch in command:
        if quote == "'":
            quote = "" if ch == "'" else quote
        elif quote == '"':
            if ch in "$`\\":
                return None
            quote = "" if ch == '"' else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "|" and target is None:
            parts.append("")
            continue
        elif ch == ">" and target is None:
            target = ""
            continue
        elif ch in "|><;&$`*?~(){}[]#!\\":
            return None
        if target is None:
            parts[-1] += ch
        else:
            target += ch
    stages = [shlex.split(part) for part in parts]
    file = shlex.split(target) if target is not None else None
    if any(not words for words in stages) or (file is not None and len(file) != 1):
        return None
    return stages, (file[0] if file else None)


def run_command(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """A command line as a user types it. `[cat FILE |] gradcli ... [| PROGRAM ...] [> FILE]` runs gradcli
    in a fork of this process (cli_runner.run_program) with the words bash would give it, and the other
    programs of the pipeline as processes; the exit code is pipefail's (the last stage that failed).
    Anything else runs through bash."""
    parsed = pipeline(command)
    stages, target = parsed if parsed else ([], None)
    stdin = b""
    if stages[:1] and stages[0][0] == "cat" and len(stages[0]) == 2 and (cwd / stages[0][1]).is_file():
        stdin = (cwd / stages[0][1]).read_bytes()
        stages = stages[1:]
    if not stages or stages[0][0] != "gradcli":
        return subprocess.run(["bash", "-c", f"set -o pipefail; {command}"], cwd=cwd, capture_output=True,
                              timeout=120, env=env)
    result = run_program(stages[0][1:], cwd, stdin, timeout=120)
    code, out, err = result.code, result.out.encode(), result.err.encode()
    for words in stages[1:]:
        proc = subprocess.run(words, input=out, cwd=cwd, capture_output=True, timeout=120, env=env)
        code, out, err = proc.returncode or code, proc.stdout, err + proc.stderr
    if target is not None:
        (cwd / target).write_bytes(out)
        out = b""
    return subprocess.CompletedProcess(command, code, out, err)


def needs(command: str) -> tuple[list[str], list[tuple[str, str]]]:
    """The programs a command line runs besides gradcli, and the (module, extra) pairs it needs."""
    programs = re.findall(r"(?:^|[|&;]\s*)([A-Za-z][\w.+-]*)", command)
    modules = [(module, extra) for option, (extra, found) in NEEDS.items()
               if re.search(rf"(^|\s){option}(\s|=|$)", command) for module in found]
    return [program for program in dict.fromkeys(programs) if program != "gradcli"], modules


def missing(command: str, path: str) -> list[str]:
    """What the command needs that is not installed here."""
    programs, modules = needs(command)
    return ([f"{program} is not installed" for program in programs if shutil.which(program, path=path) is None]
            + [f"{module} is not installed (the {extra} extra)" for module, extra in modules
               if importlib.util.find_spec(module) is None])


def checkout_state(root: Path) -> tuple[str, list[str]]:
    """What a command could change in the checkout: git's status (files added, changed or deleted;
    ignored ones aside) and the names in the root folder, less the caches Python and pytest make."""
    names = sorted(name for name in os.listdir(root) if name not in TOOL_CACHES)
    status = ""
    if shutil.which("git") and (root / ".git").exists():
        git = subprocess.run(["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=all"],
                             cwd=root, capture_output=True, text=True, timeout=60)
        status = git.stdout if git.returncode == 0 else f"git status failed: {git.stderr}"
    return status, names


def fresh_folder(tmp_path: Path) -> Path:
    """A folder holding nothing but a copy of samples/."""
    folder = tmp_path / "try"
    shutil.copytree(ROOT / "samples", folder / "samples")
    return folder


@pytest.mark.parametrize("block", BLOCKS, ids=lambda block: block.id)
def test_every_command_runs_as_written_and_leaves_the_checkout_clean(block, tmp_path):
    folder = fresh_folder(tmp_path)
    program = Path(gradcli_program())
    env = clean_env(PATH=f"{program.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    before = checkout_state(ROOT)
    skipped = []
    for command in block.commands:
        absent = missing(command.text, env["PATH"])
        if absent:
            skipped.append(f"line {command.line} ({'; '.join(absent)})")
            continue
        proc = run_command(command.text, folder, env)
        stderr = proc.stderr.decode("utf-8", "replace")
        assert proc.returncode == 0, (command.text, stderr)
        assert "Traceback" not in stderr, (command.text, stderr)
        if command.shown is not None and block.page != "README.md":
            printed = [line.rstrip() for line in proc.stdout.decode().splitlines()]
            assert printed == [line.rstrip() for line in command.shown.splitlines()], (command.text, stderr)
    assert checkout_state(ROOT) == before, "a command changed the checkout"
    if skipped:
        pytest.skip(f"{block.id}: the other commands ran; not run: {', '.join(skipped)}")


# The pages with python blocks; each must hold at least one `>>>` example that runs.
DOCTEST_PAGES = [page for page in PAGES
                 if any(fence.group(1) == "python" for fence in FENCE.finditer(page.read_text()))]


def test_the_api_examples_are_on_the_pages_that_show_the_api():
    assert {"README.md", "api.md", "worked-example.md"} <= {page.name for page in DOCTEST_PAGES}


@pytest.mark.parametrize("page", DOCTEST_PAGES, ids=lambda page: page.name)
def test_python_examples_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(fresh_folder(tmp_path))  # the examples name files under samples/
    before = checkout_state(ROOT)
    blocks = [fence.group(2) for fence in FENCE.finditer(page.read_text()) if fence.group(1) == "python"]
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for number, block in enumerate(blocks):
        runner.run(parser.get_doctest(block, {}, f"{page.name} block {number + 1}", str(page), 0))
    results = runner.summarize(verbose=False)
    assert results.attempted and results.failed == 0
    assert checkout_state(ROOT) == before


# ---------------------------------------------------------------------------------------------- the pages


# Pages that show how to run something, and the fewest commands each shows (README keeps a tour; the
# rest moved to the pages of docs/, which together show at least the 71 commands README showed alone).
SHOWN_AT_LEAST = {"README.md": 6, "getting-started.md": 1, "models.md": 1, "worked-example.md": 6, "grad.md": 7,
                  "layers.md": 11, "train.md": 12, "data-at-scale.md": 8, "explain.md": 9, "graph.md": 8,
                  "diff-hessian.md": 6, "check.md": 4}


def test_the_pages_show_commands_in_every_section():
    shown = {page.name: sum(len(block.commands) for block in BLOCKS if block.page == page.name) for page in PAGES}
    assert not {page: shown.get(page, 0) for page, least in SHOWN_AT_LEAST.items() if shown.get(page, 0) < least}
    assert sum(shown.values()) >= 71
    worked = [block for block in BLOCKS if block.page == "worked-example.md"]
    assert all(command.shown for block in worked for command in block.commands)


def written(command: str) -> list[str]:
    return [a or b for a, b in WRITES.findall(command)]


def test_no_command_reads_what_a_skippable_one_writes():
    """A command that needs an optional program or extra may be skipped, so what it writes is read by no
    later command of its block (a `predict m.json` after a `train --plot ... --save m.json` would fail
    wherever matplotlib is missing)."""
    for block in BLOCKS:
        for i, command in enumerate(block.commands):
            programs, modules = needs(command.text)
            may_skip = modules or set(programs) - ALWAYS_THERE
            for file in written(command.text) if may_skip else []:
                readers = [later.line for later in block.commands[i + 1:]
                           if re.search(rf"(?<![\w./-]){re.escape(file)}(?![\w.-])", later.text)
                           and not skipped_with(command.text, later.text)]
                assert not readers, f"{block.id}: line {command.line} may be skipped, and {readers} read {file}"


def skipped_with(writer: str, reader: str) -> bool:
    """Whether the reader needs everything the writer needs, so that it is skipped wherever the writer is."""
    programs, modules = needs(writer)
    later_programs, later_modules = needs(reader)
    return set(programs) <= set(later_programs) and set(modules) <= set(later_modules)


# How the project was made, not what the tool does: words a user's page or help has no use for.
MAKING = re.compile(r"\b(?:the note|note's|issues? \d+|issue's|sessions?|lent|this round)\b", re.I)


def help_texts() -> list[tuple[str, str]]:
    """(where, text) for every command's help and every option's help."""
    import typer
    from typer.main import get_command

    from gradcli.cli import app

    root = get_command(app)
    texts = []
    for name, command in {"gradcli": root, **getattr(root, "commands", {})}.items():
        texts.append((name, command.help or ""))
        params = command.get_params(typer.Context(command, info_name=name))
        texts += [(f"{name} {param.name}", getattr(param, "help", None) or "") for param in params]
    return texts


def test_the_pages_and_help_speak_of_the_tool_not_of_how_it_was_made():
    """README, docs/, pyproject.toml and --help say what gradcli does, in words a user can follow: no
    'the note' that is never introduced (the worked example is named as such), no issue numbers,
    sessions or rounds of work."""
    found = [(page.name, match.group()) for page in [*PAGES, ROOT / "pyproject.toml"]
             for match in MAKING.finditer(page.read_text())]
    found += [(where, match.group()) for where, text in help_texts() for match in MAKING.finditer(text)]
    assert not found


# ---------------------------------------------------------------------------------------------- controls


def test_the_parser_finds_commands_outputs_and_installs(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("text\n\n```console\n$ echo one\none\n$ echo two\nthree\n```\n\n"
                    "```\npython3 -m pip install .\ngradcli grad x --wrt x\nnot a command\n"
                    "cat samples/data.csv | gradcli train -\n```\n\n```text\n$ gradcli skipped\n```\n")
    blocks = command_blocks(page)
    assert [(b.line, [(c.line, c.text, c.shown) for c in b.commands]) for b in blocks] == [
        (4, [(4, "echo one", "one"), (6, "echo two", "three")]),
        (12, [(12, "gradcli grad x --wrt x", None), (14, "cat samples/data.csv | gradcli train -", None)]),
    ]


def test_the_runner_runs_pipelines_as_bash_does(tmp_path):
    """A control: the forked pipeline gives what bash gives, and what it cannot take goes to bash."""
    (tmp_path / "in.csv").write_text("x1,y\n1,2\n3,4\n")
    command = 'cat in.csv | gradcli grad "w*x1" --data - --format csv | tail -n 1 > out.txt'
    assert pipeline(command) == ([["cat", "in.csv"], ["gradcli", "grad", "w*x1", "--data", "-", "--format", "csv"],
                                  ["tail", "-n", "1"]], "out.txt")
    assert pipeline("gradcli train data/*.csv") is None and pipeline("a && b") is None
    program = Path(gradcli_program())
    env = clean_env(PATH=f"{program.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = run_command(command, tmp_path, env)
    forked = (proc.returncode, (tmp_path / "out.txt").read_text())
    shelled = subprocess.run(["bash", "-c", f"set -o pipefail; {command}"], cwd=tmp_path, env=env)
    # w = 0.5 (the default): residuals -1.5 and -2.5, so the mean of 2*x1*(w*x1 - y) is (-3 - 15)/2 = -9
    expected = (0, "w,2*x1*(w*x1 - y),-9.0,-9.0,0.0,true\n")
    assert forked == (shelled.returncode, (tmp_path / "out.txt").read_text()) == expected
    assert run_command("gradcli grad 'w*' | cat", tmp_path, env).returncode == 2  # pipefail: gradcli's exit


def test_the_checkout_check_sees_a_new_file(tmp_path):
    """A control on a repository of its own: a file left in its root changes the state."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    before = checkout_state(tmp_path)
    (tmp_path / "params.json").write_text("{}")
    assert checkout_state(tmp_path) != before
