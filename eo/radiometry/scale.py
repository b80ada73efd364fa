"""Stored value -> physical value: ``scale``/``offset`` per time slice, and the Sentinel-2 offset policy.

The linear mapping ``value * scale + offset`` of a band comes, per time slice, from the item's
``raster:bands`` (the ``<var>_scale``/``<var>_offset`` coordinates, when not NaN), else from the
sensor profile (band calibration, then product default).

Sentinel-2 processing baseline 04.00 and later (including the Collection-1 reprocessing of older
dates, baselines 05.xx) store ``DN = 10000 * reflectance + 1000``: ``RADIO_ADD_OFFSET`` (L1C) and
``BOA_ADD_OFFSET`` (L2A) are -1000 DN, i.e. an offset of -0.1 with the scale 1e-4.  Whether a time
slice needs that offset is decided by a named *offset policy* from the facts of its item:

``raster-bands``
    Trust the item's ``raster:bands`` offset when it gives one; else the processing baseline
    (``processing_baseline`` coordinate, else the ``_Nxxyy_`` of the product id); else the profile.
``baseline``
    Trust the processing baseline (>= 4.00 -> -1000 DN); else as ``raster-bands``.
``flag`` (default)
    Trust Earth Search's ``earthsearch:boa_offset_applied`` (coordinate ``boa_offset_applied``):
    true means Element84 already shifted the stored DNs, so no offset is added; false or unknown
    falls back to ``raster-bands``.

Why ``flag`` is the default: Earth Search (``sentinel-2-l2a``) items carry ``raster:bands`` offset
-0.1 even where the DNs were already harmonised, and Element84 says the flag is the truth when the
two disagree (https://github.com/Element84/earth-search/issues/9, comment of 2023-08-03).  Items of
every other provider have no flag, and there ``flag`` is exactly ``raster-bands`` (the STAC raster
extension is the documented place for the offset).  Known limit, visible in no metadata: some Earth
Search items say ``boa_offset_applied: false`` although the DNs are already shifted
(https://github.com/Element84/earth-search/issues/66, https://github.com/Element84/earth-search/issues/71,
https://github.com/cirrus-geo/cirrus-earth-search/issues/33); no policy can detect those.

The catalogue definitions (``catalogs/*.yaml``, :data:`eo.catalog.definitions.BOA_OFFSET_POLICIES`)
spell policies from the catalogue's point of view; they are registered too:

``from-item``
    = ``flag``.
``from-baseline``
    = ``baseline``.
``applied``
    Every item's DNs already had the offset removed (a harmonising mirror): never add an offset.
``not-applied``
    No item's DNs had it removed (the flag is taken as false everywhere): as ``raster-bands``.

A catalogue definition overrides the default with its ``boa_offset_policy`` (passed to
:func:`eo.calibrate` or stored as ``ds.attrs["boa_offset_policy"]``); a callable with the signature
of :data:`OffsetPolicy` may be passed instead of a name.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from eo.errors import UnknownMethodError

FloatArray = npt.NDArray[np.float64]

DEFAULT_OFFSET_POLICY = "flag"

_ID_BASELINE = re.compile(r"_N(\d{2})(\d{2})(?:_|$)")


@dataclass(frozen=True)
class BaselineRule:
    """A sensor whose stored DNs carry an additive offset from some processing baseline on."""

    since: float
    """First processing baseline (as a number: ``"04.00"`` -> 4.0) whose DNs carry the offset."""
    dn_offset: float
    """The offset in stored units (DN); the physical offset is ``dn_offset * scale``."""


#: Sensor-profile id prefix -> baseline rule (ESA: RADIO_ADD_OFFSET / BOA_ADD_OFFSET = -1000 DN).
BASELINE_RULES: dict[str, BaselineRule] = {"sentinel-2": BaselineRule(since=4.0, dn_offset=-1000.0)}


@dataclass(frozen=True)
class SliceFacts:
    """What one time slice's item says about its offset (NaN / None where it says nothing)."""

    raster_offset: float
    """``raster:bands`` offset of the asset (physical units), NaN if absent."""
    scale: float
    """The scale in force for the slice (``raster:bands`` else profile)."""
    baseline: float
    """Processing baseline as a number (``"05.09"`` -> 5.09), NaN if unknown."""
    offset_applied: float
    """``earthsearch:boa_offset_applied``: 1.0 true, 0.0 false, NaN unknown."""
    profile_offset: float
    """The profile's offset for the band (physical units)."""
    rule: BaselineRule


#: A policy maps the facts of one slice to ``(offset, source)``; source is one of
#: ``"raster:bands" | "processing_baseline" | "item" | "profile"``.
OffsetPolicy = Callable[[SliceFacts], tuple[float, str]]


def _by_raster_bands(f: SliceFacts) -> tuple[float, str]:
    if not math.isnan(f.raster_offset):
        return f.raster_offset, "raster:bands"
    if not math.isnan(f.baseline):
        return _baseline_offset(f), "processing_baseline"
    return f.profile_offset, "profile"


def _baseline_offset(f: SliceFacts) -> float:
    return f.rule.dn_offset * f.scale if f.baseline >= f.rule.since else 0.0


def _by_baseline(f: SliceFacts) -> tuple[float, str]:
    if not math.isnan(f.baseline):
        return _baseline_offset(f), "processing_baseline"
    return _by_raster_bands(f)


def _by_flag(f: SliceFacts) -> tuple[float, str]:
    if f.offset_applied == 1.0:
        # The provider already added the offset to the stored DNs (they read like pre-04.00 data).
        return 0.0, "item"
    return _by_raster_bands(f)


def _already_applied(f: SliceFacts) -> tuple[float, str]:
    return 0.0, "catalogue policy 'applied'"


#: Named offset policies (see the module docstring); the last four are the catalogue definitions' names.
OFFSET_POLICIES: dict[str, OffsetPolicy] = {
    "flag": _by_flag,
    "raster-bands": _by_raster_bands,
    "baseline": _by_baseline,
    "from-item": _by_flag,
    "from-baseline": _by_baseline,
    "applied": _already_applied,
    "not-applied": _by_raster_bands,
}


def get_offset_policy(policy: str | OffsetPolicy | None) -> tuple[str, OffsetPolicy]:
    """Return the ``(name, function)`` of a policy given by name, callable or ``None`` (the default)."""
    if policy is None:
        policy = DEFAULT_OFFSET_POLICY
    if callable(policy):
        return getattr(policy, "__name__", "custom"), policy
    try:
        return policy, OFFSET_POLICIES[policy]
    except KeyError:
        names = ", ".join(sorted(OFFSET_POLICIES))
        raise UnknownMethodError(
            f"unknown boa_offset_policy {policy!r}; expected one of: {names} (or a callable)"
        ) from None


def parse_baseline(value: object) -> float:
    """Parse a processing baseline: ``"04.00"`` -> 4.0, ``"N0509"``/``"0509"`` -> 5.09; NaN if unknown."""
    if value is None:
        return math.nan
    if isinstance(value, int | float | np.number):
        return float(value)
    text = str(value).strip().upper().removeprefix("N")
    if re.fullmatch(r"\d{4}", text):
        return int(text[:2]) + int(text[2:]) / 100
    try:
        return float(text)
    except ValueError:
        return math.nan


def baseline_from_id(item_id: object) -> float:
    """Read the processing baseline encoded in an ESA product id (``..._N0400_R...``); NaN when absent.

    ESA product names (and Copernicus Data Space item ids) carry ``_Nxxyy_``, e.g.
    ``S2B_MSIL2A_20250302T095029_N0511_R079_T33UXP_20250302T104753``; Earth Search ids
    (``S2B_52SFA_20220126_0_L2A``, ``S2B_T43QDB_20200110T053549_L2A``) and Planetary Computer ids do not.
    """
    match = _ID_BASELINE.search(str(item_id or ""))
    return int(match.group(1)) + int(match.group(2)) / 100 if match else math.nan


def baseline_rule(sensor: str | None) -> BaselineRule | None:
    """Return the baseline rule of a sensor profile id (prefix match), or ``None``."""
    for prefix, rule in BASELINE_RULES.items():
        if sensor and sensor.startswith(prefix):
            return rule
    return None


@dataclass(frozen=True)
class Linear:
    """Per-time ``scale``/``offset`` of one band with the source of each."""

    scale: FloatArray
    offset: FloatArray
    scale_source: tuple[str, ...]
    offset_source: tuple[str, ...]


def linear_coefficients(
    raster_scale: FloatArray,
    raster_offset: FloatArray,
    profile_scale: float,
    profile_offset: float,
    *,
    rule: BaselineRule | None = None,
    baselines: FloatArray | None = None,
    offset_applied: FloatArray | None = None,
    policy: OffsetPolicy = _by_flag,
) -> Linear:
    """Resolve ``scale``/``offset`` per time slice (pure; float64 arrays of length ``n_time``).

    ``raster_*`` are the ``raster:bands`` values (NaN where the item gives none).  Without a
    baseline ``rule`` (every sensor but Sentinel-2) ``raster:bands`` wins over the profile; with one,
    the offset is decided by ``policy`` from the slice facts.
    """
    n = raster_scale.shape[0]
    has_rs = np.isfinite(raster_scale)
    scale = np.where(has_rs, raster_scale, profile_scale).astype(np.float64)
    scale_source = tuple("raster:bands" if h else "profile" for h in has_rs)
    nan = np.full(n, np.nan)
    baselines = nan if baselines is None else baselines
    offset_applied = nan if offset_applied is None else offset_applied
    offsets: list[float] = []
    sources: list[str] = []
    for i in range(n):
        if rule is None:
            ro = float(raster_offset[i])
            pair = (ro, "raster:bands") if math.isfinite(ro) else (profile_offset, "profile")
        else:
            facts = SliceFacts(
                raster_offset=float(raster_offset[i]),
                scale=float(scale[i]),
                baseline=float(baselines[i]),
                offset_applied=float(offset_applied[i]),
                profile_offset=profile_offset,
                rule=rule,
            )
            pair = policy(facts)
        offsets.append(float(pair[0]))
        sources.append(pair[1])
    return Linear(scale, np.asarray(offsets, dtype=np.float64), scale_source, tuple(sources))


def summarise(values: FloatArray, sources: tuple[str, ...], limit: int = 3) -> str:
    """Short text ``value (source)`` of per-time coefficients: distinct pairs once, a range past ``limit``."""
    pairs = list(dict.fromkeys((float(v), s) for v, s in zip(np.asarray(values).tolist(), sources)))
    if len(pairs) <= limit:
        return ", ".join(f"{v:.6g} ({s})" for v, s in pairs)
    srcs = "/".join(dict.fromkeys(s for _, s in pairs))
    return f"{len(values)} values {np.nanmin(values):.6g}..{np.nanmax(values):.6g} ({srcs})"
