"""Run a pipeline spec: plan, then compute and commit each (tile, period), then report.

``run(spec)`` is what ``eo run SPEC`` and a notebook call: the same code path.

1. **Plan** (:mod:`eo.pipeline.planning`): the spec is checked (names, paths, the output directory),
   the catalogue searched, tiles and periods paired with their items, unchanged ones found, and the
   first tile's lazy graph built.  Nothing is written and no cluster started before this passes:
   a typo is one line naming the file, line and key.  ``plan(spec)`` (``eo run --dry-run``) stops here.
2. **Recover** (:mod:`eo.pipeline.commit`), under the run lock: the directory is claimed for this
   pipeline, stale temp files and uncommitted outputs of an interrupted run are removed and the
   catalogue rebuilt from the committed state.
3. **Execute**: each (tile, period) to compute builds one lazy graph with the public API and streams
   it into its COGs (:mod:`eo.pipeline.tile`), then is committed: item, state record, catalogue.
   A tile that fails is reported and the others go on; a scene that cannot be read is left out
   (``on_asset_error: skip``); storage that refuses writes stops the run.
4. **Zonal statistics** (:mod:`eo.pipeline.zonal`, specs with a ``zonal:`` section): one table per
   period over the committed outputs of all tiles, recomputed only when the period's tiles, the
   zones or the zonal settings changed; committed like a tile.
5. **Report** (:mod:`eo.pipeline.report`): written at the end, and also when the run is interrupted
   (SIGINT/SIGTERM: ``KeyboardInterrupt`` is re-raised after it) or fails unexpectedly.  Rows of
   unchanged tiles come from their state records, so the report accumulates.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from eo import config
from eo.errors import EOError, StorageError
from eo.pipeline.commit import Outputs
from eo.pipeline.planning import Plan, make_plan
from eo.pipeline.report import RunReport, TileResult
from eo.pipeline.spec import PipelineSpec, load_spec, parse_spec
from eo.pipeline.state import RunLock, claim, fingerprint, item_fingerprint, unwritable
from eo.pipeline.tile import Job, make
from eo.redact import redact

log = logging.getLogger("eo.pipeline")

Progress = Callable[[str], None]


def _as_spec(spec: PipelineSpec | str | Path | Mapping[str, Any], out: str | Path | None) -> PipelineSpec:
    if isinstance(spec, str | Path):
        spec = load_spec(spec)
    elif not isinstance(spec, PipelineSpec):
        spec = parse_spec(spec)
    return spec.with_out_dir(out) if out is not None else spec


def plan(
    spec: PipelineSpec | str | Path | Mapping[str, Any],
    *,
    out: str | Path | None = None,
    progress: Progress | None = None,
) -> Plan:
    """Check a spec and plan its run without running it (searches; writes nothing; starts no cluster).

    Returns the :class:`~eo.pipeline.planning.Plan`; ``print(plan(spec).describe())`` is ``eo run --dry-run``.
    """
    spec = _as_spec(spec, out)
    with config.set(**spec.settings):
        return make_plan(spec, say=progress)


def run(
    spec: PipelineSpec | str | Path | Mapping[str, Any],
    *,
    out: str | Path | None = None,
    cluster: Any = None,
    progress: Progress | None = None,
) -> RunReport:
    """Run a pipeline (COMPUTES and writes outputs); return the run report.

    Parameters
    ----------
    spec
        A :class:`PipelineSpec`, a path to a YAML spec, or a mapping following the schema.
    out
        Output directory (overrides ``outputs.dir``).
    cluster
        ``None`` (an existing client, else ``cluster.address`` of the spec, else a new LocalCluster of
        worker processes sized to the machine), a ``tcp://`` address, a ``distributed.Client``, or
        ``"threads"`` (this process's threaded scheduler).
    progress
        Called with one line of text per event (the CLI prints them).

    Raises
    ------
    eo.errors.EOError
        Before anything is written: a bad spec, an unreachable catalogue, no items, an output
        directory that cannot be written or belongs to another pipeline.
    KeyboardInterrupt
        After writing the report of what finished (the next run resumes from there).
    """
    spec = _as_spec(spec, out)
    with config.set(**spec.settings):  # captured into every read task: they reach any cluster's workers
        return _run(spec, cluster, progress)


def _run(spec: PipelineSpec, cluster: Any, progress: Progress | None) -> RunReport:
    say = progress or (lambda s: log.info(s))
    loud = progress is None  # without a progress callback, failures are logged as warnings
    t0 = time.perf_counter()
    the_plan = make_plan(spec, say=say)
    say(
        f"{len(the_plan.items)} items, {len(the_plan.tiles)} tiles of grid {the_plan.grid.crs} "
        f"{the_plan.grid.resolution:g} m, spec {spec.spec_hash}"
    )
    out_dir = spec.out_dir
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise unwritable(out_dir, err) from None
    with RunLock(out_dir, spec.name):
        claim(out_dir, spec.name)
        outputs = Outputs(out_dir, spec.name, spec.description)
        recovered = outputs.recover()
        if recovered:
            n = len(recovered.temp_files) + len(recovered.uncommitted)
            say(f"cleaned up {n} file(s) left by an interrupted run")
        the_plan.split(outputs.store)  # again, under the lock
        report = _start_report(the_plan, outputs, recovered)
        for job in the_plan.current:
            say(f"{job.tile} {job.period.label}: unchanged")
        try:
            _execute_all(the_plan, outputs, report, cluster, say, loud)
        except KeyboardInterrupt:
            report.interrupted = True
            raise
        finally:
            _flush_catalogue(outputs)
            report.seconds["total"] = time.perf_counter() - t0
            _write_report(report, out_dir)
    return report


def _start_report(the_plan: Plan, outputs: Outputs, recovered: Any) -> RunReport:
    """The report before execution: every (tile, period) with its row (kept, empty or pending)."""
    spec = the_plan.spec
    report = RunReport(spec.name, spec.spec_hash, str(spec.out_dir))
    report.items_found = len(the_plan.items)
    report.describe(the_plan.items, the_plan.grid, the_plan.area)
    report.seconds.update(the_plan.seconds)
    if recovered:
        report.recovered = {"temp_files": recovered.temp_files, "uncommitted": recovered.uncommitted}
    rows: dict[tuple[str, str], TileResult] = {}
    for job in the_plan.todo:
        rows[(job.tile, job.period.label)] = TileResult(job.tile, job.period.label, "pending", inputs=job.ids)
    for job in the_plan.current:
        rows[(job.tile, job.period.label)] = _kept(outputs, job)
    for tile, label in the_plan.empty:
        rows[(tile, label)] = TileResult(tile, label, "empty")
    order = [(t, p.label) for p in the_plan.periods for t, _ in the_plan.tiles]
    report.results = [rows[k] for k in order if k in rows]
    return report


def _kept(outputs: Outputs, job: Job) -> TileResult:
    """The row of an unchanged (tile, period): the row of the run that made it, marked unchanged."""
    rec = outputs.records.get((job.tile, job.period.label)) or {}
    row = rec.get("result")
    if isinstance(row, dict):
        kept = TileResult.from_dict(row)
        kept.status = "skipped"
        return kept
    return TileResult(job.tile, job.period.label, "skipped", inputs=job.ids, files=list(rec.get("files", [])))


def _execute_all(
    the_plan: Plan, outputs: Outputs, report: RunReport, cluster: Any, say: Progress, loud: bool
) -> None:
    from eo.pipeline import zonal
    from eo.pipeline.cluster import run_client

    spec = the_plan.spec
    if not the_plan.todo and not zonal.pending(spec, outputs.records, the_plan.variables):
        report.zonal = zonal.summarise(spec, outputs.records, the_plan.variables, say)  # rows kept
        return
    with run_client(spec, cluster) as client:
        if client is not None:
            report.dashboard = client.dashboard_link
            say(f"dask dashboard: {client.dashboard_link}")
        if _execute_tiles(the_plan, outputs, report, say, loud):
            report.zonal = zonal.summarise(spec, outputs.records, the_plan.variables, say)
            outputs.write_catalogue()  # the collection lists the tables


def _execute_tiles(the_plan: Plan, outputs: Outputs, report: RunReport, say: Progress, loud: bool) -> bool:
    """Make and commit every (tile, period) to compute; False when the storage stopped the run."""
    spec = the_plan.spec
    index = {(r.tile, r.period): i for i, r in enumerate(report.results)}
    for n, job in enumerate(the_plan.todo, 1):
        try:
            res = _execute(spec, outputs, job)
        except StorageError as err:
            res = TileResult(job.tile, job.period.label, "failed", inputs=job.ids, error=str(err))
            report.results[index[(job.tile, job.period.label)]] = res
            report.stopped = str(err)
            log.error("%s", err)
            say(f"[{n}/{len(the_plan.todo)}] {job.tile} {job.period.label}: failed; stopping: {err}")
            return False
        report.results[index[(job.tile, job.period.label)]] = res
        took = sum(res.seconds.values())
        fields = {"tile": job.tile, "period": job.period.label, "status": res.status, "seconds": took}
        log.info("tile %s %s: %s", job.tile, job.period.label, res.status, extra={"eo": fields})
        note = f" ({res.error})" if res.error else ""
        if loud and res.status == "failed":
            log.warning("tile %s %s failed: %s", job.tile, job.period.label, res.error)
        if res.left_out:
            note = f" without {len(res.left_out)} unreadable scene(s): {', '.join(res.left_out)}"
        where = f"[{n}/{len(the_plan.todo)}] {job.tile} {job.period.label}"
        say(f"{where}: {res.status} in {took:.1f} s{note}")
    return True


def _execute(spec: PipelineSpec, outputs: Outputs, job: Job) -> TileResult:
    """Make and commit one (tile, period); a failure is its row (StorageError propagates)."""
    tile, label = job.tile, job.period.label
    try:
        made = make(spec, job, spec.out_dir)
    except StorageError:
        raise
    except EOError as err:
        log.debug("tile %s %s failed", tile, label, exc_info=True)
        return TileResult(tile, label, "failed", inputs=job.ids, error=redact(str(err)))
    except Exception as err:  # one tile's failure must not lose the others; the report says why
        log.debug("tile %s %s failed", tile, label, exc_info=True)
        return TileResult(tile, label, "failed", inputs=job.ids, error=redact(f"{type(err).__name__}: {err}"))
    used = [item_fingerprint(i) for i in made.used]
    rel = [str(p.relative_to(spec.out_dir)) for p in made.files]
    res = TileResult(
        tile,
        label,
        "done",
        inputs=[u["id"] for u in used],
        files=rel,
        valid_fraction=made.valid_fraction,
        seconds=made.seconds,
        left_out=made.left_out,
    )
    try:
        outputs.commit(
            tile,
            label,
            fingerprint(spec.spec_hash, used),  # without left-out scenes: the next run tries them again
            inputs=used,
            files=made.files,
            spec_hash=spec.spec_hash,
            item=made.item,
            result=dataclasses.asdict(res),
        )
    except OSError as err:
        from eo.pipeline.tile import storage_failure

        if storage_failure(err, spec.out_dir) is not None:
            raise StorageError(f"cannot commit tile {tile} {label} in {spec.out_dir}: {err}") from err
        raise
    return res


def _flush_catalogue(outputs: Outputs) -> None:
    """Bring the catalogue up to the last commit (an error here is logged: the next run rebuilds it)."""
    try:
        outputs.write_catalogue()
    except KeyboardInterrupt:
        log.error("interrupted again while writing the catalogue; the next run rebuilds it")
    except Exception as err:
        log.error("could not update the catalogue in %s: %s; the next run rebuilds it", outputs.out_dir, err)


def _write_report(report: RunReport, out_dir: Path) -> None:
    """Write the report; a failure to write it is logged, never hides why the run ended."""
    try:
        report.write(out_dir)
    except KeyboardInterrupt:
        log.error("interrupted again while writing the report; %s/report.json may be out of date", out_dir)
    except Exception as err:
        log.error("could not write the run report into %s: %s", out_dir, err)
