"""Cloud-cover strategies of the ingest (:mod:`eo.catalog.ingest`): name -> function of a QA array.

A description names one (``cloud_cover: {method: <name>, band: <asset key>}``); the build reads
that band (eager numpy) and records the result as ``eo:cloud_cover`` (percent) and the rule, from
:data:`CLOUD_COVER_RULES`, as ``eotk:cloud_cover_source``.  Add a strategy by adding a function
and its rule here.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def landsat_pre_collection_bqa(qa: np.ndarray) -> float | None:
    """Cloud cover (percent) from a pre-collection Landsat-8 BQA band (uint16, eager numpy).

    Rule: 100 * pixels whose cloud confidence (bits 14-15) *or* cirrus confidence (bits 12-13)
    is 3 ("high") / pixels not flagged designated fill (bit 0).  Medium and low confidences are not
    counted.  ``None`` when every pixel is fill.
    """
    valid = (qa & 1) == 0
    n = int(valid.sum())
    if n == 0:
        return None
    cloudy = (((qa >> 14) & 0b11) == 3) | (((qa >> 12) & 0b11) == 3)
    return 100.0 * int((cloudy & valid).sum()) / n


#: Cloud-cover strategies: name -> function of the QA array returning percent (or None).
CLOUD_COVER_METHODS: dict[str, Callable[[np.ndarray], float | None]] = {
    "landsat-pre-collection-bqa": landsat_pre_collection_bqa,
}
#: Human-readable rule of each method (recorded as eotk:cloud_cover_source).
CLOUD_COVER_RULES = {
    "landsat-pre-collection-bqa": "computed by eo from the BQA band: 100 * pixels with cloud confidence "
    "(bits 14-15) == 3 (high) or cirrus confidence (bits 12-13) == 3 (high) / pixels without designated "
    "fill (bit 0); medium and low confidences are not counted",
}
