"""Declarative pipelines: ``eo run SPEC`` == ``eo.pipeline.run(spec)``.

See :mod:`eo.pipeline.spec` (the YAML spec and its schema), :mod:`eo.pipeline.runner`
(scheduling per tile x period on Dask), :mod:`eo.pipeline.state` (incremental state, lock)
and :mod:`eo.pipeline.report` (run report, exit codes).
"""

from eo.pipeline.report import RunReport
from eo.pipeline.runner import run
from eo.pipeline.spec import PipelineSpec, load_spec

__all__ = ["PipelineSpec", "RunReport", "load_spec", "run"]
