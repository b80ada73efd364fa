"""The physical model of the synthetic Sentinel-2 L2A scene (pure numpy, no I/O).

A steppe-and-cropland landscape (rectangular parcels of wheat, late crops, steppe and
fallow; lakes; a town) with per-date phenology, coherent clouds with displaced shadows,
thin cirrus, an orbit-edge no-data wedge on some dates and a few saturated pixels.  Every
quantity is a function of pixel-centre coordinates (see :mod:`eo.testing._noise`), so the
10 m bands and the 20 m bands / SCL are consistent and any strip can be rendered alone.

Reflectances are bottom-of-atmosphere, float32, unitless.  The SCL codes follow Sen2Cor:
0 no data, 1 saturated/defective, 3 cloud shadow, 4 vegetation, 5 not vegetated, 6 water,
8 cloud medium probability, 9 cloud high probability, 10 thin cirrus.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from eo.testing._noise import Field, make_field, smoothstep

#: Band keys in generation order, with (resolution m, soil, vegetation, water, urban, cloud) spectra.
SPECTRA: dict[str, tuple[int, float, float, float, float, float]] = {
    "blue": (10, 0.070, 0.030, 0.060, 0.110, 0.62),
    "green": (10, 0.105, 0.075, 0.055, 0.125, 0.63),
    "red": (10, 0.150, 0.035, 0.038, 0.140, 0.64),
    "nir": (10, 0.220, 0.420, 0.022, 0.180, 0.66),
    "swir16": (20, 0.310, 0.210, 0.012, 0.230, 0.50),
    "swir22": (20, 0.270, 0.105, 0.009, 0.210, 0.40),
}
#: Per-band noise standard deviation (reflectance).
NOISE = {"blue": 0.002, "green": 0.002, "red": 0.002, "nir": 0.003, "swir16": 0.003, "swir22": 0.003}

CLOUD_HEIGHT_M = 1500.0
PARCEL_ROWS, PARCEL_COLS = 64, 96  # parcel size in 10 m pixels (640 m x 960 m)
CROP_TYPES = np.array([0.15, 0.40, 0.30, 0.15])  # fallow, wheat, steppe, late crop


@dataclass(frozen=True)
class DateState:
    """What changes between acquisitions."""

    when: datetime
    cloud_lo: float  # cloud field value where opacity starts rising
    cloud_hi: float  # ... and where it reaches 1
    cirrus_lo: float  # inf when the date has no cirrus
    shadow_shift: tuple[float, float]  # (d_row, d_col) from a shadowed pixel to its cloud, px
    nodata_line: tuple[float, float] | None  # 20 m cell col < a + b * row is no data
    saturated: np.ndarray  # (n, 2) int 20 m cells (row, col)
    cloud: Field
    cirrus: Field


def _sun_shift(elevation: float, azimuth: float, pixel: float = 10.0) -> tuple[float, float]:
    """Pixel offset (rows, cols) from a ground point to the cloud that shades it."""
    d = CLOUD_HEIGHT_M / math.tan(math.radians(elevation)) / pixel
    az = math.radians(azimuth)
    return -d * math.cos(az), d * math.sin(az)  # towards the sun: north is -row


class Scene:
    """A deterministic scene of ``size`` x ``size`` 10 m pixels seen on several dates."""

    def __init__(
        self,
        seed: int,
        size: int,
        whens: list[datetime],
        suns: list[tuple[float, float]],
        town_px: tuple[float, float] | None,
    ):
        rng = np.random.default_rng([seed, 0])
        self.size = size
        margin = 400.0
        self.terrain = make_field(rng, size, (900, 300, 90, 30), (1.0, 0.5, 0.25, 0.12), margin)
        self.soil = make_field(rng, size, (400, 60, 12), (1.0, 0.4, 0.3), margin)
        self.texture = make_field(rng, size, (9, 3), (1.0, 0.6), margin)
        self.water_level = self.terrain.quantile(0.035, size)
        n_pr, n_pc = size // PARCEL_ROWS + 3, size // PARCEL_COLS + 3
        self.parcel_shift = rng.uniform(0, PARCEL_ROWS, size=n_pc)
        self.parcel_type = rng.choice(4, size=(n_pr, n_pc), p=CROP_TYPES)
        self.parcel_vmax = rng.uniform(0.55, 0.95, size=(n_pr, n_pc)).astype(np.float32)
        self.parcel_peak = rng.normal(0.0, 7.0, size=(n_pr, n_pc)).astype(np.float32)
        self.town_px = town_px
        self.dates = [
            self._date(np.random.default_rng([seed, 1, i]), i, w, s, margin)
            for i, (w, s) in enumerate(zip(whens, suns, strict=True))
        ]

    def _date(
        self, rng: np.random.Generator, i: int, when: datetime, sun: tuple[float, float], margin: float
    ) -> DateState:
        cloud = make_field(rng, self.size, (700, 200, 60, 20), (1.0, 0.6, 0.35, 0.2), margin)
        cirrus = make_field(rng, self.size, (1200, 400, 100), (1.0, 0.5, 0.25), margin)
        cover = float(rng.choice([0.0, 0.03, 0.08, 0.2, 0.35, 0.55]) if i else 0.12)
        lo = cloud.quantile(1.0 - cover, self.size) if cover > 0 else math.inf
        has_cirrus = rng.uniform() < 0.4
        ci_lo = cirrus.quantile(0.85, self.size) if has_cirrus else math.inf
        half = self.size // 2
        line = (half * rng.uniform(0.1, 0.25), rng.uniform(0.05, 0.2)) if i % 3 == 2 else None
        sat = rng.integers(0, half, size=(6, 2))
        return DateState(when, lo, lo + 0.25, ci_lo, _sun_shift(*sun), line, sat, cloud, cirrus)

    # --- static (date-independent) layers ------------------------------------------------

    def static(self, rows: np.ndarray, cols: np.ndarray) -> dict[str, np.ndarray]:
        """Date-independent layers on a window (float32 / int arrays, shape rows x cols)."""
        terrain = self.terrain.sample(rows, cols)
        water = smoothstep(-terrain, -self.water_level - 0.005, -self.water_level + 0.005)
        pc = np.clip((cols // PARCEL_COLS).astype(np.intp), 0, self.parcel_type.shape[1] - 1)
        pr = ((rows[:, None] + self.parcel_shift[pc][None, :]) // PARCEL_ROWS).astype(np.intp)
        pr = np.clip(pr, 0, self.parcel_type.shape[0] - 1)
        town = np.zeros_like(terrain)
        soil = self.soil.sample(rows, cols)
        if self.town_px is not None:
            d = np.hypot(rows[:, None] - self.town_px[0], cols[None, :] - self.town_px[1])
            town = np.clip((1.0 - d / 700.0) * 1.6 + 0.5 * soil, 0.0, 1.0).astype(np.float32)
        return {
            "water": water,
            "ptype": self.parcel_type[pr, pc[None, :]],
            "vmax": self.parcel_vmax[pr, pc[None, :]] * (0.9 + 0.1 * self.texture.sample(rows, cols)),
            "peak": self.parcel_peak[pr, pc[None, :]],
            "bright": (1.0 + 0.22 * soil).astype(np.float32),
            "town": town,
        }

    # --- per date ----------------------------------------------------------------------

    def vegetation(self, st: dict[str, np.ndarray], when: datetime) -> np.ndarray:
        """Green vegetation cover fraction (float32, 0..1) on ``when``."""
        doy = np.float32(when.timetuple().tm_yday)
        t = doy + st["peak"]
        wheat = np.where(t < 212, np.exp(-(((t - 188) / 22) ** 2)), 0.12)
        curves = np.stack(
            [
                np.full_like(t, 0.08),  # fallow
                wheat,
                np.clip(0.55 - 0.005 * (t - 150), 0.15, 0.55),  # steppe drying through summer
                np.exp(-(((t - 218) / 24) ** 2)),  # late crop
            ]
        ).astype(np.float32)
        v = np.take_along_axis(curves, st["ptype"][None].astype(np.intp), axis=0)[0]
        return np.clip(v * st["vmax"], 0.0, 1.0) * (1.0 - st["water"]) * (1.0 - 0.85 * st["town"])

    def atmosphere(self, i: int, rows: np.ndarray, cols: np.ndarray) -> dict[str, np.ndarray]:
        """Cloud opacity, shadow strength and cirrus strength (float32, 0..1) of date ``i``."""
        ds = self.dates[i]
        if math.isinf(ds.cloud_lo):
            zero = np.zeros((rows.size, cols.size), np.float32)
            cloud, shadow = zero, zero
        else:
            cloud = smoothstep(ds.cloud.sample(rows, cols), ds.cloud_lo, ds.cloud_hi)
            dr, dc = ds.shadow_shift
            shadow = smoothstep(ds.cloud.sample(rows + dr, cols + dc), ds.cloud_lo, ds.cloud_hi)
        if math.isinf(ds.cirrus_lo):
            cirrus = np.zeros((rows.size, cols.size), np.float32)
        else:
            cirrus = smoothstep(ds.cirrus.sample(rows, cols), ds.cirrus_lo, ds.cirrus_lo + 0.3)
        return {"cloud": cloud, "shadow": shadow * (1.0 - cloud), "cirrus": cirrus}

    def invalid_cells(self, i: int, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(no-data, saturated) boolean masks, decided per 20 m cell so both grids agree."""
        ds = self.dates[i]
        cr = np.floor(rows / 2.0).astype(np.int64)[:, None]
        cc = np.floor(cols / 2.0).astype(np.int64)[None, :]
        if ds.nodata_line is None:
            nodata = np.zeros((rows.size, cols.size), bool)
        else:
            a, b = ds.nodata_line
            nodata = (cc + 0.5) < a + b * (cr + 0.5)
        sat = np.zeros((rows.size, cols.size), bool)
        for r, c in ds.saturated:
            sat |= (cr == r) & (cc == c)
        return nodata, sat & ~nodata

    def reflectance(
        self,
        band: str,
        st: dict[str, np.ndarray],
        veg: np.ndarray,
        atm: dict[str, np.ndarray],
        noise: np.ndarray,
    ) -> np.ndarray:
        """BOA reflectance of ``band`` (float32) given the layers of one window and date."""
        _, soil, vg, wat, urb, cld = SPECTRA[band]
        ground = veg * vg + (1.0 - veg) * soil * st["bright"]
        ground = ground * (1.0 - st["town"]) + urb * st["town"]
        ground = ground * (1.0 - st["water"]) + wat * st["water"]
        ground = ground * (1.0 - 0.65 * atm["shadow"]) + 0.04 * atm["cirrus"]
        refl = ground * (1.0 - atm["cloud"]) + cld * atm["cloud"] + NOISE[band] * noise
        return np.maximum(refl, 0.005).astype(np.float32, copy=False)

    def scl(
        self,
        st: dict[str, np.ndarray],
        veg: np.ndarray,
        atm: dict[str, np.ndarray],
        nodata: np.ndarray,
        sat: np.ndarray,
    ) -> np.ndarray:
        """Scene classification (uint8) of one window and date; evaluate on the 20 m grid."""
        out = np.where(veg > 0.3, 4, 5).astype(np.uint8)
        out[st["water"] > 0.9] = 6
        out[atm["shadow"] > 0.3] = 3
        out[atm["cirrus"] > 0.3] = 10
        out[atm["cloud"] > 0.25] = 8
        out[atm["cloud"] > 0.6] = 9
        out[sat] = 1
        out[nodata] = 0
        return out
