"""The radiometric state of a variable: what its numbers are now, and which conversions are allowed.

Every data variable of a loaded dataset carries ``state`` (``"dn" | "radiance" | "toa_reflectance" |
"surface_reflectance" | "brightness_temperature" | "physical" | "uncalibrated" | "class"``) and
``encodes`` (what ``scale``/``offset`` yields; ``"unknown"`` for a band with no calibration at all).
Scale/offset is applied only from state ``dn``, so it is applied exactly once; after a
conversion the variable is float32 with ``state`` set to the target, and converting it to the
state it already has raises :class:`eo.errors.AlreadyCalibratedError`.

Allowed conversions (anything else raises :class:`eo.errors.CalibrationError`)::

    dn                -> radiance, toa_reflectance, surface_reflectance (L2 products),
                         brightness_temperature (thermal bands)
    radiance          -> toa_reflectance, brightness_temperature (thermal bands)
    toa_reflectance   -> radiance
    dn                -> physical (a quantity eo does not convert further: units say what),
                         uncalibrated (no scale/offset known anywhere: values kept as stored, float32)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal, get_args

from eo.errors import AlreadyCalibratedError, CalibrationError, InputError
from eo.sensors.model import RadiometricState

Target = Literal[
    "reflectance", "radiance", "toa_reflectance", "surface_reflectance", "brightness_temperature"
]

TARGETS: tuple[str, ...] = get_args(Target)
STATES: tuple[str, ...] = get_args(RadiometricState)

#: Units of each physical state (CF/UDUNITS spelling).
UNITS: dict[str, str] = {
    "radiance": "W m-2 sr-1 um-1",
    "toa_reflectance": "1",
    "surface_reflectance": "1",
    "brightness_temperature": "K",
}

#: state -> states it may be converted to.
ALLOWED: dict[str, frozenset[str]] = {
    "dn": frozenset(
        {
            "radiance",
            "toa_reflectance",
            "surface_reflectance",
            "brightness_temperature",
            "physical",
            "uncalibrated",
        }
    ),
    "radiance": frozenset({"toa_reflectance", "brightness_temperature"}),
    "toa_reflectance": frozenset({"radiance"}),
    "surface_reflectance": frozenset(),
    "brightness_temperature": frozenset(),
    "physical": frozenset(),
    "uncalibrated": frozenset(),
    "class": frozenset(),
}

_WHY_NOT: dict[tuple[str, str], str] = {
    ("toa_reflectance", "surface_reflectance"): "eo does no atmospheric correction: load a Level-2 product",
    (
        "surface_reflectance",
        "toa_reflectance",
    ): "surface reflectance cannot be turned back into TOA reflectance",
    ("surface_reflectance", "radiance"): "surface reflectance cannot be turned back into radiance",
}


def check_target(to: str) -> str:
    """Validate the ``to=`` argument of :func:`eo.calibrate`."""
    if to not in TARGETS:
        raise InputError(f"calibrate(to={to!r}) is not a target; expected one of: {', '.join(TARGETS)}")
    return to


def current_state(name: str, attrs: Mapping[str, Any], is_integer: bool) -> str:
    """Return the ``state`` attr of a variable; integer data without one is taken as ``dn``."""
    state = attrs.get("state")
    if state is None:
        if is_integer:
            return "dn"
        raise CalibrationError(
            f"variable {name!r} has no 'state' attr and is not integer DN: cannot tell what its values are; "
            "set attrs['state'] to one of " + ", ".join(STATES)
        )
    if state not in STATES:
        raise CalibrationError(f"variable {name!r} has state {state!r}; expected one of: {', '.join(STATES)}")
    return str(state)


def check_transition(name: str, state: str, target: str, calibration: str | None = None) -> None:
    """Raise unless ``state -> target`` is an allowed conversion (pure)."""
    if state == target:
        done = f" ({calibration})" if calibration else ""
        raise AlreadyCalibratedError(
            f"variable {name!r} is already {target}{done}: nothing needs doing; "
            "calibrate the original DN dataset, or use this one as it is"
        )
    if target not in ALLOWED.get(state, frozenset()):
        why = _WHY_NOT.get((state, target), f"no conversion from {state} to {target} is defined")
        raise CalibrationError(f"variable {name!r} is {state} and cannot become {target}: {why}")


def output_attrs(attrs: Mapping[str, Any], target: str, calibration: str) -> dict[str, Any]:
    """Build the attrs of a converted variable: state/encodes = target, units, nodata NaN, calibration."""
    out = {k: v for k, v in attrs.items() if k not in ("scale_factor", "add_offset", "_FillValue")}
    previous = attrs.get("calibration")
    out.update(
        state=target,
        encodes=target if target != "uncalibrated" else "unknown",
        nodata=math.nan,
        calibration=f"{previous}; {calibration}" if previous else calibration,
    )
    if target in UNITS:
        out["units"] = UNITS[target]
    elif target == "uncalibrated":
        out.pop("units", None)  # the stored numbers have no unit eo knows
    return out
