"""eo.config: one place for every setting, one precedence rule, scoped overrides that reach the tasks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import eo
from eo import config
from eo.errors import ConfigError
from eo.retry import RetryPolicy


def test_precedence_scope_over_environment_over_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EO_MALLOC_TUNE", raising=False)
    assert config.get("malloc_tune") is False and config.source("malloc_tune") == "default"
    monkeypatch.setenv("EO_MALLOC_TUNE", "yes")
    assert config.get("malloc_tune") is True and config.source("malloc_tune") == "EO_MALLOC_TUNE"
    with config.set(malloc_tune=False):
        assert config.get("malloc_tune") is False and config.source("malloc_tune") == "eo.config.set"
        with config.set(malloc_tune="on"):
            assert config.get("malloc_tune") is True
        assert config.get("malloc_tune") is False
    assert config.get("malloc_tune") is True


def test_paths_and_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EO_HOME", str(tmp_path))
    monkeypatch.setenv("EO_SENSOR_PATH", f"{tmp_path / 'a'}:{tmp_path / 'b'}")
    assert config.eo_home() == tmp_path and config.local_catalog_dir() == tmp_path / "catalog"
    assert config.sensor_paths() == [tmp_path / "a", tmp_path / "b"]
    with config.set(home=tmp_path / "other"):
        assert config.eo_home() == tmp_path / "other"


def test_the_working_directory_is_not_searched_for_catalogues(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "catalogs").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EO_CATALOG_PATH", raising=False)
    assert tmp_path / "catalogs" not in config.catalog_paths()
    monkeypatch.setenv("EO_CATALOG_PATH", str(tmp_path / "catalogs"))
    assert config.catalog_paths()[0] == tmp_path / "catalogs"


def test_bad_values_are_config_errors_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EO_MALLOC_TUNE", "perhaps")
    with pytest.raises(ConfigError, match="EO_MALLOC_TUNE='perhaps'"):
        config.get("malloc_tune")
    monkeypatch.setenv("EO_GDAL_OPTIONS", "[1, 2]")
    with pytest.raises(ConfigError, match=r"EO_GDAL_OPTIONS.*JSON object"):
        config.get("gdal")
    with pytest.raises(ConfigError, match="unknown eo setting 'colour'"), config.set(colour="blue"):
        pass
    with pytest.raises(ConfigError, match="unknown retry policy field"), config.set(retry={"retries": 3}):
        pass


def test_gdal_options_merge_defaults_policy_and_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EO_GDAL_OPTIONS", json.dumps({"GDAL_CACHEMAX": 64, "AWS_NO_SIGN_REQUEST": "YES"}))
    with config.set(retry=RetryPolicy(read_timeout=7, max_retries=1)):
        opts = config.gdal_options()
    assert opts["GDAL_CACHEMAX"] == 64 and opts["AWS_NO_SIGN_REQUEST"] == "YES"
    assert opts["GDAL_HTTP_TIMEOUT"] == 7 and opts["GDAL_HTTP_MAX_RETRY"] == 1
    assert opts["GDAL_DISABLE_READDIR_ON_OPEN"] == "EMPTY_DIR"  # eo's default kept
    import rasterio.env

    with config.gdal_env({"GDAL_CACHEMAX": 32}):
        assert rasterio.env.getenv()["GDAL_CACHEMAX"] == 32


def test_a_scoped_setting_travels_inside_the_load_tasks(local_catalog: Path) -> None:
    import pystac

    from eo.loading.types import ChunkRequest

    item = next(
        i
        for i in pystac.Catalog.from_file(str(local_catalog)).get_items(recursive=True)
        if "sentinel2" in i.id
    )
    policy = RetryPolicy(max_retries=1, connect_retries=0)
    with config.set(gdal={"AWS_REQUEST_PAYER": "requester"}, retry=policy, io_threads=3):
        ds = eo.load([item], bands=["red"], chunks=512)
    outside = eo.load([item], bands=["red"], chunks=512)
    requests = [t[1] for t in dict(ds.red.data.__dask_graph__()).values() if isinstance(t, tuple)]
    assert requests and all(isinstance(r, ChunkRequest) for r in requests)
    for r in requests:
        assert r.settings.retry == policy and r.settings.io_threads == 3
        assert dict(r.settings.gdal)["AWS_REQUEST_PAYER"] == "requester"
    assert ds.red.data.name != outside.red.data.name  # other settings, other tasks
    other = [t[1] for t in dict(outside.red.data.__dask_graph__()).values() if isinstance(t, tuple)]
    assert all("AWS_REQUEST_PAYER" not in dict(r.settings.gdal) for r in other)


def test_eo_config_command_prints_values_and_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    from eo.cli import main

    monkeypatch.setenv("EO_PRIME_WORKERS", "1")
    res = CliRunner().invoke(main, ["config", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert set(doc) == set(config.SETTINGS)
    assert doc["prime_workers"] == {"value": "True", "source": "EO_PRIME_WORKERS", "env": "EO_PRIME_WORKERS"}
    assert doc["malloc_tune"]["source"] in ("default", "EO_MALLOC_TUNE")
    monkeypatch.setenv("EO_RETRY", "{not json")
    bad = CliRunner().invoke(main, ["config"])
    assert bad.exit_code == 2 and "EO_RETRY" in bad.output and "Traceback" not in bad.output


def test_every_eo_variable_read_by_the_library_is_a_setting() -> None:
    """Settings are defined once: no module but eo/config.py reads an EO_* variable itself."""
    import re

    root = Path(eo.__file__).parent
    found = []
    for path in root.rglob("*.py"):
        if path.name == "config.py" and path.parent == root:
            continue
        for m in re.finditer(r"os\.environ(?:\.get)?\(?\[?['\"](EO_[A-Z_]+)", path.read_text()):
            found.append(f"{path.relative_to(root)}: {m.group(1)}")
    assert not found, found
