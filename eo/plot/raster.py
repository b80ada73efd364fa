"""``eo.plot.rgb`` and ``eo.plot.index``: decimated raster figures in map coordinates."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from eo.errors import BandNotFoundError, InputError
from eo.plot import render
from eo.plot._mpl import axes

#: A normalised difference ``(A - B) / (A + B)`` in an index formula (spaces removed).
_ND = re.compile(r"^\(?(\w+)-(\w+)\)?/\(?\1\+\2\)?$")


def _one_date(da: xr.DataArray, time: Any) -> xr.DataArray:
    if "time" not in da.dims:
        return da
    if time is None:
        if da.sizes["time"] == 1:
            return da.isel(time=0)
        dates = [str(t)[:10] for t in da["time"].values[:5]]
        raise InputError(
            f"the data has {da.sizes['time']} dates ({', '.join(dates)}...); pass time= (an index, "
            "or a date such as '2025-06-10'), or reduce time first (eo.composite)"
        )
    if isinstance(time, (int, np.integer)):
        return da.isel(time=int(time))
    return da.sel(time=time, method="nearest")


def _spatial(da: xr.DataArray) -> tuple[str, str]:
    try:
        dims = da.odc.spatial_dims
    except Exception:  # no odc-geo grid: the last two dims
        dims = None
    return tuple(dims) if dims else tuple(da.dims[-2:])  # type: ignore[return-value]


def decimated(da: xr.DataArray, max_size: int) -> tuple[xr.DataArray, int]:
    """Lazy float32 ``(y, x)`` block means (NaN-aware, masked pixels NaN) of at most ``max_size`` a side."""
    from eo.analysis.zonal import masked_values

    if max_size < 1:
        raise InputError(f"max_size must be a positive number of pixels, got {max_size}")
    ydim, xdim = _spatial(da)
    factor = max(1, math.ceil(max(da.sizes[ydim], da.sizes[xdim]) / max_size))
    values = masked_values(da, np.float32)
    if factor > 1:
        values = values.coarsen({ydim: factor, xdim: factor}, boundary="trim").mean()
    return values.transpose(ydim, xdim), factor


def _extent(
    da: xr.DataArray, factor: int, shape: tuple[int, int]
) -> tuple[float, float, float, float] | None:
    """(left, right, bottom, top) of the decimated image in the data's CRS, or None without a grid."""
    try:
        geobox = da.odc.geobox
    except Exception:
        geobox = None
    if geobox is None:
        return None
    a = geobox.affine
    left, top = a.c, a.f
    return (left, left + a.a * factor * shape[1], top + a.e * factor * shape[0], top)


def _draw(ax: Any, image: np.ndarray, extent: Any, da: xr.DataArray) -> None:
    ax.imshow(image, extent=extent, interpolation="nearest", origin="upper")
    if extent is not None:
        ax.set_aspect("equal")
        try:
            units = da.odc.geobox.crs.units[0]
            ax.set_xlabel(f"x [{units}]")
            ax.set_ylabel(f"y [{units}]")
        except Exception:
            pass


def _date(da: xr.DataArray) -> str:
    return str(np.datetime_as_string(da["time"].values, unit="D")) if "time" in da.coords else ""


def rgb(
    ds: xr.Dataset,
    bands: Sequence[str] = ("red", "green", "blue"),
    *,
    time: Any = None,
    stretch: Sequence[float] = render.PERCENTILES,
    vmin: float | Sequence[float] | None = None,
    vmax: float | Sequence[float] | None = None,
    ax: Any = None,
    max_size: int = 1024,
    title: str | None = None,
) -> Any:
    """Draw three variables as an RGB image; **computes** only the decimated image.

    Parameters
    ----------
    ds
        Dataset with the three ``bands`` on one grid, ``(y, x)`` or ``(time, y, x)``; any dtype
        (DN, reflectance), masked pixels NaN or equal to a variable's ``nodata`` attribute.
    bands
        Variables for red, green, blue (e.g. ``("nir", "red", "green")`` for false colour).
    time
        Date to draw when there are several: an index or a date (nearest).
    stretch
        Percentiles ``(low, high)`` of each band's own finite values mapped to 0 and 255
        (default 2, 98); ``(0, 100)`` is a min-max stretch.
    vmin, vmax
        Fixed value ranges instead (a number for all bands or one per band), e.g. ``vmin=0,
        vmax=0.3`` for surface reflectance.
    ax, max_size, title
        Axes to draw on (default: new figure); longest side in pixels after block averaging.

    Returns
    -------
    matplotlib.axes.Axes
        Masked pixels (NaN in any band) are transparent; axes in the data's CRS units.
    """
    import dask

    missing = [b for b in bands if b not in ds.data_vars]
    if len(bands) != 3 or missing:
        raise BandNotFoundError(
            f"rgb needs three variables present in the data; missing {missing or list(bands)}, "
            f"the data has {list(ds.data_vars)}"
        )
    layers = [decimated(_one_date(ds[b], time), max_size) for b in bands]
    values = np.stack(dask.compute(*[v for v, _ in layers]))  # the single compute
    lows = np.broadcast_to(np.asarray(vmin, dtype=float), 3) if vmin is not None else [None] * 3
    highs = np.broadcast_to(np.asarray(vmax, dtype=float), 3) if vmax is not None else [None] * 3
    ranges = [render.limits(v, lo, hi, percentiles=stretch) for v, lo, hi in zip(values, lows, highs)]
    image, _ = render.stretch_rgb(values, ranges)
    ax = axes(ax)
    first = _one_date(ds[bands[0]], time)
    _draw(ax, image, _extent(first, layers[0][1], image.shape[:2]), first)
    ax.set_title(title if title is not None else f"{' / '.join(bands)} {_date(first)}".strip())
    return ax


def is_normalized_difference(da: xr.DataArray) -> bool:
    """True for NDVI-like indices: a formula ``(A - B) / (A + B)`` or a 'Normalized Difference' name."""
    formula = str(da.attrs.get("formula", "")).replace(" ", "")
    name = f"{da.attrs.get('long_name', '')} {da.name or ''}".lower()
    return bool(_ND.match(formula)) or "normalized difference" in name or "normalised difference" in name


def colorbar_label(da: xr.DataArray) -> str:
    """``NAME [units]`` from the variable's name and ``units`` attribute (``1``: dimensionless)."""
    name = str(da.name) if da.name is not None else str(da.attrs.get("long_name", "value"))
    units = da.attrs.get("units")
    if units in (None, ""):
        return name
    return f"{name} [{'dimensionless' if str(units) == '1' else units}]"


def index(
    da: xr.DataArray | xr.Dataset,
    cmap: str | None = None,
    *,
    time: Any = None,
    vmin: float | None = None,
    vmax: float | None = None,
    center: float | None = None,
    ax: Any = None,
    max_size: int = 1024,
    colorbar: bool = True,
    title: str | None = None,
) -> Any:
    """Draw one variable with a colour bar; **computes** only the decimated image.

    Normalised-difference indices (NDVI, NDWI...: formula ``(A - B) / (A + B)``) get a diverging
    colormap (``RdYlGn``) centred at 0 with symmetric limits; anything else ``viridis`` between
    the 2nd and 98th percentiles.  ``cmap``, ``vmin``/``vmax`` and ``center`` override.  The colour
    bar is labelled with the variable's name and units.  Masked pixels are transparent.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if isinstance(da, xr.Dataset):
        if len(da.data_vars) != 1:
            raise InputError(f"index draws one variable; pick one of {list(da.data_vars)} (ds['NDVI'])")
        da = da[next(iter(da.data_vars))]
    one = _one_date(da, time)
    small, factor = decimated(one, max_size)
    values = np.asarray(small.compute().values)  # the single compute
    diverging = is_normalized_difference(da)
    if center is None and diverging and vmin is None and vmax is None:
        center = 0.0
    cmap = cmap or ("RdYlGn" if diverging else "viridis")
    lo, hi = render.limits(values, vmin, vmax, center=center)
    image = render.colorize(values, lo, hi, cmap)
    ax = axes(ax)
    _draw(ax, image, _extent(one, factor, image.shape[:2]), one)
    if colorbar:
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize

        mappable = ScalarMappable(norm=Normalize(lo, hi), cmap=render.matplotlib_cmap(cmap))
        ax.figure.colorbar(mappable, ax=ax, label=colorbar_label(da))
    ax.set_title(title if title is not None else f"{da.name or ''} {_date(one)}".strip())
    return ax
