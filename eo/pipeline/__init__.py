"""Declarative pipelines: ``eo run SPEC`` == ``eo.pipeline.run(spec)``.

See :mod:`eo.pipeline.spec` (the YAML spec and its schema), :mod:`eo.pipeline.checks` and
:mod:`eo.pipeline.planning` (everything checked and decided before any work; ``eo run --dry-run``),
:mod:`eo.pipeline.runner` (scheduling per tile x period on Dask), :mod:`eo.pipeline.tile` (one
tile and period), :mod:`eo.pipeline.commit` (each one a transaction; recovery after an
interruption), :mod:`eo.pipeline.state` (incremental state, ownership, lock) and
:mod:`eo.pipeline.report` (run report, exit codes).
"""

from eo.pipeline.planning import Plan
from eo.pipeline.report import RunReport
from eo.pipeline.runner import plan, run
from eo.pipeline.spec import PipelineSpec, load_spec

__all__ = ["PipelineSpec", "Plan", "RunReport", "load_spec", "plan", "run"]
