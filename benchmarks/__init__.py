"""Benchmarks of eo against odc-stac, stackstac and a rasterio+numba floor (``python -m benchmarks``)."""
