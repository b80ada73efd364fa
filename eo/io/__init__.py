"""Outputs: COG (:func:`eo.io.cog.write_cog`), optional Zarr, output STAC items, quicklooks.

Every writer is atomic (:mod:`eo.io.atomic`): a temp file next to the target, then ``os.replace``.
"""

from __future__ import annotations
