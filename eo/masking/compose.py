"""``eo.mask``: one boolean "bad pixel" mask of a loaded Dataset from its QA band and nodata values."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr
from numba import njit
from odc.geo.geobox import GeoBox

from eo.errors import (
    InputError,
    MetadataError,
    MissingBandsError,
    SkippedMaskClassWarning,
    UnsupportedMaskClassError,
)
from eo.masking.dilation import dilate as dilate_data
from eo.masking.dilation import footprint, parse_distance
from eo.masking.flags import decoding, from_attrs
from eo.masking.qa import decodable_classes, decode, lookup_table
from eo.sensors.model import MASK_CLASSES, Product
from eo.sensors.registry import get_product

#: Classes masked when ``classes`` is not given.
DEFAULT_CLASSES = ("nodata", "saturated", "cloud", "shadow", "cirrus")
#: Whether an undilated mask of an integer QA band is built as one fused per-chunk operation (a lookup
#: table plus the measurement nodata tests) instead of one element-wise operation per class and value;
#: the results are identical (tests switch it off to compare).
FUSED = True
#: Classes that ``dilate`` grows (atmospheric contamination spreads past the flagged pixels);
#: nodata, saturation, snow, water and clear are never dilated.
DILATED_CLASSES = frozenset({"cloud", "cloud_medium", "cloud_high", "shadow", "cirrus"})


def _profile(ds: xr.Dataset) -> tuple[str, Product]:
    """``(sensor id, product)`` whose QA table decodes ``ds``: the profile's, else the QA variable's flags.

    A dataset loaded from items without a profile carries its classification table as CF flag
    attributes on the QA variable (:mod:`eo.masking.flags`); a profile product known to the
    registry wins.
    """
    from eo.sensors.from_item import PRODUCT as FROM_METADATA

    sensor, product = ds.attrs.get("sensor"), ds.attrs.get("product")
    if sensor and product and product != FROM_METADATA:
        return str(sensor), get_product(f"{sensor}:{product}")[1]
    flagged = [
        v for v in ds.data_vars.values() if v.attrs.get("kind") in ("qa", "class") and from_attrs(v.attrs)
    ]
    flagged.sort(key=lambda v: v.attrs.get("kind") != "qa")  # a QA band first, else a class map
    for var in flagged:
        flags = from_attrs(var.attrs)
        if flags:
            qa = decoding(flags, str(var.attrs.get("band") or var.name))
            return str(sensor or "unknown"), Product(
                id=str(product or FROM_METADATA), state="physical", qa=qa
            )
    if sensor and product:
        return str(sensor), Product(id=str(product), state="physical")
    raise MetadataError(
        "the dataset has no 'sensor'/'product' attrs (expected e.g. sensor='sentinel-2-msi', "
        "product='l2a') and no QA variable with flag attributes; load it with eo.load or set "
        "ds.attrs['sensor'] and ds.attrs['product']"
    )


def _qa_variable(ds: xr.Dataset, product: Product) -> xr.DataArray | None:
    """Find the QA variable: kind 'qa' and the product's QA band, else the only kind 'qa', else 'qa'."""
    want = product.qa.band if product.qa else None
    qa_vars = [v for v in ds.data_vars.values() if v.attrs.get("kind") == "qa"]
    if not qa_vars and want is not None:  # a class map (land cover) decoded through its flags
        qa_vars = [v for v in ds.data_vars.values() if v.attrs.get("kind") == "class"]
    for var in qa_vars:
        if want is not None and var.attrs.get("band") == want:
            return var
    if len(qa_vars) == 1:
        return qa_vars[0]
    return ds["qa"] if "qa" in ds.data_vars else None


def _resolve_classes(classes: Sequence[str] | str | None, product: Product, sensor: str) -> list[str]:
    available = decodable_classes(product)
    if classes is None:
        skipped = [c for c in DEFAULT_CLASSES if c not in available]
        if skipped:
            warnings.warn(
                f"{sensor}:{product.id} cannot decode mask class(es) {', '.join(skipped)}; masking "
                f"{', '.join(c for c in DEFAULT_CLASSES if c in available)} only",
                SkippedMaskClassWarning,
                stacklevel=3,
            )
        return [c for c in DEFAULT_CLASSES if c in available]
    requested = [classes] if isinstance(classes, str) else list(classes)
    for c in requested:
        if c not in MASK_CLASSES:
            raise UnsupportedMaskClassError(
                f"unknown mask class {c!r}; expected one of {', '.join(MASK_CLASSES)}"
            )
        if c not in available:
            raise UnsupportedMaskClassError(
                f"{sensor}:{product.id} cannot decode mask class {c!r}; it can: {', '.join(available)}"
            )
    return list(dict.fromkeys(requested))


def _measurement_nodata(ds: xr.Dataset, skip: str | None) -> list[xr.DataArray]:
    """Per measurement variable: where it equals its ``nodata`` attr or is NaN (float)."""
    out = []
    for name, var in ds.data_vars.items():
        if name == skip or var.attrs.get("kind", "measurement") != "measurement" or var.ndim < 2:
            continue
        is_float = np.issubdtype(var.dtype, np.floating)
        nodata = var.attrs.get("nodata")
        parts = [var.isnull()] if is_float else []
        if nodata is not None and not (isinstance(nodata, float) and math.isnan(nodata)):
            parts.append(var == nodata)
        if parts:
            out.append(parts[0] if len(parts) == 1 else parts[0] | parts[1])
    return out


def _nodata_test(var: xr.DataArray) -> tuple[bool, Any]:
    """Return ``(test NaN, nodata as the variable's dtype or None)``: :func:`_measurement_nodata`'s tests."""
    is_float = np.issubdtype(var.dtype, np.floating)
    nodata = var.attrs.get("nodata")
    if nodata is None or (isinstance(nodata, float) and math.isnan(nodata)):
        return is_float, None
    if is_float:
        return True, var.dtype.type(nodata)
    info = np.iinfo(var.dtype)
    if not float(nodata).is_integer():
        return False, None  # no integer equals it
    if not info.min <= nodata <= info.max:
        return False, None
    return False, var.dtype.type(int(nodata))


@njit(nogil=True, cache=True)
def _lookup(qa: np.ndarray, table: np.ndarray, offset: int, out: np.ndarray) -> None:  # pragma: no cover
    """``out[i] = table[qa[i] - offset]`` (1-D; one pass)."""
    for i in range(qa.size):
        out[i] = table[qa[i] - offset]


def _fused_kernel(
    qa: np.ndarray, *measurements: np.ndarray, table: np.ndarray, offset: int, tests: tuple[Any, ...]
) -> np.ndarray:
    """One chunk of the mask: table lookup of the QA values, OR the measurement nodata tests."""
    out = np.empty(qa.shape, dtype=bool)
    _lookup(np.ascontiguousarray(qa).reshape(-1), table, offset, out.reshape(-1))
    shape = np.broadcast_shapes(out.shape, *(m.shape for m in measurements))
    if out.shape != shape:
        out = np.broadcast_to(out, shape).copy()
    scratch = np.empty(shape, dtype=bool)
    for data, (nan, nodata) in zip(measurements, tests, strict=True):
        data = np.broadcast_to(data, out.shape)
        if nan:
            np.isnan(data, out=scratch)
            out |= scratch
        if nodata is not None:
            np.equal(data, nodata, out=scratch)
            out |= scratch
    return out


def _fused(
    ds: xr.Dataset, qa: xr.DataArray, product: Product, classes: list[str], nodata: bool
) -> xr.DataArray | None:
    """The whole (undilated) mask as one ``apply_ufunc`` (one task per chunk), or None if not possible."""
    assert product.qa is not None
    table = lookup_table(product.qa, classes, qa.dtype)
    if table is None:
        return None
    measurements, tests = [], []
    if nodata:
        for name, var in ds.data_vars.items():
            if name == qa.name or var.attrs.get("kind", "measurement") != "measurement" or var.ndim < 2:
                continue
            test = _nodata_test(var)
            if test[0] or test[1] is not None:
                measurements.append(var)
                tests.append(test)
    if not classes and not measurements:
        return None  # nothing to build the mask from: the general path raises
    result: xr.DataArray = xr.apply_ufunc(
        _fused_kernel,
        qa,
        *measurements,
        dask="parallelized",
        output_dtypes=[bool],
        join="inner",
        keep_attrs="drop",
        kwargs={"table": table, "offset": int(np.iinfo(qa.dtype).min), "tests": tuple(tests)},
    )
    return result


def _pixel_size(ds: xr.Dataset) -> tuple[float, float]:
    import odc.geo.xr  # noqa: F401  (registers the .odc accessor)

    geobox = ds.odc.geobox
    if not isinstance(geobox, GeoBox):
        raise MetadataError(
            "dilate needs the dataset's grid (spatial_ref / x, y coords as produced by eo.load)"
        )
    if geobox.crs is not None and geobox.crs.geographic:
        raise InputError(
            f"dilate in metres needs a projected CRS; the dataset is in {geobox.crs}. Reproject first"
        )
    res = geobox.resolution
    return abs(float(res.x)), abs(float(res.y))


def _spatial_dims(ds: xr.Dataset, like: xr.DataArray) -> tuple[str, str]:
    """Return the names of the (y, x) dims: the geobox's (``y``/``x``, or ``latitude``/``longitude``)."""
    geobox = ds.odc.geobox
    dims = tuple(geobox.dimensions) if isinstance(geobox, GeoBox) else tuple(like.dims[-2:])
    return str(dims[0]), str(dims[1])


def _or(masks: list[xr.DataArray]) -> xr.DataArray | None:
    if not masks:
        return None
    out = masks[0]
    for m in masks[1:]:
        out = out | m
    return out


def mask(
    ds: xr.Dataset, classes: Sequence[str] | str | None = None, dilate: str | float | None = None
) -> xr.DataArray:
    """Boolean mask of bad pixels (True = bad) decoded from the dataset's QA band (lazy).

    Parameters
    ----------
    ds
        A Dataset following eo's loaded-Dataset contract: attrs ``sensor`` and ``product``
        name the profile; the QA variable is the one with attr ``kind == "qa"`` (the
        product's QA band) or named ``"qa"``.  Items without a profile are decoded from the
        QA variable's CF flag attributes, which ``eo.load`` writes from the STAC classification
        extension (``classification:classes`` / ``classification:bitfields``; provider class names
        mapped to eo's by :data:`eo.masking.flags.SYNONYMS`).
    classes
        Mask class names (:data:`eo.sensors.model.MASK_CLASSES`, the same for every sensor).
        ``None`` (default) means ``("nodata", "saturated", "cloud", "shadow", "cirrus")`` restricted to
        what the product decodes (a :class:`SkippedMaskClassWarning` names the others).
        Naming a class explicitly that the product cannot decode raises
        :class:`UnsupportedMaskClassError` listing the classes it can.
    dilate
        Grow the cloud, cloud_medium, cloud_high, shadow and cirrus classes by this
        distance in metres (``60``, ``"60m"``, ``"60 m"``, ``"0.1 km"``), with a disk of that
        radius in ground distance, converted with the dataset's pixel size
        (``ds.odc.geobox.resolution``).  ``nodata`` (and snow, water, saturated, clear) is not
        dilated: nodata edges are exact and growing them would discard valid pixels.
        ``None`` or 0: no dilation.

    Returns
    -------
    xarray.DataArray
        bool, dims ``(time, y, x)``, True where any requested class is flagged.
        ``nodata`` also covers pixels where any measurement variable equals its ``nodata``
        attr or is NaN (float, e.g. after ``eo.calibrate``).  Dask-backed input gives a
        Dask-backed result: nothing is computed.

    Raises
    ------
    MetadataError
        The dataset lacks ``sensor``/``product`` attrs (or its grid, when dilating).
    MissingBandsError
        QA classes are requested but the dataset has no QA variable.
    UnsupportedMaskClassError
        A class is unknown or not decodable for this product.

    Examples
    --------
    >>> bad = eo.mask(ds, dilate="60 m")
    >>> bad.dtype, bad.dims, bad.attrs["classes"]
    (dtype('bool'), ('time', 'y', 'x'), 'nodata,saturated,cloud,shadow,cirrus')
    >>> ndvi = eo.index(eo.calibrate(ds), "NDVI").where(~bad)
    >>> bool((ndvi.isnull() == bad).all())
    True
    """
    sensor, product = _profile(ds)
    wanted = _resolve_classes(classes, product, sensor)
    qa = _qa_variable(ds, product)
    qa_classes = [c for c in wanted if c in _table(product)]
    if qa_classes and qa is None:
        qa_band = product.qa.band if product.qa else "qa"
        raise MissingBandsError(
            f"mask classes {', '.join(qa_classes)} need the QA band {qa_band!r} of "
            f"{sensor}:{product.id}; load it too (e.g. bands=[..., 'qa'])"
        )
    distance = parse_distance(dilate)
    fused = None
    if (
        FUSED
        and qa is not None
        and product.qa is not None
        and not (distance and DILATED_CLASSES & set(qa_classes))
    ):
        fused = _fused(ds, qa, product, qa_classes, "nodata" in wanted)
    if fused is not None:
        return _finish(fused, sensor, product, wanted, distance)
    static: list[xr.DataArray] = []
    grown: list[xr.DataArray] = []
    for c in qa_classes:
        assert qa is not None and product.qa is not None
        (grown if c in DILATED_CLASSES else static).append(decode(qa, product.qa, c))
    if "nodata" in wanted:
        static += _measurement_nodata(ds, str(qa.name) if qa is not None else None)
    if not static and not grown:
        raise MissingBandsError(
            f"nothing to build the mask from: no QA variable and no measurement variable with a nodata attr "
            f"(classes {', '.join(wanted)}); variables: {', '.join(map(str, ds.data_vars))}"
        )
    grown_mask = _or(grown)
    if grown_mask is not None and distance:
        fp = footprint(distance, *_pixel_size(ds))
        spatial = _spatial_dims(ds, grown_mask)
        grown_mask = grown_mask.transpose(..., *spatial)
        grown_mask = grown_mask.copy(data=dilate_data(grown_mask.data, fp))
    result = _or([m for m in [*static, grown_mask] if m is not None])
    assert result is not None
    return _finish(result, sensor, product, wanted, distance)


def _finish(
    result: xr.DataArray, sensor: str, product: Product, wanted: list[str], distance: float | None
) -> xr.DataArray:
    if "time" in result.dims:
        result = result.transpose("time", ...)
    result.name = "mask"
    result.attrs = _attrs(sensor, product, wanted, distance)
    return result


def _table(product: Product) -> Any:
    qa = product.qa
    return {} if qa is None else (qa.classes if qa.kind == "classes" else qa.bits)


def _attrs(sensor: str, product: Product, wanted: list[str], distance: float | None) -> dict[str, Any]:
    return {
        "kind": "mask",
        "classes": ",".join(wanted),
        "dilate_m": float(distance or 0.0),
        "sensor": sensor,
        "product": product.id,
        "description": "True = pixel flagged by one of the classes (bad); dilation applied to "
        + ",".join(c for c in wanted if c in DILATED_CLASSES),
    }
