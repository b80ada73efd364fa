"""The local catalogue served as a real STAC API by rustac on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from eo.catalog import serve as serve_mod
from eo.catalog import servers
from eo.catalog.serve import LocalServer, find_server, free_port, serve
from eo.catalog.serving_copy import serving_copy
from eo.errors import EOIOError, MetadataError, PortInUseError, ServerError


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.load(resp)


def test_real_catalogue_is_served_with_absolute_existing_asset_hrefs(stac_server: LocalServer) -> None:
    root = _get(stac_server.url + "/")
    assert stac_server.url.startswith("http://127.0.0.1:")
    assert any(link["rel"] == "search" for link in root["links"])
    cols = {c["id"] for c in _get(stac_server.url + "/collections")["collections"]}
    assert cols == {"landsat-8-l1", "sentinel-2-l1c"}
    features = _get(stac_server.url + "/search")["features"]
    assert len(features) == 2
    for f in features:
        for asset in f["assets"].values():
            assert os.path.isabs(asset["href"]), asset["href"]
            assert Path(asset["href"]).is_file()
        # the static catalogue's relative structural links are gone; the server's own are absolute
        assert all(link["href"].startswith("http://127.0.0.1:") for link in f["links"])


def test_server_listens_on_loopback_only(stac_server: LocalServer) -> None:
    table = Path("/proc/net/tcp")
    if not table.is_file():
        pytest.skip("needs Linux /proc/net/tcp")
    listening = [
        line.split()[1]
        for line in table.read_text().splitlines()[1:]
        if line.split()[3] == "0A" and int(line.split()[1].split(":")[1], 16) == stac_server.port
    ]
    assert listening == [f"0100007F:{stac_server.port:04X}"]  # 127.0.0.1, not 0.0.0.0
    assert not Path("/proc/net/tcp6").is_file() or f":{stac_server.port:04X} " not in "".join(
        line for line in Path("/proc/net/tcp6").read_text().splitlines()[1:] if line.split()[3] == "0A"
    )


def test_busy_port_raises_port_in_use(make_static_catalog: Callable[..., Path]) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        with pytest.raises(PortInUseError) as err:
            serve(make_static_catalog(), port)
    assert str(port) in str(err.value) and "--port" in str(err.value)


def test_explicit_port_start_stop_and_idempotent_stop(make_static_catalog: Callable[..., Path]) -> None:
    port = free_port()
    with serve(make_static_catalog(), port) as server:
        assert server.port == port and server.alive() and server.owned
        pid = server.pid
    assert not server.alive()
    assert server.process is not None and server.process.returncode is not None
    assert pid is not None and not servers.pid_alive(pid)
    server.stop()  # again: no error
    with serve(make_static_catalog(), port) as again:  # the same port right after a stop
        assert again.alive()


def test_dying_server_raises_server_error_with_its_stderr(
    make_static_catalog: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(serve_mod.BACKENDS, "broken", lambda cat: ["serve", str(cat.parent / "missing.json")])
    with pytest.raises(ServerError) as err:
        serve(make_static_catalog(), backend="broken", timeout=20)
    assert "missing.json" in str(err.value)  # rustac's own message is passed on


def test_missing_catalogue_and_unknown_backend(
    tmp_path: Path, make_static_catalog: Callable[..., Path]
) -> None:
    with pytest.raises(EOIOError, match="eo catalog build"):
        serve(tmp_path)
    with pytest.raises(LookupError, match="rustac-memory"):
        serve(make_static_catalog(), backend="nope")


def test_broken_catalogue_is_a_metadata_error(make_static_catalog: Callable[..., Path]) -> None:
    catalog = make_static_catalog()
    next(catalog.parent.glob("coll-a/*/a-2020-01-01.json")).write_text("{not json")
    with pytest.raises(MetadataError, match=r"cannot read .*a-2020-01-01\.json"):
        serve(catalog)


def test_serving_copy_is_reused_and_refreshed(make_static_catalog: Callable[..., Path]) -> None:
    catalog = make_static_catalog()
    first = serving_copy(catalog)
    assert [p.name for p in first] == ["collection-coll-a.json", "collection-coll-b.json", "items.json"]
    stamp = first[-1].stat().st_mtime_ns
    assert serving_copy(catalog) == first and first[-1].stat().st_mtime_ns == stamp
    item_file = next(catalog.parent.glob("coll-a/*/a-2020-01-01.json"))
    doc = json.loads(item_file.read_text())
    doc["properties"]["eo:cloud_cover"] = 1.0
    item_file.write_text(json.dumps(doc))
    refreshed = json.loads(serving_copy(catalog)[-1].read_text())
    clouds = {f["id"]: f["properties"].get("eo:cloud_cover") for f in refreshed["features"]}
    assert clouds["a-2020-01-01"] == 1.0
    hrefs = [f["assets"]["red"]["href"] for f in refreshed["features"]]
    assert all(
        h == str(catalog.parent / f["collection"] / f["id"] / f"{f['id']}-red.tif")
        for h, f in zip(hrefs, refreshed["features"])
    )


def test_registered_server_is_found_and_dead_ones_pruned(
    make_static_catalog: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EO_HOME", str(tmp_path))
    catalog = make_static_catalog()
    with serve(catalog, register=True) as server:
        found = find_server(catalog.parent)
        assert found is not None and found.url == server.url and not found.owned
        found.stop()  # a reused server is not ours to stop
        assert server.alive()
        servers.register(servers.ServerRecord(pid=2**22 + 12345, port=1, catalog=str(catalog)))  # stale entry
        assert [r.pid for r in servers.running()] == [server.pid]
    assert servers.read() == []  # unregistered on stop
    assert find_server(catalog) is None


def _eo_cli() -> list[str]:
    exe = Path(sys.executable).parent / "eo"
    return [str(exe)] if exe.is_file() else [sys.executable, "-c", "from eo.cli import main; main()"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_cli_serve_prints_url_and_stops_on_signal(
    make_static_catalog: Callable[..., Path], tmp_path: Path, signum: int
) -> None:
    catalog = make_static_catalog()
    env = {**os.environ, "EO_HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [*_eo_cli(), "catalog", "serve", str(catalog.parent)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), proc.stderr.read() if proc.stderr else url
        assert _get(url + "/search")["features"]
        record = json.loads((tmp_path / "servers.json").read_text())["servers"][0]
        # a second `eo catalog serve` of the same catalogue reuses it
        again = subprocess.run(
            [*_eo_cli(), "catalog", "serve", str(catalog)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert again.returncode == 0 and again.stdout.strip() == url
        proc.send_signal(signum)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not servers.pid_alive(record["pid"])
    assert not servers.answers(url)
    assert json.loads((tmp_path / "servers.json").read_text())["servers"] == []
    assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")


def test_cli_serve_busy_port_is_one_line_exit_2(
    make_static_catalog: Callable[..., Path], tmp_path: Path
) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        res = subprocess.run(
            [*_eo_cli(), "catalog", "serve", str(make_static_catalog().parent), "--port", str(port)],
            capture_output=True,
            text=True,
            env={**os.environ, "EO_HOME": str(tmp_path)},
            timeout=60,
        )
    assert res.returncode == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and str(port) in lines[0] and "--port" in lines[0]


def test_startup_is_fast(make_static_catalog: Callable[..., Path]) -> None:
    t0 = time.monotonic()
    with serve(make_static_catalog()) as server:
        assert server.alive()
    assert time.monotonic() - t0 < 15
