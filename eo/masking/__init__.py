"""Cloud, shadow and nodata masks decoded from each product's QA band (tables in the sensor profiles).

:func:`mask` reads the QA variable of a loaded Dataset, decodes the requested classes with the
product's :class:`~eo.sensors.model.QADecoding` table (:mod:`eo.masking.qa`), adds measurement
nodata, and optionally dilates cloud/shadow/cirrus by a distance in metres across Dask chunk
edges (:mod:`eo.masking.dilation`).  Class names are the same for every sensor
(:data:`eo.sensors.model.MASK_CLASSES`).  Everything stays lazy.
"""

from __future__ import annotations

from eo.errors import SkippedMaskClassWarning, UnsupportedMaskClassError
from eo.masking.compose import DEFAULT_CLASSES, DILATED_CLASSES, mask
from eo.masking.dilation import dilate_array, footprint, parse_distance
from eo.masking.qa import decodable_classes, decode

__all__ = [
    "DEFAULT_CLASSES",
    "DILATED_CLASSES",
    "SkippedMaskClassWarning",
    "UnsupportedMaskClassError",
    "decodable_classes",
    "decode",
    "dilate_array",
    "footprint",
    "mask",
    "parse_distance",
]
