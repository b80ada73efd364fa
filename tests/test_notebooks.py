"""The notebooks in notebooks/ run top to bottom offline, and are committed as a person should open them.

* each executes in a fresh kernel (the test sets ``MPLBACKEND=Agg`` from outside, as CI does, and puts
  this interpreter's ``bin/`` first on ``PATH`` so the ``!eo ...`` cells run this install's ``eo``);
  no cell errors, and no shell cell prints an eo error (``!cmd`` does not stop a notebook);
* they are committed without outputs, and no cell forces a matplotlib backend (figures must render
  inline when a person opens the notebook in Jupyter);
* the six of the user guide are there, in order.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
EXPECTED = [
    "01-search-and-look",
    "02-calibration",
    "03-masks-and-composites",
    "04-fields-time-series",
    "05-scale-out",
    "06-new-sensor",
]
#: A forced backend in a cell: matplotlib.use(...), %matplotlib agg, or MPLBACKEND set from inside.
FORCED_BACKEND = re.compile(r"matplotlib\.use\(|%matplotlib\s+agg|MPLBACKEND|switch_backend", re.I)


def test_the_six_notebooks_are_there() -> None:
    assert [p.stem for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs_and_without_a_forced_backend(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("outputs") == [] and c.get("execution_count") is None for c in code), path.name
    forced = [c.source for c in code if FORCED_BACKEND.search(c.source)]
    assert forced == [], f"{path.name} forces a matplotlib backend: {forced}"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")


def _stream_text(nb: nbformat.NotebookNode) -> str:
    return "".join(
        o.get("text", "")
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.output_type == "stream"
    )


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes(path: Path, local_eo_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    monkeypatch.delenv("EO_SENSOR_PATH", raising=False)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"
    ]
    assert errors == []
    text = _stream_text(nb)
    failed = [line for line in text.splitlines() if line.startswith(("error:", "Traceback", "Usage: eo"))]
    assert failed == [], failed
