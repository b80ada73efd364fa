"""The spectral-index catalogue: Awesome Spectral Indices, as shipped by ``spyndex``.

The three JSON files of the Awesome Spectral Indices (ASI) project that the ``spyndex``
package ships (``spectral-indices-dict.json``, ``bands.json``, ``constants.json``) are read
once, on first use, and parsed into frozen records.  Formulas are never retyped here:
upgrading spyndex upgrades the catalogue.

Vocabulary: an index reads *symbols*; a symbol is a band (``"N"``, ``"RE1"``, from
``bands.json``), a constant (``"L"``, ``"g"``, from ``constants.json``), a kernel value
(``"kNR"`` = k(N, R), see :mod:`eo.spectral.kernels`) or a radar polarisation
(``"VV"``, ``"VH"``, ``"HH"``, ``"HV"``, which ``bands.json`` does not list).
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from eo.errors import UnknownIndexError

#: Radar polarisations used by the ``radar`` indices (Sentinel-1); not in bands.json.
RADAR_SYMBOLS = {"VV": "vv", "VH": "vh", "HH": "hh", "HV": "hv"}


@dataclass(frozen=True)
class BandSymbol:
    """A band symbol of the catalogue (an entry of ``bands.json``)."""

    symbol: str
    """ASI symbol (``"N"``, ``"S1"``...)."""
    common_name: str
    """STAC ``eo:common_name`` ASI gives it (``"nir"``, ``"swir16"``...)."""
    long_name: str
    min_wavelength: float | None
    """Lower edge of the spectral range, nanometres."""
    max_wavelength: float | None
    """Upper edge of the spectral range, nanometres."""
    platform_wavelengths: tuple[tuple[str, float], ...] = ()
    """(ASI platform key such as ``"sentinel2a"``, centre wavelength in nm) pairs."""


@dataclass(frozen=True)
class Constant:
    """A constant of the catalogue (an entry of ``constants.json``)."""

    symbol: str
    description: str
    default: float | None
    """Default value; None when the user must supply it (``PAR``, ``lambdaN``...)."""


@dataclass(frozen=True)
class SpectralIndex:
    """One index of the catalogue."""

    short_name: str
    """Catalogue key, e.g. ``"NDVI"`` (case as in ASI)."""
    long_name: str
    formula: str
    """Formula text in Python expression syntax over :attr:`symbols`."""
    symbols: tuple[str, ...]
    """Every symbol the formula reads (ASI's ``bands`` field: bands, constants, kernel values)."""
    domain: str
    """Application domain: vegetation, water, burn, urban, soil, radar, snow, clouds, kernel."""
    reference: str
    contributor: str
    date: str
    """Date the index was added to ASI (ISO ``YYYY-MM-DD``)."""
    platforms: tuple[str, ...] = ()
    """Platforms ASI declares the index for (``"Sentinel-2"``, ``"Landsat-OLI"``...)."""

    @property
    def bands(self) -> tuple[str, ...]:
        """The band symbols the index reads (kernel values expanded to their two bands)."""
        out: list[str] = []
        band_syms = band_symbols().keys() | RADAR_SYMBOLS.keys()
        for sym in self.symbols:
            parts = split_kernel_symbol(sym) if is_kernel_symbol(sym) else (sym,)
            out.extend(p for p in parts if p in band_syms)
        return tuple(dict.fromkeys(out))

    @property
    def constants(self) -> tuple[str, ...]:
        """The constants the index reads (including those of kernel values such as ``L`` in ``kNL``)."""
        out: list[str] = []
        for sym in self.symbols:
            parts = split_kernel_symbol(sym) if is_kernel_symbol(sym) else (sym,)
            out.extend(p for p in parts if p in constants())
        return tuple(dict.fromkeys(out))

    @property
    def kernel_symbols(self) -> tuple[str, ...]:
        """Kernel values (``kNN``, ``kNR``...) the formula reads."""
        return tuple(s for s in self.symbols if is_kernel_symbol(s))


def _data_dir() -> Any:
    # find_spec locates the installed package without importing it (spyndex's __init__ imports
    # pandas, requests and its plotting helpers: a few hundred ms that eo does not need)
    spec = find_spec("spyndex")
    if spec is None or not spec.submodule_search_locations:
        return files("spyndex") / "data"  # raises the usual ModuleNotFoundError
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _read_json(name: str) -> Any:
    return json.loads((_data_dir() / name).read_text(encoding="utf-8"))


@cache
def band_symbols() -> dict[str, BandSymbol]:
    """Band symbol -> :class:`BandSymbol`, from ASI ``bands.json`` (read once)."""
    out = {}
    for sym, raw in _read_json("bands.json").items():
        plats = tuple(
            (p, float(v["wavelength"])) for p, v in raw.get("platforms", {}).items() if v.get("wavelength")
        )
        out[sym] = BandSymbol(
            symbol=sym,
            common_name=raw.get("common_name", ""),
            long_name=raw.get("long_name", ""),
            min_wavelength=raw.get("min_wavelength"),
            max_wavelength=raw.get("max_wavelength"),
            platform_wavelengths=plats,
        )
    return out


@cache
def constants() -> dict[str, Constant]:
    """Constant symbol -> :class:`Constant`, from ASI ``constants.json`` (read once)."""
    return {
        sym: Constant(
            symbol=sym,
            description=raw.get("description", ""),
            default=None if raw.get("default") is None else float(raw["default"]),
        )
        for sym, raw in _read_json("constants.json").items()
    }


@cache
def catalogue() -> dict[str, SpectralIndex]:
    """Short name -> :class:`SpectralIndex` for every ASI index (read once, in ASI order)."""
    raw = _read_json("spectral-indices-dict.json")["SpectralIndices"]
    return {
        key: SpectralIndex(
            short_name=rec.get("short_name", key),
            long_name=rec.get("long_name", ""),
            formula=rec["formula"],
            symbols=tuple(rec.get("bands", ())),
            domain=rec.get("application_domain", ""),
            reference=rec.get("reference", ""),
            contributor=rec.get("contributor", ""),
            date=rec.get("date_of_addition", ""),
            platforms=tuple(rec.get("platforms", ())),
        )
        for key, rec in raw.items()
    }


@cache
def _lower_names() -> dict[str, tuple[str, ...]]:
    """Lower-case name -> catalogue names (two pairs differ only by case: BAI/BaI, MSR705/mSR705)."""
    out: dict[str, tuple[str, ...]] = {}
    for name in catalogue():
        out[name.lower()] = (*out.get(name.lower(), ()), name)
    return out


def get_index(name: str) -> SpectralIndex:
    """Return the index called ``name``: exact case first, else case-insensitive.

    Raises
    ------
    eo.errors.UnknownIndexError
        With the closest names of the catalogue, or the candidates when the name matches
        several indices case-insensitively (``"bai"``: BAI, the Burned Area Index, and BaI,
        the Bareness Index).
    """
    name = str(name)
    if name in catalogue():
        return catalogue()[name]
    keys = _lower_names().get(name.lower(), ())
    if len(keys) == 1:
        return catalogue()[keys[0]]
    if keys:
        choices = "; ".join(f"{k} ({catalogue()[k].long_name})" for k in keys)
        raise UnknownIndexError(f"index name {name!r} is ambiguous without case: {choices}; write it exactly")
    close = difflib.get_close_matches(name.lower(), list(_lower_names()), n=5, cutoff=0.6)
    hint = f"did you mean {', '.join(k for c in close for k in _lower_names()[c])}? " if close else ""
    raise UnknownIndexError(
        f"unknown spectral index {name!r}; {hint}the catalogue has {len(catalogue())} indices: "
        "list them with `eo indices` or eo.spectral.list_indices()"
    )


def is_kernel_symbol(symbol: str) -> bool:
    """Whether ``symbol`` is a kernel value ``k<A><B>`` (e.g. ``kNR`` = k(N, R))."""
    try:
        split_kernel_symbol(symbol)
    except ValueError:
        return False
    return True


def split_kernel_symbol(symbol: str) -> tuple[str, str]:
    """Split ``"kNR"`` into ``("N", "R")``: the two operands (band symbols or constants) of a kernel.

    Raises ``ValueError`` if ``symbol`` is not ``k`` followed by exactly one split into two known symbols.
    """
    known = band_symbols().keys() | constants().keys()
    if not symbol.startswith("k") or symbol in known:
        raise ValueError(f"{symbol!r} is not a kernel symbol")
    body = symbol[1:]
    splits = [(body[:i], body[i:]) for i in range(1, len(body)) if body[:i] in known and body[i:] in known]
    if len(splits) != 1:
        raise ValueError(f"{symbol!r} is not a kernel symbol k<A><B> with A, B known symbols")
    return splits[0]
