"""``eo view``: a local web map of scenes and pipeline outputs, served from 127.0.0.1.

``eo.view(obj)`` opens a map of ``obj`` in the browser and returns the running
:class:`~eo.viewing.server.ViewServer` (``.url``, ``.stop()``; in a notebook it shows the map in an
iframe).  ``obj`` is an ``eo run`` output directory or its ``catalog.json`` (any static STAC
catalogue or a GeoTIFF works too), a ``pystac.ItemCollection`` or list of items (search results),
or an xarray ``DataArray``/``Dataset`` that eo loaded or computed (written to temporary COGs first,
chunk by chunk: this **computes** it).  ``eo view OUT_DIR`` on the command line is the same.

Raster layers are tiled from the COGs by rio-tiler (:mod:`eo.viewing.tiles`), one per variable and
period, coloured with one stretch per variable (:mod:`eo.io.style`, shared with the run report)
with a colour bar in physical units; vector layers show input scene footprints, the tile grid
coloured by status and the pipeline's area.  The page uses Leaflet shipped inside the package:
it works offline, on a plain background with a graticule unless a basemap URL is configured
(``basemap="https://.../{z}/{x}/{y}.png"`` or ``EO_VIEW_BASEMAP``).
"""

from __future__ import annotations

import os
from typing import Any

from eo.viewing.model import MapModel
from eo.viewing.server import ViewServer

__all__ = ["MapModel", "ViewServer", "model_of", "view"]


def model_of(obj: Any, *, basemap: str | None = None) -> MapModel:
    """The :class:`MapModel` of ``obj`` (see the module docstring for what ``obj`` may be)."""
    import pystac

    from eo.viewing import sources

    if isinstance(obj, MapModel):
        model = obj
    elif isinstance(obj, (str, os.PathLike)):
        model = sources.from_path(obj)
    elif isinstance(obj, (pystac.ItemCollection, list, tuple)):
        model = sources.from_items(list(obj), title=f"{len(obj)} STAC items")
    elif type(obj).__module__.startswith("xarray"):
        model = sources.from_xarray(obj)
    else:
        from eo.errors import InputError

        raise InputError(
            f"eo.view cannot show a {type(obj).__name__}; give an output directory, a catalog.json, "
            "an ItemCollection, or an xarray DataArray/Dataset"
        )
    from eo import config

    url = basemap or config.get("view_basemap")
    if url:
        model.basemap = {"url": url, "attribution": config.get("view_basemap_attribution") or ""}
    return model


def view(
    obj: Any,
    *,
    port: int = 0,
    open_browser: bool = True,
    basemap: str | None = None,
) -> ViewServer:
    """Serve a web map of ``obj`` on 127.0.0.1 (``port`` 0: a free one) and open it; return the server.

    The server runs in a background thread until ``.stop()`` (or the end of the process).
    """
    server = ViewServer(model_of(obj, basemap=basemap), port).serve_in_thread()
    if open_browser:
        import webbrowser

        webbrowser.open(server.url)
    return server
