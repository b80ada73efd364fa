"""The error tree of eo.

Every error eo raises derives from :class:`EOError`; each also derives from the
matching built-in exception (``ValueError``, ``LookupError``, ``OSError``...), so
callers may catch either.  Messages say what was expected, what was found and
what to do next.  The CLI prints ``str(err)`` on one line and exits non-zero.

Warnings derive from :class:`EOWarning` so they can be filtered as a family.
"""

from __future__ import annotations


class EOError(Exception):
    """Root of every error raised by eo."""


# --- configuration and user input -------------------------------------------------


class InputError(EOError, ValueError):
    """A value given by the user (argument, CLI option, file) is malformed."""


class InvalidBBoxError(InputError):
    """A bounding box is malformed (expects ``W,S,E,N`` with W<E and S<N)."""


class InvalidDatetimeError(InputError):
    """A datetime or interval is malformed or reversed."""


class InvalidGridError(InputError):
    """An output grid (CRS, resolution, bbox, shape) cannot be formed."""


class ConfigError(EOError, ValueError):
    """A configuration file (catalogue, sensor profile, pipeline spec) or setting is invalid.

    ``key`` is the dotted path of the (first) offending key, when there is one (``bands[2].gsd``).
    """

    def __init__(self, message: str, *, key: str | None = None):
        super().__init__(message)
        self.key = key


class CatalogDefinitionError(ConfigError):
    """A file in ``catalogs/`` does not follow the catalogue definition schema."""


class SensorProfileError(ConfigError):
    """A sensor profile YAML file does not follow the profile schema."""


class PipelineSpecError(ConfigError):
    """A pipeline spec does not follow the pipeline schema."""


class IngestDescriptionError(ConfigError):
    """An ingest description YAML does not follow the format of :mod:`eo.catalog.ingest`."""


class MixedSensorsError(InputError):
    """Items of different sensors or products were passed to one load."""


class MissingConstantsError(InputError):
    """An index needs a constant that has no default (``PAR``, ``lambdaN``...) and none was given."""


# --- lookups ----------------------------------------------------------------------


class NotFoundError(EOError, LookupError):
    """Something named by the user does not exist."""


class UnknownCatalogError(NotFoundError):
    """A catalogue name is neither defined in ``catalogs/`` nor a URL."""


class UnknownCollectionError(NotFoundError):
    """A collection is not offered by the catalogue searched."""


class UnknownSensorError(NotFoundError):
    """No sensor profile matches an item (or a profile id is unknown)."""


class BandNotFoundError(NotFoundError):
    """A requested band is not present in an item, a dataset or a profile."""


class MissingBandsError(BandNotFoundError):
    """An index or mask needs bands that the dataset does not have."""


class UnknownIndexError(NotFoundError):
    """A spectral index name is not in the index catalogue."""


class UnknownMethodError(NotFoundError):
    """A strategy name (composite method, resampling, mask class...) is not registered."""


class UnsupportedMaskClassError(UnknownMethodError):
    """A mask class is unknown, or the product's QA band cannot decode it."""


class SchemaNotVendoredError(NotFoundError):
    """A schema (core version or extension) is not vendored in ``eo/catalog/schemas``."""


# --- data and processing ----------------------------------------------------------


class DataError(EOError, ValueError):
    """Data or metadata is inconsistent in a way eo cannot resolve."""


class MetadataError(DataError):
    """STAC metadata needed for an operation is missing or contradictory."""


class CalibrationError(DataError):
    """A radiometric conversion cannot be applied."""


class AlreadyCalibratedError(CalibrationError):
    """A scale/offset or conversion would be applied a second time."""


class NoDataError(DataError):
    """A search or load produced nothing to work with."""


class StacValidationError(DataError):
    """A STAC document does not validate against its (vendored) schemas."""

    def __init__(self, message: str, errors: list[str]):
        super().__init__(message)
        self.errors = errors


class FormulaError(DataError):
    """An index formula cannot be parsed or uses an unsupported construct."""


# --- I/O, remote services, local servers ------------------------------------------


class EOIOError(EOError, OSError):
    """Reading or writing a file failed."""


class AssetReadError(EOIOError):
    """An asset of an item could not be read (names the item and the asset)."""


class WriteError(EOIOError):
    """An output could not be written (the partial file has been removed)."""


class StorageError(WriteError):
    """The output's storage refuses writes (disk full, quota, file size limit, read-only file system).

    Nothing more can be written there, so a run stops instead of failing every remaining tile alike.
    """


class OutputNotWritableError(EOIOError, PermissionError):
    """An output directory (or ``EO_HOME``) cannot be created or written."""


class OutputOwnedError(EOError, FileExistsError):
    """An output directory belongs to another pipeline (its outputs, state and catalogue)."""


class RemoteError(EOError, ConnectionError):
    """A remote service (STAC API) failed after retries.

    ``endpoint`` is the API root, ``request`` the last request (``"GET <url>"``, credentials
    redacted), ``status`` the last HTTP status (None: no answer), ``retry_after`` the seconds the
    server asked to wait before another attempt.
    """

    def __init__(
        self,
        message: str,
        *,
        endpoint: str | None = None,
        status: int | None = None,
        request: str | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.endpoint = endpoint
        self.status = status
        self.request = request
        self.retry_after = retry_after


class RemoteTimeoutError(RemoteError, TimeoutError):
    """A remote service did not finish answering within the deadline (``retry.deadline``)."""


class ServerError(EOError, OSError):
    """A local server (the STAC API on loopback) could not be started or reached."""


class PortInUseError(ServerError):
    """The requested port on 127.0.0.1 is already taken."""


class DependencyError(EOError, ImportError):
    """An optional dependency needed for this operation is not installed."""


class LockedError(EOError, RuntimeError):
    """Another run holds the lock of this pipeline."""


class DaskComputeError(EOError, AssertionError):
    """Code that must stay lazy computed a Dask graph (:func:`eo.testing.raise_if_dask_computes`)."""


# --- warnings ---------------------------------------------------------------------


class EOWarning(UserWarning):
    """Root of every warning issued by eo."""


class GeoreferenceMismatchWarning(EOWarning):
    """An item's projection metadata contradicts the asset file; the file wins."""


class MetadataWarning(EOWarning):
    """STAC metadata is incomplete and eo fell back to a documented default."""


class SkippedMaskClassWarning(EOWarning):
    """A default mask class was skipped because the product cannot decode it."""


class EmptyResultWarning(EOWarning):
    """A search or load found nothing, or a filter removed everything it found (the filter is named)."""


class UncalibratedWarning(MetadataWarning):
    """Values with no known calibration (stored numbers, unscaled) were used as if physical."""


class ClientSideFilterWarning(EOWarning):
    """A property filter was applied on the client because the server ignores it."""


# --- zones and vector data (eo.analysis) ------------------------------------------


class ZonesError(InputError):
    """Zones (polygons or points for zonal statistics and time series) are unusable as given."""


class MissingCRSError(ZonesError):
    """Zones carry no coordinate reference system (and none was given with ``crs=``)."""


class EmptyZonesError(ZonesError):
    """A vector layer or zone collection holds no features."""


class InvalidGeometryError(ZonesError):
    """A zone's geometry is missing, empty, invalid (with ``fix_invalid=False``) or of the wrong type."""


class VectorFileError(EOIOError):
    """A vector file (GeoJSON, GeoPackage, Parquet...) cannot be read."""


class VectorFileNotFoundError(VectorFileError, FileNotFoundError):
    """A vector file does not exist."""


class InvalidGeometryWarning(EOWarning):
    """Invalid zone geometries were repaired with ``shapely.make_valid``."""


class ZonesOutsideDataWarning(EOWarning):
    """Some zones or points do not overlap the raster; their statistics are empty."""
