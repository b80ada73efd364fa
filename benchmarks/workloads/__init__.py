"""One module per way of writing the NDVI-median workload; each runs as ``python -m`` in a fresh process.

Every module takes ``CATALOG OUT.tif`` and writes a float32 COG of the temporal median NDVI
(NaN where no clear observation) on the 10 m grid of the first item.
"""

#: Workload name -> module, in the order they run within a round.
WORKLOADS = {
    "floor": "benchmarks.workloads.floor",
    "odc_stac": "benchmarks.workloads.odc_stac",
    "stackstac": "benchmarks.workloads.stackstac",
    "eo_api": "benchmarks.workloads.eo_api",
    "pipeline": "benchmarks.workloads.pipeline",
}

#: The zonal-statistics workloads (``python -m benchmarks zonal``): name -> module.  Each takes
#: ``CATALOG OUT.csv`` and the fields file in ``$EO_BENCH_FIELDS`` (see ``_zonal.py``).
ZONAL_WORKLOADS = {
    "zonal_rasterstats": "benchmarks.workloads.zonal_rasterstats",
    "zonal_eo": "benchmarks.workloads.zonal_eo",
    "zonal_exactextract": "benchmarks.workloads.zonal_exactextract",
}
