"""The user guide (docs/*.md) stays true: its code blocks are executed, its commands and files checked.

Fenced blocks are read by their info string (``lang tag tag key=value``):

* ``python``: executed in order, per page, in one fresh namespace;
* ``console``: each ``$ command`` line (``\\`` continues it) runs in a shell and must exit 0;
* any block with ``file=NAME`` is written to ``NAME`` (before the blocks after it run);
* ``yaml spec`` / ``yaml sensor`` / ``yaml ingest`` / ``yaml catalog``: validated as a pipeline spec,
  a sensor profile, an ingest description or a catalogue definition;
* ``network``: runs only with ``EO_NETWORK_TESTS=1`` (and its page says so where a reader sees it);
  ``skip``: never run (code for clusters the tests do not have);
* ``bash`` blocks and every ``eo ...`` command anywhere: the command and its options exist.

A page runs in a fresh working directory that looks like a clone of the repository (its top-level
entries linked in), with ``EO_HOME`` the tests' built local catalogue, ``MPLBACKEND=Agg`` and this
interpreter's ``bin/`` first on ``PATH``.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.S | re.M)
NETWORK = os.environ.get("EO_NETWORK_TESTS") == "1"


@dataclass
class Block:
    page: str
    line: int
    lang: str
    tags: set[str] = field(default_factory=set)
    options: dict[str, str] = field(default_factory=dict)
    text: str = ""

    @property
    def where(self) -> str:
        return f"docs/{self.page}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The fenced blocks of a page, with their line numbers and info-string tags."""
    text = page.read_text()
    out = []
    for m in FENCE.finditer(text):
        words = m.group(1).split()
        lang = words[0] if words else ""
        tags = {w for w in words[1:] if "=" not in w}
        options = dict(w.split("=", 1) for w in words[1:] if "=" in w)
        line = text.count("\n", 0, m.start()) + 2
        out.append(Block(page.name, line, lang, tags, options, m.group(2)))
    return out


def commands(text: str) -> list[str]:
    """The ``$ ...`` commands of a console block (continuation lines joined)."""
    out: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if pending:
            pending += " " + line.rstrip("\\").strip()
            if not line.endswith("\\"):
                out.append(pending)
                pending = ""
            continue
        if line.startswith("$ "):
            cmd = line[2:]
            if cmd.endswith("\\"):
                pending = cmd.rstrip("\\").strip()
            else:
                out.append(cmd)
    return out


def _prose(page: Path) -> str:
    return FENCE.sub("", page.read_text())


# --- structure ---------------------------------------------------------------------------------


def test_every_page_is_linked_from_the_index() -> None:
    index = (DOCS / "README.md").read_text()
    missing = [p.name for p in PAGES if p.name != "README.md" and f"({p.name})" not in index]
    assert missing == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", _prose(page)):
        if target.startswith(("http://", "https://", "#", "mailto:")):
            continue
        path = target.split("#", 1)[0]
        if not (page.parent / path).exists():
            broken.append(target)
    assert broken == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_network_blocks_are_announced_on_the_page(page: Path) -> None:
    if any("network" in b.tags for b in blocks(page)):
        assert "EO_NETWORK_TESTS=1" in _prose(page), f"{page.name} has network blocks but does not say so"


def test_the_guide_has_a_network_page_and_a_skipped_block() -> None:
    """The markers are used (so the tests above are not vacuous)."""
    tags = [t for p in PAGES for b in blocks(p) for t in b.tags]
    assert "network" in tags and "skip" in tags


# --- commands and options exist ----------------------------------------------------------------


def _eo_invocations(text: str) -> list[list[str]]:
    """``eo ...`` invocations in shell text (each line; split on && ; | and comments)."""
    found = []
    for line in text.splitlines():
        line = line.strip().removeprefix("$ ")
        for part in re.split(r"&&|\|\||;|\|", line.split("  #", 1)[0]):
            words = shlex.split(part.strip(), comments=True) if part.strip() else []
            while words and "=" in words[0] and not words[0].startswith("-"):
                words = words[1:]  # VAR=value prefixes
            if words and Path(words[0]).name == "eo":
                found.append(words[1:])
    return found


def _takes_value(param: click.Parameter) -> bool:
    return not getattr(param, "is_flag", False) and not getattr(param, "count", False) and param.nargs == 1


def _check_invocation(args: list[str]) -> list[str]:
    from eo.cli import main

    cmd: click.Command = main
    problems = []
    words = list(args)
    path = ["eo"]
    while words:
        word = words.pop(0)
        if word.startswith("-"):
            name = word.split("=", 1)[0]
            options = {o: p for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
            if name in ("-h", "--help", "--version"):
                continue
            if name not in options:
                problems.append(f"{' '.join(path)}: no option {name}")
            elif _takes_value(options[name]) and "=" not in word and words:
                words.pop(0)  # the option's value
            continue
        if isinstance(cmd, click.Group) and word in cmd.commands:
            cmd = cmd.commands[word]
            path.append(word)
        elif isinstance(cmd, click.Group) and not path[1:] and word not in cmd.commands:
            problems.append(f"eo: no command {word!r}")
            break
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_eo_commands_and_options_in_the_guide_exist(page: Path) -> None:
    shell = [b for b in blocks(page) if b.lang in ("bash", "console", "cron", "ini", "sh")]
    problems = [
        f"{b.where}: {p}" for b in shell for inv in _eo_invocations(b.text) for p in _check_invocation(inv)
    ]
    assert problems == []


# --- YAML documents validate --------------------------------------------------------------------


def _validate(block: Block, tmp_path: Path) -> None:
    doc = yaml.safe_load(block.text)
    if "spec" in block.tags:
        from eo.pipeline.spec import parse_spec

        parse_spec(doc)
    elif "sensor" in block.tags:
        from eo.sensors import load_profile

        path = tmp_path / "profile.yaml"
        path.write_text(block.text)
        load_profile(path)
    elif "ingest" in block.tags:
        from eo.catalog.ingest import load_description

        path = tmp_path / "description.yaml"
        path.write_text(block.text)
        load_description(path)
    elif "catalog" in block.tags:
        from eo.catalog.definitions import parse_definition

        parse_definition(doc)


YAML_BLOCKS = [
    b
    for p in PAGES
    for b in blocks(p)
    if b.lang == "yaml" and b.tags & {"spec", "sensor", "ingest", "catalog"}
]


@pytest.mark.parametrize("block", YAML_BLOCKS, ids=lambda b: b.where)
def test_yaml_documents_validate(block: Block, tmp_path: Path) -> None:
    _validate(block, tmp_path)


# --- the pages run ------------------------------------------------------------------------------


def _workdir(tmp_path: Path) -> Path:
    """A directory that looks like a clone of the repository (top-level entries linked), without out/."""
    work = tmp_path / "clone"
    work.mkdir()
    for entry in ROOT.iterdir():
        if entry.name in ("out", ".venv", ".git") or entry.name.startswith("."):
            continue
        (work / entry.name).symlink_to(entry)
    return work


def _run_python(block: Block, namespace: dict[str, Any]) -> None:
    code = compile(block.text, block.where, "exec")
    exec(code, namespace)  # the guide's own code, as a reader would run it


def _run_console(block: Block, cwd: Path) -> None:
    for cmd in commands(block.text):
        res = subprocess.run(
            cmd, shell=True, cwd=cwd, capture_output=True, text=True, timeout=900, env=os.environ.copy()
        )
        assert res.returncode == 0, (
            f"{block.where}: $ {cmd}\nexit {res.returncode}\n{res.stdout}\n{res.stderr}"
        )


def _executable(page: Path) -> bool:
    return any(b.lang in ("python", "console") and "skip" not in b.tags for b in blocks(page))


@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p in PAGES if _executable(p)], ids=lambda p: p.name)
def test_page_runs(page: Path, tmp_path: Path, local_eo_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib

    matplotlib.use("Agg")  # the test process only; figures made by the guide's code are closed below
    import matplotlib.pyplot as plt

    work = _workdir(tmp_path)
    monkeypatch.chdir(work)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    monkeypatch.delenv("EO_SENSOR_PATH", raising=False)
    namespace: dict[str, Any] = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    ran = 0
    try:
        for block in blocks(page):
            if "file" in block.options:
                (work / block.options["file"]).write_text(block.text)
            if block.lang not in ("python", "console") or "skip" in block.tags:
                continue
            if "network" in block.tags and not NETWORK:
                continue
            if block.lang == "python":
                _run_python(block, namespace)
            else:
                _run_console(block, work)
            ran += 1
    finally:
        plt.close("all")
        server = namespace.get("server")
        if server is not None and hasattr(server, "stop"):
            server.stop()
    if ran == 0:
        pytest.skip("every block of this page needs the internet; set EO_NETWORK_TESTS=1 to run them")
