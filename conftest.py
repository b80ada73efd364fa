"""Names the docstring examples of ``eo`` use (``pytest --doctest-modules eo`` runs them all, unskipped).

``items``: a small synthetic Sentinel-2 L2A collection (2 dates, 256 x 256 px, real COGs on disk);
``ds``: those items loaded (red, nir, qa); ``refl``, ``bad``, ``ndvi``: calibrated, mask, NDVI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def _doctest_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import pystac

    import eo
    from eo.testing.synthetic import make_s2_l2a_catalog

    root = make_s2_l2a_catalog(tmp_path_factory.mktemp("doctest-catalog"), dates=2, size=256, tile=256)
    items = list(pystac.Catalog.from_file(str(root)).get_items(recursive=True))
    ds = eo.load(items, bands=["red", "nir", "qa"], chunks=128)
    refl = eo.calibrate(ds)
    bad = eo.mask(ds)
    return {"eo": eo, "items": items, "ds": ds, "refl": refl, "bad": bad,
            "ndvi": eo.index(refl, "NDVI").where(~bad), "catalog_json": Path(root)}  # fmt: skip


@pytest.fixture(autouse=True)
def _doctest_names(request: pytest.FixtureRequest, doctest_namespace: dict[str, Any]) -> None:
    if isinstance(request.node, pytest.DoctestItem):
        doctest_namespace.update(request.getfixturevalue("_doctest_data"))
