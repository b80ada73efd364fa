"""Sensor profiles: packaged files validate, bad files fail naming the key, identification of real items."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

import eo.sensors as sensors
from eo.errors import BandNotFoundError, SensorProfileError, UnknownSensorError
from eo.sensors.registry import PACKAGE_DIR, load_profile

PACKAGED = sorted(PACKAGE_DIR.glob("*.yaml"))


@pytest.fixture(autouse=True)
def _fresh_registry(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv("EO_SENSOR_PATH", raising=False)
    sensors.clear_cache()
    yield
    sensors.clear_cache()


# --- packaged profiles --------------------------------------------------------------------


def test_packaged_profiles_are_the_expected_ones() -> None:
    assert {p.stem for p in PACKAGED} == {
        "sentinel-2-msi",
        "landsat-7-etm",
        "landsat-8-oli-tirs",
        "landsat-9-oli-tirs",
        "kazeosat-1",
        "kazeosat-2",
    }
    assert set(sensors.profiles()) == {p.stem for p in PACKAGED}
    assert set(sensors.get("landsat-8-oli-tirs").products) == {"l1-precollection", "c1-l1", "c2-l1", "c2-l2"}
    assert set(sensors.get("sentinel-2-msi").products) == {"l1c", "l2a"}


@pytest.mark.parametrize("path", PACKAGED, ids=lambda p: p.name)
def test_packaged_profile_loads_validates_and_cites(path: Path) -> None:
    profile = load_profile(path)
    assert profile.id == path.stem
    assert profile.references, "every profile cites its sources"
    assert profile.source == str(path)
    for band in profile.bands:
        assert band.resolution is None or band.resolution > 0
        if band.kind == "measurement":
            assert band.center_wavelength is not None and band.full_width_half_max is not None
    for product in profile.products.values():
        assert product.match, "every packaged product can be identified from item properties"
        if product.qa is not None:
            assert profile.band(product.qa.band).kind == "qa"


def _spyndex_bands() -> dict[str, Any]:
    import importlib.util

    spec = importlib.util.find_spec("spyndex")
    assert spec is not None and spec.origin is not None
    return json.loads((Path(spec.origin).parent / "data" / "bands.json").read_text())


@pytest.mark.parametrize(
    ("profile_id", "platform"), [("sentinel-2-msi", "sentinel2a"), ("landsat-8-oli-tirs", "landsat8")]
)
def test_asi_symbols_agree_with_spyndex_wavelengths(profile_id: str, platform: str) -> None:
    """Independent check: each band's ASI symbol is the spyndex band of that platform within 10 nm."""
    profile = sensors.get(profile_id)
    checked = 0
    for symbol, info in _spyndex_bands().items():
        entry = (info.get("platforms") or {}).get(platform)
        mine = [b for b in profile.bands if b.asi == symbol]
        if entry is None or not mine:
            continue
        centre = mine[0].center_wavelength
        assert centre is not None and abs(centre * 1000 - entry["wavelength"]) < 10, (symbol, mine[0].name)
        checked += 1
    assert checked >= 8


def test_landsat8_nir_is_asi_n_and_spyndex_narrow_nir_is_the_same_band() -> None:
    b5 = sensors.get("landsat-8-oli-tirs").band("nir")
    assert (b5.name, b5.asi, b5.common_name) == ("B5", "N", "nir08")
    assert _spyndex_bands()["N2"]["platforms"]["landsat8"]["band"] == "B5"


@pytest.mark.parametrize(
    ("profile_id", "key", "name"),
    [
        ("sentinel-2-msi", "red", "B04"),
        ("sentinel-2-msi", "B4", "B04"),
        ("sentinel-2-msi", "b04_10m", "B04"),
        ("sentinel-2-msi", "nir08", "B8A"),
        ("sentinel-2-msi", "scl", "SCL"),
        ("sentinel-2-msi", "qa", "SCL"),
        ("landsat-8-oli-tirs", "SR_B4", "B4"),
        ("landsat-8-oli-tirs", "red", "B4"),
        ("landsat-8-oli-tirs", "qa_pixel", "QA"),
        ("landsat-8-oli-tirs", "BQA", "QA"),
        ("landsat-8-oli-tirs", "lwir11", "B10"),
        ("landsat-7-etm", "nir08", "B4"),
        ("landsat-7-etm", "lwir", "B6"),
        ("kazeosat-2", "rededge", "B4"),
    ],
)
def test_band_lookup_by_provider_keys(profile_id: str, key: str, name: str) -> None:
    assert sensors.get(profile_id).band(key).name == name


def test_band_lookup_error_lists_bands() -> None:
    with pytest.raises(BandNotFoundError, match="B04/red"):
        sensors.get("sentinel-2-msi").band("thermal")


def test_landsat_calibration_values() -> None:
    _, pre = sensors.get_product("landsat-8-oli-tirs:l1-precollection")
    assert all(pre.bands[f"B{i}"].reflectance_mult == 2.0e-5 for i in range(1, 10))
    assert all(pre.bands[f"B{i}"].reflectance_add == -0.1 for i in range(1, 10))
    assert pre.bands["B10"].k1 == pytest.approx(774.8853) and pre.bands["B11"].k2 == pytest.approx(1201.1442)
    _, l2 = sensors.get_product("landsat-8-oli-tirs:c2-l2")
    assert (l2.scale, l2.offset, l2.nodata, l2.state) == (2.75e-05, -0.2, 0.0, "surface_reflectance")
    assert (l2.bands["B10"].scale, l2.bands["B10"].offset) == (0.00341802, 149.0)
    _, s2 = sensors.get_product("sentinel-2-msi:l2a")
    assert (s2.scale, s2.offset, s2.nodata) == (1e-4, 0.0, 0.0)
    assert sensors.get_product("sentinel-2-msi:l1c")[1].qa is None


def test_get_and_get_product_errors() -> None:
    assert sensors.get("Sentinel-2-MSI").id == "sentinel-2-msi"
    with pytest.raises(UnknownSensorError, match=r"known profiles: .*sentinel-2-msi"):
        sensors.get("spot-7")
    with pytest.raises(UnknownSensorError, match="its products: l1c, l2a"):
        sensors.get_product("sentinel-2-msi:l3")
    with pytest.raises(UnknownSensorError, match="'sensor:product'"):
        sensors.get_product("sentinel-2-msi")


# --- invalid profiles --------------------------------------------------------------------

BASE = yaml.safe_load((PACKAGE_DIR / "kazeosat-2.yaml").read_text())


def _set(path: list[Any], value: Any) -> Any:
    def mutate(doc: dict[str, Any]) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _drop(key: str) -> Any:
    return lambda doc: doc.pop(key)


BAD = [
    (
        _set(["bands", 3, "resolution"], "ten"),
        "bands[3].resolution: expected a number > 0, found 'ten'",
    ),
    (
        _set(["bands", 0, "center_wavelength"], 0),
        "bands[0].center_wavelength: expected a number > 0, found 0",
    ),
    (_set(["bands", 2, "colour"], "red"), "bands[2].colour: unknown key 'colour'"),
    (_drop("version"), "missing required key 'version'"),
    (_set(["products", "l1", "state"], "reflectance"), "products.l1.state: expected one of 'dn'"),
    (
        _set(["products", "l1", "nodata"], "zero"),
        "products.l1.nodata: expected a number or null, found 'zero'",
    ),
    (_set(["products", "l2a", "qa", "band"], "QA_PIXEL"), "products.l2a.qa.band: no band 'QA_PIXEL'"),
    (_set(["products", "l2a", "qa", "band"], "B1"), "products.l2a.qa.band: band 'B1' has kind 'measurement'"),
    (
        _set(["products", "l2a", "qa", "classes", "clouds"], [2]),
        "products.l2a.qa.classes.clouds: unknown mask class",
    ),
    (_set(["bands", 1, "aliases"], ["red"]), "key 'red' of band 'B3' is already used by band 'B2'"),
    (_set(["bands", 0, "asi"], "BLU"), "bands[0].asi: expected an Awesome-Spectral-Indices band symbol"),
    (
        _set(
            ["products", "l2a", "qa"],
            {"band": "CLOUD", "kind": "bits", "bits": {"cloud": [{"bit": 15, "width": 2}]}},
        ),
        "products.l2a.qa.bits.cloud[0]: bits 15..16 do not fit in 16 bits",
    ),
    (
        _set(
            ["products", "l2a", "qa"],
            {"band": "CLOUD", "kind": "bits", "bits": {"cloud": [{"bit": 4, "values": [2]}]}},
        ),
        "products.l2a.qa.bits.cloud[0].values: [2] do not fit in a field of width 1",
    ),
    (
        _set(["products", "l2a", "qa"], {"band": "CLOUD", "kind": "bits", "bits": {"cloud": [{"bit": "x"}]}}),
        "products.l2a.qa.bits.cloud[0].bit: expected an integer >= 0 <= 15, found 'x'",
    ),
    (_set(["products", "l2a", "bands"], {"B9": {"scale": 1.0}}), "products.l2a.bands.B9: no band named 'B9'"),
    (_set(["products", "l2a", "match", "platform"], 5), "products.l2a.match.platform: expected a list"),
    (_set(["id"], "Kaz EO"), "id: expected a string matching"),
]


@pytest.mark.parametrize(("mutate", "expected"), BAD, ids=[b[1][:50] for b in BAD])
def test_bad_profile_errors_name_file_and_key(tmp_path: Path, mutate: Any, expected: str) -> None:
    doc = copy.deepcopy(BASE)
    mutate(doc)
    path = tmp_path / "kazeosat-2.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(SensorProfileError) as info:
        load_profile(path)
    message = str(info.value)
    assert re.match(rf"{re.escape(str(path))}:\d+: ", message), message  # file:line: key: what
    assert expected in message
    line = int(message.split(":")[1])
    key_path = expected.split(": ")[0]
    last = re.findall(r"[A-Za-z_][\w]*", key_path.rsplit(".", 1)[-1])
    if (
        ":" in expected
        and last
        and not key_path.endswith("]")
        and not expected.startswith(("missing", "key "))
    ):
        assert last[0] in path.read_text().splitlines()[line - 1], (line, last[0])  # the line of that key


def test_yaml_syntax_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("id: broken\nbands: [\n")
    with pytest.raises(SensorProfileError, match=r"broken\.yaml:3: not valid YAML"):
        load_profile(path)


# --- user profiles (EO_SENSOR_PATH) -------------------------------------------------------


def _user_profile(directory: Path, pid: str, name: str = "User sensor", filename: str | None = None) -> Path:
    doc = copy.deepcopy(BASE)
    doc["id"], doc["name"] = pid, name
    for product in doc["products"].values():
        product["match"] = {"collection": [f"{pid}-{product['state']}"], "platform": [pid]}
    path = directory / (filename or f"{pid}.yaml")
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_user_profile_in_sensor_path_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "kazeosat-3" not in sensors.profiles()
    _user_profile(tmp_path, "kazeosat-3")
    monkeypatch.setenv("EO_SENSOR_PATH", str(tmp_path))
    # no clear_cache(): a changed EO_SENSOR_PATH reloads on its own
    profile = sensors.get("kazeosat-3")
    assert profile.source == str(tmp_path / "kazeosat-3.yaml")
    found, product = sensors.identify({"platform": "KazEOSat-3"}, collection="kazeosat-3-surface_reflectance")
    assert (found.id, product.id) == ("kazeosat-3", "l2a")
    monkeypatch.delenv("EO_SENSOR_PATH")
    assert "kazeosat-3" not in sensors.profiles()


def test_user_profile_overrides_packaged_id_and_first_dir_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    _user_profile(first, "kazeosat-2", name="first", filename="mine.yml")
    _user_profile(second, "kazeosat-2", name="second")
    monkeypatch.setenv("EO_SENSOR_PATH", f"{first}:{second}")
    assert sensors.get("kazeosat-2").name == "first"
    monkeypatch.setenv("EO_SENSOR_PATH", str(second))
    assert sensors.get("kazeosat-2").name == "second"


def test_user_profiles_are_schema_validated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _user_profile(tmp_path, "kazeosat-9")
    doc = yaml.safe_load(path.read_text())
    doc["bands"][0]["resolution"] = "ten metres"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    monkeypatch.setenv("EO_SENSOR_PATH", str(tmp_path))
    with pytest.raises(SensorProfileError, match=r"kazeosat-9\.yaml:\d+: bands\[0\]\.resolution"):
        sensors.profiles()


def test_packaged_profiles_load_without_jsonschema() -> None:
    # the shipped files are schema-validated by test_packaged_profile_loads_validates_and_cites
    code = "import sys, eo.sensors as s; s.profiles(); print('jsonschema' in sys.modules)"
    env = _env_without_path()
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "False"


def _env_without_path() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "EO_SENSOR_PATH"}


def test_duplicate_ids_in_one_directory_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _user_profile(tmp_path, "dup", filename="one.yaml")
    _user_profile(tmp_path, "dup", filename="two.yaml")
    monkeypatch.setenv("EO_SENSOR_PATH", str(tmp_path))
    with pytest.raises(
        SensorProfileError, match=r"two\.yaml: id: profile id 'dup' is already defined by one\.yaml"
    ):
        sensors.profiles()


# --- identification ------------------------------------------------------------------------
# Property dicts copied (trimmed) from real items: Earth Search v1 S2A_39QTA_20230628_0_L2A, the USGS
# landsatlook item LC08_L2SP_204031_20170106_20200905_02_T1_SR, the stactools-landsat example
# LC09_L2SP_010065_20220129_02_T1 (as served by Planetary Computer landsat-c2-l2), and Planetary
# Computer's sentinel-2-l2a property conventions.

EARTH_SEARCH_S2_L2A = {
    "platform": "sentinel-2a",
    "constellation": "sentinel-2",
    "instruments": ["msi"],
    "eo:cloud_cover": 4.025136,
    "s2:product_type": "S2MSI2A",
    "s2:processing_baseline": "05.09",
    "earthsearch:boa_offset_applied": True,
    "datetime": "2023-06-28T07:24:41.632000Z",
}
EARTH_SEARCH_S2_L1C = {**EARTH_SEARCH_S2_L2A, "s2:product_type": "S2MSI1C"}
del EARTH_SEARCH_S2_L1C["earthsearch:boa_offset_applied"]
PC_S2_L2A = {
    "platform": "Sentinel-2B",
    "constellation": "Sentinel 2",
    "instruments": ["msi"],
    "s2:product_type": "MSIL2A",
    "s2:processing_baseline": "05.10",
    "s2:mgrs_tile": "42TVL",
    "eo:cloud_cover": 0.5,
}
CDSE_S2_L2A = {
    "platform": "sentinel-2c",
    "constellation": "sentinel-2",
    "instruments": ["msi"],
    "processing:level": "L2",
    "product:type": "S2MSI2A",
}
USGS_L8_C2_L2 = {
    "datetime": "2017-01-06T11:13:55.122499Z",
    "platform": "LANDSAT_8",
    "instruments": ["OLI", "TIRS"],
    "eo:cloud_cover": 15.03,
    "landsat:wrs_row": "031",
    "landsat:scene_id": "LC82040312017006LGN02",
    "landsat:correction": "L2SP",
    "landsat:collection_number": "02",
    "landsat:collection_category": "T1",
}
PC_L9_C2_L2 = {
    "platform": "landsat-9",
    "instruments": ["oli", "tirs"],
    "eo:cloud_cover": 21.12,
    "landsat:collection_category": "T1",
    "landsat:collection_number": "02",
    "landsat:correction": "L2SP",
    "landsat:scene_id": "LC90100652022029LGN00",
}
PC_L7_C2_L2 = {
    "platform": "landsat-7",
    "instruments": ["etm+"],
    "landsat:collection_number": "02",
    "landsat:correction": "L2SP",
}
USGS_RT_NO_LEVEL = {
    "platform": "LANDSAT_8",
    "eo:instrument": ["OLI", "TIRS"],
    "landsat:collection_category": "RT",
    "landsat:collection_number": "02",
}


@pytest.mark.parametrize(
    ("properties", "collection", "expected"),
    [
        (EARTH_SEARCH_S2_L2A, "sentinel-2-l2a", "sentinel-2-msi:l2a"),
        (EARTH_SEARCH_S2_L2A, "sentinel-2-c1-l2a", "sentinel-2-msi:l2a"),
        (EARTH_SEARCH_S2_L2A, None, "sentinel-2-msi:l2a"),
        (EARTH_SEARCH_S2_L1C, "sentinel-2-l1c", "sentinel-2-msi:l1c"),
        (PC_S2_L2A, "sentinel-2-l2a", "sentinel-2-msi:l2a"),
        (CDSE_S2_L2A, "sentinel-2-l2a", "sentinel-2-msi:l2a"),
        (USGS_L8_C2_L2, "landsat-c2l2-sr", "landsat-8-oli-tirs:c2-l2"),
        (USGS_L8_C2_L2, "landsat-c2l2-st", "landsat-8-oli-tirs:c2-l2"),
        (PC_L9_C2_L2, "landsat-c2-l2", "landsat-9-oli-tirs:c2-l2"),
        (PC_L7_C2_L2, "landsat-c2-l2", "landsat-7-etm:c2-l2"),
        ({**USGS_L8_C2_L2, "landsat:correction": "L1TP"}, "landsat-c2l1", "landsat-8-oli-tirs:c2-l1"),
        (
            {
                "eo:platform": "landsat-8",
                "landsat:collection_number": "01",
                "landsat:collection_category": "T1",
            },
            "landsat-8-l1-c1",
            "landsat-8-oli-tirs:c1-l1",
        ),
        (
            {"platform": "landsat-8", "instruments": ["oli", "tirs"]},
            "landsat-8-l1",
            "landsat-8-oli-tirs:l1-precollection",
        ),
        ({"collection": "landsat-c2-l2", **PC_L9_C2_L2}, None, "landsat-9-oli-tirs:c2-l2"),
        ({"platform": "kazeosat-2", "processing:level": "L1B"}, None, "kazeosat-2:l1"),
    ],
)
def test_identify_real_item_properties(
    properties: dict[str, Any], collection: str | None, expected: str
) -> None:
    profile, product = sensors.identify(properties, collection)
    assert f"{profile.id}:{product.id}" == expected


def test_eotk_sensor_property_wins() -> None:
    props = {**USGS_L8_C2_L2, "eotk:sensor": "landsat-8-oli-tirs:l1-precollection"}
    profile, product = sensors.identify(props, "landsat-c2l2-sr")
    assert (profile.id, product.id) == ("landsat-8-oli-tirs", "l1-precollection")
    with pytest.raises(UnknownSensorError, match="no product 'l9'"):
        sensors.identify({"eotk:sensor": "landsat-8-oli-tirs:l9"})


def test_identify_unknown_lists_profiles_and_what_the_item_said() -> None:
    with pytest.raises(UnknownSensorError) as info:
        sensors.identify({"platform": "SPOT-7", "instruments": ["naomi"]}, "spot-7-l1")
    message = str(info.value)
    assert "collection=spot-7-l1" in message and "platform=spot-7" in message
    assert "sentinel-2-msi (l1c, l2a)" in message and "eotk:sensor" in message


def test_identify_ambiguous_item_raises_instead_of_guessing() -> None:
    with pytest.raises(UnknownSensorError, match=r"several sensor products.*c2-l1.*c2-l2"):
        sensors.identify(USGS_RT_NO_LEVEL)


def test_contradicting_processing_level_excludes_a_product() -> None:
    # the collection says L1C but the product type says L2A: the product type (not positive-only) decides
    _, product = sensors.identify(EARTH_SEARCH_S2_L2A, "sentinel-2-l1c")
    assert product.id == "l2a"


# --- CLI -------------------------------------------------------------------------------------


def test_cli_lists_and_shows_profiles() -> None:
    from eo.cli import main

    runner = CliRunner()
    listing = runner.invoke(main, ["sensors"])
    assert listing.exit_code == 0, listing.output
    assert (
        "landsat-8-oli-tirs\tLandsat 8 OLI/TIRS\tproducts: l1-precollection, c1-l1, c2-l1, c2-l2"
        in listing.output
    )
    shown = runner.invoke(main, ["sensors", "show", "sentinel-2-msi"])
    assert shown.exit_code == 0, shown.output
    assert (
        "B04" in shown.output and "qa: band SCL (classes)" in shown.output and "references:" in shown.output
    )
    missing = runner.invoke(main, ["sensors", "show", "spot-7"])
    assert missing.exit_code == 2 and "unknown sensor profile 'spot-7'" in missing.output
