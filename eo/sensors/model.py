"""Typed records of a sensor profile (the contract every module reads).

A profile describes one *sensor* (the instrument on its platforms: bands, wavelengths,
native resolutions, solar irradiance) and its *products* (processing levels: how the
stored digital numbers map to physical values, which band carries quality flags and
how to decode it).  Profiles are data: one YAML file per sensor in ``eo/sensors/`` or in a
directory of ``EO_SENSOR_PATH``; :mod:`eo.sensors.registry` parses and validates them
into these frozen records.  Nothing downstream reads the YAML.

Units: wavelengths in micrometres, resolution in metres, ESUN in W m-2 um-1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

#: Radiometric state of stored values, in processing order.  ``physical``: a physical quantity eo
#: does not convert further (backscatter, elevation, a reflectance of unknown level...: its ``units``
#: say what); ``uncalibrated``: values with no known calibration at all, kept as they are stored
#: (NAIP DNs); ``class``: categories or bit flags.
RadiometricState = Literal[
    "dn",
    "radiance",
    "toa_reflectance",
    "surface_reflectance",
    "brightness_temperature",
    "physical",
    "uncalibrated",
    "class",
]

#: Mask class names, the same across sensors (``eo.mask(ds, classes=...)``).
MASK_CLASSES = (
    "nodata",
    "saturated",
    "cloud",
    "cloud_medium",
    "cloud_high",
    "shadow",
    "cirrus",
    "snow",
    "water",
    "clear",
)


@dataclass(frozen=True)
class Band:
    """One spectral (or quality) band of a sensor."""

    name: str
    """Canonical band name within the sensor (``"B04"``, ``"B5"``, ``"QA_PIXEL"``)."""
    common_name: str | None = None
    """STAC ``eo:common_name`` (``"red"``, ``"nir"``, ``"swir16"``...); ``"qa"`` for quality bands."""
    aliases: tuple[str, ...] = ()
    """Asset keys providers use for this band (``"red"``, ``"B04"``, ``"SR_B4"``...)."""
    asi: str | None = None
    """Awesome-Spectral-Indices band symbol (``"R"``, ``"N"``, ``"S1"``...)."""
    center_wavelength: float | None = None
    """Centre wavelength, micrometres."""
    full_width_half_max: float | None = None
    """Band width (FWHM), micrometres."""
    resolution: float | None = None
    """Native ground sampling distance, metres."""
    esun: float | None = None
    """Mean exo-atmospheric solar irradiance, W m-2 um-1 (for DN/radiance -> TOA reflectance)."""
    kind: Literal["measurement", "qa", "class", "index", "count"] = "measurement"
    """``measurement`` bands are resampled with the chosen method, the others with nearest; ``index`` and
    ``count`` are derived values (eo's own outputs) that calibration and masks leave alone."""
    encodes: str | None = None
    """What the band's scale/offset yield when it differs from its product's ``state`` (bands built
    from item metadata: ``physical``, or ``unknown`` when no calibration is known); None: the product's."""
    stored: str | None = None
    """State of the stored values when the item declares it (eo's outputs: ``eotk:state``), any dtype."""

    @property
    def keys(self) -> tuple[str, ...]:
        """Every name this band answers to: name, common name, aliases."""
        out = [self.name, *([self.common_name] if self.common_name else []), *self.aliases]
        return tuple(dict.fromkeys(out))


@dataclass(frozen=True)
class BitField:
    """A field of a bit-packed QA band: ``(value >> bit) & (2**width - 1)`` in ``values`` flags the class."""

    bit: int
    width: int = 1
    values: tuple[int, ...] = (1,)


@dataclass(frozen=True)
class QADecoding:
    """How to turn a QA band into boolean masks per class name of :data:`MASK_CLASSES`."""

    band: str
    """Profile band name of the QA band."""
    kind: Literal["classes", "bits"]
    """``classes``: each pixel holds one class value (Sentinel-2 SCL); ``bits``: bit fields (Landsat)."""
    classes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    """For ``kind="classes"``: mask class -> QA values that mean it."""
    bits: Mapping[str, tuple[BitField, ...]] = field(default_factory=dict)
    """For ``kind="bits"``: mask class -> bit fields, any of which flags it."""


@dataclass(frozen=True)
class BandCalibration:
    """Per-band coefficients of a product (override product-level defaults)."""

    scale: float | None = None
    offset: float | None = None
    radiance_mult: float | None = None
    radiance_add: float | None = None
    reflectance_mult: float | None = None
    reflectance_add: float | None = None
    k1: float | None = None
    k2: float | None = None


@dataclass(frozen=True)
class ProductEvidence:
    """Clues beyond item properties that tell a product from its siblings (see :mod:`eo.sensors.identify`)."""

    assets: tuple[str, ...] = ()
    """Asset keys characteristic of the product (case-insensitive, resolution suffix ignored): an item
    with one supports this product and contradicts the sibling products that do not list it."""
    tokens: tuple[str, ...] = ()
    """Tokens of collection ids, item ids and product ids (``l2a``, ``msil2a``, ``l2sp``): one found
    supports this product and contradicts the siblings that do not list it."""
    archive: tuple[str | None, str | None] = (None, None)
    """First and last acquisition dates (ISO) the product exists for; an item outside contradicts it."""


@dataclass(frozen=True)
class Product:
    """A processing level of a sensor (e.g. Sentinel-2 L1C, Landsat Collection-2 L2)."""

    id: str
    """Product id within the sensor (``"l1c"``, ``"l2a"``, ``"c2l2"``...)."""
    state: RadiometricState
    """Radiometric state reached by applying ``scale``/``offset`` to stored values."""
    scale: float = 1.0
    offset: float = 0.0
    """Default stored-value -> physical mapping ``value * scale + offset`` (``raster:bands`` wins)."""
    nodata: float | None = None
    """Default nodata of the stored values when the item does not state one."""
    units: str | None = None
    """Units of the physical value (``"1"`` for reflectance, ``"W m-2 sr-1 um-1"`` for radiance)."""
    bands: Mapping[str, BandCalibration] = field(default_factory=dict)
    """Per-band coefficients keyed by profile band name."""
    qa: QADecoding | None = None
    match: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Item property (or ``collection``) -> accepted values; all given keys must match."""
    evidence: ProductEvidence = field(default_factory=ProductEvidence)
    notes: str = ""


@dataclass(frozen=True)
class SensorProfile:
    """A sensor: its bands and its products."""

    id: str
    name: str
    version: str
    bands: tuple[Band, ...]
    products: Mapping[str, Product]
    constellation: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    instruments: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    source: str = ""
    """Path of the YAML file the profile was read from."""

    def band(self, key: str) -> Band:
        """The band answering to ``key`` (name, common name or alias, case-insensitive).

        Raises :class:`eo.errors.BandNotFoundError` listing the bands available.
        """
        from eo.errors import BandNotFoundError

        low = key.lower()
        for b in self.bands:
            if low in (k.lower() for k in b.keys):
                return b
        names = ", ".join(f"{b.name}/{b.common_name}" if b.common_name else b.name for b in self.bands)
        raise BandNotFoundError(f"sensor {self.id!r} has no band {key!r}; it has: {names}")
