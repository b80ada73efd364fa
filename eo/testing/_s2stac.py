"""STAC JSON of the synthetic Sentinel-2 L2A data, shaped like Earth Search ``sentinel-2-l2a`` (pure).

Items are STAC 1.1.0 with the eo, raster, projection (v2: ``proj:code``), view, mgrs and grid
extensions, Earth Search asset keys (``blue, green, red, nir, swir16, swir22, scl``), titles
and ``raster:bands`` (nodata 0, uint16, scale 0.0001, offset -0.1: the BOA offset of processing
baseline >= 04.00, ``earthsearch:boa_offset_applied`` false: the DNs still carry the offset),
plus ``eotk:sensor``.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

STAC_VERSION = "1.1.0"
EXTENSIONS = [
    "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
    "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
    "https://stac-extensions.github.io/view/v1.0.0/schema.json",
    "https://stac-extensions.github.io/mgrs/v1.0.0/schema.json",
    "https://stac-extensions.github.io/grid/v1.1.0/schema.json",
    "https://stac-extensions.github.io/processing/v1.1.0/schema.json",
]
COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
COLLECTION_ID = "sentinel-2-l2a"
SENSOR_ID = "sentinel-2-msi:l2a"
PROCESSING_BASELINE = "05.10"

#: asset key -> (file stem, title, description, centre wavelength um, FWHM um); scl has no eo:bands.
ASSETS: dict[str, tuple[str, str, str, float, float]] = {
    "blue": ("B02", "Blue (band 2) - 10m", "Blue (band 2)", 0.49, 0.098),
    "green": ("B03", "Green (band 3) - 10m", "Green (band 3)", 0.56, 0.045),
    "red": ("B04", "Red (band 4) - 10m", "Red (band 4)", 0.665, 0.038),
    "nir": ("B08", "NIR 1 (band 8) - 10m", "NIR 1 (band 8)", 0.842, 0.145),
    "swir16": ("B11", "SWIR 1 (band 11) - 20m", "SWIR 1 (band 11)", 1.61, 0.143),
    "swir22": ("B12", "SWIR 2 (band 12) - 20m", "SWIR 2 (band 12)", 2.19, 0.242),
    "scl": ("SCL", "Scene classification map (SCL)", "", 0.0, 0.0),
}
#: SCL code -> Earth Search ``s2:*_percentage`` property.
SCL_PERCENTAGES = {
    1: "s2:saturated_defective_pixel_percentage",
    2: "s2:dark_features_percentage",
    3: "s2:cloud_shadow_percentage",
    4: "s2:vegetation_percentage",
    5: "s2:not_vegetated_percentage",
    6: "s2:water_percentage",
    7: "s2:unclassified_percentage",
    8: "s2:medium_proba_clouds_percentage",
    9: "s2:high_proba_clouds_percentage",
    10: "s2:thin_cirrus_percentage",
    11: "s2:snow_ice_percentage",
}


def sun_angles(lat: float, lon: float, when: datetime) -> tuple[float, float]:
    """Solar (elevation, azimuth) in degrees at ``when`` (UTC), NOAA low-accuracy formulae."""
    hour = when.hour + when.minute / 60 + when.second / 3600
    g = 2 * math.pi / 365 * (when.timetuple().tm_yday - 1 + (hour - 12) / 24)
    decl = (
        0.006918
        - 0.399912 * math.cos(g)
        + 0.070257 * math.sin(g)
        - 0.006758 * math.cos(2 * g)
        + 0.000907 * math.sin(2 * g)
        - 0.002697 * math.cos(3 * g)
        + 0.00148 * math.sin(3 * g)
    )
    eqtime = 229.18 * (
        0.000075
        + 0.001868 * math.cos(g)
        - 0.032077 * math.sin(g)
        - 0.014615 * math.cos(2 * g)
        - 0.040849 * math.sin(2 * g)
    )
    ha = math.radians((hour * 60 + eqtime + 4 * lon) / 4 - 180)
    phi = math.radians(lat)
    cos_zen = math.sin(phi) * math.sin(decl) + math.cos(phi) * math.cos(decl) * math.cos(ha)
    elevation = 90 - math.degrees(math.acos(max(-1.0, min(1.0, cos_zen))))
    azimuth = math.degrees(
        math.atan2(math.sin(ha), math.cos(ha) * math.sin(phi) - math.tan(decl) * math.cos(phi))
    )
    return elevation, (azimuth + 180) % 360


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def asset_dict(
    key: str, href: str, crs: str, shape: tuple[int, int], transform: list[float]
) -> dict[str, Any]:
    """One Earth Search-like asset (``proj:*`` and ``raster:bands`` of its own grid)."""
    _, title, description, wavelength, fwhm = ASSETS[key]
    res = transform[0]
    x0, y0 = transform[2], transform[5]
    out: dict[str, Any] = {"href": href, "type": COG_TYPE, "title": title}
    if key != "scl":
        out["eo:bands"] = [
            {
                "name": key,
                "common_name": key,
                "description": description,
                "center_wavelength": wavelength,
                "full_width_half_max": fwhm,
            }
        ]
        out["gsd"] = res
    out |= {
        "proj:code": crs,
        "proj:shape": list(shape),
        "proj:bbox": [x0, y0 - shape[0] * res, x0 + shape[1] * res, y0],
        "proj:transform": transform,
    }
    if key == "scl":
        out["raster:bands"] = [{"nodata": 0, "data_type": "uint8", "spatial_resolution": res}]
    else:
        out["raster:bands"] = [
            {
                "nodata": 0,
                "data_type": "uint16",
                "bits_per_sample": 15,
                "spatial_resolution": res,
                "scale": 0.0001,
                "offset": -0.1,
            }
        ]
    out["roles"] = ["data", "reflectance"]
    return out


def item_dict(
    *,
    item_id: str,
    when: datetime,
    platform: str,
    mgrs_tile: str,
    geometry: dict[str, Any],
    bbox: list[float],
    sun: tuple[float, float],
    scl_counts: dict[int, int],
    assets: dict[str, dict[str, Any]],
    crs: str,
    links: list[dict[str, Any]],
) -> dict[str, Any]:
    """Build a complete item; ``eo:cloud_cover`` and the ``s2:*_percentage`` come from the SCL histogram.

    As in Sen2Cor, percentages are of the valid (SCL != 0) pixels and the cloud cover is
    medium + high probability clouds + thin cirrus (codes 8, 9, 10).
    """
    total = sum(scl_counts.values())
    valid = total - scl_counts.get(0, 0)

    def pct(*codes: int) -> float:
        return round(100.0 * sum(scl_counts.get(c, 0) for c in codes) / valid, 6) if valid else 0.0

    stamp = when.strftime("%Y%m%dT%H%M%S")
    produced = when + timedelta(hours=2, minutes=17, seconds=31)
    sat = platform[-1].upper()
    zone, band, square = mgrs_tile[:2], mgrs_tile[2], mgrs_tile[3:]
    props: dict[str, Any] = {
        "created": _iso(when + timedelta(hours=9)),
        "platform": platform,
        "constellation": "sentinel-2",
        "instruments": ["msi"],
        "eo:cloud_cover": pct(8, 9, 10),
        "proj:code": crs,
        "mgrs:utm_zone": int(zone),
        "mgrs:latitude_band": band,
        "mgrs:grid_square": square,
        "grid:code": f"MGRS-{mgrs_tile}",
        "view:sun_azimuth": round(sun[1], 6),
        "view:sun_elevation": round(sun[0], 6),
        "s2:degraded_msi_data_percentage": 0,
        "s2:nodata_pixel_percentage": round(100.0 * scl_counts.get(0, 0) / total, 6) if total else 0.0,
    }
    props |= {name: pct(code) for code, name in SCL_PERCENTAGES.items()}
    props |= {
        "s2:product_type": "S2MSI2A",
        "s2:processing_baseline": PROCESSING_BASELINE,
        "s2:product_uri": f"S2{sat}_MSIL2A_{stamp}_N0510_R091_T{mgrs_tile}_{produced:%Y%m%dT%H%M%S}.SAFE",
        "s2:generation_time": _iso(produced),
        "s2:datatake_type": "INS-NOBS",
        "s2:sequence": "0",
        "datetime": _iso(when),
        "earthsearch:boa_offset_applied": False,  # stored DNs still carry the +1000 offset
        "processing:software": {"eo.testing.synthetic": "1"},
        "eotk:sensor": SENSOR_ID,
        "updated": _iso(when + timedelta(hours=9)),
    }
    return {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": EXTENSIONS,
        "id": item_id,
        "geometry": geometry,
        "bbox": bbox,
        "properties": props,
        "links": links,
        "assets": assets,
        "collection": COLLECTION_ID,
    }


def collection_dict(
    bbox: list[float], start: datetime, end: datetime, links: list[dict[str, Any]]
) -> dict[str, Any]:
    """Build the ``sentinel-2-l2a`` collection covering the generated items."""
    return {
        "type": "Collection",
        "stac_version": STAC_VERSION,
        "stac_extensions": [],
        "id": COLLECTION_ID,
        "title": "Sentinel-2 Level-2A (synthetic)",
        "description": "Synthetic Sentinel-2 L2A surface reflectance generated by eo.testing.synthetic, "
        "laid out like Earth Search's sentinel-2-l2a (COGs, BOA offset of processing baseline 04.00+).",
        "license": "CC-BY-4.0",
        "keywords": ["sentinel", "copernicus", "esa", "msi", "l2a", "synthetic"],
        "extent": {"spatial": {"bbox": [bbox]}, "temporal": {"interval": [[_iso(start), _iso(end)]]}},
        "summaries": {
            "platform": ["sentinel-2a", "sentinel-2b"],
            "constellation": ["sentinel-2"],
            "instruments": ["msi"],
            "gsd": [10, 20],
        },
        "links": links,
    }


def catalog_dict(links: list[dict[str, Any]]) -> dict[str, Any]:
    """Build the root catalogue."""
    return {
        "type": "Catalog",
        "stac_version": STAC_VERSION,
        "id": "eo-synthetic",
        "title": "eo synthetic test data",
        "description": "Deterministic synthetic satellite data for tests and benchmarks.",
        "links": links,
    }
