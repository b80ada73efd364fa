"""Bad input: properties of every parser at eo's edges, hostile names, and credentials kept out of sight.

* hypothesis properties: whatever text or structure comes in, spec loading, bbox and datetime
  parsing, index formulas and STAC item parsing either succeed with a valid result or raise one of
  eo's typed errors (never a ``KeyError``, ``TypeError``, ``RecursionError``...);
* hostile item ids and asset keys (``../``, absolute paths, odd characters) served by the STAC API
  never make a run write outside its output directory, nor does a hostile id given to the STAC
  writer;
* a signed asset URL (``?token=...``) and a password in a catalogue URL never appear in logs (even
  ``-vv``, text or JSON), error messages, the output STAC, the report or any file of the output.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eo.errors import EOError, InputError
from eo.params import parse_bbox, parse_datetime
from faults.faultkit import POLICY_ENV, FaultServer, eo_cli, eo_env, pipeline_spec, tile_area, write_spec

DATA = Path(__file__).resolve().parents[1] / "data" / "stac"
FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=True)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


# --- parsers: typed error or a valid result ----------------------------------------------------


@FAST
@given(st.one_of(st.text(max_size=60), st.lists(json_values, max_size=6), json_values))
def test_bbox_parsing_is_valid_or_a_typed_error(value: Any) -> None:
    try:
        bbox = parse_bbox(value)
    except EOError:
        return
    if bbox is None:
        assert value is None
        return
    w, s, e, n = bbox
    assert all(math.isfinite(v) for v in bbox)
    assert -180 <= w < e <= 180 and -90 <= s < n <= 90


@FAST
@given(
    st.one_of(
        st.text(max_size=60),
        st.dates().map(str),
        st.datetimes().map(lambda d: d.isoformat()),
        st.tuples(st.text(max_size=25), st.text(max_size=25)).map("/".join),
        json_values,
    )
)
def test_datetime_parsing_is_valid_or_a_typed_error(value: Any) -> None:
    try:
        text = parse_datetime(value)
    except EOError:
        return
    if text is None:
        return
    for part in text.split("/"):
        if part not in ("..", ""):
            dt.datetime.fromisoformat(part.replace("Z", "+00:00"))  # RFC 3339, parseable


@FAST
@given(st.text(alphabet="NRG()+-*/.0123456789 eE,abs%<>=!&|^~[]{}:'\"_", max_size=300))
def test_index_formulas_compile_or_raise_formula_errors(text: str) -> None:
    from eo.errors import FormulaError
    from eo.spectral.formula import compile_formula

    with contextlib.suppress(FormulaError):
        compile_formula(text, {"N", "R", "G"})


def test_deeply_nested_formula_is_a_formula_error_not_a_crash() -> None:
    from eo.errors import FormulaError
    from eo.spectral.formula import compile_formula

    for text in ("-" * 1999 + "N", "N" + "**N" * 600, "abs(" * 150 + "N" + ")" * 150):
        with pytest.raises(FormulaError, match=r"deep|nest"):
            compile_formula(text, {"N"})


def _spec() -> dict[str, Any]:
    return pipeline_spec("http://127.0.0.1:1", [71.2, 51.4, 71.3, 51.5])


def _mutate(doc: Any, path: list[Any], value: Any, delete: bool) -> Any:
    doc = copy.deepcopy(doc)
    node = doc
    for key in path[:-1]:
        if (isinstance(node, dict) and key in node) or (
            isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node)
        ):
            node = node[key]
        else:
            return doc
    last = path[-1] if path else None
    if isinstance(node, dict) and last in node:
        if delete:
            del node[last]
        else:
            node[last] = value
    elif isinstance(node, list) and isinstance(last, int) and 0 <= last < len(node):
        node[last] = value
    return doc


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[list[Any]]:
    out = [list(prefix)] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


SPEC_PATHS = _paths(_spec())


@FAST
@given(st.sampled_from(SPEC_PATHS), json_values, st.booleans())
def test_spec_loading_is_a_spec_or_a_spec_error(path: list[Any], value: Any, delete: bool) -> None:
    from eo.errors import ConfigError
    from eo.pipeline.spec import parse_spec

    try:
        spec = parse_spec(_mutate(_spec(), path, value, delete))
    except ConfigError:
        return
    assert spec.start <= spec.end and spec.name


@FAST
@given(st.text(max_size=400))
def test_spec_text_is_a_spec_or_a_spec_error_with_its_line(tmp_path_factory: Any, text: str) -> None:
    from eo.errors import PipelineSpecError
    from eo.pipeline.spec import load_spec

    path = tmp_path_factory.mktemp("spec") / "fuzz.yaml"
    path.write_text(text)
    with pytest.raises(PipelineSpecError) as caught:
        load_spec(path)
    assert str(caught.value).startswith(str(path))


def test_impossible_date_is_refused_with_its_line(tmp_path: Path) -> None:
    from eo.errors import PipelineSpecError
    from eo.pipeline.spec import load_spec

    spec = _spec()
    spec["period"]["start"] = "2015-02-30"
    path = write_spec(tmp_path / "feb30.yaml", spec)
    line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if "2015-02-30" in t)
    with pytest.raises(PipelineSpecError, match=rf"feb30.yaml:{line}: period.start: .*2015-02-30"):
        load_spec(path)


ITEMS = sorted(p for p in DATA.rglob("*.json") if p.name not in ("index.json",))


@pytest.fixture(scope="module")
def recorded() -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in ITEMS[:12]]


@FAST
@given(st.data())
def test_stac_item_parsing_is_a_parsed_item_or_a_typed_error(
    recorded: list[dict[str, Any]], data: Any
) -> None:
    from eo.catalog.parse import parse_item

    item = data.draw(st.sampled_from(recorded))
    path = data.draw(st.sampled_from(_paths(item)))
    mutated = _mutate(item, path, data.draw(json_values), data.draw(st.booleans()))
    try:
        parsed = parse_item(mutated)
    except EOError:
        return
    assert parsed.id == str(mutated.get("id", "?"))


# --- hostile names ------------------------------------------------------------------------------

HOSTILE = [
    "../../../escaped",
    "/tmp/absolute",
    "..",
    "a/b/../../c",
    "x\\..\\y",
    "id with spaces",
    "é☃\u202e",
    ".hidden",
]


def test_hostile_ids_and_asset_keys_never_write_outside_the_output(
    scene_server: Any, scene_catalog: Path, tmp_path: Path
) -> None:
    """Every input item's id and an extra asset's key are hostile; the run writes only inside its output."""
    names = iter(HOSTILE * 3)

    def hostile(feat: dict[str, Any]) -> dict[str, Any]:
        feat["id"] = next(names) + feat["id"][-12:]
        feat["assets"]["../../../../tmp/evil-key"] = {"href": "/etc/passwd", "roles": ["metadata"]}
        return feat

    work = tmp_path / "work"
    out = work / "out"
    work.mkdir()
    before = {p for p in tmp_path.parent.rglob("*")}
    proxy = FaultServer(scene_server.url, scene_catalog.parent, transform=hostile)
    try:
        spec = write_spec(work / "hostile.yaml", pipeline_spec(proxy.url, tile_area(scene_catalog, 1, 1)))
        res = eo_cli(["run", str(spec), "--out", str(out), "--cluster", "threads"], eo_env(tmp_path / "home"))
    finally:
        proxy.close()
    assert res.returncode in (0, 1, 2), res.stderr
    assert "Traceback" not in res.stderr
    new = {p for p in tmp_path.parent.rglob("*")} - before
    allowed = (work, tmp_path / "home")
    outside = sorted(str(p) for p in new if not any(p == a or a in p.parents for a in allowed))
    assert outside == []
    assert not Path("/tmp/absolute").exists() and not Path("/tmp/evil-key").exists()
    if res.returncode == 0:
        report = json.loads((out / "report.json").read_text())
        assert any(s["id"].startswith("../../../escaped") for s in report["scenes"])


@FAST
@given(st.text(min_size=1, max_size=40))
def test_stac_writer_refuses_ids_that_are_not_file_names(tmp_path_factory: Any, item_id: str) -> None:
    import pystac

    from eo.io.stac import write_catalog

    root = tmp_path_factory.mktemp("stac")
    out = root / "out"
    item = pystac.Item(item_id, None, None, dt.datetime(2025, 6, 1, tzinfo=dt.UTC), {})
    try:
        write_catalog([item], out, "c")
    except InputError:
        assert not out.exists() or not any(out.iterdir())
        return
    written = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
    assert written == sorted([Path("out/collection.json"), Path("out") / item_id / f"{item_id}.json"])


# --- credentials ---------------------------------------------------------------------------------

SECRET = "S3CR3T-t0k3n-value"


def test_signed_urls_and_tokens_never_show(scene_server: Any, scene_catalog: Path, tmp_path: Path) -> None:
    """Assets are signed (the file server needs ``?token=``); one is missing, so errors quote its URL.

    Once in this process (threads, text logs), once with Dask worker processes (JSON logs): their
    logs and the errors they send back are redacted too, and the scene is left out either way.
    """
    proxy = FaultServer(scene_server.url, scene_catalog.parent, token=SECRET)
    try:
        june25 = "S2A_42UXB_20250625_0_L2A"
        proxy.add("status", f"/files/{proxy.namespace}/sentinel-2-l2a/{june25}/B04.tif", code=404)
        spec = write_spec(tmp_path / "signed.yaml", pipeline_spec(proxy.url, tile_area(scene_catalog, 1, 1)))
        outputs = []
        runs = (("text", "-vv", ["--cluster", "threads"]), ("json", "-v", []))  # json: Dask worker processes
        for fmt, verbose, cluster in runs:
            out = tmp_path / f"out-{fmt}"
            args = [verbose, "--log-format", fmt, "run", str(spec), "--out", str(out), *cluster]
            res = eo_cli(args, eo_env(tmp_path / "home"))
            assert res.returncode == 1, res.stderr  # the scene is left out
            assert june25 in res.stderr
            if verbose == "-vv":
                assert "token=***" in res.stderr  # the failed read was logged, with its credential masked
            outputs.append((out, res.stdout + res.stderr))
        broken = f"http://user:{SECRET}@127.0.0.1:9/stac?token={SECRET}"
        search = eo_cli(["search", "--catalog", broken], eo_env(tmp_path / "home", EO_RETRY=POLICY_ENV))
        assert search.returncode == 2
        outputs.append((None, search.stdout + search.stderr))
    finally:
        proxy.close()
    for out, text in outputs:
        assert SECRET not in text
        if out is None:
            continue
        report = json.loads((out / "report.json").read_text())
        assert any(r["left_out"] for r in report["results"])
        for p in out.rglob("*"):
            if p.is_file():
                assert SECRET.encode() not in p.read_bytes(), p


@FAST
@given(
    st.sampled_from(
        ["token", "sig", "X-Amz-Signature", "access_token", "apiKey", "password", "SessionToken"]
    ),
    st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789%-_", min_size=8, max_size=40
    ),
    st.sampled_from(
        ["https://data.example.org/a/B04.tif", "http://127.0.0.1:8080/search", "s3://bucket/key.tif"]
    ),
    st.sampled_from(["cannot read {} (404)", "GET {}: HTTP 503", "{}", "see <{}>."]),
)
def test_redaction_removes_every_credential_value(name: str, value: str, base: str, template: str) -> None:
    from eo.redact import redact

    url = f"{base}?bbox=1,2,3,4&{name}={value}&limit=10"
    text = redact(template.format(url))
    assert value not in text
    assert "bbox=1,2,3,4" in text and "limit=10" in text  # what is not a credential stays readable


def test_load_of_an_area_outside_every_item_is_an_error(scene_catalog: Path) -> None:
    import pystac

    import eo
    from eo.errors import NoDataError

    items = list(pystac.Catalog.from_file(str(scene_catalog)).get_items(recursive=True))
    with pytest.raises(NoDataError, match="misses every item"):
        eo.load(items, bands=["red"], bbox=(10.0, 45.0, 10.1, 45.1))
    inside = tile_area(scene_catalog, 1, 1)
    assert eo.load(items, bands=["red"], bbox=inside).red.shape[1:] > (0, 0)
