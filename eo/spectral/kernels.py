"""Kernels of the kernel indices (kNDVI, kEVI, kRVI, kIPVI, kVARI).

A kernel index reads kernel values ``k<A><B>`` = k(A, B) of two operands (bands, or a
constant as ``L`` in ``kNL``).  The kernels are those of ``spyndex.computeKernel``
(Camps-Valls et al. 2021, https://doi.org/10.1126/sciadv.abc7447), written as formulas of
:mod:`eo.spectral.formula` over ``a``, ``b`` and their parameters:

========  ==========================================  ===========================
name      k(a, b)                                     parameters (defaults)
========  ==========================================  ===========================
RBF       exp(-(a - b)**2 / (2 sigma**2))             sigma (0.5, constants.json)
poly      (a b + c)**p                                c (1.0), p (2.0)
linear    a b                                         none
========  ==========================================  ===========================

``sigma`` may be a float or a DataArray (the kNDVI paper suggests ``sigma = 0.5 (N + R)``
per pixel); with the RBF kernel and one scalar sigma, kNDVI = tanh(((N - R) / (2 sigma))**2).
"""

from __future__ import annotations

from functools import cache

import numpy as np

from eo.errors import UnknownMethodError
from eo.spectral.formula import Formula, compile_formula

#: Kernel name -> formula over ``a``, ``b`` and the kernel parameters.
KERNELS: dict[str, str] = {
    "RBF": "exp((-1.0 * (a - b) ** 2.0) / (2.0 * sigma ** 2.0))",
    "poly": "((a * b) + c) ** p",
    "linear": "a * b",
}

#: Kernel parameters (constants of constants.json) per kernel.
KERNEL_PARAMETERS: dict[str, tuple[str, ...]] = {"RBF": ("sigma",), "poly": ("c", "p"), "linear": ()}

#: Kernel used when the caller names none.
DEFAULT_KERNEL = "RBF"


def kernel_name(name: str) -> str:
    """Normalise a kernel name (case-insensitive); raise UnknownMethodError listing the kernels."""
    for key in KERNELS:
        if key.lower() == str(name).lower():
            return key
    raise UnknownMethodError(f"unknown kernel {name!r}; choose one of {', '.join(KERNELS)}")


@cache
def kernel_formula(name: str) -> Formula:
    """Return the compiled formula of kernel ``name`` (reads ``a``, ``b`` and its parameters)."""
    key = kernel_name(name)
    return compile_formula(KERNELS[key], {"a", "b", *KERNEL_PARAMETERS[key]}, functions={"exp": np.exp})
