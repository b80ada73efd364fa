"""The records a load passes from planning to its read tasks (pure: no I/O library is imported here).

:mod:`eo.loading.plan` decides with these types; :mod:`eo.loading.read` (rasterio) and
:mod:`eo.loading.graph` (the Dask tasks) consume them.  Everything is frozen and picklable: a
:class:`ChunkRequest` travels to distributed workers with the settings captured when the graph was
built (GDAL options, the retry policy), so a scoped ``eo.config.set`` reaches the workers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from odc.geo.geobox import GeoBox

from eo.retry import RetryPolicy

#: Resampling names accepted by ``eo.load`` (GDAL's methods of the same names).
RESAMPLING_NAMES = frozenset(
    {
        "nearest", "bilinear", "cubic", "cubic_spline", "lanczos", "average", "mode",
        "max", "min", "med", "q1", "q3", "sum", "rms",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Source:
    """One band of one item as a chunk task reads it (picklable)."""

    item: str
    """Item id (for messages)."""
    asset: str
    """Asset key (for messages)."""
    href: str
    band_index: int
    geobox: GeoBox | None
    """The grid the load was planned with (the file wins when they disagree)."""
    nodata: float | None
    """Nodata of the stored values (item, else product default); ``None``: the file's."""


@dataclass(frozen=True)
class Header:
    """What a file header says about one band."""

    geobox: GeoBox
    dtype: str
    nodata: float | None


@dataclass(frozen=True)
class FileHeader:
    """What a file header says about all its bands (one open per file, whatever the bands a load reads)."""

    geobox: GeoBox
    dtypes: tuple[str, ...]
    nodatas: tuple[float | None, ...]

    def band(self, index: int) -> Header:
        """The :class:`Header` of 1-based band ``index``."""
        return Header(self.geobox, self.dtypes[index - 1], self.nodatas[index - 1])


@dataclass(frozen=True)
class ReadSettings:
    """The settings a read task runs with, captured from :mod:`eo.config` when the graph is built."""

    gdal: tuple[tuple[str, Any], ...] = ()
    """GDAL configuration options (``rasterio.Env``)."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    io_threads: int = 16
    """Reads in flight in the worker process (the size of its I/O pool, :mod:`eo.loading.io`)."""

    @classmethod
    def current(cls) -> ReadSettings:
        """The settings in force now (``eo.config``: scoped override > environment > default)."""
        from eo import config

        return cls(tuple(sorted(config.gdal_options().items())), config.get("retry"), config.io_threads())

    def gdal_options(self) -> Mapping[str, Any]:
        """The GDAL options as a mapping."""
        return dict(self.gdal)


@dataclass(frozen=True)
class ChunkRequest:
    """Everything one chunk task needs (picklable, sent to distributed workers)."""

    grid: GeoBox
    """The whole output grid."""
    window: tuple[slice, slice]
    """Pixel window of the chunk in ``grid``."""
    slices: tuple[tuple[Source, ...], ...]
    """Per time slice of the chunk, sources in mosaic order."""
    dtype: str
    fill: float
    resampling: str
    settings: ReadSettings = field(default_factory=ReadSettings)
