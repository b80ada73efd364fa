"""``eo view [TARGET] [--catalog NAME --collections ... --bbox ...]``: a local web map (see eo.viewing)."""

from __future__ import annotations

import click

from eo.cli.options import SearchQuery, search_filters


@click.command("view")
@click.argument("target", required=False, type=click.Path(exists=True))
@click.option("--catalog", default=None, help="Show search results of this catalogue (name or STAC API URL).")
@search_filters
@click.option("--port", default=0, type=int, show_default="a free port", help="Port on 127.0.0.1.")
@click.option("--no-browser", is_flag=True, help="Do not open a browser; print the URL only.")
@click.option("--basemap", default=None, help="XYZ tile URL of a basemap (default: none, works offline).")
def command(
    target: str | None,
    catalog: str | None,
    query: SearchQuery,
    port: int,
    no_browser: bool,
    basemap: str | None,
) -> None:
    """Show TARGET (an eo run output directory, a catalog.json, a GeoTIFF) or search results on a web map.

    The map is served on 127.0.0.1 until Ctrl-C.  Examples: ``eo view out/ndvi``;
    ``eo view --catalog local --collections sentinel-2-l1c``.
    """
    from eo.errors import InputError
    from eo.viewing import ViewServer, model_of

    if (target is None) == (catalog is None):
        raise InputError(
            "eo view needs either TARGET (an output directory or catalog.json) or --catalog NAME"
        )
    if catalog is not None:
        items = query.run(catalog)
        obj: object = items
        click.echo(f"{len(items)} item(s) from {catalog}", err=True)
    else:
        obj = target
    server = ViewServer(model_of(obj, basemap=basemap), port)
    click.echo(f"eo view: {server.url}  (Ctrl-C stops it)")
    if not no_browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("eo view: stopped", err=True)
    finally:
        server.server_close()
        server.model.close()
