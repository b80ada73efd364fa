"""Which Dataset variable feeds which band symbol of an index.

Each data variable maps to an Awesome-Spectral-Indices (ASI) band symbol, first match wins:

1. its attr ``asi`` (set by :func:`eo.load` from the sensor profile);
2. its attr ``common_name`` through :data:`COMMON_NAME_TO_ASI`;
3. its variable name through :data:`COMMON_NAME_TO_ASI` (``"red"``, ``"nir08"``...) or, when
   the name is itself an ASI symbol (``"N"``, ``"RE1"``), that symbol.

:data:`COMMON_NAME_TO_ASI` is built from the ``common_name`` of each symbol in ASI
``bands.json`` (coastal->A, blue->B, green->G, green05->G1, yellow->Y, red->R,
rededge071/075/078->RE1/RE2/RE3, nir->N, nir08->N2, nir09->WV, swir16->S1, swir22->S2,
lwir->T, lwir11->T1, lwir12->T2) plus the Earth Search asset keys rededge1/2/3 and the
Sentinel-1 polarisations vv/vh/hh/hv.  ``pan`` and ``cirrus`` have no ASI symbol.

Substitution: ASI gives the narrow NIR band (``nir08``, Landsat OLI B5, Sentinel-2 B8A) the
symbol ``N2`` but declares ``N`` indices such as NDVI for Landsat-OLI, whose only NIR band
is ``nir08``.  So when an index needs ``N`` (and not also ``N2``) and no variable maps to
``N``, the ``N2`` variable is used; the output attr ``bands`` records the choice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import xarray as xr

from eo.errors import MissingBandsError
from eo.spectral.catalogue import RADAR_SYMBOLS, band_symbols

#: Extra names (not ASI common names) accepted for a symbol.
EXTRA_NAMES: dict[str, str] = {"rededge1": "RE1", "rededge2": "RE2", "rededge3": "RE3"}

#: Symbol -> symbols that may stand in for it when it is absent (see module docstring).
SUBSTITUTES: dict[str, tuple[str, ...]] = {"N": ("N2",)}


def common_name_to_asi() -> dict[str, str]:
    """Lower-case STAC common name -> ASI symbol (from bands.json, plus the extra names)."""
    table = {b.common_name.lower(): sym for sym, b in band_symbols().items() if b.common_name}
    table.update(EXTRA_NAMES)
    table.update({name: sym for sym, name in RADAR_SYMBOLS.items()})
    return table


#: Lower-case STAC common name -> ASI band symbol.
COMMON_NAME_TO_ASI: Mapping[str, str] = common_name_to_asi()


def symbol_of(name: str, var: xr.DataArray) -> str | None:
    """Return the ASI band symbol of variable ``name`` (see the module docstring), or None."""
    asi = var.attrs.get("asi")
    if asi:
        return str(asi)
    common = var.attrs.get("common_name")
    if common and str(common).lower() in COMMON_NAME_TO_ASI:
        return COMMON_NAME_TO_ASI[str(common).lower()]
    if name.lower() in COMMON_NAME_TO_ASI:
        return COMMON_NAME_TO_ASI[name.lower()]
    if name in band_symbols() or name in RADAR_SYMBOLS:
        return name
    return None


def symbol_table(ds: xr.Dataset) -> dict[str, str]:
    """ASI band symbol -> variable name for every mappable variable (first variable wins)."""
    out: dict[str, str] = {}
    for name, var in ds.data_vars.items():
        sym = symbol_of(str(name), var)
        if sym is not None and sym not in out:
            out[sym] = str(name)
    return out


def describe_symbol(symbol: str) -> str:
    """``"N (nir)"``: a symbol with its common name, for messages."""
    band = band_symbols().get(symbol)
    common = band.common_name if band else RADAR_SYMBOLS.get(symbol)
    return f"{symbol} ({common})" if common else symbol


def resolve_bands(ds: xr.Dataset, needed: Iterable[str], index_name: str = "") -> dict[str, str]:
    """Map each needed band symbol to a variable of ``ds``.

    Returns
    -------
    dict
        Symbol -> variable name, in the order of ``needed``.

    Raises
    ------
    eo.errors.MissingBandsError
        Naming the bands the index needs (symbols and common names), the missing ones and
        the variables present with the symbols they map to.
    """
    needed = tuple(needed)
    table = symbol_table(ds)
    out: dict[str, str] = {}
    missing: list[str] = []
    for sym in needed:
        if sym in table:
            out[sym] = table[sym]
            continue
        subs = [s for s in SUBSTITUTES.get(sym, ()) if s in table and s not in needed]
        if subs:
            out[sym] = table[subs[0]]
        else:
            missing.append(sym)
    if missing:
        present = ", ".join(
            f"{name} -> {symbol_of(str(name), var) or 'no ASI symbol'}" for name, var in ds.data_vars.items()
        )
        what = f"index {index_name!r}" if index_name else "the formula"
        raise MissingBandsError(
            f"{what} needs bands {', '.join(describe_symbol(s) for s in needed)}; "
            f"missing {', '.join(describe_symbol(s) for s in missing)}. "
            f"Variables present: {present or 'none'}. Load the missing bands (eo.load(..., bands=[...])) "
            "or set a variable's attr 'common_name' or 'asi'"
        )
    return out
