"""``eo sensors``: list the known sensor profiles; ``eo sensors show ID``: one profile in detail."""

from __future__ import annotations

import click

from eo.sensors import get, profiles
from eo.sensors.model import Product, SensorProfile


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def _product_lines(product: Product) -> list[str]:
    lines = [
        f"  {product.id}: state={product.state} scale={product.scale:g} offset={product.offset:g} "
        f"nodata={_fmt(product.nodata)} units={product.units or '-'}"
    ]
    if product.qa is not None:
        table = product.qa.classes if product.qa.kind == "classes" else product.qa.bits
        lines.append(f"    qa: band {product.qa.band} ({product.qa.kind}): {', '.join(table)}")
    else:
        lines.append("    qa: none (mask classes: nodata only)")
    if product.match:
        rule = "; ".join(f"{k}={','.join(v)}" for k, v in product.match.items())
        lines.append(f"    match: {rule}")
    return lines


def _show(profile: SensorProfile) -> str:
    lines = [f"{profile.id}: {profile.name} (version {profile.version})", f"source: {profile.source}"]
    for label, values in (
        ("constellation", profile.constellation),
        ("platforms", profile.platforms),
        ("instruments", profile.instruments),
    ):
        if values:
            lines.append(f"{label}: {', '.join(values)}")
    lines.append("bands (name, common name, ASI, centre um, FWHM um, resolution m, ESUN, aliases):")
    for b in profile.bands:
        lines.append(
            f"  {b.name:<10} {b.common_name or '-':<11} {b.asi or '-':<4} {_fmt(b.center_wavelength):>7} "
            f"{_fmt(b.full_width_half_max):>6} {_fmt(b.resolution):>5} {_fmt(b.esun, 6):>8}  "
            f"{', '.join(b.aliases) or '-'}" + ("" if b.kind == "measurement" else f"  [{b.kind}]")
        )
    lines.append("products:")
    for product in profile.products.values():
        lines += _product_lines(product)
    if profile.references:
        lines.append("references:")
        lines += [f"  - {r}" for r in profile.references]
    return "\n".join(lines)


@click.group(name="sensors", invoke_without_command=True)
@click.pass_context
def command(ctx: click.Context) -> None:
    """List sensor profiles (packaged and from EO_SENSOR_PATH): id, name, products, bands."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_command)


@command.command(name="list")
def list_command() -> None:
    """List sensor profiles: id, name, products, bands."""
    for profile in profiles().values():
        bands = ", ".join(b.name for b in profile.bands)
        click.echo(f"{profile.id}\t{profile.name}\tproducts: {', '.join(profile.products)}\tbands: {bands}")


@command.command(name="show")
@click.argument("profile_id")
def show_command(profile_id: str) -> None:
    """Show one sensor profile: bands, products, QA classes, match rules, references."""
    click.echo(_show(get(profile_id)))


def _explain(item: dict[str, object]) -> str:
    from eo.catalog.parse import identify_dict, parse_item
    from eo.sensors.from_item import PRODUCT as FROM_METADATA

    profile, product, found = identify_dict(item)
    lines = [f"item {item.get('id', '?')} (collection {item.get('collection') or '-'})"]
    lines += found.explain().splitlines()
    parsed = parse_item(item, sensor=(profile, product))
    source = "its own metadata" if product.id == FROM_METADATA else f"profile {profile.id}:{product.id}"
    lines.append(
        f"bands (from {source}): name, asset[band], common name, kind, encodes, dtype, nodata, scale, offset"
    )
    for band in profile.bands:
        rec = parsed.assets.get(band.name)
        if rec is None:
            continue
        encodes = "class" if band.kind != "measurement" else (band.encodes or product.state)
        flags = f"  flags: {len(rec.flags)}" if rec.flags else ""
        lines.append(
            f"  {band.name:<12} {rec.key}[{rec.band_index}]  {band.common_name or '-':<10} {band.kind:<11} "
            f"{encodes:<20} {rec.dtype or '?':<8} {_fmt(rec.nodata)} {_fmt(rec.scale)} "
            f"{_fmt(rec.offset)}{flags}"
        )
    return "\n".join(lines)


@command.command(name="explain")
@click.argument("item_json", type=click.Path(exists=True, dir_okay=False))
def explain_command(item_json: str) -> None:
    """Explain how an item (a STAC item JSON file) is identified and which bands eo reads from it."""
    import json

    from eo.errors import InputError

    try:
        with open(item_json, encoding="utf-8") as f:
            item = json.load(f)
    except ValueError as err:
        raise InputError(f"{item_json}: not JSON ({err}); expected a STAC item") from None
    if not isinstance(item, dict) or item.get("type") != "Feature":
        raise InputError(
            f"{item_json}: expected a STAC item (a GeoJSON Feature), found {type(item).__name__}"
        )
    click.echo(_explain(item))
