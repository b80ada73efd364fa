"""Decode a QA band into boolean masks per class name, from the product's :class:`QADecoding` table.

Two decoders, chosen by ``QADecoding.kind`` (a registry, not an if-chain):

``classes``
    each pixel holds one class value (Sentinel-2 SCL): the mask is ``qa in values``;
``bits``
    bit-packed flags (Landsat BQA / QA_PIXEL): a field is ``(qa >> bit) & (2**width - 1)``
    and the mask is ``field in values``, OR-ed over the fields listed for the class.

Everything is element-wise xarray arithmetic, so Dask-backed input stays lazy.  A float QA
array (NaN where the loader had no data) is read as integers with NaN counted as ``nodata``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import reduce

import numpy as np
import xarray as xr

from eo.errors import UnsupportedMaskClassError
from eo.sensors.model import MASK_CLASSES, BitField, Product, QADecoding


def decodable_classes(product: Product) -> tuple[str, ...]:
    """Mask classes a product can produce, in :data:`MASK_CLASSES` order.

    ``nodata`` is always available (from measurement nodata values even without a QA band).
    """
    qa = product.qa
    table: set[str] = set() if qa is None else set(qa.classes if qa.kind == "classes" else qa.bits)
    return tuple(c for c in MASK_CLASSES if c == "nodata" or c in table)


def _any(masks: Sequence[xr.DataArray]) -> xr.DataArray:
    return reduce(lambda a, b: a | b, masks)


def _equals_any(values: xr.DataArray, accepted: Sequence[int]) -> xr.DataArray:
    return _any([values == int(v) for v in accepted])


def _decode_classes(qa: xr.DataArray, decoding: QADecoding, name: str) -> xr.DataArray:
    return _equals_any(qa, decoding.classes[name])


def _field(qa: xr.DataArray, f: BitField) -> xr.DataArray:
    return (qa >> f.bit) & (2**f.width - 1)


def _decode_bits(qa: xr.DataArray, decoding: QADecoding, name: str) -> xr.DataArray:
    return _any([_equals_any(_field(qa, f), f.values) for f in decoding.bits[name]])


#: QADecoding.kind -> decoder(qa integer array, decoding, class name) -> bool array.
DECODERS: dict[str, Callable[[xr.DataArray, QADecoding, str], xr.DataArray]] = {
    "classes": _decode_classes,
    "bits": _decode_bits,
}


def _as_integers(qa: xr.DataArray) -> tuple[xr.DataArray, xr.DataArray | None]:
    """Integer view of a QA array and the mask of its NaNs (``None`` for integer input)."""
    if np.issubdtype(qa.dtype, np.integer):
        return qa, None
    missing = qa.isnull()
    return qa.fillna(0).astype(np.int64), missing


def decode(qa: xr.DataArray, decoding: QADecoding, name: str) -> xr.DataArray:
    """Boolean mask (True = pixel flagged as ``name``) of one class from a QA array (lazy).

    Parameters
    ----------
    qa
        The QA band as stored (integer dtype; float with NaN accepted), any dims.
    decoding
        The product's decoding table.
    name
        A class of :data:`eo.sensors.model.MASK_CLASSES` present in the table.

    Raises
    ------
    UnsupportedMaskClassError
        The table does not decode ``name``.
    """
    table = decoding.classes if decoding.kind == "classes" else decoding.bits
    if name not in table:
        known = ", ".join(table)
        raise UnsupportedMaskClassError(
            f"QA band {decoding.band!r} cannot decode mask class {name!r}; it decodes: {known}"
        )
    values, missing = _as_integers(qa)
    out = DECODERS[decoding.kind](values, decoding, name)
    if missing is not None and name == "nodata":
        out = out | missing
    return out


def lookup_table(decoding: QADecoding, names: Sequence[str], dtype: np.dtype) -> np.ndarray | None:
    """Boolean table ``t`` with ``t[v - min(dtype)]`` = value ``v`` is flagged by any class of ``names``.

    Built by running :func:`decode` on every value of ``dtype`` (so it means exactly what the
    element-wise decoders mean); ``None`` for dtypes wider than 16 bits or not integer.
    Looking a chunk up in it is one pass whatever the number of classes and bit fields.
    """
    dtype = np.dtype(dtype)
    if dtype.kind not in "iu" or dtype.itemsize > 2:
        return None
    info = np.iinfo(dtype)
    values = xr.DataArray(np.arange(info.min, info.max + 1, dtype=np.int64).astype(dtype), dims=("v",))
    flagged = np.zeros(values.size, dtype=bool)
    for name in names:
        flagged |= decode(values, decoding, name).values
    return flagged
