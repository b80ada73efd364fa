"""What a map shows: variables x periods of raster layers (COG files), vector layers, and their styles.

A :class:`MapModel` is built once when ``eo view`` starts (:mod:`eo.viewing.sources`) and then only
read by the server's threads.  Raster files are addressed by ``(variable, period index)``, never
by a path from the browser; :meth:`MapModel.document` is the JSON the page loads.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from eo.io.style import Style, colour_stops

BBox = tuple[float, float, float, float]


@dataclass(frozen=True)
class Raster:
    """One single-band raster file (a COG) of a layer with its extent in degrees (W, S, E, N)."""

    path: str
    bounds: BBox


@dataclass(frozen=True)
class Period:
    """A time step of the map: a label and its ISO start/end (end may equal start)."""

    label: str
    start: str = ""
    end: str = ""


@dataclass
class Variable:
    """A variable of the map: its style and, for an RGB composite, the variables of its three bands."""

    name: str
    style: Style
    bands: tuple[str, str, str] | None = None
    ranges: list[tuple[float, float]] | None = None


@dataclass
class MapModel:
    """Everything the page shows; read-only once built."""

    title: str
    root: Path | None = None
    """Directory whose files are served (outputs of a run); None: no files."""
    periods: list[Period] = field(default_factory=list)
    variables: dict[str, Variable] = field(default_factory=dict)
    layers: dict[tuple[str, int], list[Raster]] = field(default_factory=dict)
    vectors: dict[str, dict[str, Any]] = field(default_factory=dict)
    report: str | None = None
    basemap: dict[str, str] | None = None
    tempdir: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    def rasters(self, variable: str, period: int) -> list[Raster]:
        """Files of ``variable`` in ``period`` (empty when there are none)."""
        return self.layers.get((variable, period), [])

    def bounds(self) -> BBox | None:
        """Extent in degrees of every raster and vector feature, or None when empty."""
        boxes = [r.bounds for rs in self.layers.values() for r in rs]
        for fc in self.vectors.values():
            boxes += [_feature_bounds(f) for f in fc.get("features", []) if f.get("geometry")]
        return _union(boxes)

    def close(self) -> None:
        """Remove temporary files (COGs written for an in-memory object)."""
        if self.tempdir is not None:
            self.tempdir.cleanup()
            self.tempdir = None

    def document(self) -> dict[str, Any]:
        """The JSON the page loads: periods, variables (style, colour bar, layers), vectors, bounds."""
        variables = []
        for name, var in self.variables.items():
            s = var.style
            present = [i for i in range(len(self.periods)) if self._has(name, i)]
            variables.append(
                {
                    "name": name,
                    "style": s.to_dict(),
                    "stops": colour_stops(s.cmap) if var.bands is None else [],
                    "rgb": list(var.bands) if var.bands else None,
                    "ranges": var.ranges,
                    "periods": present,
                    "bounds": self._layer_bounds(name),
                    "tiles": f"/_eo/tiles/{quote(name, safe='')}/{{period}}/{{z}}/{{x}}/{{y}}.png",
                }
            )
        return {
            "title": self.title,
            "periods": [p.__dict__ for p in self.periods],
            "variables": variables,
            "vectors": self.vectors,
            "bounds": self.bounds(),
            "report": self.report,
            "basemap": self.basemap,
        }

    def _has(self, name: str, period: int) -> bool:
        var = self.variables[name]
        names = var.bands or (name,)
        return all(self.rasters(n, period) for n in names)

    def _layer_bounds(self, name: str) -> BBox | None:
        var = self.variables[name]
        boxes = [
            r.bounds
            for n in (var.bands or (name,))
            for (v, _), rs in self.layers.items()
            if v == n
            for r in rs
        ]
        return _union(boxes)


def _union(boxes: list[tuple[float, float, float, float]]) -> tuple[float, float, float, float] | None:
    """The box holding every box (``(w, s, e, n)``), or None when there is none."""
    if not boxes:
        return None
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def _feature_bounds(feature: dict[str, Any]) -> BBox:
    xs: list[float] = []
    ys: list[float] = []

    def walk(c: Any) -> None:
        if c and isinstance(c[0], (int, float)):
            xs.append(float(c[0]))
            ys.append(float(c[1]))
        else:
            for sub in c:
                walk(sub)

    walk(feature["geometry"]["coordinates"])
    return min(xs), min(ys), max(xs), max(ys)
