"""The ``eo`` command line: a thin click group; each command parses options and calls the library.

Commands live in one module each (``eo/cli/<name>.py``) exposing a click command or group
named ``command``.  Plugins add commands through the ``eo.commands`` entry-point group.

Exit status is a contract: 0 success (or nothing to do), 1 partial (``eo run``: some tiles failed
or a scene was left out, the rest written), 2 failure (bad input, unreachable catalogue,
unwritable output, any error), 130 interrupted (Ctrl-C; 143 for SIGTERM).  Every failure is one
line on stderr (``error: ...``), without a traceback; ``--debug`` shows it.  Warnings are one line
each (``warning: ...``).  Log lines and messages never show credentials (:mod:`eo.redact`), and
retries show while they wait (the ``eo.retry`` logger at INFO).
"""

from __future__ import annotations

import gc
import importlib
import logging
import sys
import warnings
from importlib.metadata import entry_points
from typing import Any

import click

from eo import __version__
from eo.errors import EOError

#: Built-in command modules, in help order.
BUILTIN_COMMANDS = ("catalog", "search", "sensors", "indices", "run", "view", "zonal", "config")

#: Exit status for an eo error (bad input, remote failure...).
EXIT_ERROR = 2
#: Exit status after an interruption by signal ``n``: ``128 + n`` (130 for SIGINT).
EXIT_SIGNAL_BASE = 128


def interrupting_signal() -> int:
    """The signal that interrupted this process: the last SIGINT/SIGTERM the entry point saw, else SIGINT."""
    import signal

    from eo._console import received

    return received[-1] if received else int(signal.SIGINT)


class TextFormatter(logging.Formatter):
    """``time level logger: message``, credentials redacted."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        from eo.redact import redact

        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (UTC ISO 8601), ``level``, ``logger``, ``message`` (+ ``exc``)."""

    def format(self, record: logging.LogRecord) -> str:
        import datetime as dt
        import json

        doc = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        doc.update(getattr(record, "eo", {}))
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        from eo.redact import redact

        return redact(json.dumps(doc, default=str))


def _one_line(err: BaseException) -> str:
    from eo.redact import redact

    return redact(" ".join(str(err).split()))


def _os_error(err: OSError) -> str:
    """An OS error in words: what failed where, and what to do."""
    where = f": {err.filename}" if err.filename else ""
    why = err.strerror or str(err)
    return f"{why}{where}; check the path, its permissions and free space"


def _warning_line(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    """``warnings.showwarning`` of the CLI: one line, ``warning: Category: message``."""
    click.echo(f"warning: {category.__name__}: {_one_line(Warning(message))}", err=True)


class EOGroup(click.Group):
    """A click group that turns every failure into one line on stderr and its exit status.

    :class:`EOError`, :class:`OSError` and unexpected errors: status 2; ``KeyboardInterrupt``
    (Ctrl-C): 130.  ``--debug`` re-raises instead (the traceback).
    """

    def invoke(self, ctx: click.Context) -> Any:
        def debug() -> bool:  # --debug is parsed inside the invocation
            return bool(ctx.obj and ctx.obj.get("debug"))

        try:
            with warnings.catch_warnings():  # one line per warning, for this command only
                warnings.showwarning = _warning_line
                return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            if debug():
                raise
            click.echo("interrupted", err=True)
            sys.exit(EXIT_SIGNAL_BASE + interrupting_signal())
        except EOError as err:
            if debug():
                raise
            click.echo(f"error: {_one_line(err)}", err=True)
            sys.exit(EXIT_ERROR)
        except OSError as err:
            if debug():
                raise
            click.echo(f"error: {_one_line(Exception(_os_error(err)))}", err=True)
            sys.exit(EXIT_ERROR)
        except Exception as err:
            if debug():
                raise
            what = f"unexpected {type(err).__name__}: {_one_line(err)}"
            click.echo(f"error: {what} (run with --debug for the traceback)", err=True)
            sys.exit(EXIT_ERROR)


@click.group(cls=EOGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="eo")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON object per log line (time, level, logger, message), for log collectors.",
)
@click.pass_context
def main(ctx: click.Context, verbose: int, debug: bool, log_format: str) -> None:
    """eo: satellite earth-observation processing on STAC, rasterio, xarray and Dask."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    level = logging.DEBUG if (verbose >= 2 or debug) else logging.INFO if verbose == 1 else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # retries are eo's business (eo.retry): shown while they wait; urllib3's own warnings only with -v
    logging.getLogger("urllib3").setLevel(logging.DEBUG if verbose else logging.ERROR)
    logging.getLogger("eo.retry").setLevel(min(level, logging.INFO))
    # Dask's own INFO chatter (scheduler/nanny start and stop) only at -vv; distributed reads
    # this setting when it is first imported, which happens later, inside the commands.
    import dask

    quiet = "debug" if verbose >= 2 else "warning"
    dask.config.set({"logging": {"distributed": quiet, "bokeh": "error", "tornado": "error"}})


def _register() -> None:
    for name in BUILTIN_COMMANDS:
        main.add_command(importlib.import_module(f"eo.cli.{name}").command)
    for ep in entry_points(group="eo.commands"):
        main.add_command(ep.load(), name=ep.name)


_register()


def console() -> None:
    """Entry point of the ``eo`` script: :func:`main`, then a shutdown without the final GC walk.

    The scientific stack leaves about 2 x 10^5 objects behind; the interpreter's last cyclic
    collection walks them all (measured 0.6-0.8 s after every command on a 2-core machine).
    Nothing the command held needs it (files, clusters and locks are closed by then), so the
    objects are frozen (``gc.freeze``) and shutdown skips them.  Only the script does this: a
    caller of :func:`main` or of the library keeps its garbage collector as it is.
    """
    try:
        main()
    finally:
        gc.freeze()
