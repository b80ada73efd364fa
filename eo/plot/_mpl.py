"""matplotlib, imported on use, with a clear error when it is missing."""

from __future__ import annotations

from typing import Any

from eo.errors import DependencyError


def pyplot() -> Any:
    """``matplotlib.pyplot``, or :class:`~eo.errors.DependencyError` saying how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise DependencyError(
            "eo.plot needs matplotlib, which is not installed: pip install 'eo[plot]' "
            "(or pip install matplotlib)"
        ) from err
    return plt


def axes(ax: Any, figsize: tuple[float, float] = (7.0, 6.0)) -> Any:
    """``ax`` itself, or the axes of a new figure."""
    plt = pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax
