"""Spectral indices from the Awesome Spectral Indices catalogue (``eo.index``, ``eo.indices``).

- :mod:`eo.spectral.catalogue`: the ASI data shipped by spyndex, parsed once into frozen records;
- :mod:`eo.spectral.formula`: a safe compiler of formula text into NumPy closures;
- :mod:`eo.spectral.bands`: which Dataset variable feeds which band symbol;
- :mod:`eo.spectral.kernels`: the kernels of kernel indices (kNDVI...);
- :mod:`eo.spectral.apply`: :func:`index` / :func:`indices` on (lazy) Datasets.

Indices need physical values: call ``eo.calibrate(ds)`` first (variables whose attr ``state``
is ``"dn"`` are refused).
"""

from __future__ import annotations

from collections.abc import Iterable

from eo.errors import InputError, MissingConstantsError
from eo.sensors.model import SensorProfile
from eo.spectral.apply import index, indices
from eo.spectral.bands import COMMON_NAME_TO_ASI, SUBSTITUTES
from eo.spectral.catalogue import SpectralIndex, band_symbols, catalogue, constants, get_index
from eo.spectral.formula import Formula, FormulaError, compile_formula

__all__ = [
    "Formula",
    "FormulaError",
    "MissingConstantsError",
    "SpectralIndex",
    "band_symbols",
    "catalogue",
    "compile_formula",
    "constants",
    "get_index",
    "index",
    "indices",
    "list_indices",
    "profile_symbols",
]


def _as_symbols(available: Iterable[str]) -> set[str]:
    """Band symbols from a mix of ASI symbols and common names (``{"R", "nir08"}`` -> ``{"R", "N2"}``)."""
    out = set()
    for name in available:
        out.add(COMMON_NAME_TO_ASI.get(name.lower(), name))
    return out


def _computable(rec: SpectralIndex, symbols: set[str]) -> bool:
    for sym in rec.bands:
        if sym in symbols:
            continue
        if not any(s in symbols and s not in rec.bands for s in SUBSTITUTES.get(sym, ())):
            return False
    return True


def list_indices(domain: str | None = None, available: Iterable[str] | None = None) -> list[SpectralIndex]:
    """Catalogue indices, optionally filtered.

    Parameters
    ----------
    domain
        Keep only this application domain (``"vegetation"``, ``"water"``, ``"burn"``, ``"urban"``,
        ``"soil"``, ``"snow"``, ``"clouds"``, ``"radar"``, ``"kernel"``), case-insensitive.
    available
        Band symbols or STAC common names at hand; keep only indices computable from them
        (with the ``N`` <- ``N2`` substitution of :mod:`eo.spectral.bands`).

    Raises
    ------
    eo.errors.InputError
        ``domain`` is not a domain of the catalogue.
    """
    recs = list(catalogue().values())
    domains = sorted({r.domain for r in recs})
    if domain is not None and domain.lower() not in domains:
        raise InputError(f"unknown application domain {domain!r}; the catalogue has {', '.join(domains)}")
    if domain is not None:
        recs = [r for r in recs if r.domain.lower() == domain.lower()]
    if available is not None:
        symbols = _as_symbols(available)
        recs = [r for r in recs if _computable(r, symbols)]
    return recs


def profile_symbols(profile: SensorProfile) -> set[str]:
    """ASI band symbols of a sensor profile: each band's ``asi``, else its common name mapped."""
    out = set()
    for band in profile.bands:
        if band.asi:
            out.add(band.asi)
        elif band.common_name and band.common_name.lower() in COMMON_NAME_TO_ASI:
            out.add(COMMON_NAME_TO_ASI[band.common_name.lower()])
    return out
