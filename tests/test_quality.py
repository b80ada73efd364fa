"""The code base is lint-clean (ruff), formatted, and type-checks (mypy); no eval/exec of user text."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff not installed")
def test_ruff_lint_is_clean() -> None:
    res = _run("ruff", "check", "eo", "tests", "benchmarks")
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff not installed")
def test_ruff_format_is_clean() -> None:
    res = _run("ruff", "format", "--check", "eo", "tests", "benchmarks")
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.slow
def test_mypy_is_clean() -> None:
    res = _run("mypy")
    assert res.returncode == 0, res.stdout + res.stderr


def test_no_eval_or_exec_in_the_library() -> None:
    pattern = re.compile(r"(?<![\w.])(eval|exec)\s*\(")
    offenders = [
        f"{p.relative_to(ROOT)}:{i}"
        for p in (ROOT / "eo").rglob("*.py")
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line) and not line.lstrip().startswith("#")
    ]
    assert offenders == []


def test_docstring_examples_are_run_not_skipped() -> None:
    """Every example in eo's docstrings runs (pytest --doctest-modules eo, see pyproject.toml)."""
    skipped = [
        f"{p.relative_to(ROOT)}:{i}"
        for p in (ROOT / "eo").rglob("*.py")
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if "doctest: +SKIP" in line
    ]
    assert not skipped, skipped
